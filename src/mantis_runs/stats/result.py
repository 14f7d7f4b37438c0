"""What ``stats`` returns, and the percentiles it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..log import schema

#: The percentiles `stats` reports, as fractions (p50, p95, p99); the SQL gets them as a
#: bound list ($quantiles), and numpy_percentiles selects the same ranks.
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class BucketStats:
    bucket: str
    n: int
    p50: float | None
    p95: float | None
    p99: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "n": self.n}


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
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard file name -> lines


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
        }
