"""Full-history `stats` over a compacted history against what a user would type at DuckDB.

Three cold processes, alternated, ``--repeat`` times each:

* ``mantis``: ``mantis runs stats WF --json --since 400d --last 100000000`` (every run, deduped,
  exact numpy percentiles, n, rough marks and the failure rate);
* ``duckdb one-liner``: ``quantile_cont`` of total_time_s and of each known bucket over
  ``read_parquet`` of the same parts and checkpoints, filtered the same way, no dedupe;
* ``bare scan``: only reading the needed columns of the matching rows into Arrow (no
  percentile at all): the floor any reader of these files pays;
* with ``--baseline-src DIR`` also ``mantis baseline``: the same command with another revision's
  ``src`` folder first on PYTHONPATH (``git archive REV src | tar -x -C DIR/..``).

Each process's CPU seconds (user + system, every thread) are printed beside the wall times: on
a shared machine they move less than wall times do.

Usage::

    python benchmarks/bench_full_stats.py --data-dir /work/bench-data/c10m2 \\
        --workflow default__marketplace-listings-v1 [--repeat 5] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_compacted import warm  # noqa: E402

SINCE = "400d"

_SETUP = """\
import glob, sys, duckdb
from datetime import datetime, timedelta, timezone
d, wf = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(d + '/compacted/*/part-*.parquet')) + sorted(
    glob.glob(d + '/checkpoints/*.parquet'))
since = datetime.now(timezone.utc) - timedelta(days=400)
con = duckdb.connect()
"""

ONE_LINER = _SETUP + """\
cols = con.execute("DESCRIBE SELECT wall_time_breakdown.* FROM read_parquet($f)",
                   {'f': files[:1]}).fetchall()
buckets = [c[0] for c in cols]
qs = ", ".join(f'quantile_cont(wall_time_breakdown."{b}", [0.5, 0.95, 0.99])' for b in buckets)
print(con.execute(
    "SELECT count(*), quantile_cont(total_time_s, [0.5, 0.95, 0.99]), " + qs +
    " FROM read_parquet($f) WHERE workflow_id = $wf AND status = 'succeeded'"
    " AND finished_at >= $since", {'f': files, 'wf': wf, 'since': since}).fetchall()[0][:2])
"""

BARE_SCAN = _SETUP + """\
t = con.execute(
    "SELECT total_time_s, wall_time_breakdown FROM read_parquet($f)"
    " WHERE workflow_id = $wf AND status = 'succeeded' AND finished_at >= $since",
    {'f': files, 'wf': wf, 'since': since}).to_arrow_table()
print(t.num_rows)
"""


#: The mantis CLI run from whichever mantis_runs comes first on sys.path.
CLI = "import sys; from mantis_runs.cli import main; sys.argv[0] = 'mantis'; main()"


def commands(args: argparse.Namespace) -> dict[str, tuple[list[str], dict[str, str]]]:
    d, wf = str(args.data_dir), args.workflow
    stats = ["runs", "stats", wf, "--json", "--data-dir", d, "--since", SINCE,
             "--last", "100000000"]
    out: dict[str, tuple[list[str], dict[str, str]]] = {
        "mantis": ([args.mantis, *stats], {}),
        "duckdb one-liner": ([sys.executable, "-c", ONE_LINER, d, wf], {}),
        "bare scan": ([sys.executable, "-c", BARE_SCAN, d, wf], {}),
    }
    if args.baseline_src is not None:
        out["mantis baseline"] = ([sys.executable, "-c", CLI, *stats],
                                  {"PYTHONPATH": str(args.baseline_src)})
    return out


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KB) of one cold process."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], capture_output=True,
                       text=True, check=True, env={**os.environ, **env})
    user, system, rss = p.stderr.strip().splitlines()[-1].split()
    return time.perf_counter() - start, float(user) + float(system), int(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workflow", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mantis", default=str(Path(sys.executable).with_name("mantis")))
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="another revision's src folder: also time mantis from there")
    args = ap.parse_args()
    warm(args.data_dir)
    cmds = commands(args)
    got: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    for _ in range(args.repeat):
        for name, (cmd, env) in cmds.items():
            got[name].append(timed(cmd, env))
    medians = {name: statistics.median(s for s, _, _ in runs) for name, runs in got.items()}
    cpu = {name: statistics.median(c for _, c, _ in runs) for name, runs in got.items()}
    print(f"{'tool':18s} {'median s':>9s} {'runs':>30s} {'CPU s':>7s} {'peak RSS MB':>12s}")
    for name, runs in got.items():
        secs = " ".join(f"{s:.2f}" for s, _, _ in runs)
        rss = max(r for _, _, r in runs) / 1024
        print(f"{name:18s} {medians[name]:9.3f} {secs:>30s} {cpu[name]:7.2f} {rss:12.0f}")
    m = medians["mantis"]
    print(f"one-liner / mantis: {medians['duckdb one-liner'] / m:.2f}x; "
          f"mantis / bare scan: {m / medians['bare scan']:.2f}x")
    if "mantis baseline" in medians:
        print(f"mantis / baseline: {m / medians['mantis baseline']:.2f}x wall, "
              f"{cpu['mantis'] / cpu['mantis baseline']:.2f}x CPU")


if __name__ == "__main__":
    main()
