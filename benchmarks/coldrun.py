"""One cold process, measured: wall time, CPU time (user + sys of the process and the threads
it started) and peak RSS, from ``os.wait4``, and a line of medians. Shared by the timing
scripts (bench_dashboard.py; bench_compare.py's ``run_once`` is ``cold`` with
``-m mantis_runs``)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cold(argv: list[str], src: Path) -> tuple[float, float, float, int, bytes]:
    """(wall s, cpu s, peak RSS MiB, exit status, stdout) of ``python ARGV`` in a new process
    with ``src`` first on its path; stderr is discarded."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=subprocess.DEVNULL,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                proc.returncode, out.read())


def summary(name: str, runs: list[tuple[float, float, float, int, bytes]]) -> str:
    """One line of medians over ``cold`` results: wall (with min and max), CPU, peak RSS."""
    walls = sorted(r[0] for r in runs)
    return (f"{name}: wall median {statistics.median(walls):.2f} s (min {walls[0]:.2f}, max "
            f"{walls[-1]:.2f}), cpu median {statistics.median(r[1] for r in runs):.2f} s, peak "
            f"RSS median {statistics.median(r[2] for r in runs):.0f} MiB, exit {runs[0][3]}")
