"""Recovery (step 2): remove what a killed compactor left behind, before anything else is done.

Until then readers already see every row exactly once (a sealed shard whose lineage names a part
is not read; only a month's newest part generation is; checkpoints that do not match their live
shard are ignored); recovery only deletes the leftovers: the scratch directory, absorbed sealed
shards and superseded part generations (``MonthFiles.superseded``), stale checkpoint files
(:func:`~.checkpoints.stale_checkpoints`) and checksum files without their part
(:func:`~mantis_runs.log.integrity.stale_checksums`), of the run log and of the events
(kinds.py). Deleting is idempotent, so a crash in here is fine too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..log.integrity import Damaged, quick_problem, read_checksum, stale_checksums
from ..log.layout import SCRATCH, refuse_links
from ..log.locks import fsync_dir
from .checkpoints import stale_checkpoints
from .kinds import kinds
from .publish import publishing


def recover(base: Path) -> list[str]:
    """Remove what a killed compactor left behind; idempotent. Returns what was removed."""
    removed: list[str] = []
    refuse_links(base)  # again, under the compaction lock: never delete or write behind a link
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
    """Files no reader uses any more: absorbed sealed shards, older part generations,
    checkpoint files that no manifest names, that no longer match a live shard or that are
    damaged, and checksum files of parts that are not the newest generation (or do not exist)."""
    stale: list[Path] = []
    for kind in kinds(base):
        months = kind.scan()
        kept: set[Path] = set()
        for mf in months.values():
            if mf.superseded and not (mf.parts and _proven(mf.parts[-1])):
                # the newest "generation" is not one this protocol published (no checksum, or
                # it does not match): a stray file must never cost the real data
                kept.update(mf.superseded)
        stale += [p for mf in months.values() for p in mf.superseded if p not in kept]
        stale += stale_checksums(kind.root, {p for mf in months.values() for p in mf.parts}
                                 | kept)
    stale += stale_checkpoints(base)
    return stale


def _proven(part: Path) -> bool:
    """``part`` has its checksum file and matches it (size and footer): it was published by
    this protocol, which writes the checksum first, and is whole."""
    try:
        checksum = read_checksum(part)
        return checksum is not None and quick_problem(part, checksum) is None
    except (Damaged, OSError):
        return False
