"""Copies of a remote table's data files kept between reads, in the user cache folder.

A Delta data file never changes once committed (a new file gets a new name, with a random
UUID), so a copy made by one read serves every later one: a cold process that reads the whole
history of an unchanged table fetches nothing (``lake/fetch.py`` asks here first). The copies of
a table are kept under ``$XDG_CACHE_HOME/mantis/lake-files/<table>/`` (``<table>``: a digest of
the table's URI and storage options, which name no secret), one file per data file, named by a
digest of its path in the table and its size, in a folder only this user can enter (mode 0700,
owned by this user; otherwise nothing is kept and the copies go to a private temporary folder,
as before).

Bounded: a copy is written under a temporary name and renamed when complete, and its size is
checked at every use; a copy is touched when used, and one that the table's current version no
longer lists (``lake compact`` rewrote its month) is removed once unused for a day, any copy
once unused for 30 days (``db.cache.prune``). New copies never take more than half the free
space (``RemoteFiles.fits``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..db.cache import DAY_S, cache_root, prune

#: Version of the copies' naming; a change leaves old copies to pruning.
FORMAT: Final = 1
#: The cache folder's kind.
KIND: Final = "lake-files"
_TMP: Final = ".tmp-"


class KeptCopies:
    """The kept copies of one table's data files (``folder``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, path: str, size: int) -> Path:
        """Where the copy of the table's file ``path`` of ``size`` bytes is kept."""
        key = hashlib.sha256(f"{FORMAT}\0{path}\0{size}".encode()).hexdigest()[:40]
        return self.folder / f"{key}.parquet"

    def find(self, path: str, size: int) -> Path | None:
        """The complete copy of ``path`` (its size checked), touched; None when there is none."""
        local = self.path(path, size)
        try:
            st = os.stat(local)
            if not stat.S_ISREG(st.st_mode) or st.st_size != size or not _framed(local, size):
                return None
            if time.time() - st.st_mtime > 3600:  # at most one touch an hour
                os.utime(local)
        except OSError:
            return None
        return local

    def temporary(self) -> Path:
        """A new temporary name in the folder for a copy being written."""
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=_TMP)
        os.close(fd)
        return Path(name)

    def tidy(self, listed: Iterable[Path]) -> None:
        """Remove the copies not in ``listed`` (the current version's) unused for a day, and
        prune the kind's folder (copies unused for 30 days, temporary files over a day old)."""
        keep = {p.name for p in listed}
        now = time.time()
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                if entry.name in keep or entry.name.startswith(_TMP):
                    continue
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > DAY_S:
                        os.unlink(entry.path)
        prune(self.folder.parent)


def _framed(local: Path, size: int) -> bool:
    """Whether the copy starts and ends with Parquet's magic bytes (a copy damaged in place, its
    size kept, is fetched again rather than failing every later read; damage inside the file is
    not seen: the read then fails naming the copy, see ``damaged_copy_hint``)."""
    if size < 8:
        return False
    with open(local, "rb") as f:
        head = f.read(4)
        f.seek(size - 4)
        return head == _MAGIC and f.read(4) == _MAGIC


#: The bytes a Parquet file starts and ends with.
_MAGIC: Final = b"PAR1"


def damaged_copy_hint(message: str) -> str:
    """``message`` and, when it names a kept copy, how to drop the copies (always safe)."""
    if f"{os.sep}{KIND}{os.sep}" not in message:
        return message
    return (f"{message} (a kept copy of the table's files is damaged: remove "
            f"{cache_root() / KIND} and read again; it is fetched anew)")


def kept_copies(table_uri: str, options: dict[str, str]) -> KeptCopies | None:
    """The kept copies of the table at ``table_uri`` reached with ``options``, or None when no
    private folder can be had in the user cache folder (then nothing is kept)."""
    key = hashlib.sha256(json.dumps([table_uri, sorted(options.items())]).encode()).hexdigest()
    kind = cache_root() / KIND
    try:
        kind.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(kind):
            return None
        folder = kind / key[:32]
        folder.mkdir(mode=0o700, exist_ok=True)
        if not _private(folder):
            return None
    except OSError:
        return None
    return KeptCopies(folder)


def _private(folder: Path) -> bool:
    """Whether ``folder`` is a real folder of this user's that no one else may enter."""
    st = os.lstat(folder)
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IRWXG | stat.S_IRWXO))
