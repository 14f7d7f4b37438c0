"""Table cells of the dashboard: numbers as the terminal prints them, with the exact value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cli.compare_text import _interval as ratio_interval
from .escape import attr, text

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.verdicts import Quantile


def num(value: float | int | None, shown: str, css: str = "num") -> str:
    """A numeric cell: what the terminal shows, and the exact value in data-value."""
    exact = "" if value is None else f' data-value="{attr(repr(value))}"'
    return f'<td class="{css}"{exact}>{text(shown)}</td>'


def table(headers: list[str], rows: list[str], css: str) -> str:
    """A table in a box that scrolls sideways when it is wider than the page."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    return (f'<div class="scroll"><table class="{css}">\n<thead><tr>{head}</tr></thead>\n'
            "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table></div>")


def ratio_cells(q: Quantile, rough: bool = False) -> str:
    """Two cells: a ratio of compare (current / baseline) and its 95 % interval; a dash when
    there is none or it is rough."""
    if q.ratio is None or rough:
        return '<td class="num">—</td><td class="ci"></td>'
    return num(q.ratio, f"×{q.ratio:.3f}") + f'<td class="ci">{ratio_interval(q.interval)}</td>'
