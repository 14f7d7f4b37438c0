"""What a closed JSONL shard holds, as the `stats` reader reads it: the earliest and latest
``finished_at`` of its rows, whether one is undated, its smallest and largest run_id, and its
bad lines.

A JSONL shard may hold rows of any date (bounds.py says why), so nothing about its name proves
what it holds; only reading it does. A shard that is no longer appended to (a closed month's,
or a sealed one) keeps its stat identity, so what one read found is kept in the user's cache
under that identity (``cache.per_file``), and a ``stats(before=...)`` baseline (report's) need
not read a shard whose every row finished at or after its bound (stats/plan.py
``plan_before``). A shard written to since is a cache miss (its size and times changed).

The summary is computed by the reader of the `stats` engine itself (the same ``read_json`` call
and columns as stats_collect_jsonl: fragments/stats_jsonl_read.sql), so a row, its finished_at
and run_id, and a bad line (run_id NULL or "": macro_bad_line's rule) are what that read would
have gathered; the DuckDB version and the columns are part of the cache key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..log import schema
from . import engine
from .cache import per_file
from .connection import duckdb_path
from .sqlfiles import load

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 1


@dataclass(frozen=True)
class ShardSummary:
    """A JSONL shard's rows as the `stats` reader reads them (``rows``: good lines)."""

    rows: int
    bad: int  # lines the reader skips (stats_skipped counts them)
    undated: bool  # a row has no finished_at (missing, null or no timestamp)
    earliest: datetime | None  # of the dated rows (None: there are none)
    latest: datetime | None
    low: str | None  # the smallest run_id (text order; None: no row)
    high: str | None

    def rules_out(self, run_id: str) -> bool:
        """Whether no line of the shard can hold ``run_id`` for any reader: every line is a row
        (no bad line: the one JSON parser read each line's run_id, which every reader of the
        shard reads alike) and ``run_id`` is outside its range (text order: Python's order of
        code points is DuckDB's order of UTF-8 bytes)."""
        return self.bad == 0 and (self.low is None or self.high is None
                                  or not self.low <= run_id <= self.high)

    def after(self, before: datetime) -> bool:
        """Whether no row of the shard finished before ``before``: every row is dated, at or
        after it (or there is no row at all)."""
        if not self.rows:
            return True
        return not self.undated and self.earliest is not None and self.earliest >= before


def columns() -> dict[str, str]:
    """The explicit columns of the stats reader: stats_collect_jsonl's ``$columns``
    (stats/engine.py ``collect_jsonl`` takes them from here), the summaries' and
    before_shard_copies'."""
    return schema.duckdb_columns(maps_as_json=True)


def shard_summaries(con: engine.DuckDBPyConnection, files: list[Path]
                    ) -> dict[Path, ShardSummary]:
    """The summary of each of ``files`` (JSONL shards), from the user cache when the file has
    not changed since, the others read in one statement (bounds_jsonl.sql). A file the read
    says nothing of (an empty file) is left out: unknown, so read."""
    cols = columns()

    def compute(todo: list[Path]) -> dict[Path, ShardSummary]:
        names = {duckdb_path(p): p for p in todo} | {str(p): p for p in todo}
        found: dict[Path, ShardSummary] = {}
        for name, rows, bad, undated, earliest, latest, low, high in con.execute(
                load("bounds_jsonl"), {"files": [duckdb_path(p) for p in todo],
                                       "columns": cols}).fetchall():
            path = names.get(name)
            if path is not None:
                found[path] = ShardSummary(rows=int(rows), bad=int(bad), undated=bool(undated),
                                           earliest=earliest, latest=latest, low=low, high=high)
        return found

    return per_file("jsonl-bounds", files, _version(cols), decode=_decode, encode=_encode,
                    compute=compute)


def kept_summaries(files: list[Path]) -> dict[Path, ShardSummary]:
    """The summaries the user cache holds of ``files`` as they are now; none is computed (a
    point lookup uses what a report's baseline kept: ``ShardSummary.rules_out``)."""
    return per_file("jsonl-bounds", files, _version(columns()), decode=_decode, encode=_encode,
                    compute=lambda todo: {})


def _version(cols: dict[str, str]) -> str:
    """The cache entries' version: the format, DuckDB's version and the reader's columns."""
    return " ".join((f"format {FORMAT}", f"duckdb {engine.__version__}",
                     json.dumps(cols, sort_keys=True)))


def _encode(s: ShardSummary) -> dict[str, Any]:
    return {"rows": s.rows, "bad": s.bad, "undated": s.undated,
            "earliest": None if s.earliest is None else s.earliest.isoformat(),
            "latest": None if s.latest is None else s.latest.isoformat(),
            "low": s.low, "high": s.high}


def _decode(raw: Any) -> ShardSummary | None:
    try:
        rows, bad, undated = raw["rows"], raw["bad"], raw["undated"]
        low, high = raw["low"], raw["high"]
        if not (type(rows) is int and type(bad) is int and rows >= 0 and bad >= 0
                and isinstance(undated, bool)
                and all(v is None or isinstance(v, str) for v in (low, high))
                and (low is None) == (high is None) == (rows == 0)):
            return None
        earliest, latest = _time(raw["earliest"]), _time(raw["latest"])
        if (earliest is None) != (latest is None) or (earliest is None and rows and not undated):
            return None
        return ShardSummary(rows=rows, bad=bad, undated=undated, earliest=earliest,
                            latest=latest, low=low, high=high)
    except (ValueError, KeyError, TypeError):
        return None


def _time(text: Any) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(text)
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    return value
