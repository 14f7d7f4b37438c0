"""The stats engine's steps over the lake's months (db/lake_source.py): mixed into
``engine.Collector``.

Lake rows are gathered like a compacted part's (``stats_collect_lake``, from a cutoff when the
batch is the lake's alone), but marked as JSONL rows are: the lake keeps every shipped copy, so
any of them may have another copy in a Parquet file (``stats_rivals``) or in the lake itself,
under another workflow (``lake_rivals``).

A whole history over a lake alone, on a local filesystem or from copies of a remote table's
files, is read in place as a compacted store's is (``lake_whole``, stats.whole): the table's
data files are plain Parquet, and the run_ids with more than one copy among them
(db/shared_ids.py, cached per set of files: Delta files never change; or the proof `lake
compact` left beside the table, lake/proof.py) prove that no run of the window has a second
copy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..db import engine
from ..db.lake_source import LakeSource, lake_shared_run_ids, month_filter, ready
from ..db.sqlfiles import load
from .plan import CUTOFF_MAX_LAST, Horizon, MonthSource
from .rows import PercentileRow
from .whole import whole_history

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StatsQuery


class LakeSteps:
    """Gathering from the lake, and its rivals. The Collector holds the state: the step
    counter, the lake months gathered but not searched for rivals yet (``_lake_new``), those
    searched (``_lake_searched``) and the last step searched (``_lake_seen``)."""

    con: engine.DuckDBPyConnection
    query: StatsQuery
    lake: LakeSource | None
    step: int
    checked: list[str]  # Parquet files searched for rivals
    # the Collector's steps these call (engine.py)
    from_cutoff: Callable[[Horizon, str | None, dict[str, Any],
                           Callable[[str | None, str | None], None], Callable[[], None]], None]
    resolve_rivals: Callable[[list[str]], None]
    _rivals: Callable[..., None]
    _lake_new: list[str | None]
    _lake_searched: list[str | None]
    _lake_seen: int

    def batch_lake(self, chunk: list[MonthSource], horizon: Horizon, *, alone: bool) -> bool:
        """Gather the lake's months of a batch. ``alone`` (no local file in the batch): from a
        cutoff, as parts are, with their rivals and dedupe; True, the batch is done. Else the
        months whole, so that a cutoff's proof holds for the batch's parts, and their copies in
        the Parquet files read before; False, the parts are still to gather."""
        lake = [m.lake_month for m in chunk if m.lake]
        if lake:
            ready(self.con, self.lake, lake)  # a remote table's files fetched, when read so
        if lake and alone:
            self.from_cutoff(horizon, "stats_lake_cutoff", month_filter(lake),
                             partial(self.collect_lake, lake), lambda: self.resolve_rivals([]))
            return True
        if lake:
            self.collect_lake(lake, None, None)
            if self.checked:  # Parquet files read before may hold copies of these rows
                self._rivals(self.checked, min_step=self.step)
        return False

    def collect_lake(self, months: list[str | None], at_least: str | None,
                     before: str | None) -> None:
        """The workflow's rows of the lake's ``months`` (stats_collect_lake); their rivals in
        the lake are searched by ``lake_rivals``."""
        self.step += 1  # batch_lake made the months' files ready
        self.con.execute(load("stats_collect_lake"), {
            **self.query.common, **month_filter(months), "step": self.step,
            "at_least": at_least, "before": before})
        self._lake_new += [m for m in months if m not in self._lake_new]

    def lake_whole(self, todo: list[MonthSource]
                   ) -> tuple[list[PercentileRow], list[tuple[Any, ...]]] | None:
        """A whole history read in place from the lake's files (stats.whole ``whole_history``:
        percentile rows and failure rows), or None when it is not possible here: the months to
        read are not all the lake's, DuckDB cannot read its files (nor copies), the query needs
        every run gathered (``before``, ``group_by``, a --last a cutoff serves), or a run_id of
        the window may have a second copy. Months left out of ``todo`` hold only rows before
        --since, which lose to any copy in the window."""
        q = self.query
        lake = self.lake
        if (lake is None or not lake.direct or not todo or not all(m.lake for m in todo)
                or q.before is not None or q.group_by is not None
                or q.last <= CUTOFF_MAX_LAST):
            return None
        months = [m.lake_month for m in todo]
        if lake.fetch is not None and not lake.fetch.fits(months):
            return None  # no room for copies of every file: the general way, on the dataset
        found = lake.local_files(months)  # a remote table's: fetched
        files = [p for m in todo for p in found.get(m.lake_month, [])]
        if not files:
            return None
        return whole_history(self.con, files, q,
                             lambda: lake_shared_run_ids(self.con, lake, files))

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
