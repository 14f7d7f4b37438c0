"""The dashboard's own inline SVG charts: the stats percentiles per bucket, `compare`'s ratios
with their intervals, and `tail`'s excess per bucket. Plain SVG text, no script, no external
reference; every label is escaped (:func:`~mantis_runs.dashboard.escape.text`). They draw the
numbers of the typed results and compute none but the positions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .escape import attr, text

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import CompareResult
    from ..analysis.tail import Line
    from ..analysis.verdicts import Quantile
    from ..stats.result import BucketStats

WIDTH = 760
LABEL_W = 180  # the names on the left
RIGHT_PAD = 40
ROW_H = 24
TOP = 30  # room for the legend
AXIS_H = 26  # room for the tick labels under the rows


def _svg(height: int, body: list[str], label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{attr(label)}" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}">\n' + "\n".join(body) + "\n</svg>")


def nice_step(span: float) -> float:
    raw = span / 4
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def _legend(items: Sequence[tuple[str, str]]) -> list[str]:
    """One swatch and its label per item: (SVG of a 12 px swatch at x=0, y=8; label)."""
    out, x = [], LABEL_W
    for swatch, label in items:
        out.append(f'<g transform="translate({x} 0)">{swatch}</g>'
                   f'<text class="legend" x="{x + 17}" y="18">{text(label)}</text>')
        x += round(24 + 6.8 * len(label))
    return out


def _square(css: str) -> str:
    return f'<rect class="{css}" x="0" y="8" width="12" height="12"/>'


CIRCLE = '<circle class="mark v-unchanged" cx="6" cy="14" r="4"/>'
DIAMOND = '<path class="mark v-unchanged" d="M6 9 l5 5 l-5 5 l-5 -5 z"/>'


#: Longer names are cut on the chart (the tables have them whole), with the name as a tooltip.
LABEL_CHARS = 24


def _row_label(y: float, label: str) -> str:
    shown = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
    return (f'<text class="label" x="{LABEL_W - 8}" y="{y + ROW_H * 0.65:.1f}" '
            f'text-anchor="end"><title>{text(label)}</title>{text(shown)}</text>')


def percentile_chart(buckets: Sequence[BucketStats]) -> str:
    """Horizontal bars: p50 (solid) and p95 (light) of each bucket, p99 as a tick; a bucket
    without values is a row without a bar."""
    top = max((v for b in buckets for v in (b.p50, b.p95, b.p99) if v is not None), default=0.0)
    scale = top if top > 0 else 1.0
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    step = nice_step(scale)
    body = _legend([(_square(name), name) for name in ("p50", "p95", "p99")])
    height = TOP + ROW_H * len(buckets) + AXIS_H

    def x(v: float) -> float:
        return LABEL_W + plot_w * v / scale

    tick = 0.0
    while tick <= scale * 1.0001:
        body.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP}" '
                    f'y2="{height - AXIS_H}"/><text class="tick" x="{x(tick):.1f}" '
                    f'y="{height - 8}" text-anchor="middle">{_tick_seconds(tick)}</text>')
        tick += step
    for i, b in enumerate(buckets):
        y = TOP + i * ROW_H
        body.append(_row_label(y, b.bucket))
        if b.p95 is not None:
            body.append(f'<rect class="p95" x="{LABEL_W}" y="{y + 4}" '
                        f'width="{x(b.p95) - LABEL_W:.1f}" height="{ROW_H - 8}"/>')
        if b.p50 is not None:
            body.append(f'<rect class="p50" x="{LABEL_W}" y="{y + 4}" '
                        f'width="{x(b.p50) - LABEL_W:.1f}" height="{ROW_H - 8}"/>')
        if b.p99 is not None:
            body.append(f'<rect class="p99" x="{x(b.p99) - 1.5:.1f}" y="{y + 2}" width="3" '
                        f'height="{ROW_H - 4}"/>')
    return _svg(height, body, "p50, p95 and p99 of each bucket, in seconds")


def _tick_seconds(v: float) -> str:
    return f"{v:g}s"


def ratio_chart(r: CompareResult) -> str:
    """`compare`'s ratios (current / baseline) of p50 (circle) and p95 (diamond) per metric on
    a log scale, with their 95 % intervals, the line of no change and the --min-ratio gates;
    coloured by the metric's verdict."""
    gate = r.options.min_ratio
    points = [v for m in r.metrics for q in (m.p50, m.p95)
              for v in (q.ratio, q.interval.low, q.interval.high)
              if v is not None and math.isfinite(v) and v > 0]
    low = min([1 / gate, *points]) / 1.05
    high = max([gate, *points]) * 1.05
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    height = TOP + ROW_H * len(r.metrics) + AXIS_H

    def x(v: float) -> float:
        return LABEL_W + plot_w * math.log(v / low) / math.log(high / low)

    body = _legend([(CIRCLE, "p50 ratio"), (DIAMOND, "p95 ratio"),
                    (_square("v-regressed"), "regressed"), (_square("v-improved"), "improved"),
                    (_square("v-inconclusive"), "inconclusive"),
                    (_square("v-unchanged"), "unchanged")])
    for v, css in ((1 / gate, "gate"), (1.0, "unity"), (gate, "gate")):
        body.append(f'<line class="{css}" x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{TOP}" '
                    f'y2="{height - AXIS_H}"/><text class="tick" x="{x(v):.1f}" '
                    f'y="{height - 8}" text-anchor="middle">×{v:.2f}</text>')
    for i, m in enumerate(r.metrics):
        y = TOP + i * ROW_H
        body.append(_row_label(y, m.metric))
        for q, dy, shape in ((m.p50, 0.35, "circle"), (m.p95, 0.7, "diamond")):
            body += _ratio_mark(q, y + ROW_H * dy, shape, css=verdict_css(m.verdict), x=x)
    return _svg(height, body, "ratio of each metric's p50 and p95, current over baseline")


def _ratio_mark(q: Quantile, y: float, shape: str, *, css: str,
                x: Callable[[float], float]) -> list[str]:
    if q.ratio is None or not q.ratio > 0 or q.rough:
        return []
    out = []
    lo, hi = q.interval.low, q.interval.high
    if lo is not None and hi is not None and lo > 0:
        out.append(f'<line class="whisker {css}" x1="{x(lo):.1f}" x2="{x(hi):.1f}" '
                   f'y1="{y:.1f}" y2="{y:.1f}"/>')
    cx = x(q.ratio)
    if shape == "circle":
        out.append(f'<circle class="mark {css}" cx="{cx:.1f}" cy="{y:.1f}" r="4"/>')
    else:
        out.append(f'<path class="mark {css}" d="M{cx:.1f} {y - 5:.1f} l5 5 l-5 5 l-5 -5 z"/>')
    return out


def verdict_css(verdict: str) -> str:
    return "v-" + "".join(c if c.isalnum() else "-" for c in verdict)


def excess_chart(lines: Sequence[tuple[str, Line]]) -> str:
    """`tail`'s excess of each (label, line) (tail mean - band mean, seconds) as bars from zero:
    to the right where the tail spends more time than the typical runs, to the left where
    less."""
    values = [x.excess for _, x in lines]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    height = TOP + ROW_H * len(lines) + AXIS_H

    def x(v: float) -> float:
        return LABEL_W + plot_w * (v - low) / span

    body = _legend([(_square("excess"), "more in the tail"), (_square("deficit"), "less")])
    step = nice_step(span)
    tick = math.ceil(low / step) * step
    while tick <= high + step * 1e-6:
        body.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP}" '
                    f'y2="{height - AXIS_H}"/><text class="tick" x="{x(tick):.1f}" '
                    f'y="{height - 8}" text-anchor="middle">{_tick_seconds(tick)}</text>')
        tick += step
    for i, (label, line) in enumerate(lines):
        y = TOP + i * ROW_H
        body.append(_row_label(y, label))
        left, right = sorted((x(0.0), x(line.excess)))
        css = "excess" if line.excess >= 0 else "deficit"
        body.append(f'<rect class="{css}" x="{left:.1f}" y="{y + 4}" '
                    f'width="{max(right - left, 0.5):.1f}" height="{ROW_H - 8}"/>')
    body.append(f'<line class="unity" x1="{x(0.0):.1f}" x2="{x(0.0):.1f}" y1="{TOP}" '
                f'y2="{height - AXIS_H}"/>')
    return _svg(height, body, "excess seconds of each bucket in the tail over the typical runs")


def weekly_bars(counts: Sequence[int]) -> str:
    """A small bar per week (failed runs of one class), scaled to the busiest week."""
    high = max(counts, default=0) or 1
    w, h = 4 * len(counts) + 2, 22
    bars = [f'<rect class="spark" x="{1 + 4 * i}" y="{h - 1 - 20 * c / high:.1f}" width="3" '
            f'height="{max(20 * c / high, 0.5 if c else 0):.1f}"/>' for i, c in enumerate(counts)]
    return (f'<svg class="spark" role="img" aria-label="failed runs per week" width="{w}" '
            f'height="{h}" viewBox="0 0 {w} {h}">' + "".join(bars) + "</svg>")
