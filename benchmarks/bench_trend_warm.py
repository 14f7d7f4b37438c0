"""The cost of `compact`'s warm-up of trend's closed-month memo (analysis/trend_warm.py).

One month's JSONL shard (``--shard``) is copied into a fresh data dir under ``--work``, compacted
by the library (``compact()``: no warm-up), then ``trend_warm.warm`` runs on it with an empty
trend memo (``XDG_CACHE_HOME`` under ``--work``, holding what the compaction's own warm-up of
the readers' caches put there, as for a user who compacts): wall and CPU time (user+sys, this
process) of each, the month's rows and workflows, the seconds added per million rows.
``--rounds`` repeats
the warm-up, the memo emptied each time. The work directory is removed.

``--before SRC`` (another source tree: ``git worktree add /tmp/old HEAD``, ``--before
/tmp/old/src``) times each warm-up in a fresh process instead, this tree's and SRC's in turn
(alternated pairs), as ``mantis runs compact`` pays it: the compaction's modules imported
first, then ``warm`` with the imports it adds; the medians of the ratios per pair, and the
entries of both compared byte for byte. Run it without PYTHONDONTWRITEBYTECODE after
``python -m compileall`` of both trees, or each process compiles what it imports.

Usage::

    python benchmarks/bench_trend_warm.py --shard /work/bench-data/1m/runs_log/2026-06.jsonl \\
        --work /tmp/warm-bench --rounds 3 [--before /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
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
    ap.add_argument("--before", type=Path, default=None, metavar="SRC",
                    help="alternate fresh processes of this tree and of SRC")
    ap.add_argument("--child", nargs=2, metavar=("DATA", "MONTH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    d, month = args.work / "data", args.shard.stem
    shutil.rmtree(args.work, ignore_errors=True)
    (d / "runs_log").mkdir(parents=True)
    shutil.copyfile(args.shard, d / "runs_log" / args.shard.name)
    try:
        if args.before is None:
            run(d, month, args.work, args.rounds)
        else:
            alternate(d, month, args.work, args.rounds, args.before)
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


def child(d: Path, month: str) -> None:
    """One warm-up in this process, after the modules a compaction imports: its wall and CPU
    seconds and workflows as JSON on stdout."""
    import mantis_runs.compaction  # noqa: F401  (`mantis runs compact` has it already)
    from mantis_runs.analysis.trend_warm import warm

    found, wall, cpu = timed(lambda: warm(d, [month]))
    print(json.dumps({"wall": wall, "cpu": cpu, "found": found}))


def alternate(d: Path, month: str, work: Path, rounds: int, before: Path) -> None:
    """The month compacted once, then ``rounds`` alternated pairs of warm-ups in fresh
    processes, this tree's and ``before``'s, each with the memo emptied first."""
    from mantis_runs.compaction import compact

    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    report, wall, cpu = timed(lambda: compact(d, now=datetime(9999, 1, 1, tzinfo=UTC),
                                              checkpoint_min_bytes=None))
    print(f"compact {month}: wall {wall:.2f} s, cpu {cpu:.2f} s, "
          f"rows {sum(m.rows_written for m in report.months)}")
    memo = work / "cache" / "mantis" / "trend-memo"
    trees = {"after": Path(__file__).resolve().parents[1] / "src", "before": before}
    got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    kept: dict[str, dict[str, bytes]] = {}
    for r in range(rounds):
        for name, src in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            shutil.rmtree(memo, ignore_errors=True)
            out = subprocess.run([sys.executable, __file__, "--shard", "-", "--work", "-",
                                  "--child", str(d), month], check=True, capture_output=True,
                                 text=True, env={**os.environ, "PYTHONPATH": str(src)}).stdout
            got[name].append(json.loads(out))
            kept[name] = {str(p.relative_to(memo)): p.read_bytes() for p in memo.rglob("*.json")}
            m = got[name][-1]
            print(f"{name} {r}: {m['found']:.0f} workflows, wall {m['wall']:.2f} s, "
                  f"cpu {m['cpu']:.2f} s, +{100 * m['wall'] / wall:.1f}% of the compaction's "
                  f"wall, {100 * m['cpu'] / cpu:.1f}% of its cpu")
    for measure in ("wall", "cpu"):
        pairs = [b[measure] / a[measure] for a, b in zip(got["after"], got["before"], strict=True)]
        print(f"before / after {measure} per pair: median {statistics.median(pairs):.2f} "
              f"({', '.join(f'{x:.2f}' for x in pairs)})")
    print("entries:", "the same" if kept["after"] == kept["before"] else "DIFFERENT",
          f"({len(kept['after'])} files)")


if __name__ == "__main__":
    main()
