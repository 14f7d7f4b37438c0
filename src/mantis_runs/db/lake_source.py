"""What a read is over: local data dirs and lake tables, as the readers take them.

A lake table (docs/lake.md) reaches the readers as a :class:`LakeSource`: the table's rows as an
Arrow dataset (from ``deltalake``, opened by ``mantis_runs.lake.read``; this wing never imports
deltalake), and per ``month`` partition the latest ``finished_at`` its files may hold (from the
Delta log's file statistics), so a reader plans lake months as it plans local ones. DuckDB reads
the dataset registered as ``mantis_lake`` (:func:`register`): the month and ``finished_at``
filters reach the scan, so only the files of the months read are fetched. A table on a local
filesystem is read by DuckDB itself instead (``LakeSource.files``: one ``read_parquet`` per
month partition read, the month a constant that prunes whole branches; ``ready`` points the view
at the months a reader asks for), which needs no Arrow dataset
and scans two to three times faster; and so is a remote table by the stats engine, from copies
of the files of the months it reads, made when it first reads them (``LakeSource.fetch``,
``ready``).

:class:`Sources` is a read over several places at once (``--data-dir`` given more than once):
every run once, its winning copy chosen by the copy order across all of them.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import MantisError, UsageError
from ..log.layout import MonthFiles, resolve_data_dir
from . import engine
from .connection import old_layout, query_failed, snapshot
from .sqlfiles import load

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

#: The name a read's lake rows have in DuckDB (every lake of the read, as one dataset).
LAKE_RELATION: Final = "mantis_lake"


@dataclass(frozen=True)
class LakeMonth:
    """One ``month`` partition of a lake table (``None``: the runs without a finished_at)."""

    month: str | None
    #: every dated row of the month finished at or before it (None: the month has none)
    latest: datetime | None
    rows: int


class Fetcher(Protocol):
    """A remote table's data files, copied when first asked for (lake/fetch.py)."""

    def __call__(self, months: Sequence[str | None]) -> dict[str | None, list[str]]:
        """The local copies of every month fetched so far, ``months`` fetched first."""

    def origin(self, local: str) -> str | None:
        """The remote file (path and size) a local copy was made from; None: not a copy."""

    def fits(self, months: Sequence[str | None]) -> bool:
        """Whether there is room for the copies of ``months``."""


@dataclass(frozen=True)
class LakeSource:
    """A lake table opened for reading: its URI, its rows as an Arrow dataset
    (``pyarrow.dataset.Dataset``, built by ``opener`` when first needed) and its months."""

    uri: str
    opener: Callable[[], Any] = field(compare=False)
    months: list[LakeMonth]
    #: the one line (credentials taken out) for a failed read of the dataset
    failure: Callable[[BaseException], MantisError] = field(compare=False)
    #: the current version's data files per month partition when every one is a local file
    #: (a table on a local filesystem, Delta reader version 1): DuckDB reads them directly
    files: dict[str | None, list[str]] | None = field(default=None, compare=False)
    #: the table opened again at its current version (None: it cannot be: a merged source)
    reopen: Callable[[], LakeSource] | None = field(default=None, compare=False)
    #: a remote table whose files DuckDB may read once copied (lake/fetch.py)
    fetch: Fetcher | None = field(default=None, compare=False)
    #: the run_ids with two or more copies among the version's data files, from the proof
    #: `lake compact` left beside the table (lake/proof.py); None: no valid proof
    proven: Callable[[], list[str] | None] | None = field(default=None, compare=False)

    @property
    def direct(self) -> bool:
        """Whether DuckDB reads the table's files itself (local, or copies of remote ones)."""
        return self.files is not None or self.fetch is not None

    def local_files(self, months: Sequence[str | None]) -> dict[str | None, list[str]]:
        """The files DuckDB reads for ``months`` (fetched first when remote): every month's
        of a local table, every month fetched so far of a remote one; none for a table read
        through its Arrow dataset."""
        if self.files is not None:
            return self.files
        return self.fetch(months) if self.fetch is not None else {}

    @cached_property
    def dataset(self) -> Any:
        """The table's rows as an Arrow dataset (built once)."""
        return self.opener()


@dataclass
class LakeMonthFiles(MonthFiles):
    """A month partition of the lake among a read's months (``month`` is ``lake:YYYY-MM``, or
    ``lake:`` for the runs without a finished_at): no file of a data dir, its rows are in
    ``mantis_lake``; stats.plan plans it by ``latest``."""

    lake_month: str | None = None
    latest: datetime | None = None
    rows: int = 0


def month_files(lake: LakeSource | None) -> list[LakeMonthFiles]:
    """The lake's months as a read's months (none without a lake)."""
    return [LakeMonthFiles(f"lake:{m.month or ''}", lake_month=m.month, latest=m.latest,
                           rows=m.rows)
            for m in (lake.months if lake is not None else []) if m.rows]


def set_months(con: engine.DuckDBPyConnection, months: Iterable[MonthFiles]) -> None:
    """Point the lake's rows of the ``runs`` view (view_runs_lake.sql) at the lake months
    among ``months`` (session variables ``mantis_lake_months``, ``mantis_lake_undated``)."""
    chosen = month_filter([mf.lake_month for mf in months if isinstance(mf, LakeMonthFiles)])
    con.execute("SET VARIABLE mantis_lake_months = CAST($value AS VARCHAR[])",
                {"value": chosen["months"]})
    con.execute("SET VARIABLE mantis_lake_undated = $value", {"value": chosen["undated"]})


@dataclass(frozen=True)
class Sources:
    """The places one read is over: local data dirs and lake tables."""

    local: list[Path]
    lakes: list[LakeSource] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The sources as messages name them."""
        return ", ".join([*map(str, self.local), *(lk.uri for lk in self.lakes)])

    @property
    def one_local(self) -> bool:
        """Whether this is one local data dir and no lake."""
        return not self.lakes and len(self.local) == 1

    def lake(self) -> LakeSource | None:
        """Every lake of the read as one (None: there is none)."""
        return merged(self.lakes)

    def failure(self, exc: BaseException) -> MantisError | None:
        """The lake's one line for ``exc`` when a lake is read (else None: a local failure)."""
        return self.lakes[0].failure(exc) if self.lakes else None

    def fresh(self) -> Sources:
        """The same sources with each lake opened again at its current version (a lake source
        is the version it was opened at: a reader that polls, ``watch``, asks for new ones)."""
        if not self.lakes:
            return self
        return Sources(self.local, [lk.reopen() if lk.reopen is not None else lk
                                    for lk in self.lakes])


DataDirs = str | os.PathLike[str] | LakeSource | Sources | Sequence[
    "str | os.PathLike[str] | LakeSource"] | None


def _lake_uri(uri: str) -> UsageError:
    """A lake URI given where a path or an opened lake is taken (the URI is not repeated: it
    may hold credentials)."""
    return UsageError(f"{uri.split('://', 1)[0]}://... is a lake URI: open it with "
                      "mantis_runs.lake.read.open_source first")


def sources_of(data_dir: DataDirs) -> Sources:
    """``data_dir`` as the readers take it: None (the default data dir), a path, a
    ``LakeSource``, ``Sources``, or a list of paths and lake sources."""
    if isinstance(data_dir, Sources):
        return data_dir
    if isinstance(data_dir, str) and "://" in data_dir:
        raise _lake_uri(data_dir)
    if data_dir is None or isinstance(data_dir, str | os.PathLike):
        return Sources([resolve_data_dir(data_dir)])
    if isinstance(data_dir, LakeSource):
        return Sources([], [data_dir])
    local: list[Path] = []
    lakes: list[LakeSource] = []
    for item in data_dir:
        if isinstance(item, LakeSource):
            lakes.append(item)
        elif isinstance(item, str) and "://" in item:
            raise _lake_uri(item)
        else:
            path = resolve_data_dir(item)
            if path not in local:
                local.append(path)
    if not local and not lakes:
        raise UsageError("no data dir given")
    return Sources(local, lakes)


def merged(lakes: list[LakeSource]) -> LakeSource | None:
    """Several lakes as one: a union of their datasets, their months merged by name."""
    if len(lakes) <= 1:
        return lakes[0] if lakes else None
    import pyarrow.dataset as ds

    by_month: dict[str | None, LakeMonth] = {}
    for lake in lakes:
        for m in lake.months:
            seen = by_month.get(m.month)
            if seen is None:
                by_month[m.month] = m
                continue
            latest = max((t for t in (seen.latest, m.latest) if t is not None), default=None)
            by_month[m.month] = LakeMonth(m.month, latest, seen.rows + m.rows)
    files: dict[str | None, list[str]] | None = None
    fetch: Fetcher | None = None
    if all(lk.files is not None for lk in lakes):
        files = _union([lk.local_files([]) for lk in lakes])
    elif all(lk.direct for lk in lakes):
        fetch = _Merged(lakes)
    return LakeSource(" + ".join(lk.uri for lk in lakes),
                      lambda: ds.dataset([lk.dataset for lk in lakes]), list(by_month.values()),
                      lakes[0].failure, files, fetch=fetch)


@dataclass(frozen=True)
class _Merged:
    """The fetcher of several lakes read as one (some local, some fetched)."""

    lakes: list[LakeSource]

    def __call__(self, months: Sequence[str | None]) -> dict[str | None, list[str]]:
        return _union([lk.local_files(months) for lk in self.lakes])

    def origin(self, local: str) -> str | None:
        return next((o for lk in self.lakes if lk.fetch is not None
                     and (o := lk.fetch.origin(local)) is not None), None)

    def fits(self, months: Sequence[str | None]) -> bool:
        return all(lk.fetch.fits(months) for lk in self.lakes if lk.fetch is not None)


def _union(found: list[dict[str | None, list[str]]]) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for files in found:
        for month, paths in files.items():
            out.setdefault(month, []).extend(paths)
    return out


def register(con: engine.DuckDBPyConnection, lake: LakeSource | None, *,
             direct: bool = True) -> None:
    """Make the lake's rows ``mantis_lake`` on ``con`` (an empty relation when there is no
    lake is never needed: the readers only name it when a lake month is read): with ``direct``
    and local files (or copies of remote ones) to read, ``ready`` makes it a view over the
    months read (``local_view``); else the Arrow dataset (which a locked-down connection can
    read: its files are read by Arrow, not by DuckDB)."""
    if lake is None:
        return
    _READY.pop(con, None)  # a view made for another lake is not this one's
    if not (direct and (lake.files or lake.fetch is not None)):
        _register_dataset(con, lake)


def _register_dataset(con: engine.DuckDBPyConnection, lake: LakeSource) -> None:
    """``mantis_lake`` as the lake's Arrow dataset. DuckDB scans a Python Arrow object only
    once duckdb's Python layer has set up its sources (db/engine.py)."""
    engine.relational()
    con.register(LAKE_RELATION, lake.dataset)


#: Per connection, the months its ``mantis_lake`` view covers (None: a remote table's copies
#: would not fit, the Arrow dataset was registered).
_READY: weakref.WeakKeyDictionary[engine.DuckDBPyConnection, frozenset[str | None] | None] = (
    weakref.WeakKeyDictionary())


def ready(con: engine.DuckDBPyConnection, lake: LakeSource | None,
          months: Sequence[str | None]) -> None:
    """Before a read of the lake's ``months`` on ``con`` (registered with ``direct``): point
    ``mantis_lake`` at every month read so far, ``months`` included. A local table's view
    covers those months only (a view binds the files of its months: the newest month's, not
    the whole table's, for a read that stops there) while they are at most half the table's,
    then every month (the planner's batches grow: a few views at most). For a remote table
    read from copies, the months' files are fetched first; when the copies would not fit
    (``Fetcher.fits``), the Arrow dataset is registered instead, for the rest of the connection
    (a registered name hides a view of that name). Nothing for a lake read through its
    dataset."""
    if lake is None or not (lake.files or lake.fetch is not None) or _READY.get(con, ()) is None:
        return
    if lake.files:
        seen = _READY.get(con) or frozenset()
        wanted = {m for m in months if m in lake.files}
        if seen and wanted <= seen:
            return
        have = seen | wanted
        files = ({m: lake.files[m] for m in have} if have and 2 * len(have) <= len(lake.files)
                 else lake.files)
    elif lake.fetch is not None and not lake.fetch.fits(months):
        _register_dataset(con, lake)
        _READY[con] = None
        return
    else:
        files = lake.local_files(months)
    if _READY.get(con) != frozenset(files) and files:
        local_view(con, files).create_view(LAKE_RELATION, replace=True)
        _READY[con] = frozenset(files)


def local_view(con: engine.DuckDBPyConnection,
               files: dict[str | None, list[str]]) -> duckdb.DuckDBPyRelation:
    """The rows of a local table's ``files`` as the dataset has them (the ``month`` partition
    last): per month, its files read by DuckDB with the month as a constant, so a filter on the
    month drops whole branches before any file is opened. Built with the relation API: the
    paths are values, never SQL text."""
    relational = engine.relational()
    month_type = relational.sqltype("VARCHAR")
    out: duckdb.DuckDBPyRelation | None = None
    for month, paths in sorted(files.items(), key=lambda kv: kv[0] or ""):
        rel = con.read_parquet(paths, hive_partitioning=False).select(
            relational.StarExpression(),
            relational.ConstantExpression(month).cast(month_type).alias("month"))
        out = rel if out is None else out.union(rel)
    assert out is not None
    return out


def month_filter(months: Sequence[str | None]) -> dict[str, Any]:
    """The parameters that select lake ``months`` (``$months``, ``$undated``)."""
    return {"months": [m for m in months if m is not None], "undated": None in months}


def install_views(con: engine.DuckDBPyConnection, lake: LakeSource | None,
                  months: Iterable[MonthFiles]) -> None:
    """With a lake: register its rows and make ``runs`` the merged view (view_runs_lake.sql)
    over the local one, which views.install defined, over the lake ``months`` among
    ``months``; nothing without a lake."""
    if lake is None:
        return
    register(con, lake, direct=False)  # con is locked down (connection.lock_down)
    set_months(con, months)
    con.execute(load("view_runs_local"))
    con.execute(load("view_runs_lake"))


def read_failed(exc: engine.Error, months: Iterable[MonthFiles],
                lake: LakeSource | None) -> MantisError:
    """The one line for a failed read: the lake's (credentials taken out) when a lake is read,
    unless a local part in an older layout explains it."""
    if lake is None:
        return query_failed(exc, months)
    return old_layout(months) or lake.failure(exc)


@contextmanager
def snapshot_all(sources: Sources) -> Iterator[dict[str, MonthFiles]]:
    """A snapshot of every local data dir (connection.snapshot), their months merged by name
    (``merged_months``), and the lake's months (``month_files``)."""
    with ExitStack() as stack:
        found = merged_months([stack.enter_context(snapshot(d)) for d in sources.local])
        yield found | {mf.month: mf for mf in month_files(sources.lake())}


def merged_months(stores: Iterable[dict[str, MonthFiles]]) -> dict[str, MonthFiles]:
    """The months of several data dirs' snapshots as one store's, by name: a month's files of
    every data dir (the live shards beyond the first listed with the sealed ones: each is
    JSONL read whole)."""
    out: dict[str, MonthFiles] = {}
    for found in stores:
        for month, mf in found.items():
            seen = out.get(month)
            if seen is None:
                out[month] = mf
                continue
            out[month] = replace(seen, live=seen.live or mf.live,
                                 sealed=[*seen.sealed, *([mf.live] if mf.live and seen.live
                                                         else []), *mf.sealed],
                                 parts=[*seen.parts, *mf.parts],
                                 superseded=[*seen.superseded, *mf.superseded])
    return dict(sorted(out.items()))


def lake_shared_run_ids(con: engine.DuckDBPyConnection, lake: LakeSource,
                        files: list[str]) -> list[str]:
    """``shared_ids.shared_run_ids`` over a lake's data ``files``, or a superset: the proof
    for every file of the table's version (``LakeSource.proven``), when there is one, spares
    the scan. Copies of a remote table's files may get new names and times at every read,
    which would miss that cache: their answer is also kept under what they are copies of (the
    table's URI, each file's path and size), so a whole history of an unchanged table finds it
    at once."""
    from .cache import cache_root, read_entry, write_entry
    from .shared_ids import FORMAT, cached_shared_run_ids, shared_run_ids

    def proven_or_scanned() -> list[str]:
        proven = lake.proven() if lake.proven is not None else None
        return proven if proven is not None else shared_run_ids(con, [Path(p) for p in files])

    origins = [lake.fetch.origin(p) for p in files] if lake.fetch is not None else []
    if not origins or None in origins:
        known = cached_shared_run_ids([Path(p) for p in files])
        return known if known is not None else proven_or_scanned()
    digest = hashlib.sha256("\0".join([
        "lake-shared-run-ids", f"format {FORMAT}", f"duckdb {engine.__version__}",
        lake.uri, *sorted(str(o) for o in origins)]).encode()).hexdigest()[:32]
    entry = cache_root() / "lake-shared-run-ids" / digest[:2] / f"{digest}.json"
    known = read_entry(entry)
    if isinstance(known, list) and all(isinstance(v, str) for v in known):
        return known
    found = proven_or_scanned()
    write_entry(entry, found)
    return found
