"""Run events, the read side (docs/events.md, "Reading events"): ``RunStore.events``,
``status``, ``running``, ``lost`` and a report's timeline (``EventMethods``, mixed into
``RunStore``); ``mantis runs events``, ``status``, ``list --running/--lost`` and ``watch``.

Events are read from the events files of ``layout.scan_events`` (each month's events part, if
compacted, then its sealed and live ``events_log/YYYY-MM.jsonl`` shards), listed and read under
the shared publish lock (``publish_shared``, parts checked by ``event_months``), typed by the
SQL of db/sql/macros/macro_event_rows.sql (bad lines, by ``mantis_bad_event``, are never
events; a part's rows by mantis_event_parts) on a private connection: no user SQL runs there.

* One run's events (``status``, a timeline, ``events RUN_ID``): the lines of each month that may
  hold the run_id, found by its bytes (db/linesearch.py: a plain run_id, or ``\\u``) and copied
  into a private file, months newest first (a month's part is read in place, its row groups
  found by their run_id statistics); ``status`` stops at the month of its
  ``run_started``. A run_id that is not plain copies whole months.
* Across runs (``events``): months newest first until ``last`` events are found (an event is in
  the file of its ts's month, as the writer files it).
* Open runs (``running``, ``lost``): the run_started events since ``since`` whose run has no row
  in the run log of those months (store/open_runs.py, db/sql/events/events_open_runs.sql);
  ``running`` alone looks only at the runs with an event within the staleness
  (``alive_window``, events_alive_runs.sql), and reads nothing more when there is none (proven
  first without DuckDB when the events files' footers and lines allow: open_runs ``_quiet``).

What a run's state is, from its terminal row and its events, is :func:`judge`, and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from ..errors import NoRunLog, NotFound, UsageError
from ..log.events import EventRefused, checked_type
from ..log.layout import (
    check_data_dir,
    has_run_log,
    month_of,
)
from ..log.record import format_timestamp
from ..log.timewindow import resolve_since
from ..messages import skipped_lines
from .event_files import EventReader, event_months
from .event_files import EventRow as EventRow  # re-exported: the public type of an event
from .event_files import reader as reader  # re-exported (follow, open_runs, tests)

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from ..db.lake_source import Sources
    from .open_runs import OpenRun
    from .rows import RunReport, RunRow
    from .runstore import RunStore

log = logging.getLogger("mantis_runs")

#: A run with a run_started event, no terminal row and no event for longer than this many
#: seconds is lost (docs/events.md); ``stale_after`` overrides it per call.
LOST_AFTER_S: Final = 900.0
#: An event dated more than this many seconds after now (a wrong clock) is no sign of life.
FUTURE_SLACK_S: Final = 300.0
#: How far back ``running`` / ``lost`` (``list --running/--lost``) look for run_started events.
OPEN_SINCE: Final = "7d"
#: Where a status comes from: the run log's row, a recent event, or the lack of either.
TERMINAL_ROW, HEARTBEAT, INFERENCE = "terminal row", "heartbeat", "inference"


def event_to_json(event: EventRow) -> dict[str, Any]:
    return {**event, "ts": format_timestamp(event["ts"])}


@dataclass(frozen=True)
class EventFilter:
    """The filters of ``events`` (each None: no filter); docs/events.md."""

    one_run: str | None = None
    types: Sequence[str] | None = None
    since: datetime | None = None
    workflow: str | None = None
    fields: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for t in self.types or ():
            try:
                checked_type(t)  # the writer's rule: a type it refuses is never in the log
            except EventRefused as exc:
                raise UsageError(str(exc)) from None

    def params(self, workflow_runs: Iterable[str] = ()) -> dict[str, Any]:
        keys = list(self.fields) if self.fields else None
        return {"one_run": self.one_run, "types": list(self.types) if self.types else None,
                "since": self.since.isoformat() if self.since else None,
                "workflow": self.workflow, "workflow_runs": list(workflow_runs),
                "field_keys": keys,
                "field_values": [self.fields[k] for k in keys] if self.fields and keys else None}


@dataclass(frozen=True)
class Timeline:
    """A run's events in short: first and last, how many of each type, the failures."""

    first: EventRow
    last: EventRow
    counts: dict[str, int]  # by type, sorted by type
    failures: list[EventRow]  # the `failure` events, in order

    @classmethod
    def of(cls, events: Sequence[EventRow]) -> Timeline | None:
        if not events:
            return None
        counts: dict[str, int] = {}
        for e in events:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
        return cls(first=events[0], last=events[-1], counts=dict(sorted(counts.items())),
                   failures=[e for e in events if e["type"] == "failure"])

    def to_json(self) -> dict[str, Any]:
        return {"first": event_to_json(self.first), "last": event_to_json(self.last),
                "counts": self.counts, "failures": [event_to_json(e) for e in self.failures]}


@dataclass(frozen=True)
class RunStatus:
    """What ``mantis runs status`` says of a run."""

    run_id: str
    status: Literal["pending", "running", "succeeded", "failed", "lost"]
    source: str  # TERMINAL_ROW, HEARTBEAT or INFERENCE
    stale_after_s: float
    workflow_id: str | None = None
    started_at: datetime | None = None  # the run_started event's ts
    finished_at: datetime | None = None  # the terminal row's
    progress: float | None = None  # the newest heartbeat's progress in [0, 1]
    last_event: EventRow | None = None

    def to_json(self) -> dict[str, Any]:
        def when(dt: datetime | None) -> str | None:
            return None if dt is None else format_timestamp(dt)

        return {"run_id": self.run_id, "status": self.status, "source": self.source,
                "workflow_id": self.workflow_id, "started_at": when(self.started_at),
                "finished_at": when(self.finished_at), "progress": self.progress,
                "last_event": None if self.last_event is None else event_to_json(
                    self.last_event), "stale_after_s": self.stale_after_s}


def judge(run_id: str, events: Sequence[EventRow], row: RunRow | None, *, now: datetime,
          stale_after: float) -> RunStatus | None:
    """A run's state from its terminal row (which always wins) and its events (in order);
    None when there is neither. Without a row: no run_started is pending; the newest event
    within ``stale_after`` seconds of ``now`` is running; older is lost. An event more than
    ``FUTURE_SLACK_S`` after ``now`` is no sign of life (a run with no other is lost)."""
    started = next((e for e in events if e["type"] == "run_started"), None)
    workflow = started["fields"].get("workflow_id") if started else None
    common: dict[str, Any] = {
        "run_id": run_id, "stale_after_s": stale_after,
        "workflow_id": workflow if isinstance(workflow, str) else None,
        "started_at": started["ts"] if started else None,
        "progress": _progress(events), "last_event": events[-1] if events else None}
    if row is not None:
        if common["workflow_id"] is None:
            common["workflow_id"] = row["workflow_id"]
        return RunStatus(status="succeeded" if row["status"] == "succeeded" else "failed",
                         source=TERMINAL_ROW, finished_at=row["finished_at"], **common)
    if not events:
        return None
    if started is None:
        return RunStatus(status="pending", source=INFERENCE, **common)
    trusted = [e["ts"] for e in events if e["ts"] <= now + timedelta(seconds=FUTURE_SLACK_S)]
    if trusted and (now - max(trusted)).total_seconds() <= stale_after:  # inf: never stale
        return RunStatus(status="running", source=HEARTBEAT, **common)
    return RunStatus(status="lost", source=INFERENCE, **common)


def _progress(events: Sequence[EventRow]) -> float | None:
    """The progress of the newest heartbeat that has a number in [0, 1] as its progress."""
    for e in reversed(events):
        p = e["fields"].get("progress") if e["type"] == "heartbeat" else None
        if isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1:
            return float(p)
    return None


def warn_skipped(bad: Mapping[str, int]) -> None:
    """The one WARNING of a read that skipped malformed lines: how many, in which files."""
    text = skipped_lines(bad)
    if text:
        log.warning("%s", text)


def check_stale_after(stale_after: float) -> float:
    if not stale_after >= 0:  # also NaN
        raise UsageError(f"stale_after must be a number of seconds >= 0, got {stale_after!r}")
    return float(stale_after)


def alive_window(now: datetime, stale_after: float) -> tuple[datetime, datetime] | None:
    """When an event of a run that :func:`judge` calls running at ``now`` is dated: from
    ``stale_after`` seconds before ``now`` to ``FUTURE_SLACK_S`` after it, widened by a
    millisecond each way (a superset: ``judge`` still decides); None when it has no bound."""
    try:
        return (now - timedelta(seconds=stale_after, milliseconds=1),
                now + timedelta(seconds=FUTURE_SLACK_S, milliseconds=1))
    except OverflowError:  # inf, or before year 1: every run with an event may be running
        return None


def run_events(r: EventReader, run_id: str) -> list[Path]:
    """Private copies of the lines that may hold ``run_id``'s events, oldest month first."""
    months = event_months(r.data_dir) if run_id else {}
    r.footers([p for files in months.values() for p in files])  # one read of those not cached
    return [p for month in sorted(months) for p in r.run_lines(run_id, month, months[month])]


def events_until_started(r: EventReader, run_id: str) -> list[EventRow]:
    """``run_id``'s events in order, from the newest month down to the one that holds its
    run_started (what ``status`` needs: the newest event, the newest progress, the start)."""
    months = event_months(r.data_dir) if run_id else {}
    found: list[EventRow] = []
    for month in sorted(months, reverse=True):
        copies = r.run_lines(run_id, month, months[month])
        if not copies:
            continue
        month_events = r.rows("events_in_order", copies, EventFilter(one_run=run_id))
        found = month_events + found
        if any(e["type"] == "run_started" for e in month_events):
            break
    return found


def newest_events(r: EventReader, flt: EventFilter, last: int | None, arrow: bool
                  ) -> tuple[Any, dict[str, int]]:
    """Events across runs, newest first: months newest first (from ``flt.since``'s) until
    ``last`` are found; (the answer, the malformed lines of the files read)."""
    months = event_months(r.data_dir)
    every = [p for files in months.values() for p in files]
    chosen = [m for m in sorted(months, reverse=True)
              if flt.since is None or m >= month_of(flt.since)]
    wf_runs = r.workflow_runs(every, flt.workflow)
    read: list[Path] = []
    found: list[EventRow] = []
    for i, month in enumerate(chosen):
        read = months[month] + read
        if last is not None or i == len(chosen) - 1:  # all: one query over every month
            found = r.rows("events_newest", read, flt, wf_runs, limit=last)
            if last is not None and len(found) >= last:
                break
    if not arrow:
        return found, r.bad_lines(read) if read else {}
    table = r.relation("events_newest", read, flt, wf_runs, limit=last).project(
        "run_id, type, ts, fields").to_arrow_table()
    return table, r.bad_lines(read) if read else {}


class EventMethods:
    """Mixed into :class:`~mantis_runs.store.runstore.RunStore`: the events read side."""

    data_dir: Path
    sources: Sources

    if TYPE_CHECKING:  # pragma: no cover
        def _get(self, run_id: str) -> tuple[RunRow | None, dict[str, int]]: ...
        def report(self, run_id: str | None = None, *, baseline_runs: int = 100
                   ) -> RunReport: ...

    def _event_files(self) -> list[Path]:
        """Every events file of the data dir, oldest month first (the run_events view's); none
        when only lakes are read (a lake holds no events; never the default data dir's)."""
        if not self.sources.local:
            return []
        return [p for files in event_months(self.data_dir).values() for p in files]

    @overload
    def events(self, run_id: str | None = ..., *, types: Sequence[str] | None = ...,
               workflow_id: str | None = ..., since: str | datetime | None = ...,
               fields: Mapping[str, str] | None = ..., last: int | None = ...,
               arrow: Literal[False] = ...) -> list[EventRow]: ...

    @overload
    def events(self, run_id: str | None = ..., *, types: Sequence[str] | None = ...,
               workflow_id: str | None = ..., since: str | datetime | None = ...,
               fields: Mapping[str, str] | None = ..., last: int | None = ...,
               arrow: Literal[True]) -> pa.Table: ...

    def events(self, run_id: str | None = None, *, types: Sequence[str] | None = None,
               workflow_id: str | None = None, since: str | datetime | None = None,
               fields: Mapping[str, str] | None = None, last: int | None = None,
               arrow: bool = False) -> list[EventRow] | pa.Table:
        """Run events: of ``run_id`` in the order they were written (``last``: its newest
        ``last``, still in order), else across runs newest first (``last`` None: all).
        Filters: ``types``, ``workflow_id`` (events of the runs whose run_started names it, or
        that name it themselves), ``since``, ``fields`` (each ``fields->>key`` equal to the
        text). ``arrow``: a table of run_id, type, ts, fields (JSON text)."""
        if last is not None and last < 1:
            raise UsageError(f"last must be at least 1, got {last}")
        check_data_dir(self.data_dir, events=True)
        flt = EventFilter(one_run=run_id, types=types, since=resolve_since(since),
                          workflow=workflow_id, fields=fields)
        with reader(self.data_dir) as r:
            if run_id is None:
                newest, bad = newest_events(r, flt, last, arrow)
                warn_skipped(bad)
                return newest
            copies = run_events(r, run_id)
            wf_runs = r.workflow_runs(self._event_files(), workflow_id)
            answer: list[EventRow] | pa.Table
            if arrow:
                answer = r.relation("events_in_order", copies, flt, wf_runs).project(
                    "run_id, type, ts, fields").to_arrow_table()
                answer = answer.slice(max(answer.num_rows - last, 0)) if last else answer
            else:
                found = r.rows("events_in_order", copies, flt, wf_runs)
                answer = found[-last:] if last else found
            # any event of the run at all (the filters may have left none)
            known = bool(len(answer)) or bool(copies and r.rows(
                "events_in_order", copies, EventFilter(one_run=run_id)))
        if not known:  # outside the events' lock: the run log's read takes its own
            self._known(run_id)
        return answer

    def _known(self, run_id: str) -> None:
        """``NotFound`` when ``run_id``, which has no event, has no terminal row either (as
        ``status``): ``events RUN_ID`` of a mistyped id is an error, not an empty answer."""
        if not has_run_log(self.data_dir) or self._get(run_id)[0] is None:
            raise NotFound(f"no run {run_id!r} in {self.data_dir}")

    def status(self, run_id: str, *, stale_after: float = LOST_AFTER_S,
               now: datetime | None = None) -> RunStatus:
        """Pending, running, succeeded, failed or lost, with the source of that answer
        (docs/events.md); ``NotFound`` for a run with neither a row nor an event."""
        self._check_local()
        stale_after = check_stale_after(stale_after)
        from ..db.background import Background
        from .open_runs import status_events

        # the events on a helper thread while the point lookup finds the row: two sessions of
        # their own, each under the shared publish lock, neither waiting for the other
        with Background(lambda: status_events(self.data_dir, run_id)) as events:
            store = self._with_runs()
            row = store._get(run_id)[0] if store is not None else None
            found = events.result()
        state = judge(run_id, found, row, now=now or datetime.now(UTC), stale_after=stale_after)
        if state is None:
            raise NotFound(f"no run {run_id!r} in {self.data_dir}")
        return state

    def events_status(self, run_id: str, row: RunRow | None = None, *,
                      stale_after: float = LOST_AFTER_S,
                      now: datetime | None = None) -> RunStatus | None:
        """``status`` from the run's events and ``row`` (its terminal row, when the caller
        has read it: ``watch``); None when there is neither."""
        from .open_runs import status_events

        stale_after = check_stale_after(stale_after)
        found = status_events(self.data_dir, run_id)
        return judge(run_id, found, row, now=now or datetime.now(UTC), stale_after=stale_after)

    def running(self, *, since: str | datetime = OPEN_SINCE, stale_after: float = LOST_AFTER_S,
                now: datetime | None = None) -> list[RunStatus]:
        """The runs started since ``since`` with no terminal row and an event within
        ``stale_after`` seconds, newest start first. Only the runs with an event in that
        window are looked for (``alive_window``): the others cannot be running."""
        when = now or datetime.now(UTC)
        return [s for s in self._open_runs(since, stale_after, when, alive_window(
            when, check_stale_after(stale_after))) if s.status == "running"]

    def lost(self, *, since: str | datetime = OPEN_SINCE, stale_after: float = LOST_AFTER_S,
             now: datetime | None = None) -> list[RunStatus]:
        """The runs started since ``since`` with no terminal row and no event for longer than
        ``stale_after`` seconds, newest start first."""
        return [s for s in self.open_runs(since=since, stale_after=stale_after, now=now)
                if s.status == "lost"]

    def open_runs(self, *, since: str | datetime = OPEN_SINCE,
                  stale_after: float = LOST_AFTER_S,
                  now: datetime | None = None) -> list[RunStatus]:
        """``running`` and ``lost`` together (events_open_runs.sql), newest start first."""
        return self._open_runs(since, stale_after, now or datetime.now(UTC), None)

    def _open_runs(self, since: str | datetime, stale_after: float, when: datetime,
                   alive: tuple[datetime, datetime] | None) -> list[RunStatus]:
        """The open runs judged at ``when``, of the runs with an event in ``alive`` if given."""
        stale_after = check_stale_after(stale_after)
        since_dt = resolve_since(since)
        if since_dt is None:
            raise UsageError("since is required: how far back to look for started runs")
        if not self.sources.local:
            raise UsageError("running and lost runs are found by their events, which a data "
                             "dir holds and a lake does not: name a data dir")
        self._check_local()
        from .open_runs import open_run_events

        by_run: dict[str, list[EventRow]] = {}
        for e in open_run_events(self.data_dir, since_dt, month_of(since_dt), alive):
            by_run.setdefault(e["run_id"], []).append(e)
        states = [s for run_id, evs in by_run.items()
                  if (s := judge(run_id, evs, None, now=when, stale_after=stale_after))]
        if states and not self.sources.one_local:  # a row may be in another data dir or a lake
            done = self._finished([s.run_id for s in states])
            states = [s for s in states if s.run_id not in done]
        return sorted(states, key=lambda s: (s.started_at or when, s.run_id), reverse=True)

    def _finished(self, run_ids: list[str]) -> set[str]:
        """Which of ``run_ids`` have a terminal row in any source read (the runs view)."""
        from ..db.sqlfiles import load

        store = self._with_runs()
        if store is None:
            return set()
        with store._reading() as (con, _):
            return {rid for rid, in con.execute(load("runs_finished_ids"),
                                                {"ids": run_ids}).fetchall()}

    def _check_local(self) -> None:
        """Every data dir given is one (``check_data_dir``; events alone will do): the first
        for its events, each for a run's terminal row (``_with_runs``)."""
        for d in self.sources.local:
            check_data_dir(d, events=True)

    def _with_runs(self) -> RunStore | None:
        """The store over the sources read that hold runs: the data dirs with a run log and the
        lakes (events come from the first data dir, a run's row from any); None when none."""
        from ..db.lake_source import Sources
        from .runstore import RunStore

        logged = [d for d in self.sources.local if has_run_log(d)]
        if logged == self.sources.local and isinstance(self, RunStore):
            return self  # every source holds runs: this very store (its own settings)
        if not logged and not self.sources.lakes:
            return None
        return RunStore(Sources(logged, self.sources.lakes))

    def show(self, run_id: str, *, baseline_runs: int = 100, stale_after: float = LOST_AFTER_S,
             now: datetime | None = None) -> RunReport | OpenRun:
        """``report(run_id)`` for a run with a terminal row; for a run with events and no row,
        an ``OpenRun``: its status (pending, running or lost) and its timeline; ``NotFound``
        when it has neither (``mantis runs show``, ``report --run-id``; docs/events.md)."""
        from .open_runs import open_run

        one = self.sources.one_local  # else lakes or several dirs, read together for the row
        if one:
            check_data_dir(self.data_dir, events=True)
        if not one or has_run_log(self.data_dir):
            try:
                return self.report(run_id, baseline_runs=baseline_runs)
            except NoRunLog:
                raise
            except NotFound:
                pass  # no row: its events may still say what it is doing
        stale_after = check_stale_after(stale_after)
        for local in self.sources.local:  # events are in data dirs (a lake holds none)
            found = open_run(local, run_id, stale_after=stale_after,
                             now=now or datetime.now(UTC))
            if found is not None:
                return found  # the first data dir given with an event of the run
        raise NotFound(f"no run {run_id!r} in {self.data_dir}")

    def _timeline(self, run_id: str) -> Timeline | None:
        """The run's timeline; None when it has no events (or no events_log/)."""
        if not self._event_files():
            return None
        with reader(self.data_dir) as r:
            return Timeline.of(r.rows("events_in_order", run_events(r, run_id),
                                      EventFilter(one_run=run_id)))
