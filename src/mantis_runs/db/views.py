"""The SQL views over a data directory: runs, run_buckets, run_costs and runs_bad_lines, and
over its events files run_events and run_events_bad_lines (``mantis_event_files``).

The views are defined once, in ``sql/view_*.sql``, over session variables that name the files
(``mantis_jsonl_files``, ``mantis_parquet_files``), carry the schema and list the run_ids with
more than one copy among the store's Parquet files (``mantis_shared_ids``, from the cache of
``shared_ids.py``: the runs whose Parquet rows the ``runs`` view must rank). In the library the
variables are set with bound parameters; for the DuckDB shell (``mantis runs shell`` and
``mantis runs views``) the same SQL is preceded by ``SET VARIABLE`` statements with quoted literals.

DuckDB refuses an empty file list, so each list also names an empty placeholder file (a 0-byte
JSONL file and a 0-row Parquet file with the canonical schema). They live in the user cache
folder (``$XDG_CACHE_HOME/mantis``), so a printed script keeps working; a private temp folder is
the fallback when that is not writable.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from ..log import checkpoint, schema
from ..log.layout import CHECKPOINTS, EVENTS_LOG, MonthFiles, scan
from . import arrow_schema, engine, lake_source
from .cache import cache_root, entry_for, read_entry, write_entry
from .connection import BASE_MACROS, connect, duckdb_path
from .shared_ids import cached_shared_run_ids, shared_run_ids
from .sqlfiles import load
from .view_reads import Listing, live_reads
from .view_reads import Reads as Reads  # re-exported: store/runstore.py names views.Reads

MACROS = (*BASE_MACROS, "macro_bad_line", "macro_breakdown", "macro_part_rows",
          "macro_contested_ids", "macro_view_jsonl_rows", "macro_bad_event", "macro_event_of",
          "macro_event_parts", "macro_event_rows")
#: The breakdown fields: each is typed by a json_transform of its own (mantis_view_jsonl_rows).
_MAPS = {"wall_time_breakdown": "mantis_wall", "cost_breakdown": "mantis_cost"}
VIEWS = ("view_runs", "view_run_buckets", "view_run_costs", "view_runs_bad_lines",
         "view_run_events", "view_run_events_bad_lines")
#: What ``install`` creates (``connect`` made BASE_MACROS) unless told ``only``: binding each
#: view costs milliseconds at every start, so store/lookup.py's sessions name what they query.
_INSTALLED = tuple(name for name in (*MACROS, *VIEWS) if name not in BASE_MACROS)
#: The macros of the lookups' queries (lookup_copies, lookup_newest, lookup_bad_lines;
#: db/connecting.py): those the ``runs`` view reads but its contested-ids macro.
LOOKUP_MACROS = ("macro_bad_line", "macro_breakdown", "macro_part_rows", "macro_view_jsonl_rows")
#: The macros that read events files (mantis_event_rows), without the run_events views.
EVENT_MACROS = ("macro_bad_event", "macro_event_of", "macro_event_parts", "macro_event_rows")
#: The macros that read events JSONL as an events part's rows (compaction/events.py).
EVENT_PART_MACROS = ("macro_bad_event", "macro_event_of", "macro_event_part_rows")
#: The events files the run_events views read (ending with the empty placeholders: event_list).
EVENT_FILES = "mantis_event_files"
#: The session variables whose value may be an empty list (which has no type without a cast).
_LIST_TYPES = {"mantis_shared_ids": "VARCHAR[]", "mantis_checked_shards": "VARCHAR[]",
               "mantis_checked_lines": "BIGINT[]", "mantis_checked_event_shards": "VARCHAR[]",
               "mantis_checked_event_lines": "BIGINT[]"}
#: The reads (db/view_reads.py) each connection's views were installed with.
_READS: weakref.WeakKeyDictionary[engine.DuckDBPyConnection, Reads] = (
    weakref.WeakKeyDictionary())


def write_placeholders(folder: Path) -> tuple[Path, Path]:
    """An empty JSONL file and an empty Parquet file with the canonical schema, in ``folder``.

    Each is written under a temporary name and renamed, so concurrent processes never see a
    half-written placeholder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, parquet = folder / "empty.jsonl", folder / "empty.parquet"
    tag = f".{os.getpid()}.tmp"
    if not jsonl.exists():
        Path(str(jsonl) + tag).write_bytes(b"")
        os.replace(str(jsonl) + tag, jsonl)
    if not parquet.exists():
        import pyarrow.parquet as pq  # only when the file is missing: finding it imports none

        pq.write_table(arrow_schema.parquet_schema().empty_table(), str(parquet) + tag)
        os.replace(str(parquet) + tag, parquet)
    return jsonl, parquet


@functools.cache
def placeholders() -> tuple[Path, Path]:
    """The placeholders for this schema, in the user cache folder (a temp folder as fallback).

    The folder is named by a digest of what the Parquet schema is made from (the row contract
    and the code of arrow_schema), so that finding them imports no pyarrow."""
    made_of = repr((schema.FIELDS, schema.KNOWN_BUCKETS, schema.PARQUET_LAYOUT)).encode()
    made_of += Path(arrow_schema.__file__).read_bytes()
    digest = hashlib.sha256(made_of).hexdigest()[:12]
    cache = cache_root() / f"empty-{digest}"
    try:
        return write_placeholders(cache)
    except OSError:
        d = Path(tempfile.mkdtemp(prefix="mantis-views-"))
        atexit.register(shutil.rmtree, d, True)
        return write_placeholders(d)


def file_lists(months: Iterable[MonthFiles],
               holders: tuple[Path, Path] | None = None) -> tuple[list[str], list[str]]:
    """(JSONL files, Parquet files) of ``months``, each list ending with its placeholder."""
    jsonl_holder, parquet_holder = holders or placeholders()
    jsonl: list[str] = []
    parquet: list[str] = []
    for mf in months:
        jsonl.extend(duckdb_path(p) for p in mf.jsonl)
        parquet.extend(duckdb_path(p) for p in mf.parts)
    return [*jsonl, duckdb_path(jsonl_holder)], [*parquet, duckdb_path(parquet_holder)]


def readable(months: Iterable[MonthFiles],
             holders: tuple[Path, Path] | None = None,
             event_files: Iterable[Path] = (), reads: Reads | None = None) -> list[str]:
    """Every file the views over ``months`` (and the events files ``event_files``) read: what a
    locked-down connection may read (``connection.lock_down``), with the checkpoints and tail
    copies of ``reads``. Each name is there as the views give it (``duckdb_path``) and as
    DuckDB's glob expands it, since DuckDB checks both."""
    months = list(months)
    holders = holders or placeholders()
    jsonl, parquet = file_lists(months, holders)
    events = list(event_files)
    read_events = reads.events(events)[0] if reads is not None else events
    extra = reads.files() if reads is not None else []
    named = [str(p) for mf in months for p in (*mf.jsonl, *mf.parts)] + [str(p) for p in events]
    named += [str(p) for p in extra] + [duckdb_path(p) for p in extra]
    return sorted({*jsonl, *parquet, *named, *map(str, holders),
                   *event_list(read_events, holders)})


def event_list(event_files: Iterable[Path | str], holders: tuple[Path, Path] | None = None
               ) -> list[str]:
    """The value of ``mantis_event_files``: the events files (JSONL shards and events parts),
    then the empty JSONL placeholder and the empty events part (DuckDB refuses an empty list;
    mantis_event_rows reads each kind from its own list), so the run_events views always
    exist."""
    jsonl_holder = (holders or placeholders())[0]
    return [*(duckdb_path(p) for p in event_files), duckdb_path(jsonl_holder),
            duckdb_path(event_part_placeholder(jsonl_holder))]


#: The empty events part beside the JSONL placeholder; the number follows its columns
#: (macro_event_part_rows.sql).
_EVENT_PART_HOLDER = "empty-events-1.parquet"


def event_part_placeholder(jsonl_holder: Path) -> Path:
    """An events part with no rows (the columns of mantis_event_part_rows) beside the empty
    JSONL placeholder ``jsonl_holder``; written under a temporary name and renamed."""
    path = jsonl_holder.parent / _EVENT_PART_HOLDER
    if path.exists():
        return path
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with closing(connect()) as con:
        for name in EVENT_PART_MACROS:
            con.execute(load(name))
        con.execute(load("events_part_empty"), {"files": [duckdb_path(jsonl_holder)],
                                                "path": duckdb_path(tmp)})
    os.replace(tmp, path)
    return path


def variables(listing: Listing, clean: list[Path], shared: list[str],
              holders: tuple[Path, Path] | None = None) -> dict[str, object]:
    """The session variables of the views over ``listing``, whose Parquet files ``clean`` pass
    through unfiltered (db/view_reads.py); each file list ends with its placeholder."""
    jsonl_holder, parquet_holder = holders or placeholders()
    columns = schema.duckdb_columns()
    return {
        "mantis_jsonl_files": [*map(duckdb_path, listing.jsonl), duckdb_path(jsonl_holder)],
        "mantis_parquet_files": [*(duckdb_path(p) for p in listing.parquet if p not in clean),
                                 duckdb_path(parquet_holder)],
        "mantis_clean_files": [*map(duckdb_path, clean), duckdb_path(parquet_holder)],
        "mantis_shared_ids": shared,
        "mantis_checked_shards": list(listing.checked_bad),
        "mantis_checked_lines": list(listing.checked_bad.values()),
        "mantis_scalars": json.dumps({k: t for k, t in columns.items() if k not in _MAPS}),
        **{var: json.dumps({k: columns[k]}) for k, var in _MAPS.items()},
        "mantis_known": json.dumps(dict.fromkeys(schema.FIELD_NAMES)),
    }


def install(con: engine.DuckDBPyConnection, months: Iterable[MonthFiles],
            event_files: Iterable[Path] = (), reads: Reads | None = None, *,
            only: Iterable[str] | None = None, several: bool = False) -> None:
    """Define the macros and views on ``con`` (from ``connect``) over ``months`` and the events
    files ``event_files`` (values bound, never formatted). With ``reads`` (``prepare``), the
    views read live shards as their checkpoints and tails and pass through the Parquet files
    proven clean, on this connection from now on; its copies are removed with the connection.
    ``only``: these macros and views alone, in this order (``LOOKUP_MACROS``, ``EVENT_MACROS``).
    ``several``: the months are of several data dirs, so runs_bad_lines names each shard by its
    path (``messages.shard_name``; one data dir: by its file name)."""
    if reads is not None:
        _READS[con] = reads
        weakref.finalize(con, reads.close)
    _set(con, SHARD_PATHS, several)
    set_files(con, months)
    set_event_files(con, event_files, reads)
    for name in _INSTALLED if only is None else only:
        con.execute(load(name))


#: The session variable that makes runs_bad_lines name shards by path (``install``'s
#: ``several``); unset (the shell's script, a lake's batches): by file name.
SHARD_PATHS = "mantis_shard_paths"


def close_reads(con: engine.DuckDBPyConnection) -> None:
    """Remove the private copies ``install`` gave ``con`` now, not when it is collected."""
    reads = _READS.pop(con, None)
    if reads is not None:
        reads.close()


def set_files(con: engine.DuckDBPyConnection, months: Iterable[MonthFiles]) -> None:
    """Point the views at other months (the views re-read the variables on every query)."""
    months = list(months)
    for name, value in _chosen(months, _READS.get(con), con).items():
        _set(con, name, value)
    lake_source.set_months(con, months)  # a lake's months too (db/lake_source.py), if any


def _set(con: engine.DuckDBPyConnection, name: str, value: object) -> None:
    """Set the session variable ``name`` (a constant of this module) to ``value``, bound."""
    if name in _LIST_TYPES:  # a list literal with no element has no type
        con.execute(f"SET VARIABLE {name} = CAST($value AS {_LIST_TYPES[name]})",
                    {"value": value})
    else:
        con.execute(f"SET VARIABLE {name} = $value", {"value": value})


def event_variables(event_files: Iterable[Path], reads: Reads | None = None,
                    holders: tuple[Path, Path] | None = None) -> dict[str, object]:
    """The session variables of the run_events views over ``event_files``, read as ``reads``
    lists them (``Reads.events``: a checkpointed live shard as its checkpoint plus a copy of
    its tail, whose checkpointed bad lines run_events_bad_lines adds), else as they are."""
    files, checked = reads.events(event_files) if reads is not None else (event_files, {})
    return {EVENT_FILES: event_list(files, holders),
            "mantis_checked_event_shards": list(checked),
            "mantis_checked_event_lines": list(checked.values())}


def set_event_files(con: engine.DuckDBPyConnection, event_files: Iterable[Path],
                    reads: Reads | None = None) -> None:
    """Point the run_events views at these events files (read as ``reads`` lists them)."""
    for name, value in event_variables(event_files, reads).items():
        _set(con, name, value)


#: Version of the cached per-file counts of ``event_bad_lines``; a change makes old ones unused.
_EVENT_COUNT_FORMAT = "format 1"


def event_bad_lines(con: engine.DuckDBPyConnection, files: Iterable[Path]) -> dict[str, int]:
    """Malformed lines of each of ``files`` that the run_events views of ``con`` read (its
    ``mantis_event_files``): the counts of run_events_bad_lines, named ``events_log/NAME`` as
    the warnings name them (a run-log shard is named alone, so the two never mix). Each file's
    count is kept in the user's cache until the file changes (``cache.entry_for``), so a query
    does not parse every events file a second time. A live shard the views read as its
    checkpoint and tail (``Reads.events``): the checkpoint's count from its manifest, the tail
    copy's counted."""
    (read,), = con.execute(load("events_files_of_views")).fetchall()
    reads = _READS.get(con)
    swapped = reads.event_reads() if reads is not None else {}
    bad: dict[str, int] = {}
    for path in files:
        lr = swapped.get(path)
        if lr is not None and duckdb_path(lr.parquet) in read:
            n = lr.bad_lines + (bad_events(con, lr.tail) if lr.tail is not None else 0)
        elif duckdb_path(path) not in read or path.suffix == ".parquet":
            continue  # not in this snapshot (the views did not read it), or an events part
        else:
            n = _cached_bad_events(con, path)
        if n:
            bad[f"{EVENTS_LOG}/{path.name}"] = n
    return bad


def _cached_bad_events(con: engine.DuckDBPyConnection, path: Path) -> int:
    """``bad_events``, kept in the user's cache until the file changes."""
    entry = entry_for("event-bad-lines", [path], _EVENT_COUNT_FORMAT)
    n = read_entry(entry) if entry is not None else None
    if type(n) is int:
        return n
    n = bad_events(con, path)
    if entry is not None and entry == entry_for("event-bad-lines", [path], _EVENT_COUNT_FORMAT):
        write_entry(entry, n)  # unless the file changed while it was counted
    return n


def bad_events(con: engine.DuckDBPyConnection, path: Path) -> int:
    """The malformed lines of the events file ``path`` (events_bad_lines_file.sql)."""
    (n,), = con.execute(load("events_bad_lines_file"), {"file": duckdb_path(path)}).fetchall()
    return int(n)


def shared(months: Iterable[MonthFiles], checkpoints: list[Path] | None = None) -> list[str]:
    """The run_ids with more than one copy among the Parquet files of the store ``months`` are
    in (a superset for the parts of ``months``; ``shared_ids.shared_run_ids``).

    The files are every part of the store plus each live month's checkpoint, the set that
    compaction warms the cache for, so the answer is usually one cached file; without a usable
    checkpoint file, the parts alone. ``checkpoints``: the checkpoint files the views read as
    Parquet (``prepare``); the answer then covers them without fail (a checkpoint that cannot be
    read is a ``engine.Error``). Computing it (a cache miss) reads every run_id once, on a
    private connection: the views' own may be locked down to the files they read."""
    months = list(months)
    must = list(checkpoints or [])
    bases = _data_dirs(months)  # several when a read merges data dirs (db/lake_source.py)
    if not bases or not (must or any(mf.parts for mf in months)):
        return []
    parts, manifests = _store_files(bases)
    if manifests and set(must) <= set(manifests):
        known = cached_shared_run_ids(parts + manifests)
        if known is not None:
            return known
    if must:
        known = cached_shared_run_ids(parts + must)
        if known is not None:
            return known
        with closing(connect()) as con:
            return shared_run_ids(con, parts + must)
    known = cached_shared_run_ids(parts)
    if known is not None:
        return known
    with closing(connect()) as con:
        if manifests:
            try:
                return shared_run_ids(con, parts + manifests)
            except engine.Error:
                pass  # a checkpoint file that is gone or damaged: the parts are what matters
        return shared_run_ids(con, parts)


def _store_files(bases: list[Path]) -> tuple[list[Path], list[Path]]:
    """Every part of the stores ``bases``, and the checkpoint file of each live month's manifest."""
    parts: list[Path] = []
    checkpoints: list[Path] = []
    for base in bases:
        store = scan(base)
        parts += [p for mf in store.values() for p in mf.parts]
        checkpoints += [base / CHECKPOINTS / cp.parquet for m, mf in store.items()
                        if mf.live is not None and (cp := checkpoint.load(base, m)) is not None]
    return parts, checkpoints


def prepare(months: Iterable[MonthFiles]) -> Reads:
    """How the views of one connection may read ``months`` fast (db/view_reads.py): each live
    shard with a valid checkpoint as the checkpoint plus a private copy of its tail (the others
    copied whole while small), and the run_ids shared among the Parquet files so read. Call
    it under the shared publish lock, and pass it to ``readable`` and ``install``;
    ``Reads.close`` removes the copies (``install`` does it when the connection goes)."""
    months = list(months)
    folder, live, copies = live_reads(months)
    try:
        try:
            ids = shared(months, [lr.parquet for lr in live.values()])
        except engine.Error:  # a checkpoint that cannot be read after all: its shard, whole
            live, ids = {}, shared(months)
        return Reads(folder, live, ids, copies)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _chosen(months: list[MonthFiles], reads: Reads | None,
            con: engine.DuckDBPyConnection | None,
            holders: tuple[Path, Path] | None = None) -> dict[str, object]:
    """The views' variables over ``months``: every file in place without ``reads``, else as
    ``reads`` lists them, with the Parquet files that ``con`` (None: a private connection)
    proves clean passed through."""
    if reads is None:
        return variables(_in_place(months), [], shared(months), holders)
    listing = reads.listing(months)
    if con is None:
        with closing(connect()) as own:
            clean = reads.split(own, listing)[0]
    else:
        clean = reads.split(con, listing)[0]
    return variables(listing, clean, reads.shared, holders)


def _in_place(months: list[MonthFiles]) -> Listing:
    """Every file of ``months`` read as it is (JSONL shards whole): nothing is proven."""
    return Listing([p for mf in months for p in mf.jsonl], [p for mf in months for p in mf.parts],
                   {}, stable=False)


def _data_dirs(months: list[MonthFiles]) -> list[Path]:
    """The data dirs whose files ``months`` lists (runs_log/<shard>, compacted/<month>/<part>)."""
    found = [p.parents[2] for mf in months for p in mf.parts]
    found += [p.parents[1] for mf in months for p in mf.jsonl]
    return list(dict.fromkeys(found))


def _literal(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def script(months: Iterable[MonthFiles], holders: tuple[Path, Path],
           event_files: Iterable[Path] = (), reads: Reads | None = None) -> str:
    """The whole setup as one SQL script for any DuckDB client (1.5.x or 2.0); with ``reads``
    (``prepare``: for a session that ends before its copies are removed), read fast."""
    months = list(months)
    out = [
        "-- mantis-runs views. Generated by `mantis runs views`; the file lists are a snapshot:",
        "-- generate it again after new months appear or a compaction runs. It only defines",
        "-- views; `mantis runs shell` also makes the session read-only (docs/sql.md).",
        "SET TimeZone = 'UTC';",
    ]
    for name, value in {**_chosen(months, reads, None, holders),
                        **event_variables(event_files, reads, holders)}.items():
        cast = f"::{_LIST_TYPES[name]}" if name in _LIST_TYPES else ""
        out.append(f"SET VARIABLE {name} = {_literal(value)}{cast};")
    out.extend(load(name).rstrip() for name in (*MACROS, *VIEWS))
    return "\n".join(out) + "\n"


def read_only_script(months: Iterable[MonthFiles], holders: tuple[Path, Path],
                     event_files: Iterable[Path] = (), reads: Reads | None = None) -> str:
    """What ``mantis runs shell`` adds after ``script``: the session reads only the files of the
    views and writes none (``connection.lock_down`` without its last step: the DuckDB 1.5.x shell
    fails once its configuration is locked; turning file access back on is refused anyway)."""
    return "\n".join([
        "-- Read-only (docs/sql.md): from here on DuckDB reads only the files above and creates",
        "-- none (COPY TO, EXPORT, ATTACH of a file are refused). The dot commands are the",
        "-- shell's own, not DuckDB's: `.once FILE` writes the next result to FILE.",
        f"SET allowed_paths = {_literal(readable(months, holders, event_files, reads))};",
        "SET enable_external_access = false;",
    ]) + "\n"
