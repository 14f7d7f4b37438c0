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

What the footer of each events Parquet file (a part, a checkpoint) says of its row groups, the
run_id and ts ranges, is kept in the user's cache (``footers``): one run's events leave out the
files that cannot hold its run_id (``run_lines``), and ``list --running`` proves without DuckDB
that no event is dated in its window when the footers and a few JSONL lines say so (``quiet``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

from ..db import engine, views
from ..db.cache import per_file
from ..db.connection import (
    connect,
    duckdb_path,
    private_temp_dir,
    publish_shared,
    query_failed,
)
from ..db.idranges import may_hold
from ..db.linesearch import ESCAPE, lines_with, plain, write_lines
from ..db.sqlfiles import load
from ..db.verified import remembered_content_ok
from ..log.checkpoint import LiveRead, manifest_path, open_live
from ..log.integrity import check_parts
from ..log.layout import EVENTS_LOG, events_root, scan_event_months
from ..log.record import epoch_us

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from .events import EventFilter

SCRATCH_PREFIX: Final = "mantis-events-"
#: False: every events read parses the live shards whole, never a checkpoint (the tests compare
#: the two; nothing else turns it off).
USE_CHECKPOINTS = True
#: One row group of an events Parquet file as its footer says (events_footers.sql): its smallest
#: and largest run_id, its earliest and latest ts (microseconds since the epoch), each None when
#: unknown. Kept in the user's cache (``footers``); the version below names its format.
Footer = tuple[str | None, str | None, int | None, int | None]
FOOTERS_FORMAT: Final = "format 1"
#: Above this many bytes of JSONL lines, ``EventReader.quiet`` proves nothing (DuckDB reads them).
QUIET_MAX_BYTES: Final = 256 * 1024
#: How far outside its window a ts must be for ``quiet`` to count it out (a margin for texts
#: that Python and DuckDB might round differently).
QUIET_MARGIN: Final = timedelta(seconds=1)
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
    con: engine.DuckDBPyConnection | None = None
    scratch: Path | None = None
    _copies: int = field(default=0)
    #: each live shard's checkpoint and tail, by month (None: read it whole), taken once
    _live: dict[str, LiveRead | None] = field(default_factory=dict)
    #: the shard name of each checkpoint file and tail copy listed, and the checkpoint's bad lines
    _shard_of: dict[Path, tuple[str, int]] = field(default_factory=dict)
    #: the footers of the events Parquet files asked about (``footers``)
    _footers: dict[Path, list[Footer]] = field(default_factory=dict)

    def connection(self) -> engine.DuckDBPyConnection:
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
        """The query ``name`` as a relation (DuckDB's relational API: Arrow answers)."""
        engine.relational()
        return self.connection().sql(load(name), params=self._params(
            files, flt, workflow_runs, more))

    def rows(self, name: str, files: Sequence[Path | str], flt: EventFilter,
             workflow_runs: Iterable[str] = (), **more: Any) -> list[EventRow]:
        if not files:
            return []
        return to_events(self.connection().execute(load(name), self._params(
            files, flt, workflow_runs, more)).fetchall())

    @staticmethod
    def _params(files: Sequence[Path | str], flt: EventFilter, workflow_runs: Iterable[str],
                more: dict[str, Any]) -> dict[str, Any]:
        return {"files": views.event_list(files), **flt.params(workflow_runs), **more}

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

    def footers(self, files: Iterable[Path], *, read: bool = True) -> dict[Path, list[Footer]]:
        """The footers of the Parquet files among ``files`` (``footers``), taken once per
        reader; ``read``: those the cache lacks are read on this reader's connection (else
        they are left out: unknown)."""
        todo = [p for p in files if p.suffix == ".parquet" and p not in self._footers]
        if todo:
            self._footers.update(footers(self.connection if read else None, todo))
        return self._footers

    def quiet(self, files: Sequence[Path], window: tuple[datetime, datetime]) -> bool:
        """Whether no event of ``files`` can be dated within ``window``, proven without DuckDB:
        each Parquet file by its footers in the user's cache (``may_be_dated_in``), the JSONL lines
        parsed in Python (``undated``), at most ``QUIET_MAX_BYTES`` of them. False when that
        proves nothing (a footer not cached yet, more lines, a line it cannot read); the sizes
        and footers are looked at before any line is parsed."""
        known = self.footers(files, read=False)
        jsonl = [p for p in files if p.suffix != ".parquet"]
        try:
            if sum(p.stat().st_size for p in jsonl) > QUIET_MAX_BYTES or any(
                    p not in known or may_be_dated_in(known[p], window)
                    for p in files if p.suffix == ".parquet"):
                return False
            left = QUIET_MAX_BYTES
            for path in jsonl:
                with path.open("rb") as f:
                    data = f.read(left + 1)  # a live shard may have grown since
                left -= len(data)
                if left < 0 or not undated(data, *window):
                    return False
        except OSError:
            return False
        return True

    def run_lines(self, run_id: str, month: str, files: Sequence[Path]) -> list[Path]:
        """Private copies of the lines of ``files`` (one month's) that may hold ``run_id``, and
        the Parquet files among them whose footers do not prove they hold none of its rows."""
        needles = [run_id.encode(), ESCAPE] if plain(run_id) else None
        known = self.footers(files)
        out: list[Path] = []
        for path in files:
            if path.suffix == ".parquet":  # an events part: read in place, by its run_id stats
                if path not in known or may_hold([g[:2] for g in known[path]], [run_id]):
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
    except engine.Error as exc:  # e.g. a part whose pages are damaged: one line, not a trace
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


def footers(connection: Callable[[], engine.DuckDBPyConnection] | None,
            files: list[Path]) -> dict[Path, list[Footer]]:
    """What the footer of each events Parquet file says of every row group (events_footers.sql),
    kept in the user's cache under the file's stat identity (a published part or checkpoint
    never changes). ``connection`` gives the connection that reads the footers the cache lacks;
    None: such a file is left out of the answer (unknown, as a file not named back is)."""
    def compute(todo: list[Path]) -> dict[Path, list[Footer]]:
        if connection is None:
            return {}
        names = {duckdb_path(p): p for p in todo} | {str(p): p for p in todo}
        found: dict[Path, list[Footer]] = {}
        for name, _group, *footer in connection().execute(load("events_footers"), {
                "files": [duckdb_path(p) for p in todo]}).fetchall():
            if name in names:
                found.setdefault(names[name], []).append(_footer(footer))
        return found

    return per_file("event-footers", files, FOOTERS_FORMAT, decode=_decode_footers,
                    encode=lambda groups: [list(g) for g in groups], compute=compute)


def _footer(raw: Sequence[Any]) -> Footer:
    low, high, ts_low, ts_high = raw
    return (low if isinstance(low, str) else None, high if isinstance(high, str) else None,
            ts_low if isinstance(ts_low, int) else None,
            ts_high if isinstance(ts_high, int) else None)


def _decode_footers(raw: Any) -> list[Footer] | None:
    """A cache entry's row groups; None (read the footer again) for anything else, and for
    none at all: an events part without a row group is rare, an entry saying so suspect."""
    if not isinstance(raw, list) or not raw or not all(isinstance(g, list) and len(g) == 4
                                                       for g in raw):
        return None
    groups = [_footer(g) for g in raw]
    return groups if all(list(g) == r for g, r in zip(groups, raw, strict=True)) else None


def may_be_dated_in(groups: list[Footer], window: tuple[datetime, datetime]) -> bool:
    """Whether a file with these row groups may hold a row whose ts is within ``window``
    widened by ``QUIET_MARGIN``: a row group whose ts statistics are unknown may."""
    try:
        low, high = epoch_us(window[0] - QUIET_MARGIN), epoch_us(window[1] + QUIET_MARGIN)
    except OverflowError:  # a window at the ends of time
        return True
    return any((g[2] is None or g[2] <= high) and (g[3] is None or g[3] >= low) for g in groups)


def undated(data: bytes, low: datetime, high: datetime) -> bool:
    """Whether no line of ``data`` (JSONL) has a ts from ``low`` to ``high`` as DuckDB reads one
    (``json ->> 'ts'`` cast to TIMESTAMPTZ, naive texts in UTC: the connection's TimeZone),
    proven in Python: every value of a key "ts" of a line, at any depth (a superset of DuckDB's
    one), is JSON null or a text that ``datetime.fromisoformat`` reads as an instant more than
    ``QUIET_MARGIN`` outside. A line that is not UTF-8 JSON, a ts of another type or a text it
    cannot read proves nothing: False (DuckDB then decides). Blank lines hold no ts."""
    stamps: list[Any] = []

    def keep_ts(pairs: list[tuple[str, Any]]) -> None:
        stamps.extend(v for k, v in pairs if k == "ts")

    try:
        lo, hi = low - QUIET_MARGIN, high + QUIET_MARGIN
    except OverflowError:
        return False
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            json.loads(line.decode("utf-8"), object_pairs_hook=keep_ts)
            dated = [datetime.fromisoformat(v) for v in stamps if v is not None]
        except (ValueError, TypeError, RecursionError):  # a ts that is not a text: TypeError
            return False
        if any(lo <= (t if t.tzinfo else t.replace(tzinfo=UTC)) <= hi for t in dated):
            return False
        stamps.clear()
    return True
