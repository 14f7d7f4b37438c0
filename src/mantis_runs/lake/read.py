"""Reading the lake from mantis's own commands: ``--data-dir s3://bucket/prefix``.

:func:`open_source` opens the table (``table.open_table``: our layout, checked) and hands the
readers a :class:`~mantis_runs.db.lake_source.LakeSource`: the table's current version as an
Arrow dataset (deltalake's, which prunes by the ``month`` partition and the files' statistics)
and, per month, the latest ``finished_at`` it may hold, from the Delta log alone (no data file is
read to plan). DuckDB scans the dataset; its own ``delta`` and ``httpfs`` extensions cannot be
installed offline for DuckDB 2.0 (docs/lake.md).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from ..db.lake_source import LakeMonth, LakeSource
from ..errors import MantisError
from .storage import Target, failure
from .table import PARTITION, open_table

#: Delta file statistics of timestamps may be cut to the millisecond: a bound one later is safe.
_STATS_SLACK = timedelta(milliseconds=1)


def open_source(target: Target) -> LakeSource:
    """The lake table at ``target`` for reading (``NoLake``, ``LakeError``: one line)."""
    dt = open_table(target)
    try:
        dataset = dt.to_pyarrow_dataset()
        months = lake_months(dt.get_add_actions(flatten=True))
    except MantisError:
        raise
    except Exception as exc:  # deltalake raises OSError and its own errors for the store
        raise failure(exc, target, "cannot read the lake table") from None

    def read_failed(exc: BaseException) -> MantisError:
        return failure(exc, target, "cannot read the lake table")

    return LakeSource(target.uri, dataset, months, read_failed)


def lake_months(actions: Any) -> list[LakeMonth]:
    """Per month partition of the table's files (their add actions, flattened): the latest
    finished_at its dated rows may hold (the files' maximum, else the month's end) and its row
    count."""
    import pyarrow as pa

    table = pa.table(actions)
    names = set(table.column_names)
    parts = table.column(f"partition.{PARTITION}").to_pylist()
    counts = table.column("num_records").to_pylist()
    highs = (table.column("max.finished_at").to_pylist() if "max.finished_at" in names
             else [None] * len(parts))
    found: dict[str | None, tuple[datetime | None, int]] = {}
    for month, rows, high in zip(parts, counts, highs, strict=True):
        bound = None if month is None else _bound(month, high)
        seen, n = found.get(month, (None, 0))
        latest = max((t for t in (seen, bound) if t is not None), default=None)
        found[month] = (latest, n + int(rows or 0))
    return [LakeMonth(m, latest, n) for m, (latest, n) in found.items()]


def _bound(month: str, high: Any) -> datetime:
    """The latest finished_at a file of ``month`` may hold: its maximum statistic (one
    millisecond later), never past the month's end."""
    year, mon = int(month[:4]), int(month[5:7])
    end = datetime(year, mon, calendar.monthrange(year, mon)[1], tzinfo=UTC) + timedelta(days=1)
    if isinstance(high, datetime):
        aware: datetime = high if high.tzinfo else high.replace(tzinfo=UTC)
        return min(end, aware + _STATS_SLACK)
    return end
