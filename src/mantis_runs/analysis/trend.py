"""`trend`: p50, p95 and n of a workflow's runs per day or week, and when they changed.

The runs are read once (:func:`mantis_runs.analysis.runs.read_runs`: the winning copy of each
run, as `stats` and `compare` read them), cut into UTC days or weeks (Monday to Sunday), and
each metric (total_time_s, then each bucket) gets per period: n, p50 and p95 of its finite
values among the runs with the status, numpy's percentiles as `stats` computes them, p95 only
where n bounds its interval (stats.intervals: 72 runs). Without ``every``, periods are days,
or weeks when the median day has fewer than ``DAILY_MIN_RUNS`` runs (the result says so).

``detect``: change points of log p50 (and of log p95 where periods have its 72 runs) by PELT
(:mod:`mantis_runs.analysis.changepoints`), each confirmed by compare's verdicts
(:func:`mantis_runs.analysis.verdicts.decide`) on the raw runs of up to ``confirm`` periods
before against as many after. Every candidate is reported; ``confirmed`` says whether its
verdict is regressed or improved (docs/trend.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from ..db.lake_source import DataDirs
from ..errors import UsageError
from ..log import schema
from ..log.record import epoch_us, format_timestamp
from ..stats.intervals import min_runs, rough
from . import changepoints as cp
from . import significance as sig
from .runs import WindowRuns
from .verdicts import IMPROVED, REGRESSED, MetricVerdict, Options

#: Period lengths: a UTC day, or a week from Monday.
DAILY, WEEKLY = "1d", "1w"
#: Below this median of runs a day, periods are weeks (unless ``every`` is given).
DAILY_MIN_RUNS = 20
#: The runs a trend shows unless told: the succeeded ones (the question ``compact`` keeps).
DEFAULT_STATUS = "succeeded"
#: Periods either side of a change point whose runs confirm it (daily, weekly).
CONFIRM_PERIODS = {DAILY: 7, WEEKLY: 4}
P50, P95 = 0.5, 0.95
_EPOCH_DAY = date(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
#: 1970-01-01 was a Thursday: day + 3 counts from a Monday.
_TO_MONDAY = 3


@dataclass(frozen=True)
class MetricTrend:
    """One metric per period: n (its finite values among the runs with the status), p50 and
    p95 (None where n = 0; p95 also where it is rough, n < 72)."""

    metric: str
    n: tuple[int, ...]
    p50: tuple[float | None, ...]
    p95: tuple[float | None, ...]

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "n": list(self.n), "p50": list(self.p50),
                "p95": list(self.p95)}


@dataclass(frozen=True)
class ChangePoint:
    """A change of one metric from the period ``at`` on, found on the log ``series`` (p50,
    p95 or both), and compare's verdict of the runs of [before_start, at) against
    [at, after_end)."""

    metric: str
    at: date
    series: tuple[str, ...]
    before_start: date
    after_end: date  # exclusive
    verdict: MetricVerdict

    @property
    def confirmed(self) -> bool:
        return self.verdict.verdict in (REGRESSED, IMPROVED)

    def to_json(self) -> dict[str, Any]:
        comparison = asdict(self.verdict)
        comparison["p_value"] = self.verdict.p_value
        return {"metric": self.metric, "at": self.at.isoformat(), "series": list(self.series),
                "before": {"start": self.before_start.isoformat(), "end": self.at.isoformat()},
                "after": {"start": self.at.isoformat(), "end": self.after_end.isoformat()},
                "ratio": self.verdict.p50.ratio,
                "interval": [self.verdict.p50.interval.low, self.verdict.p50.interval.high],
                "verdict": self.verdict.verdict, "confirmed": self.confirmed,
                "comparison": comparison}


@dataclass(frozen=True)
class TrendResult:
    workflow_id: str
    status: str | None
    every: str  # DAILY or WEEKLY
    weekly_because: float | None  # the median runs a day, when weeks were chosen for it
    start: datetime  # the first period's start
    end: datetime  # exclusive: now
    periods: tuple[date, ...]  # each period's first day
    metrics: list[MetricTrend]  # total_time_s first
    changes: list[ChangePoint] | None  # None: detection was not asked for
    confirm_periods: int
    #: malformed lines skipped while reading, per shard (the warning `stats` gives)
    skipped_lines: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> MetricTrend:
        return self.metrics[0]

    @property
    def empty(self) -> bool:
        return not any(self.total.n)

    @property
    def note(self) -> str | None:
        """Why the periods are weeks, when they were chosen for it."""
        if self.weekly_because is None:
            return None
        runs = "run" if self.weekly_because == 1 else "runs"
        return (f"weekly: a median of {_count(self.weekly_because)} {runs} a day is under "
                f"{DAILY_MIN_RUNS}")

    def to_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "status": self.status, "every": self.every,
                "weekly_because": self.weekly_because, "note": self.note,
                "start": format_timestamp(self.start), "end": format_timestamp(self.end),
                "periods": [p.isoformat() for p in self.periods],
                "needed_runs": {"p50": min_runs(P50), "p95": min_runs(P95)},
                "metrics": [m.to_json() for m in self.metrics],
                "changes": None if self.changes is None else [c.to_json() for c in self.changes],
                "confirm_periods": self.confirm_periods, "skipped_lines": self.skipped_lines}


def _count(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _period_ids(day: npt.NDArray[np.int64], every: str) -> npt.NDArray[np.int64]:
    """Each day's period: the day itself, or its week (counted from a Monday)."""
    return day if every == DAILY else (day + _TO_MONDAY) // 7


def _first_day(period: int, every: str) -> int:
    return period if every == DAILY else period * 7 - _TO_MONDAY


def _day_of(dt: datetime) -> int:
    return epoch_us(dt) // _US_PER_DAY


@dataclass(frozen=True)
class _Cut:
    """The runs' periods: ``ids`` (consecutive period numbers, empty ones too) and where each
    period's runs start among the runs, oldest first (one more entry: the end)."""

    ids: npt.NDArray[np.int64]
    starts: npt.NDArray[np.intp]

    @classmethod
    def of(cls, runs: WindowRuns, ids: npt.NDArray[np.int64], every: str) -> _Cut:
        run_periods = _period_ids(runs.day, every)
        bounds = np.searchsorted(run_periods, np.append(ids, ids[-1] + 1), side="left")
        return cls(ids, bounds.astype(np.intp))


def span(start: datetime, end: datetime, every: str, first_day: int | None,
         ) -> npt.NDArray[np.int64]:
    """The consecutive period ids of a trend: from the period holding ``start`` (or the one
    holding ``first_day``, the first run's day, when that is later) to the one holding the
    instant before ``end``; at least one."""
    first = int(_period_ids(np.array([_day_of(start), *([] if first_day is None else
                                                        [first_day])]), every).max())
    last = int(_period_ids(np.array([_day_of(end - timedelta(microseconds=1))]), every)[0])
    return np.arange(first, max(first, last) + 1, dtype=np.int64)


def metric_names(buckets: Sequence[str] | None, present: Iterable[str]) -> list[str]:
    """The metrics of a trend in order: total_time_s, then ``buckets`` (each once) or else
    every bucket ``present`` by name."""
    names = list(dict.fromkeys(buckets)) if buckets else sorted(present)
    return [schema.TOTAL_BUCKET, *[b for b in names if b != schema.TOTAL_BUCKET]]


def period_days(ids: npt.NDArray[np.int64], every: str) -> tuple[date, ...]:
    """Each period's first day."""
    return tuple(_EPOCH_DAY + timedelta(days=_first_day(int(p), every)) for p in ids)


def metric_trend(runs: WindowRuns, cut: _Cut, metric: str, status: str | None,
                 ) -> tuple[MetricTrend, list[npt.NDArray[np.float64]]]:
    """One metric's n, p50 and p95 per period, and each period's sorted sample (views of one
    array of the metric's finite values with the status, sorted period by period in place)."""
    values = runs.metric(metric)
    chosen = np.isfinite(values) & runs.with_status(status)
    everything = values[chosen]  # a copy, in the runs' order: each period a slice of it
    bounds = np.searchsorted(np.flatnonzero(chosen), cut.starts).tolist()
    samples, n, p50, p95 = [], [], [], []
    for lo, hi in pairwise(bounds):
        sample = everything[lo:hi]
        sample.sort()
        samples.append(sample)
        n.append(int(sample.size))
        p50.append(sig.quantile(sample, P50) if sample.size else None)
        p95.append(None if rough(P95, int(sample.size)) else sig.quantile(sample, P95))
    return MetricTrend(metric, tuple(n), tuple(p50), tuple(p95)), samples


def choose_every(runs: WindowRuns, status: str | None, first_day: int,
                 ) -> tuple[str, float | None]:
    """Days, unless the median day with runs (from ``first_day`` on) has fewer than
    DAILY_MIN_RUNS runs of total_time_s with the status: then weeks, and that median."""
    keep = runs.with_status(status) & np.isfinite(runs.total) & (runs.day >= first_day)
    return every_of(np.unique(runs.day[keep], return_counts=True)[1])


def every_of(per_day: npt.NDArray[np.int64]) -> tuple[str, float | None]:
    """``choose_every`` from the runs of each day that has one (in any order)."""
    if not per_day.size:
        return DAILY, None
    median = float(np.median(per_day))
    return (WEEKLY, median) if median < DAILY_MIN_RUNS else (DAILY, None)


def _check_every(every: str | None) -> None:
    if every not in (None, DAILY, WEEKLY):
        raise UsageError(f"every takes {DAILY} or {WEEKLY}, got {every!r}")


def trend_of(runs: WindowRuns, *, workflow_id: str, start: datetime, end: datetime,
             status: str | None = DEFAULT_STATUS, every: str | None = None,
             buckets: Sequence[str] | None = None, detect: bool = False,
             seed: int = 0) -> TrendResult:
    """The trend of runs already read (oldest first), from the period holding ``start`` (or
    the first period with a run, when that is later) to the one holding the instant before
    ``end``. Buckets asked for twice are shown once."""
    _check_every(every)
    chosen, because = (every, None) if every else choose_every(runs, status, _day_of(start))
    cut = _Cut.of(runs, span(start, end, chosen, int(runs.day[0]) if len(runs) else None),
                  chosen)
    metrics, samples = [], {}
    for name in metric_names(buckets, runs.buckets):
        found, samples[name] = metric_trend(runs, cut, name, status)
        metrics.append(found)
    periods = period_days(cut.ids, chosen)
    changes = None
    if detect:
        changes = [c for m in metrics for c in detect_changes(m, samples[m.metric], runs, cut,
                                                              periods, chosen, status, seed)]
    return TrendResult(workflow_id, status, chosen, because,
                       datetime.combine(periods[0], datetime.min.time(), UTC), end, periods,
                       metrics, changes, CONFIRM_PERIODS[chosen], dict(runs.skipped_lines))


def _period_start(periods: Sequence[date], i: int, every: str) -> date:
    """The first day of period ``i`` (the day after the last period for i = len)."""
    if i < len(periods):
        return periods[i]
    return periods[-1] + timedelta(days=1 if every == DAILY else 7)


def _series(values: Sequence[float | None]) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
    """The periods with a positive value, and the log of those values."""
    at = [i for i, v in enumerate(values) if v is not None and v > 0.0 and math.isfinite(v)]
    logs = np.log(np.array([values[i] for i in at], dtype=np.float64))
    return np.array(at, dtype=np.intp), logs


def candidates(m: MetricTrend, samples: Sequence[npt.NDArray[np.float64]],
               ) -> dict[int, tuple[str, ...]]:
    """The periods where a change starts, by series (p50 and p95), each refined on the runs:
    {period index: ("p50", "p95")}. p50 uses the periods where it is not rough (6 runs), p95
    those where it is reported (72 runs)."""
    enough = [v if n >= min_runs(P50) else None for v, n in zip(m.p50, m.n, strict=True)]
    values = np.concatenate([*samples, np.zeros(0)])
    starts = np.concatenate([[0], np.cumsum([s.size for s in samples])]).astype(np.intp)
    found: dict[int, tuple[str, ...]] = {}
    order = None  # the runs' ranks come from one argsort, shared by every refinement
    for name, series in (("p50", enough), ("p95", m.p95)):
        at, y = _series(series)
        points = [int(at[i]) for i in cp.change_points(y)]
        bounds = [0, *points, len(samples)]
        for k, point in enumerate(points):
            order = np.argsort(values) if order is None else order
            moved = cp.refine(values, starts.tolist(), point, bounds[k], bounds[k + 2],
                              order=order)
            found[moved] = tuple(dict.fromkeys((*found.get(moved, ()), name)))
    return dict(sorted(found.items()))


def detect_changes(m: MetricTrend, samples: Sequence[npt.NDArray[np.float64]],
                   runs: WindowRuns, cut: _Cut, periods: Sequence[date], every: str,
                   status: str | None, seed: int) -> list[ChangePoint]:
    """The candidates of one metric, each with compare's verdict on up to ``confirm``
    periods of runs either side (never across the neighbouring candidates)."""
    from .compare import metric_samples
    from .verdicts import decide

    found = candidates(m, samples)
    points, confirm = list(found), CONFIRM_PERIODS[every]
    out = []
    for k, at in enumerate(points):
        lo = max(points[k - 1] if k else 0, at - confirm)
        hi = min(points[k + 1] if k + 1 < len(points) else len(periods), at + confirm)
        s = cut.starts
        before = runs.subset(slice(int(s[lo]), int(s[at])))
        after = runs.subset(slice(int(s[at]), int(s[hi])))
        pair = metric_samples(before, after, status, [m.metric])[m.metric]
        verdicts, _ = decide({m.metric: pair}, Options(seed=seed))
        out.append(ChangePoint(m.metric, periods[at], found[at], periods[lo],
                               _period_start(periods, hi, every), verdicts[0]))
    return out


def window(since: str | datetime, now: datetime) -> tuple[datetime, datetime]:
    """(start, floor) of a trend since ``since`` at ``now``: ``since`` resolved, and the
    Monday of its week, from which the runs are read (weeks may be chosen once they are
    counted); a UsageError when it is not before ``now``."""
    from ..log.timewindow import resolve_since

    start = resolve_since(since, now)
    if start is None or start >= now:
        got = repr(since) if start is None else format_timestamp(start)
        when = format_timestamp(now.replace(microsecond=0))
        raise UsageError(f"since must be before now ({when}), got {got}")
    monday = _day_of(start) - (_day_of(start) + _TO_MONDAY) % 7
    return start, datetime.combine(_EPOCH_DAY + timedelta(days=monday), datetime.min.time(), UTC)


def trend(workflow_id: str, *, data_dir: DataDirs = None,
          since: str | datetime = "90d", every: str | None = None,
          buckets: Sequence[str] | None = None, status: str | None = DEFAULT_STATUS,
          detect: bool = False, seed: int = 0, now: datetime | None = None) -> TrendResult:
    """p50, p95 and n per UTC day (``every="1d"``) or week (``"1w"``; default: days, or weeks
    when the median day has fewer than 20 runs) of ``workflow_id``'s runs with ``status``
    since ``since`` (``90d``, an ISO date; from the start of its day or week), for
    total_time_s and each bucket (or those in ``buckets``); with ``detect``, the change points
    and their verdicts. ``data_dir``: what ``db.lake_source.sources_of`` takes (a data dir,
    several, lake sources)."""
    from ..db.lake_source import sources_of
    from ..stats.engine import checked_status, collect
    from . import trend_memo
    from .runs import runs_query
    from .trend_fast import PlacedRuns, arrow_ahead, placed_trend, read_step

    now = now or datetime.now(UTC)
    start, floor = window(since, now)
    _check_every(every)
    status = checked_status(status)
    # in place when proven safe (analysis.trend_fast), the closed months' days from the memo
    # when it may answer (analysis.trend_memo); --detect needs the runs themselves
    ask = None
    if not detect and every != WEEKLY and trend_memo.ENABLED:
        ask = trend_memo.Ask(workflow_id, status, None if not buckets else tuple(buckets),
                             _day_of(start), _day_of(now))
    for memo in dict.fromkeys([ask, None]):
        with arrow_ahead(not detect):
            runs = collect(sources_of(data_dir), runs_query(workflow_id, start=floor, end=now),
                           read_step(now, fast=not detect, ask=memo))
        if not isinstance(runs, PlacedRuns):
            break
        found = placed_trend(runs, workflow_id=workflow_id, start=start, end=now,
                             status=status, every=every, buckets=buckets)
        if found is not None:
            return found
    return trend_of(runs, workflow_id=workflow_id, start=start, end=now, status=status,
                    every=every, buckets=buckets, detect=detect, seed=seed)
