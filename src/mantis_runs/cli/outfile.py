"""Where a command writes a result file (`trend --plot`, `dashboard --output`): checked before
any read, so that a path that cannot be written costs nothing, and never inside the data dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources


def check_output_file(data_dir: Path | Sources | None, path: Path) -> None:
    """Raise ``UsageError`` (one line) unless ``path`` can be written: not inside any local data
    dir read or mantis's cache (``RunStore.check_output``), its folder exists and is writable,
    and an existing file there is a writable regular file."""
    from ..db.lake_source import sources_of
    from ..store import RunStore

    dirs: list[Path | None] = [*sources_of(data_dir).local] or [None]  # a lake alone: default
    for local in dirs:
        RunStore(local).check_output(path)
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: there is no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: the folder {folder} is not writable")
    if path.exists() and not (path.is_file() and os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: it exists and is not a writable file")
