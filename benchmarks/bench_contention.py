"""Writers contending for ``runs_log/.lock``: how long appends wait, and how many give up.

``--writers`` processes (default 16) each append ``--appends`` rows (default 100) to one data
dir, back to back, all starting at once. Each append is timed from the call to ``append_run`` to
its return (the wait for the lock, plus the append and its fdatasync under it); the report gives
p50, p99 and the worst of those times over every append, per-writer worst times, and the appends
refused (False: the 10 s deadline, ``LOCK_TIMEOUT_S``, passed). A single writer is timed first as
the floor.

``--src DIR`` runs the writers on another source tree (its ``mantis_runs`` is imported instead of
the installed one), and ``--before REV`` adds a run on the writer of git revision REV (exported
with ``git archive``), so that one call compares before and after::

    python benchmarks/bench_contention.py --before HEAD --appends 100 --repeat 3

The data dir is created under ``--dir`` (default: a temporary directory) and removed at the end.
Figures depend on the disk's fdatasync time and on the number of cores; compare runs made one
after the other on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: One writer process: imports mantis_runs (from PYTHONPATH), appends one row to warm up, says
#: "ready", waits for "go", appends its rows and prints their times as JSON.
WORKER = r"""
import json, sys, time
from mantis_runs.log import writer
from mantis_runs import append_run
data_dir, name, n, pad = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def row(i):
    return {"run_id": f"{name}-{i:06d}", "workflow_id": "wf-bench", "status": "failed",
            "total_time_s": 1.5, "finished_at": "2026-05-13T18:09:34Z",
            "wall_time_breakdown": {"think": 1.0, "act": 0.5}, "error": "x" * pad}
append_run(row(-1), data_dir)  # warm up: imports, descriptors, the shard
print("ready", flush=True)
sys.stdin.readline()
times, refused = [], 0
t_start = time.perf_counter()
for i in range(n):
    t0 = time.perf_counter()
    ok = append_run(row(i), data_dir)
    times.append(time.perf_counter() - t0)
    refused += not ok
print(json.dumps({"times": times, "refused": refused,
                  "wall": time.perf_counter() - t_start,
                  "module": writer.__file__}), flush=True)
"""


def run_writers(src: Path | None, data_dir: Path, writers: int, appends: int,
                pad: int = 0) -> dict[str, Any]:
    """Start ``writers`` processes on ``data_dir``, release them together, collect their times."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(data_dir), f"w{k:02d}",
                               str(appends), str(pad)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for k in range(writers)]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline() != "ready\n":
                raise RuntimeError("a writer did not start")
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=3600)
            results.append(json.loads(out))
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    times = sorted(t for r in results for t in r["times"])
    return {
        "writers": writers,
        "appends": len(times),
        "refused": sum(r["refused"] for r in results),
        "p50_ms": _pct(times, 0.50) * 1e3,
        "p99_ms": _pct(times, 0.99) * 1e3,
        "max_ms": times[-1] * 1e3,
        "mean_ms": statistics.fmean(times) * 1e3,
        "worst_per_writer_ms": sorted(round(max(r["times"]) * 1e3, 1) for r in results),
        "wall_s": wall,
        "appends_per_s": len(times) / wall,
        "module": results[0]["module"],
    }


def _pct(sorted_values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation (numpy's default method)."""
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def export_revision(rev: str, into: Path) -> Path:
    """``src/`` of git revision ``rev``, exported under ``into``; returns the source root."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--appends", type=int, default=100, help="rows per writer")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant, alternating")
    ap.add_argument("--error-bytes", type=int, default=0,
                    help="pad each row's error text (longer appends hold the lock longer)")
    ap.add_argument("--src", type=Path, default=None,
                    help="source tree to import mantis_runs from (default: the installed one)")
    ap.add_argument("--before", metavar="REV", default=None,
                    help="also run the writer of this git revision (e.g. HEAD)")
    ap.add_argument("--dir", type=Path, default=None, help="where to make the data dirs")
    ap.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mantis-contention-", dir=args.dir))
    try:
        variants: list[tuple[str, Path | None]] = []
        if args.before:
            (work / "before").mkdir()
            variants.append((f"before ({args.before})", export_revision(args.before,
                                                                      work / "before")))
        variants.append(("after (this tree)" if args.src is None else f"after ({args.src})",
                         args.src))
        results: list[dict[str, Any]] = []
        for i in range(args.repeat):
            for label, src in [("floor: 1 writer", args.src), *variants]:
                data_dir = work / f"data-{len(results)}"
                one = label.startswith("floor")
                if one and i > 0:
                    continue
                r = run_writers(src, data_dir, 1 if one else args.writers, args.appends,
                                args.error_bytes)
                r["label"], r["run"] = label, i + 1
                results.append(r)
                shutil.rmtree(data_dir, ignore_errors=True)
                print(f"{label:<22} run {i + 1}: {r['writers']:>2} writers x {args.appends} rows"
                      f"  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
                      f"  max {r['max_ms']:7.1f} ms  refused {r['refused']:>3}"
                      f"  {r['appends_per_s']:6.0f} rows/s", flush=True)
                if not one:
                    print(f"{'':<22} worst wait per writer (ms): {r['worst_per_writer_ms']}",
                          flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
