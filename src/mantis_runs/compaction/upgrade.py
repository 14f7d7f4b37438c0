"""Upgrading parts (part of step 2): rewrite every part still in an older Parquet layout.

Readers refuse a part in an older layout (docs/storage-format.md), so each run rewrites every
such part, in every month whatever ``--month`` says, before it absorbs anything: a shard is then
always absorbed into a part in the current layout. The rewrite is the next generation of the same
lineage; the old generation is removed once the new one is published (a crash in between leaves
both, and readers and recovery go by the newest).
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from ..db.connection import duckdb_path
from ..db.parquet_layout import Unreadable, check_layout, write_rows
from ..db.sqlfiles import load
from ..errors import MantisError
from ..log import schema
from ..log.integrity import check_part
from ..log.layout import MonthFiles, part_generation, part_path
from .convert import nothing_lost, parquet_rows, scratch_connection, stored_row_params
from .publish import publish_part
from .report import Progress


def older_parts(mf: MonthFiles) -> list[Path]:
    """The month's parts in an older Parquet layout (one in a newer layout is refused, and so is
    a damaged one: :class:`~mantis_runs.log.integrity.Damaged`, by its size and footer)."""
    return [part for part in mf.parts if _layout(part) < schema.PARQUET_LAYOUT]


def _layout(part: Path) -> int:
    """The part's layout, once its size and footer match its checksum (if it has one)."""
    try:
        version = check_layout(part)
    except Unreadable:
        check_part(part, full=False)  # the checksum says what happened to it, if it has one
        raise
    check_part(part, full=False)
    return version


def upgrade(base: Path, scratch: Path, part: Path, memory_limit: str, say: Progress) -> str:
    """Rewrite ``part`` in the current layout as the next generation of its lineage and publish
    it; returns the new part's path relative to ``base``."""
    month = part.parent.name
    generation, lineage = part_generation(part)
    check_part(part, full=True)  # (an older layout has no checksum: then it is read as it is)
    say(f"{month}: rewriting {part.name} in Parquet layout {schema.PARQUET_LAYOUT}")
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f"part-{generation + 1:06d}-{lineage}.parquet.inprogress"
    con = scratch_connection(scratch, memory_limit)
    with nothing_lost(f"rewriting {part.name}", "the part stays as it was"), closing(con):
        for macro in ("macro_other_seconds", "macro_upgrade_rows"):
            con.execute(load(macro))
        params = {k: v for k, v in stored_row_params().items()
                  if k in ("known_struct", "known_names")}
        written = write_rows(con, load("compact_upgrade"),
                             {"files": [duckdb_path(part)], **params}, tmp)
        source_rows = parquet_rows(part)
        if written != source_rows:
            raise MantisError(f"rewriting {part.name}: wrote {written} rows of {source_rows}; "
                              "nothing was changed")
    final = part_path(base, month, generation + 1, lineage)
    publish_part(base, tmp, final, part)
    say(f"{month}: wrote {final.name}: {written} rows")
    return str(final.relative_to(base))
