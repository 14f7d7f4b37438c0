"""`trend` in place: n, p50 and p95 per period without gathering the runs (docs/trend.md, "Speed").

When the run_ids of the window provably never repeat (``stats.whole.proven_files``: the proof
of a whole-history `stats`), every row is a run's only copy, so the workflow's Parquet rows (and
its JSONL rows, gathered already) are read where they are (trend_whole_rows): the UTC day, the
status and the metrics, no run_id, no dedupe. The rows are grouped by period once (a stable
counting sort of the period numbers, shared by every metric); each metric's values are taken in
that order and each period's slice sorted in place (NaN last), so its percentiles are read from
the ranks numpy interpolates between (``significance.quantile``, as ``trend_of`` does): the same
numbers, bit for bit. Otherwise, or for ``detect`` (which needs the runs themselves), the runs
are read by the general path (``runs.gather_runs``) on the same snapshot.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..log import schema
from ..stats.intervals import min_runs
from . import significance as sig
from . import trend_memo as memo_
from .runs import gather_runs
from .trend import (
    CONFIRM_PERIODS,
    DAILY,
    P50,
    P95,
    MetricTrend,
    TrendResult,
    _day_of,
    _period_ids,
    every_of,
    metric_names,
    period_days,
    span,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.engine import Collector

#: Whether `trend` may read in place (tests set it False to compare with the general path).
IN_PLACE = True
#: Status codes of trend_whole_rows.
_SUCCEEDED, _FAILED = 1, 2
_US_PER_DAY = 86_400_000_000
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Metric:
    """One metric's values (NaN: none) with each value's UTC day and status code."""

    day: npt.NDArray[np.int64]
    code: npt.NDArray[np.uint8]
    values: Floats


@dataclass(frozen=True)
class PlacedRuns:
    """The window's runs as read in place, every status: each run's day and status code, the
    known metrics (total_time_s and the nine buckets) as Arrow columns in the runs' order (NULL:
    none), and the buckets of other names as ``Metric`` of their own."""

    day: npt.NDArray[np.int64]
    code: npt.NDArray[np.uint8]
    known: Mapping[str, Any]
    other: Mapping[str, Metric] = field(default_factory=dict)
    skipped_lines: Mapping[str, int] = field(default_factory=dict)
    #: the closed months answered by the memo (not read) and those to keep (trend_memo)
    memo: memo_.Plan | None = None

    def fill(self, name: str, out: Floats) -> Floats:
        """A known metric's values into ``out`` (one per run; NaN for NULL: the caller takes
        infinities out), returned."""
        from ..stats.order import values_and_valid

        at = 0
        for chunk in getattr(self.known[name], "chunks", [self.known[name]]):
            view, valid = values_and_valid(chunk)
            part = out[at:at + len(chunk)]
            part[:] = view
            if valid is not None:
                part[~valid] = np.nan
            at += len(chunk)
        return out

    @property
    def succeeded(self) -> npt.NDArray[np.bool_]:
        return wanted(self.code, "succeeded")

    @property
    def failed(self) -> npt.NDArray[np.bool_]:
        return wanted(self.code, "failed")

    def fill_known(self, name: str, out: Floats) -> bool:
        """``fill`` ``out`` with a known metric (all NaN for another name); whether a run has
        a finite value of it (``WindowRuns.buckets`` holds only such known buckets)."""
        if name not in self.known:
            out.fill(np.nan)
            return False
        return bool(np.isfinite(self.fill(name, out)).any())


def read_in_place(c: Collector, end: datetime | None,
                  ask: memo_.Ask | None = None) -> PlacedRuns | None:
    """The dated runs of the Collector's workflow finished in [since, end) (None: no bound),
    read in place; None when that is not proven safe (``stats.whole.proven_files``). With
    ``ask``, the closed months found in the memo are not read (``PlacedRuns.memo``)."""
    from ..stats.whole import proven_files

    parts = proven_files(c)
    if parts is None:
        return None
    return read_proven(c, parts, c.query.common, end, ask)


def read_proven(c: Collector, parts: list[str], common: Mapping[str, Any],
                end: datetime | None, ask: memo_.Ask | None = None,
                skipped: Mapping[str, int] | None = None) -> PlacedRuns:
    """``read_in_place`` of the workflow and ``since`` of ``common`` (``StatsQuery.common``)
    once ``parts`` are proven for it: the Collector's steps done, its candidates gathered
    (``trend_warm`` proves a month once for all its workflows and reads each here, with the
    Collector's ``skipped_lines`` found once)."""
    from ..db.engine import relational
    from ..db.sqlfiles import load

    memo = memo_.plan(c, parts, ask) if ask is not None else None
    files = parts if memo is None else memo.rest(parts)
    params = {**common, "files": files, "end": end and end.isoformat()}
    c.con.execute(load("macro_trend_rows"))
    relational()  # con.sql, Arrow results
    table = c.con.sql(load("trend_whole_rows"), params=params).to_arrow_table()
    day = _numbers(table.column("finished_us"), np.int64) // _US_PER_DAY  # as WindowRuns.day
    code = _numbers(table.column("code"), np.uint8)
    other: dict[str, Metric] = {}
    if any(chunk.true_count for chunk in table.column("has_other").chunks):
        found = c.con.execute(load("trend_whole_other"), params).fetchall()
        _add_other(other, found)
    known = {name: table.column(name) for name in table.column_names
             if name == schema.TOTAL_BUCKET or name in schema.KNOWN_BUCKETS}
    return PlacedRuns(day, code, known, other,
                      c.skipped_lines() if skipped is None else skipped, memo)


def _numbers(column: Any, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A column without NULL (an Arrow chunked array) as one numpy array (no pandas: pyarrow's
    ChunkedArray.to_numpy imports it)."""
    views = [np.frombuffer(c.buffers()[1], dtype=dtype, count=c.offset + len(c))[c.offset:]
             for c in column.chunks if len(c)]
    return np.concatenate(views) if views else np.zeros(0, dtype=dtype)


def _add_other(other: dict[str, Metric], rows: list[tuple[Any, ...]]) -> None:
    """Buckets of other names from trend_whole_other's (finished_us, code, bucket, seconds)
    rows: a NULL value or a known name is no sample (``runs._add_other``), a non-finite one is
    NaN."""
    by_name: dict[str, list[tuple[int, int, float]]] = {}
    for finished_us, code, name, seconds in rows:
        if seconds is None or name is None or name in schema.KNOWN_BUCKETS:
            continue
        value = float(seconds)
        by_name.setdefault(name, []).append((finished_us // _US_PER_DAY, code,
                                             value if math.isfinite(value) else math.nan))
    for name, found in by_name.items():
        days, codes, values = zip(*found, strict=True)
        other[name] = Metric(np.array(days, dtype=np.int64), np.array(codes, dtype=np.uint8),
                             np.array(values, dtype=np.float64))


def wanted(code: npt.NDArray[np.uint8], status: str | None) -> npt.NDArray[np.bool_]:
    """Which runs have ``status`` (None: succeeded or failed), as ``WindowRuns.with_status``."""
    if status is None:
        return np.asarray((code == _SUCCEEDED) | (code == _FAILED), dtype=np.bool_)
    return np.asarray(code == (_SUCCEEDED if status == "succeeded" else _FAILED), dtype=np.bool_)


@dataclass(frozen=True)
class Grouping:
    """Rows grouped by period: ``rows`` the positions of the rows with a period, period by
    period (a stable counting sort), and where each period's rows start among them (one more
    entry: the end)."""

    rows: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]

    @classmethod
    def of(cls, day: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_],
           ids: npt.NDArray[np.int64], every: str) -> Grouping:
        """The rows of ``day`` where ``keep``, by the period (of ``ids``) holding their day;
        rows before the first period or after the last are left out."""
        count = len(ids)
        period = _period_ids(day, every) - int(ids[0])
        key = np.where(keep & (period >= 0) & (period < count), period, count)
        key = key.astype(np.int16 if count < np.iinfo(np.int16).max else np.int32)
        order = np.argsort(key, kind="stable")  # a radix sort for 16-bit keys
        starts = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=count + 1))])
        return cls(order[:starts[count]], starts[:count + 1].astype(np.intp))

    def trend(self, name: str, values: Floats, out: Floats | None = None) -> MetricTrend:
        """One metric's n, p50 and p95 per period from its values in the rows' order (NaN:
        none), taken into ``out`` (a scratch array of len(rows), or a new one)."""
        grouped = np.take(values, self.rows, out=out)  # each period's slice sorted in place
        grouped[np.isinf(grouped)] = np.nan
        missing = np.searchsorted(np.flatnonzero(np.isnan(grouped)), self.starts)
        counts = (np.diff(self.starts) - np.diff(missing)).tolist()
        bounds = self.starts.tolist()
        bounded = min_runs(P95)  # fewer runs: p95 is rough, not shown
        n: list[int] = []
        p50: list[float | None] = []
        p95: list[float | None] = []
        for lo, hi, size in zip(bounds, bounds[1:], counts, strict=False):
            n.append(int(size))
            if not size:
                p50.append(None)
                p95.append(None)
                continue
            sample = grouped[lo:hi]
            sample.sort()  # NaN last: the first `size` values are the sample, sorted
            p50.append(sig.quantile(sample[:size], P50))
            p95.append(None if size < bounded else sig.quantile(sample[:size], P95))
        return MetricTrend(name, tuple(n), tuple(p50), tuple(p95))


def placed_trend(runs: PlacedRuns, *, workflow_id: str, start: datetime, end: datetime,
                 status: str | None, every: str | None,
                 buckets: Sequence[str] | None) -> TrendResult | None:
    """``trend_of`` over runs read in place (no ``detect``): the same result; None when the
    months found in the memo cannot answer (weeks, a row read on one of their days): then the
    caller reads every month."""
    keep = wanted(runs.code, status)
    memo = runs.memo if runs.memo is not None and runs.memo.hits else None
    others = [m.day for m in runs.other.values()]
    if memo is not None and memo_.overlaps(memo, [runs.day, *others]):
        return None
    because = None
    if every is None:
        every, because = every_of(_day_counts(runs, keep, start, memo))
    if memo is not None and every != DAILY:
        return None
    read = int(runs.day.min()) if runs.day.size else None
    ids = span(start, end, every, read if memo is None else memo_.first_day(memo, read))
    metrics: list[MetricTrend] | None = day_metrics(runs, keep, ids, every, status, buckets,
                                                    memo)
    if memo is not None and metrics is not None:
        metrics = memo_.overlay(memo, metrics, int(ids[0]))
    if metrics is None:
        return None
    if every == DAILY:
        keep_days(runs, metrics, int(ids[0]))
    periods = period_days(ids, every)
    return TrendResult(workflow_id, status, every, because,
                       datetime.combine(periods[0], datetime.min.time(), UTC), end, periods,
                       metrics, None, CONFIRM_PERIODS[every], dict(runs.skipped_lines))


def day_metrics(runs: PlacedRuns, keep: npt.NDArray[np.bool_], ids: npt.NDArray[np.int64],
                every: str, status: str | None, buckets: Sequence[str] | None,
                memo: memo_.Plan | None = None) -> list[MetricTrend]:
    """Each metric's n, p50 and p95 per period of ``ids`` over the runs ``keep`` (those with
    ``status``): what ``placed_trend`` computes, and what the memo keeps of a closed month
    (``trend_warm`` asks it for the month's days after a compaction)."""
    grouping = Grouping.of(runs.day, keep, ids, every)
    return _metrics(runs, grouping, ids, every, status, buckets, memo)


def keep_days(runs: PlacedRuns, metrics: Sequence[MetricTrend], first: int) -> None:
    """The memo's entries of the months ``runs`` missed (``PlacedRuns.memo``) kept from
    ``metrics`` (per day from ``first``): what `trend` keeps, and the warm-up (trend_warm)."""
    keeper = memo_.Keeper.of(runs.memo)
    if keeper is not None:
        keeper.keep(runs.day, [m.day for m in runs.other.values()], metrics, first,
                    lambda name: runs.fill(name, np.empty(len(runs.day))))


def _day_counts(runs: PlacedRuns, keep: npt.NDArray[np.bool_], start: datetime,
                memo: memo_.Plan | None) -> npt.NDArray[np.int64]:
    """The runs of total_time_s with the status of each day with one from ``start``'s day (in
    any order; ``choose_every``'s counts), those of the months found in the memo too."""
    total = runs.fill(schema.TOTAL_BUCKET, np.empty(len(runs.day)))
    counted = runs.day[keep & np.isfinite(total) & (runs.day >= _day_of(start))]
    per_day = np.bincount(counted - counted.min()) if counted.size else counted
    per_day = per_day[per_day > 0]
    if memo is None:
        return per_day
    return np.concatenate([per_day, np.array(memo_.day_counts(memo), dtype=np.int64)])


def _metrics(runs: PlacedRuns, grouping: Grouping, ids: npt.NDArray[np.int64], every: str,
             status: str | None, buckets: Sequence[str] | None,
             memo: memo_.Plan | None) -> list[MetricTrend]:
    """Each metric's trend over ``grouping`` (a known bucket no run has is left out, unless
    asked for or present in a month found in the memo), two workers sharing the metrics."""
    names = metric_names(buckets, [*schema.KNOWN_BUCKETS, *runs.other])
    elsewhere = memo_.present(memo) if memo is not None else frozenset()

    def some(mine: list[str]) -> list[MetricTrend | None]:
        """The trends of ``mine`` (None: a known bucket no run has, unless asked for), with
        scratch arrays of this worker's own."""
        values, grouped = np.empty(len(runs.day)), np.empty(len(grouping.rows))
        out: list[MetricTrend | None] = []
        for name in mine:
            if name != schema.TOTAL_BUCKET and name in runs.other:
                m = runs.other[name]
                out.append(Grouping.of(m.day, wanted(m.code, status), ids, every).trend(
                    name, m.values))
                continue
            has = runs.fill_known(name, values)
            if has or name in elsewhere or name == schema.TOTAL_BUCKET or buckets:
                out.append(grouping.trend(name, values, grouped))
            else:
                out.append(None)
        return out

    # two workers, metrics taken alternately (numpy sorts without the GIL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        halves = list(pool.map(some, [names[0::2], names[1::2]]))
    found = [halves[i % 2][i // 2] for i in range(len(names))]
    return [m for m in found if m is not None]


def read_step(end: datetime | None, fast: bool, ask: memo_.Ask | None = None) -> Any:
    """The engine's step of a trend: the runs read in place (``PlacedRuns``) when ``fast`` and
    proven safe, else gathered by the general path (``WindowRuns``), on the same snapshot;
    with ``ask``, the closed months the memo holds are not read (``trend_memo``)."""
    from .runs_in_place import first_of

    return first_of((lambda c: read_in_place(c, end, ask)) if fast and IN_PLACE else None,
                    gather_runs)


@contextmanager
def arrow_ahead(fast: bool) -> Iterator[None]:
    """A block in which pyarrow (about 0.1 s of imports, which the in-place read needs) is
    imported on a helper thread, waited for on the way out, when ``fast`` may read in place:
    it loads while the engine finds the files and DuckDB proves them, without the GIL."""
    if not (fast and IN_PLACE) or "pyarrow" in sys.modules:
        yield
        return
    from ..db.background import Background

    with Background(partial(importlib.import_module, "pyarrow")):
        yield
