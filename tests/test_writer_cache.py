"""The writer keeps its lock and shard descriptors open between appends; prove that is safe."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from mantis_runs import append_run
from mantis_runs.compaction import compact
from mantis_runs.stats.engine import stats


def row(i: int, **kw: object) -> dict[str, object]:
    return {"run_id": f"r{i}", "workflow_id": "w", "status": "succeeded", "total_time_s": i,
            "finished_at": "2026-03-10T10:00:00Z", **kw}


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_sealing_between_appends_starts_a_new_live_shard(tmp_path: Path) -> None:
    assert append_run(row(1), tmp_path)
    shard = tmp_path / "runs_log" / "2026-03.jsonl"
    sealed = shard.with_name("2026-03.jsonl.sealed-0123456789abcdef")
    os.rename(shard, sealed)  # what compaction does, under the writers' lock
    assert append_run(row(2), tmp_path)
    assert [r["run_id"] for r in lines(sealed)] == ["r1"]
    assert [r["run_id"] for r in lines(shard)] == ["r2"]


def test_compaction_between_appends_loses_nothing(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    for i in range(5):
        assert append_run(row(i), tmp_path)
    compact(tmp_path, now=datetime(2026, 5, 1, tzinfo=UTC))
    for i in range(5, 8):
        assert append_run(row(i), tmp_path)  # late rows for the compacted month
    assert stats("w", data_dir=tmp_path, last=100).run_count == 8


def test_data_dir_deleted_and_made_again(tmp_path: Path) -> None:
    assert append_run(row(1), tmp_path)
    shutil.rmtree(tmp_path / "runs_log")
    assert append_run(row(2), tmp_path)
    assert [r["run_id"] for r in lines(tmp_path / "runs_log" / "2026-03.jsonl")] == ["r2"]
    # and the lock in use is the one on disk
    assert (tmp_path / "runs_log" / ".lock").exists()


def test_month_change_switches_shard(tmp_path: Path) -> None:
    assert append_run(row(1), tmp_path)
    assert append_run(row(2, finished_at="2026-04-01T00:00:00Z"), tmp_path)
    assert append_run(row(3), tmp_path)
    log = tmp_path / "runs_log"
    assert [r["run_id"] for r in lines(log / "2026-03.jsonl")] == ["r1", "r3"]
    assert [r["run_id"] for r in lines(log / "2026-04.jsonl")] == ["r2"]


def test_a_shard_replaced_by_a_symlink_is_refused(tmp_path: Path) -> None:
    assert append_run(row(1), tmp_path)
    shard = tmp_path / "runs_log" / "2026-03.jsonl"
    target = tmp_path / "elsewhere.jsonl"
    os.rename(shard, target)
    os.symlink(target, shard)
    assert not append_run(row(2), tmp_path)
    assert [r["run_id"] for r in lines(target)] == ["r1"]


def test_threads_do_not_interleave(tmp_path: Path) -> None:
    pad = "x" * 30_000  # rows larger than a page

    def work(t: int) -> None:
        for i in range(60):
            assert append_run(row(t * 1000 + i, error=pad), tmp_path)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = lines(tmp_path / "runs_log" / "2026-03.jsonl")
    assert len(got) == 360 and len({r["run_id"] for r in got}) == 360


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_children_use_their_own_lock(tmp_path: Path) -> None:
    assert append_run(row(0), tmp_path)  # the parent has cached descriptors now
    pids = []
    for c in range(3):
        pid = os.fork()
        if pid == 0:  # child: the inherited descriptors must not be reused
            ok = all(append_run(row(c * 1000 + i + 1, error="y" * 20_000), tmp_path)
                     for i in range(80))
            os._exit(0 if ok else 1)
        pids.append(pid)
    for i in range(80):
        assert append_run(row(9000 + i, error="z" * 20_000), tmp_path)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    got = lines(tmp_path / "runs_log" / "2026-03.jsonl")
    assert len(got) == 1 + 3 * 80 + 80 and len({r["run_id"] for r in got}) == len(got)


def test_descriptors_stay_bounded_across_many_data_dirs(tmp_path: Path) -> None:
    from mantis_runs.log import writer

    before = len(os.listdir("/proc/self/fd"))
    for i in range(40):
        d = tmp_path / f"d{i}"
        assert append_run(row(i), d)
        shutil.rmtree(d)
    assert len(writer._handles) <= writer.MAX_OPEN_DATA_DIRS
    assert len(os.listdir("/proc/self/fd")) - before <= 2 * writer.MAX_OPEN_DATA_DIRS


def test_relative_data_dir_follows_the_cwd_at_call_time(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.log import writer

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert append_run(row(1), "data")
    monkeypatch.chdir(tmp_path / "b")
    assert append_run(row(2), "data")  # b's log, under b's lock: not a's cached descriptors
    log_b = str(tmp_path / "b" / "data" / "runs_log")
    lock_target = os.readlink(f"/proc/self/fd/{writer._handles[log_b].lock_fd}")
    assert lock_target == f"{log_b}/.lock"
    assert [r["run_id"] for r in lines(tmp_path / "a/data/runs_log/2026-03.jsonl")] == ["r1"]
    assert [r["run_id"] for r in lines(tmp_path / "b/data/runs_log/2026-03.jsonl")] == ["r2"]
