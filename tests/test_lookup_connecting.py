"""The point lookups' connection is made on a helper thread (store/lookup.py ``Connecting``)
while the files are listed and searched: its errors must still reach the caller as before, and
no helper thread or connection may outlive the lookup."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import write_rows
from mantis_runs import RunStore
from mantis_runs.db import views
from mantis_runs.errors import MantisError, NoDataDir
from mantis_runs.store import lookup


def rows(n: int) -> list[dict[str, Any]]:
    start = datetime(2026, 5, 10, tzinfo=UTC)
    return [{"run_id": f"r{i:04d}", "workflow_id": "wf", "status": "succeeded",
             "finished_at": (start + timedelta(minutes=i)).isoformat(), "total_time_s": 1.0 + i}
            for i in range(n)]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def helpers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t is not threading.current_thread() and t.daemon and t.is_alive()]


def test_a_lookup_answers_and_leaves_no_thread_behind(tmp_path: Path) -> None:
    write_rows(tmp_path, rows(5))
    before = helpers_alive()
    got = RunStore(tmp_path).get("r0003")
    assert got is not None and got["total_time_s"] == 4.0
    assert RunStore(tmp_path).runs(last=2)[0]["run_id"] == "r0004"
    assert [t for t in helpers_alive() if t not in before] == []  # another test's may end


def test_a_failure_on_the_helper_thread_is_the_lookups_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_rows(tmp_path, rows(3))

    def broken(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> None:
        con.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(views, "install", broken)
    with pytest.raises(MantisError, match=r"query failed: .*no_such_table"):
        RunStore(tmp_path).get("r0001")
    with pytest.raises(MantisError, match=r"query failed: .*no_such_table"):
        RunStore(tmp_path).runs(last=1)


def test_a_missing_data_dir_still_says_so(tmp_path: Path) -> None:
    before = helpers_alive()
    with pytest.raises(NoDataDir):
        lookup.find_run(tmp_path / "absent", "r0001")
    assert [t for t in helpers_alive() if t not in before] == []  # another test's may end
