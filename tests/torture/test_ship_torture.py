"""Shipping torture: several hosts, each with its own data dir, ship into one lake table while
their runs keep arriving, shippers are killed with kill -9 at random moments (inside the upload,
between the commit and the local record, ...) and a `lake compact` loop runs alongside. At the
end every run of every host is in the table exactly once, as the local stores have it."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers import write_rows
from lake_s3 import lake_rows, local_runs, require_lake, s3_server, same_runs, subprocess_env

require_lake()

HOSTS = 6
ROUNDS = 4
RUNS_PER_ROUND = 150
START = datetime(2026, 9, 1, tzinfo=UTC)

COMPACT_LOOP = """
import sys, time
from datetime import timedelta
from mantis_runs.lake.maintain import compact_lake
from mantis_runs.lake.storage import target
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        compact_lake(target(sys.argv[1]), timedelta(days=7))
    except Exception as exc:  # a lost race is retried next time
        print("compact:", exc, file=sys.stderr)
    time.sleep(0.5)
"""


def _rows(host: int, rnd: int) -> list[dict[str, object]]:
    out = []
    for i in range(RUNS_PER_ROUND):
        n = rnd * RUNS_PER_ROUND + i
        finished = START + timedelta(hours=n * 3 + host)
        out.append({"run_id": f"h{host}-{n:06d}", "workflow_id": f"wf-{n % 4}",
                    "status": "failed" if n % 9 == 0 else "succeeded",
                    "total_time_s": 0.5 + (n * 7919 % 1000) / 10,
                    "finished_at": finished.isoformat(),
                    "wall_time_breakdown": {"think": n % 5 / 2, "act": 1.0}})
    return out


def _shipper(uri: str, d: Path, endpoint: str, crash: str | None) -> subprocess.Popen[str]:
    extra = {"MANTIS_LAKE_TEST_CRASH": crash} if crash else {}
    return subprocess.Popen(
        [sys.executable, "-m", "mantis_runs", "runs", "ship", "--to", uri, "--data-dir",
         str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(endpoint, **extra))


def test_many_hosts_killed_at_random_land_every_run_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261204)
    with s3_server() as endpoint:
        uri = "s3://lake/torture"
        env = subprocess_env(endpoint)
        subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "lake", "init", uri],
                       env=env, check=True, capture_output=True, timeout=60)
        compactor = subprocess.Popen([sys.executable, "-c", COMPACT_LOOP, uri, "60"],
                                     env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        dirs = [tmp_path / f"host{h}" for h in range(HOSTS)]
        killed = 0
        try:
            for rnd in range(ROUNDS):
                for h, d in enumerate(dirs):
                    write_rows(d, _rows(h, rnd))
                # some shippers die at a chosen point, others at a random moment
                procs = [_shipper(uri, d, endpoint, rng.choice(
                    [None, None, "prepared", "committed"])) for d in dirs]
                deadline = time.monotonic() + 90
                for p in procs:
                    if rng.random() < 0.4:
                        time.sleep(rng.uniform(0.0, 2.5))
                        if p.poll() is None:
                            p.send_signal(signal.SIGKILL)
                    p.wait(timeout=max(1.0, deadline - time.monotonic()))
                    killed += p.returncode == -9
                    assert p.returncode in (0, -9), p.stderr.read() if p.stderr else ""
        finally:
            compactor.kill()
            compactor.wait()
        # a last, undisturbed round lands the rest
        for d in dirs:
            done = subprocess.run(
                [sys.executable, "-m", "mantis_runs", "runs", "ship", "--to", uri,
                 "--data-dir", str(d)], env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        assert killed >= ROUNDS  # the torture really killed shippers
        lake = lake_rows(uri, endpoint)
        union = {}
        for d in dirs:
            union.update(local_runs(d))
        assert len(union) == HOSTS * ROUNDS * RUNS_PER_ROUND
        same_runs(lake, union)
        hosts = {r["host_id"] for r in lake}
        assert len(hosts) == HOSTS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
