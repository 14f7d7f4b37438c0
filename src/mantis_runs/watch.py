"""Waiting for a run's terminal row (``mantis runs watch``)."""

from __future__ import annotations

import time
from pathlib import Path

from .errors import MantisError
from .query import PathLike
from .store import RunStore

SUCCEEDED, FAILED_OR_UNREADABLE, TIMED_OUT = 0, 1, 2


def watch_run(run_id: str, *, data_dir: PathLike | None = None, interval: float = 2.0,
              timeout: float | None = None) -> tuple[int, str]:
    """Poll until ``run_id`` lands; returns (exit code, one-line message)."""
    store = RunStore(data_dir)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            row, _bad = store._get(run_id)  # no malformed-line warning on every poll
        except (MantisError, OSError) as exc:
            return FAILED_OR_UNREADABLE, f"error: cannot read {Path(store.data_dir)}: {exc}"
        if row is not None:
            status = row["status"]
            if status == "succeeded":
                return SUCCEEDED, f"run {run_id} succeeded"
            err = f": {' '.join(row['error'].split())}" if row["error"] else ""
            return FAILED_OR_UNREADABLE, f"run {run_id} {status}{err}"
        if deadline is not None and time.monotonic() + interval > deadline:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
                continue  # one last look (errors handled above); then the deadline has passed
            return TIMED_OUT, f"timed out after {timeout:g}s waiting for run {run_id}"
        time.sleep(interval)
