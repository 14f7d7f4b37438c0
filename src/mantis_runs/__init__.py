"""mantis-runs: an embedded analytical store for run history.

``from mantis_runs import append_run`` (or ``append_event``, ``append_events``) imports only
the standard library: the writer runs inside other people's runtimes. Everything that needs
DuckDB or pyarrow is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import MantisError, NotFound, UsageError

__version__ = "0.1.0"

__all__ = [
    "MantisError",
    "NotFound",
    "RunStore",
    "StatsResult",
    "UsageError",
    "__version__",
    "append_event",
    "append_events",
    "append_run",
    "compact",
    "stats",
]

if TYPE_CHECKING:  # pragma: no cover
    from .compaction import compact
    from .log.writer import append_event, append_events, append_run
    from .stats import StatsResult, stats
    from .store import RunStore

# Imported on first use: the writer too, so that the CLI's queries do not pay for it.
_LAZY = {
    "append_run": ("mantis_runs.log.writer", "append_run"),
    "append_event": ("mantis_runs.log.writer", "append_event"),
    "append_events": ("mantis_runs.log.writer", "append_events"),
    "RunStore": ("mantis_runs.store", "RunStore"),
    "stats": ("mantis_runs.stats", "stats"),
    "StatsResult": ("mantis_runs.stats", "StatsResult"),
    "compact": ("mantis_runs.compaction", "compact"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mantis_runs' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value
