"""Compaction of the events months (docs/compaction.md, "Events months"): the same answers from
every events read before and after, exactly once (no dedupe: events have no id), idempotent,
late events as the next generation, the dry run and the report, reads under a concurrent
compactor, and `events --follow` across a compaction.

Events are written by the real writer (`append_events`); bad lines by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from helpers import append_bytes, write_rows
from mantis_runs import RunStore, append_events
from mantis_runs.compaction import compact
from mantis_runs.errors import NotFound
from mantis_runs.log.layout import scan_events
from mantis_runs.store.events import EventFilter, reader
from mantis_runs.store.follow import Follower

T0 = datetime(2026, 9, 28, 10, 0, 0, tzinfo=UTC)
#: compaction's clock: September to November are closed, December is live
NOW = datetime(2026, 12, 5, tzinfo=UTC)
RUNS = ("r-ok", "r-bad", "r-open", "r-pend", "r-long", "r-tie")


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def ev(run_id: str, type_: str, days: float, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": type_, "ts": at(days), "fields": fields}


def history() -> list[dict[str, Any]]:
    """Three closed months and the live one; a run across months, equal timestamps (their order
    is the order written), failures, a pending run."""
    out = [ev("r-ok", "run_started", 0, workflow_id="wf"),
           ev("r-ok", "heartbeat", 1, progress=0.5),
           ev("r-long", "run_started", 1, workflow_id="wf2"),
           ev("r-bad", "run_started", 2, workflow_id="wf"),
           ev("r-bad", "failure", 2.5, message="boom", kind="timeout"),
           ev("r-pend", "task", 3, queue="q1")]
    for i in range(6):  # r-long: one event a week, into December
        out.append(ev("r-long", "heartbeat", 7 + 12 * i, progress=i / 6, step=f"s{i}"))
    for i in range(5):  # the same ts five times: only the order written tells them apart
        out.append(ev("r-tie", "step_finished", 20, step=f"t{i}"))
    out += [ev("r-open", "run_started", 60, workflow_id="wf"),
            ev("r-open", "failover", 61, region="eu"),
            ev("r-bad", "failover", 30, region="us"),
            ev("r-ok", "failover", 5, region="eu")]
    return out


def make(d: Path) -> None:
    assert append_events(history(), data_dir=d)
    write_rows(d, [{"run_id": "r-ok", "workflow_id": "wf", "status": "succeeded",
                    "total_time_s": 2.0, "created_at": at(5), "finished_at": at(5.1)},
                   {"run_id": "r-bad", "workflow_id": "wf", "status": "failed",
                    "total_time_s": 1.0, "created_at": at(30), "finished_at": at(30.1),
                    "error": "boom"}])
    # what the writer never writes: bad lines, a blank line, in a closed month
    append_bytes(d / "events_log" / "2026-10.jsonl",
                 b'{"run_id": "r-x", "type": "t"}\nnot json\n\n[1, 2]\n')


def answers(d: Path, every: bool = True) -> dict[str, Any]:
    """Every events read, as plain values (``every``: each kind of read once per run too)."""
    store = RunStore(d)
    out: dict[str, Any] = {f"events {rid}": store.events(rid) for rid in RUNS}
    out["all"] = store.events()
    out["view"] = store.sql("SELECT run_id, type, ts, fields::VARCHAR AS f, month, file "
                            "FROM run_events ORDER BY ALL").to_pylist()
    if not every:
        return out
    for rid in ("r-ok", "r-open", "r-long", "r-pend"):
        out[f"status {rid}"] = store.status(rid, now=NOW, stale_after=86400).to_json()
        out[f"show {rid}"] = _shown(store, rid)
    out["last 2"] = store.events("r-long", last=2)
    try:
        store.events("r-nosuch")
    except NotFound as exc:
        out["unknown"] = str(exc)
    out["last 4"] = store.events(last=4)
    out["failover since"] = store.events(types=["failover"], since=at(10))
    out["types"] = store.events(types=["heartbeat", "task"], last=5)
    out["workflow"] = store.events(workflow_id="wf")
    out["fields"] = store.events(fields={"region": "eu"})
    out["one run, filtered"] = store.events("r-long", types=["heartbeat"], since=at(30))
    out["arrow"] = store.events(arrow=True).to_pylist()
    out["arrow one run"] = store.events("r-tie", arrow=True).to_pylist()
    out["open"] = [s.to_json() for s in store.open_runs(since=at(-1), now=NOW,
                                                       stale_after=86400 * 3)]
    return out


def _shown(store: RunStore, rid: str) -> Any:
    shown = store.show(rid, now=NOW, stale_after=86400)
    timeline = shown.timeline
    return None if timeline is None else timeline.to_json()


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and ".lock" not in p.name and ".publish" not in p.name}


@pytest.mark.slow
def test_every_events_read_agrees_before_and_after_compaction(tmp_path: Path) -> None:
    d = tmp_path / "data"
    make(d)
    before = answers(d)
    assert [e["fields"]["step"] for e in before["events r-tie"]] == [f"t{i}" for i in range(5)]
    report = compact(d, now=NOW)
    assert [m.month for m in report.events_months] == ["2026-09", "2026-10", "2026-11"]
    oct_ = report.events_months[1]
    assert (oct_.shards, oct_.lines_in, oct_.rows_in, oct_.rows_written,
            oct_.bad_lines_quarantined, oct_.duplicates_dropped) == (1, 14, 11, 11, 3, 0)
    assert oct_.part is not None
    assert oct_.part.startswith("events_log/compacted/2026-10/part-000001-")
    (quarantined,) = oct_.quarantine
    assert quarantined.startswith("events_log/quarantine/2026-10/")
    texts = [json.loads(x)["text"] for x in (d / quarantined).read_text().splitlines()]
    assert texts == ['{"run_id": "r-x", "type": "t"}', "not json", "[1, 2]"]
    assert report.to_json()["events_months"][1]["rows_written"] == 11
    files = scan_events(d)
    closed = [p.suffix for m in ("2026-09", "2026-10", "2026-11") for p in files[m]]
    assert closed == [".parquet"] * 3
    assert [p.name for p in files["2026-12"]] == ["2026-12.jsonl"]  # the live month stays
    assert (d / "events_log" / "checksums" / "2026-10" / f"{Path(oct_.part).name}.json").exists()
    after = answers(d)
    assert after == before
    # the parts: sorted by run_id, ts, seq, with the order written kept in seq
    table = pq.read_table(d / oct_.part)
    keys = list(zip(table["run_id"].to_pylist(), table["ts"].to_pylist(),
                    table["seq"].to_pylist(), strict=True))
    assert keys == sorted(keys) and len(keys) == 11
    assert set(table["file"].to_pylist()) == {"2026-10.jsonl"}


def test_compaction_is_idempotent_and_late_events_make_generation_2(tmp_path: Path) -> None:
    d = tmp_path / "data"
    make(d)
    compact(d, now=NOW)
    files = _files(d)
    again = compact(d, now=NOW)
    assert (again.events_months, again.months, again.recovered) == ([], [], [])
    assert _files(d) == files  # nothing changed
    dry = compact(d, now=NOW, dry_run=True)
    # the live events month, as the run log's: under --checkpoint-min-mb, left as it is
    assert dry.plan == [f"events 2026-12: leave 2026-12.jsonl as it is ({_human(d, '2026-12')} "
                        "not in its checkpoint, under --checkpoint-min-mb)"]
    # late events for a compacted month: a new live shard, listed after the part
    late = [ev("r-tie", "step_finished", 20, step="t5"), ev("r-late", "run_started", 25)]
    assert append_events(late, data_dir=d)
    assert [p.name[:5] for p in scan_events(d)["2026-10"]] == ["part-", "2026-"]
    assert scan_events(d)["2026-10"][1].name == "2026-10.jsonl"
    before = answers(d, every=False)
    dry = compact(d, now=NOW, dry_run=True)
    assert dry.plan == ["events 2026-10: absorb 2026-10.jsonl (to be sealed) into the next "
                        f"part ({_human(d, '2026-10')} now)",
                        f"events 2026-12: leave 2026-12.jsonl as it is ({_human(d, '2026-12')} "
                        "not in its checkpoint, under --checkpoint-min-mb)"]
    report = compact(d, now=NOW)
    (mr,) = report.events_months
    assert (mr.month, mr.previous_rows, mr.rows_in, mr.rows_written) == ("2026-10", 11, 2, 13)
    assert mr.part is not None and "/part-000002-" in mr.part
    assert [p.name[:12] for p in scan_events(d)["2026-10"]] == ["part-000002-"]
    assert answers(d, every=False) == before
    tie = RunStore(d).events("r-tie")
    assert [e["fields"]["step"] for e in tie] == [f"t{i}" for i in range(6)]


def _human(d: Path, month: str) -> str:
    from mantis_runs.units import human_bytes

    return human_bytes(sum(p.stat().st_size for p in scan_events(d)[month]))


def test_a_store_with_events_only_is_compacted(tmp_path: Path) -> None:
    d = tmp_path / "data"
    assert append_events(history(), data_dir=d)
    before = RunStore(d).events()
    report = compact(d, now=NOW)
    assert [m.month for m in report.events_months] == ["2026-09", "2026-10", "2026-11"]
    assert report.months == []
    assert not (d / "runs_log").exists() and not (d / "compacted").exists()
    assert RunStore(d).events() == before


READER = r"""
import sys, json
from mantis_runs import RunStore
store = RunStore(sys.argv[1])
counts = set()
while True:
    n = len(store.events())
    one = [e["fields"]["i"] for e in store.events("r-many")]
    counts.add((n, one == list(range(len(one))), len(one)))
    if open(sys.argv[2]).read() == "stop":
        break
print(json.dumps(sorted(counts)))
"""


@pytest.mark.slow
def test_reads_under_a_concurrent_compactor_see_each_event_once(tmp_path: Path) -> None:
    d = tmp_path / "data"
    many = [ev("r-many", "heartbeat", 2 + i * 0.02, i=i) for i in range(3000)]
    assert append_events(history() + many, data_dir=d)
    total = len(RunStore(d).events())
    stop = tmp_path / "stop"
    stop.write_text("go")
    readers = subprocess.Popen([sys.executable, "-c", READER, str(d), str(stop)],
                               stdout=subprocess.PIPE, text=True)
    compact(d, now=NOW)
    # late, for November (compacted): after every other event of r-many
    late = [ev("r-many", "heartbeat", 62.5 + i * 0.001, i=3000 + i) for i in range(10)]
    assert append_events(late, data_dir=d)
    compact(d, now=NOW)
    stop.write_text("stop")
    out, _ = readers.communicate(timeout=60)
    seen = [tuple(x) for x in json.loads(out)]
    # every read saw each event once: all of them, or all but the late ten
    assert {n for n, _, _ in seen} <= {total, total + 10}
    assert all(ordered for _, ordered, _ in seen)
    assert {k for _, _, k in seen} <= {3000, 3010}


def test_follow_across_a_compaction_delivers_each_event_once_in_order(tmp_path: Path) -> None:
    d = tmp_path / "data"
    month = d / "events_log" / "2026-11.jsonl"
    follower = Follower(d, EventFilter())
    got: list[int] = []

    def write(*ids: int) -> None:
        assert append_events([ev("r-f", "task", 40 + i * 0.001, i=i) for i in ids], data_dir=d)

    def poll() -> None:
        with reader(d, locked=False) as r:
            got.extend(e["fields"]["i"] for e in follower.poll(r))

    write(0)
    poll()  # starts at the end: 0 is not delivered
    write(1, 2)
    poll()
    write(3)  # not polled yet when its shard is sealed and absorbed
    compact(d, now=NOW)
    assert not month.exists()
    poll()  # 3 from the shard the follower holds open
    write(4)  # late: a new live shard
    poll()
    write(5)
    compact(d, now=NOW)  # generation 2 absorbs 4 and 5
    write(6)
    poll()
    poll()
    follower.close()
    assert got == [1, 2, 3, 4, 5, 6]
    assert [e["fields"]["i"] for e in RunStore(d).events("r-f")] == list(range(7))


def test_follow_backlog_reads_the_parts_of_its_months(tmp_path: Path) -> None:
    d = tmp_path / "data"
    assert append_events([ev("r-b", "task", 40 + i * 0.01, i=i) for i in range(4)], data_dir=d)
    compact(d, now=NOW)
    assert append_events([ev("r-b", "task", 41, i=4)], data_dir=d)  # late, in the same month
    follower = Follower(d, EventFilter(since=at(30)))
    with reader(d, locked=False) as r:
        assert [e["fields"]["i"] for e in follower.poll(r)] == [0, 1, 2, 3, 4]
        assert follower.poll(r) == []
    follower.close()


def test_a_damaged_events_part_is_refused_by_readers(tmp_path: Path) -> None:
    d = tmp_path / "data"
    assert append_events(history(), data_dir=d)
    report = compact(d, now=NOW)
    part = d / report.events_months[0].part  # type: ignore[operator]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(part, 0o644)
    part.write_bytes(bytes(data))
    from mantis_runs.log.integrity import Damaged

    with pytest.raises(Damaged, match=part.name):
        RunStore(d).events()
    from mantis_runs.compaction.verify import verify

    found = verify(d)
    assert (found.parts, [f.path for f in found.damaged]) == (2, [str(part.relative_to(d))])


def test_cli_report_and_dry_run_name_the_events_months(tmp_path: Path) -> None:
    from helpers import run_cli

    d = tmp_path / "data"
    make(d)
    when = ["--data-dir", str(d), "--month", "2026-10", "--grace", "0s"]
    dry = run_cli("runs", "compact", "--dry-run", *when)
    assert dry.code == 0, dry.err
    events = [line for line in dry.out.splitlines() if line.startswith("events ")]
    assert [line for line in events if ": absorb " in line] == [
        f"events 2026-10: absorb 2026-10.jsonl (to be sealed) into a new part "
        f"({_human(d, '2026-10')} now)"]
    # the months --month leaves open: live shards a checkpoint would cover, once large enough
    assert [line.split(":")[0] for line in events if ": absorb " not in line] == [
        "events 2026-09", "events 2026-11", "events 2026-12"]
    assert all("under --checkpoint-min-mb" in line for line in events if ": leave " in line)
    done = run_cli("runs", "compact", "--json", *when)
    assert done.code == 0, done.err
    (mr,) = json.loads(done.out)["events_months"]
    assert (mr["month"], mr["rows_written"], mr["bad_lines_quarantined"]) == ("2026-10", 11, 3)


def test_the_text_report_has_a_table_of_the_events_months(tmp_path: Path) -> None:
    from mantis_runs.cli.render import compaction_text
    from mantis_runs.units import human_bytes

    d = tmp_path / "data"
    make(d)
    report = compact(d, months=["2026-10"], now=NOW)
    (m,) = report.events_months
    text = compaction_text(report).splitlines()
    at = text.index(next(line for line in text if line.startswith("events month")))
    assert text[at].split() == ["events", "month", "events", "in", "events", "written",
                                "quarantined", "before", "after"]
    assert text[at + 2].split() == ["2026-10", f"{m.rows_in:,}", "11", "3",
                                    *human_bytes(m.bytes_before).split(),
                                    *human_bytes(m.bytes_after).split()]
    assert f"events 2026-10: 3 bad lines kept in {m.quarantine[0]}" in text
    assert not any(line.startswith("No closed month") for line in text)


def test_damaged_pages_of_an_events_part_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The footer intact (readers' quick check passes), a data page flipped: every events read
    that reaches the part says so in one line, exit 1."""
    from helpers import run_cli

    d = tmp_path / "data"
    make(d)
    compact(d, now=NOW)
    (part,) = (d / "events_log" / "compacted" / "2026-10").glob("part-*.parquet")
    data = bytearray(part.read_bytes())
    data[200] ^= 0xFF
    os.chmod(part, 0o644)
    part.write_bytes(bytes(data))
    for args in (["events", "r-bad"], ["events"], ["status", "r-bad"], ["show", "r-bad"]):
        got = run_cli("runs", *args, "--data-dir", str(d))
        assert (got.code, got.out) == (1, ""), (args, got.err)
        assert got.err.startswith("error: query failed: ") and got.err.count("\n") == 1, got.err


def test_a_stray_newer_part_never_costs_the_real_generation(tmp_path: Path) -> None:
    """A file named like a newer generation that compaction did not publish (no checksum file):
    recovery must not take it for the newest part and delete the real one, of runs or events."""
    from mantis_runs.errors import MantisError

    d = tmp_path / "data"
    make(d)
    compact(d, now=NOW)
    before = answers(d, every=False)
    real = sorted(p.relative_to(d) for p in d.rglob("part-*.parquet*"))
    strays = [d / "compacted" / "2026-10" / "part-000009-deadbeef.parquet",
              d / "events_log" / "compacted" / "2026-10" / "part-000009-deadbeef.parquet"]
    for stray in strays:
        stray.touch()
    with pytest.raises(MantisError, match="part-000009-deadbeef"):
        compact(d, now=NOW)
    for stray in strays:
        stray.unlink()
    assert sorted(p.relative_to(d) for p in d.rglob("part-*.parquet*")) == real
    assert answers(d, every=False) == before
    assert RunStore(d).sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 2}]
    assert compact(d, now=NOW).recovered == []


def test_a_link_among_the_events_parts_is_refused(tmp_path: Path) -> None:
    from mantis_runs.log.layout import LinkRefused

    d = tmp_path / "data"
    make(d)
    compact(d, now=NOW)
    folder = d / "events_log" / "compacted"
    folder.rename(tmp_path / "elsewhere")
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LinkRefused, match="compacted"):
        RunStore(d).events()
    with pytest.raises(LinkRefused, match="compacted"):
        compact(d, now=NOW)
