"""Whole-history `stats` in place: percentiles over every matching run without gathering them.

When a large --last may keep every matching run, and the run_ids provably never repeat (so
nothing needs deduplicating), the Parquet rows are read where they are, once: the failure
window's flags and times and the samples go to Arrow, then to numpy, where the window is counted
and a selection (np.partition, not a sort) picks the order statistics numpy interpolates between
(stats.order). The footers (stats.footers) prove beforehand that the runs fit in --last and that
no Parquet row has buckets of other names; when they cannot, one count tells (and whether any
run has such buckets, which only then are read).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db import engine
from ..db.connection import duckdb_path
from ..db.sqlfiles import load
from ..log import schema
from ..log.record import at_epoch_us
from .footers import footers
from .order import bits, buffer_and_valid, column_statistics, finite
from .plan import WHOLE_MAX_RUNS, MonthSource, plan
from .result import QUANTILES
from .rows import PercentileRow, percentile_rows

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .engine import Collector, StatsQuery


def repeats(con: engine.DuckDBPyConnection, params: dict[str, Any],
            shared_ids: Callable[[], list[str]]) -> bool:
    """Whether a run_id of the rows read in place may have another copy: among the gathered
    rows (stats_whole_gathered), or a Parquet row of the workflow with a copy gathered or in
    another Parquet row (stats_whole_overlap). No run_id is read when there is nothing to
    match: a compacted store without live JSONL and without shared ids."""
    return gathered_unless_repeats(con, params, shared_ids) is None


def gathered_unless_repeats(con: engine.DuckDBPyConnection, params: dict[str, Any],
                            shared_ids: Callable[[], list[str]]) -> int | None:
    """``repeats``: None when a run_id may repeat, else how many rows are gathered (of every
    workflow: at least as many as mantis_whole_rows takes from mantis_candidates)."""
    gathered, repeated = con.execute(load("stats_whole_gathered")).fetchall()[0]
    if repeated:
        return None
    ids = shared_ids()
    if not gathered and not ids:
        return 0
    (overlap,), = con.execute(load("stats_whole_overlap"), {
        "files": params["files"], "workflow_id": params["workflow_id"],
        "since": params["since"], "shared_ids": ids}).fetchall()
    return None if overlap else int(gathered)


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
    in place can work: the Parquet rows alone do not exceed it (their footers' row counts prove
    it, cached: stats.footers; else a count of the matching rows)."""
    paths = [p for m in todo for p in m.parquet]
    if not paths:
        return False
    rows = footers(con, paths).rows
    if rows is not None and rows <= q.last:
        return True
    rows = con.execute(load("stats_parquet_runs"), {
        **q.common, "files": [duckdb_path(p) for p in paths], "status": q.status}
    ).fetchall()[0][0]
    return int(rows) <= q.last


def whole_history(con: engine.DuckDBPyConnection, parts: list[str], q: StatsQuery,
                  shared_ids: Callable[[], list[str]], paths: list[Path] | None = None
                  ) -> tuple[list[PercentileRow], list[tuple[Any, ...]]] | None:
    """The percentile rows and failure rows (stats_whole_failures) of a whole history read in
    place, or None when that is not possible: a run_id may repeat (``repeats``), more runs
    match than --last, or more than WHOLE_MAX_RUNS.

    Every JSONL row of the window is in mantis_candidates already, and so are the rivals of
    those rows found in ``parts`` (stats_rivals); the workflow's Parquet rows are read in place,
    once (stats_whole_measures: the counts of the failure window and the samples). Before that,
    the runs are counted (stats_whole_counts) unless the footers of ``paths`` (the files of
    ``parts``, when the caller has them) prove that they fit and that no Parquet row has buckets
    of other names (stats.footers): then only the gathered rows are asked for those.
    ``shared_ids`` gives the run_ids with more than one copy among the store's Parquet files.
    """
    con.execute(load("macro_whole_rows"))
    params = {**q.common, "files": parts, "status": q.status}
    gathered = gathered_unless_repeats(con, params, shared_ids)
    if gathered is None:
        return None
    limit = min(q.last, WHOLE_MAX_RUNS)
    proof = None if paths is None else footers(con, paths)
    if proof is not None and proof.rows is not None and proof.rows + gathered <= limit \
            and proof.no_other:
        (other,), = con.execute(load("stats_whole_other_lines"), {
            "workflow_id": params["workflow_id"], "status": q.status}).fetchall()
    else:
        (runs, other), = con.execute(load("stats_whole_counts"), params).fetchall()
        if int(runs) > limit:
            return None
    engine.relational()  # con.sql, Arrow results
    table = con.sql(load("stats_whole_measures"), params=params).to_arrow_table()
    chosen = flags(table.column("chosen"))
    runs, since, early, failed, dated = window(table, chosen)
    names = [name for name in table.column_names[len(WINDOW_COLUMNS):]
             if name == schema.TOTAL_BUCKET or q.buckets is None or name in q.buckets]
    rows = measure_rows({name: table.column(name) for name in names}, runs, q.ci,
                        None if q.status is None else chosen)
    del table
    if other:  # a run with buckets of other names (rare, small samples)
        rows += percentile_rows(con.sql(load("stats_whole_other"), params={
            **params, "known": list(schema.KNOWN_BUCKETS), "buckets": q.buckets,
            "quantiles": list(QUANTILES), "with_sample": q.ci}).to_arrow_table())
    if early is None or since is None or early >= since:  # every dated run is in the window
        failures = [(None, since, failed, dated)]
    else:
        failures = con.execute(load("stats_whole_failures"), params).fetchall()
    return rows, failures


#: The columns of stats_whole_measures before the measures.
WINDOW_COLUMNS = ("chosen", "unlike", "failed", "finished_at")


def window(table: Any, chosen: np.ndarray
           ) -> tuple[int, datetime | None, datetime | None, int, int]:
    """From stats_whole_measures' first columns (``chosen`` already as booleans), what the
    failure window needs: the chosen runs, the oldest finished_at among them (where the window
    starts) and among the runs of another status (``early``: the window holds them all when
    it is not older), the dated runs that failed, and all dated runs."""
    import numpy as np

    finished, dated = timestamps(table.column("finished_at"))
    unlike, failed = flags(table.column("unlike")), flags(table.column("failed"))

    def oldest(keep: np.ndarray) -> datetime | None:
        keep &= dated
        return at_epoch_us(int(finished[keep].min())) if keep.any() else None

    return (int(np.count_nonzero(chosen)), oldest(chosen.copy()), oldest(unlike),
            int(np.count_nonzero(failed & dated)), int(np.count_nonzero(dated)))


def flags(column: Any) -> np.ndarray:
    """A boolean Arrow column as numpy booleans, NULL as false."""
    import numpy as np

    out = [np.zeros(0, dtype=np.bool_)]
    for chunk in column.chunks:
        validity, data = chunk.buffers()[:2]
        lo, hi = chunk.offset, chunk.offset + len(chunk)
        if data is None or chunk.null_count == len(chunk):
            out.append(np.zeros(len(chunk), dtype=np.bool_))
            continue
        values = bits(data, lo, hi)
        if chunk.null_count:
            values = values & bits(validity, lo, hi)
        out.append(values)
    return np.concatenate(out)


def timestamps(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """A timestamp Arrow column as microseconds since the epoch (anything where NULL) and its
    validity, as numpy arrays."""
    import numpy as np
    import pyarrow as pa

    values, valid = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.bool_)]
    for chunk in column.chunks:
        if not pa.types.is_timestamp(chunk.type) or chunk.type.unit != "us":
            chunk = chunk.cast(pa.timestamp("us", tz="UTC"))
        view, ok = buffer_and_valid(chunk, np.int64)
        values.append(view)
        valid.append(np.ones(len(chunk), dtype=np.bool_) if ok is None else ok)
    return np.concatenate(values), np.concatenate(valid)


def measure_rows(columns: dict[str, Any], runs: int, ci: bool,
                 chosen: np.ndarray | None = None) -> list[PercentileRow]:
    """The percentile rows of total_time_s and the known buckets (Arrow ``columns`` by name,
    NULL for no sample; with ``chosen``, only the samples of those rows): one selection per
    column, two columns at a time (numpy releases the GIL while it partitions), each column's
    samples copied once (stats.order.finite)."""
    def one(name: str) -> tuple[int, list[float] | None, Any]:
        return column_statistics(finite(columns[name], chosen), ci=ci)
    with ThreadPoolExecutor(max_workers=2) as pool:
        picked = list(pool.map(one, columns))
    rows: list[PercentileRow] = []
    for name, (n, qs, cis) in zip(columns, picked, strict=True):
        if name == schema.TOTAL_BUCKET:
            rows.append(PercentileRow(None, "total", name, n, runs, qs, cis))
        elif n:  # as in stats_percentiles, a bucket with no sample is not a row
            rows.append(PercentileRow(None, "bucket", name, n, None, qs, cis))
    return rows
