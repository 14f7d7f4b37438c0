"""The rows and reports ``RunStore`` returns: ``RunRow``, ``BucketLine``, ``RunReport``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, cast

from ..log.record import format_timestamp

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.result import StatsResult
    from . import lookup
    from .events import Timeline


class RunRow(TypedDict):
    """One run as the ``runs`` view returns it (timestamps are aware UTC datetimes)."""

    schema_version: int | None
    run_id: str
    tenant_id: str | None
    profile_id: str | None
    workflow_id: str | None
    plan_signature: str | None
    model: str | None
    status: str | None
    created_at: datetime | None
    finished_at: datetime | None
    total_time_s: float | None
    wall_time_breakdown: dict[str, float] | None
    cost_breakdown: dict[str, float] | None
    steps_executed: int | None
    viable: int | None
    error: str | None
    extra: dict[str, Any] | None


@dataclass(frozen=True)
class BucketLine:
    """One bucket of one run, next to its workflow's recent distribution."""

    bucket: str
    seconds: float
    share: float | None  # of the run's total_time_s
    p50: float | None
    p95: float | None
    n: int  # runs in the baseline that had this bucket

    @property
    def verdict(self) -> str:
        if self.p95 is not None and self.seconds > self.p95:
            return "above p95"
        if self.p50 is not None and self.seconds > self.p50:
            return "above p50"
        return ""


@dataclass(frozen=True)
class RunReport:
    """A post-mortem of one run: the row, its buckets against the workflow's recent runs."""

    run: RunRow
    buckets: list[BucketLine]  # largest first
    unaccounted_s: float | None  # total_time_s minus the sum of buckets, when positive
    baseline: StatsResult | None  # the workflow's succeeded runs that finished before it
    cost_total: float | None
    timeline: Timeline | None = None  # the run's events in short (None: it has none)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": row_to_json(self.run),
            "buckets": [{"bucket": b.bucket, "seconds": b.seconds, "share": b.share,
                         "p50": b.p50, "p95": b.p95, "n": b.n, "verdict": b.verdict}
                        for b in self.buckets],
            "unaccounted_s": self.unaccounted_s,
            "baseline": None if self.baseline is None else {
                "run_count": self.baseline.run_count, "status": self.baseline.status,
                "last": self.baseline.last,
                "total_time_s": self.baseline.total.as_dict()},
            "cost_total": self.cost_total,
            **({"timeline": self.timeline.to_json()} if self.timeline else {}),
        }


def row_to_json(row: RunRow) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for key in ("created_at", "finished_at"):
        v = out.get(key)
        if isinstance(v, datetime):
            out[key] = format_timestamp(v)
    return out


def as_rows(records: lookup.Rows) -> list[RunRow]:
    """The views' rows (``lookup.fetch`` or ``lookup.pylist``) as ``RunRow``s."""
    rows: list[RunRow] = []
    for rec in records:
        for key in ("wall_time_breakdown", "cost_breakdown"):
            if rec.get(key) is not None:
                rec[key] = dict(rec[key])
        extra = rec.get("extra")
        if isinstance(extra, str):
            rec["extra"] = json.loads(extra)
        rows.append(cast(RunRow, rec))
    return rows
