"""The runs a comparison reads, as columns: one row per run (its winning copy), every status.

``read_runs`` gathers a workflow's runs of a time span through the stats engine (the same
planning, dedupe and rival rules as `stats`), and ``WindowRuns.select`` cuts them into windows
and attribute filters in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..log import schema

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from .compare import FailureRate

#: --last for "every run" (a SQL LIMIT is a 64-bit integer).
ALL_RUNS = 2**62
#: The run attributes a window may be narrowed by.
ATTRIBUTES = ("model", "plan_signature", "profile_id", "tenant_id")
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class WindowRuns:
    """Runs as parallel arrays, oldest first: finished_at (microseconds since the epoch, UTC),
    its UTC day, which runs succeeded and which failed, total_time_s and each bucket (NaN where
    a run has no finite value); the attributes as Arrow arrays (only before ``select``)."""

    finished_us: npt.NDArray[np.int64]
    succeeded: npt.NDArray[np.bool_]
    failed: npt.NDArray[np.bool_]
    total: npt.NDArray[np.float64]
    buckets: Mapping[str, npt.NDArray[np.float64]]
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> npt.NDArray[np.int64]:
        return self.finished_us // _US_PER_DAY

    def __len__(self) -> int:
        return int(self.finished_us.size)

    def metric(self, name: str) -> npt.NDArray[np.float64]:
        if name == schema.TOTAL_BUCKET:
            return self.total
        found = self.buckets.get(name)
        return found if found is not None else np.full(len(self), np.nan)

    def with_status(self, status: str | None) -> npt.NDArray[np.bool_]:
        """Which runs have ``status`` (None: every terminal status)."""
        if status is None:
            return self.succeeded | self.failed
        return self.succeeded if status == "succeeded" else self.failed

    def select(self, start: datetime, end: datetime,
               filters: Mapping[str, str] | None = None) -> WindowRuns:
        """The runs that finished in [start, end) and have every attribute value in
        ``filters`` (the result has no attribute arrays)."""
        import pyarrow.compute as pc

        keep = ((self.finished_us >= _micros(start)) & (self.finished_us < _micros(end)))
        for key, value in (filters or {}).items():
            same = pc.fill_null(pc.equal(self.attributes[key], value), False)
            keep &= np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
        return WindowRuns(self.finished_us[keep], self.succeeded[keep], self.failed[keep],
                          self.total[keep], {k: v[keep] for k, v in self.buckets.items()})

    def failure_rate(self) -> FailureRate:
        from .compare import FailureRate

        failed = int(np.count_nonzero(self.failed))
        return FailureRate(failed=failed, terminal=failed + int(np.count_nonzero(self.succeeded)))

    @classmethod
    def from_arrow(cls, table: pa.Table) -> WindowRuns:
        """From a table with finished_at, status, total_time_s, ``known`` (the struct of the
        known buckets), ``other`` (a map of other buckets) and the attribute columns."""
        import pyarrow as pa
        import pyarrow.compute as pc

        finished = pc.cast(table.column("finished_at"), pa.timestamp("us", tz="UTC"))
        finished_us = np.asarray(pc.cast(finished, pa.int64()).to_numpy(zero_copy_only=False),
                                 dtype=np.int64)
        buckets: dict[str, npt.NDArray[np.float64]] = {}
        known = table.column("known").combine_chunks()
        for name in schema.KNOWN_BUCKETS:
            values = _floats(pc.struct_field(known, name))
            if np.isfinite(values).any():
                buckets[name] = values
        _add_other(buckets, table.column("other"), len(finished_us))
        status = table.column("status")
        return cls(finished_us=finished_us, succeeded=_is(status, "succeeded"),
                   failed=_is(status, "failed"), total=_floats(table.column("total_time_s")),
                   buckets=buckets,
                   attributes={a: table.column(a) for a in ATTRIBUTES if a in table.column_names})


def _floats(column: Any) -> npt.NDArray[np.float64]:
    import pyarrow.compute as pc

    values = np.array(pc.fill_null(column, float("nan")).to_numpy(zero_copy_only=False),
                      dtype=np.float64)  # a copy: Arrow's buffers are read-only
    values[~np.isfinite(values)] = np.nan
    return values


def _is(column: Any, value: str) -> npt.NDArray[np.bool_]:
    import pyarrow.compute as pc

    same = pc.fill_null(pc.equal(column, value), False)
    return np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)


def _add_other(buckets: dict[str, npt.NDArray[np.float64]], other: Any, n: int) -> None:
    """Buckets outside the known nine, from the runs' maps (rare: only the runs that have one
    are read row by row)."""
    import pyarrow.compute as pc

    present = np.flatnonzero(np.asarray(pc.is_valid(other).to_numpy(zero_copy_only=False)))
    for i in present:
        for name, value in other[int(i)].as_py() or ():
            if name in schema.KNOWN_BUCKETS or value is None:
                continue
            column = buckets.setdefault(name, np.full(n, np.nan))
            column[i] = value if np.isfinite(value) else np.nan


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def read_runs(workflow_id: str, *, data_dir: Path, start: datetime, end: datetime,
              memory_limit: str | None = None) -> WindowRuns:
    """Every run of ``workflow_id`` whose winning copy finished in [start, end), every status,
    read by the stats engine (the same files, dedupe and rival rules as `stats`)."""
    from ..stats.engine import Collector, StatsQuery, collect

    query = StatsQuery(workflow_id=workflow_id, last=ALL_RUNS, since=start, status=None,
                       buckets=None, before=end)
    return WindowRuns.from_arrow(collect(data_dir, query, Collector.rows,
                                         memory_limit=memory_limit))
