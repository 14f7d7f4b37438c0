"""What compaction compacts: the run log (``runs``) and the run events (``events``), each a
:class:`Kind` that the protocol's steps take as a parameter (seal.py, absorb.py, recover.py,
plan.py): the same sealing, parts, checksums, quarantine and recovery for both.

A kind says where its files are: the run log's shards are in ``runs_log/`` and its parts,
checksums and quarantine at the top of the data dir; the events' shards are in ``events_log/``
and their parts, checksums and quarantine under it (``layout.events_root``), so the two never
share a folder. Events have no id: a sealed shard's events are copied into the part exactly
once (no dedupe), and conversion keeps the order they were written in (events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..log.layout import (
    RUNS_LOG,
    MonthFiles,
    events_root,
    events_shard,
    live_shard,
    scan,
    scan_event_months,
)

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from .convert import Conversion
    from .events import EventsConversion

KindName = Literal["runs", "events"]


@dataclass(frozen=True)
class Kind:
    """The run log or the run events of the data dir ``base``."""

    name: KindName
    base: Path

    @property
    def root(self) -> Path:
        """Where ``compacted/``, ``checksums/`` and ``quarantine/`` of this kind are."""
        return self.base if self.name == "runs" else events_root(self.base)

    @property
    def logs(self) -> Path:
        """The folder of the live and sealed shards (and the writers' ``.lock``)."""
        return self.base / RUNS_LOG if self.name == "runs" else events_root(self.base)

    def live(self, month: str) -> Path:
        return (live_shard if self.name == "runs" else events_shard)(self.base, month)

    def scan(self) -> dict[str, MonthFiles]:
        """Every month of this kind, oldest first (``scan`` / ``scan_event_months``)."""
        return scan(self.base) if self.name == "runs" else scan_event_months(self.base)

    def label(self, month: str) -> str:
        """How progress lines and the plan name a month: ``2026-05``, ``events 2026-05``."""
        return month if self.name == "runs" else f"events {month}"

    def conversion(self, con: duckdb.DuckDBPyConnection, scratch: Path, jsonl: Path,
                   previous: Path | None, checkpoint_of: str | None = None,
                   ) -> Conversion | EventsConversion:
        """The conversion of ``jsonl`` plus ``previous`` (the month's part or last checkpoint,
        or None) into this kind's next Parquet file: convert.py's for runs (one row per run_id),
        events.py's for events (every good line once). ``jsonl`` is a sealed shard, or with
        ``checkpoint_of`` (its month) a checkpoint's copy of a live shard's new bytes: an events
        checkpoint's ``seq`` continues after the month's parts too. Imported on first use: the
        conversions need DuckDB, a kind only paths."""
        if self.name == "runs":
            from .convert import Conversion

            return Conversion(con, scratch, jsonl, previous)
        from .events import EventsConversion

        mf = self.scan().get(checkpoint_of) if checkpoint_of is not None else None
        return EventsConversion(con, scratch, jsonl, previous,
                                after=list(mf.parts) if mf is not None else [])


def kinds(base: Path) -> tuple[Kind, Kind]:
    """Both kinds of ``base``, in the order compaction takes them."""
    return Kind("runs", base), Kind("events", base)
