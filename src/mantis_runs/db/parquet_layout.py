"""Writing Parquet files in mantis's layout (compacted parts and checkpoints).

The columns come from :func:`mantis_runs.db.arrow_schema.parquet_schema`. Rows are also
*clustered* by
``workflow_id``, so that a reader that asks for one workflow skips the others' row groups by their
statistics instead of decoding them:

* a workflow with many rows gets row groups of its own, each ordered by ``finished_at``;
* workflows with few rows share row groups, sorted by ``workflow_id`` then ``finished_at``.

Rows wait in per-workflow Arrow buffers, at most ``BUFFER_BYTES`` and ``MAX_BUFFERED_WORKFLOWS``
of them. A workflow whose rows fill a row group is written out; when a limit is reached, the
largest buffer is written out early if it holds at least ``MIN_OWN_GROUP_ROWS`` rows, else every
buffer goes into shared row groups. A batch with more than ``MAX_BUFFERED_WORKFLOWS`` workflows
buffers only those with ``MIN_BATCH_SHARE`` of its rows (or already buffered) and writes the
rest as a shared row group at once. Memory therefore stays bounded whatever the number of
workflows, and so does the number of row groups (each costs footer space in every reader).

pyarrow is imported by the functions that need it, never at module import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import MantisError, one_line
from ..log import schema
from ..log.locks import fsync_file
from . import arrow_schema

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    import pyarrow.parquet as pq

#: Rows per Arrow batch streamed from DuckDB into the Parquet writer.
BATCH_ROWS = 64 * 1024
#: Rows per Parquet row group (a workflow with fewer rows gets one smaller group).
ROW_GROUP_ROWS = 128 * 1024
#: Arrow memory held for rows not yet written, over all workflows.
BUFFER_BYTES = 32 * 1024 * 1024
#: Workflows buffered at once; a batch that holds more goes to shared row groups directly.
MAX_BUFFERED_WORKFLOWS = 256
#: A workflow needs this many buffered rows to get a row group of its own before the end.
MIN_OWN_GROUP_ROWS = 16 * 1024
#: In a batch with more than MAX_BUFFERED_WORKFLOWS workflows, a workflow not yet buffered is
#: buffered only if it has at least this many of the batch's rows.
MIN_BATCH_SHARE = 1024


class Unreadable(MantisError):
    """A file that is not readable Parquet (truncated, not Parquet, unreadable)."""


def layout_of(path: Path) -> int:
    """The Parquet layout version of a mantis file: 1 for files written before layouts had a
    version (no ``mantis_layout`` key), else the key's value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:  # truncated, not Parquet, unreadable
        raise Unreadable(f"{path} is not a readable Parquet file: {one_line(exc)}") from None
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


def decode_problem(path: Path) -> str | None:
    """Why pyarrow cannot decode every row group of ``path`` (verifying its page checksums, if it
    has any), or None: the best check of a file that has no checksum of its own. One row group
    at a time, so memory stays bounded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        for i in range(pf.num_row_groups):
            pf.read_row_group(i)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return one_line(exc)
    return None


def write_rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any],
               tmp: Path) -> int:
    """Stream the query's rows into a zstd Parquet file in the current layout, clustered by
    workflow; fsync it. Returns the number of rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = arrow_schema.parquet_schema()
    reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
    written = 0
    with pq.ParquetWriter(tmp, target, compression="zstd") as writer:
        groups = _RowGroups(writer)
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(target.names).cast(target)
            groups.add(table)
            written += table.num_rows
        groups.flush_all()
    fsync_file(tmp)
    in_file = pq.ParquetFile(tmp).metadata.num_rows
    if in_file != written:  # the grouping lost or repeated rows: never publish such a file
        raise MantisError(f"{tmp.name} holds {in_file} rows where {written} were streamed into "
                          "it; it was not published")
    return written


@dataclass
class _Buffer:
    """One workflow's rows not yet written, with their count and Arrow size."""

    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0

    def add(self, table: pa.Table) -> None:
        self.tables.append(table)
        self.rows += table.num_rows
        self.nbytes += table.nbytes


class _RowGroups:
    """Per-workflow buffers that become row groups (see the module docstring)."""

    def __init__(self, writer: pq.ParquetWriter) -> None:
        self.writer = writer
        self.pending: dict[str | None, _Buffer] = {}

    def add(self, table: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        keys = table.column("workflow_id")
        order = pc.sort_indices(keys)  # stable: arrival order within a workflow
        runs = pc.run_end_encode(keys.take(order).combine_chunks())
        # With many workflows in a batch, only those with a fair share of it are buffered (at
        # most BATCH_ROWS / MIN_BATCH_SHARE of them); the rest go to a shared row group now.
        crowded = len(runs.run_ends) > MAX_BUFFERED_WORKFLOWS
        few: list[pa.Array] = []
        start = 0
        for end, key in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            rows, n = order.slice(start, end - start), end - start
            start = end
            if crowded and n < MIN_BATCH_SHARE and key not in self.pending:
                few.append(rows)
                continue
            # take() copies, so a buffered workflow never pins the whole batch in memory
            buffer = self.pending.setdefault(key, _Buffer())
            buffer.add(table.take(rows))
            if buffer.rows >= ROW_GROUP_ROWS:
                self._own(key, whole_groups_only=True)
        if few:
            self._shared([table.take(pa.concat_arrays(few))])
        while self.pending and (sum(b.nbytes for b in self.pending.values()) > BUFFER_BYTES
                                or len(self.pending) > MAX_BUFFERED_WORKFLOWS):
            largest = max(self.pending, key=lambda k: self.pending[k].rows)
            if self.pending[largest].rows >= MIN_OWN_GROUP_ROWS:
                self._own(largest, whole_groups_only=False)
            else:
                self.flush_all()

    def flush_all(self) -> None:
        """Write every buffered row: workflows with enough rows in groups of their own, the rest
        in shared groups."""
        for key in sorted(self.pending, key=lambda k: (k is None, k or "")):
            if self.pending[key].rows >= MIN_OWN_GROUP_ROWS:
                self._own(key, whole_groups_only=False)
        self._shared([t for buffer in self.pending.values() for t in buffer.tables])
        self.pending.clear()

    def _shared(self, tables: list[pa.Table]) -> None:
        import pyarrow as pa

        if not tables:
            return
        table = pa.concat_tables(tables).sort_by([("workflow_id", "ascending"),
                                                  ("finished_at", "ascending")])
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def _own(self, key: str | None, *, whole_groups_only: bool) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self.pending.pop(key).tables).sort_by(
            [("finished_at", "ascending")])
        keep = table.num_rows % ROW_GROUP_ROWS if whole_groups_only else 0
        out = table.num_rows - keep
        if out:
            self.writer.write_table(table.slice(0, out), row_group_size=ROW_GROUP_ROWS)
        if keep:
            rest = table.slice(out)
            self.pending[key] = _Buffer()
            # a copy, so the rest does not pin `table` in memory
            self.pending[key].add(rest.take(pa.array(range(keep), type=pa.int64())))
