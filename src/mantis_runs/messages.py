"""User-facing texts that the library (as log messages) and the CLI (on stderr) both print
(standard library only)."""

from __future__ import annotations

from collections.abc import Mapping


def skipped_lines(skipped: Mapping[str, int]) -> str | None:
    """``skipped 2 malformed lines (2026-04.jsonl: 2)``: how many lines a read skipped, per shard
    (sorted by name); None when it skipped none."""
    total = sum(skipped.values())
    if not total:
        return None
    where = ", ".join(f"{name}: {n}" for name, n in sorted(skipped.items()))
    return f"skipped {total} malformed line{'' if total == 1 else 's'} ({where})"
