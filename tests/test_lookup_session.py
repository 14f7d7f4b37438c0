"""One DuckDB session for a run's lookup and its report's baseline, and the lookup's connection
made ahead (store/lookup.py ``find_run(then=)``, ``newest_runs(then=)``; stats/engine.py
``collect(session=)``; db/connecting.py ``connect_ahead``).

The report on the lookup's snapshot must be the report of the general path (its own snapshot,
its own connection), on hostile copies too (tests/test_agreement.py ``check_shortcuts`` covers
the rows); here: that the shared path is taken (no second connection, no second snapshot), and
that it gives way, without a word, when the shared connection runs out of memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import append_bytes, write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.db import connecting
from mantis_runs.stats import engine
from mantis_runs.store import lookup

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March and April closed, May live


def rows_of(month: str, n: int) -> list[dict[str, Any]]:
    start = datetime.fromisoformat(f"{month}-10T00:00:00+00:00")
    return [{"run_id": f"{month.replace('-', '')}10_{i:06d}_{i:08x}", "workflow_id": f"wf{i % 2}",
             "status": "failed" if i % 5 == 0 else "succeeded",
             "finished_at": (start + timedelta(minutes=i)).isoformat(),
             "total_time_s": 1.0 + i, "wall_time_breakdown": {"think": 0.5 + i, "act": 0.25}}
            for i in range(n)]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two compacted months and a checkpointed live month, with hostile copies after the
    checkpoint: a later copy of a March run under the other workflow (it leaves March's
    baseline), a losing copy of a May run, and a bad line. Read only by the tests."""
    d = tmp_path_factory.mktemp("session") / "data"
    for month in ("2026-03", "2026-04", "2026-05"):
        write_rows(d, rows_of(month, 30))
    with pytest.MonkeyPatch.context() as mp:  # compaction warms a cache: never the user's
        mp.setenv("XDG_CACHE_HOME", str(d.parent / "cache"))
        compact(d, now=NOW, checkpoint_min_bytes=0)
    march, may = rows_of("2026-03", 30), rows_of("2026-05", 30)
    write_rows(d, [{**march[3], "workflow_id": "wf0", "finished_at": "2026-05-11T00:00:00Z"},
                   {**may[7], "total_time_s": 99.0, "finished_at": "2026-05-01T00:00:00Z"}])
    append_bytes(d / "runs_log" / "2026-05.jsonl", b"not json\n")
    return d


def general(d: Path) -> RunStore:
    s = RunStore(d)
    s.shortcuts = False
    return s


def reports(d: Path, run_id: str | None) -> tuple[Any, Any]:
    return RunStore(d).report(run_id).to_json(), general(d).report(run_id).to_json()


@pytest.mark.parametrize("which", ["20260310_000007_00000007", "20260510_000029_0000001d",
                                   "20260310_000003_00000003", "20260410_000012_0000000c", None])
def test_the_baseline_is_read_on_the_lookups_connection(
        store: Path, monkeypatch: pytest.MonkeyPatch, which: str | None) -> None:
    connections: list[str] = []
    real = engine.connect

    def counted(**kwargs: Any) -> duckdb.DuckDBPyConnection:
        connections.append("engine")
        return real(**kwargs)

    monkeypatch.setattr(engine, "connect", counted)
    fast, slow = reports(store, which)
    assert fast == slow
    assert connections == ["engine"]  # the general path's baseline only
    assert fast["baseline"]["run_count"] > 0


def test_out_of_memory_on_the_lookups_connection_takes_a_connection_of_its_own(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[bool] = []
    real = engine.Collector.run

    def first_fails(self: engine.Collector) -> Any:
        tries.append(self.con is held[0] if held else False)
        if len(tries) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: test")
        return real(self)

    held: list[duckdb.DuckDBPyConnection] = []
    lend = lookup.Session.lend

    def lending(self: lookup.Session) -> Any:
        lent = lend(self)
        held.append(lent[0])
        return lent

    monkeypatch.setattr(engine.Collector, "run", first_fails)
    monkeypatch.setattr(lookup.Session, "lend", lending)
    target = "20260410_000012_0000000c"
    got = RunStore(store).report(target).to_json()
    assert tries == [True, False]  # the lookup's connection, then one of its own
    monkeypatch.undo()
    assert got == general(store).report(target).to_json()


def test_a_connection_made_ahead_serves_the_next_lookup(store: Path) -> None:
    connecting.connect_ahead()
    ahead = connecting._ahead[next(iter(connecting._ahead))]
    target = "20260510_000029_0000001d"
    assert RunStore(store).get(target) == general(store).get(target)
    assert connecting._ahead == {}  # taken
    assert ahead.get() is not None
    with pytest.raises(duckdb.ConnectionException):  # and closed with its session
        ahead.get().execute("SELECT 1")
    # one without the events macros is not taken by a session that needs them
    connecting.connect_ahead()
    first = connecting._ahead[next(iter(connecting._ahead))]
    other = connecting.taken(events=True)
    other.close()
    assert other is not first and connecting._ahead == {}
    with pytest.raises(duckdb.ConnectionException):
        first.get().execute("SELECT 1")
