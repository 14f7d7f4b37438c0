"""Torture test of the events writer: several processes append batches while being killed with
kill -9. Every acknowledged event must be present exactly once, and no line glued to another.

Each event is self-checking (its writer, batch, index and a padding derived from them, as the
rows' torture does with :func:`expected_pad`), and a quarter of the batches span two months, so a
kill can land between a batch's two writes.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mantis_runs.log.writer import SEAL

from .test_writer_torture import expected_pad, kill_dir, split_lines

pytestmark = pytest.mark.slow

__all__ = ["kill_dir"]  # the fixture (tmp_path on ext4, and tmpfs), shared with the rows' test

MAY, JUNE = "2026-05-13T18:09:34Z", "2026-06-02T00:00:00Z"
START = b'{"run_id"'

# A zygote imports the writer once and forks writers on request ("spawn <gen> <seed>"), or reaps
# one the test has killed ("reap <pid>"), so that a few hundred kills fit in a few seconds. A
# writer appends batches until it is killed (or, with a limit, ends after that many batches) and
# acknowledges a batch on stdout, one atomic pipe write, only after append_events returned True.
# Each reaped writer's "dead" line comes after all its acks.
_ZYGOTE = f"""
import os, random, sys
from mantis_runs import append_events
data_dir = sys.argv[1]

def pad(writer, seq, size):
    return chr(ord("a") + (writer * 7 + seq) % 26) * size

def writer(gen, limit, seed):
    rng = random.Random(seed)
    seq = 0
    while limit < 0 or seq < limit:
        n = rng.randint(1, 40)
        spans = seq % 4 == 3  # odd events in June: two writes
        batch = []
        for i in range(n):
            size = rng.randrange(50, 2000)
            batch.append({{"run_id": f"w{{gen}}", "type": "torture",
                          "ts": {JUNE!r} if spans and i % 2 else {MAY!r},
                          "fields": {{"seq": seq, "i": i, "n": n, "padlen": size,
                                     "pad": pad(gen, seq * 64 + i, size)}}}})
        if append_events(batch, data_dir):
            os.write(1, f"ack {{gen}} {{seq}} {{n}}\\n".encode())
        seq += 1
    os._exit(0)

for cmd in sys.stdin:
    word, *args = cmd.split()
    if word == "spawn":
        gen, limit, seed = map(int, args)
        pid = os.fork()
        if pid == 0:
            writer(gen, limit, seed)
        os.write(1, f"pid {{gen}} {{pid}}\\n".encode())
    else:
        pid = int(args[0])
        _, status = os.waitpid(pid, 0)
        os.write(1, f"dead {{pid}} {{status}}\\n".encode())
"""


def check_events(data: bytes) -> tuple[list[tuple[int, int, int, int]], list[bytes]]:
    """Every line is one valid event or a sealed torn fragment. Returns ((writer, batch, index,
    batch size) per event, garbage lines)."""
    events: list[tuple[int, int, int, int]] = []
    garbage: list[bytes] = []
    for ln in split_lines(data):
        starts = ln.count(START)
        assert starts <= 1, f"glued line: {ln[:120]!r}"
        try:
            obj = json.loads(ln) if starts else None
        except ValueError:
            obj = None
        if obj is None:
            # Only torn fragments, each cut off by the writer's seal, may fail to parse (one torn
            # within its first bytes holds no event start: it is a prefix of one).
            assert ln.endswith(SEAL[:-1]), f"unsealed garbage line: ...{ln[-80:]!r}"
            assert starts or START.startswith(ln[:-1]), f"foreign line: {ln[:120]!r}"
            garbage.append(ln)
            continue
        w, f = int(obj["run_id"][1:]), obj["fields"]
        assert obj["run_id"] == f"w{w}" and obj["type"] == "torture"
        assert f["pad"] == expected_pad(w, f["seq"] * 64 + f["i"], f["padlen"]), (
            f"bad padding in {obj}")
        events.append((w, f["seq"], f["i"], f["n"]))
    return events, garbage


def _line(w: int, seq: int, i: int, n: int = 1) -> bytes:
    fields = {"seq": seq, "i": i, "n": n, "padlen": 3, "pad": expected_pad(w, seq * 64 + i, 3)}
    return json.dumps({"run_id": f"w{w}", "type": "torture", "ts": MAY, "fields": fields},
                      separators=(",", ":")).encode()


def test_checker_detects_damage() -> None:
    # Negative controls: the checker must reject what the test below claims cannot happen.
    good = [_line(0, s, 0) for s in range(3)]
    assert check_events(b"\n".join(good) + b"\n")[0] == [(0, 0, 0, 1), (0, 1, 0, 1), (0, 2, 0, 1)]
    with pytest.raises(AssertionError, match="glued"):
        check_events(good[0][:20] + good[1] + b"\n")
    with pytest.raises(AssertionError, match="unsealed"):
        check_events(good[0][:20] + b"\n" + good[1] + b"\n")
    with pytest.raises(AssertionError, match="foreign"):
        check_events(b"junk\x1e\n")
    with pytest.raises(AssertionError, match="newline"):
        check_events(good[0] + b"\n" + good[1][:9])
    with pytest.raises(AssertionError, match="padding"):
        check_events(good[0].replace(b'"aaa"', b'"aab"') + b"\n")
    events, garbage = check_events(good[0] + b"\n" + good[1][:30] + SEAL + good[2] + b"\n")
    assert events == [(0, 0, 0, 1), (0, 2, 0, 1)]
    assert garbage == [good[1][:30] + b"\x1e"]


class _Zygote:
    """The zygote process, with a thread reading its messages into a queue."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(data_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.messages: queue.Queue[str] = queue.Queue()
        self.acked: list[tuple[int, int, int]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for msg in self.proc.stdout:
            self.messages.put(msg)
        self.messages.put("")

    def send(self, cmd: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def wait_for(self, kind: str) -> list[str]:
        """The fields of the next ``kind`` message, recording the acks met on the way."""
        while True:
            msg = self.messages.get(timeout=60)
            assert msg, "zygote died"
            word, *rest = msg.split()
            if word == "ack":
                gen, seq, n = map(int, rest)
                self.acked.append((gen, seq, n))
            elif word == kind:
                return rest
            else:
                raise AssertionError(f"unexpected message {msg!r}")

    def spawn(self, gen: int, limit: int) -> int:
        self.send(f"spawn {gen} {limit} {gen}")
        got_gen, pid = map(int, self.wait_for("pid"))
        assert got_gen == gen
        return pid

    def reap(self, pid: int) -> int:
        self.send(f"reap {pid}")
        dead_pid, status = map(int, self.wait_for("dead"))
        assert dead_pid == pid
        return status


#: writers at a time, kills, and the range of the pause between kills, per filesystem (fdatasync
#: costs ~0.1-5 ms per batch on ext4 here and nothing on tmpfs).
_PLAN: dict[str, tuple[int, int, float, float]] = {"tmp_path": (3, 60, 0.003, 0.03),
                                                   "tmpfs": (3, 150, 0.001, 0.01)}


def test_kill_9_never_loses_an_acknowledged_event(kill_dir: Path, request: pytest.FixtureRequest,
                                                  figures: Callable[[str], None]) -> None:
    where = request.node.callspec.params["kill_dir"]
    writers, kills, lo, hi = _PLAN[where]
    rng = random.Random(20261204)
    z = _Zygote(kill_dir)
    live: dict[int, int] = {}  # gen -> pid
    try:
        for gen in range(writers):
            live[gen] = z.spawn(gen, -1)
        gen = writers
        for _ in range(kills):
            time.sleep(rng.uniform(lo, hi))
            victim = rng.choice(sorted(live))
            pid = live.pop(victim)
            os.kill(pid, signal.SIGKILL)
            assert z.reap(pid) == signal.SIGKILL
            live[gen] = z.spawn(gen, -1)
            gen += 1
        for victim in sorted(live):
            pid = live.pop(victim)
            os.kill(pid, signal.SIGKILL)
            assert z.reap(pid) == signal.SIGKILL
        last = gen  # the last writer appends 5 batches alone and ends normally
        assert z.reap(z.spawn(last, 5)) == 0
    finally:
        for pid in live.values():  # a failed assertion left writers running: end them
            os.kill(pid, signal.SIGKILL)
        z.proc.kill()
        z.proc.wait(timeout=30)

    found: list[tuple[int, int, int, int]] = []
    garbage: list[bytes] = []
    sizes = 0
    for month in ("2026-05", "2026-06"):
        data = (kill_dir / "events_log" / f"{month}.jsonl").read_bytes()
        sizes += len(data)
        ev, gb = check_events(data)
        found += ev
        garbage += gb
    counts = Counter((w, s, i) for w, s, i, _n in found)
    assert [k for k, c in counts.items() if c > 1] == []  # nothing written twice
    assert len(z.acked) == len(set(z.acked))
    missing = [(w, s, i) for w, s, n in z.acked for i in range(n) if counts[(w, s, i)] != 1]
    assert missing == []  # every acknowledged event, exactly once
    assert [(w, s) for w, s, _n in z.acked[-5:]] == [(last, s) for s in range(5)]
    acked_events = sum(n for _w, _s, n in z.acked)
    unacked = len(found) - acked_events  # prefixes of batches whose writer was killed
    assert unacked >= 0 and len(garbage) <= kills + writers
    # A writer killed inside a batch's write leaves a prefix of it (its first whole lines, then a
    # sealed fragment), or killed between a batch's two months, its May half: never acknowledged.
    per_batch = Counter((w, s) for w, s, _i, _n in found)
    partial = sum(per_batch[(w, s)] < n for w, s, n in {(w, s, n) for w, s, _i, n in found})
    figures(f"[events kill -9, {where}] writers={writers} kills={kills} "
            f"acked_batches={len(z.acked)} acked_events={acked_events} "
            f"unacked_but_present={unacked} partial_batches={partial} torn={len(garbage)} "
            f"bytes={sizes}")
    for month in ("2026-05", "2026-06"):  # tens of MB; pytest keeps the last few tmp dirs
        (kill_dir / "events_log" / f"{month}.jsonl").unlink()
