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

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from ..db.connection import PathLike, connect, duckdb_path, query_failed, snapshot
from ..db.shared_ids import shared_ids
from ..db.sqlfiles import load
from ..errors import UsageError
from ..log import schema
from ..log.checkpoint import LiveRead
from ..log.layout import MonthFiles, resolve_data_dir
from ..log.schema import TERMINAL_STATUSES
from ..log.timewindow import normalise_status, resolve_since
from . import plan as planning
from .plan import CUTOFF_MAX_LAST, MonthSource
from .result import QUANTILES, BucketStats, StatsResult
from .sources import live_reads, tail_scratch
from .whole import may_fit, whole_history

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

T = TypeVar("T")

__all__ = ["BucketStats", "StatsQuery", "StatsResult", "checked_status", "stats"]


def checked_status(status: str | None) -> str | None:
    """A status filter as every reader takes it: None or "" is every terminal status (None),
    else one of ``schema.TERMINAL_STATUSES``; anything else is a UsageError naming them (a typo
    must not read as "no such runs")."""
    status = normalise_status(status)
    if status is not None and status not in TERMINAL_STATUSES:
        known = ", ".join(repr(s) for s in TERMINAL_STATUSES)
        raise UsageError(f"status must be {known} or '' (every status), got {status!r}")
    return status


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

    @property
    def common(self) -> dict[str, Any]:
        """The parameters every collecting query binds."""
        since = self.since.isoformat() if self.since is not None else None
        return {"workflow_id": self.workflow_id, "since": since}

    @property
    def chosen(self) -> dict[str, Any]:
        """The filters applied to each run's winning copy, after dedupe."""
        before = self.before.isoformat() if self.before is not None else None
        return {"status": self.status, "finished_before": before}


def stats(
    workflow_id: str,
    *,
    data_dir: PathLike | None = None,
    last: int = 100,
    since: str | datetime | None = None,
    status: str | None = "succeeded",
    buckets: Sequence[str] | None = None,
    now: datetime | None = None,
    memory_limit: str | None = None,
    before: datetime | None = None,
) -> StatsResult:
    """p50/p95/p99 per wall-time bucket over the newest ``last`` matching runs of a workflow.

    ``status`` None or "" includes every terminal status, else it is "succeeded" or "failed".
    ``since`` is a duration (``7d``), an ISO date/datetime, or a datetime. ``before`` (a datetime;
    naive = UTC) keeps only runs that finished before it: the runs that came before a given run
    (``RunStore.report``'s baseline); undated runs are left out then. ``buckets`` restricts the
    buckets; total_time_s is always there. ``memory_limit`` (a DuckDB limit such as
    ``"400MB"``) replaces the automatic limits: it is the only one tried.
    """
    if last < 1:
        raise UsageError(f"last must be at least 1, got {last}")
    base = resolve_data_dir(data_dir)
    query = StatsQuery(workflow_id=workflow_id, last=last, since=resolve_since(since, now),
                       status=checked_status(status),
                       buckets=list(dict.fromkeys(buckets)) if buckets else None,
                       before=resolve_since(before))
    return collect(base, query, Collector.run, memory_limit=memory_limit)


def collect(base: Path, query: StatsQuery, step: Callable[[Collector], T], *,
            memory_limit: str | None = None) -> T:
    """``step`` over a Collector of ``query`` on the store ``base``, in one snapshot: with the
    live shards' checkpoints and tails, and a larger memory limit after running out (unless
    ``memory_limit`` fixes it)."""
    scratch = tail_scratch()
    months: list[MonthFiles] = []
    try:
        with snapshot(base) as found:
            months = list(found.values())
            live = live_reads(base, months, scratch)
            limit = memory_limit or planning.initial_limit(months, query.last)
            while True:
                con = connect(memory_limit=limit)
                try:
                    return step(Collector(con, query, months, live))
                except duckdb.OutOfMemoryException:
                    bigger = None if memory_limit else planning.bigger_limit(limit)
                    if bigger is None:
                        raise
                    limit = bigger
                finally:
                    con.close()
    except duckdb.Error as exc:
        raise query_failed(exc, months) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Collector:
    """One `stats` call over one connection: gathers candidates batch by batch (module doc)."""

    con: duckdb.DuckDBPyConnection
    query: StatsQuery
    months: list[MonthFiles]
    live: dict[Path, LiveRead]
    step: int = 0
    checked: list[str] = field(default_factory=list)  # Parquet files searched for rivals
    skipped: dict[str, int] = field(default_factory=dict)  # bad lines found in checkpoints
    _shared: list[int] | None = None

    def run(self) -> StatsResult:
        """The percentiles of the newest --last matching runs."""
        return self.gather(in_place=True) or self.finish()

    def rows(self) -> pa.Table:
        """The matching runs themselves (stats_rows), one row per run, oldest first."""
        self.gather(in_place=False)
        self.con.execute(load("stats_drop_rivals"), {"workflow_id": self.query.workflow_id})
        runs = self.count(at_least=None, above=None)[0]
        if runs > self.query.last:
            self.con.execute(load("stats_keep_newest"), {"last": self.query.last,
                                                         **self.query.chosen})
        return self.con.sql(load("stats_rows"), params=self.query.chosen).to_arrow_table()

    def gather(self, *, in_place: bool) -> StatsResult | None:
        """Read months newest first until the newest --last runs are decided; with
        ``in_place``, a whole history whose run_ids never repeat is answered at once (the
        result), without gathering its rows."""
        q = self.query
        self.con.execute(load("stats_candidates_table"), {"known_struct": schema.known_struct()})
        todo = planning.plan(self.con, self.months, self.live, q.since)
        # In place needs every matching row to count; `before` applies after dedupe, so not then.
        whole = (in_place and q.before is None and q.last > CUTOFF_MAX_LAST
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
        self.collect_parquet_rows(parts, horizon)

    def whole_batch(self, chunk: list[MonthSource]) -> StatsResult | None:
        """Every month at once: in place when the run_ids provably never repeat (whole), else
        the general path over the same files."""
        jsonl, parts = self.files(chunk)
        self.collect_jsonl(jsonl)
        self.resolve_rivals(parts)
        in_place = whole_history(self.con, parts, self.query, self.shared_ids())
        if in_place is not None:
            rows, runs = in_place
            return self.result(rows, run_count=runs)
        self.collect_parquet_rows(parts, planning.Horizon(can_stop=True, latest=None))
        return None

    def files(self, chunk: list[MonthSource]) -> tuple[list[str], list[str]]:
        """The batch's JSONL and Parquet files, as DuckDB takes them; the bad lines of its
        checkpointed bytes are counted as skipped."""
        for m in chunk:
            self.skipped.update(m.checkpointed_bad)
        return ([duckdb_path(p) for m in chunk for p in m.jsonl],
                [duckdb_path(p) for m in chunk for p in m.parquet])

    def collect_jsonl(self, files: list[str]) -> None:
        if not files:
            return
        self.step += 1
        self.con.execute(load("stats_collect_jsonl"), {
            **self.query.common, "files": files, "step": self.step,
            "columns": schema.duckdb_columns(maps_as_json=True),
            "known": list(schema.KNOWN_BUCKETS), "known_struct": schema.known_struct()})

    def collect_parquet_rows(self, parts: list[str], horizon: planning.Horizon) -> None:
        """The workflow's rows of ``parts``: from a cutoff first when --last is small (a
        streaming top-k), then the rest only if those do not decide the answer."""
        q = self.query
        cutoff = None
        if parts:
            remaining = q.last - self.count(at_least=None, above=None)[1]
            if 0 < remaining <= CUTOFF_MAX_LAST:
                row = self.con.execute(load("stats_cutoff"), {
                    **q.common, **q.chosen, "files": parts, "k": 2 * remaining}).fetchone()
                cutoff = row[0] if row else None
            self.collect_parquet(parts, at_least=cutoff, before=None)
        self.resolve_rivals(parts)
        self.dedupe()
        if cutoff is not None and not self.enough(cutoff, horizon):
            self.collect_parquet(parts, at_least=None, before=cutoff)
            self.resolve_rivals(parts)
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
            every = [p for mf in self.months for p in mf.parts]
            every += [lr.parquet for lr in self.live.values()]
            self._shared = shared_ids(self.con, every)
        return self._shared

    def resolve_rivals(self, parts: list[str]) -> None:
        """Gather the copies under other workflows, in Parquet files, of the runs gathered so
        far: new files against every run, files searched before against the newest runs."""
        new = [p for p in parts if p not in self.checked]
        if new:
            self._rivals(new, min_step=None)
        if self.checked:
            self._rivals(self.checked, min_step=self.step)
        self.checked += new

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

    def finish(self) -> StatsResult:
        """Drop the rivals, keep the newest --last runs, and compute the percentiles."""
        q = self.query
        self.con.execute(load("stats_drop_rivals"), {"workflow_id": q.workflow_id})
        runs = self.count(at_least=None, above=None)[0]
        if runs > q.last:
            self.con.execute(load("stats_keep_newest"), {"last": q.last, **q.chosen})
        rows = self.con.execute(load("stats_percentiles"), {
            **q.chosen, "buckets": q.buckets, "known": list(schema.KNOWN_BUCKETS),
            "quantiles": list(QUANTILES)}).fetchall()
        return self.result(rows, run_count=None)

    def result(self, rows: list[tuple[Any, ...]], *, run_count: int | None) -> StatsResult:
        """The typed result from percentile rows (kind, bucket, n, run_count, [p50, p95, p99])."""
        q = self.query
        total = BucketStats(schema.TOTAL_BUCKET, 0, None, None, None)
        found: dict[str, BucketStats] = {}
        for kind, bucket, n, count, qs in rows:
            p50, p95, p99 = (None, None, None) if qs is None else (qs[0], qs[1], qs[2])
            bs = BucketStats(bucket, int(n), p50, p95, p99)
            if kind == "total":
                total = bs
                if count is not None:
                    run_count = int(count)
            elif bucket != schema.TOTAL_BUCKET:  # the name is reserved for the run's own total
                found[bucket] = bs
        for name in q.buckets or ():
            if name != schema.TOTAL_BUCKET:  # always reported, as the total
                found.setdefault(name, BucketStats(name, 0, None, None, None))
        ordered = sorted(found.values(),
                         key=lambda b: (b.p50 is None, -(b.p50 or 0.0), b.bucket))
        skipped = dict(self.skipped)
        for src, n in self.con.execute(load("stats_skipped")).fetchall():
            name = Path(src).name
            skipped[name] = skipped.get(name, 0) + int(n)
        return StatsResult(workflow_id=q.workflow_id, run_count=run_count or 0, status=q.status,
                           last=q.last, since=q.since, buckets=ordered, total=total,
                           skipped_lines=dict(sorted(skipped.items())))
