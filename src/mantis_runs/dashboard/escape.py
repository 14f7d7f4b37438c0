"""Stored text on the dashboard: every workflow id, bucket name, attribute value and error class
goes through here before it reaches the page.

Control characters become the same visible escapes as in the terminal
(:func:`mantis_runs.cli.text.visible`), then ``& < > " '`` become character references, so no
stored string can open a tag, end an attribute or start a script. In the flow of the page, stored
text is wrapped in ``<bdi>``: a right-to-left mark or override inside it cannot reorder the
text around it (the page's CSS isolates SVG labels the same way; plain text, as the title, is
isolated by the characters FSI and PDI).
"""

from __future__ import annotations

import html

from ..cli.text import visible


def text(value: str) -> str:
    """``value`` as element content (HTML or SVG) or a quoted attribute value."""
    return html.escape(visible(value), quote=True)


#: The same escaping, named for attribute values.
attr = text


def stored(value: str | None, *, none: str = "(none)") -> str:
    """Stored text in the flow of the page: escaped and isolated; None as ``none``."""
    if value is None:
        return f'<span class="none">{text(none)}</span>'
    return f"<bdi>{text(value)}</bdi>"


def plain(value: str) -> str:
    """Stored text where no tag may go (the title): escaped, and isolated by FSI ... PDI."""
    return f"\u2068{text(value)}\u2069"
