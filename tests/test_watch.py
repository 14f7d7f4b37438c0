"""`mantis runs watch` as a real process, with the run written by another real process.

Exit status: 0 succeeded, 1 failed or the data dir cannot be read, 124 timeout (as timeout(1)),
2 a usage error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import append_bytes, write_rows
from mantis_runs.cli import render
from mantis_runs.store.watch import WatchOutcome, WatchResult, watch_run

RUN_ID = "20260510_120000_0badc0de"

WRITER = """
import sys, time
time.sleep(float(sys.argv[2]))
from mantis_runs import append_run
row = {"run_id": sys.argv[3], "workflow_id": "wf", "status": sys.argv[4], "total_time_s": 12.5,
       "error": sys.argv[5] or None}
sys.exit(0 if append_run(row, data_dir=sys.argv[1]) else 3)
"""


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def watch(tmp_path: Path, data: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mantis_runs", "runs", "watch", RUN_ID,
                             "--data-dir", str(data), "--interval", "0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(tmp_path))


def write_later(tmp_path: Path, data: Path, status: str, error: str = "",
                delay: float = 1.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(data), str(delay), RUN_ID,
                             status, error], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(tmp_path))


def finish(p: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover - never leave a process behind
        p.kill()
        p.communicate()
        raise
    return p.returncode, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    # other runs, in this month and in an older one, so the watcher has files to read
    write_rows(d, [{"run_id": f"other{i}", "workflow_id": "wf", "status": "succeeded",
                    "total_time_s": 1.0, "finished_at": f"2026-0{i}-01T00:00:00Z"}
                   for i in (3, 4)])
    return d


@pytest.mark.parametrize(("status", "error", "code", "out", "err"), [
    ("succeeded", "", 0, f"run {RUN_ID} succeeded\n", ""),
    ("failed", "RuntimeError: page\n  never loaded", 1, "",
     f"run {RUN_ID} failed: RuntimeError: page never loaded\n"),
], ids=["succeeded", "failed"])
def test_watch_waits_for_the_terminal_row(tmp_path: Path, data: Path, status: str, error: str,
                                          code: int, out: str, err: str) -> None:
    start = time.monotonic()
    watcher = watch(tmp_path, data, "--timeout", "10")
    writer = write_later(tmp_path, data, status, error)
    assert finish(writer)[0] == 0
    assert finish(watcher) == (code, out, err)
    assert time.monotonic() - start >= 1.0  # it really waited for the writer


def test_watch_a_run_already_written(tmp_path: Path, data: Path) -> None:
    assert finish(write_later(tmp_path, data, "succeeded", delay=0))[0] == 0
    assert finish(watch(tmp_path, data, "--timeout", "0")) == (
        0, f"run {RUN_ID} succeeded\n", "")


def test_watch_times_out(tmp_path: Path, data: Path) -> None:
    start = time.monotonic()
    code, out, err = finish(watch(tmp_path, data, "--timeout", "0.5"))
    elapsed = time.monotonic() - start
    assert (code, out, err) == (124, "", f"timed out after 0.5s waiting for run {RUN_ID}\n")
    assert elapsed >= 0.5


def test_watch_refuses_a_data_dir_that_does_not_exist(tmp_path: Path) -> None:
    # a mistyped path used to be waited on forever (the hardening issue); a data dir that exists
    # but holds no run log yet is still waited for (below)
    missing = tmp_path / "later"
    assert finish(watch(tmp_path, missing)) == (
        1, "", f"error: cannot read {missing}: data dir {missing} does not exist\n")


def test_watch_times_out_on_a_data_dir_without_a_run_log_yet(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert finish(watch(tmp_path, empty, "--timeout", "0.3")) == (
        124, "", f"timed out after 0.3s waiting for run {RUN_ID}\n")
    assert list(empty.iterdir()) == []  # nothing read, so no lock file left in the folder


def test_watch_usage_error_is_exit_2_not_a_timeout(tmp_path: Path, data: Path) -> None:
    # exit 2 used to mean both: a script could not tell a typo from a run that never finished
    code, out, err = finish(watch(tmp_path, data, "--timeout", "-1"))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "Error: Invalid value for '--timeout': -1.0 is not in the range x>=0.")


def test_watch_malformed_lines_do_not_warn_on_every_poll(tmp_path: Path, data: Path) -> None:
    append_bytes(data / "runs_log" / "2026-04.jsonl", b"garbage\n")
    assert finish(watch(tmp_path, data, "--timeout", "0.5")) == (
        124, "", f"timed out after 0.5s waiting for run {RUN_ID}\n")


def test_watch_data_dir_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("x")
    assert finish(watch(tmp_path, f, "--timeout", "5")) == (
        1, "", f"error: cannot read {f}: {f} is not a directory\n")


@pytest.mark.parametrize("name", ["runs_log", "compacted"])
def test_watch_unreadable_layout(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_text("x")
    assert finish(watch(tmp_path, data, "--timeout", "5")) == (
        1, "", f"error: cannot read {data}: {data / name} is not a directory\n")


# -- the library's result, and the CLI's text for it (in process) ------------------------------


@pytest.mark.parametrize(("status", "error", "outcome", "text"), [
    ("succeeded", None, WatchOutcome.SUCCEEDED, f"run {RUN_ID} succeeded"),
    ("failed", "RuntimeError: page\n  never loaded", WatchOutcome.FAILED,
     f"run {RUN_ID} failed: RuntimeError: page never loaded"),
    ("failed", None, WatchOutcome.FAILED, f"run {RUN_ID} failed"),
])
def test_watch_run_result_of_a_row(data: Path, status: str, error: str | None,
                                   outcome: WatchOutcome, text: str) -> None:
    write_rows(data, [{"run_id": RUN_ID, "workflow_id": "wf", "status": status,
                       "total_time_s": 12.5, "error": error}])
    r = watch_run(RUN_ID, data_dir=data, timeout=0)
    assert (r.run_id, r.outcome, r.data_dir, r.timeout, r.error) == (
        RUN_ID, outcome, data, 0, None)
    assert r.row is not None
    assert (r.row["run_id"], r.row["status"], r.row["error"]) == (RUN_ID, status, error)
    assert render.watch_text(r) == text


def test_watch_run_result_of_a_timeout(data: Path) -> None:
    r = watch_run(RUN_ID, data_dir=data, interval=0.05, timeout=0.1)
    assert r == WatchResult(RUN_ID, WatchOutcome.TIMED_OUT, data, 0.1)
    assert render.watch_text(r) == f"timed out after 0.1s waiting for run {RUN_ID}"


def test_watch_run_result_of_an_unreadable_data_dir(tmp_path: Path) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("x")
    r = watch_run(RUN_ID, data_dir=f, timeout=5)
    assert r == WatchResult(RUN_ID, WatchOutcome.UNREADABLE, f, 5,
                            error=f"{f} is not a directory")
    assert render.watch_text(r) == f"error: cannot read {f}: {f} is not a directory"


def test_watch_finds_a_run_written_after_the_live_months_checkpoint(tmp_path: Path) -> None:
    # The lookup reads a checkpointed live shard as its checkpoint (whose footer rules the run
    # out: its run_id is of another date) plus the bytes after it: the row the writer appends
    # while the watcher polls is in those bytes.
    from datetime import UTC, datetime

    from mantis_runs.compaction import compact

    d = tmp_path / "data"
    now = datetime.now(UTC).isoformat()
    write_rows(d, [{"run_id": f"early{i}", "workflow_id": "wf", "status": "succeeded",
                    "total_time_s": 1.0, "finished_at": now} for i in range(3)])
    compact(d, checkpoint_min_bytes=0)
    assert len(list((d / "checkpoints").glob("*.parquet"))) == 1
    watcher = watch(tmp_path, d, "--timeout", "20")
    writer = write_later(tmp_path, d, "succeeded")
    assert finish(writer)[0] == 0
    assert finish(watcher) == (0, f"run {RUN_ID} succeeded\n", "")
