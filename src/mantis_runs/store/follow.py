"""``mantis runs events --follow``: new run events as they are written (docs/events.md).

The events files (``layout.scan_events``) are polled by size: each file is known by its path,
device and inode and read from the offset where the last poll stopped. Only complete lines are
taken: a torn last line is held back until its newline arrives, and a line the writer sealed
(a torn tail it closed with ``writer.SEAL`` before appending) is skipped. A new file (a new
month) is read from its start, a file replaced by another inode too; a file that shrank is read
on from its new end. The new lines of one poll are copied, in file order (months in order), into
a private file and filtered by the same SQL as ``events`` (events_in_order.sql), so every event
written while the follower runs is delivered once, in file order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..log.layout import check_data_dir, month_of, scan_events
from ..log.writer import SEAL
from .events import EventFilter, EventReader, EventRow, reader

#: Seconds between polls.
FOLLOW_INTERVAL_S = 0.5


@dataclass
class _Tail:
    identity: tuple[int, int]  # (st_dev, st_ino)
    offset: int  # bytes before this are read (complete lines) or skipped
    held: bytes = b""  # a line without its newline yet


@dataclass
class Follower:
    """Polls the events files of ``data_dir``; ``poll()`` returns the new events that pass
    ``flt`` in file order. The first poll starts every file at its end, except that with
    ``flt.since`` the files of its month and later are read from their start (the backlog)."""

    data_dir: Path
    flt: EventFilter
    tails: dict[Path, _Tail] = field(default_factory=dict)
    workflow_runs: set[str] = field(default_factory=set)
    started: bool = False

    def poll(self, r: EventReader) -> list[EventRow]:
        months = scan_events(self.data_dir)
        if not self.started and self.flt.workflow is not None:
            every = [p for files in months.values() for p in files]
            self.workflow_runs.update(r.workflow_runs(every, self.flt.workflow))
        lines: list[tuple[int, bytes]] = []  # (1: not a file's start, the line)
        for month, files in months.items():
            for path in files:
                lines += [(1, line) for line in self._new_lines(month, path)]
        self.started = True
        if not lines:
            return []
        copy = r.copy(lines, "follow")
        try:
            if self.flt.workflow is not None:
                self.workflow_runs.update(r.workflow_runs([copy], self.flt.workflow))
            return r.rows("events_in_order", [copy], self.flt, sorted(self.workflow_runs))
        finally:
            copy.unlink()

    def _new_lines(self, month: str, path: Path) -> list[bytes]:
        """The complete lines of ``path`` written since the last poll (sealed ones left out)."""
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                identity = (st.st_dev, st.st_ino)
                tail = self.tails.get(path)
                if tail is None or tail.identity != identity:
                    backlog = self.flt.since is not None and month >= month_of(self.flt.since)
                    start = 0 if self.started or backlog or tail is not None else st.st_size
                    tail = self.tails[path] = _Tail(identity, start)
                if st.st_size < tail.offset:  # shrank: what was held back is gone
                    tail.offset, tail.held = st.st_size, b""
                f.seek(tail.offset)
                chunk = f.read(st.st_size - tail.offset)
        except FileNotFoundError:
            self.tails.pop(path, None)
            return []
        tail.offset += len(chunk)
        data = tail.held + chunk
        cut = data.rfind(b"\n") + 1
        tail.held = data[cut:]
        return [line + b"\n" for line in data[:cut].split(b"\n")[:-1]
                if line and not (line + b"\n").endswith(SEAL)]


def follow(data_dir: Path, flt: EventFilter, *, last: int | None = None,
           interval: float = FOLLOW_INTERVAL_S) -> Iterator[list[EventRow]]:
    """Batches of new events (the backlog of ``flt.since`` first, its newest ``last`` only),
    until the caller stops iterating (or Ctrl-C). An events_log/ that does not exist yet is
    waited for; a data dir that does not exist, or holds neither a run log nor events_log/, is
    an error (``check_data_dir``)."""
    check_data_dir(data_dir, events=True)
    follower = Follower(data_dir, flt)
    with reader(data_dir) as r:
        first = follower.poll(r)
        yield first[-last:] if last else first
        while True:
            time.sleep(interval)
            yield follower.poll(r)
