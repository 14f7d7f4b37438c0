"""Shipping throughput into a loopback S3: rows per second of `mantis runs ship` for one host's
history, and for several hosts shipping at once (each its own data dir and process), with the
commit retries delta-rs needed (``num_retries`` of each commit in the table's history).

The S3 server is moto's, in a subprocess on 127.0.0.1 (tests/lake_s3.py); each measurement
ships into a new table. Data: ``benchmarks/gen_logs.py`` data dirs, copied first (shipping
writes ``ship/`` into the data dir), for example::

    for i in 0 1 2 3 4 5 6 7; do rows=25000; [ $i = 0 ] && rows=200000
      python benchmarks/gen_logs.py --out /work/bench-data/ship-$i --rows $rows --months 6 \\
          --seed $((i+1)) --end 2026-12-01; done
    python benchmarks/bench_ship.py --one /work/bench-data/ship-0 \\
        --many /work/bench-data/ship-{1..7} /work/bench-data/ship-0

Loopback S3 measures mantis and delta-rs, not a network: real buckets add latency per request.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from lake_s3 import s3_server, storage_options, subprocess_env


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ship"))
    return dst


def _ship(uri: str, d: Path, endpoint: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mantis_runs", "runs", "ship", "--to", uri,
                             "--data-dir", str(d)], env=subprocess_env(endpoint),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _init(uri: str, endpoint: str) -> None:
    subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "lake", "init", uri],
                   env=subprocess_env(endpoint), check=True, capture_output=True)


def _table(uri: str, endpoint: str) -> tuple[int, int, int]:
    """(rows, commits, commit retries) of the table."""
    from deltalake import DeltaTable

    dt = DeltaTable(uri, storage_options=storage_options(endpoint))
    rows = dt.to_pyarrow_dataset().count_rows()
    writes = [h for h in dt.history() if h.get("operation") == "WRITE"]
    retries = sum(int(h.get("operationMetrics", {}).get("num_retries", 0)) for h in writes)
    return rows, len(writes), retries


def measure(dirs: list[Path], endpoint: str, scratch: Path) -> dict[str, float]:
    uri = f"s3://lake/bench-{uuid.uuid4().hex[:8]}"
    _init(uri, endpoint)
    copies = [_copy(d, scratch / f"{uri.rsplit('-', 1)[1]}-{i}") for i, d in enumerate(dirs)]
    t0 = time.perf_counter()
    procs = [_ship(uri, d, endpoint) for d in copies]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"ship failed: {err.strip()}")
    wall = time.perf_counter() - t0
    rows, commits, retries = _table(uri, endpoint)
    for d in copies:
        shutil.rmtree(d)
    return {"hosts": len(dirs), "rows": rows, "seconds": round(wall, 2),
            "rows_per_s": round(rows / wall), "commits": commits, "retries": retries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", type=Path, required=True, help="data dir shipped alone")
    ap.add_argument("--many", type=Path, nargs="+", default=[],
                    help="data dirs shipped at once (one process each)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with s3_server() as endpoint, tempfile.TemporaryDirectory(prefix="bench-ship-") as tmp:
        for _ in range(args.repeat):  # alternate, as the machine is shared
            print("one host :", measure([args.one], endpoint, Path(tmp)), flush=True)
            if args.many:
                print("many     :", measure(args.many, endpoint, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
