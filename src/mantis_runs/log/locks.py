"""flock helpers with a deadline (standard library only).

``flock`` locks belong to the open file description, so they vanish when the holder dies, even
under kill -9. Lock files are never renamed or deleted, so no inode re-check is needed.

:func:`locked` polls with ``LOCK_NB`` (fine for readers, which hold locks briefly and share them);
:func:`exclusive_blocking` waits in the kernel instead, for a process that must win an exclusive
lock against a stream of shared holders (the compactor, when it seals and publishes), and so does
:func:`acquire_queued` for the writers, which contend with each other: a poller sleeping between
tries loses to whoever asks just as the lock is let go, again and again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class LockTimeout(TimeoutError):
    """The lock was held by someone else for longer than the deadline."""


def acquire(fd: int, exclusive: bool, timeout: float | None) -> None:
    """Take ``flock`` on ``fd``; ``timeout`` None waits forever, 0 tries once."""
    op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    if timeout is None:
        fcntl.flock(fd, op)
        return
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock busy for more than {timeout:g}s") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


#: Waits given up at their deadline whose helper thread still blocks in ``flock`` (a holder that
#: never lets go). Past this many in one process, :func:`acquire_queued` polls instead, so a stuck
#: holder costs at most this many threads and descriptors.
MAX_ABANDONED_WAITS = 4
_abandoned_guard = threading.Lock()
_abandoned = 0


def _after_fork_in_child() -> None:
    # The helper threads of the parent's given-up waits do not exist in a child: its count starts
    # at 0 (else a child of a process with MAX_ABANDONED_WAITS of them would poll forever).
    global _abandoned, _abandoned_guard
    _abandoned = 0
    _abandoned_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def acquire_queued(fd: int, deadline: float, name: object, timeout: float) -> None:
    """``flock(LOCK_EX)`` on ``fd`` by ``deadline`` (a ``time.monotonic()`` value), waiting in the
    kernel when it is busy; ``name`` (the lock file) and ``timeout`` (the whole wait allowed) are
    for the message of :class:`LockTimeout`.

    A free lock costs one ``LOCK_NB`` call. A busy one is waited for by a helper thread blocked in
    ``flock``, which the kernel wakes as soon as the holder lets go (polling with sleeps starved
    writers: with 16 of them, appends waited up to 10 s and some gave up), while this thread
    waits for it until the deadline.

    Raises :class:`LockTimeout` or ``OSError``, after which ``fd`` is no longer the caller's, who
    must forget it: it is closed here, or by the helper thread when it finally gets the lock
    (which it lets go at once).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    except BaseException:
        os.close(fd)
        raise
    left = deadline - time.monotonic()
    if left > 0 and _abandoned < MAX_ABANDONED_WAITS:
        _flock_in_helper(fd, name, left, timeout)
        return
    try:
        acquire(fd, True, max(left, 0.0))  # tries once more, or polls past too many abandoned
    except LockTimeout:
        os.close(fd)
        raise LockTimeout(f"{name} busy for more than {timeout:g}s") from None
    except BaseException:
        os.close(fd)
        raise


#: Why a lock file cannot be opened for writing while it may still be opened for reading: no
#: permission (another user's log, an archive), or a read-only file system (EROFS is not a
#: PermissionError).
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def open_lock_file(path: Path, *, create: bool = True) -> int:
    """A descriptor of the lock file ``path`` (created unless ``create`` is False), read-write
    if possible, else read-only: ``flock`` needs no write access, so a read-only data dir can
    still be locked (shared by readers and dry runs, exclusively by what then fails to write)."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    if create:
        flags |= os.O_CREAT
    try:
        return os.open(path, flags, 0o666)
    except OSError as denied:
        if denied.errno not in _READ_ONLY_ERRNOS:
            raise
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise denied from None  # the real reason: we may not create it


@contextmanager
def locked(path: Path, *, exclusive: bool, timeout: float | None,
           create: bool = True) -> Iterator[int]:
    fd = open_lock_file(path, create=create)
    try:
        acquire(fd, exclusive, timeout)
        yield fd
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


@contextmanager
def shared_if_present(path: Path, timeout: float | None) -> Iterator[None]:
    """A shared lock when the lock file can be opened or created; no lock otherwise."""
    try:
        fd = open_lock_file(path)
    except OSError:
        yield
        return
    try:
        acquire(fd, False, timeout)
        yield
    finally:
        os.close(fd)


@contextmanager
def exclusive_blocking(path: Path, timeout: float) -> Iterator[None]:
    """``flock(LOCK_EX)`` on ``path`` that waits in the kernel, for at most ``timeout`` seconds.

    Polling with ``LOCK_NB`` (:func:`acquire`) all but never wins against readers that take the
    lock shared back to back: each one takes it again microseconds after the last one let go, so a
    single ``stats`` loop kept compaction waiting for 10-30 s per publish, and two would starve it
    past the timeout. A blocked ``flock`` is woken as soon as the last holder lets go. It blocks in
    a helper thread so that the wait can be given up (:class:`LockTimeout`); if the helper gets the
    lock after that, it lets go at once.
    """
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _flock_in_helper(fd, path, timeout)  # returns holding the lock
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def _let_go(fd: int, *, locked: bool) -> None:
    """A given-up wait's helper, done: nobody wants the lock any more. LOCK_UN first, so that a
    copy of ``fd`` inherited by a forked child does not keep the lock; then close it."""
    global _abandoned
    if locked:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)
    with _abandoned_guard:
        _abandoned -= 1


def _flock_in_helper(fd: int, name: object, timeout: float, reported: float | None = None) -> None:
    """Wait for ``LOCK_EX`` on ``fd`` in a helper thread, for at most ``timeout`` seconds (the
    :class:`LockTimeout` says ``reported`` seconds when given: the whole wait of the caller).

    Returns holding the lock. On any exception ``fd`` is no longer the caller's: on
    :class:`LockTimeout` (or an exception raised in this thread while it waited, such as
    KeyboardInterrupt) the helper keeps it, and when it gets the lock it lets go and closes it;
    otherwise it is closed here.
    """
    global _abandoned
    cond = threading.Condition()
    state: dict[str, Any] = {"got": False, "gave_up": False, "error": None}

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            error: OSError | None = exc
        else:
            error = None
        with cond:
            if state["gave_up"]:
                _let_go(fd, locked=error is None)
                return
            state["got"], state["error"] = error is None, error
            cond.notify_all()

    helper = threading.Thread(target=wait, name="mantis-flock-wait", daemon=True)
    try:
        helper.start()
    except BaseException:
        os.close(fd)
        raise
    try:
        with cond:
            try:
                cond.wait_for(lambda: state["got"] or state["error"] is not None, timeout)
            finally:
                if not state["got"] and state["error"] is None:
                    state["gave_up"] = True  # the helper owns fd from now on
                    with _abandoned_guard:
                        _abandoned += 1
    except BaseException:
        if not state["gave_up"]:
            os.close(fd)  # got the lock (or an error) just as this thread was interrupted
        raise
    if state["gave_up"]:
        raise LockTimeout(f"{name} busy for more than {reported or timeout:g}s")
    # No join: the helper is done with fd, and waiting for its thread to end would keep the lock
    # idle meanwhile.
    if state["error"] is not None:
        os.close(fd)
        raise state["error"]


def fsync_dir(path: Path) -> None:
    _fsync(path, os.O_DIRECTORY)


def fsync_file(path: Path) -> None:
    """Make a file written by someone else (DuckDB, pyarrow) durable before it is published."""
    _fsync(path, 0)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: Path) -> None:
    """Create ``path`` and its missing parents, fsyncing each parent whose entry was added."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o777)
        except FileExistsError:
            continue
        fsync_dir(d.parent)
