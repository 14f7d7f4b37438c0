"""Numbers for people (standard library only)."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    """812 B, 8.1 kB, 461.7 MB, 6.3 GB: powers of 1000, one decimal."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
