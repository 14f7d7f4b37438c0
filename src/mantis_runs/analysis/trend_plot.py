"""The chart of a trend (``mantis runs trend --plot``; matplotlib, the ``plot`` extra).

One panel per metric: p50 as a line, the band from p50 to p95 where p95 is shown (72 runs a
period), p95 as a dashed line; change points as vertical lines (solid: confirmed by the
verdict, dotted: not). Under them, n of total_time_s per period as bars. Drawn on a
``matplotlib.figure.Figure`` without pyplot: no display, no global state, the Agg renderer for
PNG. ``trend_svg`` returns the SVG text (for pages that embed it), ``write_plot`` writes a PNG
or an SVG file by its suffix. Stored text (workflow ids, bucket names) is drawn with
``parse_math=False``: ``$...$`` in it is text, never mathtext to parse (or fail on); and any
failure of matplotlib is one line (``PlotFailed``), never a traceback.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MantisError, UsageError, missing_extra

if TYPE_CHECKING:  # pragma: no cover
    from .trend import MetricTrend, TrendResult

#: Inches: width, height of a metric's panel, height of the n panel.
WIDTH, PANEL, COUNTS = 10.0, 1.9, 1.3
DPI = 100


class PlotFailed(MantisError):
    """matplotlib could not draw or write the chart: one line naming the file."""


def check_installed() -> None:
    """Fail now, with one line naming the extra, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise missing_extra("plot", "--plot (matplotlib)") from None


def _nan(values: Any) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _panel(ax: Any, r: TrendResult, m: MetricTrend) -> None:
    x = list(r.periods)
    p50, p95 = _nan(m.p50), _nan(m.p95)
    shown = [not math.isnan(v) for v in p95]
    if any(shown):
        ax.fill_between(x, p50, p95, where=shown, color="tab:blue", alpha=0.18, linewidth=0,
                        label="p50–p95")
        ax.plot(x, p95, color="tab:blue", linewidth=0.9, linestyle="--", label="p95")
    ax.plot(x, p50, color="tab:blue", linewidth=1.6, marker="." if len(x) <= 120 else None,
            label="p50")
    for c in r.changes or []:
        if c.metric == m.metric:
            ax.axvline(c.at, color="tab:red" if c.confirmed else "0.45",
                       linestyle="-" if c.confirmed else ":", linewidth=1.3)
    ax.set_ylabel(f"{m.metric}\n(s)", fontsize=8, parse_math=False)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="0.9", linewidth=0.6)
    ax.set_ylim(bottom=0)


def figure(r: TrendResult) -> Any:
    """The chart as a matplotlib Figure (not attached to pyplot)."""
    check_installed()
    from matplotlib.figure import Figure

    rows = len(r.metrics) + 1
    fig = Figure(figsize=(WIDTH, PANEL * len(r.metrics) + COUNTS), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True,
                        gridspec_kw={"height_ratios": [PANEL] * len(r.metrics) + [COUNTS]})
    for ax, m in zip(axes[:-1], r.metrics, strict=True):
        _panel(ax, r, m)
    legend = axes[0].legend(loc="lower left", fontsize=7, frameon=False, ncols=3)
    for label in legend.get_texts():
        label.set_parse_math(False)
    per = "day" if r.every == "1d" else "week"
    # parse_math=False: a workflow id with `$` is text, not mathtext to parse (or fail on)
    axes[0].set_title(f"{r.workflow_id}: p50 and p95 per {per}", fontsize=10, loc="left",
                      parse_math=False)
    counts = axes[-1]
    width = 0.8 if r.every == "1d" else 5.6
    counts.bar(list(r.periods), list(r.total.n), width=width, color="0.55")
    counts.set_ylabel("n", fontsize=8, parse_math=False)
    counts.tick_params(labelsize=7)
    counts.grid(True, axis="y", color="0.9", linewidth=0.6)
    fig.autofmt_xdate()
    for ax in axes:  # dates and numbers, but text all the same
        for tick in (*ax.get_xticklabels(), *ax.get_yticklabels()):
            tick.set_parse_math(False)
    return fig


def trend_svg(r: TrendResult) -> str:
    """The chart as SVG text, the same bytes for the same result (no date, fixed ids)."""
    from matplotlib import rc_context

    out = io.StringIO()
    with _one_line("draw the chart"), rc_context({"svg.hashsalt": "mantis-trend"}):
        figure(r).savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


@contextmanager
def _one_line(what: str) -> Iterator[None]:
    """Any failure of matplotlib inside as ``PlotFailed``: one line, the first of its text."""
    try:
        yield
    except (MantisError, OSError):
        raise  # already one line (handle_errors prints an OSError with its file)
    except Exception as exc:  # matplotlib raises ValueError, RuntimeError, pyparsing errors...
        first = (str(exc).strip().splitlines() or [""])[0]
        raise PlotFailed(f"could not {what}: {type(exc).__name__}: {first}"[:300]) from None


def write_plot(r: TrendResult, path: str | Path) -> None:
    """The chart into ``path``: PNG or SVG by its suffix."""
    kind = Path(path).suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise UsageError(f"a chart is written as .png or .svg, got {str(path)!r}")
    if kind == "svg":
        Path(path).write_text(trend_svg(r), encoding="utf-8")
        return
    with _one_line(f"draw the chart {path}"):
        figure(r).savefig(path, format="png", metadata={"Software": None})
