"""The append-only writer of the run log and the events log (standard library only).

It runs inside other people's runtimes, so it is best-effort: any failure logs one WARNING on the
``mantis_runs`` logger that names the run_id (or the events), and ``append_run``,
``append_event`` and ``append_events`` return False. They never raise. ``MANTIS_RUNS_LOG=0``
turns them all off (:func:`writing_enabled`).

Rows (``runs_log/``) and events (``events_log/``) go through the same code, :func:`append_lines`,
with the same protocol (see docs/storage-format.md and the durability notes it cites):

1. the log directory's ``.lock`` (never renamed) is locked exclusively, with a deadline, waiting
   in the kernel's queue when it is busy (:func:`~.locks.acquire_queued`); the log directory must
   be a real directory, not a symbolic link (checked at every append);
2. the month shard is opened ``O_RDWR|O_APPEND|O_CLOEXEC|O_NOFOLLOW`` (created with ``O_EXCL`` to
   know whether it is new);
3. if the shard does not end in ``\\n`` (a torn or zero-filled tail left by a crash), the lines
   are prefixed with ``SEAL`` so the garbage stays on a line of its own;
4. a row, or a batch's events of one month, is one ``write()``; a short or failed write is rolled
   back with ``ftruncate`` (with the other months' writes of the batch);
5. the lock is released, then ``fdatasync`` makes it durable (the next writer appends meanwhile,
   and the kernel serves concurrent syncs with one journal commit); a new shard is synced, with
   its directory, before the unlock instead;
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .events import EventRefused, prepare_events
from .layout import (
    EVENTS_LOG,
    RUNS_LOG,
    WRITER_LOCK,
    events_shard,
    live_shard,
    refuse_link,
    resolve_data_dir,
)
from .locks import LockTimeout, acquire_queued, fsync_dir, makedirs_durable, open_lock_file
from .record import NotTerminal, PreparedRow, RowRefused, prepare, shorten

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
    if not writing_enabled():
        log.debug("run %s not recorded: %s", hint, _OFF_REASON)
        return False
    try:
        prepared = prepare(row)
    except NotTerminal as exc:
        log.debug("run %s not recorded: %s", hint, shorten(exc))
        return False
    except RowRefused as exc:
        log.warning("run %s not recorded: %s", hint, shorten(exc))
        return False
    except Exception as exc:  # a caller's odd object must never break their run
        log.warning("run %s not recorded: %s: %s", hint, type(exc).__name__,
                    shorten(exc))
        return False
    return _write_logged(f"run {prepared.run_id}", data_dir, RUNS_LOG,
                         [(prepared.month, prepared.line)], prepared.notes)


def append_events(events: Iterable[dict[str, Any]],
                  data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Append a batch of run events to ``events_log/``. Returns True once all of them are durable.

    Each event is a dict ``{"run_id": str, "type": str, "ts": datetime or ISO text (optional,
    default: the call's time), "fields": dict (optional)}`` (docs/events.md). The batch is all or
    nothing: one event that cannot be recorded refuses the whole batch (False, one WARNING naming
    it); the events of one month are one write and one fdatasync. False after a failed fdatasync
    means, as for a row, that they may or may not be on disk. Never raises.
    """
    if not writing_enabled():
        log.debug("events not recorded: %s", _OFF_REASON)
        return False
    try:
        batch = prepare_events(events, now=datetime.now(UTC))
    except EventRefused as exc:
        log.warning("events not recorded: %s", shorten(exc, 600))
        return False
    except Exception as exc:  # not iterable, or an iterator that raised
        log.warning("events not recorded: %s: %s", type(exc).__name__, shorten(exc))
        return False
    if not batch.lines:
        return True
    return _write_logged(batch.what, data_dir, EVENTS_LOG, batch.lines, batch.notes)


def append_event(run_id: str, type: str, *, ts: datetime | str | None = None,
                 data_dir: str | os.PathLike[str] | None = None, **fields: Any) -> bool:
    """Append one run event: ``append_event("r-1", "heartbeat", progress=0.5)``.

    ``ts`` (default: now) and ``data_dir`` are this function's own; to record fields with those
    names, use ``append_events([{"run_id": ..., "type": ..., "fields": {"ts": ...}}])``.
    Returns True once the event is durable; never raises (see :func:`append_events`).
    """
    return append_events([{"run_id": run_id, "type": type, "ts": ts, "fields": fields}],
                         data_dir=data_dir)


#: ``MANTIS_RUNS_LOG=0`` (or ``off``, ``false``; any case, spaces ignored) turns all writing off:
#: append_run, append_event and append_events return False without touching the disk.
ENV_LOG_SWITCH = "MANTIS_RUNS_LOG"
_OFF_VALUES = frozenset({"0", "off", "false"})
_OFF_REASON = f"writing is off (${ENV_LOG_SWITCH})"


def writing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether the writer writes: False when ``$MANTIS_RUNS_LOG`` is 0, off or false (read at
    every call, so a runtime can turn it off and on)."""
    value = (os.environ if env is None else env).get(ENV_LOG_SWITCH)
    return value is None or value.strip().lower() not in _OFF_VALUES


def _write_logged(what: str, data_dir: str | os.PathLike[str] | None, log_name: str,
                  lines: list[tuple[str, bytes]], notes: list[str]) -> bool:
    """:func:`append_lines`, turning a failure into one WARNING that names ``what``."""
    try:
        # LOCK_TIMEOUT_S is read at call time (a default argument would freeze it at import).
        append_lines(resolve_data_dir(data_dir), log_name, lines, lock_timeout=LOCK_TIMEOUT_S)
    except Exception as exc:
        log.warning("%s not recorded: %s: %s", what, type(exc).__name__, exc)
        return False
    if notes:
        log.warning("%s recorded with changes: %s", what, "; ".join(notes))
    return True


def _run_hint(row: object) -> str:
    """The caller's run_id for a warning about a row that could not be prepared."""
    try:
        rid = row.get("run_id") if isinstance(row, dict) else None
    except Exception:  # a dict subclass with its own get()
        return "(no run_id)"
    if rid is None or (isinstance(rid, str) and not rid):
        return "(no run_id)"
    return shorten(rid, 100)


@dataclass
class _Shard:
    """An open month shard."""

    fd: int
    file_id: tuple[int, int]
    end: int = -1  # the shard's size right after our last successful append


@dataclass
class _Handles:
    """Descriptors kept open between appends to one log directory, runs_log/ or events_log/
    (saves two opens per append): its lock, and the shard appended to last. During an append
    that spans months, the shards of all its months."""

    pid: int
    lock_fd: int
    shards: dict[str, _Shard] = field(default_factory=dict)  # by path, most recent last

    def drop_shards(self, keep: str | None = None) -> None:
        for path in [p for p in self.shards if p != keep]:
            _close_quietly(self.shards.pop(path).fd)

    def close(self) -> None:
        self.drop_shards()
        _close_quietly(self.lock_fd)


_guard = threading.Lock()
_handles: dict[str, _Handles] = {}  # most recently used last
#: Log directories (runs_log/ or events_log/ of a data dir) whose descriptors stay open (two each);
#: older ones are closed.
MAX_OPEN_DATA_DIRS = 8


def _after_fork_in_child() -> None:
    # Inherited descriptors share the parent's open file descriptions, and with them its flock:
    # the child must use its own. The thread lock may have been held by a thread that is gone.
    global _guard
    _guard = threading.Lock()
    for h in _handles.values():
        h.close()
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
    """Append an already-validated row durably; raises on any failure (nothing half-written)."""
    append_lines(data_dir, RUNS_LOG, [(prepared.month, prepared.line)], lock_timeout=lock_timeout)


def append_lines(data_dir: Path, log_name: str, lines: Sequence[tuple[str, bytes]], *,
                 lock_timeout: float = LOCK_TIMEOUT_S) -> None:
    """Append validated ``(month, data)`` pairs (each one or more whole lines of that month) to
    the month shards of ``data_dir/log_name`` (``RUNS_LOG`` or ``EVENTS_LOG``) durably, all or
    nothing; raises on any failure.

    Under the log's lock, the lines of one month are one write, oldest month first; a failed or
    short write rolls back every write of the call. Then each shard is fdatasynced: after a failed
    fdatasync (raised, never retried) what was written may or may not be on disk."""
    # Plain strings on this path: pathlib costs more than the syscalls (a cache keeps them).
    base = os.fspath(data_dir)
    if len(lines) == 1:  # a row: the common case, without the grouping by month
        logdir, path = _paths(base, log_name, lines[0][0])
        jobs = [(path, lines[0][1])]
    elif len(months := {month for month, _ in lines}) == 1:  # a batch of one month: no grouping
        logdir, path = _paths(base, log_name, months.pop())
        jobs = [(path, b"".join([line for _, line in lines]))]
    else:
        grouped: dict[str, list[bytes]] = {}
        for month, line in lines:
            grouped.setdefault(month, []).append(line)
        if not grouped:
            return
        jobs = [(_paths(base, log_name, m)[1], b"".join(grouped[m])) for m in sorted(grouped)]
        logdir = _paths(base, log_name, min(grouped))[0]
    deadline = time.monotonic() + lock_timeout  # one deadline for the whole append
    if not _guard.acquire(timeout=lock_timeout):
        raise LockTimeout(f"lock busy for more than {lock_timeout:g}s")
    try:
        h, written = _write_under_lock(logdir, jobs, deadline, lock_timeout)
        # The syncs come after the unlock: writers of other processes append meanwhile, and
        # the kernel makes one journal commit serve several fdatasyncs (group commit). The
        # line is in the file already; the caller hears "durable" only after its own sync.
        try:
            _sync(logdir, written)
        except BaseException:
            h.drop_shards()  # start from a fresh open next time
            raise
        if len(h.shards) > 1:
            h.drop_shards(keep=jobs[-1][0])
    finally:
        _guard.release()


def _write_under_lock(logdir: str, jobs: list[tuple[str, bytes]], deadline: float,
                      lock_timeout: float) -> tuple[_Handles, _Written]:
    """Lock the log, write every job (rolled back together on failure) and unlock; the handles
    and what was written, to be synced."""
    for _attempt in range(3):
        h = _handles_for(logdir)
        _lock(h, logdir, deadline, lock_timeout)
        stale = False
        try:
            # Every append: the log directory may have been replaced by a link since the last.
            refuse_link(logdir)
            opened = _open_shards(h, jobs)
            if opened is None:
                stale = True
                continue
            try:
                written = _write_all(opened)
                if written[1]:
                    # A new shard is synced with its directory before the unlock: another
                    # writer's row in it must not be called durable before its name is.
                    _sync(logdir, written)
                    return h, ([], False)
                return h, written
            except BaseException:
                h.drop_shards()  # start from a fresh open next time
                raise
        finally:
            try:
                fcntl.flock(h.lock_fd, fcntl.LOCK_UN)
            finally:
                if stale:
                    h.close()
                    _handles.pop(logdir, None)
    raise OSError(f"{logdir}/{WRITER_LOCK} keeps being replaced; nothing written")


def _handles_for(logdir: str) -> _Handles:
    """This process's handles of ``logdir`` (opened when missing), as the most recently used."""
    h = _handles.pop(logdir, None)
    if h is None or h.pid != os.getpid():
        h = _open_handles(logdir)
    _handles[logdir] = h
    while len(_handles) > MAX_OPEN_DATA_DIRS:
        _handles.pop(next(iter(_handles))).close()
    return h


def _lock(h: _Handles, logdir: str, deadline: float, timeout: float) -> None:
    """The log directory's ``.lock`` exclusively by ``deadline``, queued in the kernel when busy
    (:func:`~.locks.acquire_queued`). On failure the lock descriptor is no longer ours: the
    handles are dropped, and the next append opens new ones."""
    try:
        acquire_queued(h.lock_fd, deadline, f"{logdir}/{WRITER_LOCK}", timeout)
    except BaseException:
        h.lock_fd = -1  # closed already, or by the helper thread that still waits on it
        h.close()
        _handles.pop(logdir, None)
        raise


#: The live shard of a month, by log directory name.
_SHARD_OF = {RUNS_LOG: live_shard, EVENTS_LOG: events_shard}
_path_cache: dict[tuple[str, str, str], tuple[str, str]] = {}


def _paths(base: str, log_name: str, month: str) -> tuple[str, str]:
    """(log dir, live shard) as text, for a data dir, a log and a month (checked once)."""
    key = (base, log_name, month)
    hit = _path_cache.get(key)
    if hit is None:
        shard = _SHARD_OF[log_name](Path(base), month)  # validates the month: no path from text
        hit = (str(shard.parent), str(shard))
        if len(_path_cache) > 256:
            _path_cache.clear()
        _path_cache[key] = hit
    return hit


def _open_shards(h: _Handles,
                 jobs: list[tuple[str, bytes]]) -> list[tuple[_Shard, int, bool, bytes]] | None:
    """(shard, size, created, data) for each (path, data), the shard reused or opened into
    ``h.shards``; None when the lock file is no longer the one on disk."""
    out: list[tuple[_Shard, int, bool, bytes]] = []
    for path, data in jobs:
        size = _cached_size(h, path)
        if size is not None:
            out.append((h.shards[path], size, False, data))
            continue
        # Opening a shard afresh: first make sure the lock is still the file on disk (a data dir
        # can be deleted and made again under a long-lived process; an unlinked lock file has no
        # links left).
        if os.fstat(h.lock_fd).st_nlink == 0:
            return None
        size, created = _open_shard(h, path)
        out.append((h.shards[path], size, created, data))
    return out


def _cached_size(h: _Handles, path: str) -> int | None:
    """The size of the cached shard of ``path`` if ``path`` still names that very file."""
    sh = h.shards.get(path)
    if sh is None:
        return None
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:  # sealed by compaction: a new live shard starts
        return None
    if _file_id(st) != sh.file_id:
        return None
    return st.st_size


def _open_shard(h: _Handles, path: str) -> tuple[int, bool]:
    old = h.shards.pop(path, None)
    if old is not None:
        _close_quietly(old.fd)
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
    h.shards[path] = _Shard(fd, _file_id(st))
    return st.st_size, created


#: What one append wrote: (shard, size before, bytes written) per shard, and whether a shard is new.
_Written = tuple[list[tuple["_Shard", int, int]], bool]


def _write_all(jobs: list[tuple[_Shard, int, bool, bytes]]) -> _Written:
    """One write per (shard, size, created, lines), all rolled back if one fails (under the
    lock); what was written, for ``_sync``."""
    done: list[tuple[_Shard, int, int]] = []  # (shard, size before, bytes written)
    new_shard = False
    try:
        for sh, start, created, data in jobs:
            new_shard |= created
            # The last byte is ours (a newline) when the size is where our last append left it;
            # otherwise look: a crashed writer may have left a torn or zero-filled tail.
            if start > 0 and start != sh.end and os.pread(sh.fd, 1, start - 1) != b"\n":
                data = SEAL + data
            sh.end = -1
            done.append((sh, start, len(data)))
            written = os.write(sh.fd, data)
            if written != len(data):
                raise ShortWrite(f"short write: {written} of {len(data)} bytes (rolled back)")
    except BaseException:
        for sh, start, _n in reversed(done):
            _rollback(sh.fd, start)
        raise
    return done, new_shard


def _sync(logdir: str, written: _Written) -> None:
    """fdatasync each shard written (an error propagates; never retried), and the log directory
    when a shard is new."""
    done, new_shard = written
    for sh, _start, _n in done:
        _fdatasync(sh.fd)
    if new_shard:
        fsync_dir(Path(logdir))
    for sh, start, n in done:
        sh.end = start + n


def _rollback(fd: int, start: int) -> None:
    try:
        os.ftruncate(fd, start)
    except OSError as exc:  # pragma: no cover - the disk is failing twice
        log.warning("could not roll back a failed append: %s", exc)
