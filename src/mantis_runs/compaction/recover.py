"""Recovery (step 2): remove what a killed compactor left behind, before anything else is done.

Until then readers already see every row exactly once (a sealed shard whose lineage names a part
is not read; only a month's newest part generation is; checkpoints that do not match their live
shard are ignored); recovery only deletes the leftovers: the scratch directory, absorbed sealed
shards and superseded part generations (``MonthFiles.superseded``), and stale checkpoint files
(:func:`~.checkpoints.stale_checkpoints`). Deleting is idempotent, so a crash in here is fine too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..log.layout import SCRATCH, scan
from ..log.locks import fsync_dir
from .checkpoints import stale_checkpoints
from .publish import publishing


def recover(base: Path) -> list[str]:
    """Remove what a killed compactor left behind; idempotent. Returns what was removed."""
    removed: list[str] = []
    scratch = base / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)
        removed.append(f"{SCRATCH}/")
    stale = stale_leftovers(base)
    if stale:
        with publishing(base):
            for p in stale:
                p.unlink(missing_ok=True)
                removed.append(str(p.relative_to(base)))
            for d in {p.parent for p in stale}:
                fsync_dir(d)
    return removed


def stale_leftovers(base: Path) -> list[Path]:
    """Files no reader uses any more: absorbed sealed shards, older part generations, and
    checkpoint files that no manifest names or that no longer match a live shard."""
    stale: list[Path] = [p for mf in scan(base).values() for p in mf.superseded]
    stale += stale_checkpoints(base)
    return stale
