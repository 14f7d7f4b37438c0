"""``mantis runs sql`` over the views against the same query typed at DuckDB (issue 15).

Each measurement is a cold process: ``mantis runs sql QUERY --data-dir D`` and ``mantis runs
shell --data-dir D -- -c QUERY`` (the duckdb-cli of the 'shell' extra; skipped without it)
against a bare ``duckdb`` Python process running the same query over the same files without dedupe
(``read_parquet`` of the parts and the checkpoints, plus ``read_json`` of the JSONL shards),
alternated pair by pair; wall time and the process's own peak RSS (``wait4``). Timings on a
shared machine are noisy: the ratios of medians are the figures to read.

Usage::

    python benchmarks/bench_views.py --data-dir /work/bench-data/c10m2 [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERIES = {
    "count": "SELECT count(*) FROM runs",
    "median": ("SELECT model, date_trunc('week', finished_at) AS week, median(total_time_s) "
               "FROM runs GROUP BY ALL ORDER BY ALL"),
}

#: argv: data dir, query, and "parquet" to read the Parquet files alone ("duckdb-parquet": the
#: files mantis reads when the live month's checkpoint covers its whole shard, as in c10m2;
#: the plain "duckdb" side also parses the shard the checkpoint covers, counting it twice).
RAW = """
import sys, duckdb
d, q = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
src = ("(SELECT * FROM read_parquet(['{d}/compacted/*/*.parquet', '{d}/checkpoints/*.parquet'],"
       " union_by_name = true) UNION ALL BY NAME SELECT * FROM read_json('{d}/runs_log/*.jsonl'))")
if sys.argv[3:] == ["parquet"]:
    src = ("(SELECT * FROM read_parquet(['{d}/compacted/*/*.parquet', "
           "'{d}/checkpoints/*.parquet'], union_by_name = true))")
con.execute(q.replace("FROM runs", "FROM " + src.format(d=d))).fetchall()
"""


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one cold process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {cmd}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    mantis = str(Path(sys.executable).parent / "mantis")
    shell = (Path(sys.executable).parent / "duckdb").is_file()
    print(f"load (1 min) before: {os.getloadavg()[0]:.2f}")
    print("| query | tool | median s | min s | peak RSS MB | × duckdb | × duckdb-parquet |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, query in QUERIES.items():
        got: dict[str, list[tuple[float, float]]] = {"mantis": [], "duckdb": [],
                                                      "duckdb-parquet": []}
        if shell:
            got["shell"] = []
        for _ in range(args.repeat):  # alternated pairs
            got["mantis"].append(run([mantis, "runs", "sql", query,
                                      "--data-dir", str(args.data_dir)]))
            if shell:
                got["shell"].append(run([mantis, "runs", "shell", "--data-dir",
                                         str(args.data_dir), "--", "-c", query]))
            got["duckdb"].append(run([sys.executable, "-c", RAW, str(args.data_dir), query]))
            got["duckdb-parquet"].append(run([sys.executable, "-c", RAW, str(args.data_dir),
                                              query, "parquet"]))
        base, parquet = (statistics.median(w for w, _ in got[t])
                         for t in ("duckdb", "duckdb-parquet"))
        for tool, runs in got.items():
            med = statistics.median(w for w, _ in runs)
            print(f"| {name} | {tool} | {med:.2f} | {min(w for w, _ in runs):.2f} | "
                  f"{max(r for _, r in runs):.0f} | {med / base:.2f}× | {med / parquet:.2f}× |")
    print(f"load (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
