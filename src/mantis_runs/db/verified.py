"""Full checks of checkpoint files, remembered per file in the user's cache.

A reader checks a checkpoint's Parquet file against the checksum in its manifest before it uses
it (log/checkpoint.py ``verified``): the size and footer every time, and every byte the first
time it meets that file. A file that matched is remembered under its path, device, inode, size,
modification and change times and checksum, so later reads cost a stat and a small read: a file
written to since (a flipped byte, an edit, a copy over it) has another change time, and is hashed
again. Damage that bypasses the file system (the disk itself) is what ``mantis runs verify`` and
compaction, which hash every byte every time, are for.
"""

from __future__ import annotations

from pathlib import Path

from ..log.integrity import Checksum, content_ok
from .cache import entry_for, read_entry, write_entry

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 1


def remembered_content_ok(path: Path, checksum: Checksum) -> bool:
    """Whether every byte of ``path`` matches ``checksum``; a match is remembered (module doc).
    A :data:`~mantis_runs.log.integrity.ContentCheck`."""
    def entry() -> Path | None:
        return entry_for("verified", [path], f"format {FORMAT}", checksum.sha256)

    before = entry()
    if before is None:
        return False
    if read_entry(before) == {"ok": True}:
        return True
    if not content_ok(path, checksum):
        return False
    if entry() == before:  # unchanged while it was read
        write_entry(before, {"ok": True})
    return True
