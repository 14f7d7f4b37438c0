"""Trend's closed-month memo filled after a compaction (docs/trend.md, "Closed months from the
memo"), so the first daily `trend` of a workflow by the same user finds the months compacted.

``warm`` is called by `mantis runs compact` once the compaction has returned (its lock
released): compaction does not import analysis (ARCHITECTURE.md, the wings). For each runs month
compacted, each workflow with a row in its parts is asked the default question (status
succeeded, every bucket, days) over exactly that month, by trend's own steps: ``trend_memo.plan``
picks the month (closed, parts final, footers proving its rows), ``trend_fast.read_in_place``
reads it, ``trend_fast.day_metrics`` computes its days and ``trend_memo.Keeper`` keeps them, as a
`trend` would have. A cache: any failure is swallowed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ..log.layout import month_start, next_month


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
    """``keep_month`` for each workflow of the month's parts (one read of workflow_id)."""
    from ..db.connection import connect
    from ..db.sqlfiles import load
    from ..log.layout import scan

    mf = scan(data_dir).get(month)
    if mf is None or mf.sealed or not mf.parts:
        return 0
    with contextlib.closing(connect()) as con:
        found = con.execute(load("trend_month_workflows"),
                            {"files": [str(p) for p in mf.parts]}).fetchall()
    start, end = month_start(month), month_start(next_month(month))
    for (workflow_id,) in found:
        with contextlib.suppress(Exception):
            keep_month(data_dir, str(workflow_id), start, end)
    return len(found)


def keep_month(data_dir: Path, workflow_id: str, start: datetime, end: datetime) -> None:
    """The memo entry of ``workflow_id``'s month [start, end) for the default question, kept
    when the memo may hold it (written again when it does: the same numbers)."""
    import numpy as np

    from ..db.lake_source import sources_of
    from ..stats.engine import collect
    from . import trend_memo
    from .runs import runs_query
    from .trend import DAILY, _day_of
    from .trend_fast import day_metrics, read_in_place, wanted

    ask = trend_memo.Ask(workflow_id, "succeeded", None, _day_of(start), _day_of(end))
    runs = collect(sources_of(data_dir), runs_query(workflow_id, start=start, end=end),
                   lambda c: read_in_place(c, end, ask))
    keeper = trend_memo.Keeper.of(None if runs is None else runs.memo)
    if runs is None or keeper is None:
        return  # not proven in place, or not a month the memo may hold
    lo = _day_of(start)
    metrics = day_metrics(runs, wanted(runs.code, ask.status),
                          np.arange(lo, _day_of(end), dtype=np.int64), DAILY, ask.status, None)
    keeper.keep(runs.day, [m.day for m in runs.other.values()], metrics, lo,
                lambda name: runs.fill(name, np.empty(len(runs.day))))
