"""What `failures`, `advise` and `tail` share in their text: cells clipped to fit 100 columns, the
warning of the malformed lines a read skipped, and the hint after a window with no run of the
workflow asked for (docs/insights.md, docs/tail.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import MantisError
from .text import cut, visible

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources

#: The width every text of these commands fits in, in terminal cells.
WIDTH = 100


def clip(text: str, cells: int) -> str:
    """``text`` made visible (control characters escaped) and, when it takes more than
    ``cells`` terminal cells, cut to ``cells`` cells ending with ``…``."""
    return cut(visible(text), cells)


def warn_skipped(skipped: Mapping[str, int]) -> None:
    """The one warning on stderr of a read that skipped malformed lines, as `stats` prints it."""
    from .render import skipped_warning

    text = skipped_warning(dict(skipped))
    if text:
        click.echo(text, err=True)


def no_runs_hint(data_dir: Path | Sources | None, workflow_id: str) -> None:
    """After a window without any run of ``workflow_id``: one line on stderr saying whether the
    store has runs of it outside the window, or none at all (then the workflow ids that look
    like it, as `stats` hints). Only a hint: a failure to read the workflow ids changes neither
    the answer nor the exit status."""
    from ..store import RunStore

    try:
        store = RunStore(data_dir)
        known = workflow_id in store.workflows()
        similar = [] if known else store.similar_workflows(workflow_id)
    except (MantisError, OSError):
        return
    name = visible(workflow_id)
    if known:
        text = f"hint: no run of the workflow {name} in the window; it has runs outside it"
    else:
        text = f"hint: no run has the workflow {name}"
        if similar:
            text += f"; similar ones: {', '.join(visible(w) for w in similar)}"
    click.echo(text, err=True)
