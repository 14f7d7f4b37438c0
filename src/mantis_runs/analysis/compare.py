"""`compare`: which metric of a workflow regressed between a baseline and a current window.

The runs of both windows are read once (:mod:`mantis_runs.analysis.runs`), split by window and
attribute filters, and every metric (total_time_s, then each bucket) gets a verdict
(:mod:`mantis_runs.analysis.verdicts`). Failed runs never enter the percentiles of succeeded
ones; the failure rate of each window is reported beside them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ..errors import UsageError
from ..log import schema
from ..log.record import format_timestamp
from .runs import ATTRIBUTES, WindowRuns, read_runs
from .significance import Floats
from .verdicts import REGRESSED, TOO_FEW, MetricVerdict, Options, Sample, decide

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import DataDirs

#: Exit statuses of `mantis runs compare` (and CompareResult.exit_code).
NO_REGRESSION, REGRESSION, NOT_ENOUGH = 0, 1, 2
#: Day-to-day noise (tau, log scale) above which a warning suggests --block day.
DAY_NOISE_WARN = 0.10


@dataclass(frozen=True)
class Window:
    """One side of a comparison: [start, end) and the attribute values it is narrowed to."""

    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"start": format_timestamp(self.start), "end": format_timestamp(self.end),
                "filters": dict(self.filters)}


@dataclass(frozen=True)
class FailureRate:
    failed: int
    terminal: int  # succeeded + failed runs in the window (every status is terminal)

    @property
    def rate(self) -> float | None:
        return self.failed / self.terminal if self.terminal else None


@dataclass(frozen=True)
class CompareResult:
    workflow_id: str
    status: str | None
    baseline: Window
    current: Window
    metrics: list[MetricVerdict]  # total_time_s first, then worst verdict first
    failures: tuple[FailureRate, FailureRate]  # baseline, current
    mde_p50: float | None  # smallest p50 ratio of total_time_s detectable at these n
    mde_p95: float | None
    day_noise: float | None  # tau of the baseline's daily medians (log scale)
    options: Options
    #: the malformed lines the read skipped, per shard (``StatsResult.skipped_lines``)
    skipped_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> MetricVerdict:
        return next(m for m in self.metrics if m.metric == schema.TOTAL_BUCKET)

    @property
    def exit_code(self) -> int:
        if self.total.verdict == TOO_FEW:
            return NOT_ENOUGH
        return REGRESSION if any(m.verdict == REGRESSED for m in self.metrics) else NO_REGRESSION

    @property
    def noisy_days(self) -> bool:
        return (not self.options.block_days and self.day_noise is not None
                and self.day_noise >= DAY_NOISE_WARN)

    def to_json(self) -> dict[str, Any]:
        def metric(m: MetricVerdict) -> dict[str, Any]:
            out = asdict(m)
            out["p_value"] = m.p_value
            return out

        return {
            "workflow_id": self.workflow_id, "status": self.status,
            "baseline": self.baseline.to_json(), "current": self.current.to_json(),
            "metrics": [metric(m) for m in self.metrics],
            "failures": [{"failed": f.failed, "terminal": f.terminal, "rate": f.rate}
                         for f in self.failures],
            "mde_p50": self.mde_p50, "mde_p95": self.mde_p95, "day_noise": self.day_noise,
            "noisy_days": self.noisy_days, "exit_code": self.exit_code,
            "options": asdict(self.options), "skipped_lines": dict(self.skipped_lines),
        }

    @property
    def empty(self) -> bool:
        """No run with the status in either window."""
        return self.total.n_baseline == self.total.n_current == 0


@dataclass(frozen=True)
class Group:
    """One value of the --group-by attribute and the comparison of its runs."""

    value: str | None  # None: the runs without the attribute
    runs_baseline: int  # runs with the status in each window
    runs_current: int
    result: CompareResult

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "runs_baseline": self.runs_baseline,
                "runs_current": self.runs_current, "comparison": self.result.to_json()}


@dataclass(frozen=True)
class GroupedCompareResult:
    """``compare(..., group_by=...)``: one full comparison per value of the attribute, the
    largest group first (runs of both windows with the status; ties by value, None last)."""

    workflow_id: str
    status: str | None
    group_by: str
    baseline: Window
    current: Window
    groups: list[Group]
    options: Options
    skipped_lines: Mapping[str, int] = field(default_factory=dict)  # as CompareResult's

    @property
    def exit_code(self) -> int:
        """1 when a group regressed; else 2 when every group has too few runs (also when
        there is no group at all); else 0."""
        codes = [g.result.exit_code for g in self.groups]
        if REGRESSION in codes:
            return REGRESSION
        return NOT_ENOUGH if all(c == NOT_ENOUGH for c in codes) else NO_REGRESSION

    @property
    def empty(self) -> bool:
        return all(g.result.empty for g in self.groups)

    def to_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "status": self.status,
                "group_by": self.group_by, "baseline": self.baseline.to_json(),
                "current": self.current.to_json(), "exit_code": self.exit_code,
                "options": asdict(self.options), "groups": [g.to_json() for g in self.groups],
                "skipped_lines": dict(self.skipped_lines)}


def metric_samples(base: WindowRuns, cur: WindowRuns, status: str | None,
                   buckets: Sequence[str] | None) -> dict[str, tuple[Sample, Sample]]:
    """Each metric's finite values on both sides, with the same values grouped by UTC day:
    total_time_s, then every bucket either side has (or those asked for)."""
    names = list(buckets) if buckets else sorted(set(base.buckets) | set(cur.buckets))
    out: dict[str, tuple[Sample, Sample]] = {}
    for name in [schema.TOTAL_BUCKET, *[n for n in names if n != schema.TOTAL_BUCKET]]:
        out[name] = (_sample(base, name, status), _sample(cur, name, status))
    return out


def _sample(side: WindowRuns, metric: str, status: str | None) -> Sample:
    values = side.metric(metric)
    keep = np.isfinite(values) & side.with_status(status)
    kept = values[keep]
    if not kept.size:
        return Sample.of(kept, [])
    # oldest first, so each day's runs are adjacent: cut where a day with kept runs ends
    per_day = np.add.reduceat(keep, side.day_starts, dtype=np.int64)
    by_day: list[Floats] = np.split(kept, np.cumsum(per_day[per_day > 0])[:-1])
    return Sample.of(kept, by_day)


def judge(workflow_id: str, status: str | None, baseline: Window, current: Window,
          base: WindowRuns, cur: WindowRuns, buckets: Sequence[str] | None,
          opts: Options) -> CompareResult:
    """The comparison of two windows' runs (already read and narrowed)."""
    verdicts, diag = decide(metric_samples(base, cur, status, buckets), opts)
    return CompareResult(
        workflow_id=workflow_id, status=status, baseline=baseline, current=current,
        metrics=verdicts, failures=(base.failure_rate(), cur.failure_rate()),
        mde_p50=diag["mde_p50"], mde_p95=diag["mde_p95"], day_noise=diag["day_noise"],
        options=opts, skipped_lines=dict(base.skipped_lines))


def judge_groups(workflow_id: str, status: str | None, group_by: str, baseline: Window,
                 current: Window, base: WindowRuns, cur: WindowRuns,
                 buckets: Sequence[str] | None, opts: Options) -> GroupedCompareResult:
    """One comparison per value of ``group_by`` among the runs of either window (any status),
    each with its own Holm family; the runs without the attribute are a group too."""
    b_runs, c_runs = _split(base, group_by), _split(cur, group_by)
    groups = []
    for value in dict.fromkeys([*b_runs, *c_runs]):
        b = b_runs[value] if value in b_runs else base.subset(np.zeros(0, dtype=np.intp))
        c = c_runs[value] if value in c_runs else cur.subset(np.zeros(0, dtype=np.intp))
        groups.append(Group(value, int(np.count_nonzero(b.with_status(status))),
                            int(np.count_nonzero(c.with_status(status))),
                            judge(workflow_id, status, baseline, current, b, c, buckets, opts)))
    groups.sort(key=lambda g: (-(g.runs_baseline + g.runs_current), g.value is None,
                               g.value or ""))
    return GroupedCompareResult(workflow_id, status, group_by, baseline, current, groups, opts,
                                dict(base.skipped_lines))


def _split(side: WindowRuns, attribute: str) -> dict[str | None, WindowRuns]:
    """The runs of one window by the value of ``attribute``, each group oldest first: one
    stable sort by group, then a slice per group (not a pass over every run per group)."""
    codes, values = side.group_codes(attribute)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=len(values))
    ends = np.cumsum(sizes).tolist()
    return {value: side.subset(order[end - size:end])
            for value, end, size in zip(values, ends, sizes.tolist(), strict=True)}


@overload
def compare(workflow_id: str, *, data_dir: DataDirs | None = ..., baseline: str = ...,
            current: str = ..., baseline_filters: Mapping[str, str] | None = ...,
            current_filters: Mapping[str, str] | None = ..., status: str | None = ...,
            buckets: Sequence[str] | None = ..., options: Options | None = ...,
            now: datetime | None = ..., group_by: None = ...) -> CompareResult: ...


@overload
def compare(workflow_id: str, *, data_dir: DataDirs | None = ..., baseline: str = ...,
            current: str = ..., baseline_filters: Mapping[str, str] | None = ...,
            current_filters: Mapping[str, str] | None = ..., status: str | None = ...,
            buckets: Sequence[str] | None = ..., options: Options | None = ...,
            now: datetime | None = ..., group_by: str) -> GroupedCompareResult: ...


@overload
def compare(workflow_id: str, *, data_dir: DataDirs | None = ..., baseline: str = ...,
            current: str = ..., baseline_filters: Mapping[str, str] | None = ...,
            current_filters: Mapping[str, str] | None = ..., status: str | None = ...,
            buckets: Sequence[str] | None = ..., options: Options | None = ...,
            now: datetime | None = ..., group_by: str | None = ...,
            ) -> CompareResult | GroupedCompareResult: ...


def compare(
    workflow_id: str,
    *,
    data_dir: DataDirs | None = None,
    baseline: str = "35d..7d",
    current: str = "7d",
    baseline_filters: Mapping[str, str] | None = None,
    current_filters: Mapping[str, str] | None = None,
    status: str | None = "succeeded",
    buckets: Sequence[str] | None = None,
    options: Options | None = None,
    now: datetime | None = None,
    group_by: str | None = None,
) -> CompareResult | GroupedCompareResult:
    """Verdicts for every metric of ``workflow_id`` between two windows (``7d``, ``35d..7d``,
    ISO dates ``2026-11-01..2026-11-08``), each optionally narrowed to attribute values
    (``{"model": "claude-sonnet-4"}``; keys: model, plan_signature, profile_id, tenant_id).
    With ``group_by`` (one of those keys), one comparison per value of that attribute
    (``GroupedCompareResult``); the windows are read once and split."""
    from ..db.lake_source import sources_of
    from ..stats.engine import checked_status

    base_w, cur_w = windows(baseline, current, now or datetime.now(UTC), baseline_filters,
                            current_filters)
    if group_by is not None:
        schema.checked_attribute(group_by)
    opts = options or Options()
    _check_options(opts)
    wanted = {*base_w.filters, *cur_w.filters, *filter(None, [group_by])}
    runs = read_runs(workflow_id, data_dir=sources_of(data_dir),
                     start=min(base_w.start, cur_w.start), end=max(base_w.end, cur_w.end),
                     attributes=sorted(wanted))
    base, cur = sides(runs, base_w, cur_w)
    if group_by is not None:
        return judge_groups(workflow_id, checked_status(status), group_by, base_w, cur_w,
                            base, cur, buckets, opts)
    return judge(workflow_id, checked_status(status), base_w, cur_w, base, cur, buckets, opts)


def windows(baseline: str, current: str, now: datetime,
            baseline_filters: Mapping[str, str] | None = None,
            current_filters: Mapping[str, str] | None = None) -> tuple[Window, Window]:
    """`compare`'s two windows at ``now`` (``35d..7d``, ``7d``, ISO dates), each narrowed to
    its attribute values (keys checked against ATTRIBUTES)."""
    from ..log.timewindow import parse_window

    b_start, b_end = parse_window(baseline, now, "baseline")
    c_start, c_end = parse_window(current, now, "current")
    for filters in (baseline_filters or {}, current_filters or {}):
        unknown = sorted(set(filters) - set(ATTRIBUTES))
        if unknown:
            raise UsageError(f"cannot narrow a window by {', '.join(unknown)}; "
                             f"use {', '.join(ATTRIBUTES)}")
    return (Window(b_start, b_end, dict(baseline_filters or {})),
            Window(c_start, c_end, dict(current_filters or {})))


def sides(runs: WindowRuns, baseline: Window, current: Window) -> tuple[WindowRuns, WindowRuns]:
    """The runs of each window (as ``judge`` takes them), cut from runs read over both."""
    return (runs.select(baseline.start, baseline.end, baseline.filters),
            runs.select(current.start, current.end, current.filters))


def _check_options(opts: Options) -> None:
    if not (math.isfinite(opts.min_ratio) and opts.min_ratio >= 1.0):
        raise UsageError(f"min_ratio must be a number of at least 1, got {opts.min_ratio}")
    if not (math.isfinite(opts.min_delta_s) and opts.min_delta_s >= 0.0):
        raise UsageError(f"min_delta_s must be a number of at least 0, got {opts.min_delta_s}")
    if not 0.0 < opts.alpha < 1.0:
        raise UsageError(f"alpha must be between 0 and 1, got {opts.alpha}")
    if opts.min_runs < 2 or opts.draws < 100:
        raise UsageError("min_runs must be at least 2 and draws at least 100")
