"""A remote table's data files copied on first use, so that DuckDB reads them as a local table's.

Building deltalake's Arrow dataset costs a cold process about 0.9 s of CPU (importing
``pyarrow.dataset``, which imports pandas, and listing the dataset's fragments), more than the
whole default `stats` over a local table. A table on S3 whose files DuckDB can read as plain
Parquet (Delta reader version 1) is read instead from private copies of the files of the
months a read asks for (:class:`RemoteFiles`, ``LakeSource.fetch``): the planner asks for the
newest months first and stops when the older ones cannot matter, so the default question
fetches one month's files. The copies are fetched by delta-rs's own object store (deltalake's
``DeltaFileSystemHandler``: the storage options and credentials chain that opened the table,
no pyarrow; 61 MB from a loopback S3 in 0.2 s) in a few threads, into a folder only this user
can enter, removed with the source (or by the next reader when this process was killed:
``private_temp_dir``). Delta data files never change, so a copy is the file.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..db.connection import private_temp_dir
from ..errors import MantisError
from .storage import Target

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
                 failed: Callable[[BaseException], MantisError]) -> None:
        self._store = store  # deltalake's DeltaFileSystemHandler of the table
        self._paths = paths  # month -> each data file's path in the table
        self._failed = failed
        self._sizes = sizes
        self._done: dict[str | None, list[str]] = {}
        self._origin: dict[str, str] = {}
        self._folder: Path | None = None
        self._count = 0
        self._fetched = 0  # bytes copied so far (they stay until the source goes)

    def fits(self, months: Sequence[str | None]) -> bool:
        """Whether every copy, those of ``months`` not made yet and those made before, takes
        at most half of the space that was free where they go before the first (a whole
        history of a large table is scanned in place instead: the Arrow dataset; a long-lived
        source whose reads widen never fills the disk by halves)."""
        need = sum(self._sizes.get(p, 0) for m in dict.fromkeys(months) if m not in self._done
                   for p in self._paths.get(m, []))
        if not need:
            return True
        free = shutil.disk_usage(self._folder or tempfile.gettempdir()).free
        return need + self._fetched <= (free + self._fetched) // 2

    def origin(self, local: str) -> str | None:
        """What a local copy is a copy of (the table's file path and size: a Delta file never
        changes), or None for a file this fetcher did not copy."""
        path = self._origin.get(local)
        return None if path is None else f"{path}\0{self._sizes.get(path)}"

    def __call__(self, months: Sequence[str | None]) -> dict[str | None, list[str]]:
        todo = [m for m in dict.fromkeys(months) if m not in self._done and m in self._paths]
        if todo:
            folder = self._ensure_folder()
            jobs = []
            for month in todo:
                for path in self._paths[month]:
                    self._count += 1
                    jobs.append((month, path, folder / f"{self._count}.parquet"))
            try:
                with ThreadPoolExecutor(min(_THREADS, len(jobs))) as pool:
                    list(pool.map(lambda job: self._copy(job[1], job[2]), jobs))
            except MantisError:
                raise
            except Exception as exc:  # pyarrow raises OSError (and ArrowException) for the store
                raise self._failed(exc) from None
            for month, path, local in jobs:
                self._done.setdefault(month, []).append(str(local))
                self._origin[str(local)] = path
                self._fetched += self._sizes.get(path, 0)
        return dict(self._done)

    def _ensure_folder(self) -> Path:
        if self._folder is None:
            self._folder = private_temp_dir(FETCH_PREFIX)
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def _copy(self, path: str, local: Path) -> None:
        src = self._store.open_input_file(path)
        try:
            with open(local, "wb") as out:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
        finally:
            src.close()


def remote_files(target: Target, table_uri: str, actions: Any,
                 failed: Callable[[BaseException], MantisError]) -> RemoteFiles | None:
    """The fetcher of a remote table's data files (its add actions: paths, sizes and months),
    or None when one is given by an absolute URI (another writer's layout: the Arrow dataset
    reads those)."""
    try:  # the object store behind deltalake's own pyarrow file system handler
        from deltalake._internal import DeltaFileSystemHandler
    except ImportError:  # another deltalake: the Arrow dataset reads the table
        return None
    from .table import PARTITION

    paths = actions.column("path").to_pylist()
    if any("://" in p for p in paths):
        return None
    by_month: dict[str | None, list[str]] = {}
    for path, month in zip(paths, actions.column(f"partition.{PARTITION}").to_pylist(),
                           strict=True):
        by_month.setdefault(month, []).append(path)
    sizes = dict(zip(paths, actions.column("size_bytes").to_pylist(), strict=True))
    return RemoteFiles(DeltaFileSystemHandler(table_uri, target.options or None, sizes),
                       by_month, sizes, failed)
