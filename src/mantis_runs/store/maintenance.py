"""`mantis runs compact` as one library call: compaction, then trend's memo of the months it
compacted (docs/trend.md, "Filled by `compact`").

Compaction does not import analysis (ARCHITECTURE.md, the wings), so the two steps meet here:
``compact`` runs ``compaction.compact`` and, once it has returned (its lock released), fills the
memo with ``analysis.trend_warm.warm`` unless asked not to or nothing was compacted. The
warm-up is a cache: it never fails the compaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..compaction.report import CompactionReport


def compact(data_dir: Path | str | None = None, *, warm: bool = True,
            **options: Any) -> CompactionReport:
    """``mantis_runs.compact(data_dir, **options)``, then, with ``warm`` and unless a dry run,
    trend's closed-month memo of the runs months compacted (for the user who runs it)."""
    from ..compaction import compact as run_compact

    report = run_compact(data_dir, **options)
    if warm and not options.get("dry_run") and report.months:
        from ..analysis.trend_warm import warm as fill

        fill(Path(report.data_dir), [m.month for m in report.months])
    return report
