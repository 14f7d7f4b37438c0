"""RunStore's analyses beyond stats and compare: trend, tail, failures and advise
(docs/python-api.md). A mixin, so that runstore.py stays one reader's size; each method is a thin
call into the analysis wing, imported inside the method (numpy and scipy load only when asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .events import warn_skipped

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.advise import AdviceResult
    from ..analysis.failures import FailuresResult
    from ..analysis.tail import TailResult
    from ..analysis.trend import TrendResult
    from ..db.lake_source import Sources


class InsightMethods:
    """Mixed into :class:`~mantis_runs.store.runstore.RunStore`."""

    data_dir: Path
    sources: Sources  # every data dir and lake read

    def tail(self, workflow_id: str, *, since: str | datetime = "7d", above: str = "p95",
             extra_keys: Sequence[str] = (), min_support: int | None = None) -> TailResult:
        """What makes the slow runs of ``workflow_id`` slow: each bucket's share of the gap
        between the runs above ``above`` (p90, p95, p99) and the p40-p60 band, and the attribute
        values over-represented among them; the same as ``mantis runs tail`` (docs/tail.md)."""
        from ..analysis.tail import tail

        result = tail(workflow_id, data_dir=self.sources, since=since, above=above,
                      extra_keys=extra_keys, min_support=min_support)
        warn_skipped(result.skipped_lines)
        return result

    def trend(self, workflow_id: str, *, since: str | datetime = "90d", every: str | None = None,
              buckets: Sequence[str] | None = None, status: str | None = "succeeded",
              detect: bool = False, seed: int = 0) -> TrendResult:
        """p50, p95 and n of ``workflow_id`` per UTC day or week (``every`` "1d" or "1w";
        default: weeks when the median day has fewer than 20 runs), and with ``detect`` the
        change points and their verdicts; the same as ``mantis runs trend`` (docs/trend.md)."""
        from ..analysis.trend import trend

        result = trend(workflow_id, data_dir=self.sources, since=since, every=every,
                       buckets=buckets, status=status, detect=detect, seed=seed)
        warn_skipped(result.skipped_lines)
        return result

    def failures(self, workflow_id: str | None = None, *,
                 since: str | datetime | None = "30d") -> FailuresResult:
        """The failed runs of ``workflow_id`` (None: every workflow) since ``since`` grouped by
        the class of their error, with counts, weeks and an example run; the same as
        ``mantis runs failures`` (docs/insights.md)."""
        from ..analysis.failures import failures

        result = failures(workflow_id, data_dir=self.sources, since=since)
        warn_skipped(result.skipped_lines)
        return result

    def advise(self, workflow_id: str, *, since: str | datetime | None = None,
               last: int | None = None, margin: float | None = None) -> AdviceResult:
        """Suggested timeouts for ``workflow_id`` and each bucket: the upper end of p99's 95 %
        interval over succeeded runs, times ``margin`` (None: 1.2, ``advise.MARGIN``); the
        same as ``mantis runs advise`` (docs/insights.md)."""
        from ..analysis.advise import MARGIN, advise

        result = advise(workflow_id, data_dir=self.sources, since=since, last=last,
                        margin=MARGIN if margin is None else margin)
        warn_skipped(result.skipped_lines)
        return result
