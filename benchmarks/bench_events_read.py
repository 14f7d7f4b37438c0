"""Cold-process timings of the events read side: ``mantis runs status RUN_ID`` and
``mantis runs list --running`` (the goal: at most 0.3 s each), plus ``--lost`` and ``events``.

Each command runs in fresh processes (interpreter start, imports, answer), ``--repeat`` times,
the scenarios taking turns (one round of every scenario, then the next round), after one warm-up
run each (the page cache and the user cache warm, as after any earlier command). The table shows
the median and the fastest wall time and the largest peak RSS (``bench_stats.run_cold``).

The data dir is made by gen_events.py (a copy of the 1M-run set with ~2M events over 13 months,
compacted); the run_ids are picked from it: the newest finished run (row + events), an open run
(events, no row), a run of the oldest month, and an unknown run (every month searched). Two
references: ``RunStore.get`` of the finished run (the row lookup ``status`` starts with, as
``show`` does) and ``mantis runs status --help`` (the interpreter and the CLI's imports).
``events RUN_ID`` (goal: 0.3 s) and ``events --type failover --since 30d`` (goal: 1 s) are timed
too; on a copy whose events months were compacted (``events_log/compacted/``, the run_ids of the
oldest month are then read from its part) they read the parts by their row-group statistics.

Usage::

    python benchmarks/gen_events.py --source /work/bench-data/1m \\
        --dest /work/bench-data/events-1m --compact
    python benchmarks/bench_events_read.py --data-dir /work/bench-data/events-1m [--repeat 7]
    # the events months compacted, on a copy (the bench data is never modified):
    cp -a /work/bench-data/events-1m/. /tmp/s7-events/
    mantis runs compact --data-dir /tmp/s7-events
    python benchmarks/bench_events_read.py --data-dir /tmp/s7-events
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stats import Run, read_through, run_cold  # noqa: E402


def mantis() -> str:
    return str(Path(sys.executable).with_name("mantis"))


def pick_run_ids(data_dir: Path) -> dict[str, str]:
    """Run ids of the scenarios, read from the events files."""
    files = sorted((data_dir / "events_log").glob("*.jsonl"))
    newest = files[-1].read_bytes().splitlines()
    opened = next(json.loads(x)["run_id"] for x in reversed(newest) if b"_open" in x)
    finished = next(json.loads(x)["run_id"] for x in reversed(newest)
                    if b"_open" not in x and b"run_started" in x)
    parts = sorted((data_dir / "events_log" / "compacted").glob("*/part-*.parquet"))
    if parts and parts[0].parent.name < files[0].name[:7]:  # the oldest month is compacted
        import pyarrow.parquet as pq

        ids = pq.read_table(parts[0], columns=["run_id"]).column(0)
        oldest = ids[len(ids) // 2].as_py()  # mid-part: neither end of its statistics
    else:
        with open(files[0], "rb") as f:
            oldest = json.loads(f.readline())["run_id"]
    return {"finished (newest)": finished, "open": opened, "oldest month": oldest,
            "unknown": "20261204_000000_nosuchrun"}


def scenarios(data_dir: Path) -> dict[str, list[str]]:
    d = ["--data-dir", str(data_dir)]
    out = {f"status, {what}": [mantis(), "runs", "status", run_id, *d]
           for what, run_id in pick_run_ids(data_dir).items()}
    # references: the row lookup that status makes first (what `show` finds a run by), and
    # a CLI command that reads nothing
    out["ref: RunStore.get, finished"] = [
        sys.executable, "-c", "import sys; from mantis_runs import RunStore; "
        "RunStore(sys.argv[1]).get(sys.argv[2])", str(data_dir),
        pick_run_ids(data_dir)["finished (newest)"]]
    out["ref: mantis runs status --help"] = [mantis(), "runs", "status", "--help"]
    out["list --running"] = [mantis(), "runs", "list", "--running", *d]
    out["list --lost"] = [mantis(), "runs", "list", "--lost", *d]
    out["events --last 50"] = [mantis(), "runs", "events", *d]
    ids = pick_run_ids(data_dir)
    out["events RUN_ID, oldest month"] = [mantis(), "runs", "events", ids["oldest month"], *d]
    out["events RUN_ID, newest"] = [mantis(), "runs", "events", ids["finished (newest)"], *d]
    out["events --type failover --since 30d"] = [
        mantis(), "runs", "events", "--type", "failover", "--since", "30d", *d]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    read_through(p for p in args.data_dir.rglob("*") if p.is_file())
    todo = scenarios(args.data_dir)
    times: dict[str, list[Run]] = {name: [] for name in todo}
    for name, cmd in todo.items():  # warm-up; its answer must be good
        first = run_cold(cmd)
        if first.returncode not in (0, 1):
            sys.exit(f"{name}: exit {first.returncode}: {first.stderr.decode()[-500:]}")
        print(f"{name}: exit {first.returncode}, {len(first.stdout.splitlines())} lines")
    for _ in range(args.repeat):
        for name, cmd in todo.items():
            times[name].append(run_cold(cmd))
    print(f"\n{'scenario':<34}{'median s':>10}{'min s':>8}{'max RSS MB':>12}")
    for name, runs in times.items():
        secs = [r.seconds for r in runs]
        print(f"{name:<34}{statistics.median(secs):>10.3f}{min(secs):>8.3f}"
              f"{max(r.rss_mb for r in runs):>12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
