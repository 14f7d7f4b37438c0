"""The run-log writer on real files: results, warnings, sealing, rollback, fsyncs and locking."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import mantis_runs.log.layout as layout
import mantis_runs.log.locks as locks
import mantis_runs.log.writer as writer
from mantis_runs import append_run
from mantis_runs.log.checkpoint import parquet_month
from mantis_runs.log.layout import BASETEN_DIR, MODAL_DIR, resolve_data_dir
from mantis_runs.log.locks import LockTimeout
from mantis_runs.log.record import prepare
from mantis_runs.log.schema import MAX_ROW_BYTES
from mantis_runs.log.writer import SEAL, write_prepared

MAY = "2026-05-13T18:09:34Z"


def row(run_id: str = "r-1", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"run_id": run_id, "workflow_id": "wf", "status": "succeeded",
                           "total_time_s": 2.5, "finished_at": MAY}
    out.update(kw)
    return out


def line(r: dict[str, Any]) -> bytes:
    return prepare(r).line


def shard(data_dir: Path, month: str = "2026-05") -> Path:
    return data_dir / "runs_log" / f"{month}.jsonl"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "mantis_runs" and r.levelno >= logging.WARNING]


@pytest.fixture(autouse=True)
def _capture_writer_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mantis_runs")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No data-dir hints from the real environment; HOME inside tmp_path."""
    for key in list(os.environ):
        if key.startswith(("BASETEN_", "BT_", "MODAL_")) or key in ("MANTIS_DATA_DIR",
                                                                    "XDG_DATA_HOME"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


# --------------------------------------------------------------------------------------------
# results and warnings


def test_append_returns_true_and_writes_the_month_shard(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    r1, r2 = row("r-1"), row("r-2", total_time_s=3)
    r3 = row("r-3", finished_at="2026-06-01T01:00:00+02:00")  # still May in UTC
    r4 = row("r-4", finished_at="2026-06-01T00:00:00Z")
    assert append_run(r1, data_dir=tmp_path) is True
    assert append_run(r2, data_dir=str(tmp_path)) is True
    assert append_run(r3, data_dir=tmp_path) is True
    assert append_run(r4, data_dir=tmp_path) is True
    assert shard(tmp_path).read_bytes() == line(r1) + line(r2) + line(r3)
    assert shard(tmp_path, "2026-06").read_bytes() == line(r4)
    assert sorted(p.name for p in (tmp_path / "runs_log").iterdir()) == [
        ".lock", "2026-05.jsonl", "2026-06.jsonl"]
    assert warnings_of(caplog) == []


def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b" / "c"
    assert append_run(row(), data_dir=data) is True
    assert json.loads(shard(data).read_bytes())["run_id"] == "r-1"


@pytest.mark.parametrize(("bad", "why"), [
    ({"workflow_id": None}, "workflow_id"),
    ({"workflow_id": ""}, "workflow_id"),
    ({"total_time_s": math.nan}, "total_time_s"),
    ({"total_time_s": True}, "total_time_s"),
    ({"total_time_s": "2.5"}, "total_time_s"),
    ({"finished_at": "../../etc"}, "finished_at"),
    ({"blob": "x" * MAX_ROW_BYTES}, "cap"),
    ({"thing": {1, 2}}, "cannot be written as JSON"),
])
def test_refused_row_returns_false_and_warns_once(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture,
                                                  bad: dict[str, Any], why: str) -> None:
    assert append_run(row("run-bad-7", **bad), data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1, msgs
    assert "run-bad-7" in msgs[0]
    assert why in msgs[0]
    assert list(tmp_path.iterdir()) == []  # not even runs_log/


def test_refused_row_without_run_id_says_so(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    r = row(workflow_id=None)
    del r["run_id"]
    assert append_run(r, data_dir=tmp_path) is False
    assert warnings_of(caplog) == [
        "run (no run_id) not recorded: "
        "workflow_id is missing or not a non-empty string"]


def test_non_dict_row_returns_false_and_warns(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    assert append_run(["not", "a", "dict"], data_dir=tmp_path) is False  # type: ignore[arg-type]
    assert len(warnings_of(caplog)) == 1


class _Hostile:
    """A value whose truth value and text both raise (numpy arrays raise on bool())."""

    def __bool__(self) -> bool:
        raise ValueError("truth value is ambiguous")

    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


@pytest.mark.parametrize("extra", [{}, {"workflow_id": None}])
def test_hostile_run_id_never_makes_append_run_raise(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture,
                                                      extra: dict[str, Any]) -> None:
    assert append_run(row(_Hostile(), **extra), data_dir=tmp_path) is False  # type: ignore[arg-type]
    msgs = warnings_of(caplog)
    assert len(msgs) == 1
    assert "<unprintable _Hostile>" in msgs[0]
    assert list(tmp_path.iterdir()) == []


def test_warning_about_a_huge_value_is_bounded(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    assert append_run(row("r" * 1_000_000, finished_at="t" * 1_000_000),
                      data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1
    assert len(msgs[0]) < 1000
    assert msgs[0].startswith("run " + "r" * 100 + "…(+999900 chars) not recorded: "
                              "finished_at is not a timestamp: 'ttt")


@pytest.mark.parametrize("status", ["paused", "running", None])
def test_non_terminal_returns_false_and_writes_nothing(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture,
                                                       status: str | None) -> None:
    assert append_run(row(status=status), data_dir=tmp_path) is False
    assert warnings_of(caplog) == []
    assert list(tmp_path.iterdir()) == []


def test_coercions_are_written_and_warned_once(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    r = row("r-co", wall_time_breakdown={"think": 1, "bad": math.nan})
    assert append_run(r, data_dir=tmp_path) is True
    assert json.loads(shard(tmp_path).read_bytes())["wall_time_breakdown"] == {"think": 1}
    assert warnings_of(caplog) == [
        "run r-co recorded with changes: "
        "wall_time_breakdown entries without a finite number dropped: bad"]


def test_data_dir_that_is_a_file_returns_false(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    assert append_run(row("r-f"), data_dir=f) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and "r-f" in msgs[0]
    assert f.read_bytes() == b"x"


# --------------------------------------------------------------------------------------------
# data dir resolution


def test_resolve_explicit_wins_over_everything(tmp_path: Path) -> None:
    env = {"MANTIS_DATA_DIR": "/env", "BASETEN_X": "1", "MODAL_TASK_ID": "t",
           "XDG_DATA_HOME": "/xdg"}
    assert resolve_data_dir(tmp_path / "x", env=env) == tmp_path / "x"
    assert resolve_data_dir(str(tmp_path / "y"), env=env) == tmp_path / "y"


def test_resolve_env_var_beats_platform_and_xdg() -> None:
    env = {"MANTIS_DATA_DIR": "/env/dir", "BASETEN_X": "1", "XDG_DATA_HOME": "/xdg"}
    assert resolve_data_dir(None, env=env) == Path("/env/dir")
    assert resolve_data_dir("", env=env) == Path("/env/dir")  # empty explicit = not given


@pytest.mark.parametrize(("env", "expected"), [
    ({"BASETEN_MODEL_ID": "m", "XDG_DATA_HOME": "/xdg"}, BASETEN_DIR),
    ({"BT_DEPLOYMENT": "d", "XDG_DATA_HOME": "/xdg"}, Path("/xdg/mantis")),  # BT_ is not Baseten
    ({"MODAL_TASK_ID": "ta-1", "XDG_DATA_HOME": "/xdg"}, MODAL_DIR),
    ({"MODAL_IS_REMOTE": "1"}, MODAL_DIR),
    ({"MODAL_TASK_ID": "t", "BASETEN_X": "1"}, BASETEN_DIR),
    ({"MANTIS_DATA_DIR": "", "MODAL_TASK_ID": "t"}, MODAL_DIR),  # empty var = unset
])
def test_resolve_platform_default(env: dict[str, str], expected: Path) -> None:
    assert resolve_data_dir(None, env=env) == expected


def test_resolve_xdg_then_home(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve_data_dir(None, env={"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/mantis")
    home_default = tmp_path / "home" / ".local" / "share" / "mantis"
    assert resolve_data_dir(None, env={}) == home_default
    assert resolve_data_dir(None, env={"XDG_DATA_HOME": ""}) == home_default
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    assert resolve_data_dir(None, env={"XDG_DATA_HOME": "rel/dir"}) == home_default
    assert resolve_data_dir(None, env={"XDG_DATA_HOME": "~/x"}) == tmp_path / "home/x/mantis"
    assert resolve_data_dir("~/d", env={}) == tmp_path / "home" / "d"


def test_append_run_resolution_order_from_real_environment(clean_env: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    bt, modal = tmp_path / "baseten", tmp_path / "modal"
    clean_env.setattr(layout, "BASETEN_DIR", bt)
    clean_env.setattr(layout, "MODAL_DIR", modal)
    xdg, env_dir, explicit = tmp_path / "xdg", tmp_path / "env", tmp_path / "explicit"

    clean_env.setenv("XDG_DATA_HOME", str(xdg))
    assert append_run(row("r-xdg"))
    clean_env.setenv("MODAL_TASK_ID", "ta-1")
    assert append_run(row("r-modal"))
    clean_env.setenv("BASETEN_MODEL_ID", "m")
    assert append_run(row("r-bt"))
    clean_env.setenv("MANTIS_DATA_DIR", str(env_dir))
    assert append_run(row("r-env"))
    assert append_run(row("r-explicit"), data_dir=explicit)
    clean_env.delenv("XDG_DATA_HOME")
    clean_env.delenv("MANTIS_DATA_DIR")
    clean_env.delenv("MODAL_TASK_ID")
    clean_env.delenv("BASETEN_MODEL_ID")
    assert append_run(row("r-home"))

    def ids(d: Path) -> list[str]:
        return [json.loads(x)["run_id"] for x in shard(d).read_bytes().splitlines()]

    assert ids(xdg / "mantis") == ["r-xdg"]
    assert ids(modal) == ["r-modal"]
    assert ids(bt) == ["r-bt"]
    assert ids(env_dir) == ["r-env"]
    assert ids(explicit) == ["r-explicit"]
    assert ids(tmp_path / "home" / ".local" / "share" / "mantis") == ["r-home"]


# --------------------------------------------------------------------------------------------
# month names (layout.MONTH_PATTERN)


@pytest.mark.parametrize(("text", "ok"), [
    ("2026-05", True), ("0999-12", True), ("2026-00", False), ("2026-13", False),
    ("2026-5", False), ("26-05", False), ("2026-05-01", False), (" 2026-05", False),
    ("2026-05\n", False), ("2026-05/..", False),
])
def test_month_names(text: str, ok: bool) -> None:
    assert bool(layout.MONTH_RE.match(text)) is ok
    if not ok:
        with pytest.raises(ValueError, match="not a month"):
            layout.checked_month(text)
    lineage = "0123abcd"
    assert layout.sealed_lineage(Path(f"{text}.jsonl.sealed-{lineage}")) == (
        (text, lineage) if ok else None)
    assert parquet_month(f"{text}-0123456789abcdef.parquet") == (text if ok else None)


def test_scan_lists_only_month_shards(tmp_path: Path) -> None:
    log = tmp_path / "runs_log"
    log.mkdir()
    for name in ("2026-05.jsonl", "2026-13.jsonl", "2026-04.jsonl\n", "notes.jsonl"):
        (log / name).write_bytes(b"")
    found = layout.scan(tmp_path)
    assert list(found) == ["2026-05"]
    assert found["2026-05"].live == log / "2026-05.jsonl"


@pytest.mark.parametrize(("when", "month"), [
    (datetime(2026, 6, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), "2026-05"),
    (datetime(999, 5, 1, tzinfo=UTC), "0999-05"),  # zero-padded: strftime("%Y") is not
    (datetime(1, 1, 1, tzinfo=UTC), "0001-01"),
])
def test_month_of(when: datetime, month: str) -> None:
    assert layout.month_of(when) == month


def test_month_start_and_next_month() -> None:
    assert layout.month_start("0999-05") == datetime(999, 5, 1, tzinfo=UTC)
    assert layout.next_month("0999-12") == "1000-01"
    assert layout.next_month("2026-12") == "2027-01"
    with pytest.raises(ValueError, match="not a month"):
        layout.month_start("2026-13")


# --------------------------------------------------------------------------------------------
# hostile shards


def test_symlinked_shard_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "runs_log").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    shard(tmp_path).symlink_to(victim)
    assert append_run(row("r-sym"), data_dir=tmp_path) is False
    assert victim.read_bytes() == b"precious\n"
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and "r-sym" in msgs[0], msgs
    assert "Errno 40" in msgs[0]  # ELOOP from O_NOFOLLOW


def test_dangling_symlinked_shard_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs_log").mkdir()
    target = tmp_path / "elsewhere.jsonl"
    shard(tmp_path).symlink_to(target)
    assert append_run(row(), data_dir=tmp_path) is False
    assert not target.exists()


def test_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs_log").mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"v")
    (tmp_path / "runs_log" / ".lock").symlink_to(victim)
    assert append_run(row(), data_dir=tmp_path) is False
    assert not shard(tmp_path).exists()


def test_non_regular_shards_are_refused(tmp_path: Path) -> None:
    (tmp_path / "runs_log").mkdir()
    os.mkfifo(shard(tmp_path))
    assert append_run(row(), data_dir=tmp_path) is False
    shard(tmp_path, "2026-06").mkdir()
    assert append_run(row(finished_at="2026-06-02T00:00:00Z"), data_dir=tmp_path) is False


# --------------------------------------------------------------------------------------------
# sealing torn and zero-filled tails


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def test_clean_and_empty_shards_get_no_seal(tmp_path: Path) -> None:
    (tmp_path / "runs_log").mkdir()
    shard(tmp_path).write_bytes(b"")
    assert append_run(row("a"), data_dir=tmp_path)
    assert append_run(row("b"), data_dir=tmp_path)
    assert shard(tmp_path).read_bytes() == line(row("a")) + line(row("b"))


def test_torn_tail_is_sealed(tmp_path: Path) -> None:
    good = line(row("good"))
    torn = line(row("torn", error="x" * 500))[:300]
    (tmp_path / "runs_log").mkdir()
    shard(tmp_path).write_bytes(good + torn)
    assert append_run(row("next"), data_dir=tmp_path)
    data = shard(tmp_path).read_bytes()
    assert data == good + torn + SEAL + line(row("next"))
    lines = _lines(data)
    assert [json.loads(x)["run_id"] for x in (lines[0], lines[2])] == ["good", "next"]
    assert lines[1] == torn + b"\x1e"
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    # a second row needs no seal any more
    assert append_run(row("after"), data_dir=tmp_path)
    assert shard(tmp_path).read_bytes() == data + line(row("after"))


@pytest.mark.parametrize("prefix", [b"", b"GOOD"])
def test_nul_tail_is_sealed(tmp_path: Path, prefix: bytes) -> None:
    good = line(row("good")) if prefix else b""
    nuls = b"\x00" * 1800
    (tmp_path / "runs_log").mkdir()
    shard(tmp_path).write_bytes(good + nuls)
    assert append_run(row("next"), data_dir=tmp_path)
    data = shard(tmp_path).read_bytes()
    assert data == good + nuls + SEAL + line(row("next"))
    assert json.loads(_lines(data)[-1])["run_id"] == "next"


def test_torn_seal_is_sealed_again(tmp_path: Path) -> None:
    # A crash can tear the write of SEAL + row right after the 0x1e byte.
    (tmp_path / "runs_log").mkdir()
    shard(tmp_path).write_bytes(b'{"frag' + b"\x1e")
    assert append_run(row("n"), data_dir=tmp_path)
    assert shard(tmp_path).read_bytes() == b'{"frag\x1e' + SEAL + line(row("n"))


# --------------------------------------------------------------------------------------------
# fault injection: short and failed writes


WriteFn = Callable[[int, bytes], int]


class FaultWrite:
    """Replaces os.write for one shard path only, recording the sizes it was asked to write."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.real = os.write

    def install(self, path: Path, fault: WriteFn) -> list[int]:
        asked: list[int] = []
        real = self.real

        def fake(fd: int, data: bytes) -> int:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                asked.append(len(data))
                return fault(fd, bytes(data))
            return real(fd, data)

        self.monkeypatch.setattr(os, "write", fake)
        return asked

    def restore(self) -> None:
        self.monkeypatch.setattr(os, "write", self.real)


@pytest.fixture
def fault_write(monkeypatch: pytest.MonkeyPatch) -> FaultWrite:
    return FaultWrite(monkeypatch)


def _short(n: int) -> WriteFn:
    def fault(fd: int, data: bytes) -> int:
        return os.pwrite(fd, data[:n], os.fstat(fd).st_size)  # really lands in the file
    return fault


def _partial_then_raise(n: int, err: int) -> WriteFn:
    def fault(fd: int, data: bytes) -> int:
        os.pwrite(fd, data[:n], os.fstat(fd).st_size)
        raise OSError(err, os.strerror(err))
    return fault


@pytest.mark.parametrize(("fault", "reason"), [
    (_short(136), "short write: 136 of"),
    (_short(0), "short write: 0 of"),
    (_partial_then_raise(136, errno.ENOSPC), "No space left on device"),
    (_partial_then_raise(0, errno.ENOSPC), "No space left on device"),
    (_partial_then_raise(77, errno.EIO), "Input/output error"),
])
@pytest.mark.parametrize("preseed", [b"", b"GOOD", b"TORN"])
def test_failed_write_is_rolled_back(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                     fault_write: FaultWrite,
                                     fault: WriteFn, reason: str, preseed: bytes) -> None:
    seed = {b"": b"", b"GOOD": line(row("good")), b"TORN": line(row("good"))[:50]}[preseed]
    if preseed:
        (tmp_path / "runs_log").mkdir()
        shard(tmp_path).write_bytes(seed)
    asked = fault_write.install(shard(tmp_path), fault)
    assert append_run(row("r-fail", error="e" * 700), data_dir=tmp_path) is False
    expected_len = len(line(row("r-fail", error="e" * 700))) + (len(SEAL) if preseed == b"TORN"
                                                                 else 0)
    assert asked == [expected_len]  # one write() of the whole row, never retried
    assert shard(tmp_path).read_bytes() == seed  # rolled back to the size it had
    msgs = warnings_of(caplog)
    assert len(msgs) == 1, msgs
    assert "r-fail" in msgs[0] and reason in msgs[0]

    fault_write.restore()
    caplog.clear()
    assert append_run(row("r-next"), data_dir=tmp_path) is True
    sep = SEAL if preseed == b"TORN" else b""
    assert shard(tmp_path).read_bytes() == seed + sep + line(row("r-next"))
    assert warnings_of(caplog) == []


# --------------------------------------------------------------------------------------------
# fsync behaviour


def test_fdatasync_error_is_reported_and_never_retried(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert append_run(row("first"), data_dir=tmp_path)
    before = shard(tmp_path).read_bytes()
    calls: list[int] = []
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def failing_fdatasync(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(writer, "_fdatasync", failing_fdatasync)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    assert append_run(row("r-eio"), data_dir=tmp_path) is False
    assert len(calls) == 1
    assert fsyncs == []  # no retry through fsync either
    msgs = warnings_of(caplog)
    assert len(msgs) == 1
    assert "r-eio" in msgs[0] and "Input/output error" in msgs[0]
    # Durability unknown: the bytes stay (a later duplicate is resolved by run_id dedupe).
    assert shard(tmp_path).read_bytes() == before + line(row("r-eio"))

    monkeypatch.undo()
    caplog.clear()
    assert append_run(row("r-after"), data_dir=tmp_path)
    assert _lines(shard(tmp_path).read_bytes())[-1] == line(row("r-after"))[:-1]


def test_real_fdatasync_is_called_once_per_row(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = writer._fdatasync

    def spy(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(writer, "_fdatasync", spy)
    for i in range(3):
        assert append_run(row(f"r{i}"), data_dir=tmp_path)
    assert len(calls) == 3


def test_new_shard_fsyncs_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "d"
    synced: list[Path] = []
    real = locks.fsync_dir

    def spy(path: Path) -> None:
        synced.append(Path(path))
        real(path)

    monkeypatch.setattr(locks, "fsync_dir", spy)  # used by makedirs_durable
    monkeypatch.setattr(writer, "fsync_dir", spy)  # used by the writer for new shards
    assert append_run(row("a"), data_dir=data)
    # d and runs_log were created (each parent fsynced), then the new shard's directory
    assert synced == [tmp_path, data, data / "runs_log"]

    synced.clear()
    assert append_run(row("b"), data_dir=data)  # existing shard: no directory fsync
    assert synced == []
    assert append_run(row("c", finished_at="2026-06-03T00:00:00Z"), data_dir=data)
    assert synced == [data / "runs_log"]
    assert append_run(row("d", finished_at="2026-06-03T00:00:00Z"), data_dir=data)
    assert synced == [data / "runs_log"]


# --------------------------------------------------------------------------------------------
# locking


_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    (tmp_path / "runs_log").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "runs_log" / ".lock")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


@pytest.mark.exclusive  # bounds its waits in seconds: alone under xdist
def test_lock_timeout_raises_from_write_prepared(tmp_path: Path,
                                                 lock_holder: subprocess.Popen[str]) -> None:
    t0 = time.monotonic()
    with pytest.raises(LockTimeout):
        write_prepared(tmp_path, prepare(row()), lock_timeout=0.3)
    elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 3.0
    assert not shard(tmp_path).exists()


@pytest.mark.exclusive  # bounds its waits in seconds: alone under xdist
def test_lock_timeout_makes_append_run_return_false(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    lock_holder: subprocess.Popen[str]) -> None:
    monkeypatch.setattr(writer, "LOCK_TIMEOUT_S", 0.2)
    t0 = time.monotonic()
    assert append_run(row("r-locked"), data_dir=tmp_path) is False
    assert time.monotonic() - t0 < 3.0
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and "r-locked" in msgs[0] and "LockTimeout" in msgs[0]
    assert not shard(tmp_path).exists()

    # The holder dies by SIGKILL: the kernel drops its flock and writers proceed.
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait(timeout=10)
    assert append_run(row("r-free"), data_dir=tmp_path) is True
    assert shard(tmp_path).read_bytes() == line(row("r-free"))


@pytest.mark.exclusive  # bounds its waits in seconds: alone under xdist
def test_writer_waits_for_a_briefly_held_lock(tmp_path: Path,
                                              lock_holder: subprocess.Popen[str]) -> None:
    assert lock_holder.stdin is not None
    t0 = time.monotonic()
    # Release after 0.3 s (closing stdin ends the holder); the writer's deadline is 5 s.
    timer = threading.Timer(0.3, lock_holder.stdin.close)
    timer.start()
    try:
        write_prepared(tmp_path, prepare(row("late")), lock_timeout=5.0)
    finally:
        timer.join()
    assert 0.3 <= time.monotonic() - t0 < 5.0
    assert shard(tmp_path).read_bytes() == line(row("late"))


# --------------------------------------------------------------------------------------------
# a busy lock is waited for in the kernel's queue, within the deadline


def _lock_helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mantis-flock-wait"]


def _join_lock_helpers() -> None:
    """Wait (bounded) for the helper threads of given-up waits: they end once the lock is free."""
    for t in _lock_helpers():
        t.join(timeout=30)
        assert not t.is_alive(), "a lock helper thread still waits on a free lock"


def _descriptors_of(path: Path) -> int:
    """How many descriptors of this process are open on ``path``."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the one listdir used is closed by now
            n += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return n


def _queued_in_kernel(lock: Path) -> bool:
    """Whether this process has a blocked flock request on ``lock`` (a ``->`` line of
    /proc/locks: `1: -> FLOCK ADVISORY WRITE <pid> <maj:min:inode> 0 EOF`)."""
    ino = os.stat(lock).st_ino
    with open("/proc/locks") as f:
        return any(len(p) > 6 and p[1] == "->" and p[2] == "FLOCK" and p[5] == str(os.getpid())
                   and p[6].endswith(f":{ino}") for p in (line.split() for line in f))


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux's /proc/locks")
def test_a_busy_lock_is_waited_for_in_the_kernel_queue(
        tmp_path: Path, lock_holder: subprocess.Popen[str]) -> None:
    """Polling with sleeps starved writers under contention (benchmarks/bench_contention.py);
    a writer now queues in the kernel, which wakes it as soon as the holder lets go."""
    assert lock_holder.stdin is not None
    lock = tmp_path / "runs_log" / ".lock"
    done: list[object] = []

    def write() -> None:
        try:
            write_prepared(tmp_path, prepare(row("queued")), lock_timeout=120.0)
            done.append(True)
        except Exception as exc:  # reported by the assertion below
            done.append(exc)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    deadline = time.monotonic() + 60  # a bound for a broken writer, not a timing assertion
    while not _queued_in_kernel(lock):
        assert time.monotonic() < deadline, "the writer never queued for the lock in the kernel"
        time.sleep(0.01)
    assert done == []
    lock_holder.stdin.close()  # the holder lets go
    t.join(timeout=60)
    assert done == [True]
    assert shard(tmp_path).read_bytes() == line(row("queued"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc/self/fd")
def test_a_lock_never_let_go_gives_up_at_the_deadline(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        lock_holder: subprocess.Popen[str]) -> None:
    _join_lock_helpers()
    monkeypatch.setattr(writer, "LOCK_TIMEOUT_S", 0.3)
    lock = tmp_path / "runs_log" / ".lock"
    assert append_run(row("r-stuck"), data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and "r-stuck" in msgs[0], msgs
    assert msgs[0].endswith(f"not recorded: LockTimeout: {lock} busy for more than 0.3s")
    assert not shard(tmp_path).exists()
    # The given-up wait goes on in one helper thread, holding one descriptor, until the holder
    # lets go; then it lets go at once and closes it.
    assert len(_lock_helpers()) == 1 and locks._abandoned == 1
    assert _descriptors_of(lock) == 1
    lock_holder.kill()
    lock_holder.wait(timeout=10)
    _join_lock_helpers()
    assert locks._abandoned == 0
    assert _descriptors_of(lock) == 0
    assert append_run(row("r-free"), data_dir=tmp_path) is True
    assert _descriptors_of(lock) == 1  # the writer's own, kept for the next append
    assert shard(tmp_path).read_bytes() == line(row("r-free"))


def test_a_stuck_holder_costs_at_most_a_few_threads(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        lock_holder: subprocess.Popen[str]) -> None:
    _join_lock_helpers()
    monkeypatch.setattr(writer, "LOCK_TIMEOUT_S", 0.1)
    monkeypatch.setattr(locks, "MAX_ABANDONED_WAITS", 2)
    for i in range(4):  # past the limit, writers poll until the deadline instead
        assert append_run(row(f"r-{i}"), data_dir=tmp_path) is False
    assert [m.rsplit(": ", 1)[-1] for m in warnings_of(caplog)] == [
        f"{tmp_path / 'runs_log' / '.lock'} busy for more than 0.1s"] * 4
    assert len(_lock_helpers()) == 2 and locks._abandoned == 2
    lock_holder.kill()
    lock_holder.wait(timeout=10)
    _join_lock_helpers()
    assert locks._abandoned == 0
    assert append_run(row("r-free"), data_dir=tmp_path) is True


def test_a_forked_child_does_not_keep_a_given_up_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        lock_holder: subprocess.Popen[str]) -> None:
    """A child forked while a given-up wait goes on inherits its descriptor; when the helper gets
    the lock it unlocks before closing, so the child's copy does not keep the lock. The child
    does not count the parent's given-up waits as its own."""
    _join_lock_helpers()
    monkeypatch.setattr(writer, "LOCK_TIMEOUT_S", 0.2)
    assert append_run(row("r-stuck"), data_dir=tmp_path) is False
    assert locks._abandoned == 1
    r, w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports, then waits, holding its copies of every other descriptor
        try:
            os.close(w)
            os.write(report_w, str(locks._abandoned).encode())
            os.read(r, 1)
        finally:
            os._exit(0)
    try:
        os.close(report_w)
        assert os.read(report_r, 16) == b"0"
        os.close(report_r)
        lock_holder.kill()
        lock_holder.wait(timeout=10)
        _join_lock_helpers()
        monkeypatch.setattr(writer, "LOCK_TIMEOUT_S", 10.0)
        assert append_run(row("r-free"), data_dir=tmp_path) is True
    finally:
        os.close(w)  # the child reads EOF and exits
        os.close(r)
        os.waitpid(pid, 0)
    assert shard(tmp_path).read_bytes() == line(row("r-free"))
