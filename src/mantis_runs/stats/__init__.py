"""The stats wing: planning which files to read, live-shard sources, order statistics, results."""

from .engine import BucketStats, StatsResult, stats

__all__ = ["BucketStats", "StatsResult", "stats"]
