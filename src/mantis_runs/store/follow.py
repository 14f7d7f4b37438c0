"""``mantis runs events --follow``: new run events as they are written (docs/events.md).

The events shards (``layout.scan_events``) are polled by size: each shard is known by its
device and inode, held open, and read from the offset where the last poll stopped. Only complete
lines are taken: a torn last line is held back until its newline arrives, and a line the writer
sealed (a torn tail it closed with ``writer.SEAL`` before appending) is skipped. A new shard (a
new month, or a late one) is read from its start, a shard replaced by another inode too; a shard
that shrank is read on from its new end.

Compaction does not disturb it: a sealed shard is the same inode under another name, so it is
read on from the same offset, and once it is absorbed into a part and deleted, the follower
still holds it open and reads what it had not read yet, then lets it go; parts are never read
again (their events were delivered from the shards), except for the backlog of ``since`` on the
first poll. Each poll lists and reads under the shared publish lock (``publish_shared``), so no
shard is sealed or published half-way through it.

It reads the shards themselves, never a checkpoint of the live month (``event_months`` with
``checkpoints=False``): a checkpoint changes nothing it prints.

The new lines of one poll are copied, month by month, into private files and filtered by the
same SQL as ``events`` (events_in_order.sql), so every event written while the follower runs is
delivered once, in the order it was written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..db.connection import publish_shared
from ..log.layout import check_data_dir, month_of
from ..log.writer import SEAL
from .event_files import EventReader, EventRow, event_months, reader
from .events import EventFilter

#: Seconds between polls.
FOLLOW_INTERVAL_S = 0.5


@dataclass
class _Tail:
    month: str
    identity: tuple[int, int]  # (st_dev, st_ino)
    file: BinaryIO  # held open: a shard absorbed and deleted meanwhile is still read to its end
    offset: int  # bytes before this are read (complete lines) or skipped
    held: bytes = b""  # a line without its newline yet

    def new_lines(self) -> list[bytes]:
        """The complete lines written since the last read (sealed ones left out)."""
        size = os.fstat(self.file.fileno()).st_size
        if size < self.offset:  # shrank: what was held back is gone
            self.offset, self.held = size, b""
        self.file.seek(self.offset)
        chunk = self.file.read(size - self.offset)
        self.offset += len(chunk)
        data = self.held + chunk
        cut = data.rfind(b"\n") + 1
        self.held = data[cut:]
        return [line + b"\n" for line in data[:cut].split(b"\n")[:-1]
                if line and not (line + b"\n").endswith(SEAL)]


@dataclass
class Follower:
    """Polls the events shards of ``data_dir``; ``poll()`` returns the new events that pass
    ``flt`` in the order they were written. The first poll starts every shard at its end, except
    that with ``flt.since`` the files of its month and later (parts too) are read from their
    start (the backlog)."""

    data_dir: Path
    flt: EventFilter
    tails: dict[tuple[int, int], _Tail] = field(default_factory=dict)  # by (st_dev, st_ino)
    workflow_runs: set[str] = field(default_factory=set)
    started: bool = False

    def poll(self, r: EventReader) -> list[EventRow]:
        with publish_shared(self.data_dir):
            return self._poll(r)

    def _poll(self, r: EventReader) -> list[EventRow]:
        months = event_months(self.data_dir, checkpoints=False)  # the shards, never a checkpoint
        if not self.started and self.flt.workflow is not None:
            every = [p for files in months.values() for p in files]
            self.workflow_runs.update(r.workflow_runs(every, self.flt.workflow))
        by_month: dict[str, list[bytes]] = {}
        parts: list[Path] = []
        seen: set[tuple[int, int]] = set()
        for month, files in months.items():
            for path in files:
                if path.suffix == ".parquet":
                    if not self.started and self._backlog(month):
                        parts.append(path)
                    continue
                tail = self._tail(month, path)
                if tail is not None:
                    seen.add(tail.identity)
        for identity, tail in sorted(self.tails.items(), key=lambda kv: kv[1].month):
            by_month.setdefault(tail.month, []).extend(tail.new_lines())
            if identity not in seen:  # absorbed and deleted: read to its end, let go
                tail.file.close()
                del self.tails[identity]
        self.started = True
        copies = [r.copy([(1, line) for line in lines], month)
                  for month, lines in sorted(by_month.items()) if lines]
        if not copies and not parts:
            return []
        try:
            if self.flt.workflow is not None and copies:
                self.workflow_runs.update(r.workflow_runs(copies, self.flt.workflow))
            return r.rows("events_in_order", [*parts, *copies], self.flt,
                          sorted(self.workflow_runs))
        finally:
            for copy in copies:
                copy.unlink()

    def _backlog(self, month: str) -> bool:
        return self.flt.since is not None and month >= month_of(self.flt.since)

    def _tail(self, month: str, path: Path) -> _Tail | None:
        """The tail of the shard ``path`` names now (opened when new); None when it is gone."""
        try:
            f = open(path, "rb")  # noqa: SIM115 (kept open in the tail, closed when let go)
        except FileNotFoundError:
            return None
        st = os.fstat(f.fileno())
        identity = (st.st_dev, st.st_ino)
        if identity in self.tails:
            f.close()
            return self.tails[identity]
        start = 0 if self.started or self._backlog(month) else st.st_size
        tail = self.tails[identity] = _Tail(month, identity, f, start)
        return tail

    def close(self) -> None:
        for tail in self.tails.values():
            tail.file.close()
        self.tails.clear()


def follow(data_dir: Path, flt: EventFilter, *, last: int | None = None,
           interval: float = FOLLOW_INTERVAL_S) -> Iterator[list[EventRow]]:
    """Batches of new events (the backlog of ``flt.since`` first, its newest ``last`` only),
    until the caller stops iterating (or Ctrl-C). An events_log/ that does not exist yet is
    waited for; a data dir that does not exist, or holds neither a run log nor events_log/, is
    an error (``check_data_dir``)."""
    check_data_dir(data_dir, events=True)
    follower = Follower(data_dir, flt)
    with reader(data_dir, locked=False) as r:  # each poll takes the publish lock
        try:
            first = follower.poll(r)
            yield first[-last:] if last else first
            while True:
                time.sleep(interval)
                yield follower.poll(r)
        finally:
            follower.close()
