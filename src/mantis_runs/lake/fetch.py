"""A remote table's data files copied on first use, so that DuckDB reads them as a local table's.

Building deltalake's Arrow dataset costs a cold process about 0.9 s of CPU (importing
``pyarrow.dataset``, which imports pandas, and listing the dataset's fragments), more than the
whole default `stats` over a local table. A table on S3 whose files DuckDB can read as plain
Parquet (Delta reader version 1) is read instead from private copies of the files of the
months a read asks for (:class:`RemoteFiles`, ``LakeSource.fetch``): the planner asks for the
newest months first and stops when the older ones cannot matter, so the default question
fetches one month's files. The copies are fetched by delta-rs's own object store (deltalake's
``DeltaFileSystemHandler``: the storage options and credentials chain that opened the table,
no pyarrow; 618 MB from a loopback moto server in 1.6 s) in a few threads. Delta data files
never change, so a copy is the file, and it is kept for later reads in the user cache folder
(lake/copies.py: a folder only this user can enter; a later process that reads the same
months fetches nothing); without such a folder, into a private temporary folder removed with
the source (or by the next reader when this process was killed: ``private_temp_dir``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ..db.connection import private_temp_dir
from ..errors import MantisError
from .copies import KeptCopies, kept_copies
from .storage import Target
from .table import file_sizes

#: The folder prefix of the copies (``private_temp_dir``).
FETCH_PREFIX = "mantis-lake-"
#: Files copied at once: the store serves each in its own connection.
_THREADS = 4
#: Bytes per ranged read (a Delta file of a mantis table is a few MB: one read).
_CHUNK = 16 << 20


class RemoteFiles:
    """The data files of a table's current version per month partition, fetched on demand:
    calling it with months returns the local copies of every month fetched so far."""

    def __init__(self, store: Any, paths: dict[str | None, list[str]], sizes: dict[str, int],
                 failed: Callable[[BaseException], MantisError],
                 kept: KeptCopies | None = None) -> None:
        self._store = store  # deltalake's DeltaFileSystemHandler of the table
        self._paths = paths  # month -> each data file's path in the table
        self._failed = failed
        self._sizes = sizes
        self._kept = kept  # copies kept between reads (lake/copies.py), when there is room
        self._done: dict[str | None, list[str]] = {}
        self._origin: dict[str, str] = {}
        self._folder: Path | None = None
        self._count = 0
        self._fetched = 0  # bytes copied so far (they stay until the source goes)
        self._found: dict[str, Path] = {}  # kept copies found (fits, then the call, ask once)
        self._tidied = False  # the kept copies tidied once per source (the table's files fixed)

    def fits(self, months: Sequence[str | None]) -> bool:
        """Whether every copy, those of ``months`` not made yet and those made before, takes
        at most half of the space that was free where they go before the first (a whole
        history of a large table is scanned in place instead: the Arrow dataset; a long-lived
        source whose reads widen never fills the disk by halves)."""
        need = sum(self._sizes.get(p, 0) for m in dict.fromkeys(months) if m not in self._done
                   for p in self._paths.get(m, []) if self._kept_copy(p) is None)
        if not need:
            return True
        where = self._kept.folder if self._kept is not None else self._folder
        free = shutil.disk_usage(where or tempfile.gettempdir()).free
        return need + self._fetched <= (free + self._fetched) // 2

    def origin(self, local: str) -> str | None:
        """What a local copy is a copy of (the table's file path and size: a Delta file never
        changes), or None for a file this fetcher did not copy."""
        path = self._origin.get(local)
        return None if path is None else f"{path}\0{self._sizes.get(path)}"

    def __call__(self, months: Sequence[str | None]) -> dict[str | None, list[str]]:
        todo = [m for m in dict.fromkeys(months) if m not in self._done and m in self._paths]
        found: list[tuple[str | None, str, Path]] = []
        jobs: list[tuple[str | None, str, Path]] = []
        for month in todo:
            for path in self._paths[month]:
                kept = self._kept_copy(path)
                if kept is not None:
                    found.append((month, path, kept))
                else:
                    jobs.append((month, path, self._destination(path)))
        if jobs:
            try:
                with ThreadPoolExecutor(min(_THREADS, len(jobs))) as pool:
                    list(pool.map(lambda job: self._copy(job[1], job[2]), jobs))
            except MantisError:
                raise
            except Exception as exc:  # pyarrow raises OSError (and ArrowException) for the store
                raise self._failed(exc) from None
            self._fetched += sum(self._sizes.get(path, 0) for _, path, _ in jobs)
            if self._kept is not None and not self._tidied:  # copies of files no longer listed
                self._tidied = True
                self._kept.tidy(self._kept.path(p, self._sizes.get(p, 0)) for p in self._sizes)
        for month, path, local in [*found, *jobs]:
            self._done.setdefault(month, []).append(str(local))
            self._origin[str(local)] = path
        return dict(self._done)

    def _kept_copy(self, path: str) -> Path | None:
        """The complete copy of ``path`` kept by an earlier read, if any (looked for once: one
        found was used within the hour, so no tidying removes it meanwhile)."""
        if self._kept is None:
            return None
        if path not in self._found:
            found = self._kept.find(path, self._sizes.get(path, 0))
            if found is None:
                return None
            self._found[path] = found
        return self._found[path]

    def _destination(self, path: str) -> Path:
        """Where the copy of ``path`` goes: kept (lake/copies.py), else the private folder."""
        if self._kept is not None:
            return self._kept.path(path, self._sizes.get(path, 0))
        self._count += 1
        return self._ensure_folder() / f"{self._count}.parquet"

    def _ensure_folder(self) -> Path:
        if self._folder is None:
            self._folder = private_temp_dir(FETCH_PREFIX)
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def _copy(self, path: str, local: Path) -> None:
        """Copy the table's ``path`` to ``local``; a kept copy is written under a temporary
        name and renamed once complete (another reader never sees half a copy)."""
        out_path = self._kept.temporary() if self._kept is not None else local
        try:
            src = self._store.open_input_file(path)
            try:
                with open(out_path, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
            finally:
                src.close()
            if out_path != local:
                os.replace(out_path, local)
        finally:
            if out_path != local:
                out_path.unlink(missing_ok=True)


def remote_files(target: Target, table_uri: str, actions: Any,
                 by_month: dict[str | None, list[str]],
                 failed: Callable[[BaseException], MantisError]) -> RemoteFiles | None:
    """The fetcher of a remote table's data files (``by_month``: table.data_files; their
    sizes from the add ``actions``), or None when one is given by an absolute URI (another
    writer's layout: the Arrow dataset reads those)."""
    try:  # the object store behind deltalake's own pyarrow file system handler
        from deltalake._internal import DeltaFileSystemHandler
    except ImportError:  # another deltalake: the Arrow dataset reads the table
        return None

    sizes = file_sizes(actions)
    if any("://" in p for p in sizes):
        return None
    return RemoteFiles(
        _LazyStore(partial(DeltaFileSystemHandler, table_uri, target.options or None, sizes)),
        by_month, sizes, failed, kept_copies(table_uri, target.options))


class _LazyStore:
    """deltalake's file system handler of a table, made when a file is first copied: a read
    whose every copy is kept (lake/copies.py) never makes it (its object store, a tenth of a
    cold read's work on the table)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._store: Any = None
        self._lock = threading.Lock()  # copies are made on several threads

    def open_input_file(self, path: str) -> Any:
        with self._lock:
            if self._store is None:
                self._store = self._make()
        return self._store.open_input_file(path)
