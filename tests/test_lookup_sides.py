"""The point lookups' copies with one side alone (store/lookup.py ``Session.copies``):
lookup_copies_parts when no JSONL line may hold the runs, lookup_copies_lines when no Parquet
file may (neither binds the other side), lookup_copies with both. Each gives the general path's
row, its keys in the same order (the order ``show --json`` and ``list --json`` print), and the
query named is the one run. And the lookups' connection binds no view it does not query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.store import lookup

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March closed, May live


def rows(month: str, n: int) -> list[dict[str, Any]]:
    start = datetime.fromisoformat(f"{month}-10T00:00:00+00:00")
    return [{"run_id": f"{month}-r{i}", "workflow_id": "wf", "status": "succeeded",
             "finished_at": (start + timedelta(minutes=i)).isoformat(), "total_time_s": 1.0 + i,
             "wall_time_breakdown": {"think": 0.5}, "cost_breakdown": {"gpu_usd": 0.25},
             "error": None, "extra_key": i} for i in range(n)]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """March compacted, May live with a checkpoint, then a tail with a run of its own."""
    d = tmp_path / "data"
    write_rows(d, rows("2026-03", 4) + rows("2026-05", 4))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    assert list((d / "checkpoints").glob("2026-05-*.parquet"))
    write_rows(d, [{**rows("2026-05", 6)[5], "run_id": "tail_run"}])
    return d


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The lookup_copies queries the shortcuts run, in order."""
    seen: list[str] = []
    load = lookup.load

    def spy(name: str) -> str:
        if name.startswith("lookup_copies"):
            seen.append(name)
        return load(name)

    monkeypatch.setattr(lookup, "load", spy)
    yield seen


def general(d: Path) -> RunStore:
    s = RunStore(d)
    s.shortcuts = False
    return s


@pytest.mark.parametrize(("run_id", "query"), [
    ("2026-03-r2", "lookup_copies_parts"),  # March's part; the tail holds no line of it
    ("2026-05-r1", "lookup_copies_parts"),  # May's checkpoint
    ("tail_run", "lookup_copies_lines"),  # the tail alone
])
def test_one_side_alone_is_the_general_paths_row(store: Path, queries: list[str], run_id: str,
                                                 query: str) -> None:
    got = RunStore(store).get(run_id)
    want = general(store).get(run_id)
    assert got == want and got is not None
    assert list(got) == list(want)  # the same keys in the same order
    assert queries == [query]


def test_both_sides_rank_every_copy(store: Path, queries: list[str]) -> None:
    # a later copy in the tail of a run in the checkpoint: both sides read, the tail's wins
    append_bytes(store / "runs_log" / "2026-05.jsonl",
                 b'{"run_id":"2026-05-r1","workflow_id":"wf","status":"failed",'
                 b'"finished_at":"2026-05-19T00:00:00Z","total_time_s":9}\n')
    got = RunStore(store).get("2026-05-r1")
    want = general(store).get("2026-05-r1")
    assert got == want and got is not None and got["status"] == "failed"
    assert list(got) == list(want)
    assert queries == ["lookup_copies"]


def test_the_newest_runs_rows_come_from_their_lines(store: Path, queries: list[str]) -> None:
    got = RunStore(store).runs(last=3)
    want = general(store).runs(last=3)
    assert got == want
    assert [r["run_id"] for r in got] == ["tail_run", "2026-05-r3", "2026-05-r2"]
    assert [list(r) for r in got] == [list(r) for r in want]
    assert [r["extra"] for r in got] == [{"extra_key": 5}, {"extra_key": 3}, {"extra_key": 2}]
    assert queries == ["lookup_copies_lines"]  # the last line of each, one query


def test_the_lookups_connection_has_their_macros_and_no_view(store: Path) -> None:
    with lookup.session(store) as s:
        views = s.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
        assert views.fetchall() == []
        macros = {r[0] for r in s.con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_type = 'table_macro'"
        ).fetchall()}
        assert {"mantis_part_rows", "mantis_view_jsonl_rows"} <= macros
        assert "mantis_contested_ids" not in macros
