"""Build a local-filesystem lake table from a compacted history, for bench_lake_read.py.

Every compacted part and live checkpoint of ``--data-dir`` (never changed: only read) becomes
rows of a new Delta table made by ``mantis runs lake init`` at ``--out``, one commit per month
in batches of at most 1M rows, with the lake's own columns (month, host_id, ship_seq,
ingested_at) as `ship` would add them, in ship's order (finished_at, then run_id: files are not
clustered by workflow). The live shards' tails beyond their checkpoints are left
out (bench_lake_read.py compares readers of the table, not the table with the data dir).

Usage::

    python benchmarks/build_lake.py --data-dir /work/bench-data/c10m2 \\
        --out /work/bench-data/lake-10m [--optimize]
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from mantis_runs.lake.init import init
from mantis_runs.lake.storage import target
from mantis_runs.lake.table import lake_schema

BATCH = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--optimize", action="store_true", help="compact each month's files")
    args = ap.parse_args()
    if os.path.exists(args.out):
        raise SystemExit(f"{args.out} exists: remove it first")
    files = sorted(glob.glob(os.path.join(args.data_dir, "compacted", "*", "part-*.parquet")))
    files += sorted(glob.glob(os.path.join(args.data_dir, "checkpoints", "*.parquet")))
    init(target(args.out))
    schema = lake_schema()
    con = duckdb.connect(config={"memory_limit": "2GB", "threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    seq, total, t0 = 0, 0, time.perf_counter()
    now = datetime.now(UTC)
    for path in files:
        rel = con.sql("SELECT *, strftime(finished_at, '%Y-%m') AS month, 'bench' AS host_id "
                      "FROM read_parquet($f) ORDER BY finished_at, run_id",  # ship's order
                      params={"f": path})
        reader = rel.to_arrow_reader(BATCH) if hasattr(rel, "to_arrow_reader") \
            else rel.fetch_record_batch(BATCH)
        for batch in reader:
            seq += 1
            table = pa.Table.from_batches([batch])
            table = table.append_column("ship_seq", pa.array([seq] * table.num_rows, pa.int64()))
            table = table.append_column("ingested_at", pa.array(
                [now] * table.num_rows, pa.timestamp("us", tz="UTC")))
            table = table.select(schema.names).cast(schema)
            write_deltalake(args.out, table, mode="append", partition_by=["month"],
                            commit_properties=CommitProperties(max_commit_retries=5))
            total += table.num_rows
            print(f"{path}: {total:,} rows, {time.perf_counter() - t0:.1f}s", flush=True)
    dt = DeltaTable(args.out)
    if args.optimize:
        dt.optimize.compact()
    dt.create_checkpoint()
    print(f"{args.out}: {total:,} rows, version {dt.version()}, "
          f"{len(dt.file_uris())} files, {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
