"""`mantis runs stats` as text: the seed's table, with n in every row, rough percentiles marked
(and a footnote saying how many runs they need), the intervals with ``--ci``, a failure-rate
line, and one block per group with ``--group-by``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .render import _minute, _since
from .text import RULE, _width, seconds, tabulate, visible

if TYPE_CHECKING:  # keep `mantis --help` free of the duckdb import
    from ..stats.result import BucketStats, FailureRate, GroupedStats, Interval, StatsResult

#: The mark of a rough percentile (stats.intervals): its interval is unbounded at this n.
ROUGH = "~"


def stats_header(r: StatsResult | GroupedStats) -> str:
    who = f"{visible(r.status)} runs" if r.status else "runs (any status)"
    return f"Across last {r.run_count} {who} of {visible(r.workflow_id)}{_since(r)}:"


def _interval(iv: Interval) -> str:
    low, high = iv
    left = "(−∞" if low is None else f"[{seconds(low)}"
    right = "∞)" if high is None else f"{seconds(high)}]"
    return f"{left}, {right}"


def stats_table(r: StatsResult, *, ci: bool = False) -> str:
    """The table: one row per bucket, then total_time_s under a rule."""
    from ..stats.result import NAMES

    def row(b: BucketStats) -> list[str]:
        rough = set(b.rough)
        cells = [visible(b.bucket)]
        for i, (name, value) in enumerate(zip(NAMES, (b.p50, b.p95, b.p99), strict=True)):
            mark = ROUGH if name in rough and value is not None else ""
            cells.append(mark + seconds(value))
            if ci:
                cells.append("" if b.ci is None else _interval(b.ci[i]))
        return [*cells, str(b.n)]

    headers = ["bucket"]
    for name in NAMES:
        headers += [name, "95% CI"] if ci else [name]
    headers.append("n")
    body = [row(b) for b in r.buckets] + [row(r.total)]
    text = tabulate(body, headers=headers, tablefmt="plain", disable_numparse=True,
                    colalign=("left", *["right"] * (len(headers) - 1)))
    lines = text.splitlines()
    rule = RULE * max(_width(line) for line in lines)
    out = [lines[0], rule, *lines[1:-1]]
    if r.buckets:
        out.append(rule)
    out.append(lines[-1])
    return "\n".join(line.rstrip() for line in out)


def failure_line(f: FailureRate) -> str:
    return (f"Failure rate: {f.rate:.1%} ({f.failed} of {f.runs} runs finished since "
            f"{_minute(f.since)} UTC).")


def rough_footnote(results: list[StatsResult]) -> str | None:
    """The footnote under tables with rough percentiles: what each marked one needs."""
    from ..stats.result import needed_runs

    marked = {name for r in results for b in [*r.buckets, r.total] for name in b.rough}
    if not marked:
        return None
    needs = needed_runs()
    parts = [f"{name} needs {needs[name]}" for name in needs if name in marked]
    return (f"{ROUGH} rough: too few runs for a bounded 95% interval "
            f"({', '.join(parts)} runs).")


def _block(r: StatsResult, ci: bool) -> str:
    text = stats_table(r, ci=ci)
    if r.failures is not None:
        text += "\n\n" + failure_line(r.failures)
    return text


def _none_found(r: StatsResult | GroupedStats) -> str:
    who = f"{visible(r.status)} runs" if r.status else "runs"
    return f"No {who} of {visible(r.workflow_id)}{_since(r)} found."


def stats_text(r: StatsResult, *, ci: bool = False) -> str:
    if r.run_count == 0:
        text = _none_found(r)
        return text if r.failures is None else f"{text}\n{failure_line(r.failures)}"
    out = [stats_header(r), "", _block(r, ci)]
    note = rough_footnote([r])
    if note is not None:
        out += [note] if r.failures is not None else ["", note]
    return "\n".join(out)


def grouped_text(g: GroupedStats, *, ci: bool = False) -> str:
    if not g.groups:
        return _none_found(g)
    out = [stats_header(g).removesuffix(":") + f", by {g.group_by}:"]
    for group in g.groups:
        value = "(none)" if group.value is None else visible(group.value)
        out += ["", f"{g.group_by} = {value}: {group.stats.run_count} runs"]
        if group.stats.run_count:
            out += ["", _block(group.stats, ci)]
        elif group.stats.failures is not None:
            out.append(failure_line(group.stats.failures))
    note = rough_footnote([group.stats for group in g.groups])
    return "\n".join(out if note is None else [*out, "", note])
