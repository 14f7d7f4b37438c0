"""The append-only run-log writer (standard library only).

It runs inside other people's runtimes, so it is best-effort: any failure logs one WARNING on the
``mantis_runs`` logger that names the run_id, and ``append_run`` returns False. It never raises.

The protocol (see docs/storage-format.md and the durability notes it cites):

1. ``runs_log/.lock`` (never renamed) is locked exclusively, with a deadline;
2. the month shard is opened ``O_RDWR|O_APPEND|O_CLOEXEC|O_NOFOLLOW`` (created with ``O_EXCL`` to
   know whether it is new);
3. if the shard does not end in ``\\n`` (a torn or zero-filled tail left by a crash), the row is
   prefixed with ``SEAL`` so the garbage stays on a line of its own;
4. the row is one ``write()``; a short or failed write is rolled back with ``ftruncate``;
5. ``fdatasync`` makes it durable; a new shard also gets its directory fsynced;
6. a failed fsync is reported and never retried (after a failed fsync the kernel may have marked
   the pages clean, so a retry could "succeed" without the data).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from .layout import RUNS_LOG, WRITER_LOCK, live_shard, resolve_data_dir
from .locks import fsync_dir, locked, makedirs_durable
from .record import NotTerminal, PreparedRow, RowRefused, prepare

log = logging.getLogger("mantis_runs")

#: What goes before a row when the shard does not end in a newline. The record separator
#: (0x1E) is invalid anywhere in JSON, so the fragment before it always fails to parse *on its own
#: line*: DuckDB 1.5.x would otherwise read an unterminated fragment together with the next line
#: and lose the good row; 2.0 and every line-based reader are fine with either.
SEAL = b"\x1e\n"

#: How long a writer waits for the shard lock before giving up on the row.
LOCK_TIMEOUT_S = 10.0

_fdatasync = getattr(os, "fdatasync", os.fsync)


class ShortWrite(OSError):
    pass


def append_run(row: dict[str, Any], data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Append one terminal run to the log. Returns True once the row is durable.

    Returns False (and logs why) when the run is not terminal, the row is unusable, or anything
    fails on the way to disk. Never raises.
    """
    hint = row.get("run_id") if isinstance(row, dict) else None
    try:
        prepared = prepare(row)
    except NotTerminal as exc:
        log.debug("run %s not recorded: %s", hint, exc)
        return False
    except RowRefused as exc:
        log.warning("mantis_runs: run %s not recorded: %s", hint or "(no run_id)", exc)
        return False
    except Exception as exc:  # a caller's odd object must never break their run
        log.warning("mantis_runs: run %s not recorded: %s: %s", hint or "(no run_id)",
                    type(exc).__name__, exc)
        return False
    try:
        # LOCK_TIMEOUT_S is read at call time (a default argument would freeze it at import).
        write_prepared(resolve_data_dir(data_dir), prepared, lock_timeout=LOCK_TIMEOUT_S)
    except Exception as exc:
        log.warning("mantis_runs: run %s not recorded: %s: %s", prepared.run_id,
                    type(exc).__name__, exc)
        return False
    if prepared.notes:
        log.warning("mantis_runs: run %s recorded with changes: %s", prepared.run_id,
                    "; ".join(prepared.notes))
    return True


def write_prepared(data_dir: Path, prepared: PreparedRow, *,
                   lock_timeout: float = LOCK_TIMEOUT_S) -> None:
    """Append an already-validated line durably; raises on any failure (nothing half-written)."""
    logdir = data_dir / RUNS_LOG
    if not logdir.is_dir():
        makedirs_durable(logdir)
    path = live_shard(data_dir, prepared.month)
    with locked(logdir / WRITER_LOCK, exclusive=True, timeout=lock_timeout):
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        created = False
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(path, flags)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{path} is not a regular file")
            start = st.st_size
            data = prepared.line
            if start > 0 and os.pread(fd, 1, start - 1) != b"\n":
                data = SEAL + data
            try:
                written = os.write(fd, data)
            except OSError:
                _rollback(fd, start)
                raise
            if written != len(data):
                _rollback(fd, start)
                raise ShortWrite(f"short write: {written} of {len(data)} bytes (rolled back)")
            _fdatasync(fd)  # an error here propagates; never retried
            if created:
                fsync_dir(logdir)
        finally:
            os.close(fd)


def _rollback(fd: int, start: int) -> None:
    try:
        os.ftruncate(fd, start)
    except OSError as exc:  # pragma: no cover - the disk is failing twice
        log.warning("mantis_runs: could not roll back a failed append: %s", exc)
