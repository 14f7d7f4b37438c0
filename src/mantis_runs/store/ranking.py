"""``newest_runs``' ranking of the newest copies (store/lookup.py): lookup_newest with a
``$window`` ranks only the runs with a copy among the newest finish times, and its answer is kept
only when it proves itself (full, and its last run dated at or after the bound); else every run
is ranked. The bound of a kept answer is remembered in the user cache for the same Parquet files
and filters, so the next call skips the read that finds it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..db import engine
from ..db.cache import entry_for, read_entry, write_entry
from ..db.sqlfiles import load

#: ``newest_runs`` first ranks only the runs with a copy among the newest this many finish
#: times per run asked for (lookup_newest's $window), and every run when that proves too few.
WINDOW_PER_RUN = 10
#: Above this many runs asked for, every run is ranked at once (and $window stays a BIGINT).
WINDOW_MAX_RUNS = 100_000
#: The user cache's folder of the bounds of kept ``newest_copies`` answers, and their format.
BOUNDS = "newest-bounds"
BOUNDS_FORMAT = 1

Rows = list[dict[str, Any]]


def newest_copies(con: engine.DuckDBPyConnection, params: dict[str, Any],
                  parquet: Sequence[Path] = ()) -> Rows:
    """lookup_newest's answer: first ranking only the runs with a copy among the newest
    ``WINDOW_PER_RUN * $limit`` finish times, kept when that answer proves itself (full, and
    its last run dated at or after the bound), else ranking every run. The bound of a kept
    answer is remembered for the same Parquet files ``parquet`` and filters (``BOUNDS``), and
    the next call starts from it: the first of lookup_newest's two reads of those files is
    left out. Any bound gives the same runs once the answer is kept (lookup_newest's header),
    so one that no longer proves itself (newer lines since) is only found again."""
    limit = params["limit"]
    rows: Rows | None = None
    if limit is not None and limit <= WINDOW_MAX_RUNS:  # a larger --last ranks every run anyway
        window = WINDOW_PER_RUN * limit
        entry = bound_entry(parquet, params, window)
        known = remembered(entry) if entry is not None else None
        for bound in ([known] if known is not None else []) + [None]:
            got = ranked(con, params, window, bound)
            if got and len(got) == limit and bounded(got[-1]["finished_at"], got[-1]["bound"]):
                if bound is None and entry is not None:
                    write_entry(entry, got[-1]["bound"].isoformat())
                rows = got
                break
    if rows is None:
        rows = ranked(con, params, None, None)
    return [{k: v for k, v in row.items() if k != "bound"} for row in rows]


def ranked(con: engine.DuckDBPyConnection, params: dict[str, Any], window: int | None,
           bound: datetime | None) -> Rows:
    """lookup_newest with this ``$window`` (None: every run ranked) and ``$bound`` (None:
    found by the query); rows with their bound."""
    return fetch(con.execute(load("lookup_newest"),
                             {**params, "window": window, "bound": bound}))


def fetch(result: engine.DuckDBPyConnection) -> Rows:
    """The rows of a statement (``con.execute(...)``) as dicts of Python values, read without
    pyarrow (about 0.2 s to import with numpy) nor duckdb's relational layer (db/engine.py):
    the same values as ``pylist`` of its Arrow table."""
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def bound_entry(parquet: Sequence[Path], params: dict[str, Any], window: int) -> Path | None:
    """The user cache's entry of a kept answer's bound over these Parquet files, with these
    filters and ``window`` (None: no Parquet file, or a file cannot be stat'ed). Not keyed by
    the JSONL lines: a bound is a hint, any bound gives the same answer (``newest_copies``)."""
    if not parquet:  # no file to key by: every store's JSONL months would share the entry
        return None
    key = json.dumps([params["workflow_id"], params["status"], window])
    return entry_for(BOUNDS, parquet, f"format {BOUNDS_FORMAT}", key)


def remembered(entry: Path) -> datetime | None:
    """The bound remembered in ``entry``: an aware time, else None (missing, or not one: a
    cache entry is never trusted to be well formed)."""
    known = read_entry(entry)
    try:
        at = datetime.fromisoformat(known) if isinstance(known, str) else None
    except ValueError:
        return None
    return at if at is not None and at.utcoffset() is not None else None


def bounded(finished_at: Any, bound: Any) -> bool:
    """Whether a run finished at ``finished_at`` ranks before every run left out by the bound."""
    return finished_at is not None and bound is not None and finished_at >= bound
