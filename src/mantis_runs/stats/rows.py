"""The rows the percentile queries return, and the typed buckets made from them.

Both ways of computing percentiles (stats_percentiles in SQL, stats.whole in place) produce
``PercentileRow``s; ``bucket_stats`` turns one group's rows into the reported buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..log import schema
from .order import intervals, sorted_intervals
from .result import BucketStats, Interval, StatsResult

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: One result per group value; the key None is the ungrouped answer (or runs without the value).
Answer = dict[str | None, StatsResult]


@dataclass(frozen=True)
class PercentileRow:
    grp: str | None
    kind: str  # "total" (total_time_s) or "bucket"
    bucket: str
    n: int
    run_count: int | None  # the group's runs (kind "total" only)
    q: list[float] | None  # p50, p95, p99; None when n = 0
    ci: tuple[Interval, ...] | None = None


def percentile_rows(table: pa.Table) -> list[PercentileRow]:
    """The rows of stats_whole_other as fetched to Arrow: each row's sorted sample, when there,
    gives its intervals without a trip through Python floats."""
    samples = table.column("sample")
    rows: list[PercentileRow] = []
    for i, r in enumerate(table.drop_columns(["sample"]).to_pylist()):
        sample = samples[i]
        ci = intervals(sample.values) if sample.is_valid and r["n"] else None
        rows.append(row_of(r, ci))
    return rows


def fetched_rows(names: list[str], fetched: list[tuple[Any, ...]]) -> list[PercentileRow]:
    """The rows of stats_percentiles as fetched to Python (no pyarrow: the default `stats` never
    imports it): a row's sorted sample, when there (--ci), gives its intervals by index."""
    rows: list[PercentileRow] = []
    for values in fetched:
        r = dict(zip(names, values, strict=True))
        sample = r.pop("sample")
        ci = sorted_intervals(sample) if sample else None
        rows.append(row_of(r, ci))
    return rows


def row_of(r: dict[str, Any], ci: tuple[Interval, ...] | None) -> PercentileRow:
    return PercentileRow(grp=r["grp"], kind=r["kind"], bucket=r["bucket"], n=int(r["n"]),
                         run_count=None if r["run_count"] is None else int(r["run_count"]),
                         q=r["q"], ci=ci)


def bucket_stats(rows: list[PercentileRow], asked: list[str] | None
                 ) -> tuple[BucketStats, list[BucketStats], int]:
    """(total, the buckets sorted by p50 descending then name, run count) of one group: every
    asked bucket is there, empty when no run had it."""
    total = BucketStats(schema.TOTAL_BUCKET, 0, None, None, None)
    run_count = 0
    found: dict[str, BucketStats] = {}
    for row in rows:
        p50, p95, p99 = (None, None, None) if row.q is None else (row.q[0], row.q[1], row.q[2])
        bs = BucketStats(row.bucket, row.n, p50, p95, p99, row.ci)
        if row.kind == "total":
            total = bs
            run_count = row.run_count or 0
        elif row.bucket != schema.TOTAL_BUCKET:  # the name is reserved for the run's own total
            found[row.bucket] = bs
    for name in asked or ():
        if name != schema.TOTAL_BUCKET:  # always reported, as the total
            found.setdefault(name, BucketStats(name, 0, None, None, None))
    ordered = sorted(found.values(), key=lambda b: (b.p50 is None, -(b.p50 or 0.0), b.bucket))
    return total, ordered, run_count
