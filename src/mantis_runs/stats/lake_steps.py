"""The stats engine's steps over the lake's months (db/lake_source.py): mixed into
``engine.Collector``.

Lake rows are gathered like a compacted part's (``stats_collect_lake``, from a cutoff when the
batch is the lake's alone), but marked as JSONL rows are: the lake keeps every shipped copy, so
any of them may have another copy in a Parquet file (``stats_rivals``) or in the lake itself,
under another workflow (``lake_rivals``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from ..db.lake_source import month_filter
from ..db.sqlfiles import load

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StatsQuery


class LakeSteps:
    """Gathering from the lake, and its rivals. The Collector holds the state: the step
    counter, the lake months gathered but not searched for rivals yet (``_lake_new``), those
    searched (``_lake_searched``) and the last step searched (``_lake_seen``)."""

    con: duckdb.DuckDBPyConnection
    query: StatsQuery
    step: int
    _lake_new: list[str | None]
    _lake_searched: list[str | None]
    _lake_seen: int

    def collect_lake(self, months: list[str | None], at_least: str | None,
                     before: str | None) -> None:
        """The workflow's rows of the lake's ``months`` (stats_collect_lake); their rivals in
        the lake are searched by ``lake_rivals``."""
        self.step += 1
        self.con.execute(load("stats_collect_lake"), {
            **self.query.common, **month_filter(months), "step": self.step,
            "at_least": at_least, "before": before})
        self._lake_new += [m for m in months if m not in self._lake_new]

    def lake_rivals(self) -> None:
        """Gather the lake's copies under other workflows of the runs gathered so far: months
        gathered since the last search against every run, months searched before against the
        runs gathered since."""
        new = [m for m in self._lake_new if m not in self._lake_searched]
        if new:
            self._lake_rivals(new, min_step=None)
        if self._lake_searched and self.step > self._lake_seen:
            self._lake_rivals(self._lake_searched, min_step=self._lake_seen + 1)
        self._lake_searched += new
        self._lake_new = []
        self._lake_seen = self.step

    def lake_details(self, params: dict[str, Any]) -> None:
        """The lake's copies of the chosen runs, with error and extra, into mantis_details
        (stats_details_lake; ``params``: workflow_id and the filters): the lake's part of
        ``Collector.find_details``."""
        read = [*self._lake_searched, *self._lake_new]
        if read:
            self.con.execute(load("stats_details_lake"), {**params, **month_filter(read)})

    def _lake_rivals(self, months: list[str | None], *, min_step: int | None) -> None:
        params = {"workflow_id": self.query.workflow_id, "min_step": min_step}
        lo, hi = self.con.execute(load("stats_lake_range"), params).fetchall()[0]
        if lo is None:
            return
        self.con.execute(load("stats_lake_rivals"), {
            **params, **self.query.common, **month_filter(months), "step": self.step,
            "lo": lo, "hi": hi})
