"""Reading the events files (docs/events.md, "Reading events"): the shared publish lock they are
listed and read under (``publish_shared``), the listing with each events part checked
(``event_months``), and ``EventReader``, a private DuckDB connection with the events macros and
a private scratch folder for the copies of a run's lines. store/events.py answers the questions
with them; store/follow.py polls with them.

Inside ``reader`` (the reader of the current context), ``event_months`` lists a live events
shard that has a valid checkpoint (events_log/checkpoints/, written by ``mantis runs compact``;
log/checkpoint.py says when one is valid) as the checkpoint's Parquet file plus a private copy
of the shard's bytes past its offset (the tail), exactly as the run log's readers read a
checkpointed live month (stats/sources.py): every event in exactly one of them, the checkpoint's
rows numbered in the order they were written (before the tail's, after the month's part's), so
every answer is the one the whole shard gives. A month that still has a sealed shard, a
checkpoint that does not match its shard, a tail too long to copy, or no reader: the whole shard.
``--follow`` follows the shards themselves (``checkpoints=False``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

import duckdb

from ..db import views
from ..db.connection import (
    connect,
    private_temp_dir,
    publish_shared,
    query_failed,
)
from ..db.linesearch import ESCAPE, lines_with, plain, write_lines
from ..db.sqlfiles import load
from ..db.verified import remembered_content_ok
from ..log.checkpoint import LiveRead, manifest_path, open_live
from ..log.integrity import check_parts
from ..log.layout import EVENTS_LOG, events_root, scan_event_months

if TYPE_CHECKING:  # pragma: no cover
    from .events import EventFilter

SCRATCH_PREFIX: Final = "mantis-events-"
#: False: every events read parses the live shards whole, never a checkpoint (the tests compare
#: the two; nothing else turns it off).
USE_CHECKPOINTS = True
_MACROS = ("macro_bad_line", "macro_bad_event", "macro_event_of", "macro_event_parts",
           "macro_event_rows", "macro_events_chosen", "view_run_events_bad_lines")


class EventRow(TypedDict):
    """One run event (ts an aware UTC datetime, fields its JSON object)."""

    run_id: str
    type: str
    ts: datetime
    fields: dict[str, Any]



@dataclass
class EventReader:
    """A private connection with the events macros, and a private scratch folder (made on
    first use); no user SQL runs here."""

    data_dir: Path
    con: duckdb.DuckDBPyConnection | None = None
    scratch: Path | None = None
    _copies: int = field(default=0)
    #: each live shard's checkpoint and tail, by month (None: read it whole), taken once
    _live: dict[str, LiveRead | None] = field(default_factory=dict)
    #: the shard name of each checkpoint file and tail copy listed, and the checkpoint's bad lines
    _shard_of: dict[Path, tuple[str, int]] = field(default_factory=dict)

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = connect()
            views.set_event_files(self.con, [])  # the bad-lines view reads the variable
            for name in _MACROS:
                self.con.execute(load(name))
        return self.con

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            self.scratch = private_temp_dir(SCRATCH_PREFIX)
        return self.scratch

    def live_read(self, month: str, live: Path) -> LiveRead | None:
        """The checkpoint of the live shard ``live`` and a copy of its tail (named as the shard,
        so its bad lines and events are named after it), when the checkpoint is valid; taken
        once per reader, so that every listing of one read agrees."""
        if month not in self._live:
            root = events_root(self.data_dir)
            lr = (open_live(root, month, live, self.scratch_dir() / "tails", remembered_content_ok)
                  if manifest_path(root, month).exists() else None)  # no scratch folder for none
            self._live[month] = lr
            if lr is not None:
                self._shard_of[lr.parquet] = (live.name, lr.bad_lines)
                if lr.tail is not None:
                    self._shard_of[lr.tail] = (live.name, -1)  # counted when asked
        return self._live[month]

    def copy(self, lines: list[tuple[int, bytes]], name: str) -> Path:
        """``lines`` (from ``lines_with``) into a new private file whose name sorts as
        ``name`` does (file order is month order), after ``name`` itself: a month's copies
        (``YYYY-MM.jsonl-N``) come after the rows of its part, which keep ``YYYY-MM.jsonl``."""
        self._copies += 1
        dest = self.scratch_dir() / f"{name}.jsonl-{self._copies:06d}"
        write_lines(dest, lines)
        return dest

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def relation(self, name: str, files: Sequence[Path | str], flt: EventFilter,
                 workflow_runs: Iterable[str] = (), **more: Any) -> duckdb.DuckDBPyRelation:
        return self.connection().sql(load(name), params={
            "files": views.event_list(files),
            **flt.params(workflow_runs), **more})

    def rows(self, name: str, files: Sequence[Path | str], flt: EventFilter,
             workflow_runs: Iterable[str] = (), **more: Any) -> list[EventRow]:
        if not files:
            return []
        return to_events(self.relation(name, files, flt, workflow_runs, **more).fetchall())

    def workflow_runs(self, files: Sequence[Path], workflow: str | None) -> list[str]:
        """The run_ids whose run_started names ``workflow`` in ``files`` (events_workflow_runs)."""
        if workflow is None or not files:
            return []
        return [str(r[0]) for r in self.connection().execute(load("events_workflow_runs"), {
            "files": views.event_list(files),
            "workflow": workflow}).fetchall()]

    def bad_lines(self, files: Sequence[Path]) -> dict[str, int]:
        """Malformed lines of ``files`` by shard (``events_log/NAME``): those of a checkpoint
        from its manifest, those of a tail copy counted, the others as ``views.event_bad_lines``
        counts them (cached per file)."""
        con = self.connection()
        plain = [p for p in files if p not in self._shard_of]
        views.set_event_files(con, plain)
        bad = views.event_bad_lines(con, plain)
        for path in files:
            name, n = self._shard_of.get(path, ("", 0))
            if n < 0:
                n = views.bad_events(con, path)
            if n:
                key = f"{EVENTS_LOG}/{name}"
                bad[key] = bad.get(key, 0) + int(n)
        return bad

    def run_lines(self, run_id: str, month: str, files: Sequence[Path]) -> list[Path]:
        """Private copies of the lines of ``files`` (one month's) that may hold ``run_id``."""
        needles = [run_id.encode(), ESCAPE] if plain(run_id) else None
        out: list[Path] = []
        for path in files:
            if path.suffix == ".parquet":  # an events part: read in place, by its run_id stats
                out.append(path)
                continue
            try:
                lines = ([(0, path.read_bytes())] if needles is None
                         else lines_with(path, needles))
            except FileNotFoundError:
                continue
            if lines and lines[0][1]:
                out.append(self.copy(lines, month))
        return out


#: The reader of the current context (:func:`reader`): :func:`event_months` copies tails there.
_ACTIVE: ContextVar[EventReader | None] = ContextVar("mantis_events_reader", default=None)


def event_months(data_dir: Path, *, checkpoints: bool = True,
                 first: str = "") -> dict[str, list[Path]]:
    """Every month's events files (from month ``first`` on), oldest first, in the order they
    were written (as ``layout.scan_events`` lists them), each events part listed checked
    against its checksum (quickly, as readers check the run log's parts: ``check_parts``).
    Under :func:`publish_shared`.

    Inside :func:`reader` (of ``data_dir``) and with ``checkpoints``, a live shard with a valid
    checkpoint is listed as the checkpoint's Parquet file and a copy of its tail, unless its
    month has a sealed shard too (module doc)."""
    months = {m: mf for m, mf in scan_event_months(data_dir).items() if m >= first}
    check_parts([p for mf in months.values() for p in mf.parts])
    r = _ACTIVE.get()
    if not (checkpoints and USE_CHECKPOINTS and r is not None and r.data_dir == data_dir):
        r = None
    out: dict[str, list[Path]] = {}
    for month, mf in months.items():
        files = [*mf.parts, *mf.sealed]
        lr = (r.live_read(month, mf.live) if r is not None and mf.live is not None
              and not mf.sealed else None)
        if lr is not None:
            files += [lr.parquet, *([lr.tail] if lr.tail is not None else [])]
        elif mf.live is not None:
            files.append(mf.live)
        out[month] = files
    return out


@contextmanager
def reader(data_dir: Path, *, locked: bool = True) -> Iterator[EventReader]:
    """An :class:`EventReader` under the shared publish lock (``locked``: ``--follow`` takes
    it for each poll instead)."""
    r = EventReader(data_dir)
    token = _ACTIVE.set(r)
    try:
        with publish_shared(data_dir) if locked else nullcontext():
            yield r
    except duckdb.Error as exc:  # e.g. a part whose pages are damaged: one line, not a trace
        raise query_failed(exc, []) from exc
    finally:
        _ACTIVE.reset(token)
        r.close()


def to_events(records: Iterable[tuple[Any, ...]]) -> list[EventRow]:
    """Rows of the events queries (run_id, type, ts, fields, ...) as ``EventRow``s."""
    out: list[EventRow] = []
    for rec in records:
        out.append(EventRow(run_id=rec[0], type=rec[1], ts=rec[2].astimezone(UTC),
                            fields=json.loads(rec[3])))  # an object (mantis_bad_event)
    return out
