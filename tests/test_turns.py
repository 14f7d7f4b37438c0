"""conftest.Turns, the lock by which pytest-xdist's workers take turns: an exclusive test waits
for the shared ones that run, keeps every other out while it runs, and a shared turn asked for
while an exclusive one waits comes after it (flock alone would let it in at once, and a busy
worker could keep an exclusive test waiting for ever). Threads stand in for the workers (each
Turns opens its own descriptions of the files, so their flocks conflict as processes' do); a
thread's wait is seen in the kernel's queue (/proc/locks), so nothing here is timed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Turns

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/locks"),
                                reason="needs Linux's /proc/locks")


def waiting_on(path: Path) -> int:
    """How many flock requests of this process wait on ``path`` (``->`` lines of /proc/locks)."""
    ino, pid = os.stat(path).st_ino, str(os.getpid())
    with open("/proc/locks") as f:
        return sum(len(p) > 6 and p[1] == "->" and p[5] == pid and p[6].endswith(f":{ino}")
                   for p in (line.split() for line in f))


def until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30  # a bound for a broken lock, not a timing assertion
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.005)


def test_an_exclusive_turn_comes_before_a_later_shared_one_and_runs_alone(tmp_path: Path) -> None:
    first, alone, later = Turns(tmp_path), Turns(tmp_path), Turns(tmp_path)
    gate, room = tmp_path / "turns.gate", tmp_path / "turns.room"
    events: list[str] = []
    inside, let_go = threading.Event(), threading.Event()

    def exclusive() -> None:
        with alone.turn(exclusive=True):
            events.append("alone in")
            inside.set()
            let_go.wait(30)
            events.append("alone out")

    def shared() -> None:
        with later.turn(exclusive=False):
            events.append("later in")

    threads = [threading.Thread(target=exclusive), threading.Thread(target=shared)]
    with first.turn(exclusive=False):
        threads[0].start()
        # the exclusive turn waits for the running shared one...
        until("the exclusive turn waits", lambda: waiting_on(room) == 1)
        threads[1].start()
        # ... and the later shared one waits at the gate, not let in beside the first
        until("the later turn waits", lambda: waiting_on(gate) == 1)
        assert events == []
    assert inside.wait(30)
    # the exclusive turn runs; the later one passed the gate and waits for the room
    until("the later turn waits for the room",
          lambda: (waiting_on(gate), waiting_on(room)) == (0, 1))
    assert events == ["alone in"]
    let_go.set()
    for t in threads:
        t.join(30)
    assert events == ["alone in", "alone out", "later in"]
    assert waiting_on(gate) == waiting_on(room) == 0


def test_shared_turns_run_together(tmp_path: Path) -> None:
    a, b = Turns(tmp_path), Turns(tmp_path)
    with a.turn(exclusive=False), b.turn(exclusive=False):
        assert waiting_on(tmp_path / "turns.room") == 0
