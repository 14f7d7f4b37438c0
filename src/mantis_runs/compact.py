"""Parquet compaction of closed months: every row exactly once, whatever is killed when.

The protocol (docs/compaction.md has the reasoning):

1. Only one compactor runs: ``.compact.lock`` is taken exclusively (or we wait / give up). A dry
   run only shares it, and creates nothing.
2. Recovery: scratch files are removed; sealed shards already absorbed by a part, and parts of
   older generations, are deleted (under the publish lock).
3. Sealing: a closed month's live shard is renamed to ``<month>.jsonl.sealed-<id>`` while holding
   the publish lock and the writers' lock, so no append is in flight. A late writer then simply
   starts a new live shard for that month; the next compaction absorbs it.
4. Converting: for each sealed shard, the month's next generation is written to the scratch
   directory (previous generation + the shard's good rows, one row per run_id), fsynced; bad lines
   go to ``quarantine/<month>/<id>.jsonl`` with shard and line number, fsynced first.
5. Publishing, under the publish lock: rename the part into ``compacted/<month>/``, fsync the
   directory, delete the sealed shard and the previous generation, fsync again.

Readers hold the publish lock shared while they list and read, so they see a month either before
or after a publish, never half-way. The compactor waits for the exclusive locks in the kernel (see
``_exclusive``), so readers querying back to back do not starve it. A failed run removes its
scratch (a part that did not fit must not keep the disk full).

After a crash at any point, readers still see each row once: an absorbed sealed shard is recognised
by its lineage id in the part name, and only the newest part generation is read.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from . import checkpoint, schema, views
from .errors import MantisError, UsageError, one_line
from .layout import (
    CHECKPOINTS,
    COMPACTED,
    MONTH_RE,
    PUBLISH_INTENT,
    PUBLISH_LOCK,
    RUNS_LOG,
    SCRATCH,
    WRITER_LOCK,
    MonthFiles,
    check_data_dir,
    live_shard,
    month_of,
    month_start,
    next_month,
    part_generation,
    part_path,
    quarantine_path,
    resolve_data_dir,
    scan,
    sealed_lineage,
    sealed_name,
)
from .locks import LockTimeout, fsync_dir, locked, makedirs_durable, open_lock_file
from .parquet_layout import check_layout, write_rows
from .query import PathLike, connect, duckdb_path
from .sqlfiles import load
from .units import human_bytes

COMPACT_LOCK = ".compact.lock"
DEFAULT_GRACE = timedelta(days=1)
DEFAULT_MEMORY_LIMIT = "400MB"
#: A live shard is checkpointed again once this many of its bytes are not in its checkpoint.
DEFAULT_CHECKPOINT_MIN_BYTES = 16_000_000
#: How long compaction waits for readers to finish before it publishes.
PUBLISH_TIMEOUT_S = 120.0

Progress = Callable[[str], None]


class CompactionBusy(MantisError):
    """Another compactor holds the lock."""

    exit_code = 0


@dataclass
class MonthReport:
    month: str
    shards: int = 0  # sealed shards absorbed
    lines_in: int = 0  # non-blank lines read from them
    rows_in: int = 0  # good rows among those lines
    previous_rows: int = 0  # rows of the part generation it replaced
    rows_written: int = 0  # rows in the new part
    duplicates_dropped: int = 0
    bad_lines_quarantined: int = 0
    bytes_before: int = 0  # JSONL shards + previous part
    bytes_after: int = 0  # new part
    part: str | None = None
    quarantine: list[str] = field(default_factory=list)


@dataclass
class CheckpointReport:
    month: str
    shard: str  # the live shard's name
    offset: int  # bytes of the shard the checkpoint now covers
    bytes_read: int  # of those, the bytes parsed by this run (the rest came from the last one)
    lines_read: int
    bad_lines: int  # bad lines in the covered bytes (counted by readers, not quarantined)
    rows: int  # rows in the checkpoint
    parquet: str


@dataclass
class CompactionReport:
    data_dir: str
    dry_run: bool
    closed_before: str  # months before this one are closed
    months: list[MonthReport] = field(default_factory=list)
    checkpoints: list[CheckpointReport] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # leftovers removed by recovery
    upgraded: list[str] = field(default_factory=list)  # parts rewritten in the current layout
    plan: list[str] = field(default_factory=list)  # what a dry run would do

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compact(
    data_dir: PathLike | None = None,
    *,
    months: Sequence[str] | None = None,
    dry_run: bool = False,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
    wait: float = 0.0,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    progress: Progress | None = None,
    checkpoint_min_bytes: int | None = DEFAULT_CHECKPOINT_MIN_BYTES,
) -> CompactionReport:
    """Compact every closed month (or only ``months``) of ``data_dir`` into Parquet.

    Then checkpoint each live shard with at least ``checkpoint_min_bytes`` bytes not yet in its
    checkpoint (None: no checkpoints; see :mod:`mantis_runs.checkpoint`).
    """
    base = resolve_data_dir(data_dir)
    now = now or datetime.now(UTC)
    try:
        closed_before = month_of(now - grace)
    except OverflowError:
        raise UsageError(f"--grace is too long: {grace}") from None
    for m in months or ():
        if not MONTH_RE.match(m):
            raise UsageError(f"--month takes YYYY-MM, got {m!r}")
        if m >= closed_before:
            opens = month_start(next_month(m)) + grace
            raise UsageError(f"month {m} is not closed yet (it closes at "
                             f"{opens.isoformat(' ', 'minutes')[:16]} UTC, after the grace "
                             "period)")
    try:  # a bad memory limit must fail before anything is sealed
        connect(memory_limit=memory_limit).close()
    except duckdb.Error as exc:
        raise UsageError(f"--memory-limit {memory_limit!r} is not a DuckDB memory limit "
                         f"(e.g. 400MB, 2GB): {one_line(exc)}") from None
    report = CompactionReport(data_dir=str(base), dry_run=dry_run, closed_before=closed_before)
    check_data_dir(base)
    if not (base / RUNS_LOG).is_dir() and not (base / COMPACTED).is_dir():
        return report
    say = progress or (lambda _msg: None)
    try:
        with _compaction_lock(base, dry_run, wait):
            _run(base, report, set(months) if months else None, closed_before, memory_limit, say,
                 checkpoint_min_bytes)
    except LockTimeout:
        raise CompactionBusy(f"another compaction is running in {base} "
                             f"(it holds {base / COMPACT_LOCK}); nothing done") from None
    return report


def _compaction_lock(base: Path, dry_run: bool, wait: float) -> AbstractContextManager[Any]:
    """``.compact.lock``, exclusively; a dry run only shares it, and creates nothing."""
    path = base / COMPACT_LOCK
    if not dry_run:
        return locked(path, exclusive=True, timeout=wait)
    if not path.exists():  # no compaction has ever run here, so none is running
        return nullcontext()
    return locked(path, exclusive=False, timeout=wait, create=False)


def _run(base: Path, report: CompactionReport, only: set[str] | None, closed_before: str,
         memory_limit: str, say: Progress, checkpoint_min_bytes: int | None) -> None:
    def wanted(month: str) -> bool:
        return month < closed_before and (only is None or month in only)

    if report.dry_run:
        for month, mf in scan(base).items():
            for part in _older_parts(mf):  # every month, whatever --month says, as the real run
                report.plan.append(f"{month}: rewrite {part.name} in Parquet layout "
                                   f"{schema.PARQUET_LAYOUT}")
            if not wanted(month):
                if mf.live is not None and checkpoint_min_bytes is not None:
                    pending = _unchecked_bytes(base, month, mf.live)
                    if pending >= max(checkpoint_min_bytes, 1):
                        report.plan.append(f"{month}: checkpoint {mf.live.name} "
                                           f"({human_bytes(pending)} not in its checkpoint)")
                    elif pending:
                        report.plan.append(f"{month}: leave {mf.live.name} as it is "
                                           f"({human_bytes(pending)} not in its checkpoint, under "
                                           f"--checkpoint-min-mb)")
                continue
            todo = [p.name for p in mf.sealed]
            if mf.live is not None:
                todo.append(f"{mf.live.name} (to be sealed)")
            if todo:
                report.plan.append(f"{month}: absorb {', '.join(todo)} into "
                                   f"{'a new' if not mf.parts else 'the next'} part "
                                   f"({human_bytes(mf.bytes)} now)")
        return

    report.recovered = recover(base)
    scratch = base / SCRATCH
    try:
        # Parts in an older Parquet layout first (every month: readers refuse them), so that
        # absorbing a shard below always builds on a part in the current layout.
        for mf in scan(base).values():
            for part in _older_parts(mf):
                report.upgraded.append(_upgrade(base, scratch, part, memory_limit, say))
        # Seal every closed month's live shard first (cheap renames), then convert.
        for month, mf in scan(base).items():
            if wanted(month) and mf.live is not None:
                say(f"{month}: sealing {mf.live.name}")
                _seal(base, month)
        for month, mf in scan(base).items():
            if not wanted(month) or not mf.sealed:
                continue
            mr = MonthReport(month)
            for shard in sorted(mf.sealed):
                _absorb(base, scratch, shard, mr, memory_limit, say)
            report.months.append(mr)
        if checkpoint_min_bytes is not None:
            for month, mf in scan(base).items():
                if mf.live is not None and not wanted(month):
                    cr = _checkpoint(base, scratch, month, mf.live, checkpoint_min_bytes,
                                     memory_limit, say)
                    if cr is not None:
                        report.checkpoints.append(cr)
    finally:
        # Also on failure: an unpublished part or a DuckDB spill left in .tmp/ after ENOSPC would
        # keep the disk full (and the writers failing) until the next compaction.
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _publishing(base: Path) -> Iterator[None]:
    try:
        # New readers queue at the turnstile while the current ones finish.
        with (_exclusive(base / PUBLISH_INTENT, PUBLISH_TIMEOUT_S),
              _exclusive(base / PUBLISH_LOCK, PUBLISH_TIMEOUT_S)):
            yield
    except LockTimeout:
        raise MantisError(f"readers held {base / PUBLISH_LOCK} for over "
                          f"{PUBLISH_TIMEOUT_S:g}s; nothing published, try again") from None


@contextmanager
def _exclusive(path: Path, timeout: float) -> Iterator[None]:
    """``flock(LOCK_EX)`` that waits in the kernel, for at most ``timeout`` seconds.

    Polling with ``LOCK_NB`` (``locks.acquire``) all but never wins against readers that take the
    lock shared back to back: each one takes it again microseconds after the last one let go, so a
    single ``stats`` loop kept compaction waiting for 10-30 s per publish, and two would starve it
    past the timeout. A blocked ``flock`` is woken as soon as the last holder lets go. It blocks in
    a helper thread so that the wait can be given up; if the helper gets the lock after that, it
    lets go at once.
    """
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass
    except BaseException:
        os.close(fd)
        raise
    else:
        try:
            yield
        finally:
            os.close(fd)
        return

    cond = threading.Condition()
    state: dict[str, Any] = {"got": False, "gave_up": False, "error": None}

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            with cond:
                state["error"] = exc
                cond.notify_all()
            return
        with cond:
            if state["gave_up"]:
                os.close(fd)  # nobody wants it any more: let go at once
                return
            state["got"] = True
            cond.notify_all()

    helper = threading.Thread(target=wait, name="mantis-compact-lock", daemon=True)
    helper.start()
    with cond:
        cond.wait_for(lambda: state["got"] or state["error"] is not None, timeout)
        if not state["got"] and state["error"] is None:
            state["gave_up"] = True  # the helper still owns fd and closes it when it wakes
            raise LockTimeout(f"{path} busy for more than {timeout:g}s")
    helper.join()
    if state["error"] is not None:
        os.close(fd)
        raise state["error"]
    try:
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def recover(base: Path) -> list[str]:
    """Remove what a killed compactor left behind; idempotent. Returns what was removed."""
    removed: list[str] = []
    scratch = base / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)
        removed.append(f"{SCRATCH}/")
    stale: list[Path] = [p for mf in scan(base).values() for p in mf.superseded]
    stale += _stale_checkpoints(base)
    if stale:
        with _publishing(base):
            for p in stale:
                p.unlink(missing_ok=True)
                removed.append(str(p.relative_to(base)))
            for d in {p.parent for p in stale}:
                fsync_dir(d)
    return removed


def _seal(base: Path, month: str) -> Path | None:
    logdir = base / RUNS_LOG
    live = live_shard(base, month)
    with _publishing(base):
        try:
            with _exclusive(logdir / WRITER_LOCK, PUBLISH_TIMEOUT_S):  # no append in flight
                if not live.exists():
                    return None
                sealed = logdir / sealed_name(month, uuid.uuid4().hex[:16])
                os.rename(live, sealed)
                fsync_dir(logdir)
                _drop_checkpoint(base, month)  # it described the shard that is now sealed
                return sealed
        except LockTimeout:  # (only entering the lock raises it)
            raise MantisError(f"writers held {logdir / WRITER_LOCK} for over "
                              f"{PUBLISH_TIMEOUT_S:g}s; nothing sealed, try again") from None


def _absorb(base: Path, scratch: Path, shard: Path, mr: MonthReport, memory_limit: str,
            say: Progress) -> None:
    """Turn one sealed shard plus the month's current part into the next part generation."""
    month, lineage = sealed_lineage(shard) or ("", "")
    current = scan(base).get(month, MonthFiles(month))
    previous = current.parts[0] if current.parts else None
    generation = part_generation(previous)[0] + 1 if previous else 1
    size = shard.stat().st_size
    previous_size = previous.stat().st_size if previous is not None else 0
    say(f"{month}: reading {shard.name} ({human_bytes(size)})"
        + (f" and {previous.name}" if previous else ""))
    scratch.mkdir(parents=True, exist_ok=True)
    con = connect(memory_limit=memory_limit, temp_directory=scratch / "duckdb")
    with _nothing_lost(f"compacting {shard.name}"), closing(con):
        conv = _Conversion(con, scratch, shard, previous)
        lines, bad = conv.lines, conv.bad
        quarantine: Path | None = None
        if bad:
            quarantine = _quarantine(base, scratch, con, shard, month, lineage, lines, bad)
        tmp = scratch / f"part-{generation:06d}-{lineage}.parquet.inprogress"
        previous_rows = _parquet_rows(previous) if previous is not None else 0
        written = conv.write(tmp)

    final = part_path(base, month, generation, lineage)
    makedirs_durable(final.parent)
    with _publishing(base):
        os.rename(tmp, final)
        fsync_dir(final.parent)
        shard.unlink()
        fsync_dir(shard.parent)
        if previous is not None:
            previous.unlink(missing_ok=True)
            fsync_dir(previous.parent)

    if mr.shards == 0:
        # the generation this run started from; later shards of the month build on the part
        # this run just wrote, whose rows are already counted in rows_in
        mr.previous_rows = previous_rows
    mr.shards += 1
    mr.lines_in += lines
    mr.rows_in += lines - bad
    mr.bad_lines_quarantined += bad
    mr.rows_written = written
    mr.duplicates_dropped = mr.previous_rows + mr.rows_in - written
    mr.bytes_before += size + (previous_size if mr.shards == 1 else 0)
    mr.bytes_after = final.stat().st_size
    mr.part = str(final.relative_to(base))
    if quarantine is not None:
        mr.quarantine.append(str(quarantine.relative_to(base)))
    say(f"{month}: wrote {final.name}: {written} rows")


def _older_parts(mf: MonthFiles) -> list[Path]:
    """The month's parts in an older Parquet layout (one in a newer layout is refused)."""
    return [part for part in mf.parts if check_layout(part) < schema.PARQUET_LAYOUT]


def _upgrade(base: Path, scratch: Path, part: Path, memory_limit: str, say: Progress) -> str:
    """Rewrite a part of an older Parquet layout as the next generation of the same lineage, in
    the current layout; the old generation is removed once the new one is published (a crash
    in between leaves both, and readers and recovery go by the newest)."""
    month = part.parent.name
    generation, lineage = part_generation(part)
    say(f"{month}: rewriting {part.name} in Parquet layout {schema.PARQUET_LAYOUT}")
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f"part-{generation + 1:06d}-{lineage}.parquet.inprogress"
    con = connect(memory_limit=memory_limit, temp_directory=scratch / "duckdb")
    with _nothing_lost(f"rewriting {part.name}", "the part stays as it was"), closing(con):
        for macro in ("macro_other_seconds", "macro_upgrade_rows"):
            con.execute(load(macro))
        params = {k: v for k, v in stored_row_params().items()
                  if k in ("known_struct", "known_names")}
        written = write_rows(con, load("compact_upgrade"),
                             {"files": [duckdb_path(part)], **params}, tmp)
        source_rows = _parquet_rows(part)
        if written != source_rows:
            raise MantisError(f"rewriting {part.name}: wrote {written} rows of {source_rows}; "
                              "nothing was changed")
    final = part_path(base, month, generation + 1, lineage)
    with _publishing(base):
        os.rename(tmp, final)
        fsync_dir(final.parent)
        part.unlink()
        fsync_dir(part.parent)
    say(f"{month}: wrote {final.name}: {written} rows")
    return str(final.relative_to(base))


@contextmanager
def _nothing_lost(what: str, kept: str = "the shard stays readable") -> Iterator[None]:
    """DuckDB and OS errors of a conversion as one line: the source stays as it was."""
    try:
        yield
    except duckdb.Error as exc:
        raise MantisError(f"{what} failed: {one_line(exc)}; nothing was lost, {kept}") from exc
    except OSError as exc:
        raise MantisError(f"{what} failed: {exc}; nothing was lost, {kept}") from exc


class _Conversion:
    """JSONL lines plus an earlier Parquet file (or none) into one Parquet file, one row per
    run_id: the id pass runs first (line and bad-line counts, repeated run_ids), then ``write``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, scratch: Path, jsonl: Path,
                 previous: Path | None) -> None:
        self.con = con
        for macro in STORED_ROW_MACROS:
            con.execute(load(macro))
        self.files = [duckdb_path(jsonl)]
        # None yet: an empty Parquet file with the schema stands in, so one query serves both.
        self.previous = [duckdb_path(previous if previous is not None
                                     else views.write_placeholders(scratch)[1])]
        con.execute(load("compact_ids"), {"files": self.files, "previous": self.previous})
        self.lines = self.bad = self.repeated = 0
        for total_row, run_id, shard_lines, _copies in con.execute(
                load("compact_ids_select")).fetchall():
            if total_row:
                self.lines = int(shard_lines)  # non-blank lines of the JSONL file
            elif run_id is None:
                self.bad = int(shard_lines)  # lines that are not rows
            else:
                self.repeated += 1  # run_ids present more than once

    def write(self, tmp: Path) -> int:
        """Stream the rows into ``tmp`` (fsynced); returns how many were written."""
        params: dict[str, Any] = {
            "files": self.files,
            "previous": self.previous,
            **stored_row_params(),
        }
        sql = load("compact_rows_dedupe" if self.repeated else "compact_rows")
        return write_rows(self.con, sql, params, tmp)


#: The macros that turn JSONL lines into rows of the Parquet layout (mantis_stored_rows).
STORED_ROW_MACROS = ("macro_bad_line", "macro_sealed_rows", "macro_other_seconds",
                     "macro_stored_rows")


def stored_row_params() -> dict[str, Any]:
    """The schema arguments of mantis_stored_rows, derived from schema.py."""
    return {
        "structure": json.dumps(schema.duckdb_columns(seconds_as_json=True)),
        "known": json.dumps(dict.fromkeys(schema.FIELD_NAMES)),
        "known_struct": schema.known_struct(),
        "known_names": list(schema.KNOWN_BUCKETS),
    }


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _quarantine(base: Path, scratch: Path, con: duckdb.DuckDBPyConnection, shard: Path,
                month: str, lineage: str, lines: int, bad: int) -> Path:
    """Copy the shard's bad lines, byte for byte, to the quarantine file; durable before return."""
    con.execute("SET preserve_insertion_order = true")  # ordinals follow the file
    try:
        ordinals = [int(r[0]) for r in con.execute(load("compact_bad_lines"),
                                                   {"files": [duckdb_path(shard)]}).fetchall()]
    finally:
        con.execute("SET preserve_insertion_order = false")
    if len(ordinals) != bad:
        raise MantisError(f"cannot place the bad lines of {shard.name} (found {len(ordinals)}, "
                          f"{bad} expected); the shard stays sealed and readable")
    wanted = set(ordinals)
    original = shard.name.split(".sealed-", 1)[0]
    tmp = scratch / f"quarantine-{lineage}.jsonl.inprogress"
    found = 0
    with open(shard, "rb") as src, open(tmp, "wb") as out:
        i = 0
        for lineno, raw in enumerate(src, 1):
            if not raw.strip():
                continue  # blank lines are not rows for any reader
            i += 1
            if i in wanted:
                body = raw[:-1] if raw.endswith(b"\n") else raw
                out.write(json.dumps({
                    "shard": original,
                    "sealed_as": shard.name,
                    "line": lineno,
                    "bytes": len(body),
                    "raw_base64": base64.b64encode(body).decode("ascii"),
                    "text": body.decode("utf-8", "replace"),
                }, ensure_ascii=False).encode("utf-8") + b"\n")
                found += 1
        out.flush()
        os.fsync(out.fileno())
    if i != lines or found != bad:
        raise MantisError(f"cannot place the bad lines of {shard.name} ({found} of {bad} found); "
                          "the shard stays sealed and readable")
    final = quarantine_path(base, month, lineage)
    makedirs_durable(final.parent)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


# -- checkpoints of live shards ----------------------------------------------------------------


def _stale_checkpoints(base: Path) -> list[Path]:
    """Checkpoint files no reader can use: Parquet files their manifest does not name, and
    manifests of months without a live shard."""
    folder = base / CHECKPOINTS
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    months = scan(base)
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
        else:
            named.add(cp.parquet)
    for name in names:
        if (checkpoint.parquet_month(name) and name not in named) or name.endswith(".inprogress"):
            stale.append(folder / name)
    return stale


def _drop_checkpoint(base: Path, month: str) -> None:
    """Remove a month's checkpoint (manifest first). Call it under the publish lock."""
    cp = checkpoint.load(base, month)
    manifest = checkpoint.manifest_path(base, month)
    if not manifest.exists():
        return
    manifest.unlink()
    if cp is not None:
        (base / CHECKPOINTS / cp.parquet).unlink(missing_ok=True)
    fsync_dir(manifest.parent)


def _unchecked_bytes(base: Path, month: str, live: Path) -> int:
    """Bytes of ``live`` not covered by a valid checkpoint."""
    cp = checkpoint.load(base, month)
    try:
        with checkpoint.opened(live) as (fd, st):
            if cp is not None and checkpoint.verified(base, cp, live, fd, st) is not None:
                return st.st_size - cp.offset
            return st.st_size
    except OSError:
        return 0


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


def _checkpoint(base: Path, scratch: Path, month: str, live: Path, min_bytes: int,
                memory_limit: str, say: Progress) -> CheckpointReport | None:
    """Write a new checkpoint of ``live``: the last one's rows plus the rows of the bytes added
    since, up to the last complete line. Nothing is done when fewer than ``min_bytes`` were added.

    The new bytes are copied to the scratch directory first, so DuckDB parses exactly them, and
    the manifest's hash is taken over the bytes that were copied (and the checked bytes of the
    last checkpoint before them), never over a second read of the live file.
    """
    replaced = checkpoint.load(base, month)  # valid or not, its file goes when the new one is in
    old: checkpoint.Checkpoint | None = None
    region = b""  # the hashed bytes `old` was checked against
    try:
        with checkpoint.opened(live) as (fd, st):
            if replaced is not None:
                checked = checkpoint.verified(base, replaced, live, fd, st)
                if checked is not None:
                    old, region = replaced, checked
            start = old.offset if old is not None else 0
            if st.st_size - start < max(min_bytes, 1):
                return None
            end = _line_end(fd, start, st.st_size)
            if end <= start:
                return None
            scratch.mkdir(parents=True, exist_ok=True)
            tail = scratch / f"checkpoint-{month}.jsonl"
            tail.unlink(missing_ok=True)
            if checkpoint.copy_range(fd, start, end, tail) != end - start:
                return None  # the file shrank under us: a writer rolled back; try next time
    except FileNotFoundError:
        return None

    check_from = max(0, end - checkpoint.CHECK_BYTES)
    digest = hashlib.sha256()
    if old is not None and check_from < start:
        digest.update(region[check_from - old.check_from:])
    with open(tail, "rb") as f:
        f.seek(max(check_from, start) - start)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)

    previous = base / CHECKPOINTS / old.parquet if old is not None else None
    say(f"{month}: checkpointing {live.name} ({human_bytes(end - start)} new)")
    token = uuid.uuid4().hex[:16]
    tmp = scratch / f"{checkpoint.parquet_name(month, token)}.inprogress"
    con = connect(memory_limit=memory_limit, temp_directory=scratch / "duckdb")
    with _nothing_lost(f"checkpointing {live.name}"), closing(con):
        conv = _Conversion(con, scratch, tail, previous)
        lines, bad = conv.lines, conv.bad
        rows = conv.write(tmp)

    cp = checkpoint.Checkpoint(
        month=month, shard=live.name, dev=st.st_dev, ino=st.st_ino, offset=end,
        lines=(old.lines if old else 0) + lines, bad_lines=(old.bad_lines if old else 0) + bad,
        rows=rows, check_from=check_from, sha256=digest.hexdigest(),
        parquet=checkpoint.parquet_name(month, token))
    folder = base / CHECKPOINTS
    makedirs_durable(folder)
    manifest = checkpoint.manifest_path(base, month)
    manifest_tmp = folder / f"{month}.json.inprogress"
    with _publishing(base):
        os.rename(tmp, folder / cp.parquet)
        with open(manifest_tmp, "w", encoding="utf-8") as f:
            json.dump(cp.to_json(), f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(manifest_tmp, manifest)
        fsync_dir(folder)
        if replaced is not None:
            (folder / replaced.parquet).unlink(missing_ok=True)
            fsync_dir(folder)
    say(f"{month}: checkpoint of {live.name} covers {end:,} bytes, {rows:,} rows")
    return CheckpointReport(month=month, shard=live.name, offset=end, bytes_read=end - start,
                            lines_read=lines, bad_lines=cp.bad_lines, rows=rows,
                            parquet=str((folder / cp.parquet).relative_to(base)))
