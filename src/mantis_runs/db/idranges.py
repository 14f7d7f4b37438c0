"""What a Parquet file's footer proves about the run_ids it holds (for point lookups).

Each row group's statistics give its smallest and largest run_id. Compaction groups a part's
rows by workflow, so a row group spans about its month's run_ids, and the writer's run_ids begin
with their creation date (``YYYYMMDD_HHMMSS_<hex>``): the footer of one month's part says that
it cannot hold a run_id of another month. Statistics that are missing or inexact prove nothing,
and the file is read; so is a file in another Parquet layout than this mantis-runs reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from ..log import schema
from .cache import per_file
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 2

#: One row group's run_ids: (smallest, largest), each None when unknown; None when it holds none.
Range = tuple[str | None, str | None] | None
UNKNOWN: Range = (None, None)


def id_ranges(connection: duckdb.DuckDBPyConnection | Callable[[], duckdb.DuckDBPyConnection],
              files: list[Path]) -> dict[Path, list[Range]]:
    """The run_id range of every row group of each file, from its footer. Kept in the user's
    cache under each file's stat identity (a published file never changes). ``connection``
    (or a function that gives it) reads the footers the cache does not have."""
    def compute(todo: list[Path]) -> dict[Path, list[Range]]:
        con = connection() if callable(connection) else connection
        names = {duckdb_path(p): p for p in todo} | {str(p): p for p in todo}
        groups: dict[Path, list[Range]] = {}
        for name, _group, has_ids, low, high in con.execute(
                load("lookup_id_ranges"), {"files": [duckdb_path(p) for p in todo]}).fetchall():
            path = names.get(name)
            if path is not None:
                groups.setdefault(path, []).append((low, high) if has_ids else None)
        layouts = {names.get(name): layout for name, layout in con.execute(
            load("lookup_layouts"), {"files": [duckdb_path(p) for p in todo],
                                     "key": schema.LAYOUT_KEY}).fetchall()}
        for path in todo:  # another layout: never left out (the general path stops there)
            if layouts.get(path) != str(schema.PARQUET_LAYOUT):
                groups[path] = [UNKNOWN]
        return groups  # a file not named back is read (left out here: UNKNOWN)

    found = per_file("id-ranges", files, f"format {FORMAT}", decode=_decode,
                     encode=lambda ranges: [None if r is None else list(r) for r in ranges],
                     compute=compute)
    return {p: found.get(p, [UNKNOWN]) for p in files}


def may_hold(ranges: list[Range], run_ids: list[str]) -> bool:
    """Whether a file with these row-group ranges may hold one of ``run_ids``. Parquet orders
    text statistics by their UTF-8 bytes, which is Python's order of ``str``."""
    for r in ranges:
        if r is None:
            continue
        low, high = r
        if any((low is None or low <= x) and (high is None or x <= high) for x in run_ids):
            return True
    return False


def _decode(raw: Any) -> list[Range] | None:
    if not isinstance(raw, list):
        return None
    out: list[Range] = []
    for r in raw:
        if r is None:
            out.append(None)
        elif (isinstance(r, list) and len(r) == 2
              and all(v is None or isinstance(v, str) for v in r)):
            out.append((r[0], r[1]))
        else:
            return None
    return out
