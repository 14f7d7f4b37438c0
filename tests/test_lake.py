"""The lake: `mantis runs lake init`, `mantis runs ship` and `mantis runs lake compact` against
a real S3 API (moto's server in a subprocess on 127.0.0.1), read back with deltalake."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, run_cli, write_rows
from lake_s3 import (
    SECRET,
    env,
    lake_rows,
    local_runs,
    require_lake,
    s3_server,
    same_runs,
    storage_options,
    subprocess_env,
)

require_lake()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as ep:
        yield ep


@pytest.fixture
def lake_env(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env(endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MANTIS_HOST_ID", raising=False)
    return endpoint


@pytest.fixture
def uri(lake_env: str) -> str:
    """A new, initialised table for each test."""
    u = f"s3://lake/t-{uuid.uuid4().hex[:10]}"
    assert run_cli("runs", "lake", "init", u).code == 0
    return u


def rows(n: int, *, start: datetime, prefix: str, step: timedelta = timedelta(hours=7)
         ) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        finished = start + i * step
        out.append({
            "run_id": f"{prefix}-{i:05d}", "workflow_id": f"wf-{i % 3}",
            "status": "failed" if i % 7 == 0 else "succeeded", "total_time_s": 1.0 + i / 4,
            "finished_at": finished.isoformat(), "created_at": (finished - timedelta(
                seconds=5)).isoformat(),
            "wall_time_breakdown": {"think": 0.5, "act": i / 8, "custom_step": 0.25},
            "cost_breakdown": {"tokens": float(i)}, "model": "m1", "tenant_id": "t",
            "host": "pod-7"})
    return out


START = datetime(2026, 3, 20, tzinfo=UTC)


def _ship(uri: str, d: Path, *extra: str) -> tuple[int, str, str]:
    return tuple(run_cli("runs", "ship", "--to", uri, "--data-dir", str(d), *extra))  # type: ignore[return-value]


def _ship_process(uri: str, d: Path, endpoint: str, **env_extra: str
                  ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mantis_runs", "runs", "ship", "--to", uri, "--data-dir",
         str(d)], capture_output=True, text=True, timeout=120,
        env=subprocess_env(endpoint, **env_extra), check=False)


def test_ship_lands_every_run_once_as_the_local_store_has_it(uri: str, lake_env: str,
                                                              tmp_path: Path) -> None:
    d = tmp_path / "data"
    write_rows(d, rows(40, start=START, prefix="a"))
    # a second copy of a run that wins (later finished_at), and one that loses
    write_rows(d, [{**rows(1, start=START, prefix="a")[0], "finished_at":
                    (START + timedelta(days=20)).isoformat(), "total_time_s": 99.0}])
    write_rows(d, [{**rows(2, start=START, prefix="a")[1], "finished_at":
                    (START - timedelta(days=20)).isoformat(), "total_time_s": 0.5}])
    append_bytes(d / "runs_log" / "2026-03.jsonl", b'{"run_id": "bad", "workflow_id": \n')
    assert run_cli("runs", "compact", "--month", "2026-03", "--data-dir", str(d)).code == 0
    code, out, err = _ship(uri, d)
    assert code == 0, err
    assert "shipped 40 runs in 1 batch (1)" in out
    assert SECRET not in out + err
    same_runs(lake_rows(uri, lake_env), local_runs(d))
    assert "bad" not in {r["run_id"] for r in lake_rows(uri, lake_env)}

    # nothing new: nothing shipped; then only what is new, as the next batch
    assert "nothing new to ship" in _ship(uri, d)[1]
    write_rows(d, rows(5, start=START + timedelta(days=45), prefix="b"))
    code, out, _ = _ship(uri, d)
    assert code == 0 and "shipped 5 runs in 1 batch (2)" in out
    lake = lake_rows(uri, lake_env)
    same_runs(lake, local_runs(d))
    host = (d / "ship" / "host_id").read_text().strip()
    assert {(r["host_id"], r["ship_seq"]) for r in lake} == {(host, 1), (host, 2)}
    assert {r["month"] for r in lake} == {"2026-03", "2026-04", "2026-05"}

    from deltalake import DeltaTable
    dt = DeltaTable(uri, storage_options=storage_options(lake_env))
    assert dt.transaction_version(f"mantis-runs:{host}") == 2
    assert "mantis.layout=2" in dt.metadata().description


def test_a_copy_that_wins_later_is_shipped_and_ranks_first(uri: str, lake_env: str,
                                                           tmp_path: Path) -> None:
    d = tmp_path / "data"
    first = rows(3, start=START, prefix="c")
    write_rows(d, first)
    assert _ship(uri, d)[0] == 0
    write_rows(d, [{**first[0], "finished_at": (START + timedelta(days=1)).isoformat(),
                    "total_time_s": 50.0}])
    code, out, _ = _ship(uri, d)
    assert code == 0 and "shipped 1 runs" in out
    lake = lake_rows(uri, lake_env)
    copies = sorted((r["finished_at"], r["total_time_s"]) for r in lake if r["run_id"] == "c-00000")
    assert copies == [(START, 1.0), (START + timedelta(days=1), 50.0)]
    # one copy per run_id by the copy order (latest finished_at first) is the local store
    winners = {}
    for r in sorted(lake, key=lambda r: r["finished_at"], reverse=True):
        winners.setdefault(r["run_id"], r)
    same_runs(list(winners.values()), local_runs(d))


def test_batches_are_cut_in_order_and_dry_run_changes_nothing(uri: str, lake_env: str,
                                                              tmp_path: Path) -> None:
    from mantis_runs.lake.ship import ship
    from mantis_runs.lake.storage import target

    d = tmp_path / "data"
    write_rows(d, rows(25, start=START, prefix="e", step=timedelta(days=1)))
    code, out, err = _ship(uri, d, "--dry-run")
    assert code == 0, err
    assert out.splitlines()[0].startswith("would ship 25 runs")
    assert "2026-03: 12" in out and "2026-04: 13" in out
    assert not (d / "ship").exists()
    assert lake_rows(uri, lake_env) == []

    report = ship(target(uri), d, batch_rows=10)
    assert [(b.seq, b.rows) for b in report.batches] == [(1, 10), (2, 10), (3, 5)]
    lake = lake_rows(uri, lake_env)
    assert sorted((r["ship_seq"], r["run_id"]) for r in lake) == sorted(
        (1 + i // 10, f"e-{i:05d}") for i in range(25))
    assert not list((d / "ship" / "pending").iterdir())


@pytest.mark.parametrize("point", ["prepared", "committed"])
def test_kill_9_at_either_side_of_the_commit_lands_each_run_once(
        uri: str, lake_env: str, tmp_path: Path, point: str) -> None:
    d = tmp_path / "data"
    write_rows(d, rows(12, start=START, prefix="k"))
    proc = _ship_process(uri, d, lake_env, MANTIS_LAKE_TEST_CRASH=point)
    assert proc.returncode == -9, proc.stderr
    landed = lake_rows(uri, lake_env)
    assert len(landed) == (12 if point == "committed" else 0)
    write_rows(d, rows(3, start=START + timedelta(days=50), prefix="k2"))  # arrives meanwhile
    proc = _ship_process(uri, d, lake_env)
    assert proc.returncode == 0, proc.stderr
    if point == "committed":
        assert "had landed already: recorded, not sent again" in proc.stdout
        assert "shipped 3 runs in 1 batch (2)" in proc.stdout
    else:  # batch 1 again, the same 12 rows; then the new ones
        assert "shipped 15 runs in 2 batches (1-2)" in proc.stdout
    lake = lake_rows(uri, lake_env)
    same_runs(lake, local_runs(d))
    assert sorted({r["ship_seq"] for r in lake}) == [1, 2]
    assert sum(r["ship_seq"] == 1 for r in lake) == 12


def test_a_cloned_data_dir_is_refused(uri: str, lake_env: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_rows(a, rows(6, start=START, prefix="x"))
    assert _ship(uri, a)[0] == 0
    shutil.copytree(a, b)  # a volume cloned with its ship/ folder: the same host id
    write_rows(a, rows(2, start=START + timedelta(days=30), prefix="only-a"))
    write_rows(b, rows(3, start=START + timedelta(days=30), prefix="only-b"))
    assert _ship(uri, a)[0] == 0
    code, out, err = _ship(uri, b)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "did not prepare" in err and "cloned volume" in err
    assert not any(r["run_id"].startswith("only-b") for r in lake_rows(uri, lake_env))
    # with its own id, b ships its runs (its copies of a's runs too: readers dedupe by run_id)
    (b / "ship" / "host_id").unlink()
    shutil.rmtree(b / "ship")
    code, _, err = _ship(uri, b)
    assert code == 0, err
    assert {r["run_id"] for r in lake_rows(uri, lake_env)} >= {f"only-b-{i:05d}"
                                                              for i in range(3)}


def test_unreachable_endpoint_is_one_line_and_loses_nothing(uri: str, lake_env: str,
                                                           tmp_path: Path) -> None:
    d = tmp_path / "data"
    write_rows(d, rows(4, start=START, prefix="u"))
    proc = _ship_process(uri, d, lake_env, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot open the lake table {uri}")
    assert "127.0.0.1:9" in lines[0] and "reachable" in lines[0]
    assert SECRET not in proc.stderr and "Traceback" not in proc.stderr
    proc = _ship_process(uri, d, lake_env)  # the next round ships everything
    assert proc.returncode == 0, proc.stderr
    same_runs(lake_rows(uri, lake_env), local_runs(d))


def test_no_table_and_other_layouts_are_refused(lake_env: str, tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable
    d = tmp_path / "data"
    write_rows(d, rows(2, start=START, prefix="n"))
    missing = f"s3://lake/missing-{uuid.uuid4().hex[:8]}"
    code, _, err = _ship(missing, d)
    assert code == 1 and f"no lake table at {missing}" in err and "lake init" in err
    other = f"s3://lake/other-{uuid.uuid4().hex[:8]}"
    DeltaTable.create(other, schema=pa.schema([("x", pa.int64())]),
                      storage_options=storage_options(lake_env))
    for result in (run_cli("runs", "lake", "init", other), run_cli(
            "runs", "ship", "--to", other, "--data-dir", str(d))):
        assert result.code == 1
        assert "has no mantis layout" in result.err
    code, out, _ = tuple(run_cli("runs", "lake", "init", other.replace("other", "fresh")))
    assert code == 0 and "created the lake table" in out
    code, out, _ = tuple(run_cli("runs", "lake", "init", other.replace("other", "fresh")))
    assert code == 0 and "already there" in out


def test_plain_http_needs_allow_http(lake_env: str, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    code, _, err = tuple(run_cli("runs", "lake", "init", "s3://lake/h"))
    assert code == 2 and "AWS_ALLOW_HTTP=true" in err
    assert run_cli("runs", "lake", "init", "s3://lake/h", "--allow-http").code == 0


def test_host_id_from_option_env_or_stored(uri: str, lake_env: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.lake import hostid

    d = tmp_path / "data"
    write_rows(d, rows(2, start=START, prefix="h"))
    assert _ship(uri, d, "--host-id", "builder-1")[0] == 0
    assert not (d / "ship" / "host_id").exists()
    monkeypatch.setenv("MANTIS_HOST_ID", "from-env")
    assert hostid.resolve(d) == "from-env"
    monkeypatch.delenv("MANTIS_HOST_ID")
    made = hostid.resolve(d)
    assert made is not None and len(made) == 32 and hostid.resolve(d) == made
    assert _ship(uri, d, "--host-id", "bad id!")[0] == 2
    assert {r["host_id"] for r in lake_rows(uri, lake_env)} == {"builder-1"}


def test_one_shipper_per_data_dir(uri: str, lake_env: str, tmp_path: Path) -> None:
    from mantis_runs.log.locks import locked

    d = tmp_path / "data"
    write_rows(d, rows(2, start=START, prefix="l"))
    (d / "ship").mkdir()
    with locked(d / "ship" / ".lock", exclusive=True, timeout=0):
        code, _, err = _ship(uri, d)
    assert code == 1 and "another `mantis runs ship` is running" in err
    assert _ship(uri, d)[0] == 0


def test_lake_compact_keeps_every_row_and_refuses_a_short_retention(
        uri: str, lake_env: str, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    from mantis_runs.lake.maintain import compact_lake
    from mantis_runs.lake.ship import ship
    from mantis_runs.lake.storage import target

    d = tmp_path / "data"
    write_rows(d, rows(30, start=START, prefix="o", step=timedelta(days=1)))
    ship(target(uri), d, batch_rows=5)
    before = sorted(r["run_id"] for r in lake_rows(uri, lake_env))
    dt = DeltaTable(uri, storage_options=storage_options(lake_env))
    files_before = len(dt.file_uris())
    code, _, err = tuple(run_cli("runs", "lake", "compact", uri, "--retention", "12h"))
    assert code == 2 and "at least 1d" in err
    code, out, err = tuple(run_cli("runs", "lake", "compact", uri))
    assert code == 0, err
    assert "0 old files vacuumed (retention 7 days" in out
    report = compact_lake(target(uri), timedelta(0), floor=timedelta(0))
    assert report.vacuumed == files_before
    dt = DeltaTable(uri, storage_options=storage_options(lake_env))
    assert len(dt.file_uris()) == 2  # one per month
    assert sorted(r["run_id"] for r in lake_rows(uri, lake_env)) == before
    same_runs(lake_rows(uri, lake_env), local_runs(d))
    # the host's watermark survives the checkpoint: nothing ships twice
    assert "nothing new to ship" in _ship(uri, d)[1]


def test_credentials_never_appear_in_any_output(uri: str, lake_env: str,
                                                tmp_path: Path) -> None:
    d = tmp_path / "data"
    write_rows(d, rows(3, start=START, prefix="s"))
    outputs = [_ship(uri, d, "--dry-run"), _ship(uri, d), _ship(uri, d),
               tuple(run_cli("runs", "lake", "compact", uri)),
               _ship("s3://lake/nothing-here", d)]
    bad = _ship_process(f"s3://{SECRET}:x@lake/t", d, lake_env)
    assert bad.returncode == 2 and "credentials are not accepted" in bad.stderr
    outputs.append((bad.returncode, bad.stdout, bad.stderr))
    text = json.dumps(outputs)
    assert SECRET not in text
    assert "AKIAMANTISLAKETEST01" not in text
