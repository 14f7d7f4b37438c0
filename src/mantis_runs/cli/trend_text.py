"""Text for `mantis runs trend`: a block per metric (a sparkline of p50 on a terminal, then n,
p50 and p95 per period), and with --detect the change points and their verdicts. It fits in
``WIDTH`` (100) columns: long workflow ids and bucket names are cut with ``…`` (never in --json)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..log.record import format_timestamp
from .insight_notes import WIDTH, clip
from .text import _width, seconds, tabulate, visible

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.trend import ChangePoint, MetricTrend, TrendResult

#: Eight heights, lowest first.
BLOCKS = "▁▂▃▄▅▆▇█"
#: Cells of a metric's name in the change-point table and over its block.
METRIC_CELLS = 14


def sparkline(values: Sequence[float | None]) -> str:
    """One block per value, its height by where it lies between the smallest and the largest
    (the middle block when they are equal); a space where there is no value."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    top = len(BLOCKS) - 1

    def block(v: float | None) -> str:
        if v is None or not math.isfinite(v):
            return " "
        if high == low:
            return BLOCKS[top // 2]
        return BLOCKS[round((v - low) / (high - low) * top)]

    return "".join(block(v) for v in values)


def _fit(head: str, text: str, tail: str) -> str:
    """``head + text + tail`` with ``text`` cut to fit WIDTH cells."""
    return head + clip(text, max(WIDTH - _width(head) - _width(tail), 8)) + tail


def _header(r: TrendResult) -> str:
    who = f"{visible(r.status)} runs" if r.status else "runs (any status)"
    per = "day" if r.every == "1d" else "week (from Monday)"
    start = format_timestamp(r.start)[:10]
    end = format_timestamp(r.end)[:16].replace("T", " ")
    head, tail = f"p50, p95 and n of {who} of ", f" per {per}, {start} .. {end} UTC:"
    line = head + visible(r.workflow_id) + tail
    # too wide: the period on a line of its own, the workflow id cut to what is left
    return line if _width(line) <= WIDTH else _fit(head, r.workflow_id, "") + "\n" + tail[1:]


def _spark(values: Sequence[float | None], cells: int) -> str:
    """The sparkline of the newest ``cells`` periods (``…`` first when older ones are cut)."""
    line = sparkline(values)
    return line if len(line) <= cells else "…" + line[len(line) - cells + 1:]


def _block(r: TrendResult, m: MetricTrend, spark: bool) -> str:
    title = clip(m.metric, METRIC_CELLS if spark else WIDTH)
    if spark:
        title += "  " + _spark(m.p50, WIDTH - _width(title) - 2)
    rows = [[p.isoformat(), f"{n:,}", seconds(p50), seconds(p95)]
            for p, n, p50, p95 in zip(r.periods, m.n, m.p50, m.p95, strict=True)]
    table = tabulate(rows, headers=["period", "n", "p50", "p95"], tablefmt="plain",
                     disable_numparse=True, colalign=("left", "right", "right", "right"))
    return title + "\n" + "\n".join(line.rstrip() for line in table.splitlines())


def _ratio(c: ChangePoint) -> str:
    q = c.verdict.p50
    if q.ratio is None:
        return "—"
    iv = q.interval
    ends = "" if iv.low is None or iv.high is None else f" [{iv.low:.2f}, {iv.high:.2f}]"
    return f"×{q.ratio:.3f}{ends}"


def changes_text(r: TrendResult) -> str:
    """The change points, one row each, or a line saying there is none."""
    changes = r.changes or []
    unit = "days" if r.every == "1d" else "weeks"
    head = (f"Change points (PELT on log p50 and log p95; each compared on up to "
            f"{r.confirm_periods} {unit} of runs either side):")
    if not changes:
        return head + "\nnone found."
    rows = [[clip(c.metric, METRIC_CELLS), c.at.isoformat(), "+".join(c.series),
             f"{c.verdict.n_baseline:,}→{c.verdict.n_current:,}",
             f"{seconds(c.verdict.p50.baseline)}→{seconds(c.verdict.p50.current)}", _ratio(c),
             c.verdict.verdict] for c in changes]
    table = tabulate(rows, headers=["metric", "from", "by", "n", "p50", "ratio [95% CI]",
                                    "verdict"],
                     tablefmt="plain", disable_numparse=True,
                     colalign=("left", "left", "left", "right", "right", "right", "left"))
    foot = "Confirmed: compare's verdict is regressed or improved; the others are candidates."
    return "\n".join([head, *(line.rstrip() for line in table.splitlines()), foot])


def trend_text(r: TrendResult, *, spark: bool = False) -> str:
    if r.empty:
        who = f"{visible(r.status)} runs" if r.status else "runs"
        return _fit(f"No {who} of ", r.workflow_id,
                    f" since {format_timestamp(r.start)[:10]} found.")
    out = [_header(r)]
    if r.note is not None:
        out.append(r.note + ".")
    for m in r.metrics:
        out += ["", _block(r, m, spark)]
    hidden = any(p is None and n > 0 for m in r.metrics for n, p in zip(m.n, m.p95, strict=True))
    if hidden:
        from ..stats.intervals import min_runs

        out += ["", f"p95 is shown from {min_runs(0.95)} runs a period (a bounded 95% interval)."]
    if r.changes is not None:
        out += ["", changes_text(r)]
    return "\n".join(out)
