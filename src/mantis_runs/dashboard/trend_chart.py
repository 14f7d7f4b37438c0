"""The trend of one metric as an inline SVG panel: p50 per period as a line, p95 dashed above it
(where the trend reports it: 72 runs a period), the band between them, and each change point as
a vertical line (solid and coloured by its verdict when confirmed, dotted grey when not).

Drawn from :class:`~mantis_runs.analysis.trend.TrendResult`'s numbers, in plain SVG: the
matplotlib chart of ``mantis runs trend --plot`` takes seconds to draw a workflow's ten panels,
the whole time budget of the page, and needs the ``plot`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from .charts import nice_step, verdict_css
from .escape import attr, text

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.trend import ChangePoint, MetricTrend

#: Two panels side by side fit a 1280-pixel window.
WIDTH, HEIGHT = 570, 150
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 22, 24


def _path(points: Sequence[tuple[float, float] | None]) -> str:
    """An SVG path through the points, broken where a point is None."""
    out, pen = [], "M"
    for p in points:
        if p is None:
            pen = "M"
            continue
        out.append(f"{pen}{p[0]:.1f} {p[1]:.1f}")
        pen = "L"
    return " ".join(out)


def _band(xs: Sequence[float], low: Sequence[float | None], high: Sequence[float | None],
          y: Callable[[float], float]) -> list[str]:
    """The p50-p95 band, one polygon per run of periods where both are known."""
    out: list[str] = []
    run: list[int] = []
    for i in [*range(len(xs)), -1]:
        if i >= 0 and low[i] is not None and high[i] is not None:
            run.append(i)
            continue
        if len(run) > 1:
            top = " ".join(f"{xs[j]:.1f},{y(_known(high[j])):.1f}" for j in run)
            bottom = " ".join(f"{xs[j]:.1f},{y(_known(low[j])):.1f}" for j in reversed(run))
            out.append(f'<polygon class="band" points="{top} {bottom}"/>')
        run = []
    return out


def _known(v: float | None) -> float:
    assert v is not None
    return v


def trend_panel(m: MetricTrend, periods: Sequence[date], changes: Sequence[ChangePoint]) -> str:
    """One metric's panel; ``changes`` are that metric's change points."""
    values = [v for v in (*m.p50, *m.p95) if v is not None]
    top = max(values, default=1.0) * 1.08 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(periods) - 1, 1)
    xs = [LEFT + i * step for i in range(len(periods))]

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    body = [f'<text class="label" x="{LEFT}" y="14">{text(m.metric)}</text>']
    tick, grid = 0.0, nice_step(top)
    while tick <= top:
        body.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                    f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" '
                    f'y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}s</text>')
        tick += grid
    body += _dates(periods, xs)
    body += _band(xs, m.p50, m.p95, y)
    for series, css in ((m.p95, "line-p95"), (m.p50, "line-p50")):
        points = [None if v is None else (xs[i], y(v)) for i, v in enumerate(series)]
        body.append(f'<path class="{css}" d="{_path(points)}"/>')
    index = {p: i for i, p in enumerate(periods)}
    for c in changes:
        if c.at in index:
            body.append(_change_line(c, xs[index[c.at]]))
    label = f"p50 and p95 of {m.metric} per period, with change points"
    return (f'<svg class="chart trend" role="img" aria-label="{attr(label)}" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">\n' + "\n".join(body)
            + "\n</svg>")


def _dates(periods: Sequence[date], xs: Sequence[float]) -> list[str]:
    """About six date labels along the x axis."""
    every = max(1, round(len(periods) / 6))
    return [f'<text class="tick" x="{xs[i]:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{periods[i]:%Y-%m-%d}</text>" for i in range(0, len(periods), every)]


def _change_line(c: ChangePoint, x: float) -> str:
    css = verdict_css(c.verdict.verdict) if c.confirmed else "unconfirmed"
    return (f'<line class="change {css}" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" '
            f'y2="{HEIGHT - BOTTOM}"><title>{text(c.at.isoformat())}: '
            f"{text(c.verdict.verdict)}</title></line>")
