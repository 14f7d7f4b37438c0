"""``RunStore``: cross-run forensics from Python over live JSONL and compacted Parquet.

Every read sees each run once (a run_id written twice is one row), tolerates malformed lines (one
WARNING on the ``mantis_runs`` logger names the shards and counts), and only reads the months a
question can touch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from ..db import engine, lake_source, views
from ..db.cache import cache_root
from ..db.connection import (
    VIEW_MEMORY_LIMIT,
    PathLike,
    check_read_only,
    connect,
    lock_down,
)
from ..db.lake_source import DataDirs, Sources, sources_of
from ..db.sqlfiles import load
from ..errors import NotFound, UsageError
from ..log.integrity import check_parts
from ..log.layout import MonthFiles, resolve_data_dir
from ..log.timewindow import checked_status, resolve_since
from . import lookup
from .events import EventMethods, warn_skipped
from .insights import InsightMethods
from .rows import BucketLine, RunReport, RunRow, as_rows

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pyarrow as pa

    from ..analysis.compare import CompareResult, GroupedCompareResult
    from ..analysis.verdicts import Options
    from ..stats.engine import GroupedStats, Lent, StatsResult

T = TypeVar("T")


@dataclass(frozen=True)
class Baseline:
    """A report's baseline (None: the run has no workflow_id)."""

    stats: StatsResult | None


@dataclass(frozen=True)
class QueryResult:
    """A query's rows, and which of its columns are DuckDB JSON (Arrow sees them as text)."""

    table: pa.Table
    json_columns: list[str]


class RunStore(InsightMethods, EventMethods):
    """Run history in one data directory (see docs/python-api.md)."""

    #: Whether ``get`` and ``runs`` may take the shortcuts of store/lookup.py (the same
    #: answers from fewer bytes); False forces the general path (the agreement tests' reference).
    shortcuts: bool = True

    def __init__(self, data_dir: DataDirs = None) -> None:
        #: every data dir and lake read (``--data-dir`` given more than once, or a lake URI)
        self.sources = sources_of(data_dir)
        self.data_dir: Path = (self.sources.local[0] if self.sources.local
                               else resolve_data_dir(None))
        if self.sources != Sources([self.data_dir]):
            self.shortcuts = False  # store/lookup.py reads one data dir
        #: several data dirs: malformed lines are named by the shard's path (messages.shard_name)
        self._several = len(self.sources.local) > 1

    # -- connections ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self, months: Iterable[str] | None = None, *, lossless: bool = False
                 ) -> Iterator[tuple[engine.DuckDBPyConnection, dict[str, MonthFiles]]]:
        """A connection with the views over ``months`` (default: all), under the publish lock;
        with every month of the snapshot, by name. ``lossless``: DuckDB types that Arrow has
        no exact type for (UHUGEINT, TIMETZ, BIT) reach Arrow as extension types."""
        with lake_source.snapshot_all(self.sources) as found:
            check_parts([p for mf in found.values() for p in mf.parts])
            chosen = list(found.values()) if months is None else [
                found[m] for m in months if m in found]
            con = self._viewed(found, chosen, lossless=lossless)
            try:
                yield con, found
            except engine.Error as exc:
                raise lake_source.read_failed(exc, found.values(), self.sources.lake()) from exc
            finally:
                con.close()
                views.close_reads(con)

    def connect(self) -> engine.DuckDBPyConnection:
        """A new DuckDB connection with ``runs``, ``run_buckets``, ``run_costs``,
        ``runs_bad_lines``, ``run_events`` and ``run_events_bad_lines`` over every month as of
        now (a snapshot: after a compaction or a new month, ask again). Locked down as
        ``sql()`` is: it reads only the snapshot's files, creates none, and its settings are
        fixed; your statements are yours, not checked (docs/sql.md)."""
        with lake_source.snapshot_all(self.sources) as found:
            check_parts([p for mf in found.values() for p in mf.parts])
            return self._viewed(found, list(found.values()))

    def _viewed(self, found: dict[str, MonthFiles], chosen: list[MonthFiles], *,
                lossless: bool = False) -> engine.DuckDBPyConnection:
        """A locked-down connection with the views over ``chosen``; the views' private copies
        (``views.prepare``) go with it (``views.close_reads``, or when it is collected)."""
        events = self._event_files()
        try:  # prepare reads the parts' run_ids (shared_ids) and the checkpoints
            reads = views.prepare(found.values()) if self.shortcuts else None
        except engine.Error as exc:
            raise lake_source.read_failed(exc, found.values(), self.sources.lake()) from exc
        try:
            con = _locked_connection(found, lossless=lossless, events=events, reads=reads)
        except BaseException:
            if reads is not None:
                reads.close()
            raise
        try:
            views.install(con, chosen, events, reads, several=self._several)
            lake_source.install_views(con, self.sources.lake(), chosen)
        except BaseException as exc:
            con.close()
            views.close_reads(con)
            if isinstance(exc, engine.Error):
                raise lake_source.read_failed(exc, found.values(), self.sources.lake()) from exc
            raise
        return con

    def relation(self) -> duckdb.DuckDBPyRelation:
        """The ``runs`` view as a DuckDB relation, for further SQL or ``.pl()``/``.arrow()``
        (on a ``connect()`` connection)."""
        engine.relational()
        return self.connect().sql(load("runs_all"))

    def sql(self, query: str) -> pa.Table:
        """Run one read-only SQL query over the views; the result as an Arrow table."""
        return self.query(query).table

    def query(self, query: str, *, lossless: bool = False) -> QueryResult:
        """``sql()`` plus the names of the result's JSON columns (Arrow sees them as text).

        One query (SELECT, FROM, WITH, VALUES, DESCRIBE, SUMMARIZE, SHOW, CALL, EXPLAIN): any
        other statement is a ``UsageError``, and the query reads no file but the store's and
        writes none (docs/sql.md). ``lossless`` keeps the values Arrow has no exact type for
        (UHUGEINT, TIMETZ, BIT) as DuckDB's Arrow extension types (for rendering them)."""
        with self._reading(lossless=lossless) as (con, found):
            statements = con.extract_statements(query)  # parser errors surface here
            if len(statements) > 1:  # DuckDB would run them all and return only the last result
                raise UsageError(f"one SQL statement at a time, got {len(statements)} (for "
                                 "scripts, use `mantis runs shell` or the SQL of `mantis runs "
                                 "views`)")
            if statements:
                check_read_only(con, statements[0])
            warn_skipped({**lookup.cached_bad_lines(con, found, self._several),  # and events'
                          **views.event_bad_lines(con, self._event_files())})
            engine.relational()
            rel = con.sql(query)
            if rel is None:  # DuckDB returns no relation for an empty query
                raise UsageError("the query is empty")
            json_columns = [name for name, t in zip(rel.columns, rel.types, strict=True)
                            if str(t) == "JSON"]
            return QueryResult(rel.to_arrow_table(), json_columns)

    def check_output(self, path: PathLike) -> None:
        """Raise ``UsageError`` when a result written to ``path`` would land inside the data
        dir or mantis's cache folder (the views' placeholders): a result file must never
        replace or add to what the store reads. Symbolic links are followed."""
        target = Path(os.path.realpath(path))
        for root, what in ((self.data_dir, "the data dir"), (cache_root(), "mantis's cache")):
            real = Path(os.path.realpath(root))
            if target == real or real in target.parents:
                raise UsageError(f"{path} is inside {what} ({root}): write results elsewhere")

    def bad_lines(self) -> dict[str, int]:
        """Malformed lines per JSONL shard."""
        with self._reading() as (con, _):
            return self._quiet_bad_lines(con)

    def _warn_bad_lines(self, con: engine.DuckDBPyConnection) -> dict[str, int]:
        bad = self._quiet_bad_lines(con)
        warn_skipped(bad)
        return bad

    # -- rows ----------------------------------------------------------------------------------

    @overload
    def runs(self, workflow_id: str | None = ..., *, last: int | None = ...,
             since: str | datetime | None = ..., status: str | None = ...,
             arrow: Literal[False] = ...) -> list[RunRow]: ...

    @overload
    def runs(self, workflow_id: str | None = ..., *, last: int | None = ...,
             since: str | datetime | None = ..., status: str | None = ...,
             arrow: Literal[True]) -> pa.Table: ...

    def runs(self, workflow_id: str | None = None, *, last: int | None = None,
             since: str | datetime | None = None, status: str | None = None,
             arrow: bool = False) -> list[RunRow] | pa.Table:
        """Runs newest first (finished_at, then run_id), with the CLI's filters.

        ``last`` None means all, else at least 1; ``status`` None or "" means every status, else
        "succeeded" or "failed" (anything else is a ``UsageError``).
        """
        answer, bad = self._runs(workflow_id, last=last, since=since, status=status,
                                 arrow=arrow)
        warn_skipped(bad)
        return answer if arrow else as_rows(answer)

    def _runs(self, workflow_id: str | None, *, last: int | None,
              since: str | datetime | None, status: str | None, arrow: bool = False,
              ) -> tuple[Any, dict[str, int]]:
        """``runs()`` as an Arrow table (``arrow``) or as the views' rows (``lookup.fetch``,
        without pyarrow), plus the malformed lines per shard it read past.

        The views rank every copy of a run (the copy order) and order runs by the newest
        order (db/sql/fragments/) over the months read so far; months are added newest first
        until the unread ones are proven to hold only older rows (stats.plan), so a run's
        winning copy and the newest runs are the same as over the whole store.
        """
        answer, bad, _ = self._newest(workflow_id, last=last, since=since, status=status,
                                      arrow=arrow)
        return answer, bad

    def _newest(self, workflow_id: str | None, *, last: int | None,
                since: str | datetime | None, status: str | None, arrow: bool = False,
                then: Callable[[dict[str, Any], lookup.Session], T] | None = None,
                ) -> tuple[Any, dict[str, int], T | None]:
        """``_runs``, and when the shortcut answers, ``then`` of the newest run in its session
        (``lookup.newest_runs``); None otherwise."""
        if last is not None and last < 1:
            raise UsageError(f"last must be at least 1, got {last}")
        since_dt = resolve_since(since)
        params = {"workflow_id": workflow_id, "status": checked_status(status),
                  "since": since_dt.isoformat() if since_dt else None, "limit": last}
        if self.shortcuts and not arrow:
            fast = lookup.newest_runs(self.data_dir, params, since_dt, then)
            if fast is not None:
                return fast
        with self._reading([]) as (con, found):
            def query(months: list[MonthFiles]) -> Any:
                views.set_files(con, months)
                if not arrow:
                    return lookup.fetch(con.execute(load("runs_select"), params))
                engine.relational()
                return con.sql(load("runs_select"), params=params).to_arrow_table()

            table, _ = lookup.read_newest(con, found, last, since_dt, query)
            return table, self._quiet_bad_lines(con), None

    @staticmethod
    def _quiet_bad_lines(con: engine.DuckDBPyConnection) -> dict[str, int]:
        return {str(s): int(n) for s, n in con.execute(load("bad_lines_select")).fetchall()}

    def get(self, run_id: str, *, warn: bool = True) -> RunRow | None:
        """One run by id (its winning copy), or None. ``warn=False``: no WARNING about
        malformed lines (for callers that poll)."""
        row, bad = self._get(run_id)
        if warn:
            warn_skipped(bad)
        return row

    def _get(self, run_id: str) -> tuple[RunRow | None, dict[str, int]]:
        """The run's winning copy over every month (a copy may lie in any shard), and the
        malformed lines read past. The run_id filter reaches the Parquet scans, which skip row
        groups by their run_id statistics."""
        row, bad, _ = self._found(run_id)
        return row, bad

    def _found(self, run_id: str,
               then: Callable[[dict[str, Any], lookup.Session], T] | None = None
               ) -> tuple[RunRow | None, dict[str, int], T | None]:
        """``_get``, and when the shortcut finds the run, ``then`` of its row in the lookup's
        session (``lookup.find_run``); None otherwise."""
        fast = lookup.find_run(self.data_dir, run_id, then) if self.shortcuts else None
        if fast is not None:
            rows, bad, extra = fast
        else:
            with self._reading() as (con, _):
                rows = lookup.fetch(con.execute(load("runs_by_id"), {"run_id": run_id}))
                bad = self._quiet_bad_lines(con)
            extra = None
        return (as_rows(rows)[0] if rows else None), bad, extra

    def latest(self, workflow_id: str | None = None) -> RunRow | None:
        rows = self.runs(workflow_id, last=1)
        return rows[0] if rows else None

    # -- aggregates ----------------------------------------------------------------------------

    def stats(self, workflow_id: str, *, last: int = 100, since: str | datetime | None = None,
              status: str | None = "succeeded", buckets: Sequence[str] | None = None,
              ci: bool = False) -> StatsResult:
        """p50/p95/p99 per bucket, n, rough marks, the failure rate and (``ci``) each
        percentile's 95 % interval; the same as ``mantis runs stats``."""
        from ..stats.engine import stats  # the engine loads when asked: lookups do not need it

        result = stats(workflow_id, data_dir=self.sources, last=last, since=since,
                       status=status, buckets=buckets, ci=ci)
        warn_skipped(result.skipped_lines)
        return result

    def grouped_stats(self, workflow_id: str, group_by: str, *, last: int = 100,
                      since: str | datetime | None = None, status: str | None = "succeeded",
                      buckets: Sequence[str] | None = None, ci: bool = False) -> GroupedStats:
        """``stats`` split by an attribute (model, plan_signature, profile_id or tenant_id): the
        same as ``mantis runs stats --group-by``."""
        from ..stats.engine import grouped_stats

        result = grouped_stats(workflow_id, group_by, data_dir=self.sources, last=last,
                               since=since, status=status, buckets=buckets, ci=ci)
        warn_skipped(result.skipped_lines)
        return result

    @overload
    def compare(self, workflow_id: str, *, baseline: str = ..., current: str = ...,
                baseline_filters: Mapping[str, str] | None = ...,
                current_filters: Mapping[str, str] | None = ..., status: str | None = ...,
                buckets: Sequence[str] | None = ..., options: Options | None = ...,
                group_by: None = ...) -> CompareResult: ...

    @overload
    def compare(self, workflow_id: str, *, baseline: str = ..., current: str = ...,
                baseline_filters: Mapping[str, str] | None = ...,
                current_filters: Mapping[str, str] | None = ..., status: str | None = ...,
                buckets: Sequence[str] | None = ..., options: Options | None = ...,
                group_by: str) -> GroupedCompareResult: ...

    def compare(self, workflow_id: str, *, baseline: str = "35d..7d", current: str = "7d",
                baseline_filters: Mapping[str, str] | None = None,
                current_filters: Mapping[str, str] | None = None,
                status: str | None = "succeeded", buckets: Sequence[str] | None = None,
                options: Options | None = None,
                group_by: str | None = None) -> CompareResult | GroupedCompareResult:
        """Regression verdicts of ``workflow_id``, the current window against the baseline;
        the same as ``mantis runs compare`` (numpy and scipy's tests, see docs/compare.md).
        With ``group_by`` (model, plan_signature, profile_id or tenant_id), one comparison per
        value of that attribute, largest group first (``GroupedCompareResult``)."""
        from ..analysis.compare import compare

        result = compare(workflow_id, data_dir=self.sources, baseline=baseline,
                         current=current, baseline_filters=baseline_filters,
                         current_filters=current_filters, status=status, buckets=buckets,
                         options=options, group_by=group_by)
        warn_skipped(result.skipped_lines)
        return result

    def report(self, run_id: str | None = None, *, baseline_runs: int = 100) -> RunReport:
        """A post-mortem of ``run_id`` (default: the newest run) against the newest
        ``baseline_runs`` succeeded runs of its workflow that finished before it (so never the
        run itself, nor runs that came after it; for a run with no finished_at, which ranks after
        every dated run, the workflow's newest runs).

        The report holds numbers only: a bucket, cost or total that is not a finite number (null,
        text or NaN in a hand-written line) is left out of the report's copy of the row, of its
        buckets and of ``cost_total``, as ``stats`` leaves it out of its samples (``get()``
        returns the row as stored)."""
        if baseline_runs < 1:
            raise UsageError(f"baseline_runs must be at least 1, got {baseline_runs}")
        # The engine loads now, while a connection made ahead for the lookup may still be
        # starting on its helper thread (db/connecting.py), rather than after it.
        from ..stats import engine  # noqa: F401

        def lent(row: dict[str, Any], s: lookup.Session) -> Baseline:
            return self._baseline(_numbers_only(as_rows([row])[0]), baseline_runs, s.lend())

        # One warning for the whole report: the run's months and the baseline's may overlap.
        if run_id is not None:
            found, bad, held = self._found(run_id, lent)
        else:
            newest, bad, held = self._newest(None, last=1, since=None, status=None, then=lent)
            found = as_rows(newest)[0] if newest else None
        if found is None:
            warn_skipped(bad)
            raise NotFound(f"no run {run_id!r} in {self.data_dir}" if run_id is not None
                           else f"no runs in {self.data_dir}")
        run = _numbers_only(found)
        base = held.stats if held is not None else self._baseline(run, baseline_runs).stats
        for shard, n in (base.skipped_lines if base else {}).items():
            bad[shard] = max(n, bad.get(shard, 0))  # the same shard read twice counts once
        warn_skipped(bad)
        ref = {b.bucket: b for b in base.buckets} if base else {}
        total = run["total_time_s"]
        lines: list[BucketLine] = []
        for bucket, secs in sorted((run["wall_time_breakdown"] or {}).items(),
                                   key=lambda kv: (-kv[1], kv[0])):
            b = ref.get(bucket)
            lines.append(BucketLine(
                bucket=bucket, seconds=secs,
                share=(secs / total) if total else None,
                p50=b.p50 if b else None, p95=b.p95 if b else None, n=b.n if b else 0))
        accounted = sum(x.seconds for x in lines)
        unaccounted = (total - accounted) if total is not None and total - accounted > 1e-9 \
            else None
        costs = run["cost_breakdown"] or {}
        return RunReport(run=run, buckets=lines, unaccounted_s=unaccounted, baseline=base,
                         cost_total=sum(costs.values()) if costs else None,
                         timeline=self._timeline(run["run_id"]))

    def _baseline(self, run: RunRow, baseline_runs: int, session: Lent | None = None
                  ) -> Baseline:
        """``report``'s baseline of ``run`` (its numbers only), on the lookup's ``session``
        when it found the run (stats.engine ``collect``)."""
        from ..stats.engine import stats  # the engine loads when asked: lookups do not need it

        return Baseline(stats(run["workflow_id"], data_dir=self.sources, last=baseline_runs,
                              before=run["finished_at"], session=session)
                        if run["workflow_id"] else None)

    # -- workflows -----------------------------------------------------------------------------

    def workflows(self) -> list[str]:
        """The workflow ids of the store's runs (each run's winning copy), sorted."""
        with self._reading() as (con, _):
            return [str(r[0]) for r in con.execute(load("workflows_select")).fetchall()]

    def similar_workflows(self, workflow_id: str, *, n: int = 3) -> list[str]:
        """For a ``workflow_id`` no run has: up to ``n`` workflow ids of the store that look like
        it, closest first (a hint for a typo). Empty when some run has it, or none is close."""
        import difflib

        known = self.workflows()
        if workflow_id in known:
            return []
        return difflib.get_close_matches(workflow_id, known, n=n)


def _numbers_only(run: RunRow) -> RunRow:
    """``run`` with only finite numbers in its breakdowns and total_time_s: the entries that are
    not (None from null or text, NaN, infinities) are left out, a total that is not is None."""
    from ..log.record import _finite_number as finite  # the writer's rule of a number

    clean = run.copy()
    for key in ("wall_time_breakdown", "cost_breakdown"):
        values = run[key]
        if values is not None:
            clean[key] = {k: float(v) for k, v in values.items() if finite(v)}
    if not finite(run["total_time_s"]):
        clean["total_time_s"] = None
    return clean


def _locked_connection(found: dict[str, MonthFiles], *, lossless: bool = False,
                       events: Iterable[Path] = (), reads: views.Reads | None = None
                       ) -> engine.DuckDBPyConnection:
    """A connection for the views that reads only the files of the snapshot ``found``, the
    events files ``events`` (and the views' placeholders, and the checkpoints and tail copies
    of ``reads``), creates none and has its settings fixed (``lock_down``)."""
    con = connect(memory_limit=VIEW_MEMORY_LIMIT)
    try:
        if lossless:  # before lock_down: no setting changes after it
            con.execute("SET arrow_lossless_conversion = true")
        lock_down(con, views.readable(found.values(), event_files=events, reads=reads))
    except BaseException:
        con.close()
        raise
    return con

