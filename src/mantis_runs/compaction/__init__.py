"""Parquet compaction of closed months, checkpoints of live shards: every row exactly once,
whatever is killed when.

The protocol (docs/compaction.md has the reasoning), one module per step; :func:`compact`
(run.py) takes them in order:

1. Only one compactor runs: ``.compact.lock`` is taken exclusively (or we wait / give up). A dry
   run only shares it, and creates nothing (run.py; the dry run's plan is plan.py).
2. Recovery (recover.py): scratch files are removed; sealed shards already absorbed by a part,
   parts of older generations and stale checkpoint files are deleted (under the publish lock).
   Then every part still in an older Parquet layout is rewritten as its next generation
   (upgrade.py) and published as in step 5.
3. Sealing (seal.py): a closed month's live shard is renamed to ``<month>.jsonl.sealed-<id>``
   while holding the publish lock and the writers' lock, so no append is in flight. A late writer
   then simply starts a new live shard for that month; the next compaction absorbs it.
4. Converting (convert.py): for each sealed shard, the month's next generation is written to the
   scratch directory (previous generation + the shard's good rows, one row per run_id), fsynced;
   bad lines go to ``quarantine/<month>/<id>.jsonl`` with shard and line number, fsynced first.
5. Publishing (publish.py), under the publish lock: rename the part into ``compacted/<month>/``,
   fsync the directory, delete the sealed shard and the previous generation, fsync again.
   absorb.py takes one sealed shard through steps 4 and 5.
6. Checkpoints (checkpoints.py): each live shard with enough new bytes gets a new checkpoint, its
   last one plus the new bytes' rows, published under the publish lock with its manifest.

Readers hold the publish lock shared while they list and read, so they see a month either before
or after a publish, never half-way. The compactor waits for the exclusive locks in the kernel
(:func:`mantis_runs.log.locks.exclusive_blocking`), so readers querying back to back do not starve
it. A failed run removes its scratch (a part that did not fit must not keep the disk full).

Closed events months (``events_log/``) take steps 3 to 5 too, with the same code: each step
takes a kind (kinds.py: ``runs`` or ``events``); an events shard is converted by events.py
(every good line once, no dedupe, in the order written).

After a crash at any point, readers still see each row once: an absorbed sealed shard is recognised
by its lineage id in the part name, and only the newest part generation is read.

Progress lines and results are in report.py.
"""

from ..log.layout import COMPACT_LOCK
from .convert import STORED_ROW_MACROS, stored_row_params
from .report import CheckpointReport, CompactionBusy, CompactionReport, MonthReport, Progress
from .run import (
    DEFAULT_CHECKPOINT_MIN_BYTES,
    DEFAULT_GRACE,
    DEFAULT_MEMORY_LIMIT,
    compact,
)

__all__ = [
    "COMPACT_LOCK",
    "DEFAULT_CHECKPOINT_MIN_BYTES",
    "DEFAULT_GRACE",
    "DEFAULT_MEMORY_LIMIT",
    "STORED_ROW_MACROS",
    "CheckpointReport",
    "CompactionBusy",
    "CompactionReport",
    "MonthReport",
    "Progress",
    "compact",
    "stored_row_params",
]
