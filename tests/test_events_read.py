"""The events read side: `mantis runs events`, `status`, `list --running/--lost`, the timeline of
`show`/`report`, the run_events views and RunStore.events/status/running/lost (docs/events.md).

Events are written by the real writer (`append_events`); hand-written lines only where a test
needs what the writer never writes (bad lines, escapes, events in a given file)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs import RunStore, append_events
from mantis_runs.compaction import compact
from mantis_runs.errors import NotFound, UsageError
from mantis_runs.store.events import LOST_AFTER_S, RunStatus, judge

T0 = datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(run_id: str, type_: str, s: float, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type_, "ts": at(s), "fields": fields}


def row(run_id: str, status: str, s: float, wf: str = "wf", **more: Any) -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": wf, "status": status, "total_time_s": 2.0,
            "created_at": at(s - 2), "finished_at": at(s), **more}


HISTORY = [
    ev("r-run", "run_started", 0, workflow_id="wf", model="m1"),
    ev("r-run", "heartbeat", 10, progress=0.25),
    ev("r-run", "step_started", 20, step="login"),
    ev("r-run", "heartbeat", 30, progress=0.5, message="half"),
    ev("r-ok", "run_started", 1, workflow_id="wf"),
    ev("r-ok", "heartbeat", 5, progress=1),
    ev("r-bad", "run_started", 2, workflow_id="wf2"),
    ev("r-bad", "failure", 3, message="page never loaded", kind="timeout"),
    ev("r-bad", "failure", 4, message="gave up"),
    ev("r-lost", "run_started", 3, workflow_id="wf"),
    ev("r-pend", "task", 4, queue="q1"),
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    assert append_events(HISTORY, data_dir=d)
    write_rows(d, [row("r-ok", "succeeded", 6), row("r-bad", "failed", 5, "wf2", error="boom"),
                   row("r-norun", "succeeded", 7)])
    return d


def status(d: Path, run_id: str, now: float, stale: float = LOST_AFTER_S) -> RunStatus:
    return RunStore(d).status(run_id, now=at(now), stale_after=stale)


def test_status_of_each_state(data: Path) -> None:
    store = RunStore(data)
    s = status(data, "r-run", 30 + 900)
    assert (s.status, s.source, s.workflow_id, s.started_at, s.progress) == (
        "running", "heartbeat", "wf", at(0), 0.5)
    assert s.last_event == {"run_id": "r-run", "type": "heartbeat", "ts": at(30),
                            "fields": {"progress": 0.5, "message": "half"}}
    events = store.events("r-run")

    def state(now: float, stale: float = LOST_AFTER_S) -> tuple[str, str] | None:
        found = judge("r-run", events, None, now=at(now), stale_after=stale)
        return None if found is None else (found.status, found.source)

    assert state(30 + 900.000001) == ("lost", "inference")  # passed by a microsecond
    assert (state(100, stale=69), state(100, stale=70)) == (("lost", "inference"),
                                                            ("running", "heartbeat"))
    assert state(-5) == ("running", "heartbeat")  # events from the future: not stale
    assert judge("x", [], None, now=at(0), stale_after=1) is None
    ok = status(data, "r-ok", 10**6)  # a terminal row always wins, however old the events
    assert (ok.status, ok.source, ok.finished_at, ok.progress) == (
        "succeeded", "terminal row", at(6), 1.0)
    bad = status(data, "r-bad", 10**6)
    assert (bad.status, bad.source, bad.workflow_id) == ("failed", "terminal row", "wf2")
    assert status(data, "r-lost", 904).status == "lost"
    pend = status(data, "r-pend", 10**6)
    assert (pend.status, pend.source, pend.started_at) == ("pending", "inference", None)
    norun = status(data, "r-norun", 0)  # a row and no events at all
    assert (norun.status, norun.source, norun.last_event, norun.workflow_id) == (
        "succeeded", "terminal row", None, "wf")
    with pytest.raises(NotFound, match="no run 'nope' in "):
        status(data, "nope", 0)
    with pytest.raises(UsageError):
        store.status("r-run", stale_after=float("nan"))


def test_status_cli_text_and_json(data: Path) -> None:
    code, out, err = run_cli("runs", "status", "r-run", "--data-dir", str(data),
                             "--stale-after", "1e12")
    assert (code, err) == (0, "")
    assert out == ("run r-run: running (source: heartbeat)\n"
                   "  workflow:   wf\n"
                   "  started:    2026-11-03 10:00:00 UTC\n"
                   "  progress:   50.0%\n"
                   '  last event: 2026-11-03 10:00:30 UTC heartbeat {"progress": 0.5, '
                   '"message": "half"}\n')
    code, out, _ = run_cli("runs", "status", "r-lost", "--data-dir", str(data), "--json")
    assert code == 0 and json.loads(out) == {
        "run_id": "r-lost", "status": "lost", "source": "inference", "workflow_id": "wf",
        "started_at": "2026-11-03T10:00:03Z", "finished_at": None, "progress": None,
        "last_event": {"run_id": "r-lost", "type": "run_started", "ts": "2026-11-03T10:00:03Z",
                       "fields": {"workflow_id": "wf"}}, "stale_after_s": 900.0}
    code, out, _ = run_cli("runs", "status", "r-lost", "--data-dir", str(data))
    assert out.endswith("  no terminal row, and no event for over 900s\n")
    assert run_cli("runs", "status", "nope", "--data-dir", str(data)) == (
        1, "", f"error: no run 'nope' in {data}\n")
    assert run_cli("runs", "status", "x", "--data-dir", str(data / "missing"))[0] == 1
    assert run_cli("runs", "status", "r-run", "--data-dir", str(data),
                   "--stale-after", "-1")[0] == 2


def test_a_data_dir_with_events_only_and_one_with_runs_only(tmp_path: Path) -> None:
    only_events = tmp_path / "e"
    assert append_events([ev("a", "run_started", 0, workflow_id="w")], data_dir=only_events)
    assert RunStore(only_events).status("a", now=at(1)).status == "running"
    assert [s.run_id for s in RunStore(only_events).lost(since=at(-10), now=at(901))] == ["a"]
    assert [s.run_id for s in RunStore(only_events).running(since=at(-10), now=at(1))] == ["a"]
    assert RunStore(only_events).running(since=at(-10), now=at(901)) == []
    only_runs = tmp_path / "r"
    write_rows(only_runs, [row("b", "succeeded", 0)])
    store = RunStore(only_runs)
    assert (store.status("b").source, store.events(), store.running(since=at(-10))) == (
        "terminal row", [], [])
    assert store.report("b").timeline is None
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("runs", "events", "--data-dir", str(empty))
    assert code == 1 and "holds no run log" in err


def test_events_across_runs_and_of_one_run(data: Path) -> None:
    d = ["--data-dir", str(data)]
    code, out, err = run_cli("runs", "events", *d, "--last", "3")
    assert (code, err) == (0, "")
    assert out == ('2026-11-03T10:00:30Z r-run heartbeat {"progress": 0.5, "message": "half"}\n'
                   '2026-11-03T10:00:20Z r-run step_started {"step": "login"}\n'
                   '2026-11-03T10:00:10Z r-run heartbeat {"progress": 0.25}\n')
    code, out, _ = run_cli("runs", "events", "r-bad", *d, "--jsonl")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"run_id": "r-bad", "type": "run_started", "ts": "2026-11-03T10:00:02Z",
         "fields": {"workflow_id": "wf2"}},
        {"run_id": "r-bad", "type": "failure", "ts": "2026-11-03T10:00:03Z",
         "fields": {"message": "page never loaded", "kind": "timeout"}},
        {"run_id": "r-bad", "type": "failure", "ts": "2026-11-03T10:00:04Z",
         "fields": {"message": "gave up"}}]
    store = RunStore(data)

    def ids(**kw: Any) -> list[tuple[str, str]]:
        return [(e["run_id"], e["type"]) for e in store.events(**kw)]

    assert ids(types=["failure", "task"]) == [("r-pend", "task"), ("r-bad", "failure"),
                                              ("r-bad", "failure")]
    assert ids(workflow_id="wf2") == [("r-bad", "failure"), ("r-bad", "failure"),
                                      ("r-bad", "run_started")]
    assert ids(fields={"progress": "0.25"}) == [("r-run", "heartbeat")]
    assert ids(fields={"kind": "timeout", "message": "page never loaded"}) == [
        ("r-bad", "failure")]
    assert ids(since=at(20)) == [("r-run", "heartbeat"), ("r-run", "step_started")]
    assert ids(run_id="r-run", last=2) == [("r-run", "step_started"), ("r-run", "heartbeat")]
    assert ids(run_id="r-run", types=["heartbeat"]) == [("r-run", "heartbeat")] * 2
    assert len(store.events()) == len(HISTORY)
    table = store.events(arrow=True, types=["heartbeat"], last=2)
    assert table.column_names == ["run_id", "type", "ts", "fields"]
    assert table.column("fields").to_pylist() == ['{"progress":0.5,"message":"half"}',
                                                  '{"progress":0.25}']
    assert run_cli("runs", "events", *d, "--type", "nope") == (0, "No events found.\n", "")
    assert run_cli("runs", "events", *d, "--type", "nope", "--json") == (0, "[]\n", "")
    assert run_cli("runs", "events", *d, "--field", "novalue")[0] == 2


def test_events_across_months_newest_first(tmp_path: Path) -> None:
    d = tmp_path / "d"
    old = datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC)
    assert append_events([{"run_id": "m", "type": "run_started", "ts": old},
                          {"run_id": "m", "type": "heartbeat", "ts": old + timedelta(seconds=2)},
                          {"run_id": "n", "type": "task", "ts": old + timedelta(days=40)}],
                         data_dir=d)
    assert sorted(p.name for p in (d / "events_log").iterdir() if p.suffix == ".jsonl") == [
        "2026-09.jsonl", "2026-10.jsonl", "2026-11.jsonl"]
    store = RunStore(d)
    assert [e["type"] for e in store.events(last=2)] == ["task", "heartbeat"]
    assert [e["type"] for e in store.events("m")] == ["run_started", "heartbeat"]
    assert store.status("m", now=old + timedelta(seconds=3)).started_at == old


def test_bad_lines_are_counted_never_fatal(data: Path, caplog: pytest.LogCaptureFixture
                                           ) -> None:
    shard = data / "events_log" / "2026-11.jsonl"
    append_bytes(shard, b'garbage\n[1]\n{"run_id":"","type":"x","ts":"2026-11-03T10:00:00Z"}\n'
                        b'{"run_id":"r-run","type":"x","ts":"not a time"}\n'
                        b'{"run_id":"r-run","type":"x","ts":"2026-11-03T10:00:00Z","fields":3}\n'
                        b'{"run_id":"r-run","type":"heartbeat","ts":"2026-11-03T10:00:40Z"')
    with caplog.at_level(logging.WARNING, "mantis_runs"):
        assert len(RunStore(data).events()) == len(HISTORY)
    assert caplog.messages == ["skipped 6 malformed lines (events_log/2026-11.jsonl: 6)"]
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "events", "--data-dir",
                        str(data), "--last", "1"], capture_output=True, text=True, check=False)
    assert (p.returncode, p.stderr) == (
        0, "warning: skipped 6 malformed lines (events_log/2026-11.jsonl: 6)\n")
    assert status(data, "r-run", 31).last_event["ts"] == at(30)  # type: ignore[index]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "mantis_runs"):  # the cached counts: the view's
        assert RunStore(data).sql("FROM run_events_bad_lines").to_pylist() == [
            {"shard": "2026-11.jsonl", "lines": 6}]
    assert caplog.messages == ["skipped 6 malformed lines (events_log/2026-11.jsonl: 6)"]


def test_run_events_view_joins_runs(data: Path) -> None:
    got = RunStore(data).sql(
        "SELECT e.run_id, e.type, r.status, e.fields->>'message' AS message, e.month, e.file "
        "FROM run_events e JOIN runs r USING (run_id) WHERE e.type = 'failure' ORDER BY e.ts")
    assert got.to_pylist() == [
        {"run_id": "r-bad", "type": "failure", "status": "failed",
         "message": "page never loaded", "month": "2026-11", "file": "2026-11.jsonl"},
        {"run_id": "r-bad", "type": "failure", "status": "failed", "message": "gave up",
         "month": "2026-11", "file": "2026-11.jsonl"}]
    assert str(RunStore(data).connect().sql("FROM run_events").types) == (
        "[VARCHAR, VARCHAR, TIMESTAMP WITH TIME ZONE, JSON, VARCHAR, VARCHAR]")
    code, out, _ = run_cli("runs", "views", "--data-dir", str(data))
    assert code == 0 and "CREATE OR REPLACE TEMP VIEW run_events AS" in out
    assert f"SET VARIABLE mantis_event_files = ['{data}/events_log/2026-11.jsonl'" in out


def test_list_running_and_lost(data: Path) -> None:
    d = ["--data-dir", str(data), "--since", "2026-11-01"]
    # every event is old: all open runs are lost unless the staleness is huge
    code, out, err = run_cli("runs", "list", "--lost", *d)
    assert (code, err) == (0, "")
    assert out == ("started (UTC)        status    workflow    run_id      progress  "
                   "last event (UTC)     type\n"
                   "2026-11-03 10:00:03  lost      wf          r-lost                "
                   "2026-11-03 10:00:03  run_started\n"
                   "2026-11-03 10:00:00  lost      wf          r-run          50.0%  "
                   "2026-11-03 10:00:30  heartbeat\n")
    assert run_cli("runs", "list", "--running", *d) == (0, "No running runs found.\n", "")
    code, out, _ = run_cli("runs", "list", "--running", *d, "--stale-after", "1e12", "--json")
    assert [(s["run_id"], s["status"], s["source"]) for s in json.loads(out)] == [
        ("r-lost", "running", "heartbeat"), ("r-run", "running", "heartbeat")]
    code, out, _ = run_cli("runs", "list", "--running", "--lost", "wf", *d, "--json")
    assert [s["run_id"] for s in json.loads(out)] == ["r-lost", "r-run"]
    # the window: run_started events before --since are not looked at
    assert run_cli("runs", "list", "--lost", "--data-dir", str(data), "--since",
                   "2026-11-04") == (0, "No lost runs found.\n", "")


def test_show_and_report_have_the_timeline(data: Path) -> None:
    code, out, _ = run_cli("runs", "show", "r-bad", "--data-dir", str(data))
    assert code == 0 and out.endswith(
        "Events:\n"
        "  first:    2026-11-03 10:00:02 UTC run_started\n"
        "  last:     2026-11-03 10:00:04 UTC failure\n"
        "  counts:   failure 2, run_started 1\n"
        "  failure:  2026-11-03 10:00:03 UTC page never loaded\n"
        "  failure:  2026-11-03 10:00:04 UTC gave up\n")
    code, out, _ = run_cli("runs", "report", "--run-id", "r-ok", "--data-dir", str(data),
                           "--format", "json")
    assert json.loads(out)["timeline"] == {
        "first": {"run_id": "r-ok", "type": "run_started", "ts": "2026-11-03T10:00:01Z",
                  "fields": {"workflow_id": "wf"}},
        "last": {"run_id": "r-ok", "type": "heartbeat", "ts": "2026-11-03T10:00:05Z",
                 "fields": {"progress": 1}},
        "counts": {"heartbeat": 1, "run_started": 1}, "failures": []}
    code, out, _ = run_cli("runs", "show", "r-norun", "--data-dir", str(data), "--json")
    assert "timeline" not in json.loads(out)


@pytest.mark.parametrize("run_id", ["r 1 with spaces", "ünï-cödé", 'quote"d', "12"])
def test_run_ids_that_are_not_plain(tmp_path: Path, run_id: str) -> None:
    d = tmp_path / "d"
    assert append_events([ev(run_id, "run_started", 0, workflow_id="w"),
                          ev("other", "run_started", 0), ev(run_id, "heartbeat", 5)],
                         data_dir=d)
    store = RunStore(d)
    assert [e["type"] for e in store.events(run_id)] == ["run_started", "heartbeat"]
    assert store.status(run_id, now=at(6)).status == "running"


def test_an_escaped_run_id_is_found(tmp_path: Path) -> None:
    """A hand-written line may spell the run_id with \\u escapes: still its event."""
    d = tmp_path / "d"
    append_bytes(d / "events_log" / "2026-11.jsonl",
                 b'{"run_id":"\\u0072-1","type":"run_started","ts":"2026-11-03T10:00:00Z"}\n')
    assert RunStore(d).status("r-1", now=at(1)).status == "running"


@pytest.mark.slow  # two compactions
def test_open_runs_agree_with_the_terminal_rows_on_hostile_copies(tmp_path: Path) -> None:
    """Whichever file holds a run's row (a compacted part, a checkpoint, a live tail, a
    repeated copy, next to bad lines), the run is not open; status agrees, with and without
    the lookup shortcuts."""
    d = tmp_path / "d"
    now = datetime.now(UTC)
    runs = [f"h{i}" for i in range(8)]
    assert append_events([{"run_id": r, "type": "run_started", "ts": now - timedelta(days=40),
                           "fields": {"workflow_id": "w"}} for r in runs], data_dir=d)
    old = now - timedelta(days=39)
    write_rows(d, [{**row("h0", "succeeded", 0), "finished_at": old},
                   {**row("h1", "failed", 0), "finished_at": old},
                   {**row("h1", "succeeded", 0), "finished_at": old}])
    compact(d, checkpoint_min_bytes=0)  # h0, h1 in a part
    write_rows(d, [{**row("h2", "succeeded", 0), "finished_at": now}])
    compact(d, checkpoint_min_bytes=0)  # h2 in the live month's checkpoint
    write_rows(d, [{**row("h3", "failed", 0), "finished_at": now},
                   {**row("h3", "failed", 0), "finished_at": now}])  # the tail, twice
    append_bytes(d / "runs_log" / f"{now:%Y-%m}.jsonl",
                 b'garbage\n{"run_id":"h4"\n{"run_id":"","status":"failed"}\n')
    store = RunStore(d)
    lost = [s.run_id for s in store.lost(since="60d")]
    assert sorted(lost) == ["h4", "h5", "h6", "h7"]
    expected = {"h0": "succeeded", "h1": "succeeded", "h2": "succeeded", "h3": "failed",
                "h4": "lost", "h5": "lost"}
    assert {r: store.status(r).status for r in expected} == expected
    store.shortcuts = False  # the general path's rows
    assert {r: store.status(r).status for r in ("h1", "h2", "h3")} == {
        "h1": "succeeded", "h2": "succeeded", "h3": "failed"}


# -- the review of 22:10: warnings of both logs, open runs in show/report, refusals, the future --


def _mantis(*args: str) -> subprocess.CompletedProcess[str]:
    """A real process: the CLI's warnings are log records printed by its logging set-up."""
    return subprocess.run([sys.executable, "-m", "mantis_runs", "runs", *args],
                          capture_output=True, text=True, check=False)


def test_sql_warns_of_malformed_lines_in_either_log_naming_which(
        data: Path, caplog: pytest.LogCaptureFixture) -> None:
    append_bytes(data / "events_log" / "2026-11.jsonl", b"garbage\n")
    query = ["sql", "select count(*) AS n from run_events", "--format", "csv",
             "--data-dir", str(data)]
    p = _mantis(*query)
    assert (p.returncode, p.stdout, p.stderr) == (
        0, f"n\n{len(HISTORY)}\n",
        "warning: skipped 1 malformed line (events_log/2026-11.jsonl: 1)\n")
    append_bytes(data / "runs_log" / "2026-11.jsonl", b"junk\n{\n")
    both = ("warning: skipped 3 malformed lines (2026-11.jsonl: 2, "
            "events_log/2026-11.jsonl: 1)\n")
    assert _mantis(*query).stderr == both
    assert _mantis(*query).stderr == both  # the counts kept in the cache: the same
    with caplog.at_level(logging.WARNING, "mantis_runs"):
        RunStore(data).sql("SELECT 1")
    assert caplog.messages == [both.removeprefix("warning: ").strip()]


OPEN_LOST = ("  status:     lost (source: inference)\n"
             "  workflow:   wf\n"
             "  started:    2026-11-03 10:00:03 UTC\n"
             '  last event: 2026-11-03 10:00:03 UTC run_started {"workflow_id": "wf"}\n'
             "  no terminal row, and no event for over 900s\n"
             "\n"
             "Events:\n"
             "  first:    2026-11-03 10:00:03 UTC run_started\n"
             "  last:     2026-11-03 10:00:03 UTC run_started\n"
             "  counts:   run_started 1\n")


def test_show_and_report_of_a_run_with_events_and_no_terminal_row(data: Path) -> None:
    d = ["--data-dir", str(data)]
    assert run_cli("runs", "show", "r-lost", *d) == (
        0, "Run r-lost: no terminal row\n" + OPEN_LOST, "")
    assert run_cli("runs", "report", "--run-id", "r-lost", *d) == (
        0, "Run report: r-lost: no terminal row\n" + "=" * 35 + "\n\n" + OPEN_LOST, "")
    code, out, err = run_cli("runs", "report", "--run-id", "r-pend", *d, "--format", "json")
    assert (code, err) == (0, "")
    task = {"run_id": "r-pend", "type": "task", "ts": "2026-11-03T10:00:04Z",
            "fields": {"queue": "q1"}}
    assert json.loads(out) == {
        "run": None, "run_id": "r-pend",
        "status": {"run_id": "r-pend", "status": "pending", "source": "inference",
                   "workflow_id": None, "started_at": None, "finished_at": None,
                   "progress": None, "last_event": task, "stale_after_s": 900.0},
        "timeline": {"first": task, "last": task, "counts": {"task": 1}, "failures": []}}
    code, out, _ = run_cli("runs", "show", "r-run", *d, "--json")
    assert (code, json.loads(out)["status"]["status"]) == (0, "lost")
    assert run_cli("runs", "show", "nope", *d) == (1, "", f"error: no run 'nope' in {data}\n")
    assert run_cli("runs", "report", "--run-id", "nope", *d)[0] == 1
    store = RunStore(data)
    running = store.show("r-run", now=at(31))
    assert (running.status.status, running.timeline.counts) == (  # type: ignore[union-attr]
        "running", {"heartbeat": 2, "run_started": 1, "step_started": 1})
    assert store.show("r-ok").run["status"] == "succeeded"  # type: ignore[union-attr]
    assert store.report("r-ok").timeline is not None


def test_show_on_a_store_of_events_only(tmp_path: Path) -> None:
    d = tmp_path / "e"
    assert append_events([ev("a", "run_started", 0, workflow_id="w")], data_dir=d)
    code, out, err = run_cli("runs", "show", "a", "--data-dir", str(d))
    assert (code, out.splitlines()[:2], err) == (
        0, ["Run a: no terminal row", "  status:     lost (source: inference)"], "")
    assert run_cli("runs", "show", "b", "--data-dir", str(d)) == (
        1, "", f"error: no run 'b' in {d}\n")


def test_events_of_an_unknown_run_and_refused_options(data: Path) -> None:
    d = ["--data-dir", str(data)]
    assert run_cli("runs", "events", "nope", *d) == (1, "", f"error: no run 'nope' in {data}\n")
    assert run_cli("runs", "events", "r-norun", *d) == (0, "No events found.\n", "")  # a row
    assert run_cli("runs", "events", "r-run", "--type", "failure", *d) == (
        0, "No events found.\n", "")  # events, none of that type
    with pytest.raises(NotFound, match="no run 'nope' in "):
        RunStore(data).events("nope", arrow=True)
    assert RunStore(data).events("r-norun", arrow=True).num_rows == 0
    refused = "Error: type must be 1 to 64 characters of A-Z a-z 0-9 _ . : -, not 'bad type'"
    for more in ([], ["--follow"], ["r-run"]):
        code, out, err = run_cli("runs", "events", "--type", "ok", "--type", "bad type",
                                 *more, *d)
        assert (code, out, err.splitlines()[-1]) == (2, "", refused)
    with pytest.raises(UsageError, match=r"type must be .*, not 'x y'$"):
        RunStore(data).events(types=["x y"])
    for more, which in ((["--last", "5"], "--last does"), (["--status", ""], "--status does"),
                        (["--last", "20", "--status", "failed"], "--last and --status do")):
        code, out, err = run_cli("runs", "list", "--running", *more, *d)
        assert (code, out, err.splitlines()[-1]) == (
            2, "", f"Error: {which} not apply to --running/--lost: every open run started "
                   "since --since is listed")
    assert run_cli("runs", "list", "--lost", "--last", "1", *d)[0] == 2


def test_an_event_far_in_the_future_is_no_sign_of_life(tmp_path: Path) -> None:
    def state(future_s: float) -> str:
        events: Any = [ev("f", "run_started", 0), ev("f", "heartbeat", 1000 + future_s)]
        found = judge("f", [{**e, "fields": {}} for e in events], None, now=at(1000),
                      stale_after=900)
        assert found is not None
        return found.status

    assert (state(300), state(300.000001), state(86400)) == ("running", "lost", "lost")
    assert state(-900) == "running"  # a heartbeat 100 s after the start: 900 s old
    assert judge("f", [ev("f", "run_started", 0)], None, now=at(10**9),
                 stale_after=float("inf")).status == "running"  # type: ignore[union-attr]
    d = tmp_path / "d"  # the same through the store: a heartbeat written a day ahead
    assert append_events([ev("f", "run_started", 0), ev("f", "heartbeat", 86400)], data_dir=d)
    store = RunStore(d)
    assert store.status("f", now=at(1000)).status == "lost"
    assert store.status("f", now=at(86400 - 300)).status == "running"
    assert [s.run_id for s in store.lost(since=at(-1), now=at(1000))] == ["f"]
