"""`list --running/--lost` (RunStore.open_runs) on hostile events and rows, against an oracle
made of other read paths, and proof that events_open_runs.sql reads only the row groups of the
run_ids it looks for; `status` reads the events on a helper thread and still gives the same
answer (docs/events.md).

The oracle: the runs with a good run_started event since `since` (`RunStore.events`, the
across-runs path), minus the run_ids of the `runs` view (RunStore.sql), each judged from its
own events (`RunStore.events(run_id)`, the one-run path)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import append_bytes, write_rows
from mantis_runs import RunStore, append_events
from mantis_runs.compaction import compact
from mantis_runs.compaction import events as compaction_events
from mantis_runs.compaction.checkpoints import write_checkpoint
from mantis_runs.log.layout import scan_event_months
from mantis_runs.store import event_files, open_runs
from mantis_runs.store.events import RunStatus, judge

SINCE = datetime(2026, 10, 20, tzinfo=UTC)
NOW = datetime(2026, 10, 31, 12, tzinfo=UTC)
FILLER = 6000  # dated runs with a row: the events part has several row groups


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def ev(run_id: str, type_: str, ts: datetime, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type_, "ts": ts, "fields": fields}


def a_row(run_id: str, finished: datetime) -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": "wf", "status": "succeeded", "total_time_s": 1.0,
            "created_at": finished - timedelta(seconds=1), "finished_at": finished}


def line(run_id: str, type_: str, ts: str, fields: Any) -> bytes:
    return json.dumps({"run_id": run_id, "type": type_, "ts": ts, "fields": fields}).encode()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunStore]:
    d = tmp_path_factory.mktemp("open") / "d"
    filler = [f"20261001_{i:06d}_f" for i in range(FILLER)]
    events = [ev(r, t, at(1 + i * 29 // FILLER, 1)) for i, r in enumerate(filler)
              for t in ("run_started", "heartbeat")]
    events += [
        ev("zzz-part-open", "run_started", at(21), workflow_id="wf"),  # started in the part
        ev("m-early", "task", at(5), queue="q"),  # before since, in the part: still its event
        ev("m-early", "run_started", at(22), workflow_id="wf"),
        ev("m-finished-part", "run_started", at(23), workflow_id="wf"),
        ev("m-old", "run_started", at(10), workflow_id="wf"),  # before since: not listed
        ev("20261030_000000_open", "run_started", at(30), workflow_id="wf2"),
    ]
    assert append_events(events, data_dir=d)
    write_rows(d, [a_row(r, at(28)) for r in filler] + [a_row("m-finished-part", at(24))])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compaction_events, "EVENT_ROW_GROUP_ROWS", 2048)
        compact(d, checkpoint_min_bytes=0)
    assert not (d / "events_log" / "2026-10.jsonl").exists()  # all in the part
    # then, in new JSONL shards of the same month: hostile lines of both logs
    assert append_events([
        ev("000-open", "run_started", at(25), workflow_id="wf"),
        ev("zzz-part-open", "heartbeat", at(26), progress=0.5),
        ev("m-twostarts", "run_started", at(26), workflow_id="wf"),
        ev("m-badrow", "run_started", at(27), workflow_id="wf"),
        ev("m-row-bad-start", "heartbeat", at(27)),
        ev("20261030_000000_open", "heartbeat", NOW - timedelta(minutes=1), progress=0.25),
    ], data_dir=d)
    append_bytes(d / "events_log" / "2026-10.jsonl", b"\n".join([
        line("m-badstart", "run_started", "2026-10-26T00:00:00Z", [1]),  # fields: no object
        line("m-twostarts", "run_started", "2026-10-25T00:00:00Z", "x"),
        line("m-row-bad-start", "run_started", "2026-10-27T00:00:00Z", 7),
        b'{"run_id":"\\u0072-esc","type":"run_started","ts":"2026-10-28T00:00:00Z"}',
        b"garbage", b""]))
    write_rows(d, [a_row("m-row-bad-start", at(28)), a_row("m-old", at(29))])
    append_bytes(d / "runs_log" / "2026-10.jsonl",
                 b'{"run_id":"m-badrow","status":"succeeded"\n')  # torn: no row
    yield RunStore(d)


def oracle(store: RunStore, since: datetime) -> list[dict[str, Any]]:
    started = {e["run_id"] for e in store.events(types=["run_started"], since=since)}
    rows = set(store.sql("SELECT DISTINCT run_id FROM runs").column(0).to_pylist())
    states = [judge(r, store.events(r), None, now=NOW, stale_after=900)
              for r in started - rows]
    return [s.to_json() for s in sorted(
        (s for s in states if s is not None),
        key=lambda s: (s.started_at or NOW, s.run_id), reverse=True)]


def as_json(states: list[RunStatus]) -> list[dict[str, Any]]:
    return [s.to_json() for s in states]


def test_open_runs_on_hostile_lines_agree_with_the_oracle(store: RunStore) -> None:
    found = store.open_runs(since=SINCE, now=NOW)
    assert [(s.run_id, s.status) for s in found] == [
        ("20261030_000000_open", "running"), ("r-esc", "lost"), ("m-badrow", "lost"),
        ("m-twostarts", "lost"), ("000-open", "lost"), ("m-early", "lost"),
        ("zzz-part-open", "lost")]
    assert as_json(found) == oracle(store, SINCE)
    early = store.status("m-early", now=NOW)
    assert early.last_event is not None and early.last_event["type"] == "run_started"
    assert found[5].last_event == early.last_event  # its events include the part's task
    assert [e["type"] for e in store.events("m-early")] == ["task", "run_started"]
    assert [s.run_id for s in store.running(since=SINCE, now=NOW)] == ["20261030_000000_open"]


def profiled(store: RunStore, since: datetime, out: Path) -> tuple[list[RunStatus], Any]:
    def observe(con: duckdb.DuckDBPyConnection, _params: dict[str, Any]) -> None:
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{out}'")

    open_runs.observer = observe
    try:
        found = store.open_runs(since=since, now=NOW)
    finally:
        open_runs.observer = None
    return found, json.loads(out.read_text())


def part_scans(tree: Any) -> list[tuple[int, int]]:
    """(row groups scanned, row groups to scan) of each scan of an events part."""
    found = []
    stack = list(tree["operator"])
    while stack:
        node = stack.pop()
        files = str(node.get("extra_info", {}).get("Filename(s)", ""))
        if node.get("name") == "READ_PARQUET" and "events_log/compacted" in files:
            found.append((node["row_groups_scanned"], node["total_row_groups_to_scan"]))
        stack += node.get("children", [])
    return found


def test_the_events_part_is_read_only_where_the_open_run_ids_are(store: RunStore,
                                                                  tmp_path: Path) -> None:
    """Since the 30th only a dated run is open: of the part's row groups (run_ids sorted),
    only those its run_id and the starts' ts may be in are read (the hostile run_ids of the
    other test, 000 to zzz, make the range cover the part: the answer is still the oracle's)."""
    late = datetime(2026, 10, 30, tzinfo=UTC)
    found, tree = profiled(store, late, tmp_path / "late.json")
    assert [s.run_id for s in found] == ["20261030_000000_open"]
    assert as_json(found) == oracle(store, late)
    scans = part_scans(tree)
    total = scans[0][1]
    assert total >= 5 and len(scans) == 2  # the starts since `since`, the open runs' events
    assert all(scanned < total for scanned, _ in scans), scans


def test_status_reads_the_events_on_another_thread_with_the_same_answer(
        store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = open_runs.status_events

    def spy(data_dir: Path, run_id: str) -> Any:
        threads.append(threading.current_thread().name)
        return real(data_dir, run_id)

    monkeypatch.setattr(open_runs, "status_events", spy)
    for run_id, status in (("20261001_000007_f", "succeeded"), ("m-badrow", "lost"),
                           ("m-row-bad-start", "succeeded"), ("r-esc", "lost")):
        s = store.status(run_id, now=NOW)
        assert s.status == status
        assert s == store.events_status(run_id, store.get(run_id, warn=False) if
                                        status == "succeeded" else None, now=NOW)
    main = threading.current_thread().name
    assert len(threads) == 8
    assert all(name != main for name in threads[0::2])  # status: on a helper thread
    assert threads[1::2] == [main] * 4  # events_status (watch): on the caller's


def test_a_checkpointed_live_events_month_is_read_as_its_checkpoint(
        store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a run log too, list --running reads a live events shard with a valid checkpoint as
    the checkpoint and a copy of its tail (store/event_files.py), with the same answer."""
    d = tmp_path / "d"
    shutil.copytree(store.data_dir, d)
    live = scan_event_months(d)["2026-10"].live
    assert live is not None
    write_checkpoint(d, d / ".tmp", "2026-10", live, 1, "400MB", lambda _m: None, "events")
    shutil.rmtree(d / ".tmp", ignore_errors=True)
    append_bytes(live, json.dumps(ev("000-open", "heartbeat", "2026-10-30T00:00:00Z")).encode()
                 + b"\n")  # a tail after the checkpoint
    read: list[str] = []
    monkeypatch.setattr(open_runs, "observer", lambda _con, params: read.extend(params["files"]))
    found = as_json(RunStore(d).open_runs(since=SINCE, now=NOW))
    assert any("/events_log/checkpoints/" in f for f in read), read
    assert str(live) not in read
    with monkeypatch.context() as m:
        m.setattr(event_files, "USE_CHECKPOINTS", False)
        assert found == as_json(RunStore(d).open_runs(since=SINCE, now=NOW))
    assert found == oracle(RunStore(d), SINCE)
    assert found[4]["run_id"] == "000-open" and found[4]["last_event"]["type"] == "heartbeat"
    # running: 000-open by the tail's heartbeat, the dated run by its checkpointed start
    soon = at(30) + timedelta(minutes=5)
    running = as_json(RunStore(d).running(since=SINCE, now=soon))
    assert [s["run_id"] for s in running] == ["20261030_000000_open", "000-open"]
    assert running == [s for s in as_json(RunStore(d).open_runs(since=SINCE, now=soon))
                       if s["status"] == "running"]


@pytest.mark.parametrize("now, stale_after", [
    (NOW, 900.0),  # only the dated run's heartbeat is recent
    (at(26) + timedelta(seconds=900), 900.0),  # zzz-part-open's heartbeat exactly that old
    (at(26) + timedelta(seconds=900, microseconds=1), 900.0),  # a microsecond older: lost
    (at(25) + timedelta(minutes=5), 900.0),  # m-twostarts: only a bad line is recent
    (at(21) - timedelta(seconds=300), 0.0),  # zzz-part-open's start exactly the slack ahead
    (at(21) - timedelta(seconds=300, microseconds=1), 0.0),  # a microsecond more: no sign
    (at(28), 3 * 86400.0),  # a window over the part and the shards
    (NOW, float("inf")),  # never stale: every open run, no window
])
def test_running_looks_only_at_runs_with_a_recent_event_and_gives_the_same_answer(
        store: RunStore, now: datetime, stale_after: float) -> None:
    """``running`` reads only the runs with an event in its window (alive_window); the
    answer is that of every open run judged (``open_runs``), at the window's edges too."""
    every = store.open_runs(since=SINCE, now=now, stale_after=stale_after)
    expected = [s for s in every if s.status == "running"]
    assert as_json(store.running(since=SINCE, now=now, stale_after=stale_after)) == \
        as_json(expected)


def test_running_reads_the_open_runs_of_its_window_only(store: RunStore,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """events_open_runs is given the run_ids with an event in the window (so the shortcut is
    taken), and returns the events of those of them that are open: here one of seven open
    runs; with no event in the window, it is not run at all."""
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(open_runs, "observer", lambda _con, params: seen.append(params))
    got = as_json(store.running(since=SINCE, now=NOW))
    assert [s["run_id"] for s in got] == ["20261030_000000_open"]
    assert seen.pop()["alive"] == ["20261030_000000_open"]
    window = (at(25, 23), at(26) + timedelta(minutes=30))
    events = open_runs.open_run_events(store.data_dir, SINCE, "2026-10", window)
    # m-badstart's only line is a bad run_started: looked for, never open
    assert seen.pop()["alive"] == ["m-badstart", "m-twostarts", "zzz-part-open"]
    assert {e["run_id"] for e in events} == {"m-twostarts", "zzz-part-open"}
    assert open_runs.open_run_events(store.data_dir, SINCE, "2026-10",
                                     (at(31, 23), at(31, 23))) == []
    assert seen == []
    assert len({e["run_id"] for e in open_runs.open_run_events(
        store.data_dir, SINCE, "2026-10")}) == 7


def test_a_run_finished_in_another_data_dir_is_not_open(tmp_path: Path) -> None:
    """Events come from the first data dir, but a run's terminal row may be in any data dir
    read: over both, a run started in the first and finished in the second is neither running
    nor lost (as `status` says), while one finished nowhere still is."""
    from mantis_runs import append_event, append_run

    a, b = tmp_path / "a", tmp_path / "b"
    now = datetime.now(UTC)
    for run_id in ("done-in-b", "still-open"):
        assert append_event(run_id, "run_started", workflow_id="w", data_dir=a,
                            ts=now - timedelta(minutes=5))
    shutil.copytree(a, b)
    assert append_run({"run_id": "done-in-b", "workflow_id": "w", "status": "succeeded",
                       "total_time_s": 12.0}, data_dir=b)
    alone = {s.run_id: s.status for s in RunStore(a).open_runs(since="1d")}
    both = RunStore([a, b])
    assert alone == {"done-in-b": "running", "still-open": "running"}
    assert {s.run_id: s.status for s in both.open_runs(since="1d")} == {"still-open": "running"}
    assert [s.run_id for s in both.running(since="1d")] == ["still-open"]
    assert both.status("done-in-b").status == "succeeded"


def test_a_second_data_dir_that_does_not_exist_is_named(tmp_path: Path) -> None:
    """Every data dir given is checked, not only the first (whose events are read): a missing
    second one is an error naming it, for list --running/--lost and status alike."""
    from mantis_runs import append_event
    from mantis_runs.errors import NoDataDir

    a, missing = tmp_path / "a", tmp_path / "missing"
    assert append_event("r-1", "run_started", workflow_id="w", data_dir=a)
    both = RunStore([a, missing])
    for call in (lambda: both.open_runs(since="1d"), lambda: both.running(since="1d"),
                 lambda: both.status("r-1")):
        with pytest.raises(NoDataDir, match=f"data dir {missing} does not exist"):
            call()
    assert [s.run_id for s in RunStore(a).running(since="1d")] == ["r-1"]
