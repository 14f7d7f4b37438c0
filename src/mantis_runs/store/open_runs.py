"""Runs that started and have no terminal row (docs/events.md): the events behind ``running``
and ``lost`` (``mantis runs list --running/--lost``), and what ``show`` and ``report --run-id``
say of such a run (:class:`OpenRun`) instead of "no run".

Whether such a run is pending, running or lost is :func:`~mantis_runs.store.events.judge`'s
answer, as for ``status``; this module only reads the events it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..db import engine, views
from ..db.connection import duckdb_path
from ..db.sqlfiles import load
from ..log.layout import has_run_log
from .event_files import (
    EventRow,
    Footer,
    event_months,
    footers,
    may_be_dated_in,
    reader,
    to_events,
)
from .events import EventFilter, RunStatus, Timeline, events_until_started, judge, run_events

#: Called with the connection and the parameters just before events_open_runs runs (tests:
#: its profile, the files it reads).
observer: Callable[[engine.DuckDBPyConnection, dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class OpenRun:
    """A run with events and no terminal row: its status (pending, running or lost, with its
    source, as ``status`` gives it) and its timeline. What ``RunStore.show`` returns for it."""

    status: RunStatus
    timeline: Timeline

    @property
    def run_id(self) -> str:
        return self.status.run_id

    def to_json(self) -> dict[str, Any]:
        """``{"run": null, "run_id", "status": {as status --json}, "timeline": {...}}``: ``run``
        is null where a finished run's report has its row."""
        return {"run": None, "run_id": self.run_id, "status": self.status.to_json(),
                "timeline": self.timeline.to_json()}


def open_run(data_dir: Path, run_id: str, *, stale_after: float, now: datetime
             ) -> OpenRun | None:
    """``run_id``'s status and timeline from its events alone (the caller found no row), from
    one reading of its lines; None when it has no event."""
    with reader(data_dir) as r:
        events = r.rows("events_in_order", run_events(r, run_id), EventFilter(one_run=run_id))
    state = judge(run_id, events, None, now=now, stale_after=stale_after)
    timeline = Timeline.of(events)
    return None if state is None or timeline is None else OpenRun(state, timeline)


def status_events(data_dir: Path, run_id: str) -> list[EventRow]:
    """What ``status`` reads of ``run_id``'s events (``events_until_started``), in a reader of
    its own: ``RunStore.status`` calls it on a helper thread while it looks up the row."""
    with reader(data_dir) as r:
        return events_until_started(r, run_id)


def open_run_events(data_dir: Path, since: datetime, first: str,
                    alive: tuple[datetime, datetime] | None = None) -> list[EventRow]:
    """The events of the months from ``first`` on of the runs started since ``since`` with no
    row in the run log's months from ``first`` on (events_open_runs.sql); a store without a
    run log has no rows. With ``alive`` (from, to), only the runs with an event dated between
    them (events_alive_runs.sql; ``running`` alone: no other run can be running), and none
    at all read when there is none: that is first proven without DuckDB when it can be
    (``_quiet``), and then no connection is made. The events files are listed under the same
    shared publish lock as the run log's (``lookup.session``), or the events' own (``reader``)
    without a run log."""
    from . import lookup

    if alive is not None and _quiet(data_dir, first, alive):
        return []  # no run can be running: neither the run log nor a connection is needed

    def read(con: Callable[[], engine.DuckDBPyConnection], runs: Callable[[], dict[str, Any]]
             ) -> list[EventRow]:
        files = [p for fs in event_months(data_dir, first=first).values() for p in fs]
        if not files:
            return []
        # with alive, the footers (those the cache lacks read now: the next _quiet needs them)
        known = footers(con, [p for p in files if p.suffix == ".parquet"]) if alive else {}
        return _open_events(con(), files, known, {"since": since.isoformat(), **runs()}, alive)

    if not has_run_log(data_dir):
        no_jsonl, no_parquet = views.placeholders()
        with reader(data_dir) as r:
            return read(r.connection, lambda: {"parquet": [duckdb_path(no_parquet)],
                                               "jsonl": [duckdb_path(no_jsonl)]})
    # the session holds the shared publish lock; the reader (unlocked) lets event_months list
    # a checkpointed live events month as its checkpoint and a copy of its tail
    with lookup.session(data_dir, events=True) as s, reader(data_dir, locked=False):
        def run_log() -> dict[str, Any]:
            parquet, jsonl = lookup.month_sources(s, [mf for m, mf in s.found.items()
                                                      if m >= first])
            return {"parquet": parquet, "jsonl": jsonl}

        return read(lambda: s.con, run_log)


def _quiet(data_dir: Path, first: str, alive: tuple[datetime, datetime]) -> bool:
    """Whether no event of the months from ``first`` on is dated in ``alive``, proven without
    DuckDB (``EventReader.quiet``), the events listed under the events' own shared lock: then
    no run is running, and ``running`` reads nothing more (the common answer of a store that
    is not being written, where making a connection was most of the work)."""
    with reader(data_dir) as r:
        return r.quiet([p for fs in event_months(data_dir, first=first).values() for p in fs],
                       alive)


def _open_events(con: engine.DuckDBPyConnection, files: list[Path],
                 known: dict[Path, list[Footer]], params: dict[str, Any],
                 window: tuple[datetime, datetime] | None) -> list[EventRow]:
    """events_open_runs over ``files``; with ``window``, of the runs with an event in it
    (events_alive_runs), reading only the Parquet files whose footers (``known``) do not prove
    they hold no event dated in the window, then none of those runs."""
    params["alive"] = None
    if window is not None:
        low, high = (t.isoformat() for t in window)
        params["alive"] = alive = [str(r[0]) for r in con.execute(load("events_alive_runs"), {
            "files": views.event_list([p for p in files if p not in known
                                       or may_be_dated_in(known[p], window)]),
            "alive_from": low, "alive_to": high}).fetchall()]
        if not alive:
            return []
        lo, hi = min(alive), max(alive)
        files = [p for p in files if p not in known or any(
            (g[0] is None or g[0] <= hi) and (g[1] is None or g[1] >= lo) for g in known[p])]
    params["files"] = views.event_list(files)
    if observer is not None:
        observer(con, params)
    return to_events(con.execute(load("events_open_runs"), params).fetchall())
