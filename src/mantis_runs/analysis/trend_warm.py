"""Trend's closed-month memo filled after a compaction (docs/trend.md, "Closed months from the
memo"), so the first daily `trend` of a workflow by the same user finds the months compacted.

``warm`` is called by `mantis runs compact` once the compaction has returned (its lock
released): compaction does not import analysis (ARCHITECTURE.md, the wings). For each runs month
compacted, each workflow with a row in its parts is asked the default question (trend's
default status, every bucket, days) over exactly that month, by trend's own steps:
``trend_memo.plan`` picks the month (closed, parts final, footers proving its rows),
``trend_fast.read_proven`` reads it in place, ``trend_fast.day_metrics`` computes its days and
``trend_fast.keep_days`` keeps them, as a `trend` would have. The month is read on one snapshot
and proven once for all its workflows (``_proven``: ``stats.whole.proven_files``, then no copy
of a run and no JSONL row of the month that another workflow's proof would have to weigh), then
each workflow read and kept in turn; a month not proven at once is asked workflow by workflow
(``keep_month``), as before. A cache: any failure is swallowed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..log.layout import month_start, next_month

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.engine import Collector
    from . import trend_memo
    from .trend_fast import PlacedRuns


def warm(data_dir: Path, months: Iterable[str]) -> int:
    """Keep the memo entries of ``months`` (runs months of ``data_dir`` just compacted) for
    every workflow with a row in them; the number of workflow-months looked at. Never fails."""
    from . import trend_memo

    done = 0
    if not trend_memo.ENABLED:
        return done
    for month in months:
        with contextlib.suppress(Exception):  # a cache: trend computes what it does not find
            done += _warm_month(data_dir, month)
    return done


def _warm_month(data_dir: Path, month: str) -> int:
    """Every workflow of the month's parts kept on one snapshot (``_keep_all``) or, when the
    month is not proven once for all of them, each on its own (``keep_month``)."""
    from ..db.lake_source import sources_of
    from ..stats.engine import collect
    from .runs import runs_query

    start, end = month_start(month), month_start(next_month(month))
    # the workflows are listed on its connection, then each asked with a query of its own
    found, done = collect(sources_of(data_dir), runs_query("", start=start, end=end),
                          lambda c: _keep_all(c, month, start, end))
    if not done:
        for workflow_id in found:
            with contextlib.suppress(Exception):
                keep_month(data_dir, workflow_id, start, end)
    return len(found)


def _keep_all(c: Collector, month: str, start: datetime, end: datetime) -> tuple[list[str], bool]:
    """The workflows with a row in the month's parts (one read of workflow_id), and whether
    they were kept here: the month proven once (``_proven``), then each workflow read in place
    (``read_proven``, its own read of the parts) and kept."""
    from ..db.connection import duckdb_path
    from ..db.engine import OutOfMemoryException
    from ..db.sqlfiles import load
    from ..stats.engine import Collector
    from .runs import runs_query
    from .trend_fast import read_proven

    mf = next((m for m in c.months if m.month == month), None)
    if mf is None or mf.sealed or not mf.parts:
        return [], True
    found = [str(w) for (w,) in c.con.execute(load("trend_month_workflows"), {
        "files": [duckdb_path(p) for p in mf.parts]}).fetchall()]
    queries = [runs_query(w, start=start, end=end) for w in found]
    if not queries:
        return found, True
    first = Collector(c.con, queries[0], c.months, c.live, c.lake, several=c.several)
    parts = _proven(first, end)
    if parts is None:
        return found, False
    parts, skipped = _before(first, parts, end), first.skipped_lines()
    for q in queries:
        try:
            keep(read_proven(first, parts, q.common, end, _ask(q.workflow_id, start, end),
                             skipped))
        except OutOfMemoryException:
            raise  # collect asks again with a larger limit, as for each workflow on its own
        except Exception:  # a cache: this workflow's trend computes its month
            continue
    return found, True


def _proven(c: Collector, end: datetime) -> list[str] | None:
    """The parts every workflow of the month reads in place, proven once: ``proven_files`` for
    the Collector's workflow (its JSONL runs gathered with their breakdowns), and then no
    Parquet row of another copy of a run gathered or shared (``trend_month_overlap``: no
    workflow has a rival or an overlap) and no JSONL row of another workflow in the month
    (gathered without its breakdowns); None: each workflow is proven on its own."""
    from ..db.sqlfiles import load
    from ..stats.whole import proven_files

    parts = proven_files(c)
    if parts is None:
        return None
    (gathered, others), = c.con.execute(load("trend_month_gathered"), {
        "workflow_id": c.query.workflow_id, "end": end.isoformat()}).fetchall()
    if others:
        return None
    ids = c.shared_run_ids()
    if gathered or ids:
        (overlap,), = c.con.execute(load("trend_month_overlap"), {
            "files": parts, "since": c.query.common["since"], "shared_ids": ids}).fetchall()
        if overlap:
            return None
    return parts


def _before(c: Collector, parts: list[str], end: datetime) -> list[str]:
    """Those of ``parts`` that may hold a row finished before ``end``, which is all the read
    of a month takes: not those whose footers prove every dated row finished at or after it
    (``stats.plan.plan_before``: its ``After``), the later months' parts."""
    from ..stats.plan import plan_before

    after = set(plan_before(c.con, c.months, c.live, c.query.since, end)[1].files)
    return [p for p in parts if p not in after]


def keep_month(data_dir: Path, workflow_id: str, start: datetime, end: datetime) -> None:
    """The memo entry of ``workflow_id``'s month [start, end) for the default question, kept
    when the memo may hold it (written again when it does: the same numbers), on a snapshot of
    its own."""
    from ..db.lake_source import sources_of
    from ..stats.engine import collect
    from .runs import runs_query
    from .trend_fast import read_in_place

    ask = _ask(workflow_id, start, end)
    runs = collect(sources_of(data_dir), runs_query(workflow_id, start=start, end=end),
                   lambda c: read_in_place(c, end, ask))
    if runs is not None:  # else not proven in place
        keep(runs)


def keep(runs: PlacedRuns) -> None:
    """The entry of the month read (``runs.memo``: its plan, of a month asked alone) kept when
    the memo may hold it: its days by ``day_metrics``, kept by ``keep_days``, as `trend` does."""
    import numpy as np

    from . import trend_memo
    from .trend import DAILY
    from .trend_fast import day_metrics, keep_days, wanted

    if runs.memo is None or trend_memo.Keeper.of(runs.memo) is None:
        return  # not a month the memo may hold
    ask = runs.memo.ask
    days = np.arange(ask.first_day, ask.end_day, dtype=np.int64)
    keep_days(runs, day_metrics(runs, wanted(runs.code, ask.status), days, DAILY, ask.status,
                                None), ask.first_day)


def _ask(workflow_id: str, start: datetime, end: datetime) -> trend_memo.Ask:
    """The default question (``trend``'s default status, every bucket) over [start, end)."""
    from . import trend_memo
    from .trend import DEFAULT_STATUS, _day_of

    return trend_memo.Ask(workflow_id, DEFAULT_STATUS, None, _day_of(start), _day_of(end))
