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
from typing import Any

from . import engine
from .cache import per_file
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached entries' format; a change makes old entries unused (2: ``earliest``).
FORMAT = 2


@dataclass(frozen=True)
class Bounds:
    """The newest ``finished_at`` a file may hold, and the oldest.

    ``latest`` None with ``dated`` False: the file holds no dated row at all (its runs rank after
    every dated run). ``latest`` None with ``dated`` True: unknown, so the file may hold anything.
    ``earliest``: every dated row of the file finished at or after it (None: unknown); a
    ``stats(before=...)`` baseline need not read a file whose ``earliest`` is not before it.
    """

    latest: datetime | None
    dated: bool
    earliest: datetime | None = None

    @property
    def known(self) -> bool:
        return self.latest is not None or not self.dated


UNKNOWN = Bounds(latest=None, dated=True)


def parquet_bounds(con: engine.DuckDBPyConnection, files: list[Path]) -> dict[Path, Bounds]:
    """The footer bounds of each Parquet file (UNKNOWN for a file the footer says nothing of).

    A published file never changes (a new generation is a new name), so each file's bounds are
    kept in the user's cache folder under its name, size, inode and modification time: reading
    the footers of a year of parts costs about 0.1 s, a cached entry a stat and a small read.
    """
    def compute(todo: list[Path]) -> dict[Path, Bounds]:
        names = {duckdb_path(p): p for p in todo}
        return {names[name]: Bounds(latest=latest, dated=bool(dated), earliest=earliest)
                for name, dated, latest, earliest in con.execute(
                    load("bounds_parquet"), {"files": list(names)}).fetchall()
                if name in names}

    found = per_file("bounds", files, f"format {FORMAT}", decode=_decode, encode=_encode,
                     compute=compute)
    return {p: found.get(p, UNKNOWN) for p in files}


def _decode(raw: Any) -> Bounds | None:
    try:
        return Bounds(latest=_time(raw["latest"]), dated=bool(raw["dated"]),
                      earliest=_time(raw["earliest"]))
    except (ValueError, KeyError, TypeError):
        return None


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _encode(bounds: Bounds) -> dict[str, Any]:
    return {"latest": None if bounds.latest is None else bounds.latest.isoformat(),
            "dated": bounds.dated,
            "earliest": None if bounds.earliest is None else bounds.earliest.isoformat()}
