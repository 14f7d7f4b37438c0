"""The append-only run-log writer (standard library only).

It runs inside other people's runtimes, so it is best-effort: any failure logs one WARNING on the
``mantis_runs`` logger that names the run_id, and ``append_run`` returns False. It never raises.

The protocol (see docs/storage-format.md and the durability notes it cites):

1. ``runs_log/.lock`` (never renamed) is locked exclusively, with a deadline, waiting in the
   kernel's queue when it is busy (:func:`~.locks.acquire_queued`); ``runs_log/`` must be a real
   directory, not a symbolic link (checked at every append);
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

import contextlib
import fcntl
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layout import WRITER_LOCK, live_shard, refuse_link, resolve_data_dir
from .locks import LockTimeout, acquire_queued, fsync_dir, makedirs_durable, open_lock_file
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
    hint = _run_hint(row)
    try:
        prepared = prepare(row)
    except NotTerminal as exc:
        log.debug("run %s not recorded: %s", hint, _short(exc))
        return False
    except RowRefused as exc:
        log.warning("run %s not recorded: %s", hint, _short(exc))
        return False
    except Exception as exc:  # a caller's odd object must never break their run
        log.warning("run %s not recorded: %s: %s", hint, type(exc).__name__,
                    _short(exc))
        return False
    try:
        # LOCK_TIMEOUT_S is read at call time (a default argument would freeze it at import).
        write_prepared(resolve_data_dir(data_dir), prepared, lock_timeout=LOCK_TIMEOUT_S)
    except Exception as exc:
        log.warning("run %s not recorded: %s: %s", prepared.run_id,
                    type(exc).__name__, exc)
        return False
    if prepared.notes:
        log.warning("run %s recorded with changes: %s", prepared.run_id,
                    "; ".join(prepared.notes))
    return True


def _short(value: object, limit: int = 300) -> str:
    """Text for a warning: never raises, never huge (a caller's value can be anything)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


def _run_hint(row: object) -> str:
    """The caller's run_id for a warning about a row that could not be prepared."""
    try:
        rid = row.get("run_id") if isinstance(row, dict) else None
    except Exception:  # a dict subclass with its own get()
        return "(no run_id)"
    if rid is None or (isinstance(rid, str) and not rid):
        return "(no run_id)"
    return _short(rid, 100)


@dataclass
class _Handles:
    """Descriptors kept open between appends to one runs_log/ (saves two opens per row)."""

    pid: int
    lock_fd: int
    shard: str | None = None
    shard_fd: int = -1
    shard_id: tuple[int, int] | None = None
    end: int = -1  # the shard's size right after our last successful append

    def drop_shard(self) -> None:
        if self.shard_fd >= 0:
            _close_quietly(self.shard_fd)
        self.shard, self.shard_fd, self.shard_id, self.end = None, -1, None, -1

    def close(self) -> None:
        self.drop_shard()
        _close_quietly(self.lock_fd)


_guard = threading.Lock()
_handles: dict[str, _Handles] = {}  # most recently used last
#: Data dirs whose descriptors stay open (two each); older ones are closed.
MAX_OPEN_DATA_DIRS = 8


def _after_fork_in_child() -> None:
    # Inherited descriptors share the parent's open file descriptions, and with them its flock:
    # the child must use its own. The thread lock may have been held by a thread that is gone.
    global _guard
    _guard = threading.Lock()
    for h in _handles.values():
        _close_quietly(h.shard_fd)
        _close_quietly(h.lock_fd)
    _handles.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_quietly(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def _file_id(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _open_handles(logdir: str) -> _Handles:
    st = refuse_link(logdir)  # a symlinked runs_log/: refused before anything is made behind it
    if st is None or not stat.S_ISDIR(st.st_mode):
        makedirs_durable(Path(logdir))
    fd = open_lock_file(Path(logdir) / WRITER_LOCK)
    return _Handles(pid=os.getpid(), lock_fd=fd)


def write_prepared(data_dir: Path, prepared: PreparedRow, *,
                   lock_timeout: float = LOCK_TIMEOUT_S) -> None:
    """Append an already-validated line durably; raises on any failure (nothing half-written)."""
    # Plain strings on this path: pathlib costs more than the syscalls (a cache keeps them).
    logdir, path = _paths(os.fspath(data_dir), prepared.month)
    deadline = time.monotonic() + lock_timeout  # one deadline for the whole append
    if not _guard.acquire(timeout=lock_timeout):
        raise LockTimeout(f"lock busy for more than {lock_timeout:g}s")
    try:
        for _attempt in range(3):
            h = _handles.pop(logdir, None)
            if h is None or h.pid != os.getpid():
                h = _open_handles(logdir)
            _handles[logdir] = h
            while len(_handles) > MAX_OPEN_DATA_DIRS:
                _handles.pop(next(iter(_handles))).close()
            _lock(h, logdir, deadline, lock_timeout)
            stale = False
            try:
                # Every append: runs_log/ may have been replaced by a link since the last one.
                refuse_link(logdir)
                cached = _cached_shard(h, path)
                if cached is None:
                    # Opening the shard afresh: first make sure the lock is still the file on
                    # disk (a data dir can be deleted and made again under a long-lived process;
                    # an unlinked lock file has no links left).
                    if os.fstat(h.lock_fd).st_nlink == 0:
                        stale = True
                        continue
                    fd, size, created = _open_shard(h, path)
                else:
                    (fd, size), created = cached, False
                try:
                    _append_locked(h, logdir, fd, size, created, prepared.line)
                except BaseException:
                    h.drop_shard()  # start from a fresh open next time
                    raise
                return
            finally:
                try:
                    fcntl.flock(h.lock_fd, fcntl.LOCK_UN)
                finally:
                    if stale:
                        h.close()
                        _handles.pop(logdir, None)
        raise OSError(f"{logdir}/{WRITER_LOCK} keeps being replaced; row not written")
    finally:
        _guard.release()


def _lock(h: _Handles, logdir: str, deadline: float, timeout: float) -> None:
    """``runs_log/.lock`` exclusively by ``deadline``, queued in the kernel when busy
    (:func:`~.locks.acquire_queued`). On failure the lock descriptor is no longer ours: the
    handles are dropped, and the next append opens new ones."""
    try:
        acquire_queued(h.lock_fd, deadline, f"{logdir}/{WRITER_LOCK}", timeout)
    except BaseException:
        h.lock_fd = -1  # closed already, or by the helper thread that still waits on it
        h.close()
        _handles.pop(logdir, None)
        raise


_path_cache: dict[tuple[str, str], tuple[str, str]] = {}


def _paths(base: str, month: str) -> tuple[str, str]:
    """(runs_log dir, live shard) as text, for a data dir and a month (checked once)."""
    key = (base, month)
    hit = _path_cache.get(key)
    if hit is None:
        shard = live_shard(Path(base), month)  # validates the month: no path from odd text
        hit = (str(shard.parent), str(shard))
        if len(_path_cache) > 256:
            _path_cache.clear()
        _path_cache[key] = hit
    return hit


def _cached_shard(h: _Handles, path: str) -> tuple[int, int] | None:
    """(descriptor, size) of the cached shard if ``path`` still names that very file."""
    if h.shard != path or h.shard_fd < 0:
        return None
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:  # sealed by compaction: a new live shard starts
        return None
    if (st.st_dev, st.st_ino) != h.shard_id:
        return None
    return h.shard_fd, st.st_size


def _open_shard(h: _Handles, path: str) -> tuple[int, int, bool]:
    h.drop_shard()
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    created = False
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        created = True
    except FileExistsError:
        fd = os.open(path, flags)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        _close_quietly(fd)
        raise OSError(f"{path} is not a regular file")
    h.shard, h.shard_fd, h.shard_id = path, fd, _file_id(st)
    return fd, st.st_size, created


def _append_locked(h: _Handles, logdir: str, fd: int, start: int, created: bool,
                   line: bytes) -> None:
    data = line
    # The last byte is ours (a newline) when the size is where our last append left it;
    # otherwise look: a crashed writer may have left a torn or zero-filled tail.
    if start > 0 and start != h.end and os.pread(fd, 1, start - 1) != b"\n":
        data = SEAL + data
    h.end = -1
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
        fsync_dir(Path(logdir))
    h.end = start + written


def _rollback(fd: int, start: int) -> None:
    try:
        os.ftruncate(fd, start)
    except OSError as exc:  # pragma: no cover - the disk is failing twice
        log.warning("could not roll back a failed append: %s", exc)
