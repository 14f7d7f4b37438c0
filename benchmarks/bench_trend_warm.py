"""The cost of `compact`'s warm-up of trend's closed-month memo (analysis/trend_warm.py).

One month's JSONL shard (``--shard``) is copied into a fresh data dir under ``--work``, compacted
by the library (``compact()``: no warm-up), then ``trend_warm.warm`` runs on it with an empty
trend memo (``XDG_CACHE_HOME`` under ``--work``, holding what the compaction's own warm-up of
the readers' caches put there, as for a user who compacts): wall and CPU time (user+sys, this
process) of each, the month's rows and workflows, the seconds added per million rows.
``--rounds`` repeats
the warm-up, the memo emptied each time. The work directory is removed.

Usage::

    python benchmarks/bench_trend_warm.py --shard /work/bench-data/1m/runs_log/2026-06.jsonl \\
        --work /tmp/warm-bench --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall and CPU seconds (user+sys of this process, its threads too)."""
    t0, c0 = time.perf_counter(), sum(os.times()[:2])
    out = fn()
    return out, time.perf_counter() - t0, sum(os.times()[:2]) - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    d, month = args.work / "data", args.shard.stem
    shutil.rmtree(args.work, ignore_errors=True)
    (d / "runs_log").mkdir(parents=True)
    shutil.copyfile(args.shard, d / "runs_log" / args.shard.name)
    try:
        run(d, month, args.work, args.rounds)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)


def run(d: Path, month: str, work: Path, rounds: int) -> None:
    from mantis_runs.analysis.trend_warm import warm
    from mantis_runs.compaction import compact

    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # compaction's reader caches go there
    report, wall, cpu = timed(lambda: compact(d, now=datetime(9999, 1, 1, tzinfo=UTC),
                                              checkpoint_min_bytes=None))
    rows = sum(m.rows_written for m in report.months)
    print(f"compact {month}: wall {wall:.2f} s, cpu {cpu:.2f} s, rows {rows}")
    for r in range(rounds):
        shutil.rmtree(work / "cache" / "mantis" / "trend-memo", ignore_errors=True)
        found, wall_w, cpu_w = timed(lambda: warm(d, [month]))
        per = f", {wall_w / max(rows, 1) * 1e6:.2f} s per million rows"
        print(f"warm-up {r}: {found} workflows, wall {wall_w:.2f} s, cpu {cpu_w:.2f} s, "
              f"+{100 * wall_w / wall:.0f}% of the compaction{per}")


if __name__ == "__main__":
    main()
