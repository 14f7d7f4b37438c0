"""Checksums of the Parquet files mantis publishes, and the checks readers and compaction make
(standard library only).

A :class:`Checksum` records a file's size, the SHA-256 of the whole file and the SHA-256 of its
footer (the Parquet metadata at its end, with its 4-byte length and the ``PAR1`` magic). A
compacted part's checksum is in ``checksums/<month>/<part name>.json``, written and fsynced
*before* the part is renamed into ``compacted/`` and deleted *after* the part, so every part a
reader can see has one (parts written by mantis-runs before checksums existed have none: they
are read unchecked). A checkpoint's is in its manifest (:mod:`mantis_runs.log.checkpoint`).

Two checks, for two budgets:

* :func:`quick_problem`, on every read (``stats``; a stat and one small read per file): the size
  and the footer. A torn or truncated file, and any damage to the footer (the row groups'
  offsets, sizes and statistics), is found; a flipped byte inside a data page is not.
* :func:`full_problem`, by compaction before it builds a new file on an old one, and by
  ``mantis runs verify``: the size and the whole file's SHA-256 (about 1.5 GB/s).

Checkpoints are derived data and smaller: readers check them in full, but only the first time
they see a given file (``mantis_runs.db.verified``), and ignore one that does not check out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import MantisError
from .layout import CHECKSUMS
from .locks import fsync_dir, makedirs_durable

#: The format of a checksum file (``format`` key).
FORMAT = 1
#: Checksum files and checkpoint manifests are small: anything larger is not one.
MAX_RECORD_BYTES = 64 * 1024
#: A SHA-256 as every record spells it: 64 lowercase hex digits.
SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
_MAGIC = b"PAR1"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Checksum:
    """What a Parquet file looked like when it was published."""

    bytes: int  # the file's size
    sha256: str  # of the whole file
    footer_bytes: int  # the footer: metadata + 4-byte length + magic (the last bytes)
    footer_sha256: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: object) -> Checksum:
        """The checksum a JSON object describes; ValueError when it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("a checksum is not a JSON object")
        size, footer = whole_number(raw, "bytes"), whole_number(raw, "footer_bytes")
        digests = [raw.get("sha256"), raw.get("footer_sha256")]
        if not all(isinstance(d, str) and SHA256_HEX.match(d) for d in digests):
            raise ValueError("a checksum's SHA-256 is not 64 lowercase hex digits")
        if footer > size:
            raise ValueError("a checksum's footer is longer than its file")
        return cls(bytes=size, sha256=str(digests[0]), footer_bytes=footer,
                   footer_sha256=str(digests[1]))


def whole_number(raw: dict[str, Any], key: str) -> int:
    """``raw[key]`` when it is an int >= 0 (not a bool); ValueError otherwise."""
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key!r} is not a whole number")
    return value


class Damaged(MantisError):
    """A published file does not match its checksum (or its checksum cannot be read)."""

    def __init__(self, path: Path, why: str, advice: str = "") -> None:
        self.path = path
        self.why = why
        super().__init__(f"{path} is damaged: {why}"
                         f"{'; ' + advice if advice else ''}")


#: What to do about a damaged file (docs/compaction.md says more).
RESTORE = 'restore it from a backup (docs/compaction.md, "Verifying a store")'
#: The same, for readers and compaction: where to find every other damaged file.
RESTORE_ALL = f"{RESTORE}; `mantis runs verify` checks every file"


def measure(path: Path) -> Checksum:
    """The checksum of ``path`` as it is now (reads the whole file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
        footer = _footer_bytes(f.fileno(), size)
        tail = os.pread(f.fileno(), footer, size - footer)
    return Checksum(bytes=size, sha256=digest.hexdigest(), footer_bytes=footer,
                    footer_sha256=hashlib.sha256(tail).hexdigest())


def _footer_bytes(fd: int, size: int) -> int:
    """How many bytes at the end of a Parquet file are its footer (for a file that is not
    Parquet, just the last 8 or fewer)."""
    end = os.pread(fd, 8, max(0, size - 8))
    if len(end) == 8 and end[4:] == _MAGIC:
        length = int.from_bytes(end[:4], "little") + 8
        if length <= size - len(_MAGIC):
            return length
    return min(size, 8)


def quick_problem(path: Path, checksum: Checksum) -> str | None:
    """What is wrong with ``path`` by its size and footer (None: nothing seen). OSError when it
    cannot be opened."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size != checksum.bytes:
            return _size_problem(size, checksum)
        tail = os.pread(f.fileno(), checksum.footer_bytes, size - checksum.footer_bytes)
    if hashlib.sha256(tail).hexdigest() != checksum.footer_sha256:
        return "its footer does not match the checksum recorded when it was written"
    return None


def full_problem(path: Path, checksum: Checksum) -> str | None:
    """What is wrong with ``path`` by its size and the SHA-256 of every byte (None: it is as it
    was written). OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size != checksum.bytes:
            return _size_problem(size, checksum)
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    if digest.hexdigest() != checksum.sha256:
        return "its bytes do not match the SHA-256 recorded when it was written"
    return None


def _size_problem(size: int, checksum: Checksum) -> str:
    return f"it has {size:,} bytes, {checksum.bytes:,} when it was written"


#: A check of a whole file against its checksum: True when it matches.
ContentCheck = Callable[[Path, Checksum], bool]


def content_ok(path: Path, checksum: Checksum) -> bool:
    """The plain :data:`ContentCheck`: every byte, every time."""
    try:
        return full_problem(path, checksum) is None
    except OSError:
        return False


# -- checksum files of compacted parts -------------------------------------------------------


def checksum_path(part: Path) -> Path:
    """``<data dir>/checksums/<month>/<part name>.json`` for ``<data dir>/compacted/<month>/<part
    name>``."""
    return part.parent.parent.parent / CHECKSUMS / part.parent.name / f"{part.name}.json"


def read_record(path: Path) -> Any:
    """The JSON value of a small record file (a checksum file, a checkpoint manifest).

    OSError when it cannot be read (FileNotFoundError: it does not exist); ValueError when it is
    not UTF-8 JSON of at most ``MAX_RECORD_BYTES`` bytes.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"it is over {MAX_RECORD_BYTES:,} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8") from None
    except (ValueError, RecursionError):
        raise ValueError("it is not JSON") from None


def read_checksum(part: Path) -> Checksum | None:
    """The checksum recorded for ``part``; None when it has none (written by an earlier
    mantis-runs). :class:`Damaged` when the checksum file cannot be read or names another file."""
    path = checksum_path(part)
    try:
        raw = read_record(path)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("it is not a checksum file of this mantis-runs")
        if raw.get("file") != part.name:
            raise ValueError(f"it describes {raw.get('file')!r}")
        return Checksum.from_json(raw)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Damaged(part, f"its checksum file {path} cannot be read: {exc.strerror or exc}",
                      RESTORE_ALL) from None
    except ValueError as exc:
        raise Damaged(part, f"its checksum file {path} cannot be used: {exc}",
                      RESTORE_ALL) from None


def check_part(part: Path, *, full: bool) -> Checksum | None:
    """Check ``part`` against its checksum: quickly (readers) or ``full`` (compaction, verify).

    Returns its checksum (None: it has none, so it cannot be checked). Raises :class:`Damaged`
    when it does not match or cannot be read.
    """
    checksum = read_checksum(part)
    if checksum is None:
        return None
    try:
        why = full_problem(part, checksum) if full else quick_problem(part, checksum)
    except OSError as exc:
        raise Damaged(part, f"it cannot be read: {exc.strerror or exc}", RESTORE_ALL) from None
    if why is not None:
        raise Damaged(part, why, RESTORE_ALL)
    return checksum


def check_parts(parts: list[Path]) -> None:
    """The readers' quick check of every part they may read (or whose footer they plan by)."""
    for part in parts:
        check_part(part, full=False)


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON in the file ``path`` (created or emptied), fsynced. OSError
    propagates: the caller names what was being written."""
    data = (json.dumps(value, indent=1) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_checksum(part: Path, checksum: Checksum, scratch: Path) -> Path:
    """Make ``part``'s checksum file durable (through ``scratch``, on the same filesystem) before
    ``part`` itself is published; returns its path. OSError when it cannot be written."""
    path = checksum_path(part)
    tmp = scratch / f"{path.name}.inprogress"
    try:
        write_json(tmp, {"format": FORMAT, "file": part.name, **checksum.to_json()})
        makedirs_durable(path.parent)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def stale_checksums(base: Path, current: set[Path]) -> list[Path]:
    """Checksum files whose part is not one of ``current`` (the parts readers read): left by a
    compactor killed between writing a checksum and publishing its part, or between deleting a
    part and its checksum, and those of older generations."""
    folder = base / CHECKSUMS
    names = {(p.parent.name, p.name) for p in current}
    stale: list[Path] = []
    try:
        months = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    for month in months:
        if not month.is_dir(follow_symlinks=False):
            continue
        for entry in sorted(os.scandir(month.path), key=lambda e: e.name):
            part = entry.name.removesuffix(".json")
            if (part != entry.name and entry.is_file(follow_symlinks=False)
                    and (month.name, part) not in names):
                stale.append(Path(entry.path))
    return stale

