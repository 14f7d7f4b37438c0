"""Point lookups and the newest runs from a few bytes of the store (``RunStore.get`` and
``RunStore.runs``, so ``show``, ``report``, ``watch`` and ``list``).

The general path puts every file of the months it needs under the views, which parse every
JSONL line and rank every copy of every run. These shortcuts answer the same from less, with
the views' own typing macros and the same copy order (lookup_copies.sql: the runs view's ranked
branch over the few files that may hold the runs asked for):

* ``find_run``: a Parquet file whose footer proves it holds no such run_id (db/idranges.py) is
  left out, and of each JSONL shard only the lines that may hold the run_id are parsed, found by
  their bytes (db/linesearch.py); a live shard with a checkpoint is read as the checkpoint's rows
  (unless its footer rules the run_id out) and the lines of its tail, never its covered bytes.
* ``newest_runs``: the months are planned and read as the general path reads them
  (``read_newest``), but each live shard with a checkpoint is read as the checkpoint plus a copy
  of its tail, and only the columns of the copy order, ranking first only the runs with a copy
  among the newest finish times (store/ranking.py ``newest_copies``, which starts from the
  bound of the last kept answer over the same Parquet files, remembered in the user cache);
  then each chosen run's row is read from its own line (or part), and must be the winning copy
  the first step found.

Both take a ``then``, called with the row found inside the same session: a report's baseline
(``stats(session=Session.lend())``) reads the same snapshot on the same connection. The
connection is made on a helper thread (db/connecting.py) or by the CLI (``connect_ahead``).

The malformed-line warning is the general path's: the bad lines of every shard it would have
parsed, counted once per shard version (cached: linesearch.facts) or from a checkpoint's
manifest. A shortcut that cannot prove itself safe returns None: the general path answers.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from ..db import engine, views
from ..db.connecting import Connecting as Connecting  # re-exported (tests)
from ..db.connecting import taken
from ..db.connection import duckdb_path, private_temp_dir, query_failed, snapshot
from ..db.idranges import Range, id_ranges, may_hold
from ..db.jsonl_bounds import kept_summaries
from ..db.linesearch import (
    ESCAPE,
    ShardFacts,
    facts,
    lines_with,
    plain,
    prefix_escapes,
    write_lines,
)
from ..db.sqlfiles import load
from ..db.verified import remembered_content_ok
from ..db.view_reads import month_reads
from ..log import checkpoint, schema
from ..log.integrity import check_parts
from ..log.layout import MonthFiles
from ..messages import shard_name
from ..stats import plan as planning
from .ranking import Rows as Rows  # re-exported: the rows of every lookup
from .ranking import fetch as fetch  # re-exported: a statement's rows (runstore, tests)
from .ranking import newest_copies

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from ..stats.engine import Lent

T = TypeVar("T")

#: Called with (what, path) for each file a shortcut reads: "search" (its bytes searched),
#: "parse" (parsed as JSONL: a bad-line count) or "rows" (Parquet rows read). For tests.
observer: Callable[[str, Path], None] | None = None
#: Above this many bytes of JSONL without a checkpoint to search for the rows of the newest
#: runs, ``newest_runs`` leaves it to the general path (which parsed those bytes anyway).
SEARCH_MAX_BYTES = 64 * 1024 * 1024
SCRATCH_PREFIX = "mantis-lookup-"
#: The columns that decide which copy wins and where a run ranks, and their DuckDB types.
KEY = ("run_id", "finished_at", "total_time_s", "status", "workflow_id")
STRUCTURE = json.dumps({k: schema.duckdb_columns()[k] for k in KEY})
#: The runs view's columns, in its order (the Parquet side's, which JSONL lines alone lack).
COLUMNS = (*schema.FIELD_NAMES, schema.EXTRA_COLUMN)


def _note(what: str, path: Path) -> None:
    if observer is not None:
        observer(what, path)


@dataclass(frozen=True)
class Shard:
    """One JSONL shard as a shortcut reads it."""

    path: Path
    checkpoint: Path | None = None  # a live shard's checkpoint (Parquet), when it is valid
    covered: int = 0  # the shard's bytes [0, covered) are in the checkpoint
    tail: Path | None = None  # a private copy of the bytes after ``covered`` (None: none)
    checked_bad: int = 0  # bad lines in the covered bytes (the manifest's count)
    identity: tuple[str, ...] = ()  # the checkpoint's hash and offset


@dataclass
class Session:
    """One snapshot of the store, a connection with the lookups' macros, a scratch folder."""

    connecting: Connecting
    found: dict[str, MonthFiles]
    scratch: Path
    shards: dict[Path, Shard]
    _facts: dict[Path, ShardFacts] = field(default_factory=dict)
    _written: int = 0

    @property
    def con(self) -> engine.DuckDBPyConnection:
        return self.connecting.get()

    def months(self, names: list[str] | None = None) -> list[MonthFiles]:
        return list(self.found.values()) if names is None else [self.found[m] for m in names]

    def lend(self) -> Lent:
        """This snapshot for the stats engine (``stats(session=...)``): the connection, every
        month, each live shard's checkpoint and tail as read here."""
        return self.con, self.months(), self.live()

    def live(self) -> dict[Path, checkpoint.LiveRead]:
        """Each live shard with a valid checkpoint, as read here: the checkpoint and tail."""
        return {p: checkpoint.LiveRead(sh.checkpoint, sh.tail, sh.checked_bad)
                for p, sh in self.shards.items() if sh.checkpoint is not None}

    def count_bad(self, path: Path) -> int:
        _note("parse", path)
        return bad_lines_in(self.con, path)

    def facts(self, path: Path) -> ShardFacts:
        if path not in self._facts:
            self._facts[path] = facts(path, self.count_bad)
        return self._facts[path]

    def bad_lines(self, months: list[MonthFiles]) -> dict[str, int]:
        """Malformed lines per shard of ``months``: what the runs_bad_lines view says."""
        bad: dict[str, int] = {}
        for mf in months:
            for path in mf.jsonl:
                sh = self.shards[path]
                if sh.checkpoint is not None:
                    n = sh.checked_bad + (self.count_bad(sh.tail) if sh.tail else 0)
                else:
                    n = self.facts(path).bad
                if n:
                    bad[path.name] = n
        return dict(sorted(bad.items()))

    def write(self, sh: Shard, lines: list[tuple[int, bytes]]) -> Path:
        """Lines of ``sh`` (offsets in the shard) into a new private file."""
        self._written += 1
        dest = self.scratch / f"lines-{self._written}-{sh.path.name}"
        write_lines(dest, lines)
        return dest

    def search(self, sh: Shard, ids: list[str], ranges: dict[Path, list[Range]],
               *, last_only: bool = False, escapes: bool = True,
               covered: bool = True) -> list[tuple[int, bytes]]:
        """The lines of ``sh`` that may hold one of ``ids`` (offsets in the shard); with
        ``last_only``, the last line of each (no escapes: the caller checks what it finds).
        Not ``covered``: a live shard's bytes in its checkpoint are left out (the caller reads
        the checkpoint's rows instead)."""
        needles = [i.encode() for i in ids]
        if sh.checkpoint is None:
            extra = [ESCAPE] if escapes and self.facts(sh.path).escapes else []
            _note("search", sh.path)
            return lines_with(sh.path, needles + extra, last_only=last_only)
        out: list[tuple[int, bytes]] = []
        if covered and may_hold(ranges[sh.checkpoint], ids):
            extra = [ESCAPE] if escapes and prefix_escapes(
                sh.path, sh.covered, sh.checkpoint, *sh.identity) else []
            _note("search", sh.path)
            out += lines_with(sh.path, needles + extra, 0, sh.covered, last_only=last_only)
        if sh.tail is not None:
            _note("search", sh.tail)
            extra = [ESCAPE] if escapes else []
            out += [(sh.covered + at, data)
                    for at, data in lines_with(sh.tail, needles + extra, last_only=last_only)]
        return out

    def copies(self, files: list[Path], parts: list[Path], ids: list[str]) -> Rows:
        """The runs ``ids`` as the runs view shows them, each its winning copy among those in
        these JSONL files and Parquet files alone (lookup_copies)."""
        for p in parts:
            _note("rows", p)
        parquet, jsonl = listed(parts, files)
        name, params = "lookup_copies", {"parquet": parquet, "jsonl": jsonl, "run_ids": ids}
        if not (files and parts):  # one side alone: the other is not bound (5-7 ms a query)
            name = "lookup_copies_parts" if parts else "lookup_copies_lines"
            del params["jsonl" if parts else "parquet"]
        rows = fetch(self.con.execute(load(name), params))
        return rows if parts else [{k: row[k] for k in COLUMNS} for row in rows]  # its order


def listed(parquet: list[Path], jsonl: list[Path]) -> tuple[list[str], list[str]]:
    """(Parquet, JSONL) files as the queries take them, with placeholders (views.file_lists)."""
    jsonl_names, parquet_names = views.file_lists([MonthFiles("", sealed=jsonl, parts=parquet)])
    return parquet_names, jsonl_names


def _shards(base: Path, months: list[MonthFiles], scratch: Path) -> dict[Path, Shard]:
    """Every JSONL shard of ``months``, live shards with a valid checkpoint as such."""
    found: dict[Path, Shard] = {}
    for mf in months:
        for path in mf.jsonl:
            found[path] = Shard(path)
        if mf.live is None:
            continue
        tails = scratch / f"tail-{mf.month}"  # made by open_live only when there is a tail
        lr = checkpoint.open_live(base, mf.month, mf.live, tails, remembered_content_ok)
        cp = checkpoint.load(base, mf.month) if lr is not None else None
        if lr is not None and cp is not None and cp.parquet == lr.parquet.name:
            found[mf.live] = Shard(mf.live, checkpoint=lr.parquet, covered=cp.offset,
                                   tail=lr.tail, checked_bad=lr.bad_lines,
                                   identity=(cp.sha256, str(cp.offset)))
    return found


@contextmanager
def session(data_dir: Path, *, events: bool = False) -> Iterator[Session]:
    """A :class:`Session` under the shared publish lock (``snapshot``), parts checked; its
    connection (``Connecting``) has the lookups' macros, and with ``events`` the macros that
    read events files (the one made ahead, if any, has both)."""
    connecting = taken(events=events)
    try:
        with snapshot(data_dir) as found:
            months = list(found.values())
            check_parts([p for mf in months for p in mf.parts])
            scratch = private_temp_dir(SCRATCH_PREFIX)
            try:
                yield Session(connecting, found, scratch, _shards(data_dir, months, scratch))
            except engine.Error as exc:
                raise query_failed(exc, months) from exc
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    finally:
        connecting.close()


#: A query of ``read_newest``: the runs of these months newest first, as Rows or an Arrow table.
Query = Callable[[list[MonthFiles]], Any]
_UTC = ZoneInfo("UTC")  # the zone pyarrow gives a timestamp[tz=UTC] value


def pylist(table: pa.Table) -> Rows:
    """``table.to_pylist()``, the same values, without importing pandas: pyarrow turns zoned
    timestamps into datetimes through pandas (0.4 s to import), so UTC timestamp columns are
    read as plain UTC wall-clock times (a view of the same numbers) and given their zone."""
    import pyarrow as pa

    zoned = []
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz == "UTC":
            naive = pa.timestamp(f.type.unit)
            table = table.set_column(i, f.name, pa.chunked_array(
                [c.view(naive) for c in table.column(i).chunks], type=naive))
            zoned.append(f.name)
    rows: Rows = table.to_pylist()
    for rec in rows:
        for key in zoned:
            if rec[key] is not None:
                rec[key] = rec[key].replace(tzinfo=_UTC)
    return rows


def find_run(data_dir: Path, run_id: str,
             then: Callable[[dict[str, Any], Session], T] | None = None
             ) -> tuple[Rows, dict[str, int], T | None] | None:
    """``RunStore._get`` from the files that may hold ``run_id``: (the runs_by_id rows, the
    malformed lines of every shard, ``then`` of the row found, in the same session: a report's
    baseline reads the same snapshot on the same connection). None when ``run_id`` is not plain
    (db/linesearch.py)."""
    return _answer(data_dir, lambda s: _find(s, run_id), then) if plain(run_id) else None


Found = tuple[Rows, dict[str, int]] | None


def _answer(data_dir: Path, find: Callable[[Session], Found],
            then: Callable[[dict[str, Any], Session], T] | None
            ) -> tuple[Rows, dict[str, int], T | None] | None:
    """``find`` in a new session, and ``then`` of its first row in that session."""
    with ExitStack() as held:
        try:
            s = held.enter_context(session(data_dir))
            found = find(s)
        except OSError:  # scratch space: the general path needs none
            return None
        if found is None:
            return None
        return *found, (then(found[0][0], s) if then is not None and found[0] else None)
    raise AssertionError("unreachable")  # pragma: no cover (mypy: ExitStack may swallow)


def _find(s: Session, run_id: str) -> tuple[Rows, dict[str, int]]:
    """find_run in ``s``: the parts and checkpoints whose footers may hold ``run_id`` read as
    rows (a checkpoint holds its shard's covered bytes parsed: their bytes are not searched),
    and the lines of the JSONL shards and tails that may hold it (not of a shard whose summary,
    kept by a report's baseline, rules it out: db/jsonl_bounds.py); every copy so read
    ranked."""
    ids = [run_id]
    every_part = [p for mf in s.months() for p in mf.parts]
    checkpoints = [sh.checkpoint for sh in s.shards.values() if sh.checkpoint is not None]
    ranges = id_ranges(s.connecting.get, every_part + checkpoints)
    kept = kept_summaries([sh.path for sh in s.shards.values() if sh.checkpoint is None])
    files = []
    for sh in s.shards.values():
        if sh.path in kept and kept[sh.path].rules_out(run_id):
            continue  # its summary, kept by a report's baseline, proves it holds no such line
        lines = s.search(sh, ids, ranges, covered=False)
        if lines:
            files.append(s.write(sh, lines))
    rows = s.copies(files, [p for p in every_part + checkpoints if may_hold(ranges[p], ids)], ids)
    return rows, s.bad_lines(s.months())


def read_newest(con: engine.DuckDBPyConnection, found: dict[str, MonthFiles],
                last: int | None, since: Any, query: Query) -> tuple[Any, list[str]]:
    """The months plan of ``RunStore.runs``: months newest first (stats.plan), read in batches
    by ``query`` until the newest ``last`` runs of the months read are proven the newest of
    the store; (the last answer, the months read). The general path and ``newest_runs`` share
    it, so both read the same months."""
    todo = planning.plan(con, list(found.values()), {}, since)
    read: list[str] = []
    got, per_month = 0, 0.0
    while True:
        take = (len(todo) if last is None
                else planning.batch_size(todo, got, per_month, last, whole=False))
        chunk, todo = todo[:take], todo[take:]
        read += [m.month for m in chunk]
        answer = query([found[m] for m in read])
        before, got = got, len(answer)
        per_month = max(per_month, (got - before) / max(len(chunk), 1))
        if not todo or (last is not None and decided(answer, last, planning.horizon(todo))):
            return answer, read


def decided(answer: Any, last: int, horizon: planning.Horizon) -> bool:
    """Whether the newest ``last`` runs of the months read (``answer``, newest first) are the
    newest of the whole store: there are ``last`` of them and the oldest is dated and newer
    than anything the unread months may hold."""
    if not horizon.can_stop or len(answer) < last:
        return False
    rows = answer if isinstance(answer, list) else pylist(
        answer.select(["finished_at"]).slice(last - 1, 1))
    oldest = rows[last - 1 if isinstance(answer, list) else 0]["finished_at"]
    return oldest is not None and (horizon.latest is None or oldest > horizon.latest)


def newest_runs(data_dir: Path, params: dict[str, Any], since: Any,
                then: Callable[[dict[str, Any], Session], T] | None = None
                ) -> tuple[Rows, dict[str, int], T | None] | None:
    """``RunStore._runs`` with ``params`` as runs_select takes them ($limit not None), as
    dicts: the same runs and rows, from the live shards' checkpoints and the runs' own lines,
    and ``then`` of the first row in the same session (as ``find_run``). None when a run's
    line cannot be found by its bytes (or would take too long to find)."""
    if params["limit"] is None:
        return None
    return _answer(data_dir, lambda s: _newest(s, params, since), then)


def _newest(s: Session, params: dict[str, Any], since: Any) -> Found:
    if _bare_bytes(s, s.months()) > SEARCH_MAX_BYTES:
        return None  # the rows' lines would take as long to find as to parse

    def query(months: list[MonthFiles]) -> Rows:
        lines, parts = month_files(s, months)
        parquet, jsonl = listed(parts, lines)
        return newest_copies(s.con, {**params, "parquet": parquet, "jsonl": jsonl,
                                     "structure": STRUCTURE}, parts)

    winners, read = read_newest(s.con, s.found, params["limit"], since, query)
    rows = _rows_of(s, winners, s.months(read))
    return None if rows is None else (rows, s.bad_lines(s.months(read)))


def month_sources(s: Session, months: list[MonthFiles]) -> tuple[list[str], list[str]]:
    """(Parquet files, JSONL files) that hold ``months``' rows (``month_files``), as the queries
    take them: each list ends with its placeholder."""
    jsonl, parquet = month_files(s, months)
    return listed(parquet, jsonl)


def month_files(s: Session, months: list[MonthFiles]) -> tuple[list[Path], list[Path]]:
    """(JSONL files, Parquet files) that hold ``months``' rows, live shards with a checkpoint
    as the checkpoint and a copy of the tail (``view_reads.month_reads``, the views' rule)."""
    live = s.live()
    reads = [month_reads(mf, live) for mf in months]
    return [p for jsonl, _ in reads for p in jsonl], [p for _, parquet in reads for p in parquet]


def _rows_of(s: Session, winners: Rows, months: list[MonthFiles]) -> Rows | None:
    """The rows of ``winners`` (lookup_newest's answer, in its order) from their own lines or
    parts; None when one cannot be found, or what is found is not the copy that won."""
    want = {w["run_id"]: w for w in winners}
    parts = {name: p for mf in months for p in mf.parts for name in (str(p), duckdb_path(p))}
    chosen: dict[str, dict[str, Any]] = {}
    for run_id, w in want.items():
        part = parts.get(w["source"]) if w["source"] is not None else None
        if part is not None:  # one row per run_id in a part: the copy that won
            for row in s.copies([], [part], [run_id]):
                chosen[run_id] = row
    chosen = {i: row for i, row in chosen.items() if _same(row, want[i])}
    for last_only in (True, False):  # the last line of each run first, then every line
        todo = [i for i in want if i not in chosen]
        if not todo:
            break
        found = _from_lines(s, todo, months, last_only=last_only)
        if found is None:
            return None
        chosen.update((row["run_id"], row) for row in found
                      if row["run_id"] in todo and _same(row, want[row["run_id"]]))
    if len(chosen) < len(want):
        return None
    return [chosen[i] for i in want]


def _same(row: dict[str, Any], winner: dict[str, Any]) -> bool:
    """Whether ``row`` is the winning copy described by ``winner``."""
    for k in KEY:
        a, b = row[k], winner[k]
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if a != b or type(a) is not type(b):
            return False
    return True


def _from_lines(s: Session, ids: list[str], months: list[MonthFiles], *,
                last_only: bool) -> Rows | None:
    """The runs view over the lines of ``months``' shards that hold ``ids`` (each run's best
    copy among them); None when that means searching too many bytes without a checkpoint."""
    shards = [s.shards[p] for mf in months for p in mf.jsonl]
    if _bare_bytes(s, months) > SEARCH_MAX_BYTES:
        return None
    ranges = id_ranges(s.connecting.get,
                       [sh.checkpoint for sh in shards if sh.checkpoint is not None])
    files = []
    for sh in shards:
        lines = s.search(sh, ids, ranges, last_only=last_only, escapes=not last_only)
        if lines:
            files.append(s.write(sh, lines))
    return s.copies(files, [], ids)


def _bare_bytes(s: Session, months: list[MonthFiles]) -> int:
    """Bytes of ``months``' JSONL shards without a checkpoint (every one is read: JSONL bounds
    nothing), where a run's line is found by searching the whole shard."""
    return sum(p.stat().st_size for mf in months for p in mf.jsonl
               if s.shards[p].checkpoint is None)


def cached_bad_lines(con: engine.DuckDBPyConnection, found: dict[str, MonthFiles],
                     several: bool = False) -> dict[str, int]:
    """What the runs_bad_lines view says (``_quiet_bad_lines``; shards named by ``shard_name``),
    from the user's cache for the shards unchanged since they were counted (``facts``)."""
    bad: Counter[str] = Counter()
    for path in (p for mf in found.values() for p in mf.jsonl):
        bad[shard_name(path, several)] += facts(path, lambda p: bad_lines_in(con, p)).bad
    return {name: n for name, n in sorted(bad.items()) if n}


def bad_lines_in(con: engine.DuckDBPyConnection, path: Path) -> int:
    """How many lines of the JSONL file ``path`` the views leave out (lookup_bad_lines)."""
    (n,), = con.execute(load("lookup_bad_lines"), {"file": duckdb_path(path)}).fetchall()
    return int(n)
