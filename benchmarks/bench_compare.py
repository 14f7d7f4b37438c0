"""Cold-process timing of `mantis runs compare`, optionally against another git revision.

Each run is a fresh ``python -m mantis_runs runs compare WF`` (interpreter start, imports,
the read, the tests, the table), with fixed windows: the defaults (baseline the 28 days
before the last 7, current the last 7) as of the minute the script starts, so that every run
answers the same question. ``--before REV`` exports ``src/`` of revision REV with ``git
archive`` and alternates its runs with the working tree's, pair by pair (this machine's timings
drift; compare the pairs), and checks that both print the same answer. Wall time, CPU time
(user + sys, DuckDB uses two threads) and peak RSS are per process (``os.wait4``); medians are
printed. The page cache is warmed by one unmeasured run of each variant first::

    python benchmarks/bench_compare.py --data-dir /work/bench-data/c10m2 --repeat 11 \\
        --before HEAD
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coldrun import cold

ROOT = Path(__file__).resolve().parent.parent
BUSIEST = "default__marketplace-listings-v1"


def export_revision(rev: str, into: Path) -> Path:
    """``src/`` of git revision ``rev``, exported under ``into``; returns the source root."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def run_once(src: Path, args: list[str]) -> tuple[float, float, float, int, bytes]:
    """(wall s, cpu s, peak RSS MiB, exit status, stdout) of one cold ``mantis`` process."""
    return cold(["-m", "mantis_runs", *args], src)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workflow", default=BUSIEST)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant, alternating")
    ap.add_argument("--before", metavar="REV", default=None,
                    help="also time revision REV (git archive), alternating with this tree")
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="source tree to time (default: this checkout's src/)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                    help="more options for compare, last (e.g. --extra --json)")
    args = ap.parse_args()
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def at(days: int) -> str:
        return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")

    cmd = ["runs", "compare", args.workflow, "--data-dir", str(args.data_dir),
           "--baseline", f"{at(35)}..{at(7)}", "--current", f"{at(7)}..{at(0)}", *args.extra]
    print("command: mantis " + " ".join(cmd))
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as work:
        variants = [("this tree", args.src)]
        if args.before:
            variants.append((f"before ({args.before})", export_revision(args.before, Path(work))))
        results: dict[str, list[tuple[float, float, float, int, bytes]]] = {}
        for name, src in variants:
            run_once(src, cmd)  # warm the page cache
            results[name] = []
        for _ in range(args.repeat):
            for name, src in variants:
                results[name].append(run_once(src, cmd))
        for name, runs in results.items():
            walls = sorted(r[0] for r in runs)
            print(f"{name}: wall median {statistics.median(walls):.3f} s "
                  f"(min {walls[0]:.3f}, max {walls[-1]:.3f}), cpu median "
                  f"{statistics.median(r[1] for r in runs):.3f} s, peak RSS median "
                  f"{statistics.median(r[2] for r in runs):.0f} MiB, exit {runs[0][3]}")
        if args.before:
            pairs = [a[0] / b[0] for a, b in zip(*results.values(), strict=True)]
            outputs = {r[4] for runs in results.values() for r in runs}
            print(f"wall ratio this/before per pair: median {statistics.median(pairs):.3f} "
                  f"(min {min(pairs):.3f}, max {max(pairs):.3f}); "
                  f"{'identical' if len(outputs) == 1 else 'DIFFERENT'} output")


if __name__ == "__main__":
    main()
