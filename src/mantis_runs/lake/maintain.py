"""``mantis runs lake compact URI``: the one scheduled maintenance job of a lake table.

OPTIMIZE (small files of each month rewritten into fewer; ``dataChange=false``, safe beside
shippers), a checkpoint (readers and committers stop replaying the whole log) and log cleanup,
then VACUUM of the files no table version references any more, once they are older than the
retention; last, the proof of which run_ids the version it leaves holds twice (lake/proof.py),
which spares readers of that version their scan for them. The retention can never be
shorter than ``RETENTION_FLOOR``: a shipper uploads a batch's files before its commit, and a
vacuum that deleted them in between would leave the table pointing at missing files (the
prototype lost 36,000 acknowledged rows that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from ..errors import UsageError
from .proof import write_proof
from .storage import Target, failure
from .table import open_table

DEFAULT_RETENTION: Final = timedelta(days=7)
RETENTION_FLOOR: Final = timedelta(days=1)
#: OPTIMIZE competes with every shipper's commits: retry it generously.
COMPACT_RETRIES: Final = 100


@dataclass(frozen=True)
class CompactReport:
    uri: str
    version: int  # the table version after the job
    files_added: int
    files_removed: int
    vacuumed: int  # files deleted by VACUUM
    retention: timedelta


def compact_lake(target: Target, retention: timedelta = DEFAULT_RETENTION, *,
                 floor: timedelta = RETENTION_FLOOR) -> CompactReport:
    """OPTIMIZE, checkpoint, log cleanup and VACUUM of the table at ``target``. A ``retention``
    below ``floor`` is a ``UsageError`` (tests lower ``floor``; the CLI never does)."""
    if retention < floor:
        raise UsageError(f"--retention must be at least {_human(floor)}: files younger than "
                         "that may belong to a commit still on its way (docs/lake.md)")
    from deltalake import CommitProperties

    dt = open_table(target)
    try:
        metrics: dict[str, Any] = dt.optimize.compact(
            commit_properties=CommitProperties(max_commit_retries=COMPACT_RETRIES))
        dt.update_incremental()
        dt.create_checkpoint()
        dt.cleanup_metadata()
        removed = dt.vacuum(retention_hours=int(retention.total_seconds() // 3600),
                            dry_run=False, enforce_retention_duration=False, full=True,
                            commit_properties=CommitProperties(
                                max_commit_retries=COMPACT_RETRIES))
        dt.update_incremental()
        write_proof(dt)  # which run_ids the version left holds twice, for the readers
    except Exception as exc:
        raise failure(exc, target, "compaction failed on") from None
    return CompactReport(target.uri, int(dt.version()), int(metrics.get("numFilesAdded", 0)),
                         int(metrics.get("numFilesRemoved", 0)), len(removed), retention)


def _human(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
