"""The stats wing: planning which files to read, live-shard sources, order statistics, results."""

from .engine import BucketStats, GroupedStats, StatsResult, grouped_stats, stats

__all__ = ["BucketStats", "GroupedStats", "StatsResult", "grouped_stats", "stats"]
