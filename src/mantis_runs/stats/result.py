"""What ``stats`` returns, and the percentiles it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..log import schema
from .intervals import CONFIDENCE, min_runs, rough

#: The percentiles `stats` reports, as fractions (p50, p95, p99); the SQL gets them as a
#: bound list ($quantiles), and stats.order selects the same ranks.
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
#: Their names, in the same order: "p50", "p95", "p99".
NAMES: tuple[str, ...] = tuple(f"p{round(q * 100)}" for q in QUANTILES)

#: An interval's ends; None is an unbounded end (too few runs for an order statistic there).
Interval = tuple[float | None, float | None]


def needed_runs() -> dict[str, int]:
    """How many runs each reported percentile needs before its interval is bounded."""
    return {name: min_runs(q) for name, q in zip(NAMES, QUANTILES, strict=True)}


@dataclass(frozen=True)
class BucketStats:
    bucket: str
    n: int
    p50: float | None
    p95: float | None
    p99: float | None
    #: The distribution-free CONFIDENCE interval of each percentile (p50, p95, p99), when asked.
    ci: tuple[Interval, ...] | None = None

    @property
    def rough(self) -> list[str]:
        """The percentiles (names) whose interval is unbounded at this n: too few runs."""
        if self.n == 0:
            return []
        return [name for name, q in zip(NAMES, QUANTILES, strict=True) if rough(q, self.n)]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"p50": self.p50, "p95": self.p95, "p99": self.p99, "n": self.n,
                               "rough": self.rough}
        if self.ci is not None:
            out["ci"] = {name: list(iv) for name, iv in zip(NAMES, self.ci, strict=True)}
        return out


@dataclass(frozen=True)
class FailureRate:
    """The failed runs among every terminal run of the answer's window: those finished since
    the oldest run the percentiles are over."""

    since: datetime
    failed: int
    runs: int

    @property
    def rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0

    def to_json(self) -> dict[str, Any]:
        from ..log.record import format_timestamp

        return {"since": format_timestamp(self.since), "failed": self.failed, "runs": self.runs,
                "rate": self.rate}


@dataclass(frozen=True)
class StatsResult:
    """Percentiles per wall-time bucket over the newest runs of one workflow."""

    workflow_id: str
    run_count: int
    status: str | None  # None: every terminal status
    last: int
    since: datetime | None
    buckets: list[BucketStats]  # sorted by p50 descending, then name
    total: BucketStats
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard (shard_name) -> lines
    failures: FailureRate | None = None  # None: no dated run to start a window at

    def to_json(self) -> dict[str, Any]:
        from ..log.record import format_timestamp

        percentiles = {b.bucket: b.as_dict() for b in self.buckets}
        percentiles[schema.TOTAL_BUCKET] = self.total.as_dict()
        return {
            "workflow_id": self.workflow_id,
            "run_count": self.run_count,
            "status": self.status,
            "last": self.last,
            # the log's UTC text (…Z), as `list --json` and `show --json` write instants
            "since": None if self.since is None else format_timestamp(self.since),
            "percentiles": percentiles,
            "skipped_lines": dict(self.skipped_lines),
            "failures": None if self.failures is None else self.failures.to_json(),
            "confidence": CONFIDENCE,
            "needed_runs": needed_runs(),
        }


@dataclass(frozen=True)
class StatsGroup:
    """One group of a grouped `stats`: the runs whose attribute has this value."""

    value: str | None  # None: runs without the attribute
    stats: StatsResult


@dataclass(frozen=True)
class GroupedStats:
    """`stats --group-by`: the newest runs of a workflow, split by an attribute, one block per
    value, the most runs first (then by value, runs without the attribute last)."""

    workflow_id: str
    group_by: str
    run_count: int  # over every group
    status: str | None
    last: int
    since: datetime | None
    groups: list[StatsGroup]
    skipped_lines: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from ..log.record import format_timestamp

        return {
            "workflow_id": self.workflow_id,
            "group_by": self.group_by,
            "run_count": self.run_count,
            "status": self.status,
            "last": self.last,
            "since": None if self.since is None else format_timestamp(self.since),
            "groups": [{"value": g.value, **_group_json(g.stats)} for g in self.groups],
            "skipped_lines": dict(self.skipped_lines),
            "confidence": CONFIDENCE,
            "needed_runs": needed_runs(),
        }


def _group_json(r: StatsResult) -> dict[str, Any]:
    whole = r.to_json()
    return {key: whole[key] for key in ("run_count", "percentiles", "failures")}
