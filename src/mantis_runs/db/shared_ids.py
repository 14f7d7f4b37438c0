"""Which run_ids have copies in more than one Parquet file, cached per set of files.

Parquet files never change once published (a new generation is a new file name), so the answer
for one set of files holds until compaction publishes another. It costs a scan of every run_id
(seconds over ten million rows), so it is kept in the user's cache folder under a key made of
the files' names, sizes and modification times, and computed again only when they change.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import duckdb

from .connection import cache_root, duckdb_path
from .sqlfiles import load

#: Version of the cached format; a change makes old entries unused.
FORMAT = 1


def _key(files: list[Path]) -> str | None:
    digest = hashlib.sha256(f"shared-ids {FORMAT}\n".encode())
    for p in sorted(files):
        try:
            st = p.stat()
        except OSError:
            return None
        digest.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return digest.hexdigest()[:32]


def shared_ids(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[int]:
    """Hashes (DuckDB's ``hash(run_id)``) of the run_ids with copies in two or more of
    ``files``, sorted; an empty list for zero or one file."""
    if len(files) < 2:
        return []
    key = _key(files)
    entry = cache_root() / "shared-ids" / f"{key}.json" if key else None
    if entry is not None:
        try:
            cached = json.loads(entry.read_text(encoding="utf-8"))
            if isinstance(cached, list) and all(isinstance(h, int) for h in cached):
                return cached
        except (OSError, ValueError):
            pass
    found = [int(r[0]) for r in con.execute(
        load("shared_ids"), {"files": [duckdb_path(p) for p in files]}).fetchall()]
    if entry is not None:
        _store(entry, found)
    return found


def _store(entry: Path, value: list[int]) -> None:
    """Write a cache entry atomically; a cache that cannot be written is no error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, entry)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
