"""The stats engine: p50/p95/p99 per wall-time bucket over the newest runs of one workflow.

One call is a ``StatsQuery`` run over one DuckDB connection by a ``Collector``, in named steps:

1. ``plan`` the months (stats.plan): unknown bounds first, then newest first;
2. per batch of months: ``collect_jsonl`` (the workflow's rows and the rivals: other workflows'
   copies), then Parquet rows from a cutoff (``collect_parquet``), ``resolve_rivals`` (copies
   under other workflows in Parquet files), ``dedupe`` (the copy order), and a ``count`` that
   says whether the unread months can still matter (stats.plan.Horizon);
3. ``finish``: drop the rivals, keep the newest --last runs, percentiles in SQL; or, for a whole
   history whose run_ids provably never repeat, percentiles in place (stats.whole).

Facts this relies on are in docs/storage-format.md and the SQL files' headers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..db import engine, jsonl_bounds, lake_source
from ..db.connection import connect, duckdb_path, snapshot
from ..db.lake_source import DataDirs, LakeSource, Sources, sources_of
from ..db.shared_ids import shared_ids, shared_run_ids
from ..db.sqlfiles import load
from ..errors import UsageError
from ..log import schema
from ..log.checkpoint import LiveRead
from ..log.layout import MonthFiles
from ..log.timewindow import checked_status as checked_status  # re-exported: its old home
from ..log.timewindow import resolve_since
from . import plan as planning
from . import skipped as bad_lines
from .lake_steps import LakeSteps
from .plan import CUTOFF_MAX_LAST, MonthSource
from .result import QUANTILES, BucketStats, FailureRate, GroupedStats, StatsGroup, StatsResult
from .rows import Answer, PercentileRow, bucket_stats, fetched_rows
from .sources import live_reads, tail_scratch
from .whole import may_fit, whole_history

T = TypeVar("T")

__all__ = ["BucketStats", "GroupedStats", "StatsQuery", "StatsResult", "checked_status",
           "grouped_stats", "stats"]


@dataclass(frozen=True)
class StatsQuery:
    """What one `stats` call asks (validated)."""

    workflow_id: str
    last: int
    since: datetime | None
    status: str | None  # None: every terminal status
    buckets: list[str] | None  # None: every bucket
    #: Only runs whose winning copy finished before it (None: no upper bound). Like status, it
    #: applies after dedupe: a later copy of a run moves the whole run past it.
    before: datetime | None = None
    #: Split the runs by this attribute (schema.ATTRIBUTES), after choosing them.
    group_by: str | None = None
    #: Also the distribution-free interval of each percentile (stats.intervals).
    ci: bool = False

    @property
    def common(self) -> dict[str, Any]:
        """The parameters every collecting query binds."""
        since = self.since.isoformat() if self.since is not None else None
        return {"workflow_id": self.workflow_id, "since": since}

    @property
    def chosen(self) -> dict[str, Any]:
        """The filters applied to each run's winning copy, after dedupe."""
        return {"status": self.status, "finished_before": self.before and self.before.isoformat()}


def stats(
    workflow_id: str,
    *,
    data_dir: DataDirs = None,
    last: int = 100,
    since: str | datetime | None = None,
    status: str | None = "succeeded",
    buckets: Sequence[str] | None = None,
    now: datetime | None = None,
    memory_limit: str | None = None,
    before: datetime | None = None,
    ci: bool = False,
    session: Lent | None = None,
) -> StatsResult:
    """p50/p95/p99 per wall-time bucket over the newest ``last`` matching runs of a workflow.

    ``status`` None or "" includes every terminal status, else it is "succeeded" or "failed".
    ``since`` is a duration (``7d``), an ISO date/datetime, or a datetime. ``before`` (a datetime;
    naive = UTC) keeps only runs that finished before it: the runs that came before a given run
    (``RunStore.report``'s baseline); undated runs are left out then. ``buckets`` restricts the
    buckets; total_time_s is always there. ``ci`` adds each percentile's distribution-free 95 %
    interval. ``memory_limit`` (a DuckDB limit such as ``"400MB"``) replaces the automatic
    limits: it is the only one tried. ``session``: a caller's snapshot of ``data_dir`` (one
    local data dir), read on its connection (``collect``).
    """
    query = _query(workflow_id, last=last, since=since, status=status, buckets=buckets, now=now,
                   before=before, group_by=None, ci=ci)
    return collect(sources_of(data_dir), query, Collector.run, memory_limit=memory_limit,
                   session=session)


def grouped_stats(
    workflow_id: str,
    group_by: str,
    *,
    data_dir: DataDirs = None,
    last: int = 100,
    since: str | datetime | None = None,
    status: str | None = "succeeded",
    buckets: Sequence[str] | None = None,
    now: datetime | None = None,
    ci: bool = False,
) -> GroupedStats:
    """``stats`` split by an attribute (``model``, ``plan_signature``, ``profile_id`` or
    ``tenant_id``): the newest ``last`` matching runs are chosen first, then each value's runs
    get their own percentiles and failure rate (over the same window)."""
    query = _query(workflow_id, last=last, since=since, status=status, buckets=buckets, now=now,
                   before=None, group_by=schema.checked_attribute(group_by), ci=ci)
    return collect(sources_of(data_dir), query, Collector.run_grouped)


def _query(workflow_id: str, *, last: int, since: str | datetime | None, status: str | None,
           buckets: Sequence[str] | None, now: datetime | None, before: datetime | None,
           group_by: str | None, ci: bool) -> StatsQuery:
    if last < 1:
        raise UsageError(f"last must be at least 1, got {last}")
    return StatsQuery(workflow_id=workflow_id, last=last, since=resolve_since(since, now),
                      status=checked_status(status),
                      buckets=list(dict.fromkeys(buckets)) if buckets else None,
                      before=resolve_since(before), group_by=group_by, ci=ci)


#: A snapshot a caller holds (store/lookup.py): its connection (not locked down; the stats
#: tables are made there), every month of one data dir, and its live shards as read.
Lent = tuple[engine.DuckDBPyConnection, list[MonthFiles], dict[Path, LiveRead]]


def collect(base: Path | Sources, query: StatsQuery, step: Callable[[Collector], T], *,
            memory_limit: str | None = None, session: Lent | None = None) -> T:
    """``step`` over a Collector of ``query`` on the store ``base`` (or every data dir and lake
    of ``Sources``), in one snapshot of each data dir: with the live shards' checkpoints and
    tails, and a larger memory limit after running out (unless ``memory_limit`` fixes it).
    ``session``: that snapshot, of the one data dir ``base``, taken and held by the caller (no
    second one is taken); its connection is the first tried."""
    sources = base if isinstance(base, Sources) else Sources([base])
    held = session if session is not None and sources.one_local else None
    lake = sources.lake()
    scratch = tail_scratch()
    months: list[MonthFiles] = []
    try:
        with ExitStack() as snapshots:
            live: dict[Path, LiveRead] = {}
            for i, local in enumerate(sources.local if held is None else []):
                found = list(snapshots.enter_context(snapshot(local)).values())
                months += found  # each data dir's tail copies apart: they are named as shards
                live.update(live_reads(local, found, scratch / str(i)))
            if held is not None:
                months, live = list(held[1]), held[2]
            months += lake_source.month_files(lake)
            limit = memory_limit or planning.initial_limit(months, query.last)
            while True:
                con = connect(memory_limit=limit) if held is None else held[0]
                if held is not None:  # the caller's: this call's limit, then new ones
                    con.execute("SET memory_limit = $limit", {"limit": limit})
                    held = None
                lake_source.register(con, lake)
                try:
                    return step(Collector(con, query, months, live, lake,
                                          several=len(sources.local) > 1))
                except engine.OutOfMemoryException:
                    bigger = None if memory_limit else planning.bigger_limit(limit)
                    if bigger is None:
                        raise
                    limit = bigger
                finally:
                    if session is None or con is not session[0]:
                        con.close()
    except engine.Error as exc:
        raise lake_source.read_failed(exc, months, lake) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Collector(LakeSteps):
    """One `stats` call over one connection: gathers candidates batch by batch (module doc)."""

    con: engine.DuckDBPyConnection
    query: StatsQuery
    months: list[MonthFiles]
    live: dict[Path, LiveRead]
    lake: LakeSource | None = None  # registered as mantis_lake (db/lake_source.py)
    step: int = 0
    checked: list[str] = field(default_factory=list)  # Parquet files searched for rivals
    skipped: dict[str, int] = field(default_factory=dict)  # bad lines found in checkpoints
    several: bool = False  # several data dirs: skipped lines are named by path (shard_name)
    _shared: list[int] | None = None
    #: lake months gathered but not searched for rivals yet; searched; the last step searched
    _lake_new: list[str | None] = field(default_factory=list)
    _lake_searched: list[str | None] = field(default_factory=list)
    _lake_seen: int = 0
    after: planning.After = field(default_factory=planning.After)  # files after q.before
    jsonl_read: list[str] = field(default_factory=list)  # JSONL files read (for rows' details)

    def run(self) -> StatsResult:
        """The percentiles of the newest --last matching runs."""
        answer = self.gather(in_place=True) or self.finish()
        return answer.get(None) or self.one([], None, self.skipped_lines())

    def run_grouped(self) -> GroupedStats:
        """The newest --last matching runs, split by the query's attribute."""
        q = self.query
        assert q.group_by is not None
        answer = self.gather(in_place=False) or self.finish()
        groups = [StatsGroup(value, r) for value, r in answer.items()]
        groups.sort(key=lambda g: (-g.stats.run_count, g.value is None, g.value or ""))
        return GroupedStats(workflow_id=q.workflow_id, group_by=q.group_by,
                            run_count=sum(g.stats.run_count for g in groups), status=q.status,
                            last=q.last, since=q.since, groups=groups,
                            skipped_lines=self.skipped_lines())

    def rows(self, attributes: Sequence[str] = (), *,
             details: bool = False) -> dict[str, dict[str, Any]]:
        """The matching dated runs themselves, one per run, as numpy columns keyed by rowid
        (``row``), in no particular order: ``runs`` (stats_rows: no Arrow, no Python object
        per value), ``other`` (stats_rows_other, only when a run has other buckets), each
        of ``attributes`` (stats_rows_attribute), and with ``details`` the run_id, error and
        extra of each run's winning copy (``details``: ``rows_details``)."""
        self.gather(in_place=False)
        q = self.query
        runs = self.count(at_least=None, above=None)[0]
        if runs > q.last:
            self.con.execute(load("stats_drop_rivals"), {"workflow_id": q.workflow_id})
            self.con.execute(load("stats_keep_newest"), {"last": q.last, **q.chosen})
        params = {"workflow_id": q.workflow_id, **q.chosen}
        out = {"runs": self.con.execute(load("stats_rows"), params).fetchnumpy()}
        if out["runs"]["has_other"].any():
            out["other"] = self.con.execute(load("stats_rows_other"), params).fetchnumpy()
        for name in attributes:
            out[name] = self.con.execute(load("stats_rows_attribute"),
                                         {**params, "attribute": name}).fetchnumpy()
        if details:
            out["details"] = self.rows_details(params)
        return out

    def rows_details(self, params: dict[str, Any]) -> dict[str, Any]:
        """(row, run_id, error, extra) of the runs ``rows`` returns (``params``: its filters):
        the files already read are searched again for the chosen runs' copies (the candidates
        never hold error and extra, so `stats` and `compare` do not read them), ranked by the
        copy order (stats_details_table)."""
        self.find_details(params)
        return self.con.execute(load("stats_rows_details"), params).fetchnumpy()

    def find_details(self, params: dict[str, Any], *, parquet: bool = True) -> None:
        """Fill mantis_details with the copies of the chosen runs (``params``: workflow_id and
        the filters) in the files read: Parquet (unless not ``parquet``) and JSONL; then
        mantis_winning_details ranks them."""
        self.con.execute(load("stats_details_table"))
        self.con.execute(load("macro_winning_details"))
        if parquet and self.checked:
            self.con.execute(load("stats_details_parquet"), {**params, "files": self.checked})
        if self.jsonl_read:
            self.con.execute(load("macro_bad_line"))
            columns = schema.duckdb_columns()
            keys = ("run_id", "workflow_id", "status", "finished_at", "total_time_s", "error")
            self.con.execute(load("stats_details_jsonl"), {
                **params, "files": self.jsonl_read,
                "structure": json.dumps({k: columns[k] for k in keys}),
                "known": json.dumps(dict.fromkeys(schema.FIELD_NAMES))})
        if self.lake is not None:
            self.lake_details(params)

    def gather(self, *, in_place: bool) -> Answer | None:
        """Read months newest first until the newest --last runs are decided; with
        ``in_place``, a whole history whose run_ids never repeat is answered at once (the
        result), without gathering its rows."""
        q = self.query
        self.con.execute(load("stats_candidates_table"), {"known_struct": schema.known_struct()})
        self.con.execute(load("macro_chosen"))  # the call's filters, over the new table
        todo, self.after = planning.plan_before(self.con, self.months, self.live, q.since, q.before)
        self.skipped.update(self.after.skipped(self.several))  # of shards left unread
        # In place needs every matching row to count; `before` applies after dedupe, so not then.
        # A lake may hold several copies of a run: in place only from its files, once proven.
        if in_place and (in_lake := self.lake_whole(todo)) is not None:
            return self.result(*in_lake)
        whole = (in_place and q.before is None and q.group_by is None and self.lake is None
                 and q.last > CUTOFF_MAX_LAST
                 and may_fit(self.con, todo, q))
        got, per_month = 0, 0.0
        while todo:
            take = planning.batch_size(todo, got, per_month, q.last, whole)
            chunk, todo = todo[:take], todo[take:]
            if whole and not todo and got == 0:
                done = self.whole_batch(chunk)
                if done is not None:
                    return done
            else:
                self.batch(chunk, planning.horizon(todo))
            horizon = planning.horizon(todo)
            _, dated, decided = self.count(at_least=None, above=horizon.above)
            before, got = got, dated
            per_month = max(per_month, (got - before) / len(chunk))
            if horizon.can_stop and decided >= q.last:
                break
        return None

    # -- steps ---------------------------------------------------------------------------------

    def batch(self, chunk: list[MonthSource], horizon: planning.Horizon) -> None:
        """Gather a batch of months: every JSONL row, and the workflow's Parquet rows from a
        cutoff (the rest only when the cutoff's rows do not decide the answer)."""
        jsonl, parts = self.files(chunk)
        self.collect_jsonl(jsonl)
        if not self.batch_lake(chunk, horizon, alone=not (parts or jsonl)):
            self.collect_parquet_rows(parts, horizon)

    def whole_batch(self, chunk: list[MonthSource]) -> Answer | None:
        """Every month at once: in place when the run_ids provably never repeat (whole), else
        the general path over the same files."""
        jsonl, parts = self.files(chunk)
        self.collect_jsonl(jsonl)
        self.resolve_rivals(parts)
        in_place = whole_history(self.con, parts, self.query, self.shared_run_ids,
                                 [p for m in chunk for p in m.parquet])
        if in_place is not None:
            rows, failures = in_place
            return self.result(rows, failures)
        self.collect_parquet_rows(parts, planning.Horizon(can_stop=True, latest=None))
        return None

    def files(self, chunk: list[MonthSource]) -> tuple[list[str], list[str]]:
        """The batch's JSONL and Parquet files, as DuckDB takes them; the bad lines of its
        checkpointed bytes are counted as skipped."""
        for m in chunk:
            self.skipped.update(bad_lines.checkpointed(m, self.several))
        return ([duckdb_path(p) for m in chunk for p in m.jsonl],
                [duckdb_path(p) for m in chunk for p in m.parquet])

    def collect_jsonl(self, files: list[str]) -> None:
        if not files:
            return
        self.jsonl_read += files
        self.step += 1
        self.con.execute(load("stats_collect_jsonl"), {
            **self.query.common, "files": files, "step": self.step,
            "columns": jsonl_bounds.columns(),  # the shard summaries read with these too
            "known": list(schema.KNOWN_BUCKETS), "known_struct": schema.known_struct()})

    def collect_parquet_rows(self, parts: list[str], horizon: planning.Horizon) -> None:
        """The workflow's rows of ``parts``: from a cutoff first when --last is small (a
        streaming top-k), then the rest only if those do not decide the answer."""
        self.from_cutoff(horizon, "stats_cutoff" if parts else None, {"files": parts},
                         lambda at_least, before: self.collect_parquet(
                             parts, at_least=at_least, before=before),
                         lambda: self.resolve_rivals(parts))

    def from_cutoff(self, horizon: planning.Horizon, cutoff_sql: str | None,
                    where: dict[str, Any], gather: Callable[[str | None, str | None], None],
                    rivals: Callable[[], None]) -> None:
        """``gather`` the rows at or after a cutoff (``cutoff_sql`` over the files ``where``
        names; None: nothing to gather) when few runs are missing, their rivals and dedupe;
        then the rows before the cutoff only if those do not decide the answer."""
        q = self.query
        cutoff = None
        if cutoff_sql is not None:
            remaining = q.last - self.count(at_least=None, above=None)[1]
            if 0 < remaining <= CUTOFF_MAX_LAST:
                row = self.con.execute(load(cutoff_sql), {
                    **q.common, **q.chosen, **where, "k": 2 * remaining}).fetchone()
                cutoff = row[0] if row else None
            gather(cutoff, None)
        rivals()
        self.dedupe()
        if cutoff is not None and not self.enough(cutoff, horizon):
            gather(None, cutoff)
            rivals()
            self.dedupe()

    def collect_parquet(self, files: list[str], *, at_least: str | None,
                        before: str | None) -> None:
        self.step += 1
        self.con.execute(load("stats_collect_parquet"), {
            **self.query.common, "files": files, "step": self.step,
            "at_least": at_least, "before": before})

    def shared_ids(self) -> list[int]:
        """Hashes of run_ids with copies in two Parquet files of the store (cached)."""
        if self._shared is None:
            self._shared = shared_ids(self.con, self.parquet_files())
        return self._shared

    def shared_run_ids(self) -> list[str]:
        """The run_ids with more than one copy among the store's Parquet files (cached)."""
        return shared_run_ids(self.con, self.parquet_files())

    def parquet_files(self) -> list[Path]:
        """Every Parquet file of the snapshot: compacted parts and live checkpoints."""
        return ([p for mf in self.months for p in mf.parts]
                + [lr.parquet for lr in self.live.values()])

    def resolve_rivals(self, parts: list[str]) -> None:
        """Gather the copies under other workflows, in Parquet files, of the runs gathered so
        far: new files against every run, files searched before against the newest runs."""
        new = [p for p in parts if p not in self.checked]
        if new:
            self._rivals(new, min_step=None)
        if self.checked:
            self._rivals(self.checked, min_step=self.step)
        self.checked += new
        self.after.check(self.con, self.query.workflow_id, self.step, self.shared_ids)
        if self.lake is not None:
            self.lake_rivals()

    def _rivals(self, files: list[str], *, min_step: int | None) -> None:
        q = self.query
        params = {"workflow_id": q.workflow_id, "min_step": min_step,
                  "shared": self.shared_ids()}
        lo, hi = self.con.execute(load("stats_rival_range"), params).fetchall()[0]
        if lo is None:
            return
        self.con.execute(load("stats_rivals"), {**params, **q.common, "files": files,
                                                 "step": self.step, "lo": lo, "hi": hi})

    def dedupe(self) -> None:
        """Leave one copy of each run_id (a no-op scan when there are none)."""
        dup = self.con.execute(load("stats_duplicates")).fetchone()
        if dup is not None and dup[0]:
            self.con.execute(load("stats_dedupe"))

    def count(self, *, at_least: str | None, above: str | None) -> tuple[int, int, int]:
        """(runs, dated, decided) of the workflow with the status, after dedupe (stats_count)."""
        (row,) = self.con.execute(load("stats_count"), {
            "workflow_id": self.query.workflow_id, **self.query.chosen,
            "at_least": at_least, "above": above}).fetchall()  # one row, read to the end
        return int(row[0]), int(row[1]), int(row[2])

    def enough(self, cutoff: str, horizon: planning.Horizon) -> bool:
        """Whether the rows at or after ``cutoff`` already decide the newest --last runs.

        They hold every row with finished_at >= cutoff of the files read, and the unread rows
        (this batch's Parquet rows before the cutoff, and unread months) are all older than a
        run counted here, so they can neither beat its copy nor rank before it.
        """
        if not horizon.can_stop:
            return False
        return self.count(at_least=cutoff, above=horizon.above)[2] >= self.query.last

    def finish(self) -> Answer:
        """Drop the rivals, keep the newest --last runs, and compute the percentiles."""
        q = self.query
        self.con.execute(load("stats_drop_rivals"), {"workflow_id": q.workflow_id})
        grouping = {**q.chosen, "group_by": q.group_by}
        failures = self.con.execute(load("stats_failures"),
                                    {**grouping, "last": q.last}).fetchall()
        runs = self.count(at_least=None, above=None)[0]
        if runs > q.last:
            self.con.execute(load("stats_keep_newest"), {"last": q.last, **q.chosen})
        cursor = self.con.execute(load("stats_percentiles"), {
            **grouping, "buckets": q.buckets, "known": list(schema.KNOWN_BUCKETS),
            "quantiles": list(QUANTILES), "with_sample": q.ci})
        names = [d[0] for d in cursor.description or []]
        return self.result(fetched_rows(names, cursor.fetchall()), failures)

    def result(self, rows: list[PercentileRow], failures: list[tuple[Any, ...]]) -> Answer:
        """One typed result per group (None: ungrouped) from percentile rows and failure rows
        (grp, since, failed, runs)."""
        skipped = self.skipped_lines()
        by_group: dict[str | None, list[PercentileRow]] = {}
        for row in rows:
            by_group.setdefault(row.grp, []).append(row)
        rates = {grp: FailureRate(since, int(failed), int(runs))
                 for grp, since, failed, runs in failures if since is not None and runs}
        return {grp: self.one(by_group.get(grp, []), rates.get(grp), skipped)
                for grp in [*by_group, *(g for g in rates if g not in by_group)]}

    def one(self, rows: list[PercentileRow], failures: FailureRate | None,
            skipped: dict[str, int]) -> StatsResult:
        """The typed result of one group's percentile rows (none: no run matched)."""
        q = self.query
        total, ordered, count = bucket_stats(rows, q.buckets)
        return StatsResult(workflow_id=q.workflow_id, run_count=count, status=q.status,
                           last=q.last, since=q.since, buckets=ordered, total=total,
                           skipped_lines=skipped, failures=failures)

    def skipped_lines(self) -> dict[str, int]:
        """Bad lines per shard (stats/skipped.py): of checkpointed bytes, and of the JSONL read."""
        return bad_lines.per_shard(self.skipped, self.con.execute(load("stats_skipped")).fetchall(),
                                 self.live, self.several)
