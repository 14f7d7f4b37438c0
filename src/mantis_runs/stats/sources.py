"""Where a month's rows are read from: shards, parts, and live shards' checkpoints plus tails."""

from __future__ import annotations

from pathlib import Path

from ..db.connection import private_temp_dir
from ..db.verified import remembered_content_ok
from ..db.view_reads import month_reads
from ..log.checkpoint import LiveRead, open_live
from ..log.integrity import check_parts
from ..log.layout import MonthFiles

TAIL_PREFIX = "mantis-tail-"


def tail_scratch() -> Path:
    """A new private folder for copies of shard tails, named after this process (mode 0700, a
    name nobody can create first); folders left by processes that no longer exist (killed
    readers) are removed first."""
    return private_temp_dir(TAIL_PREFIX)


def live_reads(base: Path, months: list[MonthFiles], scratch: Path) -> dict[Path, LiveRead]:
    """For each live shard among ``months`` with a valid checkpoint: its checkpoint and tail.
    A checkpoint whose Parquet file does not match its checksum is not valid (db/verified.py:
    every byte is checked the first time a reader meets the file)."""
    found: dict[Path, LiveRead] = {}
    for mf in months:
        if mf.live is not None:
            lr = open_live(base, mf.month, mf.live, scratch, remembered_content_ok)
            if lr is not None:
                found[mf.live] = lr
    return found


def month_sources(mf: MonthFiles, live: dict[Path, LiveRead]) -> tuple[list[Path], list[Path]]:
    """The JSONL and Parquet files that hold a month's rows, each row in exactly one of them:
    a live shard with a checkpoint is read as the checkpoint plus a copy of its tail.

    Each compacted part is checked against its checksum first, by size and footer
    (log/integrity.py): a damaged one is :class:`~mantis_runs.log.integrity.Damaged`, one line
    naming it, rather than a wrong answer or a month left out by a footer that lies."""
    check_parts(mf.parts)
    return month_reads(mf, live)
