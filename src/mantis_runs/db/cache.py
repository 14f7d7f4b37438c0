"""The user's cache folder: derived data that is safe to delete (``$XDG_CACHE_HOME/mantis``).

Entries are small JSON files written atomically; one that cannot be read or written is no error,
only a cache miss: every entry can be computed again from the data directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


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
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_entry(entry: Path, value: Any) -> None:
    """Write a cache entry atomically (a temporary file renamed over it)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, entry)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


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
