"""``list --last N``'s bounded ranking (store/ranking.py ``newest_copies``): lookup_newest with a
$window ranks only the runs with a copy among the newest finish times, and its answer is kept only
when it proves itself; else it runs again without a window, ranking every run. Exact answers on
hostile copies: the newest run's older copy in the checkpoint and its newer one in the tail,
copies tied at the bound, a late row in a compacted month, filters the bounded rows cannot fill,
a filtered copy that bounds but does not win. The bound of a kept answer is remembered (the user
cache) and given to the next query over the same Parquet files: the same runs, one read fewer;
a remembered bound that no longer proves itself is found again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.store import ranking

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March and April closed, May live
START = datetime(2026, 5, 10, tzinfo=UTC)


def row(rid: str, minute: int, total: float, status: str = "succeeded",
        wf: str = "wf0") -> dict[str, Any]:
    return {"run_id": rid, "workflow_id": wf, "status": status, "total_time_s": total,
            "finished_at": (START + timedelta(minutes=minute)).isoformat(),
            "wall_time_breakdown": {"think": total / 2}}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int | None]]:
    """The $window of each lookup_newest query newest_copies runs, in order (``bounds``: the
    $bound each was given)."""
    seen: list[int | None] = []
    bounds.clear()
    ranked = ranking.ranked

    def spy(con: Any, params: dict[str, Any], window: int | None,
            bound: datetime | None) -> ranking.Rows:
        seen.append(window)
        bounds.append(bound.isoformat() if bound is not None else None)
        return ranked(con, params, window, bound)

    monkeypatch.setattr(ranking, "ranked", spy)
    yield seen


bounds: list[str | None] = []


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """March compacted with a late row after it, May live with a checkpoint and a tail: the
    newest run "hot" has an older, slower copy in the checkpoint and its newest copy in the
    tail; "old" has a copy in the checkpoint dated after its tail copy; "t1"/"t2" tie in
    finish time at what becomes the bound; "late" is March's, written after compaction."""
    d = tmp_path / "data"
    write_rows(d, [row(f"r{i}", i, 1.0 + i) for i in range(30)])
    write_rows(d, [row("hot", 5, 500.0), row("old", 40, 7.0), row("t1", 35, 3.0),
                   row("t2", 35, 4.0, status="failed")])
    write_rows(d, [{**row("m0", 0, 2.0), "finished_at": "2026-03-12T00:00:00+00:00"}])
    compact(d, now=NOW, checkpoint_min_bytes=0)
    write_rows(d, [row("hot", 50, 9.0), row("old", 1, 70.0), row("t1", 35, 1.0),
                   {**row("late", 0, 5.0), "finished_at": "2026-03-13T00:00:00+00:00"}])
    assert list((d / "checkpoints").glob("2026-05-*.parquet"))
    return d


def general(d: Path) -> RunStore:
    s = RunStore(d)
    s.shortcuts = False
    return s


@pytest.mark.parametrize("window", [1, 10])
def test_the_bounded_ranking_gives_the_general_paths_runs(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch,
        window: int) -> None:
    monkeypatch.setattr(ranking, "WINDOW_PER_RUN", window)
    got = RunStore(hostile).runs(last=4)
    assert got == general(hostile).runs(last=4)
    assert [(r["run_id"], r["total_time_s"]) for r in got] == [
        ("hot", 9.0), ("old", 7.0), ("t2", 4.0), ("t1", 3.0)]
    # a bound of the 4 newest finish times: hot 50, old 40, t1 and t2 at 35 (three copies
    # tied at the bound, all ranked); the answer proves itself, no second query
    assert queries == [4 * window]


def test_a_filter_the_bounded_rows_cannot_fill_ranks_every_run(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "WINDOW_PER_RUN", 1)
    got = RunStore(hostile).runs(last=2, status="succeeded")
    assert got == general(hostile).runs(last=2, status="succeeded")
    assert [r["run_id"] for r in got] == ["hot", "old"]
    # the 2 newest finish times bound hot and old only: full and proven
    assert queries == [2]
    queries.clear()
    got = RunStore(hostile).runs(last=2, status="failed")
    assert got == general(hostile).runs(last=2, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]  # the only failed run: never a full answer
    assert queries == [2, None]


def test_more_runs_than_the_live_month_holds(hostile: Path, queries: list[int | None]) -> None:
    # May's 34 runs cannot fill 40: March is read too (its part and its late row)
    got = RunStore(hostile).runs(last=40)
    assert got == general(hostile).runs(last=40)
    assert [r["run_id"] for r in got][-2:] == ["late", "m0"]
    assert None in queries


def test_the_bound_is_taken_from_the_copies_that_pass_the_filters(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "WINDOW_PER_RUN", 1)
    got = RunStore(hostile).runs(last=1, status="failed")
    assert got == general(hostile).runs(last=1, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]
    assert queries == [1]  # bound 35, t2's: bounded by every copy, hot's 50 would leave none
    # "flip" failed at 45 and then succeeded at 46 (in the tail: the same Parquet files): the
    # remembered bound, t2's 35, still proves t2 in one query; found again, flip's failed copy
    # would bound the runs at 45, none of whose winners failed, and every run would be ranked
    write_rows(hostile, [row("flip", 45, 2.0, status="failed"), row("flip", 46, 2.0)])
    queries.clear()
    bounds.clear()
    got = RunStore(hostile).runs(last=1, status="failed")
    assert got == general(hostile).runs(last=1, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]
    assert (queries, bounds) == ([1], ["2026-05-10T00:35:00+00:00"])
    for entry in (Path(os.environ["XDG_CACHE_HOME"]) / "mantis" / ranking.BOUNDS).rglob("*.json"):
        entry.unlink()  # forgotten: the bound is found again from flip's copy
    queries.clear()
    bounds.clear()
    got = RunStore(hostile).runs(last=1, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]
    assert (queries, bounds) == ([1, None], [None, None])


def test_the_next_call_starts_from_the_remembered_bound(
        hostile: Path, queries: list[int | None]) -> None:
    want = general(hostile).runs(last=3)
    assert RunStore(hostile).runs(last=3) == want
    assert (queries, bounds) == ([30], [None])  # found, and remembered
    queries.clear()
    bounds.clear()
    assert RunStore(hostile).runs(last=3) == want
    # the 30th newest of May's finish times (50, 40, 35 three times, 29 down to 5): minute 5
    assert (queries, bounds) == ([30], ["2026-05-10T00:05:00+00:00"])


@pytest.mark.parametrize("remembered", ["2026-05-10T00:40:00+00:00", "2026-05-10T00:35:00+00:00",
                                        "2000-01-01T00:00:00+00:00"])
def test_any_remembered_bound_gives_the_same_runs(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch,
        remembered: str) -> None:
    """A bound that leaves out runs of the answer (old's 40: hot and old only) is found again;
    one tied with the answer's last run (35) or below every copy proves itself at once."""
    monkeypatch.setattr(ranking, "read_entry", lambda entry: remembered)
    got = RunStore(hostile).runs(last=4)
    assert got == general(hostile).runs(last=4)
    assert [r["run_id"] for r in got] == ["hot", "old", "t2", "t1"]
    assert bounds == ([remembered] if remembered < "2026-05-10T00:36" else [remembered, None])


@pytest.mark.parametrize("planted", ["not a time", 42, "2026-13-45", "2026-05-10T00:00:00", None])
def test_a_remembered_bound_that_is_no_time_is_ignored(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch,
        planted: Any) -> None:
    """An entry that is no aware time (a naive one neither) is as good as none."""
    monkeypatch.setattr(ranking, "read_entry", lambda entry: planted)
    assert RunStore(hostile).runs(last=4) == general(hostile).runs(last=4)
    assert bounds == [None]


def test_months_of_jsonl_alone_remember_no_bound(tmp_path: Path,
                                                 queries: list[int | None]) -> None:
    d = tmp_path / "raw"
    write_rows(d, [row(f"r{i}", i, 1.0 + i) for i in range(5)])
    for _ in range(2):
        assert RunStore(d).runs(last=2) == general(d).runs(last=2)
    assert bounds == [None, None]
    assert not (Path(os.environ["XDG_CACHE_HOME"]) / "mantis" / ranking.BOUNDS).exists()
