"""User-facing texts that the library (as log messages) and the CLI (on stderr) both print
(standard library only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath


def shard_name(shard: PurePath, several: bool) -> str:
    """How malformed-line counts name a run-log shard: its file name (``2026-04.jsonl``) when
    one data dir is read, its path (``/data/a/runs_log/2026-04.jsonl``) when ``several`` are,
    so that the same month of two data dirs is counted apart."""
    return str(shard) if several else shard.name


def skipped_lines(skipped: Mapping[str, int]) -> str | None:
    """``skipped 2 malformed lines (2026-04.jsonl: 2)``: how many lines a read skipped, per shard
    (sorted by name, as ``shard_name`` names them); None when it skipped none."""
    total = sum(skipped.values())
    if not total:
        return None
    where = ", ".join(f"{name}: {n}" for name, n in sorted(skipped.items()))
    return f"skipped {total} malformed line{'' if total == 1 else 's'} ({where})"
