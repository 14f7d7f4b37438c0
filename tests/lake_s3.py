"""A loopback S3 server for the lake tests: moto in a subprocess bound to 127.0.0.1 on a port
the kernel picks (in-process moto deadlocks with deltalake calls that hold the GIL), and what
the tests need to read the lake back. Imported by tests/test_lake.py and the ship torture."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: Credentials for the fake server: never printed by mantis (tests check it).
SECRET = "s3cr3t-Mantis-Lake-Test-Key-0123456789"
KEY_ID = "AKIAMANTISLAKETEST01"
BUCKET = "lake"


def require_lake() -> None:
    """Skip unless deltalake and moto are importable (they come with ``.[dev]``)."""
    for module, what in (("deltalake", "deltalake (pip install -e '.[lake]')"),
                         ("moto.server", "moto[s3] with flask and flask-cors "
                                         "(pip install -e '.[dev]')")):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"the lake tests need {what}")


@contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 (port 0), create the bucket; yield the endpoint."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    port = None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        proc.kill()
        raise RuntimeError("moto's server did not start")
    # werkzeug logs every request: keep reading, or the server blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        req = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()
        yield endpoint
    finally:
        proc.kill()
        proc.wait(timeout=10)


def env(endpoint: str) -> dict[str, str]:
    """The variables a shipper on this server gets."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_EC2_METADATA_DISABLED": "true"}


def subprocess_env(endpoint: str, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(env(endpoint))
    e.update(extra)
    return e


def storage_options(endpoint: str) -> dict[str, str]:
    e = env(endpoint)
    return {k: e[k] for k in ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION",
                              "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")} | {
        "timeout": "30s", "connect_timeout": "5s"}


def _breakdown(known: dict[str, Any] | None, other: list[tuple[str, Any]] | None
               ) -> dict[str, Any] | None:
    if known is None and other is None:
        return None
    out = {k: v for k, v in (known or {}).items() if v is not None}
    out.update(dict(other or []))
    return out


def _extra(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def lake_rows(uri: str, endpoint: str) -> list[dict[str, Any]]:
    """Every row of the lake table as a plain dict, its breakdown as one dict again."""
    from deltalake import DeltaTable

    dt = DeltaTable(uri, storage_options=storage_options(endpoint))
    rows = []
    for r in dt.to_pyarrow_dataset().to_table().to_pylist():
        r["wall_time_breakdown"] = _breakdown(r["wall_time_breakdown"],
                                              r.pop("wall_time_breakdown_other"))
        r["cost_breakdown"] = None if r["cost_breakdown"] is None else dict(r["cost_breakdown"])
        r["extra"] = _extra(r["extra"])
        rows.append(r)
    return rows


def local_runs(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The local store's runs (RunStore, every status), by run_id, in the same form."""
    from mantis_runs import RunStore

    out = {}
    for r in RunStore(data_dir).runs(arrow=True).to_pylist():
        for key in ("wall_time_breakdown", "cost_breakdown"):
            r[key] = None if r[key] is None else dict(r[key])
        r["extra"] = _extra(r["extra"])
        out[r["run_id"]] = r
    return out


def same_runs(lake: list[dict[str, Any]], local: dict[str, dict[str, Any]]) -> None:
    """Each local run is in the lake exactly once, with every field equal, and nothing else."""
    ids = [r["run_id"] for r in lake]
    assert len(ids) == len(set(ids)), "a run is in the lake more than once"
    assert set(ids) == set(local)
    for r in lake:
        mine = local[r["run_id"]]
        for key, value in mine.items():
            assert _eq(r[key], value), (r["run_id"], key, r[key], value)


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    return bool(a == b)
