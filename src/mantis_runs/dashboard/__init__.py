"""``mantis runs dashboard``: one workflow's stats, `compare` verdicts, trends, tail and failure
classes on one self-contained HTML page that opens offline (docs/dashboard.md).

:func:`build` gathers the typed results through the library's calls; :func:`render_html` turns
them into the page (template ``page.html``, inline CSS and SVG, no script, nothing to fetch).
"""

from __future__ import annotations

from .data import DashboardData, build
from .page import render_html

__all__ = ["DashboardData", "build", "render_html"]
