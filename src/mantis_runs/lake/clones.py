"""Telling a cloned data dir from the one that shipped: two hosts with one host id (a volume
cloned with its ``ship/`` folder, an image with the data dir baked in) would each skip the
other's batches, and runs would be lost. The table's last batch of the host id must be one this
data dir prepared, with the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from .hostid import ENV_HOST_ID, HOST_ID_FILE, ship_dir
from .ledger import Ledger
from .storage import LakeError, Target, failure

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable

#: How many of the newest commits are searched for the host's last batch before its rows are
#: compared instead (older commits may be gone after a checkpoint and log cleanup).
HISTORY_DEPTH: Final = 1000


class ClonedDataDir(LakeError):
    """The table's batches of this host id were not all prepared by this data dir."""


def check_not_cloned(dt: DeltaTable, target: Target, ledger: Ledger, host: str, hw: int,
                     data_dir: Path) -> None:
    """Refuse (``ClonedDataDir``) when the table's batch ``hw`` of ``host`` is not the one this
    data dir prepared as ``hw``."""
    if hw == 0:
        return
    mine = ledger.prepared.get(hw)
    if mine is not None:
        theirs = committed_sha256(dt, target, host, hw)
        if theirs == mine.sha256:
            return
        if theirs is None and _same_batch(dt, target, ledger, host, hw):
            return
    raise ClonedDataDir(
        f"the lake already holds batch {hw} of host id {host}, which {data_dir} did not "
        f"prepare: this data dir is a copy of another host's (a cloned volume?) or lost its "
        f"ship/ folder. Give it its own id: delete {ship_dir(data_dir) / HOST_ID_FILE} "
        f"(and unset {ENV_HOST_ID} / --host-id), then ship again")


def committed_sha256(dt: DeltaTable, target: Target, host: str, seq: int) -> str | None:
    """The sha256 that batch ``seq`` of ``host`` was committed with, from the commit's
    metadata; None when that commit is older than the history searched."""
    seen = 0
    for depth in (16, 128, HISTORY_DEPTH):  # the host's last commit is usually recent
        try:
            history = dt.history(depth)
        except Exception as exc:
            raise failure(exc, target, "cannot read the history of") from None
        for commit in history:
            if commit.get("mantis.host_id") == host and commit.get("mantis.ship_seq") == str(seq):
                value = commit.get("mantis.sha256")
                return str(value) if value is not None else None
        if len(history) <= seen or len(history) < depth:
            break
        seen = len(history)
    return None


def _same_batch(dt: DeltaTable, target: Target, ledger: Ledger, host: str, seq: int) -> bool:
    """Whether the table's rows of batch ``seq`` of ``host`` are the runs this data dir
    prepared as ``seq`` (when the commit itself is no longer in the history searched)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        theirs = dt.to_pyarrow_dataset().to_table(
            columns=["run_id"],
            filter=(ds.field("host_id") == host) & (ds.field("ship_seq") == seq))
    except Exception as exc:
        raise failure(exc, target, "cannot read") from None
    if theirs.num_rows != ledger.prepared[seq].rows:
        return False
    path = ledger.sent_file(seq)
    if not path.exists():  # merged into sent/upto-*.parquet: the count is what is left
        return True
    mine = pq.read_table(path, columns=["run_id"]).column("run_id").to_pylist()
    return sorted(mine) == sorted(theirs.column("run_id").to_pylist())
