"""Waiting for a run's terminal row (``mantis runs watch``), with its progress from its events
and an end when it is lost (store/events.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..db.lake_source import DataDirs
from ..errors import MantisError, NoDataDir, NoRunLog
from ..log.layout import EVENTS_LOG, has_run_log
from .events import LOST_AFTER_S, RunStatus, check_stale_after
from .rows import RunRow
from .runstore import RunStore


class WatchOutcome(Enum):
    SUCCEEDED = "succeeded"  # the run's row has status succeeded
    FAILED = "failed"  # the run's row has any other status
    UNREADABLE = "unreadable"  # the data dir cannot be read
    TIMED_OUT = "timed_out"  # no row for the run before the timeout
    LOST = "lost"  # started, no row, and no event for longer than the staleness


@dataclass(frozen=True)
class WatchResult:
    """How a watch ended: the run's row, why the data dir cannot be read, or a timeout.
    ``data_dir``: the data dir, or every data dir and lake read (``Sources.label``)."""

    run_id: str
    outcome: WatchOutcome
    data_dir: Path | str
    timeout: float | None
    row: RunRow | None = None  # SUCCEEDED and FAILED
    error: str | None = None  # UNREADABLE: why (the error's text)
    status: RunStatus | None = None  # LOST: what its events say


def watch_run(run_id: str, *, data_dir: DataDirs = None, interval: float = 2.0,
              timeout: float | None = None, stale_after: float = LOST_AFTER_S,
              on_status: Callable[[RunStatus], None] | None = None) -> WatchResult:
    """Poll every ``interval`` seconds until ``run_id`` has a row, is lost (its events: a
    run_started and nothing for over ``stale_after`` seconds), the data dir cannot be read
    (one that does not exist is an error; one that holds no run log yet is waited for), or
    ``timeout`` seconds (None or ``math.inf``: never) have passed. ``on_status`` is called
    with what the run's events say at each poll while it has no row. Over lakes and several
    data dirs the row is the winning copy across all of them; events, which only a data dir
    holds, are read from the first data dir given (none: a lake alone has no events, and the
    run is never lost). (The CLI refuses ``nan`` and an interval over a day; ``time.sleep``
    cannot take one over about 292 years.)"""
    store = RunStore(data_dir)
    label: Path | str = store.data_dir if store.sources.one_local else store.sources.label
    events = bool(store.sources.local)
    check_stale_after(stale_after)
    deadline = None if timeout is None else time.monotonic() + timeout

    def result(outcome: WatchOutcome, row: RunRow | None = None, error: str | None = None,
               status: RunStatus | None = None) -> WatchResult:
        return WatchResult(run_id, outcome, label, timeout, row, error, status)

    polls = 0
    while True:
        try:
            if polls and store.sources.lakes:  # a lake is read at the version it was opened at
                store = RunStore(store.sources.fresh())
            polls += 1
            row = store.get(run_id, warn=False)  # no malformed-line warning on every poll
        except NoDataDir as exc:  # a mistyped path: waiting would be forever
            return result(WatchOutcome.UNREADABLE, error=str(exc))
        except NoRunLog:
            row = None  # not yet: the writer creates the log with the first row
        except (MantisError, OSError) as exc:
            return result(WatchOutcome.UNREADABLE, error=str(exc))
        if row is not None:
            ok = row["status"] == "succeeded"
            return result(WatchOutcome.SUCCEEDED if ok else WatchOutcome.FAILED, row=row)
        try:
            state = (store.events_status(run_id, stale_after=stale_after)
                     if events and _holds_logs(store.data_dir) else None)
        except (MantisError, OSError) as exc:
            return result(WatchOutcome.UNREADABLE, error=str(exc))
        if state is not None and state.status == "lost":
            return result(WatchOutcome.LOST, status=state)
        if state is not None and on_status is not None:
            on_status(state)
        if deadline is not None and time.monotonic() + interval > deadline:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
                continue  # one last look (errors handled above); then the deadline has passed
            return result(WatchOutcome.TIMED_OUT)
        time.sleep(interval)


def _holds_logs(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a run log or an events log: a folder with neither has no
    events to read yet, and reading them would leave the readers' lock files in it."""
    return has_run_log(data_dir) or (data_dir / EVENTS_LOG).is_dir()
