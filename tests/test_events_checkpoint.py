"""Checkpoints of the live events month (docs/events.md, "Reading events"; docs/compaction.md,
"Checkpoints"): every events read gives the same answer with the checkpoint as from the whole
shard (``event_files.USE_CHECKPOINTS = False``), on hostile shards (bad lines, a torn tail, events
appended after the checkpoint, a shard replaced or truncated after it, a damaged checkpoint), and
the checkpoint is used exactly when it is valid; a compactor killed with kill -9 while it
publishes one leaves readers correct; ``--follow`` prints the same with one.

Events are written by the real writer (``append_events``); bad lines by hand."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs import RunStore, append_events
from mantis_runs.cli.shell import _script
from mantis_runs.compaction import compact
from mantis_runs.compaction.checkpoints import write_checkpoint
from mantis_runs.errors import NotFound
from mantis_runs.log import checkpoint
from mantis_runs.log.layout import events_root, scan_event_months
from mantis_runs.store import event_files
from mantis_runs.store.events import EventFilter, reader
from mantis_runs.store.follow import Follower
from mantis_runs.units import human_bytes

#: the live month is December; November is closed
NOW = datetime(2026, 12, 20, tzinfo=UTC)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RUNS = ("r-b", "r-nov", "r-nosuch")


def ev(run_id: str, type_: str, minutes: float, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type_, "ts": T0 + timedelta(minutes=minutes),
            "fields": fields}


def history() -> list[dict[str, Any]]:
    """A closed month and the live one: runs across both, equal timestamps (their order is the
    order written), failures, heartbeats, a pending run."""
    out = [ev("r-nov", "run_started", -60 * 24 * 3, workflow_id="wf"),
           ev("r-nov", "heartbeat", -60, progress=0.25),
           ev("r-a", "run_started", 0, workflow_id="wf"),
           ev("r-b", "run_started", 1, workflow_id="wf2"),
           ev("r-c", "task", 2, queue="q")]
    for i in range(40):
        out.append(ev("r-a", "heartbeat", 3 + i, progress=i / 40, step=f"s{i % 3}"))
        out.append(ev("r-b", "step_finished", 3 + i // 4, step=f"t{i}"))  # ties by fours
    out += [ev("r-b", "failure", 50, message="boom", kind="timeout"),
            ev("r-nov", "heartbeat", 51, progress=0.5)]
    return out


def make(d: Path) -> Path:
    """An events-only store: November and December, bad lines in the live shard."""
    assert append_events(history(), data_dir=d)
    live = events_root(d) / "2026-12.jsonl"
    append_bytes(live, b'{"run_id": "r-x", "type": "t"}\nnot json\n\n[1, 2]\n')
    assert append_events([ev("r-a", "heartbeat", 60, progress=0.9)], data_dir=d)
    return live


def checkpoint_events(d: Path, first: str = "2026-12") -> None:
    """``compact`` (November into a part, unless ``first`` leaves it open, as ``--month`` of
    another month does), then a checkpoint of each live events month from ``first`` on (what
    compaction/run.py's checkpoint step does for the events kind)."""
    compact(d, now=NOW, checkpoint_min_bytes=1,
            months=None if first == "2026-12" else ["2026-10"])
    for month, mf in scan_event_months(d).items():
        if mf.live is not None and month >= first:
            write_checkpoint(d, d / ".tmp", month, mf.live, 1, "400MB", lambda _m: None,
                             "events")
    shutil.rmtree(d / ".tmp", ignore_errors=True)


def used(d: Path, month: str = "2026-12") -> bool:
    """Whether readers read the live shard of ``month`` through its checkpoint."""
    with reader(d):
        return any(p.parent.name == "checkpoints" for p in event_files.event_months(d)[month])


def answers(d: Path) -> dict[str, Any]:
    """Every events read of the library and the CLI (warnings included), as plain values."""
    handler = _Warnings()
    logging.getLogger("mantis_runs").addHandler(handler)
    try:
        out = _answers(d)
    finally:
        logging.getLogger("mantis_runs").removeHandler(handler)
    return {**out, "warnings": handler.messages}


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _answers(d: Path) -> dict[str, Any]:
    store = RunStore(d)
    out: dict[str, Any] = {f"events {rid}": _or_error(store, rid) for rid in RUNS}
    out["all"] = store.events()
    out["last 7"] = store.events(last=7)
    out["filters"] = store.events(types=["heartbeat"], fields={"step": "s1"},
                                  since="2026-12-01T08:10:00Z")
    out["workflow"] = store.events(workflow_id="wf2", last=5)
    out["arrow"] = store.events("r-b", arrow=True, last=3).to_pylist()
    out["status"] = store.status("r-c", now=NOW, stale_after=86400 * 30).to_json()
    out["show"] = store.show("r-a", now=NOW).to_json()
    out["open"] = [s.to_json() for s in store.open_runs(since="2026-11-01", now=NOW,
                                                        stale_after=86400 * 30)]
    out["cli"] = run_cli("runs", "list", "--running", "--lost", "--since", "60d", "--data-dir",
                         str(d))
    return out


def _or_error(store: RunStore, run_id: str) -> Any:
    try:
        return store.events(run_id)
    except NotFound as exc:
        return str(exc)


def whole(d: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``answers`` from the whole shards: the checkpoint switched off."""
    with monkeypatch.context() as m:
        m.setattr(event_files, "USE_CHECKPOINTS", False)
        return answers(d)


def test_the_checkpoint_is_sorted_and_grouped_as_an_events_part(tmp_path: Path) -> None:
    d = tmp_path / "d"
    make(d)
    checkpoint_events(d)
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None and cp.bad_lines == 3 and cp.lines == 87 + 3
    table = pq.read_table(events_root(d) / "checkpoints" / cp.parquet)
    assert table.num_rows == cp.rows == 87
    keys = list(zip(table["run_id"].to_pylist(), table["ts"].to_pylist(),
                    table["seq"].to_pylist(), strict=True))
    assert keys == sorted(keys)
    meta = pq.ParquetFile(events_root(d) / "checkpoints" / cp.parquet).metadata
    assert meta.row_group(0).column(0).statistics.has_min_max  # run_id found by statistics
    assert set(table["file"].to_pylist()) == {"2026-12.jsonl"}


def _appended(live: Path, d: Path) -> None:
    assert append_events([ev("r-c", "run_started", 70, workflow_id="wf"),
                          ev("r-b", "step_finished", 13, step="tie-after")], data_dir=d)


def _torn(live: Path, d: Path) -> None:
    append_bytes(live, b'{"run_id": "r-a", "type": "heart')  # a writer killed mid-line
    assert append_events([ev("r-a", "heartbeat", 80, progress=1.0)], data_dir=d)  # sealed
    append_bytes(live, b'{"run_id": "r-b", "ty')  # and a torn tail left at the end


def _replaced(live: Path, d: Path) -> None:
    copy = live.with_name("copy")
    shutil.copyfile(live, copy)
    os.replace(copy, live)  # the same bytes, another inode
    _appended(live, d)


def _truncated(live: Path, d: Path) -> None:
    data = live.read_bytes()
    live.write_bytes(data[: len(data) // 2].rsplit(b"\n", 1)[0] + b"\n")  # same inode
    _appended(live, d)
    _appended(live, d)
    _appended(live, d)


def _damaged(live: Path, d: Path) -> None:
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None
    path = events_root(d) / "checkpoints" / cp.parquet
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    _appended(live, d)


def agree(d: Path, monkeypatch: pytest.MonkeyPatch, valid: bool, bad: int) -> dict[str, Any]:
    """Every read with the checkpoint (used when ``valid``) as from the whole shard, with ``bad``
    malformed lines in the warning."""
    assert used(d) is valid
    got = answers(d)
    assert got == whole(d, monkeypatch)
    warning = f"skipped {bad} malformed lines (events_log/2026-12.jsonl: {bad})"
    assert (warning in got["warnings"]) is (bad > 0)
    return got


def test_every_events_read_agrees_with_the_whole_shard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid checkpoint, then events appended after it, then a torn line sealed by the next
    append and a torn tail, then the next checkpoint built on the last one."""
    d = tmp_path / "d"
    live = make(d)
    checkpoint_events(d)
    agree(d, monkeypatch, True, 3)
    _appended(live, d)
    agree(d, monkeypatch, True, 3)
    _torn(live, d)
    got = agree(d, monkeypatch, True, 5)  # + the sealed line and the torn tail
    checkpoint_events(d)
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None and cp.bad_lines == 4 and live.stat().st_size > cp.offset
    assert agree(d, monkeypatch, True, 5) == got


@pytest.mark.parametrize(("change", "bad"), [
    ("replaced", 3), ("truncated", 0), ("damaged", 3)])
def test_a_checkpoint_that_does_not_match_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str, bad: int) -> None:
    d = tmp_path / "d"
    live = make(d)
    checkpoint_events(d)
    {"replaced": _replaced, "truncated": _truncated, "damaged": _damaged}[change](live, d)
    agree(d, monkeypatch, False, bad)


def test_a_checkpoint_of_a_month_with_a_part_comes_after_the_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Late events of a compacted month, checkpointed (a month --month left out): the
    checkpoint's rows are numbered after the part's, so the order written is kept."""
    d = tmp_path / "d"
    make(d)
    compact(d, now=NOW, checkpoint_min_bytes=None)
    late = [ev("r-nov", "heartbeat", -60 * 24, progress=0.3 + i / 100) for i in range(3)]
    assert append_events([ev("r-nov", "failover", -60 * 24 * 3, region="eu"), *late],
                         data_dir=d)
    checkpoint_events(d, first="2026-11")
    assert used(d, "2026-11")
    mf = scan_event_months(d)["2026-11"]
    cp = checkpoint.load(events_root(d), "2026-11")
    assert cp is not None and len(mf.parts) == 1
    seqs = pq.read_table(events_root(d) / "checkpoints" / cp.parquet)["seq"].to_pylist()
    assert min(seqs) > max(pq.read_table(mf.parts[0])["seq"].to_pylist())
    assert append_events(late, data_dir=d)  # and a tail
    got = answers(d)
    assert got == whole(d, monkeypatch)
    assert [e["type"] for e in got["events r-nov"]][:3] == ["run_started", "failover",
                                                            "heartbeat"]


def test_follow_prints_the_same_across_a_checkpoint(tmp_path: Path) -> None:
    d = tmp_path / "d"
    make(d)
    since = EventFilter(since=T0)
    backlog = Follower(d, since)
    new_only = Follower(d, EventFilter())
    with reader(d, locked=False) as r:
        first = backlog.poll(r)
        assert new_only.poll(r) == []
        checkpoint_events(d)
        _appended(d / "events_log" / "2026-12.jsonl", d)
        later = backlog.poll(r)
        assert new_only.poll(r) == later
        checkpoint_events(d)
        assert backlog.poll(r) == [] and new_only.poll(r) == []
        backlog.close()
        new_only.close()
    written = [e for e in history() if e["ts"] >= T0] + [ev("r-a", "heartbeat", 60, progress=0.9),
               ev("r-c", "run_started", 70, workflow_id="wf"),
               ev("r-b", "step_finished", 13, step="tie-after")]
    assert [(e["run_id"], e["type"], e["ts"], e["fields"]) for e in [*first, *later]] == [
        (e["run_id"], e["type"], e["ts"], e["fields"]) for e in written]
    assert len(later) == 2


_KILLER = """
import os, signal, sys
from pathlib import Path
from mantis_runs.compaction import checkpoints
from mantis_runs.log.layout import events_root
d, renames = Path(sys.argv[1]), int(sys.argv[2])
real = os.rename
def rename(src, dst):
    global renames
    if renames == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    renames -= 1
    real(src, dst)
checkpoints.os.rename = rename
live = events_root(d) / "2026-12.jsonl"
checkpoints.write_checkpoint(d, d / ".tmp", "2026-12", live, 1, "400MB", print, "events")
"""


@pytest.mark.parametrize("renames", [0, 1])
def test_a_compactor_killed_while_it_publishes_leaves_readers_correct(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renames: int) -> None:
    """kill -9 before the checkpoint file is renamed into place (0), and between it and the
    manifest (1): readers use the last checkpoint, and the next compaction cleans up."""
    d = tmp_path / "d"
    live = make(d)
    checkpoint_events(d)
    before = checkpoint.load(events_root(d), "2026-12")
    _appended(live, d)
    with monkeypatch.context() as m:
        m.setattr(event_files, "USE_CHECKPOINTS", False)
        expected = few(d)
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(d), str(renames)],
                          capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint.load(events_root(d), "2026-12") == before  # the manifest was not replaced
    assert used(d) and few(d) == expected
    left = sorted(p.name for p in (events_root(d) / "checkpoints").iterdir())
    assert len(left) == 3 + renames  # manifest, file, the manifest in progress (+ new file)
    checkpoint_events(d)  # recovery removes the leftovers, the next checkpoint covers it all
    left = sorted(p.name for p in (events_root(d) / "checkpoints").iterdir())
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None and cp != before and left == sorted([cp.parquet, "2026-12.json"])
    assert cp.offset == live.stat().st_size and few(d) == expected


def few(d: Path) -> list[Any]:
    """A few events reads: across runs, one run, open runs."""
    store = RunStore(d)
    return [store.events(), store.events("r-b"), store.open_runs(since="60d", now=NOW)]


def test_recovery_removes_stale_events_checkpoints(tmp_path: Path) -> None:
    d = tmp_path / "d"
    live = make(d)
    checkpoint_events(d)
    folder = events_root(d) / "checkpoints"
    (folder / "2026-12-0123456789abcdef.parquet").write_bytes(b"stray")
    _replaced(live, d)  # the checkpoint no longer describes the live shard
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None and not used(d)
    report = compact(d, now=NOW, checkpoint_min_bytes=None)
    assert sorted(report.recovered) == [f"events_log/checkpoints/{n}" for n in sorted(
        ["2026-12-0123456789abcdef.parquet", "2026-12.json", cp.parquet])]
    assert os.listdir(folder) == []


def test_compact_writes_the_events_checkpoint(tmp_path: Path) -> None:
    d = tmp_path / "d"
    make(d)
    report = compact(d, now=NOW, checkpoint_min_bytes=1)
    assert [(c.shard, c.parquet.split("/")[:2]) for c in report.checkpoints] == [
        ("events_log/2026-12.jsonl", ["events_log", "checkpoints"])]
    assert used(d)
    code, out, _err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert code == 0 and "checkpoint" not in out  # nothing new
    _appended(d / "events_log" / "2026-12.jsonl", d)
    code, out, _err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert code == 0 and "2026-12: checkpoint of live events_log/2026-12.jsonl now covers" in out


def test_a_dry_run_says_which_events_checkpoint_compact_would_write(tmp_path: Path) -> None:
    d = tmp_path / "d"
    live = make(d)
    args = ("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    code, out, _err = run_cli(*args, "--dry-run")
    size = live.stat().st_size
    assert code == 0 and f"events 2026-12: checkpoint 2026-12.jsonl ({human_bytes(size)} not " \
        "in its checkpoint)" in out
    assert not (events_root(d) / "checkpoints").exists()  # a dry run writes nothing
    assert run_cli(*args)[0] == 0
    code, out, _err = run_cli(*args, "--dry-run")
    assert code == 0 and "events 2026-12" not in out  # nothing new since
    _appended(live, d)
    code, out, _err = run_cli(*args, "--dry-run")
    grown = human_bytes(live.stat().st_size - size)
    assert code == 0 and f"events 2026-12: checkpoint 2026-12.jsonl ({grown} not in its" in out


def test_verify_checks_the_events_checkpoint(tmp_path: Path) -> None:
    d = tmp_path / "d"
    make(d)
    checkpoint_events(d)
    code, out, _err = run_cli("runs", "verify", "--data-dir", str(d), "--json")
    assert code == 0 and json.loads(out)["checkpoints"] == 1
    _damaged(d / "events_log" / "2026-12.jsonl", d)
    cp = checkpoint.load(events_root(d), "2026-12")
    assert cp is not None
    code, out, _err = run_cli("runs", "verify", "--data-dir", str(d), "--json")
    assert code == 1 and [f["path"] for f in json.loads(out)["damaged"]] == [
        f"events_log/checkpoints/{cp.parquet}"]


# -- the run_events views (docs/sql.md): the live events month as its checkpoint plus a tail ----

VIEW_SQL = {
    "count": "SELECT count(*) AS n FROM run_events",
    "rows": "SELECT run_id, type, ts, fields::VARCHAR AS f, month, file FROM run_events "
            "ORDER BY ALL",
    "join": "SELECT r.status, e.type, count(*) AS n FROM run_events e JOIN runs r "
            "USING (run_id) GROUP BY ALL ORDER BY ALL",
    "bad": "FROM run_events_bad_lines",
}


def with_runs(d: Path) -> Path:
    """``make``, and finished runs r-a (December) and r-nov (November) for the join."""
    live = make(d)
    write_rows(d, [{"run_id": rid, "workflow_id": "wf", "status": status, "total_time_s": 2.0,
                    "created_at": T0 + timedelta(days=day, minutes=-5),
                    "finished_at": T0 + timedelta(days=day)}
                   for rid, status, day in (("r-a", "succeeded", 1), ("r-nov", "failed", -2))])
    return live


def view_answers(d: Path, *, shortcuts: bool = True) -> dict[str, Any]:
    """The views' answers (``RunStore.sql``, its warning included); ``shortcuts`` False: every
    events shard read whole. And whether the views read the events checkpoint."""
    store = RunStore(d)
    store.shortcuts = shortcuts
    handler = _Warnings()
    logging.getLogger("mantis_runs").addHandler(handler)
    try:
        out: dict[str, Any] = {k: store.sql(q).to_pylist() for k, q in VIEW_SQL.items()}
    finally:
        logging.getLogger("mantis_runs").removeHandler(handler)
    con = store.connect()
    try:
        (files,), = con.sql("SELECT getvariable('mantis_event_files')").fetchall()
    finally:
        con.close()
    return {**out, "warnings": handler.messages,
            "checkpoint": any("/checkpoints/" in f for f in files)}


def agree_views(d: Path, valid: bool, events: int, bad: int) -> dict[str, Any]:
    """The views with the checkpoint (used when ``valid``) as from the whole shard: ``events``
    events, ``bad`` malformed lines in the live shard, counted once."""
    got, whole_ = view_answers(d), view_answers(d, shortcuts=False)
    assert got["checkpoint"] is valid and whole_["checkpoint"] is False
    assert {**got, "checkpoint": None} == {**whole_, "checkpoint": None}
    assert got["count"] == [{"n": events}]
    assert got["bad"] == ([{"shard": "2026-12.jsonl", "lines": bad}] if bad else [])
    warning = f"skipped {bad} malformed lines (events_log/2026-12.jsonl: {bad})"
    assert got["warnings"] == ([warning] * len(VIEW_SQL) if bad else [])  # one per query
    return got


@pytest.mark.slow
def test_the_run_events_views_read_the_checkpoint_and_agree_with_the_whole_shard(
        tmp_path: Path) -> None:
    """A valid checkpoint, events appended after it, then a torn line sealed by the next append
    and a torn tail: the same rows, join and bad lines as the whole shard (88 events: 87 in
    December's live shard, 1 in November's part)."""
    d = tmp_path / "d"
    live = with_runs(d)
    checkpoint_events(d)
    got = agree_views(d, True, 88, 3)
    assert got["join"] == [{"status": "failed", "type": "heartbeat", "n": 2},
                           {"status": "failed", "type": "run_started", "n": 1},
                           {"status": "succeeded", "type": "heartbeat", "n": 41},
                           {"status": "succeeded", "type": "run_started", "n": 1}]
    _appended(live, d)
    agree_views(d, True, 90, 3)
    _torn(live, d)
    agree_views(d, True, 91, 5)


@pytest.mark.parametrize("change", ["replaced", "truncated", "damaged"])
def test_the_run_events_views_read_a_shard_whole_when_its_checkpoint_does_not_match(
        tmp_path: Path, change: str) -> None:
    d = tmp_path / "d"
    live = with_runs(d)
    checkpoint_events(d)
    {"replaced": _replaced, "truncated": _truncated, "damaged": _damaged}[change](live, d)
    events = len(RunStore(d).events())
    agree_views(d, False, events, 0 if change == "truncated" else 3)


def test_sql_and_shell_count_the_same_events_with_and_without_the_checkpoint(
        tmp_path: Path) -> None:
    """``mantis runs sql`` (a count, a join, the bad lines) and the shell's script on a store
    whose live events month is checkpointed, and on a copy of it without the checkpoint."""
    d = tmp_path / "d"
    live = with_runs(d)
    checkpoint_events(d)
    _torn(live, d)
    bare = tmp_path / "bare"
    shutil.copytree(d, bare)
    shutil.rmtree(events_root(bare) / "checkpoints")

    def sql(data: Path) -> list[tuple[int, str, list[str]]]:
        out = []
        for q in (VIEW_SQL["count"], VIEW_SQL["join"], VIEW_SQL["bad"]):
            handler = _Warnings()
            logging.getLogger("mantis_runs").addHandler(handler)
            try:
                done = run_cli("runs", "sql", q, "--format", "csv", "--data-dir", str(data))
            finally:
                logging.getLogger("mantis_runs").removeHandler(handler)
            out.append((done.code, done.out, handler.messages))
        return out

    got = sql(d)
    assert got == sql(bare)
    assert got[0] == (0, "n\n89\n", ["skipped 5 malformed lines (events_log/2026-12.jsonl: 5)"])
    assert got[2][1] == "shard,lines\n2026-12.jsonl,5\n"
    text, reads = _script(d, read_only=False, fast=True)
    assert reads is not None and reads.event_reads()  # the checkpoint and a tail copy
    try:
        with duckdb.connect() as con:
            con.execute(text)
            assert con.sql("SELECT count(*) FROM run_events").fetchall() == [(89,)]
            assert con.sql(VIEW_SQL["bad"]).fetchall() == [("2026-12.jsonl", 5)]
    finally:
        reads.close()
