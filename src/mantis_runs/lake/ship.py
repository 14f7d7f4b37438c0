"""``mantis runs ship``: every run of a data dir not shipped yet into the lake table, exactly
once, after any crash.

The protocol (docs/lake.md, "How shipping stays exactly-once"):

1. One shipper per data dir (``ship/.lock``); the host id (hostid.py); the table, checked.
2. ``hw`` = the table's app transaction version of ``mantis-runs:<host_id>``: the last batch of
   this host that landed. Batches up to ``hw`` are done (acknowledged locally if they were not).
3. The data dir must have prepared batch ``hw`` itself, with the same bytes (sha256 in the
   commit's metadata): otherwise it is a clone of another host's volume, refused.
4. A batch prepared but not landed (``hw + 1``) is committed again from its pending file: the
   same bytes, whatever arrived since.
5. New batches, strictly in order: cut (files durable, ledger line), commit (rows and the app
   transaction ``(app id, seq)`` in one Delta commit), acknowledge. The first failure stops the
   round with one line; the next round resumes from the table's ``hw``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..log.layout import check_data_dir, resolve_data_dir
from ..log.locks import LockTimeout, locked
from . import hostid
from .batches import merge_sent, new_rows, prepare, read_pending
from .clones import check_not_cloned
from .ledger import LOCK, Ledger, Prepared, read, remove_leftovers
from .storage import LakeError, Target, failure
from .table import PARTITION, app_id, open_table

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from deltalake import DeltaTable

#: Rows per batch (one Delta commit each).
BATCH_ROWS: Final = 100_000
#: delta-rs retries a commit that lost a race this many times (its default, 15, is too few for
#: many hosts committing at once: the prototype saw a failure at 15).
COMMIT_RETRIES: Final = 100
#: Test hook: kill the shipper with SIGKILL at this point ("prepared": after a batch's files and
#: ledger line, before its commit; "committed": after its commit, before the local record).
CRASH_ENV: Final = "MANTIS_LAKE_TEST_CRASH"

Progress = Callable[[int, int], None]


class ShipBusy(LakeError):
    """Another shipper holds the data dir's ``ship/.lock``."""


@dataclass(frozen=True)
class Shipped:
    seq: int
    rows: int
    #: True: committed by an earlier, interrupted run (found on the table, recorded now).
    found: bool = False


@dataclass(frozen=True)
class ShipReport:
    uri: str
    data_dir: Path
    host_id: str | None
    dry_run: bool
    batches: tuple[Shipped, ...] = ()
    #: The dry run: the runs that would ship, by month (None: no finished_at).
    months: dict[str | None, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows this run committed (not those found committed by an earlier run)."""
        return sum(b.rows for b in self.batches if not b.found)


def ship(target: Target, data_dir: str | os.PathLike[str] | None = None, *,
         host_id: str | None = None, dry_run: bool = False, batch_rows: int = BATCH_ROWS,
         progress: Progress | None = None) -> ShipReport:
    """Ship every run of ``data_dir`` not shipped yet into the table at ``target``."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    path = resolve_data_dir(data_dir)
    check_data_dir(path)
    if dry_run:
        return _dry_run(target, path, host_id)
    folder = hostid.ship_dir(path)
    folder.mkdir(exist_ok=True)
    with _one_shipper(folder, path):
        host = hostid.resolve(path, host_id)
        assert host is not None
        dt = open_table(target)
        ledger = read(folder)
        remove_leftovers(ledger)
        hw = landed(dt, target, host)
        check_not_cloned(dt, target, ledger, host, hw, path)
        done = [Shipped(s, ledger.prepared[s].rows, found=True)
                for s in sorted(ledger.prepared) if s <= hw and s not in ledger.acked]
        for b in done:
            ledger.record_acked(b.seq)
        return ShipReport(target.uri, path, host, False, tuple(
            done + _ship_new(dt, target, ledger, path, host, hw, batch_rows, progress)))


def _ship_new(dt: DeltaTable, target: Target, ledger: Ledger, data_dir: Path, host: str,
              hw: int, batch_rows: int, progress: Progress | None) -> list[Shipped]:
    shipped: list[Shipped] = []
    if ledger.last > hw + 1:
        raise LakeError(f"the ledger in {ledger.folder} is ahead of the table (batch "
                        f"{ledger.last}, the table has {hw}): the table was replaced?")
    if ledger.last == hw + 1:  # prepared by an earlier run, never landed: the same bytes
        batch = ledger.prepared[ledger.last]
        _commit(dt, target, ledger, batch, read_pending(ledger, batch.seq), host)
        shipped.append(Shipped(batch.seq, batch.rows))
    merge_sent(ledger)
    with new_rows(data_dir, ledger) as new:
        first, now = 1, datetime.now(UTC)
        while first <= new.total:
            last = min(first + batch_rows - 1, new.total)
            batch = prepare(new, ledger, first=first, last=last, host_id=host, ingested_at=now)
            _crash_point("prepared")
            _commit(dt, target, ledger, batch, read_pending(ledger, batch.seq), host)
            shipped.append(Shipped(batch.seq, batch.rows))
            if progress is not None:
                progress(last, new.total)
            first = last + 1
    return shipped


def landed(dt: DeltaTable, target: Target, host: str) -> int:
    """The last batch of ``host`` the table holds (0: none)."""
    try:
        dt.update_incremental()
        return int(dt.transaction_version(app_id(host)) or 0)
    except Exception as exc:
        raise failure(exc, target, "cannot read the lake table") from None


def _commit(dt: DeltaTable, target: Target, ledger: Ledger, batch: Prepared, rows: pa.Table,
            host: str) -> None:
    """Batch ``batch.seq``'s rows and the app transaction ``(mantis-runs:<host>, seq)`` in one
    Delta commit; then the local record."""
    from deltalake import CommitProperties, Transaction, WriterProperties, write_deltalake

    props = CommitProperties(
        app_transactions=[Transaction(app_id(host), batch.seq)],
        custom_metadata={"mantis.host_id": host, "mantis.ship_seq": str(batch.seq),
                         "mantis.sha256": batch.sha256, "mantis.rows": str(batch.rows)},
        max_commit_retries=COMMIT_RETRIES)
    try:
        write_deltalake(dt, rows, mode="append", partition_by=[PARTITION],
                        commit_properties=props,
                        writer_properties=WriterProperties(compression="ZSTD"))
    except Exception as exc:
        raise failure(exc, target, f"batch {batch.seq} was not committed to") from None
    _crash_point("committed")
    ledger.record_acked(batch.seq)


def _dry_run(target: Target, data_dir: Path, host_id: str | None) -> ShipReport:
    host = hostid.resolve(data_dir, host_id, create=False)
    folder = hostid.ship_dir(data_dir)
    ledger = read(folder, create=False)
    pending: list[Shipped] = []
    if host is not None:
        hw = landed(open_table(target), target, host)
        pending = [Shipped(s, b.rows) for s, b in ledger.prepared.items() if s > hw]
    else:
        open_table(target)
    with new_rows(data_dir, ledger) as new:
        return ShipReport(target.uri, data_dir, host, True, tuple(pending), dict(new.months))


@contextmanager
def _one_shipper(folder: Path, data_dir: Path) -> Iterator[None]:
    try:
        with locked(folder / LOCK, exclusive=True, timeout=0):
            yield
    except LockTimeout:
        raise ShipBusy(f"another `mantis runs ship` is running on {data_dir}") from None


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
