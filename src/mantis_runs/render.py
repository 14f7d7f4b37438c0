"""Text rendering for the CLI: pure functions from results to strings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

if TYPE_CHECKING:  # keep `mantis --help` free of the duckdb import
    from .compact import CompactionReport
    from .query import BucketStats, StatsResult

RULE = "─"


def seconds(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.1f}s" if abs(v) >= 1 else f"{v:.3f}s"


def stats_header(r: StatsResult) -> str:
    who = f"{r.status} runs" if r.status else "runs (any status)"
    since = f" finished since {r.since:%Y-%m-%d %H:%M} UTC" if r.since else ""
    return f"Across last {r.run_count} {who} of {r.workflow_id}{since}:"


def stats_table(r: StatsResult) -> str:
    show_n = any(b.n != r.run_count for b in [*r.buckets, r.total])

    def row(b: BucketStats) -> list[str]:
        cells = [b.bucket, seconds(b.p50), seconds(b.p95), seconds(b.p99)]
        if show_n:
            cells.append("" if b.n == r.run_count else str(b.n))
        return cells

    headers = ["bucket", "p50", "p95", "p99"] + (["n"] if show_n else [])
    body = [row(b) for b in r.buckets] + [row(r.total)]
    text = tabulate(body, headers=headers, tablefmt="plain", disable_numparse=True,
                    colalign=("left", "right", "right", "right", "right")[: len(headers)])
    lines = text.splitlines()
    width = max(len(line) for line in lines)
    rule = RULE * width
    out = [lines[0], rule, *lines[1:-1]]
    if r.buckets:
        out.append(rule)
    out.append(lines[-1])
    return "\n".join(line.rstrip() for line in out)


def stats_text(r: StatsResult) -> str:
    if r.run_count == 0:
        who = f"{r.status} runs" if r.status else "runs"
        since = f" finished since {r.since:%Y-%m-%d %H:%M} UTC" if r.since else ""
        return f"No {who} of {r.workflow_id}{since} found."
    return f"{stats_header(r)}\n\n{stats_table(r)}"


def skipped_warning(skipped: dict[str, int]) -> str | None:
    total = sum(skipped.values())
    if not total:
        return None
    where = ", ".join(f"{name}: {n}" for name, n in sorted(skipped.items()))
    noun = "line" if total == 1 else "lines"
    return f"warning: skipped {total} malformed {noun} ({where})"


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def compaction_text(r: CompactionReport) -> str:
    lines: list[str] = []
    for item in r.recovered:
        lines.append(f"recovered: removed {item}")
    if r.dry_run:
        lines.append(f"Dry run in {r.data_dir}: months before {r.closed_before} are closed.")
        lines.extend(r.plan or ["Nothing to compact."])
        return "\n".join(lines)
    if not r.months:
        lines.append(f"Nothing to compact in {r.data_dir} (months before {r.closed_before} "
                     "are closed).")
        return "\n".join(lines)
    rows = [[m.month, m.rows_in, m.rows_written, m.duplicates_dropped, m.bad_lines_quarantined,
             _mb(m.bytes_before), _mb(m.bytes_after)] for m in r.months]
    lines.append(tabulate(rows, headers=["month", "rows in", "rows written", "duplicates",
                                         "quarantined", "before", "after"],
                          tablefmt="simple", intfmt=","))
    for m in r.months:
        for q in m.quarantine:
            lines.append(f"{m.month}: {m.bad_lines_quarantined} bad lines kept in {q}")
    return "\n".join(lines)
