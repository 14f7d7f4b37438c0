"""Latency of ``append_run`` against the floor: a bare ``os.write`` + ``os.fdatasync`` loop.

Both write the same ~630-byte line to the same filesystem, one row at a time, in this process.
``append_run`` also validates and serialises the row (``prepare``), takes ``runs_log/.lock``,
checks that its cached shard descriptor still names the month shard, checks the shard's last byte,
writes and fdatasyncs; the bare loop keeps one ``O_APPEND`` descriptor open and only writes and
fdatasyncs. The two are interleaved row by row. ``prepare`` alone is timed too, to
show how much of the difference is CPU.

Usage: ``python benchmarks/bench_append.py --dir /work/bench-data/append [--rows 300]``
(the directory is created, and emptied again at the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mantis_runs.log.record import prepare
from mantis_runs.log.writer import append_run


def sample_row(i: int) -> dict[str, Any]:
    """A typical row (about the average size of the generated logs)."""
    return {
        "run_id": f"20260513_180527_{i:08x}",
        "tenant_id": "default",
        "profile_id": "default__alice-prod",
        "workflow_id": "default__marketplace-listings-v1",
        "plan_signature": "a1b2c3d4e5f6",
        "model": "Hcompany/Holo3-35B-A3B",
        "status": "succeeded",
        "created_at": "2026-05-13T18:05:27Z",
        "total_time_s": 247.31,
        "wall_time_breakdown": {"think": 92.04, "claude_extract": 67.21, "settle": 28.5,
                                "claude_ground": 18.33, "perceive": 11.08, "load": 10.61,
                                "act": 6.2, "claude_verify": 4.12, "overhead": 2.07},
        "cost_breakdown": {"llm_usd": 0.013577, "gpu_usd": 0.051935},
        "steps_executed": 12,
        "viable": 3,
        "error": None,
    }


def _stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"median_ms": statistics.median(s) * 1e3,
            "p95_ms": s[min(len(s) - 1, int(0.95 * len(s)))] * 1e3,
            "mean_ms": statistics.fmean(s) * 1e3}


def measure(base: Path, rows: int = 300) -> dict[str, Any]:
    """Time ``rows`` appends of each kind under ``base`` (created; left for the caller)."""
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "data"
    bare_path = base / "bare.jsonl"
    now = datetime.now(UTC)
    line = prepare(sample_row(0), now=now).line

    t_prepare = []
    for i in range(rows):
        t0 = time.perf_counter()
        prepare(sample_row(i), now=now)
        t_prepare.append(time.perf_counter() - t0)

    # The two are interleaved, one of each per step, so that the host's fsync stalls (large on a
    # shared VM) fall on both alike instead of on whichever ran during a busy second.
    t_append: list[float] = []
    t_bare: list[float] = []
    append_run(sample_row(0), data_dir=data_dir)  # creates the directory and the shard
    fd = os.open(bare_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fdatasync(fd)
        for i in range(1, rows + 1):
            row = sample_row(i)
            t0 = time.perf_counter()
            ok = append_run(row, data_dir=data_dir)
            t_append.append(time.perf_counter() - t0)
            if not ok:
                raise RuntimeError("append_run returned False; see the mantis_runs warning")
            t0 = time.perf_counter()
            os.write(fd, line)
            os.fdatasync(fd)
            t_bare.append(time.perf_counter() - t0)
    finally:
        os.close(fd)

    res = {"rows": rows, "line_bytes": len(line), "dir": str(base),
           "append_run": _stats(t_append), "bare_write_fdatasync": _stats(t_bare),
           "prepare_only": _stats(t_prepare)}
    res["ratio_median"] = res["append_run"]["median_ms"] / res["bare_write_fdatasync"]["median_ms"]
    return res


def markdown(res: dict[str, Any]) -> str:
    out = ["| what | median ms | p95 ms | mean ms |", "|---|---:|---:|---:|"]
    for key, label in (("append_run", "`append_run(row)`"),
                       ("bare_write_fdatasync", "bare `os.write` + `os.fdatasync`"),
                       ("prepare_only", "`prepare(row)` alone (CPU)")):
        s = res[key]
        out.append(f"| {label} | {s['median_ms']:.3f} | {s['p95_ms']:.3f} | {s['mean_ms']:.3f} |")
    out.append("")
    out.append(f"{res['rows']} rows of {res['line_bytes']} bytes each; `append_run` median is "
               f"{res['ratio_median']:.2f}× the bare loop's.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, required=True,
                    help="scratch directory on the filesystem to measure")
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="leave the written files")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    if args.dir.exists() and any(args.dir.iterdir()):
        ap.error(f"{args.dir} is not empty")
    try:
        res = measure(args.dir, args.rows)
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    print(json.dumps(res, indent=1) if args.json else markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
