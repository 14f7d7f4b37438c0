"""flock helpers with a deadline (standard library only).

``flock`` locks belong to the open file description, so they vanish when the holder dies, even
under kill -9. Lock files are never renamed or deleted, so no inode re-check is needed.

:func:`locked` polls with ``LOCK_NB`` (fine for writers and readers, which hold locks briefly);
:func:`exclusive_blocking` waits in the kernel instead, for a process that must win an exclusive
lock against a stream of shared holders (the compactor, when it seals and publishes).
"""

from __future__ import annotations

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


def open_lock_file(path: Path, *, create: bool = True) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    if create:
        flags |= os.O_CREAT
    try:
        return os.open(path, flags, 0o666)
    except PermissionError as denied:
        # A read-only data dir (an archive, another user's log): a shared lock needs no write.
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


def _flock_in_helper(fd: int, path: Path, timeout: float) -> None:
    """Wait for ``LOCK_EX`` on ``fd`` in a helper thread, for at most ``timeout`` seconds.

    On :class:`LockTimeout` the helper keeps ``fd`` and closes it when it wakes; on an error of
    ``flock`` itself ``fd`` is closed here.
    """
    cond = threading.Condition()
    state: dict[str, Any] = {"got": False, "gave_up": False, "error": None}

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            with cond:
                state["error"] = exc
                cond.notify_all()
            return
        with cond:
            if state["gave_up"]:
                os.close(fd)  # nobody wants it any more: let go at once
                return
            state["got"] = True
            cond.notify_all()

    helper = threading.Thread(target=wait, name="mantis-flock-wait", daemon=True)
    helper.start()
    with cond:
        cond.wait_for(lambda: state["got"] or state["error"] is not None, timeout)
        if not state["got"] and state["error"] is None:
            state["gave_up"] = True  # the helper still owns fd and closes it when it wakes
            raise LockTimeout(f"{path} busy for more than {timeout:g}s")
    helper.join()
    if state["error"] is not None:
        os.close(fd)
        raise state["error"]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
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
