"""Whole-history `stats` in place: percentiles over every matching run without gathering them.

When a large --last may keep every matching run, and the run_ids provably never repeat (so
nothing needs deduplicating), the Parquet rows are read where they are: once for the counts
(and whether any run has buckets of other names, which only then are read), once for the
samples, which go to Arrow, then to numpy, where a selection (np.partition, not a sort) picks
the order statistics numpy interpolates between (stats.order).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..db import engine
from ..db.connection import duckdb_path
from ..db.sqlfiles import load
from ..log import schema
from .order import column_statistics, finite
from .plan import WHOLE_MAX_RUNS, MonthSource, plan
from .result import QUANTILES
from .rows import PercentileRow, percentile_rows

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Collector, StatsQuery


def repeats(con: engine.DuckDBPyConnection, params: dict[str, Any],
            shared_ids: Callable[[], list[str]]) -> bool:
    """Whether a run_id of the rows read in place may have another copy: among the gathered
    rows (stats_whole_gathered), or a Parquet row of the workflow with a copy gathered or in
    another Parquet row (stats_whole_overlap). No run_id is read when there is nothing to
    match: a compacted store without live JSONL and without shared ids."""
    gathered, repeated = con.execute(load("stats_whole_gathered")).fetchall()[0]
    if repeated:
        return True
    ids = shared_ids()
    if not gathered and not ids:
        return False
    (overlap,), = con.execute(load("stats_whole_overlap"), {
        "files": params["files"], "workflow_id": params["workflow_id"],
        "since": params["since"], "shared_ids": ids}).fetchall()
    return bool(overlap)


def proven_files(c: Collector) -> list[str] | None:
    """The Parquet files whose rows of the Collector's workflow since its ``since`` can be read
    in place (``mantis_whole_rows``), once every JSONL row of the window and the Parquet rivals
    of those rows are gathered and ``repeats`` proved that no run_id of them repeats; None when
    that is not possible (a lake, no Parquet file, a run_id that may repeat): then the caller
    reads by the general path, on a Collector whose steps start afresh."""
    q = c.query
    if c.lake is not None:  # a lake may hold several copies of a run
        return None
    c.con.execute(load("stats_candidates_table"), {"known_struct": schema.known_struct()})
    c.con.execute(load("macro_chosen"))
    jsonl, parts = c.files(plan(c.con, c.months, c.live, q.since))
    if not parts:
        return None
    c.collect_jsonl(jsonl)
    c.resolve_rivals(parts)
    c.con.execute(load("macro_whole_rows"))
    if repeats(c.con, {**q.common, "files": parts, "status": None}, c.shared_run_ids):
        return None
    return parts


def may_fit(con: engine.DuckDBPyConnection, todo: list[MonthSource], q: StatsQuery) -> bool:
    """Whether every matching run may fit in --last, so that reading every month at once and
    in place can work: the Parquet rows alone do not exceed it (a cheap count)."""
    parts = [duckdb_path(p) for m in todo for p in m.parquet]
    if not parts:
        return False
    rows = con.execute(load("stats_parquet_runs"),
                       {**q.common, "files": parts, "status": q.status}).fetchall()[0][0]
    return int(rows) <= q.last


def whole_history(con: engine.DuckDBPyConnection, parts: list[str], q: StatsQuery,
                  shared_ids: Callable[[], list[str]]
                  ) -> tuple[list[PercentileRow], list[tuple[Any, ...]]] | None:
    """The percentile rows and failure rows (stats_whole_failures) of a whole history read in
    place, or None when that is not possible: a run_id may repeat (``repeats``), more runs
    match than --last, or more than WHOLE_MAX_RUNS.

    Every JSONL row of the window is in mantis_candidates already, and so are the rivals of
    those rows found in ``parts`` (stats_rivals); the workflow's Parquet rows are read in place.
    ``shared_ids`` gives the run_ids with more than one copy among the store's Parquet files.
    """
    con.execute(load("macro_whole_rows"))
    params = {**q.common, "files": parts, "status": q.status}
    if repeats(con, params, shared_ids):
        return None
    (runs, since, early, failed, dated, other), = con.execute(load("stats_whole_counts"),
                                                              params).fetchall()
    if int(runs) > min(q.last, WHOLE_MAX_RUNS):
        return None
    engine.relational()  # con.sql, Arrow results
    samples = con.sql(load("stats_whole_measures"), params=params).to_arrow_table()
    names = [name for name in samples.column_names
             if name == schema.TOTAL_BUCKET or q.buckets is None or name in q.buckets]
    rows = measure_rows({name: samples.column(name) for name in names}, int(runs), q.ci)
    if other:  # a run with buckets of other names (rare, small samples)
        rows += percentile_rows(con.sql(load("stats_whole_other"), params={
            **params, "known": list(schema.KNOWN_BUCKETS), "buckets": q.buckets,
            "quantiles": list(QUANTILES), "with_sample": q.ci}).to_arrow_table())
    if early is None or since is None or early >= since:  # every dated run is in the window
        failures = [(None, since, failed, dated)]
    else:
        failures = con.execute(load("stats_whole_failures"), params).fetchall()
    return rows, failures


def measure_rows(columns: dict[str, Any], runs: int, ci: bool) -> list[PercentileRow]:
    """The percentile rows of total_time_s and the known buckets (Arrow ``columns`` by name,
    NULL for no sample): one selection per column, two columns at a time (numpy releases the
    GIL while it partitions), each column's samples copied once (stats.order.finite)."""
    def one(name: str) -> tuple[int, list[float] | None, Any]:
        return column_statistics(finite(columns[name]), ci=ci)

    with ThreadPoolExecutor(max_workers=2) as pool:
        picked = list(pool.map(one, columns))
    rows: list[PercentileRow] = []
    for name, (n, qs, cis) in zip(columns, picked, strict=True):
        if name == schema.TOTAL_BUCKET:
            rows.append(PercentileRow(None, "total", name, n, runs, qs, cis))
        elif n:  # as in stats_percentiles, a bucket with no sample is not a row
            rows.append(PercentileRow(None, "bucket", name, n, None, qs, cis))
    return rows
