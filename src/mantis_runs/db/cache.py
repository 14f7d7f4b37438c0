"""The user's cache folder: derived data that is safe to delete (``$XDG_CACHE_HOME/mantis``).

Entries are small JSON files written atomically; one that cannot be read or written is no error,
only a cache miss: every entry can be computed again from the data directory.

The cache stays bounded: an entry's modification time is refreshed when it is read (at most once
a day), and once a day per kind, the first write removes the entries nobody read for
``UNUSED_FOR_S`` (30 days: the entries of files that compaction replaced, of data dirs that are
gone) and the temporary files of writers that died (``prune``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: An entry not read for this long is removed by the next pruning of its kind.
UNUSED_FOR_S = 30 * 86_400
#: How often a kind's folder is pruned, and how stale a read entry's mtime may get.
DAY_S = 86_400
#: In each kind's folder: when it was last pruned (its modification time).
PRUNED_MARK = ".pruned"
_TMP_PREFIX = ".tmp-"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/mantis`` (``~/.cache/mantis``)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mantis"


def entry_for(kind: str, files: Iterable[Path], *extra: str) -> Path | None:
    """The cache entry of ``kind`` (a folder of the cache) for facts about ``files`` as they
    are now: keyed by ``extra`` (the entry's format version, say) and each file's path, device,
    inode, size, modification and change times, so a file replaced or written to is a cache
    miss. None when a file cannot be stat'ed."""
    digest = hashlib.sha256("\0".join([kind, *extra]).encode() + b"\n")
    for p in sorted(files):
        try:
            st = os.stat(p)
        except OSError:
            return None
        digest.update(f"{p}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0"
                      f"{st.st_ctime_ns}\n".encode())
    key = digest.hexdigest()[:32]
    return cache_root() / kind / key[:2] / f"{key}.json"


def read_entry(entry: Path) -> Any:
    """The JSON value of a cache entry, or None when it is missing or unreadable."""
    try:
        value = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    _mark_used(entry)
    return value


def _mark_used(entry: Path) -> None:
    """Refresh ``entry``'s modification time when it is over a day old, so pruning keeps what is
    still read (one stat per read, one utime a day)."""
    try:
        if time.time() - entry.stat().st_mtime > DAY_S:
            os.utime(entry)
    except OSError:
        pass


def write_entry(entry: Path, value: Any) -> None:
    """Write a cache entry atomically (a temporary file renamed over it)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=_TMP_PREFIX)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, entry)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    prune(entry.parent.parent)


def prune(kind_dir: Path, *, now: float | None = None) -> int:
    """Remove the entries of one kind's folder that were not read for ``UNUSED_FOR_S``, and
    temporary files over a day old; at most once a day (``PRUNED_MARK``), unless ``now`` is
    given. Returns how many files were removed; errors are ignored (it is a cache)."""
    mark = kind_dir / PRUNED_MARK
    clock = time.time() if now is None else now
    try:
        if now is None and clock - mark.stat().st_mtime < DAY_S:
            return 0
    except FileNotFoundError:
        pass
    except OSError:
        return 0
    try:
        mark.touch()
        shards = [e for e in os.scandir(kind_dir) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    removed = 0
    for shard in shards:
        removed += _prune_shard(Path(shard.path), clock)
    return removed


def _prune_shard(folder: Path, now: float) -> int:
    removed = 0
    try:
        found = list(os.scandir(folder))
    except OSError:
        return 0
    for e in found:
        try:
            age = now - e.stat(follow_symlinks=False).st_mtime
            stale = age > (DAY_S if e.name.startswith(_TMP_PREFIX) else UNUSED_FOR_S)
            if stale and e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed += 1
        except OSError:
            continue
    return removed


def per_file(kind: str, files: list[Path], version: str, *,
             decode: Callable[[Any], T | None], encode: Callable[[T], Any],
             compute: Callable[[list[Path]], dict[Path, T]]) -> dict[Path, T]:
    """A fact about each of ``files`` (footer bounds, run_id ranges...), one cache entry per file
    of ``kind`` under its stat identity and ``version``: the entries that ``decode`` accepts, and
    for the other files one call of ``compute``, whose answers are kept (``encode``). A file
    ``compute`` says nothing of is left out of the result (the caller's "unknown")."""
    found: dict[Path, T] = {}
    entries = {p: entry_for(kind, [p], version) for p in files}
    for p, entry in entries.items():
        value = decode(read_entry(entry)) if entry else None
        if value is not None:
            found[p] = value
    todo = [p for p in files if p not in found]
    if todo:
        for p, value in compute(todo).items():
            found[p] = value
            entry = entries.get(p)
            if entry:
                write_entry(entry, encode(value))
    return found
