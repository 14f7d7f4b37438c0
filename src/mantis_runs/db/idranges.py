"""What a Parquet file's footer proves about the run_ids it holds: for point lookups
(``id_ranges``, ``may_hold``) and the views' pass-through of clean files (db/view_reads.py), one
reader and one cache entry per file (``footer_groups``).

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

from ..log import schema
from . import engine
from .cache import per_file
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 3

#: One row group's run_ids: (smallest, largest), each None when unknown; None when it holds none.
Range = tuple[str | None, str | None] | None
#: One row group as its footer says: its Range and whether it is proven (both ends exact and no
#: NULL run_id: the views' pass-through needs that, db/view_reads.py); None when it holds none.
Group = tuple[str | None, str | None, bool] | None
_UNKNOWN_GROUP: Group = (None, None, False)


def footer_groups(connection: engine.DuckDBPyConnection
                  | Callable[[], engine.DuckDBPyConnection],
                  files: list[Path]) -> dict[Path, list[Group]]:
    """What the footer of each file says of every row group's run_ids (run_id_ranges.sql), a
    file in another Parquet layout than this mantis-runs reads proving nothing. Kept in the
    user's cache under each file's stat identity (a published file never changes).
    ``connection`` (or a function that gives it) reads the footers the cache does not have."""
    def compute(todo: list[Path]) -> dict[Path, list[Group]]:
        con = connection() if callable(connection) else connection
        names = {duckdb_path(p): p for p in todo} | {str(p): p for p in todo}
        groups: dict[Path, list[Group]] = {}
        for name, _group, has_ids, low, high, proven in con.execute(
                load("run_id_ranges"), {"files": [duckdb_path(p) for p in todo]}).fetchall():
            path = names.get(name)
            if path is not None:
                groups.setdefault(path, []).append((low, high, bool(proven)) if has_ids else None)
        layouts = {names.get(name): layout for name, layout in con.execute(
            load("lookup_layouts"), {"files": [duckdb_path(p) for p in todo],
                                     "key": schema.LAYOUT_KEY}).fetchall()}
        for path in todo:  # another layout: never left out (the general path stops there)
            if layouts.get(path) != str(schema.PARQUET_LAYOUT):
                groups[path] = [_UNKNOWN_GROUP]
        return groups  # a file not named back is read (left out here: unknown)

    found = per_file("id-ranges", files, f"format {FORMAT}", decode=_decode,
                     encode=lambda groups: [None if g is None else list(g) for g in groups],
                     compute=compute)
    return {p: found.get(p, [_UNKNOWN_GROUP]) for p in files}


def id_ranges(connection: engine.DuckDBPyConnection | Callable[[], engine.DuckDBPyConnection],
              files: list[Path]) -> dict[Path, list[Range]]:
    """The run_id range of every row group of each file, from its footer (``footer_groups``)."""
    return {p: [None if g is None else (g[0], g[1]) for g in groups]
            for p, groups in footer_groups(connection, files).items()}


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


def _decode(raw: Any) -> list[Group] | None:
    if not isinstance(raw, list):
        return None
    out: list[Group] = []
    for g in raw:
        if g is None:
            out.append(None)
        elif (isinstance(g, list) and len(g) == 3 and isinstance(g[2], bool)
              and all(v is None or isinstance(v, str) for v in g[:2])):
            out.append((g[0], g[1], g[2]))
        else:
            return None
    return out
