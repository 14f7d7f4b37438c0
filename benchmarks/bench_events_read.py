"""Cold-process timings of the events read side: ``mantis runs status RUN_ID`` and
``mantis runs list --running`` (the goal: at most 0.3 s each), plus ``--lost`` and ``events``.
``list --running`` is timed twice: as given (on old data no run is running: none has an event
within the staleness) and with a ``--stale-after`` that makes the runs with an event in the
newest 30 minutes of the data running (``alive_stale_after``), as on a store being written.

Each command runs in fresh processes (interpreter start, imports, answer), ``--repeat`` times,
the scenarios taking turns (one round of every scenario, then the next round), after one warm-up
run each (the page cache and the user cache warm, as after any earlier command). The table shows
the median and the fastest wall time, the median CPU time (user + sys, threads included) and the
largest peak RSS (``coldrun.cold``).

The data dir is made by gen_events.py (a copy of the 1M-run set with ~2M events over 13 months,
compacted); the run_ids are picked from it: the newest finished run (row + events), an open run
(events, no row), a run of the oldest month, and an unknown run (every month searched). Two
references: ``RunStore.get`` of the finished run (the row lookup ``status`` starts with, as
``show`` does) and ``mantis runs status --help`` (the interpreter and the CLI's imports).
``events RUN_ID`` (goal: 0.3 s) and ``events --type failover --since 30d`` (goal: 1 s) are timed
too; on a copy whose events months were compacted (``events_log/compacted/``, the run_ids of the
oldest month are then read from its part) they read the parts by their row-group statistics.

With ``--raw DIR`` (the same events, never compacted: gen_events.py's output before
``mantis runs compact``), the same two questions are also put to a peer, polars ``scan_ndjson``
over the raw event shards, in cold processes taking turns with mantis: one run's events in the
order they were written (``events RUN_ID``), and the newest 50 ``failover`` events of the last
30 days (``events --type failover --since 30d``, whose default ``--last`` is 50). The peer reads
every shard (``--peer-months-since``: only the shards of the months since then, as a user who
knows the layout would); the answers' line counts must agree, and the table gives each ratio.

Usage::

    python benchmarks/gen_events.py --source /work/bench-data/1m \\
        --dest /work/bench-data/events-1m --compact
    python benchmarks/bench_events_read.py --data-dir /work/bench-data/events-1m [--repeat 7]
    # the events months compacted, on a copy (the bench data is never modified):
    cp -a /work/bench-data/events-1m/. /tmp/s7-events/
    mantis runs compact --data-dir /tmp/s7-events
    python benchmarks/bench_events_read.py --data-dir /tmp/s7-events
    # 20M events over the 10M-run history, against polars over the raw shards:
    python benchmarks/gen_events.py --source /work/bench-data/c10m2 \\
        --dest /work/bench-data/ev20m-raw
    python benchmarks/bench_events_read.py --data-dir /work/bench-data/ev20m \\
        --raw /work/bench-data/ev20m-raw --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stats import read_through  # noqa: E402
from coldrun import cold  # noqa: E402

SRC = HERE.parent / "src"
#: One cold process: (wall s, CPU s of the process and its threads, peak RSS MiB, exit, stdout).
Cold = tuple[float, float, float, int, bytes]


def run(cmd: list[str]) -> Cold:
    """``cmd`` (a Python script or ``sys.executable`` and its arguments) in a cold process."""
    return cold(cmd[1:] if cmd[0] == sys.executable else cmd, SRC)


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


def alive_stale_after(data_dir: Path) -> str:
    """A staleness (seconds) under which the runs with an event in the last 30 minutes of the
    newest events file are running: ``list --running`` then has runs to list, however long ago
    the data was made (its own staleness would find none)."""
    files = sorted((data_dir / "events_log").glob("*.jsonl"))
    newest = max(datetime.fromisoformat(json.loads(x)["ts"])
                 for x in files[-1].read_bytes().splitlines()[-1000:])
    return str(round((datetime.now(UTC) - newest).total_seconds() + 1800))


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
    out["list --running, runs alive (--stale-after)"] = [
        mantis(), "runs", "list", "--running", "--stale-after", alive_stale_after(data_dir), *d]
    out["list --lost"] = [mantis(), "runs", "list", "--lost", *d]
    out["events --last 50"] = [mantis(), "runs", "events", *d]
    ids = pick_run_ids(data_dir)
    out["events RUN_ID, oldest month"] = [mantis(), "runs", "events", ids["oldest month"], *d]
    out["events RUN_ID, newest"] = [mantis(), "runs", "events", ids["finished (newest)"], *d]
    out["events --type failover --since 30d"] = [
        mantis(), "runs", "events", "--type", "failover", "--since", "30d", *d]
    return out


#: What the polars peer answers, and the mantis scenario it answers the same as.
PEER_QUESTIONS = {"events RUN_ID, oldest month": "run", "events RUN_ID, newest": "run",
                  "events --type failover --since 30d": "failover"}


def peer(kind: str, raw: Path, run_id: str | None, months_since: bool) -> int:
    """polars over the raw event shards: prints the answer as ``events`` does (ts, run_id,
    type, fields), one run's events in file order, or the newest 50 failovers of 30 days."""
    import polars as pl

    since = datetime.now(UTC) - timedelta(days=30)
    files = sorted(str(p) for p in (raw / "events_log").glob("????-??.jsonl")
                   if not months_since or kind == "run" or p.stem >= f"{since:%Y-%m}")
    lf = pl.scan_ndjson(files, schema={"run_id": pl.String, "type": pl.String, "ts": pl.String,
                                       "fields": pl.String})
    if kind == "run":
        df = lf.filter(pl.col("run_id") == run_id).collect()
    else:
        df = (lf.filter(pl.col("type") == "failover")
              .with_columns(at=pl.col("ts").str.to_datetime(time_zone="UTC"))
              .filter(pl.col("at") >= since)
              .sort("at", descending=True, maintain_order=True).head(50).collect())
    for row in df.select("ts", "run_id", "type", "fields").iter_rows():
        print(*row)
    return 0


def peer_scenarios(todo: dict[str, list[str]], raw: Path, months_since: bool
                   ) -> dict[str, list[str]]:
    """The polars command of each question mantis is asked (PEER_QUESTIONS)."""
    out = {}
    for name, kind in PEER_QUESTIONS.items():
        cmd = [sys.executable, str(Path(__file__).resolve()), "--peer", kind, "--raw", str(raw)]
        if kind == "run":
            cmd += ["--run-id", todo[name][3]]
        out[f"polars: {name}"] = cmd + (["--peer-months-since"] if months_since else [])
    return out


def ratios(times: dict[str, list[Cold]]) -> None:
    """polars / mantis, medians of wall and of CPU time."""
    if not any(name.startswith("polars: ") for name in times):
        return
    print(f"\n{'question':<38}{'mantis wall':>12}{'polars wall':>12}{'ratio':>7}"
          f"{'mantis cpu':>11}{'polars cpu':>11}{'ratio':>7}")
    for name in PEER_QUESTIONS:
        if f"polars: {name}" not in times or name not in times:
            continue
        m, p = times[name], times[f"polars: {name}"]
        mw, pw = (statistics.median(r[0] for r in x) for x in (m, p))
        mc, pc = (statistics.median(r[1] for r in x) for x in (m, p))
        print(f"{name:<38}{mw:>12.3f}{pw:>12.3f}{pw / mw:>6.1f}x{mc:>11.3f}{pc:>11.3f}"
              f"{pc / mc:>6.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--raw", type=Path, help="the same events uncompacted: the polars peer")
    ap.add_argument("--peer-months-since", action="store_true",
                    help="the peer reads only the shards of the months since --since")
    ap.add_argument("--only", help="only the scenarios whose name contains this text")
    ap.add_argument("--peer", choices=["run", "failover"], help=argparse.SUPPRESS)
    ap.add_argument("--run-id", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        return peer(args.peer, args.raw, args.run_id, args.peer_months_since)
    if args.data_dir is None:
        ap.error("--data-dir is required")
    read_through(p for p in args.data_dir.rglob("*") if p.is_file())
    todo = scenarios(args.data_dir)
    if args.raw is not None:
        read_through(p for p in (args.raw / "events_log").glob("*.jsonl"))
        todo |= peer_scenarios(todo, args.raw, args.peer_months_since)
    if args.only:
        todo = {k: v for k, v in todo.items() if args.only in k}
    times: dict[str, list[Cold]] = {name: [] for name in todo}
    lines: dict[str, int] = {}
    for name, cmd in todo.items():  # warm-up; its answer must be good
        first = run(cmd)
        if first[3] not in (0, 1):
            sys.exit(f"{name}: exit {first[3]}: {' '.join(cmd)}")
        lines[name] = len(first[4].splitlines())
        print(f"{name}: exit {first[3]}, {lines[name]} lines")
    for name in PEER_QUESTIONS:  # the peer gives the same answer, line for line
        if name in lines and f"polars: {name}" in lines and \
                lines[name] != lines[f"polars: {name}"]:
            sys.exit(f"{name}: mantis {lines[name]} lines, polars {lines[f'polars: {name}']}")
    for _ in range(args.repeat):
        for name, cmd in todo.items():
            times[name].append(run(cmd))
    print(f"\n{'scenario':<42}{'median s':>10}{'min s':>8}{'cpu s':>8}{'max RSS MB':>12}")
    for name, runs in times.items():
        secs = [r[0] for r in runs]
        print(f"{name:<42}{statistics.median(secs):>10.3f}{min(secs):>8.3f}"
              f"{statistics.median(r[1] for r in runs):>8.3f}{max(r[2] for r in runs):>12.0f}")
    ratios(times)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
