"""The stats wing: planning which files to read, live-shard sources, order statistics, results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .engine import BucketStats, GroupedStats, StatsResult, grouped_stats, stats

__all__ = ["BucketStats", "GroupedStats", "StatsResult", "grouped_stats", "stats"]


def __getattr__(name: str) -> Any:
    """The engine's names, imported on first use: ``from ..stats import plan`` (the point
    lookups' month plan) does not load the engine and its results."""
    if name not in __all__:
        raise AttributeError(f"module 'mantis_runs.stats' has no attribute {name!r}")
    from . import engine

    value = getattr(engine, name)
    globals()[name] = value
    return value
