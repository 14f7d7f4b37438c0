"""The events writer on real files: the line format, sizes, hostile input, MANTIS_RUNS_LOG,
sealing, rollback (injected faults and a really full disk) and fsyncs, one batch at a time."""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import mantis_runs.log.writer as writer
from mantis_runs import append_event, append_events, append_run
from mantis_runs.log.events import MAX_EVENT_BYTES, MAX_RUN_ID_CHARS
from mantis_runs.log.writer import SEAL
from test_writer import FaultWrite, WriteFn, _Hostile, _partial_then_raise, _short, warnings_of
from torture.test_writer_torture import run_on_a_64k_tmpfs

TS = "2026-05-13T18:09:34.250000Z"


def shard(data_dir: Path, month: str = "2026-05") -> Path:
    return data_dir / "events_log" / f"{month}.jsonl"


def ev(run_id: object = "r-1", type: object = "heartbeat", ts: object = TS,
       **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type, "ts": ts, "fields": fields}


def expected(run_id: str, type: str, ts: str, fields: dict[str, Any]) -> bytes:
    """The line the format fixes, written out by hand (not through the writer's encoder)."""
    body = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return (f'{{"run_id":"{run_id}","type":"{type}","ts":"{ts}","fields":{body}}}\n'
            .encode())


def debug_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "mantis_runs" and r.levelno == logging.DEBUG]


@pytest.fixture(autouse=True)
def _capture_writer_logs(caplog: pytest.LogCaptureFixture,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="mantis_runs")
    monkeypatch.delenv("MANTIS_RUNS_LOG", raising=False)


# --------------------------------------------------------------------------------------------
# the line format


def test_append_event_writes_the_canonical_line(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    assert append_event("r-1", "step_finished", ts=TS, data_dir=tmp_path, step="think",
                        status="succeeded", seconds=2, note="é ✓") is True
    assert append_event("r-1", "heartbeat", ts="2026-05-13T18:09:35Z", data_dir=tmp_path) is True
    assert shard(tmp_path).read_bytes() == (
        expected("r-1", "step_finished", TS,
                 {"step": "think", "status": "succeeded", "seconds": 2, "note": "é ✓"})
        + b'{"run_id":"r-1","type":"heartbeat","ts":"2026-05-13T18:09:35Z","fields":{}}\n')
    assert sorted(p.name for p in (tmp_path / "events_log").iterdir()) == [".lock",
                                                                          "2026-05.jsonl"]
    assert not (tmp_path / "runs_log").exists()
    assert warnings_of(caplog) == []


def test_default_ts_is_now_in_utc(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    assert append_event("r-1", "run_started", data_dir=tmp_path, workflow_id="wf")
    after = datetime.now(UTC)
    files = list((tmp_path / "events_log").glob("*.jsonl"))
    assert len(files) == 1
    obj = json.loads(files[0].read_bytes())
    assert list(obj) == ["run_id", "type", "ts", "fields"]
    assert obj["ts"].endswith("Z")
    ts = datetime.fromisoformat(obj["ts"][:-1]).replace(tzinfo=UTC)
    assert before - timedelta(microseconds=1) <= ts <= after
    assert files[0].name == f"{ts:%Y-%m}.jsonl"


@pytest.mark.parametrize(("given", "written", "month"), [
    ("2026-05-13T18:09:34Z", "2026-05-13T18:09:34Z", "2026-05"),
    ("2026-06-01T01:30:00+02:00", "2026-05-31T23:30:00Z", "2026-05"),  # May in UTC
    (datetime(2026, 6, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2026-05-31T23:30:00Z",
     "2026-05"),
    (datetime(2026, 6, 1, 1, 30), "2026-06-01T01:30:00Z", "2026-06"),  # naive means UTC
    ("2026-06-01T01:30:00.000007", "2026-06-01T01:30:00.000007Z", "2026-06"),
    (date(2026, 7, 4), "2026-07-04T00:00:00Z", "2026-07"),
    (datetime(999, 5, 1, tzinfo=UTC), "0999-05-01T00:00:00Z", "0999-05"),
])
def test_ts_given_naive_or_aware_is_written_in_utc(tmp_path: Path, given: object, written: str,
                                                   month: str) -> None:
    assert append_events([ev(ts=given)], data_dir=tmp_path)
    assert shard(tmp_path, month).read_bytes() == expected("r-1", "heartbeat", written, {})


def test_fields_are_sanitised_like_a_rows_extra_keys(tmp_path: Path) -> None:
    fields = {"nan": float("nan"), "inf": float("-inf"), "when": datetime(2026, 5, 1, tzinfo=UTC),
              1: "int key", "lone": "a\ud800b", "nested": {"x": [1.5, float("inf"), (2, 3)]},
              "big": 10**30, "none": None, "flag": True}
    assert append_events([{"run_id": 7, "type": "custom.kind:v-1_2", "ts": TS,
                           "fields": fields}], data_dir=tmp_path)
    assert json.loads(shard(tmp_path).read_bytes()) == {
        "run_id": "7", "type": "custom.kind:v-1_2", "ts": TS,
        "fields": {"nan": None, "inf": None, "when": "2026-05-01T00:00:00+00:00",
                   "1": "int key", "lone": "a\ufffdb", "nested": {"x": [1.5, None, [2, 3]]},
                   "big": 10**30, "none": None, "flag": True}}


def test_fields_named_ts_or_data_dir_go_through_append_events(tmp_path: Path) -> None:
    fields = {"ts": "the caller's own", "data_dir": "/elsewhere", "run_id": "x", "type": "y"}
    assert append_events([{"run_id": "r-1", "type": "task", "ts": TS, "fields": fields}],
                         data_dir=tmp_path)
    assert shard(tmp_path).read_bytes() == expected("r-1", "task", TS, fields)


def test_a_batch_is_one_write_and_one_fdatasync_per_month(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert append_event("r-0", "heartbeat", ts=TS, data_dir=tmp_path)  # shard exists already
    writes: list[tuple[str, int]] = []
    syncs: list[str] = []
    real_write, real_sync = os.write, writer._fdatasync

    def spy_write(fd: int, data: bytes) -> int:
        writes.append((os.path.basename(os.readlink(f"/proc/self/fd/{fd}")), len(data)))
        return real_write(fd, data)

    def spy_sync(fd: int) -> None:
        syncs.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_sync(fd)

    monkeypatch.setattr(os, "write", spy_write)
    monkeypatch.setattr(writer, "_fdatasync", spy_sync)
    may = [ev(f"r-{i}", "task", TS, i=i) for i in range(100)]
    assert append_events(may, data_dir=tmp_path)
    assert writes == [("2026-05.jsonl", sum(len(expected(e["run_id"], "task", TS, e["fields"]))
                                            for e in may))]
    assert syncs == ["2026-05.jsonl"]
    writes.clear()
    syncs.clear()
    # months in the caller's order June, May, June: one write per month, oldest month first,
    # each month's events in the caller's order
    june = "2026-06-02T00:00:00Z"
    batch = [ev("a", ts=june), ev("b"), ev("c", ts=june)]
    assert append_events(batch, data_dir=tmp_path)
    assert [name for name, _ in writes] == ["2026-05.jsonl", "2026-06.jsonl"]
    assert syncs == ["2026-05.jsonl", "2026-06.jsonl"]
    assert shard(tmp_path, "2026-06").read_bytes() == (expected("a", "heartbeat", june, {})
                                                       + expected("c", "heartbeat", june, {}))
    assert shard(tmp_path).read_bytes().endswith(expected("b", "heartbeat", TS, {}))
    # between appends, only the shard written last stays open
    assert list(writer._handles[str(tmp_path / "events_log")].shards) == [
        str(shard(tmp_path, "2026-06"))]


def test_an_empty_batch_is_durable_and_touches_nothing(tmp_path: Path) -> None:
    assert append_events([], data_dir=tmp_path / "d") is True
    assert append_events(iter(()), data_dir=tmp_path / "d") is True
    assert not (tmp_path / "d").exists()


def test_rows_and_events_have_their_own_lock_and_cached_handles(tmp_path: Path) -> None:
    assert append_run({"run_id": "r-1", "workflow_id": "wf", "status": "succeeded",
                       "total_time_s": 1.0, "finished_at": TS}, data_dir=tmp_path)
    assert append_event("r-1", "heartbeat", ts=TS, data_dir=tmp_path)
    for log in ("runs_log", "events_log"):
        h = writer._handles[str(tmp_path / log)]
        assert os.readlink(f"/proc/self/fd/{h.lock_fd}") == str(tmp_path / log / ".lock")
        assert [os.readlink(f"/proc/self/fd/{s.fd}") for s in h.shards.values()] == [
            str(tmp_path / log / "2026-05.jsonl")]


# --------------------------------------------------------------------------------------------
# sizes


def test_an_event_exactly_at_the_cap_is_written_untouched(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    fill = MAX_EVENT_BYTES - len(expected("r-1", "heartbeat", TS, {"m": ""}))
    assert append_events([ev(m="x" * fill)], data_dir=tmp_path)
    assert len(shard(tmp_path).read_bytes()) == MAX_EVENT_BYTES
    assert warnings_of(caplog) == []


def test_long_string_fields_are_trimmed_longest_first(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    big, mid = "b" * 20_000, "m" * 3_000
    assert append_events([ev(big=big, mid=mid, small="s", n=1)], data_dir=tmp_path)
    data = shard(tmp_path).read_bytes()
    assert len(data) == MAX_EVENT_BYTES  # the longest cut exactly to the cap
    f = json.loads(data)["fields"]
    assert (f["mid"], f["small"], f["n"]) == (mid, "s", 1)
    kept = f["big"].split("…")[0]
    assert kept == "b" * len(kept) and f["big"] == f"{kept}…[truncated {20_000 - len(kept)} bytes]"
    assert warnings_of(caplog) == [
        "event (run 'r-1', type 'heartbeat') recorded with changes: event (run 'r-1', type "
        f"'heartbeat'): field 'big' trimmed to fit {MAX_EVENT_BYTES} bytes"]


def test_two_long_fields_are_both_cut_when_one_is_not_enough(tmp_path: Path) -> None:
    assert append_events([ev(a="a" * 20_000, b="b" * 17_000)], data_dir=tmp_path)
    data = shard(tmp_path).read_bytes()
    assert len(data) == MAX_EVENT_BYTES
    f = json.loads(data)["fields"]
    assert f["a"] == "…[truncated 20000 bytes]"  # b alone is over the cap: a is cut to nothing
    kept = f["b"].split("…")[0]
    assert kept == "b" * len(kept) and f["b"] == f"{kept}…[truncated {17_000 - len(kept)} bytes]"


def test_an_event_too_large_without_strings_to_cut_is_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert append_events([ev(numbers=list(range(5000)))], data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1
    assert msgs[0].startswith("events not recorded: event (run 'r-1', type 'heartbeat'): event "
                              "is ")
    assert msgs[0].endswith(f"bytes, over the {MAX_EVENT_BYTES}-byte cap")
    assert not (tmp_path / "events_log").exists()


# --------------------------------------------------------------------------------------------
# hostile input: refused whole, one warning, never raises


@pytest.mark.parametrize(("event", "why"), [
    (ev(run_id=None), "run_id is missing or empty"),
    (ev(run_id=""), "run_id is missing or empty"),
    (ev(run_id="a\nb"), "run_id holds a control character: 'a\\nb'"),
    (ev(run_id="r\x00"), "run_id holds a control character"),
    (ev(run_id="r\x9b"), "run_id holds a control character"),
    (ev(run_id="r" * (MAX_RUN_ID_CHARS + 1)), f"longer than {MAX_RUN_ID_CHARS} characters"),
    (ev(type=""), "type must be 1 to 64 characters"),
    (ev(type="has space"), "not 'has space'"),
    (ev(type="x" * 65), "type must be"),
    (ev(type="é"), "type must be"),
    (ev(type="a/../b"), "type must be"),
    (ev(type="step\n"), "type must be"),
    (ev(type=5), "type must be text, not int"),
    (ev(type=None), "type must be text, not NoneType"),
    (ev(ts="yesterday"), "ts is not a timestamp: 'yesterday'"),
    (ev(ts="0001-01-01T00:00:00+01:00"), "ts is not a timestamp"),
    (ev(ts=12345), "ts is not a timestamp: '12345'"),
    ({"run_id": "r-1", "type": "t", "fields": [1, 2]}, "fields must be a dict, not list"),
    ({"run_id": "r-1", "type": "t", "step": "x"}, "unknown key(s) step: an event has only "
                                                   "run_id, type, ts, fields"),
    (ev(thing={1, 2}), "value of type set cannot be written as JSON"),
    (["r-1", "heartbeat", {}], "an event must be a dict, not list"),
])
def test_a_bad_event_refuses_its_whole_batch(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                             event: Any, why: str) -> None:
    batch = [ev("good-1"), event, ev("good-2")]
    assert append_events(batch, data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith("events not recorded: event 2 of 3")
    assert why in msgs[0]
    assert "row" not in msgs[0].lower()  # an event is not called a row (nor a RowRefused)
    assert list(tmp_path.iterdir()) == []  # not even events_log/


def test_limits_themselves_are_accepted(tmp_path: Path) -> None:
    rid, etype = "r" * MAX_RUN_ID_CHARS, "T" * 64
    assert append_events([ev(rid, etype), ev("ünï ✓", "a.b:c-d_e")], data_dir=tmp_path)
    assert [(o["run_id"], o["type"]) for o in map(json.loads, shard(tmp_path).read_bytes()
                                                   .splitlines())] == [(rid, etype),
                                                                       ("ünï ✓", "a.b:c-d_e")]


class _RaisingDict(dict[str, Any]):
    def get(self, *a: Any) -> Any:
        raise RuntimeError("no get")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iter")


def _raising_iterator() -> Iterator[dict[str, Any]]:
    yield ev()
    raise KeyError("the caller's bug")


def _self_referencing() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    fields["me"] = fields
    return {"run_id": "r-1", "type": "t", "fields": fields}


@pytest.mark.parametrize(("events", "why"), [
    (None, "events must be an iterable of dicts, not a NoneType"),
    (5, "TypeError"),
    ("heartbeat", "events must be an iterable of dicts, not a str"),
    (ev(), "events must be an iterable of dicts, not a dict"),
    (_raising_iterator(), "KeyError: \"the caller's bug\""),
    ([_RaisingDict(run_id="r-1")], "event: RuntimeError: no get"),
    ([ev(run_id=_Hostile())], "event (run '<unprintable _Hostile>', type 'heartbeat'): "
                              "RuntimeError: no text"),
    ([ev(type=_Hostile())], "type must be text, not _Hostile"),
    ([ev(ts=_Hostile())], "<unprintable _Hostile>"),
    ([{"run_id": "r", "type": "t", "fields": {_Hostile(): 1}}], "RuntimeError: no text"),
    ([_self_referencing()], "RecursionError"),
])
def test_odd_objects_never_make_it_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                         events: Any, why: str) -> None:
    assert append_events(events, data_dir=tmp_path) is False
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and msgs[0].startswith("events not recorded: "), msgs
    assert why in msgs[0]
    assert len(msgs[0]) < 800
    assert list(tmp_path.iterdir()) == []


def test_append_event_with_a_hostile_run_id_returns_false(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    assert append_event(_Hostile(), "heartbeat", data_dir=tmp_path) is False  # type: ignore[arg-type]
    assert len(warnings_of(caplog)) == 1
    huge = "r" * 1_000_000
    assert append_event(huge, "x" * 1_000_000, data_dir=tmp_path) is False
    assert len(warnings_of(caplog)[1]) < 800


@pytest.mark.parametrize(("link", "why"), [
    ("events_log", "is a symbolic link"), ("events_log/.lock", "Errno 40"),
    ("events_log/2026-05.jsonl", "Errno 40")])
def test_a_symlink_in_events_log_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                            link: str, why: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir() if link == "events_log" else victim.write_bytes(b"precious\n")
    data = tmp_path / "data"
    data.mkdir()
    if link != "events_log":
        (data / "events_log").mkdir()
    (data / link).symlink_to(victim)
    assert append_event("r-1", "heartbeat", ts=TS, data_dir=data) is False
    assert (list(victim.iterdir()) == [] if victim.is_dir()
            else victim.read_bytes() == b"precious\n")
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and why in msgs[0], msgs


# --------------------------------------------------------------------------------------------
# MANTIS_RUNS_LOG


ROW = {"run_id": "r-1", "workflow_id": "wf", "status": "succeeded", "total_time_s": 1.0,
       "finished_at": TS}


@pytest.mark.parametrize("value", ["0", "off", "false", "OFF", " False ", "\tfalse\n", "Off"])
def test_mantis_runs_log_off_writes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MANTIS_RUNS_LOG", value)
    assert append_run(ROW, data_dir=tmp_path) is False
    assert append_event("r-1", "heartbeat", data_dir=tmp_path) is False
    assert append_events([ev()], data_dir=tmp_path) is False
    assert append_events([], data_dir=tmp_path) is False
    assert list(tmp_path.iterdir()) == []
    assert warnings_of(caplog) == []
    assert debug_of(caplog) == [
        "run r-1 not recorded: writing is off ($MANTIS_RUNS_LOG)"] + [
        "events not recorded: writing is off ($MANTIS_RUNS_LOG)"] * 3


@pytest.mark.parametrize("value", ["1", "on", "true", "", "no", "00", "of f"])
def test_other_mantis_runs_log_values_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            value: str) -> None:
    monkeypatch.setenv("MANTIS_RUNS_LOG", value)
    assert append_run(ROW, data_dir=tmp_path) is True
    assert append_event("r-1", "heartbeat", ts=TS, data_dir=tmp_path) is True


def test_mantis_runs_log_is_read_at_every_call(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert append_event("a", "heartbeat", ts=TS, data_dir=tmp_path)
    monkeypatch.setenv("MANTIS_RUNS_LOG", "0")
    assert not append_event("b", "heartbeat", ts=TS, data_dir=tmp_path)
    monkeypatch.delenv("MANTIS_RUNS_LOG")
    assert append_event("c", "heartbeat", ts=TS, data_dir=tmp_path)
    assert [json.loads(x)["run_id"] for x in shard(tmp_path).read_bytes().splitlines()] == [
        "a", "c"]


# --------------------------------------------------------------------------------------------
# sealing, rollback, fsync


def test_a_torn_tail_is_sealed_before_the_batch(tmp_path: Path) -> None:
    good = expected("good", "heartbeat", TS, {})
    torn = expected("torn", "heartbeat", TS, {"pad": "x" * 500})[:300]
    (tmp_path / "events_log").mkdir()
    shard(tmp_path).write_bytes(good + torn)
    assert append_events([ev("n1"), ev("n2")], data_dir=tmp_path)
    new = expected("n1", "heartbeat", TS, {}) + expected("n2", "heartbeat", TS, {})
    assert shard(tmp_path).read_bytes() == good + torn + SEAL + new
    assert append_events([ev("n3")], data_dir=tmp_path)  # no seal needed any more
    assert shard(tmp_path).read_bytes() == (good + torn + SEAL + new
                                            + expected("n3", "heartbeat", TS, {}))


@pytest.mark.parametrize(("fault", "reason"), [
    (_short(136), "short write: 136 of"),
    (_short(0), "short write: 0 of"),
    (_partial_then_raise(136, errno.ENOSPC), "No space left on device"),
    (_partial_then_raise(77, errno.EIO), "Input/output error"),
])
@pytest.mark.parametrize("seed", [b"", b"GOOD", b"TORN"])
def test_a_failed_write_rolls_back_the_whole_batch(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        fault: WriteFn, reason: str, seed: bytes) -> None:
    """The June write fails: June is rolled back, and so is May, written just before it."""
    june = "2026-06-02T00:00:00Z"
    content = {b"": b"", b"GOOD": expected("good", "heartbeat", TS, {}),
               b"TORN": expected("good", "heartbeat", TS, {})[:50]}[seed]
    (tmp_path / "events_log").mkdir()
    for month in ("2026-05", "2026-06"):
        shard(tmp_path, month).write_bytes(content)
    asked = FaultWrite(monkeypatch).install(shard(tmp_path, "2026-06"), fault)
    batch = [ev("m1"), ev("j1", ts=june, pad="p" * 700), ev("m2")]
    assert append_events(batch, data_dir=tmp_path) is False
    sep = SEAL if seed == b"TORN" else b""
    j1 = expected("j1", "heartbeat", june, {"pad": "p" * 700})
    assert asked == [len(sep + j1)]  # one write, no retry
    for month in ("2026-05", "2026-06"):
        assert shard(tmp_path, month).read_bytes() == content  # both rolled back
    msgs = warnings_of(caplog)
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith("batch of 3 events not recorded: ") and reason in msgs[0]

    monkeypatch.undo()
    assert append_events(batch, data_dir=tmp_path) is True
    assert shard(tmp_path, "2026-06").read_bytes() == content + sep + j1


def test_a_failed_fdatasync_is_not_retried_and_says_what_may_be_on_disk(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """May is synced, June's fdatasync fails: False, and May's events stay (documented)."""
    june = "2026-06-02T00:00:00Z"
    calls: list[str] = []
    real = writer._fdatasync

    def failing_in_june(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        calls.append(name)
        if name == "2026-06.jsonl":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    monkeypatch.setattr(writer, "_fdatasync", failing_in_june)
    assert append_events([ev("m1"), ev("j1", ts=june)], data_dir=tmp_path) is False
    assert calls == ["2026-05.jsonl", "2026-06.jsonl"]
    msgs = warnings_of(caplog)
    assert len(msgs) == 1 and "Input/output error" in msgs[0]
    assert shard(tmp_path).read_bytes() == expected("m1", "heartbeat", TS, {})
    assert shard(tmp_path, "2026-06").read_bytes() == expected("j1", "heartbeat", june, {})


# --------------------------------------------------------------------------------------------
# a really full disk (tmpfs of 64 KiB in a user + mount namespace), as for rows

_ENOSPC = """
import base64, json, logging, sys
from pathlib import Path
from mantis_runs import append_events
mnt = Path(sys.argv[1])
warnings = []
class Grab(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger("mantis_runs").addHandler(Grab())
filler = mnt / "filler"
filler.write_bytes(b"f" * 8192)  # freed later: the disk is full, then gets space back
ok, failed = [], []
def attempt(b, n, pad):
    batch = [{"run_id": f"b{b}-{i}", "type": "task", "ts": "2026-05-13T18:09:34Z",
              "fields": {"pad": "x" * pad}} for i in range(n)]
    (ok if append_events(batch, mnt / "data") else failed).append(b)
b = 0
while not failed and b < 1000:
    attempt(b, 5, 200); b += 1
for n in [5, 5, 1, 1, 20]:
    attempt(b, n, 50); b += 1
failed_while_full = len(failed)
filler.unlink()
for _ in range(3):
    attempt(b, 5, 200); b += 1
shard = mnt / "data" / "events_log" / "2026-05.jsonl"
print(json.dumps({"ok": ok, "failed": failed, "warnings": warnings,
                  "failed_while_full": failed_while_full,
                  "file": base64.b64encode(shard.read_bytes()).decode()}))
"""


def test_real_enospc_keeps_batches_whole(tmp_path: Path) -> None:
    res = run_on_a_64k_tmpfs(tmp_path, _ENOSPC)
    data = base64.b64decode(res["file"])
    assert data.endswith(b"\n")
    run_ids = [json.loads(x)["run_id"] for x in data.splitlines()]  # every line parses
    batches = [int(rid[1:].split("-")[0]) for rid in run_ids]
    assert sorted(set(batches)) == res["ok"]  # the acknowledged batches, and only them...
    for b in res["ok"]:  # ...each whole, exactly once
        n = batches.count(b)
        assert n in (1, 5, 20) and run_ids[batches.index(b):batches.index(b) + n] == [
            f"b{b}-{i}" for i in range(n)]
    first = res["failed"][0]
    assert 20 < first < 80  # ~64 KiB of ~1.4 KB batches
    assert len(res["failed"]) == res["failed_while_full"] >= 3  # all failed while full...
    assert first + 5 in res["failed"]  # ...the batch of 20 among them (smaller ones may fit)
    assert res["ok"][-3:] == list(range(max(res["failed"]) + 1, max(res["failed"]) + 4))
    assert len(res["warnings"]) == len(res["failed"])
    assert all("No space left on device" in w or "short write" in w for w in res["warnings"])


def test_an_event_no_trimming_can_fit_is_refused_without_trying_each_field(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Thousands of short fields over the cap: cutting a value shorter than the marker only
    lengthens it, and cutting every longer one to the marker still leaves the line over the cap,
    so the event is refused without re-encoding the line once per field (that was quadratic:
    12 s of CPU for 6,000 fields). A long value among them is still trimmed and the event kept."""
    import mantis_runs.log.events as events

    tried: list[str] = []
    real = events.trim_to_fit

    def counted(holder: dict[str, Any], key: str, *rest: Any) -> bytes:
        tried.append(key)
        return real(holder, key, *rest)

    monkeypatch.setattr(events, "trim_to_fit", counted)
    many = {f"k{i}": "v" * 10 for i in range(3000)}
    assert append_events([{"run_id": "r-1", "type": "t", "fields": many}],
                         data_dir=tmp_path) is False
    assert tried == [] and "over the 16384-byte cap" in caplog.text
    fits = {"long": "x" * 100_000, **{f"k{i}": "v" * 10 for i in range(100)}}
    assert append_events([{"run_id": "r-2", "type": "t", "fields": fits}], data_dir=tmp_path)
    assert tried == ["long"]
    line = (tmp_path / "events_log").glob("*.jsonl").__next__().read_text()
    assert len(line.encode()) <= MAX_EVENT_BYTES + 1 and "truncated" in line
