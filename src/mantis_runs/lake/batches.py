"""The local side of shipping: which runs are not shipped yet, cut into numbered batches whose
files are durable before anything is committed.

The runs are read through the views (``db.views``), as every reader does: live and sealed JSONL
shards and the newest Parquet parts, one copy per run_id by the copy order, malformed lines left
out. The rows not yet in ``ship/sent/`` (lake_new_rows.sql) go into a DuckDB scratch table under
the store's snapshot, which is then let go: compaction may publish while the batches upload.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb

from ..db import views
from ..db.connection import VIEW_MEMORY_LIMIT, connect, duckdb_path, query_failed, snapshot
from ..db.sqlfiles import load
from ..log import schema
from ..log.integrity import check_parts
from ..log.locks import fsync_dir
from .ledger import SENT, Ledger, Prepared
from .table import lake_schema

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

KEY_COLUMNS: Final = ("run_id", "finished_at", "total_time_s", "status", "workflow_id")
#: Past this many key files in sent/, they are merged into one.
MERGE_SENT_AT: Final = 32


@dataclass(frozen=True)
class NewRows:
    """The runs not shipped yet, in a scratch table of ``con``: ``total`` rows, by month."""

    con: duckdb.DuckDBPyConnection
    total: int
    months: dict[str | None, int]


@contextmanager
def new_rows(data_dir: Path, ledger: Ledger) -> Iterator[NewRows]:
    """The runs of ``data_dir`` not in ``ledger``'s sent keys (lake_new_rows.sql)."""
    con = connect(memory_limit=VIEW_MEMORY_LIMIT)
    try:
        with snapshot(data_dir) as found:
            check_parts([p for mf in found.values() for p in mf.parts])
            try:
                views.install(con, found.values())
                con.execute("SET VARIABLE mantis_lake_sent = $v", {"v": sent_files(ledger)})
                con.execute(load("macro_other_seconds"))
                con.execute(load("lake_new_rows"), {"known_struct": schema.known_struct(),
                              "known_names": list(schema.KNOWN_BUCKETS)})
            except duckdb.Error as exc:
                raise query_failed(exc, found.values()) from exc
        months = {m: int(n) for m, n in con.execute(load("lake_new_months")).fetchall()}
        yield NewRows(con, sum(months.values()), months)
    finally:
        con.close()


def sent_files(ledger: Ledger) -> list[str]:
    """The key files of every prepared batch, and the placeholder (the list is never empty)."""
    files = sorted(duckdb_path(p) for p in (ledger.folder / SENT).glob("*.parquet"))
    return [*files, duckdb_path(views.placeholders()[1])]


def prepare(new: NewRows, ledger: Ledger, *, first: int, last: int, host_id: str,
            ingested_at: datetime) -> Prepared:
    """Batch ``ledger.last + 1``: rows ``first..last`` of ``new``, written to its pending file
    and its keys to sent/ (each fsynced and renamed into place), then recorded as prepared."""
    seq = ledger.last + 1
    table = batch_table(new.con, first=first, last=last, host_id=host_id, seq=seq,
                        ingested_at=ingested_at)
    digest = _write(table, ledger.pending_file(seq))
    _write(table.select(list(KEY_COLUMNS)), ledger.sent_file(seq))
    batch = Prepared(seq, table.num_rows, digest)
    ledger.record_prepared(batch)
    return batch


def batch_table(con: duckdb.DuckDBPyConnection, *, first: int, last: int, host_id: str,
                seq: int, ingested_at: datetime) -> pa.Table:
    table = con.sql(load("lake_batch_rows"), params={
        "first": first, "last": last, "host_id": host_id, "ship_seq": seq,
        "ingested_at": ingested_at}).to_arrow_table()
    target = lake_schema()
    return table.select(target.names).cast(target)


def _write(table: pa.Table, path: Path) -> str:
    """Write ``table`` as Parquet at ``path`` (temporary name, fsync, rename, fsync of the
    folder); the sha256 of the file's bytes."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return digest.hexdigest()


def read_pending(ledger: Ledger, seq: int) -> pa.Table:
    """Batch ``seq``'s rows as prepared; its bytes must still match the ledger's sha256."""
    import pyarrow.parquet as pq

    from ..errors import MantisError

    path = ledger.pending_file(seq)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MantisError(f"batch {seq} is prepared but {path} is missing: the ship/ folder "
                          "was changed by hand") from None
    if hashlib.sha256(data).hexdigest() != ledger.prepared[seq].sha256:
        raise MantisError(f"{path} does not match its checksum in the ledger: the ship/ folder "
                          "was changed by hand")
    return pq.read_table(path).cast(lake_schema())


def merge_sent(ledger: Ledger) -> None:
    """Merge the key files of sent/ into one once there are more than ``MERGE_SENT_AT``: the
    merged file is in place before the others go, so a crash leaves keys twice, never none."""
    import pyarrow.parquet as pq

    folder = ledger.folder / SENT
    files = sorted(folder.glob("*.parquet"))
    if len(files) <= MERGE_SENT_AT:
        return
    merged = pq.ParquetDataset([str(f) for f in files]).read(columns=list(KEY_COLUMNS))
    _write(merged, folder / f"upto-{ledger.last:08d}.parquet")
    keep = f"upto-{ledger.last:08d}.parquet"
    for f in files:
        if f.name != keep:
            f.unlink(missing_ok=True)
    fsync_dir(folder)

