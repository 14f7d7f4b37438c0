"""Torture: writers, a reader and a compactor that is SIGKILLed over and over, all at once.

* three writer processes append with ``append_run``, 70 % into a closed month (2025-01, the one
  being compacted again and again: its rows are all "late") and 30 % into the open month; each
  acknowledges a run_id (one ``write()`` to its own file) only after ``append_run`` returned True;
  every second or so one of them is SIGKILLed and restarted under a new name;
* a compactor process loops ``compact(now=2025-02-15, grace=0)``, which also checkpoints the
  open month every time; it is SIGKILLed 50-400 ms after it starts (or, for 40 % of its
  incarnations, 50-400 ms after it finished one whole compaction: otherwise none would ever
  finish on a loaded box) and restarted at once;
* a reader process loops: the files of one snapshot as stats reads them (a checkpointed shard
  as its checkpoint plus its tail), read with DuckDB (raw rows vs distinct run_ids), then
  ``stats(last=10**9, status=None)``; it must never raise, see a run twice, or see fewer runs
  than before;
* at the end a final compaction runs (recovering whatever the last kill left): every acknowledged
  run_id is stored exactly once, and stats counts each stored run once.

Run events go through the same protocol (docs/compaction.md, "Events months"): each writer also
appends one event per run (``append_event``, in the month of its row: 70 % into the closed
events month, compacted again and again) and acknowledges it in a file of its own; the reader
checks ``RunStore.events`` never shows an event twice nor fewer than before; at the end every
acknowledged event is there exactly once (events have no id: no dedupe can hide a repeat).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import TESTS_DIR, disk_state, stored_run_ids
from mantis_runs.compaction import compact
from mantis_runs.db.connection import connect
from mantis_runs.log import schema
from mantis_runs.log.layout import scan
from mantis_runs.stats.engine import stats

pytestmark = pytest.mark.slow

FAKE_NOW = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
CLOSED, OPEN = "2025-01", "2025-02"
DURATION_S = float(os.environ.get("MANTIS_TORTURE_SECONDS", "30"))
WRITERS = 3

_WRITER = """
import os, random, sys, time
from pathlib import Path
from mantis_runs import append_event, append_run

data_dir, name, seed, acks, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], \\
    Path(sys.argv[5])
rng = random.Random(seed)
fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
efd = os.open(acks + ".events", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
print("ready", flush=True)
seq = 0
while not stop.exists():
    seq += 1
    run_id = f"{name}-{seq:06d}"
    if rng.random() < 0.7:  # the closed month, compacted over and over
        day, hh, mm = rng.randint(1, 31), rng.randint(0, 23), rng.randint(0, 59)
        fin = (f"2025-01-{day:02d}T{hh:02d}:{mm:02d}:00Z" if rng.random() > 0.05
               else "2025-01-31T23:59:59.900000Z")
    else:
        fin = f"2025-02-{rng.randint(1, 15):02d}T{rng.randint(0, 11):02d}:30:00Z"
    total = round(rng.uniform(1, 100), 3)
    row = {"run_id": run_id, "workflow_id": "torture",
           "status": "succeeded" if rng.random() < 0.9 else "failed",
           "finished_at": fin, "total_time_s": total,
           "wall_time_breakdown": {"think": round(total * 0.7, 3), "act": round(total * 0.2, 3)},
           "pad": "x" * int(10 * 30 ** rng.random())}  # 10 B .. 300 B
    if append_event(run_id, "task", ts=fin, data_dir=data_dir, seq=seq):
        os.write(efd, (run_id + "\\n").encode())
    if append_run(row, data_dir):
        os.write(fd, (run_id + "\\n").encode())
    time.sleep(rng.uniform(0.002, 0.012))
"""

_COMPACTOR = """
import os, sys
from datetime import datetime, timedelta
from mantis_runs.compaction import compact

data_dir, now, log = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
say = lambda msg: os.write(fd, (msg.split(": ", 1)[1].split(" ", 1)[0] + "\\n").encode())
print("ready", flush=True)
while True:
    # checkpoint_min_bytes=0: the open month is checkpointed on every pass, under the writers
    compact(data_dir, now=now, grace=timedelta(0), wait=60, progress=say, checkpoint_min_bytes=0)
    os.write(fd, b"done\\n")
"""

_READER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])  # tests/: the same exactly-once counter as the final check
from helpers import stored_run_ids
from mantis_runs import RunStore
from mantis_runs.stats.engine import stats

data_dir, stop, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
seen, iterations, errors, violations, history, events_seen = 0, 0, [], [], [], 0

def visible():
    # the rows of the files stats reads (a checkpointed live shard: checkpoint plus tail)
    ids = stored_run_ids(data_dir)
    return sum(ids.values()), len(ids)

print("ready", flush=True)
while not stop.exists():
    try:
        raw, distinct = visible()
        if raw != distinct:
            violations.append(f"a run seen twice: {raw} rows, {distinct} run_ids")
        if distinct < seen:
            violations.append(f"count went down: {seen} -> {distinct} (snapshot)")
        seen = max(seen, distinct)
        n = stats("torture", data_dir=data_dir, last=10**9, status=None).run_count
        if n < seen:
            violations.append(f"count went down: {seen} -> {n} (stats)")
        seen = max(seen, n)
        history.append(n)
        ids = RunStore(data_dir).events(arrow=True).column("run_id").to_pylist()
        if len(ids) != len(set(ids)):
            violations.append(f"an event seen twice: {len(ids)} events, {len(set(ids))} runs")
        if len(ids) < events_seen:
            violations.append(f"events went down: {events_seen} -> {len(ids)}")
        events_seen = max(events_seen, len(ids))
        iterations += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
out.write_text(json.dumps({"iterations": iterations, "errors": errors, "violations": violations,
                           "first": history[:1], "last": history[-1:]}))
"""


visible_ids = stored_run_ids


def complete_lines(path: Path) -> list[str]:
    data = path.read_text()
    return data.split("\n")[:-1]  # a line cut by a kill has no "\n": not an acknowledgement


@pytest.mark.exclusive  # kills and compactions in DURATION_S seconds, counted below
def test_writers_reader_and_a_compactor_killed_over_and_over(
        tmp_path: Path, figures: Callable[[str], None]) -> None:
    d = tmp_path / "data"
    d.mkdir()
    stop = tmp_path / "stop"
    acks = tmp_path / "acks"
    acks.mkdir()
    rng = random.Random(20250215)
    py = sys.executable

    def spawn(src: str, *args: object) -> subprocess.Popen[str]:
        p = subprocess.Popen([py, "-c", src, *map(str, args)], stdout=subprocess.PIPE,
                             text=True)
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n", "child failed to start"
        return p

    def reap(p: subprocess.Popen[str]) -> None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert p.stdout is not None
        p.stdout.close()

    writers: dict[int, tuple[str, subprocess.Popen[str]]] = {}
    killed_writers: set[str] = set()
    incarnations: Counter[int] = Counter()

    def start_writer(i: int) -> None:
        incarnations[i] += 1
        name = f"w{i}x{incarnations[i]}"
        writers[i] = (name, spawn(_WRITER, d, name, rng.randrange(2**32), acks / name, stop))

    for i in range(WRITERS):
        start_writer(i)
    reader_out = tmp_path / "reader.json"
    reader = spawn(_READER, d, stop, reader_out, TESTS_DIR)

    compactor_kills = writer_kills = finished_first = 0

    def tend_writers(next_kill: float) -> float:
        """SIGKILL a random writer and start another in its place when it is time."""
        nonlocal writer_kills
        if time.monotonic() < next_kill:
            return next_kill
        i = rng.randrange(WRITERS)
        name, p = writers[i]
        reap(p)
        killed_writers.add(name)
        writer_kills += 1
        start_writer(i)
        return time.monotonic() + rng.uniform(0.5, 1.5)

    states: Counter[frozenset[str]] = Counter()
    phases: Counter[str] = Counter()
    completed = 0  # compactions that finished between kills
    exposed: list[str] = []  # kill states in which a reader would have seen a run twice
    log = tmp_path / "compactor.log"
    t_end = time.monotonic() + DURATION_S
    next_writer_kill = time.monotonic() + rng.uniform(0.5, 1.5)
    comp: subprocess.Popen[str] | None = None
    try:
        while time.monotonic() < t_end:
            comp = spawn(_COMPACTOR, d, FAKE_NOW.isoformat(), log)
            if rng.random() < 0.4:
                # Some incarnations first finish one whole compaction: a compactor killed
                # 50-400 ms after every start makes no progress once the sealed shards pile up
                # (on a loaded 2-core box one conversion alone takes 200-500 ms), and the kill
                # after a finished run lands in the next, quick one: sealing, converting a small
                # shard, publishing.
                deadline = time.monotonic() + 60
                while b"done\n" not in (log.read_bytes() if log.exists() else b""):
                    assert time.monotonic() < deadline, "no compaction finished in 60 s"
                    next_writer_kill = tend_writers(next_writer_kill)
                    time.sleep(0.005)
                finished_first += 1
            kill_at = time.monotonic() + rng.uniform(0.05, 0.4)
            while (now := time.monotonic()) < kill_at:
                next_writer_kill = tend_writers(next_writer_kill)
                time.sleep(min(0.005, max(0.0, kill_at - now)))
            reap(comp)
            assert comp.returncode == -signal.SIGKILL, "the compactor stopped by itself"
            comp = None
            compactor_kills += 1
            state = disk_state(d, [CLOSED], live=False)
            states[state] += 1
            lines = log.read_text().split("\n")[:-1] if log.exists() else []
            phases[lines[-1] if lines else "start"] += 1
            completed += lines.count("done")
            log.write_bytes(b"")  # the next incarnation's phases only
            seen = visible_ids(d)
            if seen and max(seen.values()) > 1:
                exposed.append(f"{sorted(state)}: {[k for k, c in seen.items() if c > 1][:5]}")
    finally:
        if comp is not None:  # a failed check left one running: it loops forever
            reap(comp)
        stop.touch()
        for _, p in writers.values():
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            reader.wait(timeout=120)
        except subprocess.TimeoutExpired:
            reader.kill()
            reader.wait()
        for p in [reader, *(p for _, p in writers.values())]:
            assert p.stdout is not None
            p.stdout.close()
    assert [p.returncode for _, p in writers.values()] == [0] * WRITERS
    assert reader.returncode == 0

    # the final compaction recovers what the last kill left and absorbs the rest
    final = compact(d, now=FAKE_NOW, grace=timedelta(0))
    assert compact(d, now=FAKE_NOW, grace=timedelta(0)).months == []
    months = scan(d)
    assert months[CLOSED].live is None and months[CLOSED].sealed == []
    assert months[CLOSED].superseded == [] and len(months[CLOSED].parts) == 1
    assert months[OPEN].parts == [] and months[OPEN].live is not None
    assert not (d / ".tmp").exists()
    assert disk_state(d, []) == {"clean"}  # no stray checkpoint file
    assert (d / "checkpoints" / f"{OPEN}.json").is_file()  # the open month was checkpointed

    _check_events(d, acks, killed_writers)
    acked: list[str] = [a for f in sorted(acks.iterdir()) if f.suffix != ".events"
                        for a in complete_lines(f)]
    assert len(acked) == len(set(acked))
    # stored: the part (pyarrow) and the open month's shard (DuckDB)
    stored: Counter[str] = Counter(pq.read_table(months[CLOSED].parts[0],
                                                 columns=["run_id"]).column(0).to_pylist())
    con = connect()
    try:
        stored.update(r[0] for r in con.execute(
            "SELECT run_id FROM read_json($files, format = 'newline_delimited', records = true, "
            "columns = $columns, ignore_errors = true) WHERE run_id IS NOT NULL",
            {"files": [str(months[OPEN].live)], "columns": schema.duckdb_columns()}).fetchall())
    finally:
        con.close()
    duplicated = [k for k, c in stored.items() if c > 1]
    missing = [a for a in acked if stored[a] != 1]
    assert duplicated == [] and missing == []
    assert visible_ids(d) == stored
    result = stats("torture", data_dir=d, last=10**9, status=None)
    assert result.run_count == result.total.n == len(stored)
    # torn rows of killed writers: quarantined in the closed month, skipped in the open one
    assert set(result.skipped_lines) <= {f"{OPEN}.jsonl"}
    torn_open = result.skipped_lines.get(f"{OPEN}.jsonl", 0)
    # a run stored without an acknowledgement is the last one of a killed writer
    unacked = sorted(set(stored) - set(acked))
    last_acked: dict[str, int] = {}
    for a in acked:
        name, seq = a.rsplit("-", 1)
        last_acked[name] = max(last_acked.get(name, 0), int(seq))
    for u in unacked:
        name, seq = u.rsplit("-", 1)
        assert name in killed_writers and int(seq) == last_acked.get(name, 0) + 1, u
    # the quarantined ones belong to runs that were never acknowledged
    torn = []
    for q in (d / "quarantine").rglob("*.jsonl"):
        for line in q.read_text().splitlines():
            text = json.loads(line)["text"]
            m = re.search(r'"run_id":"(w\d+x\d+-\d{6})"', text)
            torn.append(m.group(1) if m else text[:40])
    assert set(torn).isdisjoint(acked)

    report = json.loads(reader_out.read_text())
    closed_rows = final.months[0].rows_written if final.months else len(
        pq.read_table(months[CLOSED].parts[0], columns=["run_id"]))
    figures(f"[compaction torture {DURATION_S:g}s] compactor kills={compactor_kills} "
            f"writer kills={writer_kills} acked={len(acked)} stored={len(stored)} "
            f"(closed month {closed_rows}) unacked-but-present={len(unacked)} "
            f"compactions finished between kills={completed} (incarnations let finish one "
            f"first: {finished_first}) "
            f"torn rows quarantined={len(torn)} skipped={torn_open} "
            f"reader iterations={report['iterations']} "
            f"reader runs {report['first']}->{report['last']}\n"
            "  states at kill: " + "; ".join(
                f"{'+'.join(sorted(s))} x{c}" for s, c in states.most_common()) + "\n"
            "  last phase at kill: " + ", ".join(f"{p} x{c}" for p, c in phases.most_common()))

    assert report["errors"] == [] and report["violations"] == []
    assert report["iterations"] >= 10
    assert exposed == []
    assert compactor_kills >= 10 and writer_kills >= 3
    tags = set().union(*states)
    assert len(tags) >= 3, states
    assert len(acked) > 1000


def _check_events(d: Path, acks: Path, killed_writers: set[str]) -> None:
    """After the final compaction: the closed events month is one part, and every acknowledged
    event is stored exactly once (an unacknowledged one only as a killed writer's last)."""
    from mantis_runs import RunStore
    from mantis_runs.log.layout import scan_event_months

    months = scan_event_months(d)
    assert months[CLOSED].live is None and months[CLOSED].sealed == []
    assert months[CLOSED].superseded == [] and len(months[CLOSED].parts) == 1
    assert months[OPEN].parts == [] and months[OPEN].live is not None
    acked = [a for f in sorted(acks.glob("*.events")) for a in complete_lines(f)]
    stored = Counter(RunStore(d).events(arrow=True).column("run_id").to_pylist())
    in_part = pq.read_table(months[CLOSED].parts[0], columns=["run_id"]).num_rows
    assert in_part > 100 and len(acked) > 1000
    assert [k for k, c in stored.items() if c > 1] == []
    assert [a for a in acked if stored[a] != 1] == []
    for u in set(stored) - set(acked):
        assert u.rsplit("-", 1)[0] in killed_writers, u
