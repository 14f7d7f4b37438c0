"""The per-day results of closed months, kept in the user cache for `trend` (docs/trend.md).

A closed month, compacted (its rows only in Parquet parts: no sealed shard, a live shard that is
missing or empty, no checkpoint) and wholly inside the window's whole days, holds rows that
never change while its parts do not. When the in-place read is proven (trend_fast) and the
periods are days, each such month's n, p50 and p95 per day and metric are looked up in the
cache (``trend-memo/``), keyed by ``VERSION``, the workflow, the status, the buckets asked for
and each part's identity (``cache.entry_for``: path, inode, size, times); a month found there
is not read, the others are read in place as before and, once computed, kept. The numbers kept
are the ones computed (JSON keeps a float64 exactly, -0.0 too), so the result is the same bit
for bit. Any doubt (a part whose footer does not prove its rows are of its month, a row read
elsewhere on a day of a month found, an entry that does not decode) answers by the read of
every month.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..db.cache import entry_for, read_entry, write_entry
from ..log import schema
from ..log.layout import month_start, next_month
from .trend import MetricTrend, _day_of

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.engine import Collector

#: The entries' format; a change makes the old entries unused.
VERSION = "trend-memo-1"
#: The cache's folder of these entries.
KIND = "trend-memo"
#: Whether `trend` may use the memo (tests set it False).
ENABLED = True


@dataclass(frozen=True)
class Ask:
    """What a trend's per-day results depend on, besides the files: the workflow, the status,
    the buckets asked for (None: every bucket present), and the window's whole days
    [first_day, end_day) (end_day: the day of ``end``, partial)."""

    workflow_id: str
    status: str | None
    buckets: tuple[str, ...] | None
    first_day: int
    end_day: int

    def extra(self) -> list[str]:
        return [VERSION, self.workflow_id, json.dumps(self.status),
                json.dumps(None if self.buckets is None else list(self.buckets))]


@dataclass(frozen=True)
class Month:
    """A closed month the memo may answer for: its days [lo, hi), its parts (as DuckDB takes
    them), its entry, its live shard (which must stay empty)."""

    lo: int
    hi: int
    files: tuple[str, ...]
    entry: Path
    shard: Path | None


@dataclass(frozen=True)
class Found:
    """A month's entry: the first day with a row (any status; None: none), the known buckets
    with a finite value (any status) and each metric's per-day n, p50, p95 over [lo, hi)."""

    month: Month
    first: int | None
    present: frozenset[str]
    metrics: dict[str, MetricTrend]


@dataclass
class Plan:
    """The months answered by the memo (``hits``, not read) and those to keep (``misses``)."""

    ask: Ask
    hits: list[Found] = field(default_factory=list)
    misses: list[Month] = field(default_factory=list)

    def rest(self, parts: list[str]) -> list[str]:
        """The parts still read: those of no month found."""
        skipped = {f for h in self.hits for f in h.month.files}
        return [p for p in parts if p not in skipped]


def plan(c: Collector, parts: list[str], ask: Ask) -> Plan:
    """The closed months of the window found in the memo, and the others to keep; at least
    one part is left to read."""
    out = Plan(ask)
    for month in closed_months(c, parts, ask):
        found = read_memo(month)
        if found is None:
            out.misses.append(month)
        else:
            out.hits.append(found)
    while out.hits and not out.rest(parts):
        out.misses.append(out.hits.pop().month)
    return out


def closed_months(c: Collector, parts: list[str], ask: Ask) -> list[Month]:
    """The months whose rows are all in parts read here, whose days are whole days of the
    window, and whose parts' footers prove every dated row is of the month."""
    from ..db.bounds import parquet_bounds
    from ..db.connection import duckdb_path

    read = set(parts)
    names = Counter(mf.month for mf in c.months)  # several data dirs: a month read as one
    out: list[Month] = []
    for mf in c.months:
        if mf.sealed or not mf.parts or names[mf.month] > 1 or (
                mf.live is not None and _nonempty(mf.live, c)):
            continue
        lo, hi = _day_of(month_start(mf.month)), _day_of(month_start(next_month(mf.month)))
        files = tuple(duckdb_path(p) for p in mf.parts)
        if lo < ask.first_day or hi > ask.end_day or not read.issuperset(files):
            continue
        bounds = parquet_bounds(c.con, list(mf.parts)).values()
        if not all(not b.dated or (b.earliest is not None and b.latest is not None
                                   and lo <= _day_of(b.earliest) and _day_of(b.latest) < hi)
                   for b in bounds):
            continue
        entry = entry_for(KIND, mf.parts, *ask.extra())
        if entry is not None:
            out.append(Month(lo, hi, files, entry, mf.live))
    return out


def _nonempty(shard: Path, c: Collector) -> bool:
    """Whether a live shard may hold rows (or is read through a checkpoint)."""
    return shard in c.live or _size(shard) != 0


def read_memo(month: Month) -> Found | None:
    """The month's entry, when there is one that decodes."""
    raw = read_entry(month.entry)
    try:
        return _decode(raw, month)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _decode(raw: Any, month: Month) -> Found | None:
    if not isinstance(raw, dict) or raw.get("v") != VERSION or raw["lo"] != month.lo \
            or raw["hi"] != month.hi:
        return None
    days = month.hi - month.lo
    metrics: dict[str, MetricTrend] = {}
    for name, got in raw["metrics"].items():
        n = tuple(int(x) for x in got["n"])
        p50, p95 = (tuple(None if x is None else float(x) for x in got[k]) for k in ("p50", "p95"))
        if not len(n) == len(p50) == len(p95) == days:
            return None
        metrics[str(name)] = MetricTrend(str(name), n, p50, p95)
    first = raw["first"]
    if schema.TOTAL_BUCKET not in metrics or not (first is None or month.lo <= first < month.hi):
        return None
    return Found(month, None if first is None else int(first),
                 frozenset(str(b) for b in raw["present"]), metrics)


def overlaps(plan: Plan, days: Iterable[npt.NDArray[np.int64]]) -> bool:
    """Whether a row read (of ``days``) is on a day of a month found: then the memo's answer
    for that day would leave it out."""
    return any(_within(day, h.month) for day in days for h in plan.hits)


def _within(day: npt.NDArray[np.int64], month: Month) -> bool:
    return bool(day.size) and bool(((day >= month.lo) & (day < month.hi)).any())


def day_counts(plan: Plan) -> list[int]:
    """The runs of total_time_s with the status of each day with one, in the months found."""
    return [n for h in plan.hits for n in h.metrics[schema.TOTAL_BUCKET].n if n]


def first_day(plan: Plan, read: int | None) -> int | None:
    """The first day with a row: among those read (``read``) and the months found."""
    found = [d for d in [read, *(h.first for h in plan.hits)] if d is not None]
    return min(found) if found else None


def present(plan: Plan) -> frozenset[str]:
    """The known buckets with a value in a month found."""
    return frozenset().union(*(h.present for h in plan.hits))


def overlay(plan: Plan, metrics: list[MetricTrend], first: int) -> list[MetricTrend] | None:
    """``metrics`` (per day from ``first``, with no row on a day of a month found) with those
    days' results taken from the memo; None when an entry lacks a metric a month holds."""
    out = []
    for m in metrics:
        n, p50, p95 = list(m.n), list(m.p50), list(m.p95)
        for h in plan.hits:
            got = h.metrics.get(m.metric)
            if got is None:
                if m.metric in h.present or m.metric == schema.TOTAL_BUCKET:
                    return None
                continue  # no value on any of its days: n = 0 as read
            for k in range(len(got.n)):
                at = h.month.lo + k - first
                if 0 <= at < len(n):
                    n[at], p50[at], p95[at] = got.n[k], got.p50[k], got.p95[k]
        out.append(MetricTrend(m.metric, tuple(n), tuple(p50), tuple(p95)))
    return out


@dataclass(frozen=True)
class Keeper:
    """Keeps the entries of the months missed (``plan.misses``) once the days are computed."""

    plan: Plan

    @classmethod
    def of(cls, plan: Plan | None) -> Keeper | None:
        return None if plan is None or not plan.misses else cls(plan)

    def keep(self, day: npt.NDArray[np.int64], others: Sequence[npt.NDArray[np.int64]],
             metrics: Sequence[MetricTrend], first: int,
             fill: Callable[[str], npt.NDArray[np.float64]]) -> None:
        """Write the entries of the missed months wholly among ``metrics`` (per day from
        ``first``; ``day``: each row's, ``others``: those of the buckets of other names,
        ``fill``: a known bucket's values per row), but for one with a bucket of another name
        or a row in its live shard now."""
        misses = sorted(self.plan.misses, key=lambda m: m.lo)
        lowest, last = misses[0].lo, first + len(metrics[0].n)
        rows = np.bincount(day[day >= lowest] - lowest)
        present = self._present(misses, day, metrics, first, fill)
        for month, held in zip(misses, present, strict=True):
            if month.lo < first or month.hi > last or any(_within(d, month) for d in others):
                continue
            if month.shard is not None and _size(month.shard) != 0:
                continue
            days = np.flatnonzero(rows[month.lo - lowest:month.hi - lowest])
            write_entry(month.entry, {
                "v": VERSION, "lo": month.lo, "hi": month.hi,
                "first": int(month.lo + days[0]) if days.size else None,
                "present": sorted(held),
                "metrics": {m.metric: _slice(m, month.lo - first, month.hi - first)
                            for m in metrics}})

    def _present(self, misses: list[Month], day: npt.NDArray[np.int64],
                 metrics: Sequence[MetricTrend], first: int,
                 fill: Callable[[str], npt.NDArray[np.float64]]) -> list[set[str]]:
        """The known buckets with a finite value (any status) in each month: those with n on
        one of its days, and, when every present bucket is shown (they decide which are), the
        others looked for among the month's rows."""
        found: list[set[str]] = [set() for _ in misses]
        todo: dict[str, list[int]] = {}
        for m in metrics:
            if m.metric == schema.TOTAL_BUCKET or m.metric not in schema.KNOWN_BUCKETS:
                continue
            for k, month in enumerate(misses):
                if any(m.n[max(month.lo - first, 0):max(month.hi - first, 0)]):
                    found[k].add(m.metric)
                else:
                    todo.setdefault(m.metric, []).append(k)
        if todo and self.plan.ask.buckets is None:
            edges = np.array([d for m in misses for d in (m.lo, m.hi)], dtype=np.int64)
            at = np.searchsorted(edges, day, side="right")
            index = np.where(at % 2 == 1, at // 2, len(misses))
            for name, months in todo.items():
                held = np.bincount(index[np.isfinite(fill(name))], minlength=len(misses) + 1)
                for k in months:
                    if held[k]:
                        found[k].add(name)
        return found


def _slice(m: MetricTrend, lo: int, hi: int) -> dict[str, list[Any]]:
    return {"n": list(m.n[lo:hi]), "p50": list(m.p50[lo:hi]), "p95": list(m.p95[lo:hi])}


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
    except OSError:
        return None
