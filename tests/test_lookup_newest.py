"""``list --last N``'s bounded ranking (store/lookup.py ``newest_copies``): lookup_newest with a
$window ranks only the runs with a copy among the newest finish times, and its answer is kept only
when it proves itself; else it runs again without a window, ranking every run. Exact answers on
hostile copies: the newest run's older copy in the checkpoint and its newer one in the tail,
copies tied at the bound, a late row in a compacted month, filters the bounded rows cannot fill,
a filtered copy that bounds but does not win."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.store import lookup

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
    """The $window of each lookup_newest query newest_copies runs, in order."""
    seen: list[int | None] = []
    ranked = lookup.ranked

    def spy(con: Any, params: dict[str, Any], window: int | None) -> lookup.Rows:
        seen.append(window)
        return ranked(con, params, window)

    monkeypatch.setattr(lookup, "ranked", spy)
    yield seen


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
    monkeypatch.setattr(lookup, "WINDOW_PER_RUN", window)
    got = RunStore(hostile).runs(last=4)
    assert got == general(hostile).runs(last=4)
    assert [(r["run_id"], r["total_time_s"]) for r in got] == [
        ("hot", 9.0), ("old", 7.0), ("t2", 4.0), ("t1", 3.0)]
    # a bound of the 4 newest finish times: hot 50, old 40, t1 and t2 at 35 (three copies
    # tied at the bound, all ranked); the answer proves itself, no second query
    assert queries == [4 * window]


def test_a_filter_the_bounded_rows_cannot_fill_ranks_every_run(
        hostile: Path, queries: list[int | None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup, "WINDOW_PER_RUN", 1)
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
    monkeypatch.setattr(lookup, "WINDOW_PER_RUN", 1)
    got = RunStore(hostile).runs(last=1, status="failed")
    assert got == general(hostile).runs(last=1, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]
    assert queries == [1]  # bound 35, t2's: bounded by every copy, hot's 50 would leave none
    # "flip" failed at 45 and then succeeded at 46: its failed copy bounds the runs at 45, and
    # none of their winners failed; ranking every run finds t2 again
    write_rows(hostile, [row("flip", 45, 2.0, status="failed"), row("flip", 46, 2.0)])
    queries.clear()
    got = RunStore(hostile).runs(last=1, status="failed")
    assert got == general(hostile).runs(last=1, status="failed")
    assert [r["run_id"] for r in got] == ["t2"]
    assert queries == [1, None]
