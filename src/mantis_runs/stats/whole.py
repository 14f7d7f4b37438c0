"""Whole-history `stats` in place: percentiles over every matching run without gathering them.

When a large --last may keep every matching run, and the run_ids provably never repeat (so
nothing needs deduplicating), the Parquet rows are read where they are: once for the counts,
once for the samples, which go to Arrow, where a selection (not a sort) picks the two order
statistics numpy interpolates between (stats.order).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import duckdb

from ..db.connection import duckdb_path
from ..db.sqlfiles import load
from ..log import schema
from .order import numpy_percentiles
from .plan import WHOLE_MAX_RUNS, MonthSource
from .result import QUANTILES

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StatsQuery


def may_fit(con: duckdb.DuckDBPyConnection, todo: list[MonthSource], q: StatsQuery) -> bool:
    """Whether every matching run may fit in --last, so that reading every month at once and
    in place can work: the Parquet rows alone do not exceed it (a cheap count)."""
    parts = [duckdb_path(p) for m in todo for p in m.parquet]
    if not parts:
        return False
    rows = con.execute(load("stats_parquet_runs"),
                       {**q.common, "files": parts, "status": q.status}).fetchall()[0][0]
    return int(rows) <= q.last


def whole_history(con: duckdb.DuckDBPyConnection, parts: list[str], q: StatsQuery,
                  shared: list[int]) -> tuple[list[tuple[Any, ...]], int] | None:
    """The percentile rows and run count of a whole history read in place, or None when that is
    not possible: a run_id may repeat (equal hashes, rivals under other workflows included, or
    copies in two Parquet files: ``shared``), more runs match than --last, or more than
    WHOLE_MAX_RUNS.

    Every JSONL row of the window is in mantis_candidates already, and so are the rivals of
    those rows found in ``parts`` (stats_rivals); the workflow's Parquet rows are read in place.
    """
    con.execute(load("macro_whole_rows"))
    params = {**q.common, "files": parts, "status": q.status}
    copies, keys, runs, repeated = con.execute(load("stats_whole_counts"),
                                               {**params, "shared": shared}).fetchall()[0]
    if int(copies) != int(keys) or int(repeated) or int(runs) > min(q.last, WHOLE_MAX_RUNS):
        return None
    samples = con.sql(load("stats_whole_measures"), params=params).to_arrow_table()
    names = [name for name in samples.column_names
             if name == schema.TOTAL_BUCKET or q.buckets is None or name in q.buckets]
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow's kernels release the GIL
        picked = list(pool.map(numpy_percentiles, [samples.column(name) for name in names]))
    rows: list[tuple[Any, ...]] = []
    for name, (n, qs) in zip(names, picked, strict=True):
        if name == schema.TOTAL_BUCKET:
            rows.append(("total", name, n, int(runs), qs))
        elif n:  # as in stats_percentiles, a bucket with no sample is not a row
            rows.append(("bucket", name, n, None, qs))
    rows += con.execute(load("stats_whole_other"),
                        {**params, "known": list(schema.KNOWN_BUCKETS), "buckets": q.buckets,
                         "quantiles": list(QUANTILES)}).fetchall()
    return rows, int(runs)
