"""Checkpoints of live shards: Parquet copies of the prefix of an open month (stdlib only).

A live shard only grows, so the rows of its first ``offset`` bytes never change. Compaction
(``mantis runs compact``) writes them to ``checkpoints/<month>-<id>.parquet`` and describes the
copy in ``checkpoints/<month>.json``: which file (device, inode), how many bytes, and a SHA-256 of
the bytes just before ``offset``. A reader that finds a checkpoint matching the live shard reads
the Parquet file plus a copy of the shard's bytes after ``offset`` (the tail), instead of parsing
the whole month of JSON.

Why the check covers only the last bytes: a writer changes bytes already in the file in one case
only, when it rolls back its own short write (``ftruncate`` to where that write began). A write is
at most one row (``MAX_ROW_BYTES``) plus the seal, so bytes more than ``CHECK_BYTES`` before the end
of the file can never change; the hash covers the only bytes that could. A checkpoint that does
not match (another inode, a shorter file, other bytes) is ignored and the whole shard is read.

The manifest also holds the Parquet file's checksum (:mod:`mantis_runs.log.integrity`): a
checkpoint whose file does not match it (a flipped byte, a truncated file) is ignored like a stale
one. So is a manifest that cannot be read (not UTF-8, not JSON, not a manifest of this format):
:func:`load` treats it as absent, and the next compaction removes it.

The run events' live shards (``events_log/YYYY-MM.jsonl``) have checkpoints too, in
``events_log/checkpoints/``, laid out the same way: every function here takes the folder that
holds ``checkpoints/`` (the data dir, or ``events_log/``) as its ``data_dir``. An events append
can be longer than ``CHECK_BYTES`` (a batch is one write), so the compactor covers only bytes
written before it took the events writers' lock (compaction/checkpoints.py).

Checkpoints are derived data. Nothing is lost without them. ``stats`` and mantis's views (and so
``mantis runs shell``) read a valid one plus a copy of the shard's tail; other engines never see
them (they live outside ``compacted/``). No row is ever counted from both a checkpoint and its
shard: a reader uses either the checkpoint plus the tail, or the whole shard.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from . import schema
from .integrity import (
    SHA256_HEX,
    Checksum,
    ContentCheck,
    content_ok,
    quick_problem,
    read_record,
    whole_number,
)
from .layout import CHECKPOINTS, MONTH_PATTERN, checked_month

#: The manifest format. 2: the Parquet file is in Parquet layout 2 (schema.PARQUET_LAYOUT); 3: the
#: manifest holds the Parquet file's checksum. A checkpoint of an older format is stale, so readers
#: read the shard and compaction rebuilds it.
FORMAT = 3
#: Bytes before ``offset`` covered by the hash: longer than any single write (one row + seal).
CHECK_BYTES = 2 * schema.MAX_ROW_BYTES
_PARQUET_RE = re.compile(rf"^({MONTH_PATTERN})-([0-9a-f]{{16}})\.parquet\Z")


@dataclass(frozen=True)
class Checkpoint:
    """What ``checkpoints/<month>.json`` says about one live shard's checkpoint."""

    month: str
    shard: str  # the live shard's file name
    dev: int
    ino: int
    offset: int  # bytes of the shard covered; always just after a newline
    lines: int  # non-blank lines in those bytes
    bad_lines: int  # lines among them that are not rows (counted as skipped by readers)
    rows: int  # rows in the Parquet file (one per run_id)
    check_from: int  # the hash covers the shard's bytes [check_from, offset)
    sha256: str
    parquet: str  # file name in checkpoints/
    parquet_checksum: Checksum  # the Parquet file's, when it was written
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class OlderFormat(ValueError):
    """A manifest written by an earlier mantis-runs: stale, not damaged."""


_TEXT_FIELDS = ("month", "shard", "sha256", "parquet")
_NUMBER_FIELDS = ("dev", "ino", "offset", "lines", "bad_lines", "rows", "check_from")


def manifest_path(data_dir: Path, month: str) -> Path:
    return data_dir / CHECKPOINTS / f"{checked_month(month)}.json"


def parquet_name(month: str, token: str) -> str:
    return f"{month}-{token}.parquet"


def parquet_month(name: str) -> str | None:
    m = _PARQUET_RE.match(name)
    return m.group(1) if m else None


def load(data_dir: Path, month: str) -> Checkpoint | None:
    """The month's checkpoint manifest, or None when there is none or it cannot be used."""
    try:
        return read_manifest(data_dir, month)
    except (OSError, ValueError):
        return None


def read_manifest(data_dir: Path, month: str) -> Checkpoint:
    """The month's checkpoint manifest. OSError when it cannot be read (FileNotFoundError: there
    is none); :class:`OlderFormat` when an earlier mantis-runs wrote it; ValueError when it is
    not a manifest (not UTF-8, not JSON, a key missing or of the wrong type, another month)."""
    raw = read_record(manifest_path(data_dir, month))
    if not isinstance(raw, dict):
        raise ValueError("it is not a JSON object")
    if raw.get("format") != FORMAT:
        fmt = raw.get("format")
        if isinstance(fmt, int) and not isinstance(fmt, bool) and 0 < fmt < FORMAT:
            raise OlderFormat(f"it is in format {fmt}, from an earlier mantis-runs")
        raise ValueError(f"its format is {fmt!r}, not {FORMAT}")
    if set(raw) != {f.name for f in fields(Checkpoint)}:
        raise ValueError("its keys are not those of a checkpoint manifest")
    if not all(isinstance(raw[k], str) for k in _TEXT_FIELDS):
        raise ValueError("a text field is not text")
    numbers = {k: whole_number(raw, k) for k in _NUMBER_FIELDS}
    cp = Checkpoint(**{**raw, **numbers,
                       "parquet_checksum": Checksum.from_json(raw["parquet_checksum"])})
    if cp.month != month:
        raise ValueError(f"it describes {cp.month!r}")
    if (not _PARQUET_RE.match(cp.parquet) or not SHA256_HEX.match(cp.sha256)
            or cp.check_from > cp.offset or cp.bad_lines > cp.lines):
        raise ValueError("its fields do not describe a checkpoint")
    return cp


def pread_exact(fd: int, start: int, end: int) -> bytes | None:
    """The bytes [start, end) of the open file ``fd``; None when the file is shorter."""
    chunks: list[bytes] = []
    pos = start
    while pos < end:
        chunk = os.pread(fd, min(1 << 20, end - pos), pos)
        if not chunk:
            return None
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks)


@contextmanager
def opened(shard: Path) -> Iterator[tuple[int, os.stat_result]]:
    """``shard`` open read-only (a symlink is refused) with its fstat; closed on exit."""
    fd = os.open(shard, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        yield fd, os.fstat(fd)
    finally:
        os.close(fd)


def verified(data_dir: Path, cp: Checkpoint, live: Path, fd: int, st: os.stat_result,
             content: ContentCheck = content_ok) -> bytes | None:
    """The shard's hashed bytes when ``cp`` is a checkpoint of ``live`` (open as ``fd``, ``st``
    its fstat) whose Parquet file is as it was written: same name, device and inode, at least
    ``offset`` bytes, the same hash; the Parquet file's size and footer match its checksum, and
    so does its content by ``content`` (by default every byte is hashed). None otherwise."""
    parquet = data_dir / CHECKPOINTS / cp.parquet
    if (cp.shard != live.name or st.st_dev != cp.dev or st.st_ino != cp.ino
            or st.st_size < cp.offset or parquet.is_symlink() or not parquet.is_file()):
        return None
    region = pread_exact(fd, cp.check_from, cp.offset)
    if region is None or hashlib.sha256(region).hexdigest() != cp.sha256:
        return None
    if (quick_problem(parquet, cp.parquet_checksum) is not None
            or not content(parquet, cp.parquet_checksum)):
        return None
    return region


@dataclass(frozen=True)
class LiveRead:
    """How to read one live shard with its checkpoint."""

    parquet: Path  # the checkpoint's rows
    tail: Path | None  # a copy of the shard's bytes after the checkpoint; None when there are none
    bad_lines: int  # bad lines in the checkpointed bytes


def copy_range(fd: int, start: int, end: int, dest: Path) -> int:
    """Copy the bytes [start, end) of ``fd`` into a new file ``dest``; returns the bytes copied."""
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    copied = 0
    try:
        pos = start
        fast = hasattr(os, "copy_file_range")  # Linux; elsewhere, across filesystems that
        while pos < end:                         # refuse it, or when it stops short: by hand
            n = 0
            if fast:
                try:
                    n = os.copy_file_range(fd, out, end - pos, pos)
                except OSError:
                    n = 0
                if n == 0:
                    fast = False
                    continue
            else:
                n = os.write(out, os.pread(fd, min(1 << 20, end - pos), pos))
                if n == 0:  # the file ends before `end`
                    break
            pos += n
            copied += n
    finally:
        os.close(out)
    return copied


#: A tail longer than this is not copied: the reader parses the whole shard instead (compaction
#: has not run for a long while, and the copy would cost as much room as it saves time).
TAIL_COPY_MAX = 256 * 1024 * 1024


def open_live(data_dir: Path, month: str, live: Path, scratch: Path,
              content: ContentCheck = content_ok) -> LiveRead | None:
    """The checkpoint and tail of ``live`` when a valid checkpoint exists, else None.

    Call it under the shared publish lock (``query.snapshot``), so the checkpoint cannot be
    replaced meanwhile. The tail is copied into ``scratch`` under the shard's own name, so bad
    lines in it are reported against that name. None too when the tail is too long to copy or
    cannot be copied in full (a full or read-only temp dir), or when the checkpoint's Parquet file
    does not match its checksum (``content`` checks the whole file: see :func:`verified`): the
    caller reads the whole shard, which never needs a checkpoint.
    """
    try:
        return _open_live(data_dir, month, live, scratch, content)
    except OSError:
        return None


def _open_live(data_dir: Path, month: str, live: Path, scratch: Path,
               content: ContentCheck) -> LiveRead | None:
    cp = load(data_dir, month)
    if cp is None:
        return None
    with opened(live) as (fd, st):
        if verified(data_dir, cp, live, fd, st, content) is None:
            return None
        tail: Path | None = None
        if st.st_size > cp.offset:
            if st.st_size - cp.offset > TAIL_COPY_MAX:
                return None
            scratch.mkdir(parents=True, exist_ok=True)
            tail = scratch / live.name
            with contextlib.suppress(FileNotFoundError):
                tail.unlink()
            if copy_range(fd, cp.offset, st.st_size, tail) != st.st_size - cp.offset:
                return None  # the file shrank meanwhile (a rolled-back write): read it whole
        return LiveRead(parquet=data_dir / CHECKPOINTS / cp.parquet, tail=tail,
                        bad_lines=cp.bad_lines)
