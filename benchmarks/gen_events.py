"""A realistic events history next to a copy of a run log, for bench_events_read.py.

Copies ``--source`` (a data dir with runs_log/, e.g. /work/bench-data/1m; never written to)
into ``--dest`` and writes events_log/YYYY-MM.jsonl there, canonical lines (the writer's
format, docs/events.md) written directly, fast: for every run of the run log a ``run_started``
at its created_at and a ``heartbeat`` halfway (2 events a run: about 2M for the 1M-run set over
its 13 months), plus ``--open`` runs started in the last 7 days that have no terminal row: a
third of them still running (a heartbeat a minute ago), the rest lost (their last event hours
old). Each month's lines are in ts order, as a writer appends them. ``--compact`` then compacts
the copy (closed months to Parquet, the live month checkpointed), as a store in use would be.

Usage::

    python benchmarks/gen_events.py --source /work/bench-data/1m \\
        --dest /work/bench-data/events-1m [--open 300] [--compact]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mantis_runs.log.record import format_timestamp, parse_timestamp

_ENC = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def line(run_id: str, type_: str, ts: datetime, fields: dict[str, object]) -> bytes:
    return _ENC.encode({"run_id": run_id, "type": type_, "ts": format_timestamp(ts),
                        "fields": fields}).encode() + b"\n"


def run_events(shard: Path, out: dict[str, list[tuple[datetime, bytes]]]) -> int:
    """run_started and a heartbeat for every run of ``shard``."""
    n = 0
    with open(shard, "rb") as f:
        for raw in f:
            try:
                r = json.loads(raw)
                start = parse_timestamp(r["created_at"])
                end = parse_timestamp(r["finished_at"])
            except (ValueError, KeyError, TypeError):
                continue
            rid = r["run_id"]
            started = {"workflow_id": r.get("workflow_id"), "model": r.get("model"),
                       "tenant_id": r.get("tenant_id"), "profile_id": r.get("profile_id")}
            mid = start + (end - start) / 2
            for ts, kind, fields in ((start, "run_started", started),
                                     (mid, "heartbeat", {"progress": 0.5})):
                out[f"{ts:%Y-%m}"].append((ts, line(rid, kind, ts, fields)))
            n += 1
    return n


def open_runs(count: int, now: datetime, out: dict[str, list[tuple[datetime, bytes]]]) -> None:
    rng = random.Random(3)
    for i in range(count):
        running = i % 3 == 0
        start = now - (timedelta(minutes=rng.randint(5, 120)) if running
                       else timedelta(hours=rng.randint(2, 160)))
        rid = f"{start:%Y%m%d_%H%M%S}_open{i:05d}"
        beats = [start + timedelta(minutes=k) for k in range(1, 4)]
        if running:
            beats.append(now - timedelta(minutes=1))
        evs = [(start, line(rid, "run_started", start, {"workflow_id": "open-wf"}))]
        evs += [(t, line(rid, "heartbeat", t, {"progress": round(k / 10, 2)}))
                for k, t in enumerate(beats, 1)]
        for ts, data in evs:
            out[f"{ts:%Y-%m}"].append((ts, data))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--open", type=int, default=300, help="runs with no terminal row")
    ap.add_argument("--compact", action="store_true", help="compact the copy afterwards")
    args = ap.parse_args()
    if args.dest.exists():
        sys.exit(f"{args.dest} exists: remove it first")
    t0 = time.monotonic()
    shutil.copytree(args.source / "runs_log", args.dest / "runs_log")
    by_month: dict[str, list[tuple[datetime, bytes]]] = defaultdict(list)
    runs = sum(run_events(p, by_month) for p in sorted((args.dest / "runs_log").iterdir())
               if p.suffix == ".jsonl")
    open_runs(args.open, datetime.now(UTC), by_month)
    folder = args.dest / "events_log"
    folder.mkdir()
    total = 0
    for month, evs in sorted(by_month.items()):
        evs.sort(key=lambda e: e[0])
        (folder / f"{month}.jsonl").write_bytes(b"".join(data for _, data in evs))
        total += len(evs)
    print(f"{runs:,} runs, {total:,} events in {len(by_month)} months "
          f"({time.monotonic() - t0:.0f}s)")
    if args.compact:
        from mantis_runs.compaction import compact

        report = compact(args.dest, checkpoint_min_bytes=0)
        print(f"compacted {len(report.months)} months, "
              f"{len(report.checkpoints)} checkpoint(s) ({time.monotonic() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
