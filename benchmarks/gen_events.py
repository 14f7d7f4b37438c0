"""A realistic events history for a run log, for bench_events_read.py.

Reads the runs of ``--source``, a data dir in any state (raw JSONL shards, compacted months,
a checkpointed live month; never written to), copies it whole to ``--dest`` (or, when
``--dest`` already is such a copy without events, writes into it) and writes
events_log/YYYY-MM.jsonl there: canonical lines (the writer's format, docs/events.md) made by
DuckDB, one month at a time (the runs of that month and the next: no run lasts a month), so
memory stays bounded at any size. For every run a ``run_started`` at its created_at and a
``heartbeat`` halfway, and, chosen by a hash of the run_id: a ``failure`` with the run's error
at its end (every failed run), ``step_started``/``step_finished`` (3 % of runs), an ``artifact``
(1 %), a ``failover`` (0.4 %: a few thousand in 30 days of the 10M-run set); about 2.1 events a
run. Plus ``--open`` runs started in the last 7 days that have no terminal row: a third of them
still running (a heartbeat a minute ago), the rest lost (their last event hours old). Each
month's lines are in ts order, as a writer appends them. ``--compact`` then compacts the copy
(closed months to Parquet, the live month checkpointed), as a store in use would be.

Usage::

    python benchmarks/gen_events.py --source /work/bench-data/1m \\
        --dest /work/bench-data/events-1m [--open 300] [--compact]
    # 20M events over the compacted 10M-run history (13 months):
    cp -a /work/bench-data/c10m2 /work/bench-data/ev20m
    python benchmarks/gen_events.py --dest /work/bench-data/ev20m
    /usr/bin/time -v mantis runs compact --data-dir /work/bench-data/ev20m
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mantis_runs.log.record import format_timestamp

_ENC = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# One run's columns, from a Parquet part or a JSONL shard (bad lines skipped).
_PARQUET = ("SELECT run_id, workflow_id, model, tenant_id, profile_id, status, error, "
            "created_at::TIMESTAMP AS c, finished_at::TIMESTAMP AS f FROM read_parquet(?)")
_JSONL = ("SELECT run_id, workflow_id, model, tenant_id, profile_id, status, error, "
          "try_cast(created_at AS TIMESTAMPTZ)::TIMESTAMP AS c, "
          "try_cast(finished_at AS TIMESTAMPTZ)::TIMESTAMP AS f FROM read_json(?, "
          "format='newline_delimited', ignore_errors=true, columns={run_id: 'VARCHAR', "
          "workflow_id: 'VARCHAR', model: 'VARCHAR', tenant_id: 'VARCHAR', "
          "profile_id: 'VARCHAR', status: 'VARCHAR', error: 'VARCHAR', "
          "created_at: 'VARCHAR', finished_at: 'VARCHAR'})")

_RUNS_TABLE = ("CREATE OR REPLACE TEMP TABLE runs (run_id VARCHAR, workflow_id VARCHAR, "
               "model VARCHAR, tenant_id VARCHAR, profile_id VARCHAR, status VARCHAR, "
               "error VARCHAR, c TIMESTAMP, f TIMESTAMP)")

# The events of the runs in ``runs`` (c: created, f: finished, h: a hash of the run_id, d: the
# run's length in microseconds), as (ts, kind order, line) without the month filter.
_EVENTS = """
WITH r AS (
  SELECT *, hash(run_id) AS h, epoch_us(f) - epoch_us(c) AS d FROM runs
  WHERE run_id IS NOT NULL AND c IS NOT NULL AND f IS NOT NULL AND f >= c),
e AS (
  SELECT run_id, c AS ts, 0 AS k, 'run_started' AS type, json_object('workflow_id',
    workflow_id, 'model', model, 'tenant_id', tenant_id, 'profile_id', profile_id) AS fields
  FROM r
  UNION ALL SELECT run_id, make_timestamp(epoch_us(c) + d // 2), 4, 'heartbeat',
    json_object('progress', 0.5) FROM r
  UNION ALL SELECT run_id, make_timestamp(epoch_us(c) + d // 4), 2, 'step_started',
    json_object('step', 'think') FROM r WHERE h % 100 < 3
  UNION ALL SELECT run_id, make_timestamp(epoch_us(c) + d * 3 // 5), 5, 'step_finished',
    json_object('step', 'think', 'status', 'succeeded', 'seconds', round(d * 0.35e-6, 2))
    FROM r WHERE h % 100 < 3
  UNION ALL SELECT run_id, make_timestamp(epoch_us(c) + d // 3), 3, 'failover',
    json_object('reason', 'gpu node drained', 'from', 'gpu-' || (h % 7)::VARCHAR,
                'to', 'gpu-' || (h % 7 + 1)::VARCHAR) FROM r WHERE h % 1000 < 4
  UNION ALL SELECT run_id, f, 6, 'artifact',
    json_object('name', 'final.png', 'bytes', h % 200000) FROM r WHERE h % 100 = 50
  UNION ALL SELECT run_id, f, 7, 'failure',
    json_object('message', left(error, 200), 'kind', status) FROM r
    WHERE status <> 'succeeded' AND error IS NOT NULL)
SELECT ts, k, run_id, json_object('run_id', run_id, 'type', type, 'ts',
    strftime(ts, '%Y-%m-%dT%H:%M:%S') || CASE WHEN epoch_us(ts) % 1000000 = 0 THEN ''
      ELSE strftime(ts, '.%f') END || 'Z', 'fields', fields)::VARCHAR || chr(10) AS line
FROM e
"""


def line(run_id: str, type_: str, ts: datetime, fields: dict[str, object]) -> bytes:
    return _ENC.encode({"run_id": run_id, "type": type_, "ts": format_timestamp(ts),
                        "fields": fields}).encode() + b"\n"


def run_sources(data_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Per month, the (query, path) pairs that read its runs: the newest part of each
    compacted month and the live (or raw) shard."""
    out: dict[str, list[tuple[str, str]]] = {}
    for month_dir in sorted((data_dir / "compacted").glob("????-??")):
        parts = sorted(month_dir.glob("part-*.parquet"))
        if parts:
            out.setdefault(month_dir.name, []).append((_PARQUET, str(parts[-1])))
    for shard in sorted((data_dir / "runs_log").glob("????-??.jsonl")):
        out.setdefault(shard.stem, []).append((_JSONL, str(shard)))
    return dict(sorted(out.items()))


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def write_month(con: Any, month: str, path: Path) -> int:
    """Write the events whose ts falls in ``month`` (from table ``ev``), in ts order."""
    import numpy as np
    import pyarrow as pa

    start = datetime.strptime(month, "%Y-%m")
    end = datetime.strptime(next_month(month), "%Y-%m")
    reader = con.sql("SELECT line FROM ev WHERE ts >= $1 AND ts < $2 ORDER BY ts, k, run_id",
                     params=[start, end]).to_arrow_reader(500_000)
    n = 0
    with open(path, "wb") as f:
        for batch in reader:
            col = batch.column(0).cast(pa.large_string())
            # the lines end in \n and are never null: the data buffer is the file's bytes
            offsets = np.frombuffer(col.buffers()[1], dtype=np.int64)[col.offset:]
            f.write(memoryview(col.buffers()[2])[offsets[0]:offsets[len(col)]])
            n += len(col)
    return n


def open_runs(count: int, now: datetime) -> list[tuple[datetime, int, str, str]]:
    """Events of runs with no terminal row, as rows of table ``ev``."""
    rng = random.Random(3)
    out = []
    for i in range(count):
        running = i % 3 == 0
        start = now - (timedelta(minutes=rng.randint(5, 120)) if running
                       else timedelta(hours=rng.randint(2, 160)))
        rid = f"{start:%Y%m%d_%H%M%S}_open{i:05d}"
        beats = [start + timedelta(minutes=k) for k in range(1, 4)]
        if running:
            beats.append(now - timedelta(minutes=1))
        out.append((start, 0, rid, line(rid, "run_started", start, {"workflow_id": "open-wf"})))
        out += [(t, 4, rid, line(rid, "heartbeat", t, {"progress": round(k / 10, 2)}))
                for k, t in enumerate(beats, 1)]
    return [(ts.replace(tzinfo=None), k, rid, data.decode()) for ts, k, rid, data in out]


def destination(source: Path | None, dest: Path) -> None:
    """Copy ``source`` whole into ``dest``, or check that ``dest`` is a copy to write into."""
    if source is not None:
        if dest.exists():
            sys.exit(f"{dest} exists: remove it first (or omit --source to write into it)")
        shutil.copytree(source, dest, symlinks=True)
    elif not (dest / "runs_log").is_dir() and not (dest / "compacted").is_dir():
        sys.exit(f"{dest} is not a data dir")
    if (dest / "events_log").exists():
        sys.exit(f"{dest}/events_log exists: the events were written already")


def generate(dest: Path, open_count: int) -> tuple[int, int]:
    """Write every month's events file; (runs read, events written)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": "3GB", "threads": 2,
                                 "preserve_insertion_order": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TEMP TABLE opened (ts TIMESTAMP, k INTEGER, run_id VARCHAR, "
                "line VARCHAR)")
    con.executemany("INSERT INTO opened VALUES (?, ?, ?, ?)",
                    open_runs(open_count, datetime.now(UTC)))
    sources = run_sources(dest)
    first = next(iter(sources))
    prev = f"{int(first[:4]) - (first[5:] == '01'):04d}-{(int(first[5:]) - 2) % 12 + 1:02d}"
    months = sorted({*sources, prev, *(m[:7] for (m,) in con.execute(
        "SELECT DISTINCT strftime(ts, '%Y-%m') FROM opened").fetchall())})
    folder = dest / "events_log"
    folder.mkdir()
    runs = total = 0
    for month in months:
        con.execute(_RUNS_TABLE)
        for query, path in sources.get(month, []):
            (count,), = con.execute("INSERT INTO runs " + query, [path]).fetchall()
            runs += count
        for query, path in sources.get(next_month(month), []):
            con.execute("INSERT INTO runs " + query, [path])
        con.execute("CREATE OR REPLACE TEMP TABLE ev AS " + _EVENTS
                    + " UNION ALL SELECT ts, k, run_id, line FROM opened")
        n = write_month(con, month, folder / f"{month}.jsonl")
        if n == 0:
            (folder / f"{month}.jsonl").unlink()
        total += n
        print(f"{month}: {n:,} events", flush=True)
    return runs, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path,
                    help="data dir to copy (omit to write into --dest, a copy made before)")
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--open", type=int, default=300, help="runs with no terminal row")
    ap.add_argument("--compact", action="store_true", help="compact the copy afterwards")
    args = ap.parse_args()
    t0 = time.monotonic()
    destination(args.source, args.dest)
    runs, total = generate(args.dest, args.open)
    print(f"{runs:,} runs, {total:,} events ({time.monotonic() - t0:.0f}s)")
    if args.compact:
        from mantis_runs.compaction import compact

        report = compact(args.dest, checkpoint_min_bytes=0)
        print(f"compacted {len(report.months)} months, "
              f"{len(report.checkpoints)} checkpoint(s) ({time.monotonic() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
