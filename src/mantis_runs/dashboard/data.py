"""What the dashboard shows, gathered through the library's own calls (docs/dashboard.md).

:func:`build` makes one call per section, all at the same instant ``now`` and over the same
``since``, and keeps their typed results as they are: the page prints those numbers and computes
none of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..db.lake_source import DataDirs, Sources
from ..errors import UsageError
from ..log.timewindow import resolve_since

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import CompareResult
    from ..analysis.failures import FailuresResult
    from ..analysis.tail import TailResult
    from ..analysis.trend import TrendResult
    from ..stats.result import StatsResult

#: The window of the trend charts, the tail and the failure classes unless told otherwise.
DEFAULT_SINCE = "90d"
#: The stats table is over the newest runs of the window, as `mantis runs stats --last`.
DEFAULT_LAST = 100
#: `compare`'s windows: the last week against the four weeks before it.
BASELINE, CURRENT = "35d..7d", "7d"


@dataclass(frozen=True)
class DashboardData:
    """One workflow's page: every section's typed result, as the library returned it."""

    workflow_id: str
    data_dir: str  # the data dir, or every data dir and lake read (Sources.label)
    generated_at: datetime  # the `now` every section was asked at
    since: datetime  # the start of the page's window
    stats: StatsResult  # RunStore.stats(workflow_id, last=..., since=since, ci=True)
    compare: CompareResult  # compare(workflow_id, baseline=BASELINE, current=CURRENT)
    trend: TrendResult  # trend(workflow_id, since=since, detect=True)
    tail: TailResult  # tail(workflow_id, since=CURRENT): the slow runs of compare's current week
    failures: FailuresResult  # failures(workflow_id, since=since)


def build(workflow_id: str, *, data_dir: DataDirs = None,
          since: str | datetime = DEFAULT_SINCE, last: int = DEFAULT_LAST,
          now: datetime | None = None) -> DashboardData:
    """Every section of ``workflow_id``'s dashboard, read at ``now`` (default: the current time):
    the stats table over the newest ``last`` runs since ``since``, `compare`'s verdicts of the
    last week against the four before, what makes the slow runs of that last week slow (`tail`),
    and the trend and the failure classes of the runs since ``since``."""
    from ..analysis.failures import failures
    from ..analysis.tail import tail
    from ..store import RunStore

    now = now or datetime.now(UTC)
    start = resolve_since(since, now)
    if start is None:
        raise UsageError("the dashboard needs the start of its window (since)")
    store = RunStore(data_dir)
    sources = store.sources  # a lake opened once serves every section
    result = store.stats(workflow_id, last=last, since=start, ci=True)
    verdicts, trend = _compare_and_trend(workflow_id, sources, start, now)
    slow = tail(workflow_id, data_dir=sources, since=CURRENT, now=now)
    failed = failures(workflow_id, data_dir=sources, since=start, now=now)
    return DashboardData(workflow_id=workflow_id, data_dir=sources.label,
                         generated_at=now, since=start, stats=result, compare=verdicts,
                         trend=trend, tail=slow, failures=failed)


def _compare_and_trend(workflow_id: str, data_dir: Sources, since: datetime, now: datetime,
                       ) -> tuple[CompareResult, TrendResult]:
    """`compare`'s verdicts and the trend with its change points, from one read of the runs of
    both windows: the same answers as ``compare(workflow_id, baseline=BASELINE,
    current=CURRENT, now=now)`` and ``trend(workflow_id, since=since, detect=True, now=now)``,
    which would read the last five weeks twice (tests/test_dashboard.py compares them); the
    trend's ``skipped_lines`` are those of the shared read (the page does not show them)."""
    from ..analysis.compare import judge, sides, windows
    from ..analysis.runs import read_runs
    from ..analysis.trend import trend_of, window
    from ..analysis.verdicts import Options

    start, floor = window(since, now)
    base, cur = windows(BASELINE, CURRENT, now)
    runs = read_runs(workflow_id, data_dir=data_dir, start=min(floor, base.start, cur.start),
                     end=max(now, base.end, cur.end))
    verdicts = judge(workflow_id, "succeeded", base, cur, *sides(runs, base, cur), None,
                     Options())
    trend = trend_of(runs.select(floor, now), workflow_id=workflow_id, start=start, end=now,
                     detect=True)
    return verdicts, trend
