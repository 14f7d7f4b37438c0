"""Limits the analyses share, in a module without numpy (`failures` reads no array)."""

from __future__ import annotations

from typing import Final

#: --last for "every run" (a SQL LIMIT is a 64-bit integer).
ALL_RUNS: Final = 2**62
