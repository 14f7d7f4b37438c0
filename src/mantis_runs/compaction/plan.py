"""The dry run: what a compaction would do, as lines of ``CompactionReport.plan``.

It reads the directory as the real run would see it (rewrites, seals, absorptions, checkpoints)
and changes nothing: it creates no file, not even the lock file. A part the real run would
refuse (an unreadable or damaged one, or one in a newer layout) fails it the same way, with one
line naming the part.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..log import schema
from ..log.integrity import check_part
from ..log.layout import MonthFiles, scan
from ..units import human_bytes
from .checkpoints import unchecked_bytes
from .kinds import Kind
from .report import CompactionReport
from .upgrade import older_parts


def plan(base: Path, report: CompactionReport, wanted: Callable[[str], bool],
         checkpoint_min_bytes: int | None) -> None:
    """Append to ``report.plan`` what a real run would do; ``wanted`` says which months are
    compacted, ``checkpoint_min_bytes`` (None: no checkpoints) when a live shard is checkpointed."""
    for month, mf in scan(base).items():
        for part in older_parts(mf):  # every month, whatever --month says, as the real run
            report.plan.append(f"{month}: rewrite {part.name} in Parquet layout "
                               f"{schema.PARQUET_LAYOUT}")
        if not wanted(month):
            if mf.live is not None and checkpoint_min_bytes is not None:
                step = _checkpoint_step(base, month, month, mf.live, checkpoint_min_bytes)
                if step is not None:
                    report.plan.append(step)
            continue
        step = _absorb_step(month, mf)
        if step is not None:
            report.plan.append(step)
    events = Kind("events", base)
    for month, mf in events.scan().items():  # the events months (no layout upgrades yet)
        if wanted(month):
            step = _absorb_step(events.label(month), mf)
        elif mf.live is not None and checkpoint_min_bytes is not None:  # as the runs' live month
            step = _checkpoint_step(events.root, month, events.label(month), mf.live,
                                    checkpoint_min_bytes)
        else:
            step = None
        if step is not None:
            report.plan.append(step)


def _checkpoint_step(root: Path, month: str, label: str, live: Path, min_bytes: int
                     ) -> str | None:
    """What happens to a live shard (of the kind whose files are under ``root``; ``label``:
    how the plan names its month): a checkpoint, or nothing yet (None: nothing is new)."""
    pending = unchecked_bytes(root, month, live)
    if pending >= max(min_bytes, 1):
        return f"{label}: checkpoint {live.name} ({human_bytes(pending)} not in its checkpoint)"
    if pending:
        return (f"{label}: leave {live.name} as it is ({human_bytes(pending)} not in its "
                "checkpoint, under --checkpoint-min-mb)")
    return None


def _absorb_step(month: str, mf: MonthFiles) -> str | None:
    """Which shards of a closed month (``month``: its label, kinds.py) would be sealed and
    absorbed (None: none)."""
    todo = [p.name for p in mf.sealed]
    if mf.live is not None:
        todo.append(f"{mf.live.name} (to be sealed)")
    if not todo:
        return None
    if mf.parts:  # the real run checks every byte of the part it builds on: so does the plan
        check_part(mf.parts[0], full=True)
    return (f"{month}: absorb {', '.join(todo)} into "
            f"{'a new' if not mf.parts else 'the next'} part ({human_bytes(mf.bytes)} now)")
