"""Sealing (step 3): a closed month's live shard becomes immutable, with no append in flight.

The live shard is renamed to ``<month>.jsonl.sealed-<id>`` while holding both the publish lock
(readers see the month before or after) and the writers' ``runs_log/.lock`` (no append is half
done). A late writer then simply starts a new live shard for that month, which the next
compaction seals in turn. The month's checkpoint described the shard that is now sealed, so it
goes in the same step. Readers keep reading the sealed shard until a part naming its lineage is
published (absorb.py). An events month is sealed the same way, under ``events_log/.lock``
(kinds.py), and its checkpoint (events_log/checkpoints/) goes too.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ..errors import MantisError
from ..log.layout import WRITER_LOCK, refuse_link, sealed_name
from ..log.locks import LockTimeout, exclusive_blocking, fsync_dir
from .checkpoints import drop_checkpoint
from .kinds import Kind, KindName
from .publish import PUBLISH_TIMEOUT_S, publishing


def seal(base: Path, month: str, kind_name: KindName = "runs") -> Path | None:
    """Rename ``month``'s live shard (of the run log, or of the events) to a sealed name;
    returns it (None: there was no shard)."""
    kind = Kind(kind_name, base)
    logdir = kind.logs
    live = kind.live(month)
    with publishing(kind.base):
        try:
            with exclusive_blocking(logdir / WRITER_LOCK, PUBLISH_TIMEOUT_S):  # no append in flight
                if refuse_link(logdir) is None or refuse_link(live) is None:
                    return None
                sealed = logdir / sealed_name(month, uuid.uuid4().hex[:16])
                os.rename(live, sealed)
                fsync_dir(logdir)
                drop_checkpoint(kind.root, month)  # it described the shard now sealed
                return sealed
        except LockTimeout:  # (only entering the lock raises it)
            raise MantisError(f"writers held {logdir / WRITER_LOCK} for over "
                              f"{PUBLISH_TIMEOUT_S:g}s; nothing sealed, try again") from None
