"""Which run_ids have copies in more than one Parquet file, cached per set of files.

Parquet files never change once published (a new generation is a new file name), so the answer
for one set of files holds until compaction publishes another. It costs a scan of every run_id
(seconds over ten million rows), so it is kept in the user's cache folder under a key made of
the files' names, sizes and modification times, and computed again only when they change.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from . import engine
from .cache import entry_for, read_entry, write_entry
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached format; a change makes old entries unused. DuckDB's version is part
#: of the key too: the hashes are DuckDB's ``hash()``, which a new release may change.
FORMAT = 1

_T = TypeVar("_T")


def shared_ids(con: engine.DuckDBPyConnection, files: list[Path]) -> list[int]:
    """Hashes (DuckDB's ``hash(run_id)``) of the run_ids with copies in two or more of
    ``files``, sorted; an empty list for zero or one file."""
    if len(files) < 2:
        return []
    return _hashes(con, files)


def _hashes(con: engine.DuckDBPyConnection, files: list[Path]) -> list[int]:
    """``shared_ids`` for any number of files: with one file, its repeated run_ids."""
    if not files:
        return []
    entry = _entry("shared-ids", files)
    cached = _cached(entry, int)
    if cached is not None:
        return cached
    found = [int(r[0]) for r in con.execute(
        load("shared_ids"), {"files": [duckdb_path(p) for p in files]}).fetchall()]
    if entry is not None:
        write_entry(entry, found)
    return found


def shared_run_ids(con: engine.DuckDBPyConnection, files: list[Path]) -> list[str]:
    """The run_ids with two or more copies among ``files`` (also within one file: nothing here
    takes compaction's word for it), sorted; a superset: a run_id that only shares its hash
    with one is there too. Cached as ``shared_ids`` is, and nothing more is read when the
    hashes (usually cached) find none."""
    known = cached_shared_run_ids(files)
    if known is not None:
        return known
    hashes = _hashes(con, files)
    if not hashes:
        return []
    entry = _entry("shared-run-ids", files)
    found = [str(r[0]) for r in con.execute(load("shared_run_ids"), {
        "files": [duckdb_path(p) for p in files], "hashes": hashes}).fetchall()
             if r[0] is not None]
    if entry is not None:
        write_entry(entry, found)
    return found


def cached_shared_run_ids(files: list[Path]) -> list[str] | None:
    """``shared_run_ids`` from the cache alone (no connection needed), or None on a miss."""
    if not files:
        return []
    hashes = _cached(_entry("shared-ids", files), int)
    if hashes is not None and not hashes:
        return []
    return _cached(_entry("shared-run-ids", files), str)


def _entry(kind: str, files: list[Path]) -> Path | None:
    return entry_for(kind, files, f"format {FORMAT}", f"duckdb {engine.__version__}")


def _cached(entry: Path | None, kind: type[_T]) -> list[_T] | None:
    value = read_entry(entry) if entry is not None else None
    if isinstance(value, list) and all(isinstance(v, kind) for v in value):
        return value
    return None
