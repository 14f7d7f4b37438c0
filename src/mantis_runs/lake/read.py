"""Reading the lake from mantis's own commands: ``--data-dir s3://bucket/prefix``.

:func:`open_source` opens the table (``table.open_table``: our layout, checked) and hands the
readers a :class:`~mantis_runs.db.lake_source.LakeSource`: the table's current version as an
Arrow dataset (deltalake's, which prunes by the ``month`` partition and the files' statistics)
and, per month, the latest ``finished_at`` it may hold, from the Delta log alone (no data file is
read to plan). DuckDB scans the dataset; its own ``delta`` and ``httpfs`` extensions cannot be
installed offline for DuckDB 2.0 (docs/lake.md). A table on a local filesystem is read by
DuckDB as plain Parquet instead (``local_files``: the files the Delta log lists, never a glob),
and the Arrow dataset is then never built; so is a remote one by the stats engine, from copies
of the files of the months it reads (``LakeSource.fetch``, lake/fetch.py).

The commands open their lakes with :func:`open_sources`: each table's Delta log read
(:func:`read_log`) on a helper thread while DuckDB is imported. This module imports neither
DuckDB nor deltalake when it is imported.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from ..errors import MantisError
from .copies import damaged_copy_hint
from .proof import read_proof
from .storage import LakeError, Target, failure
from .table import PARTITION, data_files, file_sizes, open_table

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable

    from ..db.lake_source import LakeMonth, LakeSource

#: Delta file statistics of timestamps may be cut to the millisecond: a bound one later is safe.
_STATS_SLACK = timedelta(milliseconds=1)
#: Compressed bytes of a lake row, about (62 in a 10M-run table): rows of a file without
#: statistics, for planning only.
_BYTES_PER_ROW = 64


class TableLog(NamedTuple):
    """What a table's Delta log says at its current version: the table, checked
    (``table.open_table``), and its add actions, flattened (deltalake's arro3 table)."""

    table: DeltaTable
    actions: Any


def read_log(target: Target) -> TableLog:
    """The log of the table at ``target`` (``NoLake``, ``LakeError``: one line). Neither DuckDB
    nor pyarrow is needed: ``open_sources`` calls it on a helper thread."""
    dt = open_table(target)
    try:
        return TableLog(dt, dt.get_add_actions(flatten=True))
    except Exception as exc:  # deltalake raises OSError and its own errors for the store
        raise _read_failed(target, exc) from None


def open_sources(targets: Sequence[Target]) -> list[LakeSource]:
    """The tables at ``targets`` opened for reading (``open_source``; the first failure raised),
    their logs read on helper threads while this one imports DuckDB: in a cold process both
    take about a tenth of a second, and deltalake releases the GIL while it reads a log (over
    S3, mostly waiting for the store). Every thread is joined before this returns or raises.
    deltalake is imported here first: the threads import nothing (two threads importing at
    once may meet in a circular import), they only wait for the store."""
    if not targets:  # several local data dirs: no deltalake (the lake extra may be missing)
        return []
    import deltalake.exceptions  # noqa: F401  (what read_log imports: deltalake)

    from ..db.background import Background

    with ExitStack() as stack:
        logs = [stack.enter_context(Background(partial(read_log, t))) for t in targets]
        from ..db import lake_source  # noqa: F401  (DuckDB imported while the logs are read)

        return [open_source(t, log.result()) for t, log in zip(targets, logs, strict=True)]


def _read_failed(target: Target, exc: BaseException) -> MantisError:
    """The one line for a failed read of the table (naming a damaged kept copy)."""
    return LakeError(damaged_copy_hint(str(failure(exc, target, "cannot read the lake table"))))


def open_source(target: Target, log: TableLog | None = None) -> LakeSource:
    """The lake table at ``target`` for reading (``NoLake``, ``LakeError``: one line), from
    its ``log`` when it was read already (``read_log``)."""
    from ..db.lake_source import LakeSource
    from .fetch import remote_files

    dt, actions = log if log is not None else read_log(target)
    read_failed = partial(_read_failed, target)

    def dataset() -> Any:
        try:
            return dt.to_pyarrow_dataset()
        except Exception as exc:  # deltalake raises OSError and its own errors for the store
            raise read_failed(exc) from None

    try:
        months = lake_months(actions)
        by_month = data_files(actions)
        files = local_files(dt, by_month)
        fetch = None
        if files is None and dt.protocol().min_reader_version <= 1:
            fetch = remote_files(target, str(dt.table_uri), actions, by_month, read_failed)
    except MantisError:
        raise
    except Exception as exc:  # deltalake raises OSError and its own errors for the store
        raise read_failed(exc) from None
    return LakeSource(target.uri, dataset, months, read_failed, files,
                      reopen=lambda: open_source(target), fetch=fetch,
                      proven=partial(_proven, target, str(dt.table_uri), actions))


def _proven(target: Target, table_uri: str, actions: Any) -> list[str] | None:
    """The run_ids the version's data files (``actions``) hold twice, from the proof beside
    the table (lake/proof.py); None without a valid one."""
    try:
        from deltalake._internal import DeltaFileSystemHandler

        store = DeltaFileSystemHandler(table_uri, target.options or None)
    except Exception:  # another deltalake, a store that cannot be reached: no proof
        return None
    return read_proof(store, file_sizes(actions).items())


def local_files(dt: Any, by_month: dict[str | None, list[str]]
                ) -> dict[str | None, list[str]] | None:
    """Per month partition, the local paths of the current version's data files
    (``by_month``: table.data_files) when the table is on a local filesystem and DuckDB may
    read them as plain Parquet (Delta reader version 1: no column mapping, no deletion
    vectors); else None (the Arrow dataset reads the table)."""
    root = str(dt.table_uri)
    if not root.startswith("file://") or dt.protocol().min_reader_version > 1:
        return None
    base = Path(unquote(root.removeprefix("file://")))
    out: dict[str | None, list[str]] = {}
    for month, paths in by_month.items():
        for path in paths:
            if "://" in path:  # an absolute URI: only a local one is read directly
                if not path.startswith("file://"):
                    return None
                path = path.removeprefix("file://")
            out.setdefault(month, []).append(str(base / unquote(path)))
    return out


def lake_months(actions: Any) -> list[LakeMonth]:
    """Per month partition of the table's files (their add actions, flattened: deltalake's
    arro3 table, read column by column without pyarrow, whose import is a fifth of a cold read):
    the latest finished_at its dated rows may hold (the files' maximum, else the month's end)
    and its row count (a file without statistics counted by its size: a month is never taken
    for empty because a writer left them out)."""
    from ..db.lake_source import LakeMonth

    names = set(actions.column_names)
    parts = actions.column(f"partition.{PARTITION}").to_pylist()
    counts = [n if n is not None else max(1, size // _BYTES_PER_ROW) for n, size in zip(
        actions.column("num_records").to_pylist(), actions.column("size_bytes").to_pylist(),
        strict=True)]
    highs = (actions.column("max.finished_at").to_pylist() if "max.finished_at" in names
             else [None] * len(parts))
    found: dict[str | None, tuple[datetime | None, int]] = {}
    for month, rows, high in zip(parts, counts, highs, strict=True):
        bound = None if month is None else _bound(month, high)
        seen, n = found.get(month, (None, 0))
        latest = max((t for t in (seen, bound) if t is not None), default=None)
        found[month] = (latest, n + int(rows))
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
