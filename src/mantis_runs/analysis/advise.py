"""`mantis runs advise`: a timeout for a workflow and for each of its buckets, from its history.

For each metric (total_time_s, then each bucket) over the window's runs (every run of the
workflow since ``since``, or its newest ``last`` runs, every status):

* ``n``: the succeeded runs with a finite value; failed runs never enter the percentile;
* ``p99``: their 99th percentile (numpy's default method, as `stats`);
* ``p99_upper``: the upper end of p99's distribution-free 95 % interval (stats.intervals, the
  rule of `stats --ci`; scipy's ``quantile_test(...).confidence_interval()``); below 555 runs
  that order statistic is the largest run itself (``upper_is_max``), so one huge run sets the
  timeout, which the text and JSON say;
* ``timeout_s``: ``p99_upper * margin`` (margin 1.2 by default);
* ``cut``: how many of the window's runs with a finite value, succeeded **and** failed, took
  longer than the timeout (a failed run that ran long would have been cut too).

With fewer than ``intervals.min_runs(0.99)`` (368) succeeded runs the upper end is unbounded:
no timeout, "not enough runs", and how many are needed. Rules: docs/insights.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..db.lake_source import DataDirs, sources_of
from ..errors import UsageError
from ..log import schema
from ..log.record import format_timestamp
from ..log.timewindow import resolve_since
from ..stats.intervals import CONFIDENCE, interval_ranks, min_runs
from .runs import WindowRuns, runs_query
from .trend_fast import PlacedRuns, arrow_ahead, read_step, wanted

#: The percentile a timeout is derived from.
QUANTILE = 0.99
#: The default factor on the upper end of p99's interval.
MARGIN = 1.2


@dataclass(frozen=True)
class MetricAdvice:
    """The advice for one metric (module doc); the numbers are None with too few runs."""

    metric: str
    n: int
    p99: float | None
    p99_upper: float | None
    timeout_s: float | None
    cut: int  # runs of the window (succeeded and failed) longer than timeout_s
    judged: int  # runs of the window (succeeded and failed) with a finite value
    needed_runs: int
    upper_is_max: bool = False  # p99_upper is the largest value of the sample

    @property
    def enough(self) -> bool:
        return self.timeout_s is not None

    @property
    def cut_share(self) -> float | None:
        return self.cut / self.judged if self.enough and self.judged else None

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "n": self.n, "p99": self.p99,
                "p99_upper": self.p99_upper, "timeout_s": self.timeout_s,
                "cut": self.cut, "judged": self.judged, "cut_share": self.cut_share,
                "enough": self.enough, "needed_runs": self.needed_runs,
                "p99_upper_is_max": self.upper_is_max}


@dataclass(frozen=True)
class AdviceResult:
    """Timeouts for a workflow (``total``) and its buckets (most succeeded runs first)."""

    workflow_id: str
    since: datetime | None
    last: int | None
    margin: float
    succeeded: int
    failed: int
    total: MetricAdvice
    buckets: list[MetricAdvice] = field(default_factory=list)
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard file name -> lines

    def to_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id,
                "since": None if self.since is None else format_timestamp(self.since),
                "last": self.last, "margin": self.margin, "quantile": QUANTILE,
                "confidence": CONFIDENCE, "succeeded": self.succeeded, "failed": self.failed,
                "total": self.total.to_json(), "buckets": [b.to_json() for b in self.buckets],
                "skipped_lines": dict(self.skipped_lines)}


def advise(workflow_id: str, *, data_dir: DataDirs = None,
           since: str | datetime | None = None,
           last: int | None = None, margin: float = MARGIN,
           now: datetime | None = None) -> AdviceResult:
    """Suggested timeouts for ``workflow_id`` (module doc): from its runs since ``since`` (a
    duration such as ``30d``, an ISO date, a datetime; None: all history), the newest ``last``
    of them when given. ``data_dir``: what ``db.lake_source.sources_of`` takes (a data dir,
    several, lake sources)."""
    if not (math.isfinite(margin) and margin > 0):
        raise UsageError(f"margin must be a positive number, got {margin!r}")
    if last is not None and last < 1:
        raise UsageError(f"last must be at least 1, got {last}")
    from ..stats.engine import collect

    start = resolve_since(since, now)
    # a whole window of runs is read in place when no run_id can repeat (analysis.trend_fast)
    with arrow_ahead(last is None):
        runs = collect(sources_of(data_dir),
                       runs_query(workflow_id, start=start, end=None, last=last),
                       read_step(None, fast=last is None))
    total, *metrics = [metric_advice(name, values, ok, failed, margin)
                       for name, values, ok, failed in _metrics(runs)]
    metrics.sort(key=lambda m: (-m.n, m.metric))
    return AdviceResult(workflow_id=workflow_id, since=start, last=last, margin=margin,
                        succeeded=int(np.count_nonzero(runs.succeeded)),
                        failed=int(np.count_nonzero(runs.failed)),
                        total=total, buckets=metrics, skipped_lines=dict(runs.skipped_lines))


Flags = npt.NDArray[np.bool_]


def _metrics(runs: WindowRuns | PlacedRuns,
             ) -> Iterator[tuple[str, npt.NDArray[np.float64], Flags, Flags]]:
    """total_time_s, then every bucket some run has: (name, values, succeeded, failed), each
    made when it is used."""
    if isinstance(runs, WindowRuns):
        for name in [schema.TOTAL_BUCKET, *runs.buckets]:
            yield name, runs.metric(name), runs.succeeded, runs.failed
        return
    values = np.empty(len(runs.day))
    ok, failed = runs.succeeded, runs.failed  # made from the status codes: once
    for name in [schema.TOTAL_BUCKET, *schema.KNOWN_BUCKETS]:
        if runs.fill_known(name, values) or name == schema.TOTAL_BUCKET:
            yield name, values, ok, failed
    for name, m in runs.other.items():
        yield name, m.values, wanted(m.code, "succeeded"), wanted(m.code, "failed")


def upper_p99(values: npt.NDArray[np.float64]) -> tuple[float | None, float | None, bool]:
    """(p99, upper end of its 95 % interval, whether that end is the sample's largest value) of
    finite ``values``; None for an empty sample, and for an unbounded upper end."""
    n = int(values.size)
    if n == 0:
        return None, None, False
    p99 = float(np.percentile(values, QUANTILE * 100))
    _, high = interval_ranks(n, QUANTILE)
    if high is None:
        return p99, None, False
    return p99, float(np.partition(values, high)[high]), high == n - 1


def metric_advice(name: str, values: npt.NDArray[np.float64], succeeded: Flags, failed: Flags,
                  margin: float) -> MetricAdvice:
    """The advice for one metric of runs with ``values`` (module doc)."""
    finite = np.isfinite(values)
    judged = values[finite & (succeeded | failed)]
    sample = values[finite & succeeded]
    p99, upper, is_max = upper_p99(sample)
    timeout = None if upper is None else upper * margin
    cut = 0 if timeout is None else int(np.count_nonzero(judged > timeout))
    return MetricAdvice(metric=name, n=int(sample.size), p99=p99, p99_upper=upper,
                        timeout_s=timeout, cut=cut, judged=int(judged.size),
                        needed_runs=min_runs(QUANTILE), upper_is_max=is_max)
