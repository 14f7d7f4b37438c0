"""`mantis runs stats` over a lake table, cold, against DuckDB and polars reading the table.

Cold processes, alternated, ``--repeat`` times each, for two questions: ``default`` (``--last
100``) and ``full`` (``--since 400d --last 100000000``):

* ``mantis/lake``: ``mantis runs stats WF --json --data-dir file://TABLE`` (the copy order
  across every shipped copy, exact numpy percentiles, n, the failure rate);
* ``duckdb/delta``: DuckDB over deltalake's Arrow dataset of the same table, ``quantile_cont``
  of total_time_s over the newest runs (``ORDER BY finished_at DESC LIMIT N``), no dedupe;
* ``polars/delta``: ``pl.scan_delta`` with the same filters, no dedupe;
* with ``--s3``: the same three over a copy of the table on a loopback S3 server (moto in a
  subprocess, tests/lake_s3.py), as ``.../s3`` (mantis reads copies of the files of the months
  it reads, lake/fetch.py: the server's time to serve them is in the wall-clock time, not in
  the CPU time);
* with ``--cold-cache``: every mantis run with a new, empty cache folder (``XDG_CACHE_HOME``):
  a whole history over a local table reads in place once the run_ids shared by its files are
  known (db/shared_ids.py, cached per set of files), and the first read finds them; over S3,
  the copies of the files are kept there too (lake/copies.py): without ``--cold-cache`` one
  untimed run of each command comes first, and every timed run finds them (the cache folder is
  the environment's: set ``XDG_CACHE_HOME`` to keep 600 MB of copies out of ``~/.cache``);
  ``@before`` commands are compared with theirs pair by pair (wall and CPU time);
* with ``--proof`` (and ``--s3``): the proof of the run_ids shipped twice that ``mantis runs
  lake compact`` leaves beside the table (lake/proof.py) is written beside the S3 copy, so a
  cold cache reads it instead of scanning every run_id;
* with ``--data-dir``: ``mantis/local`` over the data dir the table was built from
  (benchmarks/build_lake.py), and with ``--src-before DIR`` the same command with another source
  tree first on ``PYTHONPATH`` (``mantis/local@before``): the local path must not get slower;
  ``--src-before`` also adds ``mantis/lake@before`` (and ``mantis/lake/s3@before``).

Usage::

    python benchmarks/build_lake.py --data-dir /work/bench-data/c10m2 \\
        --out /work/bench-data/lake-10m
    python benchmarks/bench_lake_read.py --table /work/bench-data/lake-10m \\
        --workflow default__marketplace-listings-v1 --data-dir /work/bench-data/c10m2 \\
        [--src-before /tmp/base/src] [--repeat 5] [--s3 [--proof]] \\
        [--questions default,full] [--cold-cache]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

SINCE_DAYS = 400
QUESTIONS = {"default": ["--last", "100"],
             "full": ["--since", f"{SINCE_DAYS}d", "--last", "100000000"]}

_PEER_SETUP = """\
import os, sys
from datetime import datetime, timedelta, timezone
table, wf, last = sys.argv[1], sys.argv[2], int(sys.argv[3])
opts = {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION",
                                   "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        if k in os.environ} if table.startswith("s3://") else None
since = None if last <= 100 else datetime.now(timezone.utc) - timedelta(days=400)
"""

DUCKDB_PEER = _PEER_SETUP + """\
import duckdb
from deltalake import DeltaTable
runs_raw = DeltaTable(table, storage_options=opts).to_pyarrow_dataset()
con = duckdb.connect()
con.register("runs_raw", runs_raw)
print(con.execute(
    "SELECT count(*), quantile_cont(total_time_s, [0.5, 0.95, 0.99]) FROM ("
    " SELECT total_time_s FROM runs_raw WHERE workflow_id = $wf AND status = 'succeeded'"
    " AND ($since IS NULL OR finished_at >= $since) ORDER BY finished_at DESC LIMIT $last)",
    {"wf": wf, "since": since, "last": last}).fetchall())
"""

POLARS_PEER = _PEER_SETUP + """\
import polars as pl
lf = pl.scan_delta(table, storage_options=opts).filter((pl.col("workflow_id") == wf)
                                 & (pl.col("status") == "succeeded"))
if since is not None:
    lf = lf.filter(pl.col("finished_at") >= since)
top = lf.sort("finished_at", descending=True).head(last).select("total_time_s")
print(top.select(pl.len(), *[pl.col("total_time_s").quantile(q, "linear").alias(str(q))
                             for q in (0.5, 0.95, 0.99)]).collect())
"""


Commands = dict[str, tuple[list[str], dict[str, str]]]


def commands(args: argparse.Namespace, question: str, s3: dict[str, str] | None) -> Commands:
    py = sys.executable
    env = dict(os.environ)
    mantis = [py, "-m", "mantis_runs", "runs", "stats", args.workflow, "--json",
              *QUESTIONS[question]]
    last = QUESTIONS[question][-1]
    table = str(Path(args.table).resolve())
    out: Commands = {}
    cache = {"XDG_CACHE_HOME": FRESH_CACHE} if args.cold_cache else {}
    for where, uri, e in (("", f"file://{table}", env), ("/s3", S3_URI, {**env, **(s3 or {})})):
        if where and s3 is None:
            continue
        out[f"mantis/lake{where}"] = ([*mantis, "--data-dir", uri], {**e, **cache})
        if args.src_before:
            out[f"mantis/lake{where}@before"] = ([*mantis, "--data-dir", uri], {
                **e, **cache, "PYTHONPATH": args.src_before})
        path = uri.removeprefix("file://")
        out[f"duckdb/delta{where}"] = ([py, "-c", DUCKDB_PEER, path, args.workflow, last], e)
        out[f"polars/delta{where}"] = ([py, "-c", POLARS_PEER, path, args.workflow, last], e)
    if args.data_dir:
        out["mantis/local"] = ([*mantis, "--data-dir", args.data_dir], env)
        if args.src_before:
            before = {**env, "PYTHONPATH": args.src_before}
            out["mantis/local@before"] = ([*mantis, "--data-dir", args.data_dir], before)
    return out


S3_URI = "s3://lake/bench"


@contextmanager
def s3_copy(table: str, *, proof: bool = False) -> Iterator[dict[str, str]]:
    """The table uploaded to a loopback S3 server (tests/lake_s3.py); the variables to reach
    it. With ``proof``, the proof `lake compact` leaves (lake/proof.py) is written beside the
    copy (the table itself is never changed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import boto3

    from lake_s3 import env, s3_server

    with s3_server() as endpoint:
        variables = env(endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"])
        root = Path(table)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), "lake", f"bench/{path.relative_to(root)}")
        if proof:
            write_proof(variables)
        yield variables


def write_proof(variables: dict[str, str]) -> None:
    """Write the shared-run_ids proof of the S3 copy, as `mantis runs lake compact` does."""
    from unittest import mock

    from mantis_runs.lake.proof import write_proof as write
    from mantis_runs.lake.storage import target
    from mantis_runs.lake.table import open_table

    with mock.patch.dict(os.environ, variables):
        t0 = time.perf_counter()
        print(f"proof {write(open_table(target(S3_URI)))} in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)


#: In a command's environment: run it with a new, empty cache folder (``--cold-cache``).
FRESH_CACHE = "XDG_CACHE_HOME=<fresh>"


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system: the figure to trust on a loaded machine) and
    stdout of one cold run; NaN times when it failed without an answer."""
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as fresh:
        if env.get("XDG_CACHE_HOME") == FRESH_CACHE:
            env = {**env, "XDG_CACHE_HOME": fresh}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:  # a peer that crashes (at exit, after its answer) is counted apart
        print(f"  ({' '.join(cmd[2:4])[:60]}... exit {done.returncode}: "
              f"{done.stderr.strip()[-200:]})", flush=True)
        if not done.stdout.strip():
            return float("nan"), float("nan"), done.stdout
    return wall, cpu, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True, help="a local-filesystem lake table")
    ap.add_argument("--workflow", required=True)
    ap.add_argument("--data-dir", help="the data dir the table was built from")
    ap.add_argument("--src-before", help="another source tree for mantis/local@before")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--questions", default="default,full")
    ap.add_argument("--s3", action="store_true", help="also over a loopback S3 copy")
    ap.add_argument("--cold-cache", action="store_true",
                    help="run mantis with a new, empty cache folder each time")
    ap.add_argument("--only", help="comma-separated command names to run (default: all)")
    ap.add_argument("--proof", action="store_true",
                    help="with --s3: write the proof `lake compact` leaves beside the copy")
    args = ap.parse_args()
    with s3_copy(args.table, proof=args.proof) if args.s3 else nullcontext() as s3:
        for question in args.questions.split(","):
            measure(args, commands(args, question, s3), question)


def measure(args: argparse.Namespace, cmds: Commands, question: str) -> None:
    if args.only:
        cmds = {k: v for k, v in cmds.items() if k in args.only.split(",")}
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    if not args.cold_cache:  # one untimed run each: the first would fetch the kept copies
        for cmd, env in cmds.values():
            run(cmd, env)
    for _ in range(args.repeat):  # alternated: the machine's load hits every command alike
        for name, (cmd, env) in cmds.items():
            wall, cpu, _ = run(cmd, env)
            times[name].append(wall)
            cpus[name].append(cpu)
    ref = statistics.median(times.get("mantis/lake") or next(iter(times.values())))
    print(f"\n{question}: median of {args.repeat} cold runs (min), vs mantis/lake; median CPU")
    for name, all_ts in times.items():
        ts = [t for t in all_ts if t == t] or [float("nan")]  # NaN: the run failed
        med = statistics.median(ts)
        cpu = statistics.median([c for c in cpus[name] if c == c] or [float("nan")])
        print(f"  {name:22s} {med:7.3f}s ({min(ts):.3f}s)  {med / ref:5.2f}x  cpu {cpu:.2f}s")
    for name in [n for n in times if f"{n}@before" in times]:  # alternated: compare in pairs
        for what, got in (("wall", times), ("cpu", cpus)):
            pairs = [a / b for a, b in zip(got[name], got[f"{name}@before"], strict=True)]
            print(f"  {name} now/before {what}, pair by pair: median "
                  f"{statistics.median(pairs):.3f} ({', '.join(f'{p:.2f}' for p in pairs)})")


if __name__ == "__main__":
    main()
