"""Text for `mantis runs compare`: the verdict table, the windows and the diagnostics; with
--group-by, one block (a table and its diagnostics) per group, the largest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..log.record import format_timestamp
from .text import seconds, tabulate, visible

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from ..analysis.compare import CompareResult, FailureRate, Group, GroupedCompareResult, Window
    from ..analysis.significance import Interval
    from ..analysis.verdicts import MetricVerdict, Quantile


def _minute(w: Window) -> str:
    def at(dt: datetime) -> str:
        return format_timestamp(dt)[:16].replace("T", " ")

    where = "".join(f", {k}={visible(v)}" for k, v in sorted(w.filters.items()))
    return f"{at(w.start)} .. {at(w.end)} UTC{where}"


def _rate(f: FailureRate) -> str:
    return "—" if f.rate is None else f"{f.rate * 100:.1f}% of {f.terminal:,} runs"


def _ratio(q: Quantile) -> str:
    if q.ratio is None:
        return "—"
    return f"×{q.ratio:.3f} {_interval(q.interval)}".rstrip()


def _interval(ci: Interval) -> str:
    if ci.low is None or ci.high is None:
        return ""
    return f"[{ci.low:.2f}, {ci.high:.2f}]"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _row(m: MetricVerdict) -> list[str]:
    p95 = m.p95
    rough = p95.rough and p95.baseline is not None
    return [visible(m.metric), f"{m.n_baseline:,}", f"{m.n_current:,}",
            seconds(m.p50.baseline), seconds(m.p50.current), _ratio(m.p50),
            seconds(p95.baseline) + ("~" if rough else ""),
            seconds(p95.current) + ("~" if rough else ""),
            _ratio(p95) if not rough else "—", _p(m.p_value), m.verdict]


def compare_text(r: CompareResult | GroupedCompareResult) -> str:
    from ..analysis.compare import GroupedCompareResult

    if isinstance(r, GroupedCompareResult):
        return _grouped_text(r)
    fb, fc = r.failures
    out = [f"Compare {visible(r.workflow_id)}, {_who(r.status)}:",
           f"  baseline  {_minute(r.baseline)}   failure rate {_rate(fb)}",
           f"  current   {_minute(r.current)}   failure rate {_rate(fc)}", "",
           _table(r), "", *_notes(r), _legend(r)]
    return "\n".join(out)


def _grouped_text(g: GroupedCompareResult) -> str:
    count = f"{len(g.groups)} group{'' if len(g.groups) == 1 else 's'}"
    out = [f"Compare {visible(g.workflow_id)}, {_who(g.status)}, by {g.group_by} ({count}):",
           f"  baseline  {_minute(g.baseline)}",
           f"  current   {_minute(g.current)}", ""]
    for group in g.groups:
        out += [_group_head(g.group_by, group), _table(group.result), "", *_notes(group.result)]
        out.append("")
    out.append("No run in either window." if not g.groups else _legend(g))
    return "\n".join(out)


def _group_head(attribute: str, group: Group) -> str:
    value = "(none)" if group.value is None else visible(group.value)
    fb, fc = group.result.failures
    return (f"{attribute} {value}: {group.runs_baseline:,} baseline runs, "
            f"{group.runs_current:,} current; failure rate {_rate(fb)} → {_rate(fc)}")


def _who(status: str | None) -> str:
    return f"{status} runs" if status else "runs (any status)"


def _table(r: CompareResult) -> str:
    return tabulate([_row(m) for m in r.metrics],
                    headers=["metric", "n base", "n cur", "p50 base", "p50 cur",
                             "p50 ratio [95% CI]", "p95 base", "p95 cur", "p95 ratio [95% CI]",
                             "p (Holm)", "verdict"],
                    tablefmt="simple", disable_numparse=True,
                    colalign=("left", "right", "right", "right", "right", "left", "right",
                              "right", "left", "right", "left"))


def _notes(r: CompareResult) -> list[str]:
    """The diagnostics of one comparison: rough p95s, the smallest detectable change, drift."""
    from ..analysis.significance import min_runs_for

    notes = []
    if any(m.p95.rough and m.p95.baseline is not None for m in r.metrics):
        notes.append(f"~ p95 is rough and not tested below {min_runs_for(0.95)} runs a side.")
    detect = [f"p50 ×{r.mde_p50:.2f}" if r.mde_p50 else "",
              f"p95 ×{r.mde_p95:.2f}" if r.mde_p95 else ""]
    detect = [d for d in detect if d]
    if detect:
        notes.append("Smallest change of total_time_s these runs detect (80% power): "
                     + ", ".join(detect) + "; 'unchanged' is not proof of equal.")
    if r.noisy_days:
        notes.append(f"warning: day-to-day noise in the baseline is high (tau {r.day_noise:.2f}"
                     "); consider --block day.")
    return notes


def _legend(r: CompareResult | GroupedCompareResult) -> str:
    o = r.options
    family = " Each group is its own Holm family." if hasattr(r, "groups") else ""
    return (f"regressed: Holm p <= {o.alpha:g} and ratio >= {o.min_ratio:g} and change >= "
            f"{o.min_delta_s:g}s (p50 by Mann-Whitney U, p95 by an exact bootstrap"
            f"{', day blocks' if o.block_days else ''}).{family}")
