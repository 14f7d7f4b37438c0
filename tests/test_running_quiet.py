"""`list --running` on a store where no event is recent, and one run's events, read by what the
events Parquet files' footers say (store/event_files.py ``footers``, kept in the user cache):

* ``running`` first tries to prove, without DuckDB, that no event is dated in its window
  (``EventReader.quiet``: the footers' ts ranges, the JSONL lines parsed in Python by
  ``undated``); when it can, it makes no connection and reads no run log; when it cannot (a
  footer not cached yet, a line it cannot read, an event in the window) DuckDB answers as before.
  ``undated`` must never call a line quiet that DuckDB dates in the window: checked line by line
  against events_alive_runs.sql on hostile lines.
* ``status``, ``events RUN_ID`` and a timeline leave out the parts and checkpoints whose run_id
  statistics prove they hold none of the run's events, with the same answers as reading them.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs import RunStore, append_events
from mantis_runs.compaction import compact
from mantis_runs.compaction.checkpoints import write_checkpoint
from mantis_runs.db import views
from mantis_runs.db.sqlfiles import load
from mantis_runs.log.layout import events_root, scan_event_months
from mantis_runs.store import event_files, events, lookup, open_runs
from mantis_runs.store.event_files import event_months, reader, undated

LOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
HIGH = datetime(2026, 12, 5, 8, 20, tzinfo=UTC)


def ln(ts: Any, run_id: str = "r-1", **more: Any) -> bytes:
    return json.dumps({"run_id": run_id, "type": "heartbeat", "ts": ts, **more}).encode()


#: (line, what ``undated`` says of it alone): True only when every ts it may hold is proven
#: outside [LOW, HIGH] widened by QUIET_MARGIN.
LINES: list[tuple[bytes, bool]] = [
    (ln("2026-12-05T08:10:00Z"), False),
    (ln("2026-12-05T08:30:00Z"), True),
    (ln("2026-12-05T03:10:00-05:00"), False),  # 08:10 UTC
    (ln("2026-12-05T13:10:00+05:00"), False),  # 08:10 UTC
    (ln("2026-12-05T15:10:00+05:00"), True),  # 10:10 UTC
    (ln("2026-12-05 08:10:00"), False),  # naive: UTC, as the connection reads it
    (ln("2026-12-05 09:10:00"), True),
    (ln("2026-12-05"), True),  # midnight
    (ln(1796457000), False),  # a number: not proven
    (ln("soon"), False),  # a text Python cannot read: not proven
    (ln(None), True),
    (ln({"at": "2026-12-05T08:10:00Z"}), True),  # an object: no ts for DuckDB either
    (ln(["2026-12-05T08:10:00Z"]), False),  # a list: not proven
    (ln("2026-12-01T00:00:00Z", fields={"ts": "2026-12-05T08:10:00Z"}), False),  # nested
    (b'{"run_id":"r-1","ts":"2026-12-05T08:10:00Z","ts":"2026-12-01T00:00:00Z"}', False),
    (b'{"run_id":"r-1","ts":"2026-12-01T00:00:00Z","ts":"2026-12-05T08:10:00Z"}', False),
    (b'{"run_id":"r-1","\\u0074s":"2026-12-05T08:10:00Z"}', False),  # an escaped key
    (ln("2026-12-05T07:59:59.5Z"), False),  # outside, but within the margin
    (ln("2026-12-05T07:59:58Z"), True),
    (ln("2026-12-05T08:20:00.5Z"), False),
    (ln("2026-12-05T08:20:01.5Z"), True),
    (ln("2026-12-05T08:20:01.000001Z"), True),
    (ln("2026-12-05T08:20:00.0000009Z"), False),
    (ln("2026W496"), True),  # an ISO week date Python reads (the 5th): DuckDB reads none
    (b'{"run_id":"r-1","ts":"2026-12-05T08:10:00Z","x":"\xff"}', False),  # not UTF-8
    (b'{"run_id":"r-1","type":"heart\x1e', False),  # a torn line, sealed
    (b"not json", False),
    (b"[1, 2]", True),
    (b"   \t", True),
    (b"", True),
    (ln("2026-12-05T08:30:00Z") + b"\r", True),
    (b"\xef\xbb\xbf" + ln("2026-12-05T08:30:00Z"), False),  # a byte order mark
    (b"[" * 5000 + b"]" * 5000, False),  # too deep for Python's parser
]


def test_undated_never_calls_quiet_a_line_duckdb_dates_in_the_window(tmp_path: Path) -> None:
    """Each hostile line alone: ``undated``'s exact answer, and whenever it says True,
    events_alive_runs.sql (DuckDB) finds no run with an event in the window in that line."""
    d = tmp_path / "d"
    (d / "events_log").mkdir(parents=True)
    with reader(d) as r:
        con = r.connection()
        for i, (data, quiet) in enumerate(LINES):
            path = tmp_path / f"line-{i}.jsonl"
            path.write_bytes(data + b"\n")
            assert undated(data, LOW, HIGH) is quiet, data
            found = con.execute(load("events_alive_runs"), {
                "files": views.event_list([path]), "alive_from": LOW.isoformat(),
                "alive_to": HIGH.isoformat()}).fetchall()
            assert not (quiet and found), (data, found)
    assert undated(b"\n".join(d for d, q in LINES if q), LOW, HIGH)
    assert not undated(b"\n".join(d for d, _ in LINES[:2]), LOW, HIGH)


TEXTS = ["2026-12-05T08:10:00Z", "2026-12-05 08:10:00", "2026-12-05T08:10", "2026-12-05",
         "2026-12-05T08:10:00.123456789Z", "2026-12-05T08:10:00+0130", "2026-12-05T08:10:00-01",
         "2026-12-05T08:10:00+01:30:15", "20261205T081000Z", "2026W496", "2026-W49-6",
         "2026-12-05T08:10:00,5Z", "2026-12-05T24:00:00Z", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59.999999Z", "2026-12-05 08:10:00 UTC", "2026-12-05T08:10:00.5+00"]


def test_a_ts_python_reads_is_the_instant_duckdb_reads_or_none_at_all(tmp_path: Path) -> None:
    """The rule ``undated`` leans on: a text both read is the same instant (to the
    microsecond below: Python drops digits past the sixth), else DuckDB reads none."""
    with reader(tmp_path) as r:
        con = r.connection()
        for text in TEXTS:
            try:
                mine = datetime.fromisoformat(text)
            except ValueError:
                continue
            mine = mine if mine.tzinfo else mine.replace(tzinfo=UTC)
            theirs = con.execute("SELECT try_cast(json_extract_string($j, 'ts') AS TIMESTAMPTZ)",
                                 {"j": json.dumps({"ts": text})}).fetchone()
            assert theirs is not None
            if theirs[0] is not None:
                assert abs(theirs[0] - mine) < timedelta(microseconds=1), text


NOW = datetime(2026, 12, 20, 12, tzinfo=UTC)
SINCE = datetime(2026, 10, 1, tzinfo=UTC)


def rid(month: int, i: int) -> str:
    return f"2026{month:02d}10_00000{i}_r"


def ev(run_id: str, type_: str, ts: datetime, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type_, "ts": ts, "fields": fields}


def make(d: Path) -> None:
    """October and November compacted into parts, December live with a checkpoint and a tail;
    three runs a month (dated run_ids), the first of each finished."""
    evs = []
    for month in (10, 11, 12):
        for i in range(3):
            start = datetime(2026, month, 10, i, tzinfo=UTC)
            evs += [ev(rid(month, i), "run_started", start, workflow_id="wf"),
                    ev(rid(month, i), "heartbeat", start + timedelta(minutes=1), progress=0.5)]
    assert append_events(evs, data_dir=d)
    write_rows(d, [{"run_id": rid(m, 0), "workflow_id": "wf", "status": "succeeded",
                    "total_time_s": 60.0, "created_at": datetime(2026, m, 10, tzinfo=UTC),
                    "finished_at": datetime(2026, m, 10, 0, 2, tzinfo=UTC)}
                   for m in (10, 11, 12)])
    compact(d, now=NOW, checkpoint_min_bytes=1)
    live = scan_event_months(d)["2026-12"].live
    assert live is not None
    write_checkpoint(d, d / ".tmp", "2026-12", live, 1, "400MB", lambda _m: None, "events")
    shutil.rmtree(d / ".tmp", ignore_errors=True)
    assert append_events([ev(rid(12, 2), "heartbeat", datetime(2026, 12, 10, 3, tzinfo=UTC))],
                         data_dir=d)  # a tail
    assert [p.parent.name for p in scan_event_months(d)["2026-10"].parts] == ["2026-10"]


def no_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("a connection was made")

    monkeypatch.setattr(lookup, "session", refuse)
    monkeypatch.setattr(event_files, "connect", refuse)


def states(store: RunStore, now: datetime, running: bool) -> list[dict[str, Any]]:
    found = store.running(since=SINCE, now=now) if running else [
        s for s in store.open_runs(since=SINCE, now=now) if s.status == "running"]
    return [s.to_json() for s in found]


def test_running_proves_a_quiet_store_without_a_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read of a new part's footer needs DuckDB (and keeps it in the cache); from
    then on a store with no event in the window is answered with no connection and no run log
    read. An event in the window, in the tail, is found as before: the same as every open run
    judged."""
    d = tmp_path / "d"
    make(d)
    store = RunStore(d)
    assert states(store, NOW, True) == [] == states(store, NOW, False)  # footers now cached
    with monkeypatch.context() as m:
        no_duckdb(m)
        assert states(store, NOW, True) == []
        assert run_cli("runs", "list", "--running", "--data-dir", str(d)) == (
            0, "No running runs found.\n", "")
    assert append_events([ev(rid(12, 1), "heartbeat", NOW - timedelta(minutes=1))], data_dir=d)
    append_bytes(events_root(d) / "2026-12.jsonl", ln("2026-12-20T11:59:00Z", type="") + b"\n")
    got = states(store, NOW, True)
    assert [s["run_id"] for s in got] == [rid(12, 1)] and got == states(store, NOW, False)
    # an hour later nothing is recent again; the bad line is no sign of life either way
    later = NOW + timedelta(hours=1)
    with monkeypatch.context() as m:
        no_duckdb(m)
        assert states(store, later, True) == []
    assert states(store, later, False) == []


def test_a_checkpoint_whose_footer_is_not_cached_is_read_by_duckdb(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Footers come only from the cache in the proof: a new checkpoint (another file) is read
    by DuckDB once, whose answer is the same, and is then proven quiet without it."""
    d = tmp_path / "d"
    make(d)
    store = RunStore(d)
    assert states(store, NOW, True) == []
    live = scan_event_months(d)["2026-12"].live
    assert live is not None
    write_checkpoint(d, d / ".tmp", "2026-12", live, 1, "400MB", lambda _m: None, "events")
    shutil.rmtree(d / ".tmp", ignore_errors=True)
    asked: list[list[Path]] = []
    real = event_files.footers

    def spy(con: Any, files: list[Path]) -> Any:
        asked.append(files)
        return real(con, files)

    monkeypatch.setattr(event_files, "footers", spy)
    monkeypatch.setattr(open_runs, "footers", spy)
    assert states(store, NOW, True) == []
    assert any("checkpoints" in str(p) for files in asked for p in files)
    with monkeypatch.context() as m:
        no_duckdb(m)
        assert states(store, NOW, True) == []


def test_one_runs_events_skip_the_parts_that_cannot_hold_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of October: of the Parquet files, only October's part is read (the November part
    and the December checkpoint hold other run_ids); every answer is the one read from every
    part (no footer known)."""
    d = tmp_path / "d"
    make(d)
    store = RunStore(d)
    with reader(d) as r:
        read = events.run_events(r, rid(10, 1))
        months = event_months(d)
    parquet = [p for p in read if p.suffix == ".parquet"]
    assert parquet == months["2026-10"][:1] and len(months["2026-11"]) == 1

    def answers() -> list[Any]:
        out: list[Any] = []
        for run_id in (rid(10, 1), rid(11, 0), rid(12, 2), "nosuch"):
            out.append(store.events(run_id) if run_id != "nosuch" else None)
            out.append(store.events_status(run_id, now=NOW))
        out.append(store.status(rid(10, 0), now=NOW).to_json())
        out.append(store.show(rid(11, 2), now=NOW).to_json())
        return out

    got = answers()
    assert got[1] is not None and got[1].status == "lost" and got[7] is None
    with monkeypatch.context() as m:
        m.setattr(event_files, "footers", lambda _con, _files: {})
        assert answers() == got


def test_more_lines_than_the_budget_are_left_to_duckdb(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above QUIET_MAX_BYTES of JSONL (here: the tail), no line is parsed in Python: DuckDB
    reads them, with the same answer."""
    d = tmp_path / "d"
    make(d)
    store = RunStore(d)
    assert states(store, NOW, True) == []  # footers cached
    sessions: list[Path] = []
    real = lookup.session

    def spy(data_dir: Path, **kw: Any) -> Any:
        sessions.append(data_dir)
        return real(data_dir, **kw)

    monkeypatch.setattr(lookup, "session", spy)
    parsed: list[bytes] = []
    monkeypatch.setattr(event_files, "undated", lambda data, *_w: parsed.append(data) or True)
    assert states(store, NOW, True) == [] and sessions == [] and len(parsed) == 1
    monkeypatch.setattr(event_files, "QUIET_MAX_BYTES", len(parsed[0]) - 1)
    assert states(store, NOW, True) == [] and sessions == [d] and len(parsed) == 1


def test_a_cache_entry_without_row_groups_is_read_again() -> None:
    """A planted ``[]`` in ``event-footers/`` would rule every run out of the part: it is not
    taken (a part's footer is read again), nor is anything but four-item row groups."""
    from mantis_runs.store.event_files import _decode_footers

    group = ["a", "b", 1, 2]
    assert _decode_footers([group]) == [("a", "b", 1, 2)]
    for planted in ([], None, {}, [[]], [group, ["a"]], "x"):
        assert _decode_footers(planted) is None, planted
