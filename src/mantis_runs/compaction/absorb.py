"""Absorbing a sealed shard (steps 4 and 5 for one shard): the month's next part generation.

The next generation is the month's newest part (if any) plus the shard's good rows, one row per
run_id, converted in the scratch directory (convert.py, bad lines quarantined first), then
published (publish.py): renamed to ``compacted/<month>/part-<generation>-<lineage>.parquet``,
with the shard and the previous generation deleted after it. The part's name carries the shard's
lineage id, so once it exists readers and recovery know that shard is absorbed. The month's
newest part is checked against its checksum first, every byte: a damaged part is never built
on (the new generation would copy the damage, and publishing it would delete the evidence).
An events shard takes the same steps under ``events_log/`` (kinds.py), converted by
events.py: every good line once, no dedupe.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..log.integrity import check_part
from ..log.layout import MonthFiles, part_generation, part_path, sealed_lineage
from ..log.locks import makedirs_durable
from ..units import human_bytes
from .convert import nothing_lost, parquet_rows, scratch_connection, write_quarantine
from .kinds import Kind
from .publish import publish_part
from .report import MonthReport, Progress


@dataclass(frozen=True)
class _Converted:
    """A sealed shard converted into the month's next part, not yet published."""

    tmp: Path  # the new part, in the scratch directory
    lines: int  # non-blank lines of the shard
    bad: int  # of those, lines that are not rows (now in ``quarantine``)
    previous_rows: int  # rows of the previous generation
    written: int  # rows of the new part
    quarantine: Path | None


def absorb(kind: Kind, scratch: Path, shard: Path, mr: MonthReport, memory_limit: str,
           say: Progress) -> None:
    """Turn one sealed shard plus the month's current part into the next part generation."""
    month, lineage = sealed_lineage(shard) or ("", "")
    base, label = kind.base, kind.label(month)
    current = kind.scan().get(month, MonthFiles(month))
    previous = current.parts[0] if current.parts else None
    if previous is not None:  # never build on a damaged part: the damage would be copied
        check_part(previous, full=True)
    generation = part_generation(previous)[0] + 1 if previous else 1
    size = shard.stat().st_size
    previous_size = previous.stat().st_size if previous is not None else 0
    say(f"{label}: reading {shard.name} ({human_bytes(size)})"
        + (f" and {previous.name}" if previous else ""))
    tmp = scratch / f"part-{generation:06d}-{lineage}.parquet.inprogress"
    converted = _convert(kind, scratch, shard, previous, tmp, memory_limit)

    final = part_path(kind.root, month, generation, lineage)
    makedirs_durable(final.parent)
    publish_part(base, converted.tmp, final, shard, previous)

    _count(mr, converted, size, previous_size)
    mr.bytes_after = final.stat().st_size
    mr.part = str(final.relative_to(base))
    if converted.quarantine is not None:
        mr.quarantine.append(str(converted.quarantine.relative_to(base)))
    say(f"{label}: wrote {final.name}: {converted.written} rows")


def _convert(kind: Kind, scratch: Path, shard: Path, previous: Path | None, tmp: Path,
             memory_limit: str) -> _Converted:
    """Quarantine the shard's bad lines (durably), then write ``previous`` + its rows to ``tmp``."""
    month, lineage = sealed_lineage(shard) or ("", "")
    scratch.mkdir(parents=True, exist_ok=True)
    con = scratch_connection(scratch, memory_limit)
    with nothing_lost(f"compacting {shard.name}"), closing(con):
        conv = kind.conversion(con, scratch, shard, previous)
        lines, bad = conv.lines, conv.bad
        quarantine: Path | None = None
        if bad:
            quarantine = write_quarantine(kind.root, scratch, con, shard, month, lineage, lines,
                                          bad, conv.events)
        previous_rows = parquet_rows(previous) if previous is not None else 0
        written = conv.write(tmp)
    return _Converted(tmp=tmp, lines=lines, bad=bad, previous_rows=previous_rows,
                      written=written, quarantine=quarantine)


def _count(mr: MonthReport, converted: _Converted, size: int, previous_size: int) -> None:
    """Add one absorbed shard (of ``size`` bytes) to the month's report."""
    if mr.shards == 0:
        # the generation this run started from; later shards of the month build on the part
        # this run just wrote, whose rows are already counted in rows_in
        mr.previous_rows = converted.previous_rows
    mr.shards += 1
    mr.lines_in += converted.lines
    mr.rows_in += converted.lines - converted.bad
    mr.bad_lines_quarantined += converted.bad
    mr.rows_written = converted.written
    mr.duplicates_dropped = mr.previous_rows + mr.rows_in - converted.written
    mr.bytes_before += size + (previous_size if mr.shards == 1 else 0)
