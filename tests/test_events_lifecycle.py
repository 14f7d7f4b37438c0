"""Run lifecycles seen through the events read side, with real processes: a runtime killed with
kill -9 mid-run is lost once the staleness passes; a run that finishes while `watch` and
`events --follow` read; `events --follow` delivers every event written while it runs, in
order, exactly once (torn tails sealed by the writer, a new month's file)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mantis_runs import RunStore

#: A runtime: run_started, then a heartbeat every 0.05 s (real writer) until killed; "go" on
#: stdout after the first heartbeat.
RUNTIME = r"""
import sys, time
from mantis_runs import append_events
d, run_id = sys.argv[1:3]
append_events([{"run_id": run_id, "type": "run_started", "fields": {"workflow_id": "wf"}}],
              data_dir=d)
i = 0
while True:
    i += 1
    append_events([{"run_id": run_id, "type": "heartbeat",
                    "fields": {"progress": min(i / 1000, 1)}}], data_dir=d)
    if i == 1:
        print("go", flush=True)
    time.sleep(0.05)
"""

#: A run from start to finish: events, then its terminal row, then one last event; each step
#: waits for "next" on stdin, so the test decides when.
FINISHING = r"""
import sys
from mantis_runs import append_events, append_run
d, run_id = sys.argv[1:3]
steps = [
    [{"run_id": run_id, "type": "run_started", "fields": {"workflow_id": "wf"}}],
    [{"run_id": run_id, "type": "heartbeat", "fields": {"progress": 0.5}},
     {"run_id": run_id, "type": "step_finished", "fields": {"step": "a", "seconds": 1.5}}],
    "row",
    [{"run_id": run_id, "type": "artifact", "fields": {"path": "out.json"}}],
]
for step in steps:
    sys.stdin.readline()
    if step == "row":
        assert append_run({"run_id": run_id, "workflow_id": "wf", "status": "succeeded",
                           "total_time_s": 3.0}, data_dir=d)
    else:
        assert append_events(step, data_dir=d)
    print("done", flush=True)
"""

#: Many events in batches of 1-7, with torn tails the writer has to seal, and some events in
#: next month's file; every event has a sequence number.
STREAM = r"""
import random, sys, time
from datetime import datetime, timedelta, UTC
from mantis_runs import append_events
d, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
now = datetime.now(UTC)
later = (now.replace(day=1) + timedelta(days=40)).replace(day=2)
i = 0
while i < n:
    batch = []
    for _ in range(rng.randint(1, 7)):
        ts = later if i % 10 == 9 else None  # each tenth event in next month's file
        batch.append({"run_id": f"s{i % 5}", "type": "task", "ts": ts, "fields": {"seq": i}})
        i += 1
    if rng.random() < 0.2:  # a torn tail: the writer seals it before its next line
        with open(f"{d}/events_log/{now:%Y-%m}.jsonl", "ab") as f:
            f.write(b'{"run_id":"torn","type":"task","ts":"')
    assert append_events(batch, data_dir=d)
    time.sleep(rng.random() * 0.01)
print(i, flush=True)
"""


def _mantis(*args: str) -> list[str]:
    return [sys.executable, "-m", "mantis_runs", "runs", *args]


def _start(*args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin else None, text=True)


def _interrupt(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    return p.returncode, out, err


@pytest.mark.slow
def test_a_runtime_killed_with_kill_9_is_lost_once_the_staleness_passes(tmp_path: Path) -> None:
    d = tmp_path / "data"
    runtime = _start(sys.executable, "-c", RUNTIME, str(d), "r-k9", stdin=True)
    assert runtime.stdout is not None and runtime.stdout.readline() == "go\n"
    time.sleep(0.3)
    store = RunStore(d)
    alive = store.status("r-k9", stale_after=2)
    assert (alive.status, alive.source) == ("running", "heartbeat")
    assert alive.progress is not None and 0 < alive.progress < 1
    os.kill(runtime.pid, signal.SIGKILL)
    runtime.wait(timeout=10)
    beats = store.events("r-k9", types=["heartbeat"])
    last = beats[-1]  # lost 2 s after the last sign of life (up to 0.05 s before the kill)
    watch = _start(*_mantis("watch", "r-k9", "--data-dir", str(d), "--interval", "0.2",
                            "--stale-after", "2", "--timeout", "30"))
    assert store.status("r-k9", stale_after=2).status == "running"  # not stale yet
    out, err = watch.communicate(timeout=30)
    assert time.time() - last["ts"].timestamp() >= 2
    assert watch.returncode == 1 and out == ""
    assert err.splitlines()[0].startswith("run r-k9 running: ")
    assert err.splitlines()[-1] == (
        f"run r-k9 lost: no terminal row and no event for over 2s (last: "
        f"{last['ts']:%Y-%m-%d %H:%M:%S} UTC heartbeat)")
    lost = store.status("r-k9", stale_after=2)
    assert (lost.status, lost.source, lost.last_event) == ("lost", "inference", last)
    assert [s.run_id for s in store.lost(stale_after=2)] == ["r-k9"]
    assert store.running(stale_after=2) == []


def test_a_run_that_finishes_while_watch_and_follow_read(tmp_path: Path) -> None:
    d = tmp_path / "data"
    run = _start(sys.executable, "-c", FINISHING, str(d), "r-fin", stdin=True)
    assert run.stdin is not None and run.stdout is not None

    def step() -> None:
        run.stdin.write("next\n")  # type: ignore[union-attr]
        run.stdin.flush()  # type: ignore[union-attr]
        assert run.stdout.readline() == "done\n"  # type: ignore[union-attr]

    step()  # run_started: data dir and events_log exist
    # --since: what is there already first (the backlog), then what comes, each once
    follow = _start(*_mantis("events", "--follow", "--jsonl", "--interval", "0.05",
                             "--since", "1h", "--data-dir", str(d)))
    watch = _start(*_mantis("watch", "r-fin", "--data-dir", str(d), "--interval", "0.05"))
    assert watch.stderr is not None
    first = watch.stderr.readline()  # watch is reading: the run's progress so far
    assert first.startswith("run r-fin running: last event ") and first.endswith(
        " UTC run_started\n")
    step()  # heartbeat + step_finished
    second = watch.stderr.readline()
    assert second.startswith("run r-fin running: 50.0%, last event ") and second.endswith(
        " UTC step_finished\n")
    step()  # the terminal row
    out, err = watch.communicate(timeout=20)
    assert (watch.returncode, out, err) == (0, "run r-fin succeeded\n", "")
    step()  # an event after the row
    time.sleep(0.5)
    run.stdin.close()
    run.wait(timeout=10)
    code, out, err = _interrupt(follow)
    assert (code, err) == (130, "")
    assert [(e["type"], e["fields"]) for e in map(json.loads, out.splitlines())] == [
        ("run_started", {"workflow_id": "wf"}), ("heartbeat", {"progress": 0.5}),
        ("step_finished", {"step": "a", "seconds": 1.5}), ("artifact", {"path": "out.json"})]
    s = RunStore(d).status("r-fin")
    assert (s.status, s.source, s.progress, s.last_event["type"]) == (  # type: ignore[index]
        "succeeded", "terminal row", 0.5, "artifact")


def test_follow_delivers_every_event_once_in_order(tmp_path: Path) -> None:
    d = tmp_path / "data"
    from mantis_runs import append_events

    assert append_events([{"run_id": "before", "type": "task", "fields": {"seq": -1}}],
                         data_dir=d)
    follow = _start(*_mantis("events", "--follow", "--jsonl", "--interval", "0.05",
                             "--type", "task", "--since", "1h", "--data-dir", str(d)))
    n = 400
    writer = subprocess.run([sys.executable, "-c", STREAM, str(d), str(n)],
                            capture_output=True, text=True, timeout=60, check=True)
    total = int(writer.stdout)  # batches may end past n
    time.sleep(0.5)
    code, out, err = _interrupt(follow)
    assert (code, err) == (130, "")
    got = [json.loads(line) for line in out.splitlines()]
    # every event once, in the order written within each file (this month, next month)
    seqs = [e["fields"]["seq"] for e in got]
    assert total >= n and sorted(seqs) == list(range(-1, total))
    this = [s for s in seqs if s % 10 != 9]
    later = [s for s in seqs if s % 10 == 9]
    assert this == sorted(this) and later == sorted(later)
    assert {e["run_id"] for e in got} == {"before", *(f"s{i}" for i in range(5))}


def test_follow_starts_at_the_end_and_holds_back_a_torn_line(tmp_path: Path) -> None:
    from mantis_runs.log.writer import SEAL
    from mantis_runs.store.events import EventFilter, reader
    from mantis_runs.store.follow import Follower

    d = tmp_path / "data"
    shard = d / "events_log" / "2026-11.jsonl"
    line = b'{"run_id":"a","type":"task","ts":"2026-11-03T10:00:0%dZ","fields":{}}\n'
    shard.parent.mkdir(parents=True)
    shard.write_bytes(line % 0)
    f = Follower(d, EventFilter())
    with reader(d) as r:
        assert f.poll(r) == []  # no --since: what is there is not printed
        shard.write_bytes(shard.read_bytes() + (line % 1)[:20])
        assert f.poll(r) == []  # torn: held back
        shard.write_bytes(shard.read_bytes() + (line % 1)[20:] + b"junk" + SEAL + line % 2)
        assert [e["ts"].second for e in f.poll(r)] == [1, 2]  # the sealed line skipped
        assert f.poll(r) == []
        nxt = d / "events_log" / "2026-12.jsonl"
        nxt.write_bytes(line.replace(b"11-03", b"12-01") % 3)
        assert [e["ts"].second for e in f.poll(r)] == [3]  # a new month: from its start
        other = nxt.with_name("new")
        other.write_bytes(line.replace(b"11-03", b"12-01") % 4)
        other.replace(nxt)  # another inode in its place
        assert [e["ts"].second for e in f.poll(r)] == [4]
