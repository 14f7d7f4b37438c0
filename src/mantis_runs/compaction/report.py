"""What a compaction did (or, in a dry run, would do), and how it says so while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import MantisError

#: Receives one progress line at a time (``mantis runs compact`` prints them on stderr).
Progress = Callable[[str], None]


class CompactionBusy(MantisError):
    """Another compactor holds the lock."""

    exit_code = 0


@dataclass
class MonthReport:
    month: str
    shards: int = 0  # sealed shards absorbed
    lines_in: int = 0  # non-blank lines read from them
    rows_in: int = 0  # good rows among those lines
    previous_rows: int = 0  # rows of the part generation it replaced
    rows_written: int = 0  # rows in the new part
    duplicates_dropped: int = 0
    bad_lines_quarantined: int = 0
    bytes_before: int = 0  # JSONL shards + previous part
    bytes_after: int = 0  # new part
    part: str | None = None
    quarantine: list[str] = field(default_factory=list)


@dataclass
class CheckpointReport:
    month: str
    shard: str  # the live shard's name
    offset: int  # bytes of the shard the checkpoint now covers
    bytes_read: int  # of those, the bytes parsed by this run (the rest came from the last one)
    lines_read: int
    bad_lines: int  # bad lines in the covered bytes (counted by readers, not quarantined)
    rows: int  # rows in the checkpoint
    parquet: str


@dataclass
class CompactionReport:
    data_dir: str
    dry_run: bool
    closed_before: str  # months before this one are closed
    months: list[MonthReport] = field(default_factory=list)
    #: the events months compacted (events_log/compacted/): rows are events, never deduplicated
    events_months: list[MonthReport] = field(default_factory=list)
    checkpoints: list[CheckpointReport] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # leftovers removed by recovery
    upgraded: list[str] = field(default_factory=list)  # parts rewritten in the current layout
    plan: list[str] = field(default_factory=list)  # what a dry run would do

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
