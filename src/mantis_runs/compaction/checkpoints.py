"""Checkpoints of live shards (step 6), the write side: the compactor's half of log/checkpoint.py.

A live shard with enough bytes not in its checkpoint gets a new one (:func:`write_checkpoint`):
the bytes from the last checkpoint's offset up to the last newline are copied to the scratch
directory and hashed, the last checkpoint's rows plus the copy's good rows are converted to
Parquet (convert.py) and its checksum taken; the manifest (with that checksum) is written under a
temporary name and fsynced, and under the publish lock the file is renamed into
``checkpoints/``, the manifest renamed over the last one, the directory fsynced and the replaced
file deleted. The last checkpoint is built on only when every byte of its file matches its
checksum; recovery removes a damaged one (it is derived data: the next one starts from the
shard).

Recovery deletes what no reader can use (:func:`stale_checkpoints`), sealing drops the month's
checkpoint (:func:`drop_checkpoint`), and the dry run asks :func:`unchecked_bytes`. The manifest
format and the read side (verifying a checkpoint against its shard) are in
:mod:`mantis_runs.log.checkpoint`.

Both kinds (kinds.py) are checkpointed by the same code: the run log's live shards into
``checkpoints/``, the events' into ``events_log/checkpoints/`` (the kind's root), converted as
their parts are (``Kind.conversion``: convert.py's or events.py's). An events append
can be a whole batch, longer than ``checkpoint.CHECK_BYTES``, so an events checkpoint covers
only bytes written under the writers' lock before it was taken (:func:`_stable_size`): a
rolled-back write can never have been copied.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..errors import MantisError
from ..log import checkpoint
from ..log.integrity import Checksum, content_ok, measure, write_json
from ..log.layout import CHECKPOINTS, MONTH_RE, WRITER_LOCK
from ..log.locks import LockTimeout, exclusive_blocking, fsync_dir, makedirs_durable
from ..units import human_bytes
from .convert import nothing_lost, scratch_connection
from .kinds import Kind, KindName, kinds
from .publish import PUBLISH_TIMEOUT_S, publishing
from .report import CheckpointReport, Progress


def write_checkpoint(base: Path, scratch: Path, month: str, live: Path, min_bytes: int,
                     memory_limit: str, say: Progress,
                     kind_name: KindName = "runs") -> CheckpointReport | None:
    """Write a new checkpoint of ``live`` (a live shard of the kind ``kind_name``): the last
    one's rows plus the rows of the bytes added since, up to the last complete line. Nothing is
    done when fewer than ``min_bytes`` were added.

    The new bytes are copied to the scratch directory first, so DuckDB parses exactly them, and
    the manifest's hash is taken over the bytes that were copied (and the checked bytes of the
    last checkpoint before them), never over a second read of the live file.
    """
    kind = Kind(kind_name, base)
    root = kind.root  # where this kind's checkpoints/ is
    replaced = checkpoint.load(root, month)  # valid or not, its file goes when the new one is in
    new = _copy_new_bytes(kind, scratch, month, live, replaced, min_bytes)
    if new is None:
        return None
    check_from, sha256 = _hash_checked_bytes(new)
    old = new.old
    previous = root / CHECKPOINTS / old.parquet if old is not None else None
    say(f"{kind.label(month)}: checkpointing {live.name} "
        f"({human_bytes(new.end - new.start)} new)")
    token = uuid.uuid4().hex[:16]
    tmp = scratch / f"{checkpoint.parquet_name(month, token)}.inprogress"
    con = scratch_connection(scratch, memory_limit)
    with nothing_lost(f"checkpointing {live.name}"), closing(con):
        conv = kind.conversion(con, scratch, new.copy, previous, checkpoint_of=month)
        lines, bad = conv.lines, conv.bad
        rows = conv.write(tmp)

    cp = checkpoint.Checkpoint(
        month=month, shard=live.name, dev=new.st.st_dev, ino=new.st.st_ino, offset=new.end,
        lines=(old.lines if old else 0) + lines, bad_lines=(old.bad_lines if old else 0) + bad,
        rows=rows, check_from=check_from, sha256=sha256,
        parquet=checkpoint.parquet_name(month, token),
        parquet_checksum=_measure(tmp, live))
    _publish_checkpoint(kind, tmp, cp, replaced)
    say(f"{kind.label(month)}: checkpoint of {live.name} covers {new.end:,} bytes, {rows:,} rows")
    return CheckpointReport(month=month, offset=new.end,
                            shard=str(live.relative_to(base)) if kind.name == "events"
                            else live.name,  # events_log/YYYY-MM.jsonl, as warnings name it
                            bytes_read=new.end - new.start, lines_read=lines,
                            bad_lines=cp.bad_lines, rows=rows,
                            parquet=str((root / CHECKPOINTS / cp.parquet).relative_to(base)))


@dataclass(frozen=True)
class _NewBytes:
    """The bytes [start, end) of a live shard, copied to ``copy`` in the scratch directory."""

    copy: Path
    start: int
    end: int  # just after a newline
    st: os.stat_result  # the live shard's, when it was copied
    old: checkpoint.Checkpoint | None  # the valid checkpoint that ends at ``start``, if any
    region: bytes  # the hashed bytes ``old`` was checked against


def _measure(tmp: Path, live: Path) -> Checksum:
    """The new checkpoint file's checksum (it goes in the manifest)."""
    with nothing_lost(f"checkpointing {live.name}"):
        return measure(tmp)


def _copy_new_bytes(kind: Kind, scratch: Path, month: str, live: Path,
                    replaced: checkpoint.Checkpoint | None, min_bytes: int) -> _NewBytes | None:
    """Copy what ``replaced`` (if it is valid: its Parquet file checked in full, since the new
    one is built on it) does not cover, up to the last complete line; None when that is under
    ``min_bytes`` (at least 1), or the shard vanished or shrank. The copy has the shard's name
    (an events part's rows name the shard they came from: events.py)."""
    old: checkpoint.Checkpoint | None = None
    region = b""  # the hashed bytes `old` was checked against
    try:
        with checkpoint.opened(live) as (fd, st):
            if replaced is not None:
                checked = checkpoint.verified(kind.root, replaced, live, fd, st)
                if checked is not None:
                    old, region = replaced, checked
            start = old.offset if old is not None else 0
            size = _stable_size(kind, fd, st)
            if size is None or size - start < max(min_bytes, 1):
                return None
            end = _line_end(fd, start, size)
            if end <= start:
                return None
            folder = scratch / f"checkpoint-{kind.name}-{month}"
            folder.mkdir(parents=True, exist_ok=True)
            copy = folder / live.name
            copy.unlink(missing_ok=True)
            if checkpoint.copy_range(fd, start, end, copy) != end - start:
                return None  # the file shrank under us: a writer rolled back; try next time
    except FileNotFoundError:
        return None
    return _NewBytes(copy=copy, start=start, end=end, st=st, old=old, region=region)


def _stable_size(kind: Kind, fd: int, st: os.stat_result) -> int | None:
    """How many bytes of the live shard ``fd`` no writer can roll back any more. A run-log
    append is one row, so only the last ``CHECK_BYTES`` can change, and the hash covers them
    (log/checkpoint.py): its size. An events append is a batch of any length: the size taken
    under the writers' lock, where no append is half done (None when writers held it for over
    ``PUBLISH_TIMEOUT_S``: no checkpoint this time)."""
    if kind.name == "runs":
        return st.st_size
    try:
        with exclusive_blocking(kind.logs / WRITER_LOCK, PUBLISH_TIMEOUT_S):
            return os.fstat(fd).st_size
    except LockTimeout:
        return None


def _hash_checked_bytes(new: _NewBytes) -> tuple[int, str]:
    """``check_from`` and the SHA-256 of the shard's bytes [check_from, end), taken from the last
    checkpoint's checked region and the copy (checkpoint.CHECK_BYTES says why so few)."""
    check_from = max(0, new.end - checkpoint.CHECK_BYTES)
    digest = hashlib.sha256()
    if new.old is not None and check_from < new.start:
        digest.update(new.region[check_from - new.old.check_from:])
    with open(new.copy, "rb") as f:
        f.seek(max(check_from, new.start) - new.start)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return check_from, digest.hexdigest()


def _publish_checkpoint(kind: Kind, tmp: Path, cp: checkpoint.Checkpoint,
                        replaced: checkpoint.Checkpoint | None) -> None:
    """The manifest is written under a temporary name (durable) first; then under the publish
    lock ``tmp`` goes into ``checkpoints/``, the manifest is renamed over the last one, and the
    replaced checkpoint's file goes.

    A failure to write the manifest (a full disk) is one line naming it; the last checkpoint
    stays in use and nothing else changed.
    """
    folder = kind.root / CHECKPOINTS
    manifest = checkpoint.manifest_path(kind.root, cp.month)
    manifest_tmp = folder / f"{cp.month}.json.inprogress"
    try:
        makedirs_durable(folder)
        write_json(manifest_tmp, cp.to_json())
    except OSError as exc:
        manifest_tmp.unlink(missing_ok=True)
        raise MantisError(f"writing {manifest} failed: {exc.strerror or exc}; nothing was "
                          "lost: the live shard is intact, readers use the last checkpoint or "
                          "the shard, and the next compaction tries again") from None
    with publishing(kind.base):
        os.rename(tmp, folder / cp.parquet)
        os.rename(manifest_tmp, manifest)
        fsync_dir(folder)
        if replaced is not None:
            (folder / replaced.parquet).unlink(missing_ok=True)
            fsync_dir(folder)


def _line_end(fd: int, start: int, size: int) -> int:
    """The offset just after the last newline in the bytes [start, size) of ``fd`` (or start)."""
    pos = size
    while pos > start:
        lo = max(start, pos - (1 << 16))
        block = os.pread(fd, pos - lo, lo)
        i = block.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return start


def unchecked_bytes(base: Path, month: str, live: Path) -> int:
    """Bytes of ``live`` not covered by a valid checkpoint."""
    cp = checkpoint.load(base, month)
    try:
        with checkpoint.opened(live) as (fd, st):
            if cp is not None and checkpoint.verified(base, cp, live, fd, st) is not None:
                return st.st_size - cp.offset
            return st.st_size
    except OSError:
        return 0


def drop_checkpoint(base: Path, month: str) -> None:
    """Remove a month's checkpoint (manifest first). Call it under the publish lock."""
    cp = checkpoint.load(base, month)
    manifest = checkpoint.manifest_path(base, month)
    if not manifest.exists():
        return
    manifest.unlink()
    if cp is not None:
        (base / CHECKPOINTS / cp.parquet).unlink(missing_ok=True)
    fsync_dir(manifest.parent)


def stale_checkpoints(base: Path) -> list[Path]:
    """Checkpoint files no reader can use, of the run log and of the events (kinds.py)."""
    return [p for kind in kinds(base) for p in _stale_checkpoints(kind)]


def _stale_checkpoints(kind: Kind) -> list[Path]:
    """Checkpoint files of ``kind`` no reader can use: Parquet files their manifest does not
    name, manifests that cannot be read or of months without a live shard, and checkpoints whose
    Parquet file does not match its checksum (checked in full)."""
    base = kind.root
    folder = base / CHECKPOINTS
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    months = kind.scan()
    named = set()
    stale: list[Path] = []
    for name in names:
        month = name[:-len(".json")] if name.endswith(".json") else None
        if month is None or not MONTH_RE.match(month):
            continue
        mf = months.get(month)
        cp = checkpoint.load(base, month)
        try:
            st = mf.live.stat() if mf is not None and mf.live is not None else None
        except OSError:
            st = None
        if cp is None or st is None or (st.st_dev, st.st_ino) != (cp.dev, cp.ino):
            stale.append(folder / name)  # it cannot describe the month's live shard
        elif not content_ok(folder / cp.parquet, cp.parquet_checksum):
            stale.append(folder / name)  # damaged: derived data, rebuilt from the shard
        else:
            named.add(cp.parquet)
    for name in names:
        if (checkpoint.parquet_month(name) and name not in named) or name.endswith(".inprogress"):
            stale.append(folder / name)
    return stale
