"""What a Parquet file's footer proves about the ``finished_at`` of its rows.

A row lives in the shard of the month it was written to, which is the UTC month of its
``finished_at`` only for rows that ``append_run`` wrote: a runtime that shards by its local date
writes ``2026-11-01T00:30:00+02:00`` (October in UTC) into ``2026-11.jsonl``. So a reader that
reads months newest first may stop early only when the files it leaves unread are *proven* to
hold older rows. Parquet files (compacted parts, checkpoints) carry that proof in their column
statistics; JSONL shards do not, and are always read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from .connection import duckdb_path
from .sqlfiles import load


@dataclass(frozen=True)
class Bounds:
    """The newest ``finished_at`` a file may hold.

    ``latest`` None with ``dated`` False: the file holds no dated row at all (its runs rank after
    every dated run). ``latest`` None with ``dated`` True: unknown, so the file may hold anything.
    """

    latest: datetime | None
    dated: bool

    @property
    def known(self) -> bool:
        return self.latest is not None or not self.dated


UNKNOWN = Bounds(latest=None, dated=True)


def parquet_bounds(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[Path, Bounds]:
    """The footer bounds of each Parquet file (UNKNOWN for a file the footer says nothing of)."""
    if not files:
        return {}
    names = {duckdb_path(p): p for p in files}
    rows = con.execute(load("bounds_parquet"), {"files": list(names)}).fetchall()
    found = {}
    for name, dated, latest in rows:
        path = names.get(name)
        if path is not None:
            found[path] = Bounds(latest=latest, dated=bool(dated))
    return {p: found.get(p, UNKNOWN) for p in files}
