"""What the Parquet files' footers prove for a whole-history `stats` (stats.whole), cached.

A whole history is read in place only when every matching run fits in --last, and it reads the
buckets of other names only when a run has one. A file's footer bounds both without reading a
row: how many rows it holds (of every workflow), and whether its map of other buckets has no key
at all (stats_parquet_footers). Reading the footers of a year of parts costs about as much as
counting the matching rows (DuckDB's ``parquet_metadata`` lists every column chunk), so each
file's answer is kept in the user's cache folder under its name, size, inode and times (the
footer bounds' way, db/bounds.py): a published file never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..db import engine
from ..db.cache import per_file
from ..db.connection import duckdb_path
from ..db.sqlfiles import load

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 1


@dataclass(frozen=True)
class Footers:
    """What the footers of some Parquet files prove: at most ``rows`` rows (None: a footer could
    not tell), and, when ``no_other``, no row with a bucket of another name."""

    rows: int | None
    no_other: bool


def footers(con: engine.DuckDBPyConnection, files: list[Path]) -> Footers:
    """The footers of ``files`` together (cached per file: ``per_file``)."""
    def compute(todo: list[Path]) -> dict[Path, tuple[int, bool]]:
        # named back as given, or as the file's own path (a path with glob characters)
        names = {duckdb_path(p): p for p in todo} | {str(p): p for p in todo}
        return {names[name]: (int(rows), bool(no_other))
                for name, rows, no_other in con.execute(
                    load("stats_parquet_footers"),
                    {"files": [duckdb_path(p) for p in todo]}).fetchall()
                if name in names and rows is not None}

    found = per_file("footer-rows", files, f"format {FORMAT}", decode=_decode,
                     encode=list, compute=compute)
    if len(found) < len(files):
        return Footers(rows=None, no_other=False)
    return Footers(rows=sum(rows for rows, _ in found.values()),
                   no_other=all(no_other for _, no_other in found.values()))


def _decode(raw: Any) -> tuple[int, bool] | None:
    if (isinstance(raw, list) and len(raw) == 2 and type(raw[0]) is int and raw[0] >= 0
            and type(raw[1]) is bool):
        return raw[0], raw[1]
    return None
