"""flock helpers with a deadline (standard library only).

``flock`` locks belong to the open file description, so they vanish when the holder dies, even
under kill -9. Lock files are never renamed or deleted, so no inode re-check is needed.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
