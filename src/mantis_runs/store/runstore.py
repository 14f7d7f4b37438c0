"""``RunStore``: cross-run forensics from Python over live JSONL and compacted Parquet.

Every read sees each run once (a run_id written twice is one row), tolerates malformed lines (one
WARNING on the ``mantis_runs`` logger names the shards and counts), and only reads the months a
question can touch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

import duckdb

from ..db import views
from ..db.connection import VIEW_MEMORY_LIMIT, PathLike, connect, query_failed, snapshot
from ..db.sqlfiles import load
from ..errors import NotFound, UsageError
from ..log.layout import MonthFiles, resolve_data_dir
from ..log.record import format_timestamp
from ..log.timewindow import normalise_status, resolve_since
from ..messages import skipped_lines
from ..stats import plan as planning
from ..stats.engine import StatsResult, stats

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

log = logging.getLogger("mantis_runs")



class RunRow(TypedDict):
    """One run as the ``runs`` view returns it (timestamps are aware UTC datetimes)."""

    schema_version: int | None
    run_id: str
    tenant_id: str | None
    profile_id: str | None
    workflow_id: str | None
    plan_signature: str | None
    model: str | None
    status: str | None
    created_at: datetime | None
    finished_at: datetime | None
    total_time_s: float | None
    wall_time_breakdown: dict[str, float] | None
    cost_breakdown: dict[str, float] | None
    steps_executed: int | None
    viable: int | None
    error: str | None
    extra: dict[str, Any] | None


@dataclass(frozen=True)
class BucketLine:
    """One bucket of one run, next to its workflow's recent distribution."""

    bucket: str
    seconds: float
    share: float | None  # of the run's total_time_s
    p50: float | None
    p95: float | None
    n: int  # runs in the baseline that had this bucket

    @property
    def verdict(self) -> str:
        if self.p95 is not None and self.seconds > self.p95:
            return "above p95"
        if self.p50 is not None and self.seconds > self.p50:
            return "above p50"
        return ""


@dataclass(frozen=True)
class RunReport:
    """A post-mortem of one run: the row, its buckets against the workflow's recent runs."""

    run: RunRow
    buckets: list[BucketLine]  # largest first
    unaccounted_s: float | None  # total_time_s minus the sum of buckets, when positive
    baseline: StatsResult | None  # recent succeeded runs of the same workflow
    cost_total: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run": row_to_json(self.run),
            "buckets": [{"bucket": b.bucket, "seconds": b.seconds, "share": b.share,
                         "p50": b.p50, "p95": b.p95, "n": b.n, "verdict": b.verdict}
                        for b in self.buckets],
            "unaccounted_s": self.unaccounted_s,
            "baseline": None if self.baseline is None else {
                "run_count": self.baseline.run_count, "status": self.baseline.status,
                "last": self.baseline.last,
                "total_time_s": self.baseline.total.as_dict()},
            "cost_total": self.cost_total,
        }


def row_to_json(row: RunRow) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for key in ("created_at", "finished_at"):
        v = out.get(key)
        if isinstance(v, datetime):
            out[key] = format_timestamp(v)
    return out


def _rows(table: pa.Table) -> list[RunRow]:
    rows: list[RunRow] = []
    for rec in table.to_pylist():
        for key in ("wall_time_breakdown", "cost_breakdown"):
            if rec.get(key) is not None:
                rec[key] = dict(rec[key])
        extra = rec.get("extra")
        if isinstance(extra, str):
            rec["extra"] = json.loads(extra)
        rows.append(rec)
    return rows


@dataclass(frozen=True)
class QueryResult:
    """A query's rows, and which of its columns are DuckDB JSON (Arrow sees them as text)."""

    table: pa.Table
    json_columns: list[str]


class RunStore:
    """Run history in one data directory (see docs/python-api.md)."""

    def __init__(self, data_dir: PathLike | None = None) -> None:
        self.data_dir: Path = resolve_data_dir(data_dir)

    # -- connections ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self, months: Iterable[str] | None = None) -> Iterator[
            tuple[duckdb.DuckDBPyConnection, dict[str, MonthFiles]]]:
        """A connection with the views over ``months`` (default: all), under the publish lock;
        with every month of the snapshot, by name."""
        with snapshot(self.data_dir) as found:
            chosen = list(found.values()) if months is None else [
                found[m] for m in months if m in found]
            con = connect(memory_limit=VIEW_MEMORY_LIMIT)
            try:
                views.install(con, chosen)
                yield con, found
            except duckdb.Error as exc:
                raise query_failed(exc, found.values()) from exc
            finally:
                con.close()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection with ``runs``, ``run_buckets``, ``run_costs`` and
        ``runs_bad_lines`` defined over every month as of now (a snapshot: after a compaction or
        a new month, ask again)."""
        with snapshot(self.data_dir) as found:
            con = connect(memory_limit=VIEW_MEMORY_LIMIT)
            views.install(con, found.values())
            return con

    def relation(self) -> duckdb.DuckDBPyRelation:
        """The ``runs`` view as a DuckDB relation, for further SQL or ``.pl()``/``.arrow()``."""
        return self.connect().sql(load("runs_all"))

    def sql(self, query: str) -> pa.Table:
        """Run one SQL query over the views; the result as an Arrow table."""
        return self.query(query).table

    def query(self, query: str) -> QueryResult:
        """``sql()`` plus the names of the result's JSON columns (Arrow sees them as text)."""
        with self._reading() as (con, _):
            statements = len(con.extract_statements(query))  # parser errors surface here
            if statements > 1:  # DuckDB would run them all and return only the last result
                raise UsageError(f"one SQL statement at a time, got {statements} (for scripts, "
                                 "use `mantis runs shell` or the SQL of `mantis runs views`)")
            self._warn_bad_lines(con)
            rel = con.sql(query)
            if rel is None:  # DuckDB returns no relation for an empty query
                raise UsageError("the query is empty")
            json_columns = [name for name, t in zip(rel.columns, rel.types, strict=True)
                            if str(t) == "JSON"]
            return QueryResult(rel.to_arrow_table(), json_columns)

    def bad_lines(self) -> dict[str, int]:
        """Malformed lines per JSONL shard."""
        with self._reading() as (con, _):
            return self._quiet_bad_lines(con)

    def _warn_bad_lines(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        bad = self._quiet_bad_lines(con)
        _warn(bad)
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

        ``last`` None means all; ``status`` None or "" means every status.
        """
        table, bad = self._runs(workflow_id, last=last, since=since, status=status)
        _warn(bad)
        return table if arrow else _rows(table)

    def _runs(self, workflow_id: str | None, *, last: int | None,
              since: str | datetime | None, status: str | None,
              ) -> tuple[pa.Table, dict[str, int]]:
        """``runs()`` as an Arrow table, plus the malformed lines per shard it read past.

        The views rank every copy of a run (mantis_copy_key) and order runs by
        mantis_newest_key over the months read so far; months are added newest first until the
        unread ones are proven to hold only older rows (stats.plan), so a run's winning copy and
        the newest runs are the same as over the whole store.
        """
        if last is not None and last < 1:
            raise UsageError(f"--last must be at least 1, got {last}")
        since_dt = resolve_since(since)
        params = {"workflow_id": workflow_id, "status": normalise_status(status),
                  "since": since_dt.isoformat() if since_dt else None, "limit": last}
        with self._reading([]) as (con, found):
            todo = planning.plan(con, list(found.values()), {}, since_dt)
            read: list[MonthFiles] = []
            got, per_month = 0, 0.0
            while True:
                take = (len(todo) if last is None
                        else planning.batch_size(todo, got, per_month, last, whole=False))
                chunk, todo = todo[:take], todo[take:]
                read += [found[m.month] for m in chunk]
                views.set_files(con, read)
                table = con.sql(load("runs_select"), params=params).to_arrow_table()
                before, got = got, table.num_rows
                per_month = max(per_month, (got - before) / max(len(chunk), 1))
                if not todo or (last is not None and _decided(table, last,
                                                              planning.horizon(todo))):
                    return table, self._quiet_bad_lines(con)

    @staticmethod
    def _quiet_bad_lines(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        return {str(s): int(n) for s, n in con.execute(load("bad_lines_select")).fetchall()}

    def get(self, run_id: str, *, warn: bool = True) -> RunRow | None:
        """One run by id (its winning copy), or None. ``warn=False``: no WARNING about
        malformed lines (for callers that poll)."""
        row, bad = self._get(run_id)
        if warn:
            _warn(bad)
        return row

    def _get(self, run_id: str) -> tuple[RunRow | None, dict[str, int]]:
        """The run's winning copy over every month (a copy may lie in any shard), and the
        malformed lines read past. The run_id filter reaches the Parquet scans, which skip row
        groups by their run_id statistics."""
        with self._reading() as (con, _):
            t = con.sql(load("runs_by_id"), params={"run_id": run_id}).to_arrow_table()
            bad = self._quiet_bad_lines(con)
        return (_rows(t)[0] if t.num_rows else None), bad

    def latest(self, workflow_id: str | None = None) -> RunRow | None:
        rows = self.runs(workflow_id, last=1)
        return rows[0] if rows else None

    # -- aggregates ----------------------------------------------------------------------------

    def stats(self, workflow_id: str, *, last: int = 100, since: str | datetime | None = None,
              status: str | None = "succeeded",
              buckets: Sequence[str] | None = None) -> StatsResult:
        """p50/p95/p99 per bucket; the same as ``mantis runs stats``."""
        result = stats(workflow_id, data_dir=self.data_dir, last=last, since=since,
                       status=status, buckets=buckets)
        _warn(result.skipped_lines)
        return result

    def report(self, run_id: str | None = None, *, baseline_runs: int = 100) -> RunReport:
        """A post-mortem of ``run_id`` (default: the newest run) against its workflow's newest
        ``baseline_runs`` succeeded runs."""
        # One warning for the whole report: the run's months and the baseline's may overlap.
        if run_id is not None:
            run, bad = self._get(run_id)
        else:
            table, bad = self._runs(None, last=1, since=None, status=None)
            run = _rows(table)[0] if table.num_rows else None
        if run is None:
            _warn(bad)
            raise NotFound(f"no run {run_id!r} in {self.data_dir}" if run_id is not None
                           else f"no runs in {self.data_dir}")
        base = (stats(run["workflow_id"], data_dir=self.data_dir, last=baseline_runs)
                if run["workflow_id"] else None)
        for shard, n in (base.skipped_lines if base else {}).items():
            bad[shard] = max(n, bad.get(shard, 0))  # the same shard read twice counts once
        _warn(bad)
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
                         cost_total=sum(costs.values()) if costs else None)


def _decided(table: pa.Table, last: int, horizon: planning.Horizon) -> bool:
    """Whether the newest ``last`` runs of the months read (``table``, newest first) are the
    newest of the whole store: there are ``last`` of them and the oldest is dated and newer
    than anything the unread months may hold."""
    if not horizon.can_stop or table.num_rows < last:
        return False
    oldest = table.column("finished_at")[last - 1].as_py()
    return oldest is not None and (horizon.latest is None or oldest > horizon.latest)


def _warn(bad: dict[str, int]) -> None:
    """The one WARNING of a read that skipped malformed lines: how many, in which shards."""
    text = skipped_lines(bad)
    if text:
        log.warning("%s", text)
