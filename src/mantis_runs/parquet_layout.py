"""Writing Parquet files in mantis's layout (compacted parts and checkpoints).

The columns come from :func:`mantis_runs.schema.parquet_schema`. Rows are also *clustered*: every
row group holds the rows of one ``workflow_id`` (ordered by ``finished_at``), so a reader that asks
for one workflow skips the other workflows' row groups by their statistics instead of decoding
them. Rows are buffered per workflow in Arrow memory, at most ``BUFFER_BYTES`` in all: a workflow
whose rows fill a row group is written out, and when the buffers are full the largest one is
written out early (a smaller row group). Memory therefore stays bounded whatever the number of
workflows; only row group sizes vary.

pyarrow is imported by the functions that need it, never at module import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from . import schema
from .errors import MantisError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    import pyarrow.parquet as pq

#: Rows per Arrow batch streamed from DuckDB into the Parquet writer.
BATCH_ROWS = 64 * 1024
#: Rows per Parquet row group (a workflow with fewer rows gets one smaller group).
ROW_GROUP_ROWS = 128 * 1024
#: Arrow memory held for rows not yet written, over all workflows.
BUFFER_BYTES = 32 * 1024 * 1024


def layout_of(path: Path) -> int:
    """The Parquet layout version of a mantis file: 1 for files written before layouts had a
    version (no ``mantis_layout`` key), else the key's value."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(schema.LAYOUT_KEY.encode())
    if raw is None:
        return 1
    try:
        return int(raw)
    except ValueError:
        raise MantisError(f"{path}: unreadable {schema.LAYOUT_KEY} {raw!r}") from None


def check_layout(path: Path) -> int:
    """``layout_of(path)``, refusing a layout newer than this version of mantis writes."""
    version = layout_of(path)
    if version > schema.PARQUET_LAYOUT:
        raise MantisError(f"{path} is in Parquet layout {version}, newer than this mantis-runs "
                          f"({schema.PARQUET_LAYOUT}); upgrade mantis-runs")
    return version


def write_rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any],
               tmp: Path) -> int:
    """Stream the query's rows into a zstd Parquet file in the current layout, clustered by
    workflow; fsync it. Returns the number of rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = schema.parquet_schema()
    reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
    written = 0
    with pq.ParquetWriter(tmp, target, compression="zstd") as writer:
        groups = _RowGroups(writer)
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(target.names).cast(target)
            groups.add(table)
            written += table.num_rows
        groups.flush_all()
    fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


class _RowGroups:
    """Per-workflow buffers that become row groups (see the module docstring)."""

    def __init__(self, writer: pq.ParquetWriter) -> None:
        self.writer = writer
        self.pending: dict[str | None, list[pa.Table]] = {}
        self.rows: dict[str | None, int] = {}
        self.bytes: dict[str | None, int] = {}

    def add(self, table: pa.Table) -> None:
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        keys = table.column("workflow_id")
        order = pc.sort_indices(keys)  # stable: arrival order within a workflow
        runs = pc.run_end_encode(keys.take(order).combine_chunks())
        start = 0
        for end, key in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            # take() copies, so a buffered workflow never pins the whole batch in memory
            part = table.take(order.slice(start, end - start))
            start = end
            self.pending.setdefault(key, []).append(part)
            self.rows[key] = self.rows.get(key, 0) + part.num_rows
            self.bytes[key] = self.bytes.get(key, 0) + part.nbytes
            if self.rows[key] >= ROW_GROUP_ROWS:
                self._flush(key, whole_groups_only=True)
        while sum(self.bytes.values()) > BUFFER_BYTES:
            self._flush(max(self.bytes, key=lambda k: self.bytes[k]), whole_groups_only=False)

    def flush_all(self) -> None:
        for key in sorted(self.pending, key=lambda k: (k is None, k or "")):
            self._flush(key, whole_groups_only=False)

    def _flush(self, key: str | None, *, whole_groups_only: bool) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self.pending.pop(key))
        self.rows.pop(key)
        self.bytes.pop(key)
        table = table.sort_by([("finished_at", "ascending")])
        keep = table.num_rows % ROW_GROUP_ROWS if whole_groups_only else 0
        out = table.num_rows - keep
        if out:
            self.writer.write_table(table.slice(0, out), row_group_size=ROW_GROUP_ROWS)
        if keep:
            rest = table.slice(out)
            rest = rest.take(pa.array(range(keep), type=pa.int64()))  # a copy: frees `table`
            self.pending[key] = [rest]
            self.rows[key] = rest.num_rows
            self.bytes[key] = rest.nbytes
