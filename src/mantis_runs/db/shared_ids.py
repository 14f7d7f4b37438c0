"""Which run_ids have copies in more than one Parquet file, cached per set of files.

Parquet files never change once published (a new generation is a new file name), so the answer
for one set of files holds until compaction publishes another. It costs a scan of every run_id
(seconds over ten million rows), so it is kept in the user's cache folder under a key made of
the files' names, sizes and modification times, and computed again only when they change.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .cache import entry_for, read_entry, write_entry
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached format; a change makes old entries unused.
FORMAT = 1


def shared_ids(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[int]:
    """Hashes (DuckDB's ``hash(run_id)``) of the run_ids with copies in two or more of
    ``files``, sorted; an empty list for zero or one file."""
    if len(files) < 2:
        return []
    entry = entry_for("shared-ids", files, f"format {FORMAT}")
    if entry is not None:
        cached = read_entry(entry)
        if isinstance(cached, list) and all(isinstance(h, int) for h in cached):
            return cached
    found = [int(r[0]) for r in con.execute(
        load("shared_ids"), {"files": [duckdb_path(p) for p in files]}).fetchall()]
    if entry is not None:
        write_entry(entry, found)
    return found
