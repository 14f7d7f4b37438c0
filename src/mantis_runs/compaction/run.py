"""One compaction run: ``compact()``, the entry point, taking the protocol's steps in order.

``.compact.lock`` (step 1) makes it the only compactor; then recovery and layout upgrades
(step 2), sealing (3), absorbing each sealed shard (4 and 5), checkpoints of live shards (6). A
failed run removes its scratch directory too (a part that did not fit must not keep the disk
full).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ..db.bounds import parquet_bounds
from ..db.connection import PathLike, connect
from ..db.shared_ids import shared_ids
from ..db.verified import remembered_content_ok
from ..errors import MantisError, UsageError, one_line
from ..log import checkpoint
from ..log.integrity import RESTORE_ALL, Damaged
from ..log.layout import (
    CHECKPOINTS,
    COMPACT_LOCK,
    MONTH_RE,
    SCRATCH,
    check_data_dir,
    month_of,
    month_start,
    next_month,
    resolve_data_dir,
    scan,
    written_order,
)
from ..log.locks import LockTimeout, locked
from .absorb import absorb
from .checkpoints import write_checkpoint
from .kinds import kinds
from .plan import plan
from .recover import recover
from .report import CompactionBusy, CompactionReport, MonthReport, Progress
from .seal import seal
from .upgrade import older_parts, upgrade

DEFAULT_GRACE = timedelta(days=1)
DEFAULT_MEMORY_LIMIT = "400MB"
#: A live shard is checkpointed again once this many of its bytes are not in its checkpoint.
DEFAULT_CHECKPOINT_MIN_BYTES = 16_000_000


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
    checkpoint (None: no checkpoints; see :mod:`mantis_runs.log.checkpoint`).
    """
    base = resolve_data_dir(data_dir)
    closed_before = _closed_before(now or datetime.now(UTC), grace, months or ())
    _check_memory_limit(memory_limit)  # a bad memory limit must fail before anything is sealed
    report = CompactionReport(data_dir=str(base), dry_run=dry_run, closed_before=closed_before)
    check_data_dir(base, events=True)  # a data dir with neither log is an error, not an empty
    # report (one with events only compacts its events)
    only = set(months) if months else None

    def wanted(month: str) -> bool:
        return month < closed_before and (only is None or month in only)

    steps = _Steps(base, report, wanted, memory_limit, checkpoint_min_bytes,
                   progress or (lambda _msg: None))
    try:
        with _compaction_lock(base, dry_run, wait):
            steps.run()
    except LockTimeout:
        raise CompactionBusy(f"another compaction is running in {base} "
                             f"(it holds {base / COMPACT_LOCK}); nothing done") from None
    return report


def _closed_before(now: datetime, grace: timedelta, months: Sequence[str]) -> str:
    """The first month not closed at ``now``; every one of ``months`` must be before it."""
    try:
        closed_before = month_of(now - grace)
    except OverflowError:
        raise UsageError(f"--grace is too long: {grace}") from None
    for m in months:
        if not MONTH_RE.match(m):
            raise UsageError(f"--month takes YYYY-MM, got {m!r}")
        if m >= closed_before:
            try:
                opens = month_start(next_month(m)) + grace
                when = (f"it closes at {opens.isoformat(' ', 'minutes')[:16]} UTC, after the "
                        "grace period")
            except (ValueError, OverflowError):  # 9999-12, or a grace that ends after it
                when = "it closes after the year 9999"
            raise UsageError(f"month {m} is not closed yet ({when})")
    return closed_before


def _check_memory_limit(memory_limit: str) -> None:
    try:
        connect(memory_limit=memory_limit).close()
    except duckdb.Error as exc:
        raise UsageError(f"--memory-limit {memory_limit!r} is not a DuckDB memory limit "
                         f"(e.g. 400MB, 2GB): {one_line(exc)}") from None


def _compaction_lock(base: Path, dry_run: bool, wait: float) -> AbstractContextManager[Any]:
    """``.compact.lock``, exclusively; a dry run only shares it, and creates nothing (it also
    works on a read-only data dir: the lock file is opened read-only there). ``wait`` may be
    infinite: wait as long as the other compaction runs."""
    path = base / COMPACT_LOCK
    timeout = None if wait == math.inf else wait  # None: block in the kernel, no polling
    if not dry_run:
        return locked(path, exclusive=True, timeout=timeout)
    if not path.exists():  # no compaction has ever run here, so none is running
        return nullcontext()
    return locked(path, exclusive=False, timeout=timeout, create=False)


@dataclass
class _Steps:
    """The steps of one run, under ``.compact.lock``; each fills in ``report``."""

    base: Path
    report: CompactionReport
    wanted: Callable[[str], bool]  # the closed months to compact
    memory_limit: str
    checkpoint_min_bytes: int | None  # None: no checkpoints
    say: Progress
    #: parts found damaged: their months were left as they were, the others went on
    damaged: list[Damaged] = field(default_factory=list)

    @property
    def scratch(self) -> Path:
        return self.base / SCRATCH

    def run(self) -> None:
        if self.report.dry_run:
            plan(self.base, self.report, self.wanted, self.checkpoint_min_bytes)
            return
        self.report.recovered = recover(self.base)
        try:
            self.upgrade_older_parts()
            self.seal_closed_months()
            self.absorb_sealed_shards()
            if self.checkpoint_min_bytes is not None:
                self.checkpoint_live_shards(self.checkpoint_min_bytes)
            self.warm_reader_caches()
            self.refuse_damage()
        finally:
            # Also on failure: an unpublished part or a DuckDB spill left in .tmp/ after ENOSPC
            # would keep the disk full (and the writers failing) until the next compaction.
            shutil.rmtree(self.scratch, ignore_errors=True)

    def upgrade_older_parts(self) -> None:
        """Parts in an older Parquet layout first (every month: readers refuse them), so that
        absorbing a shard always builds on a part in the current layout."""
        for mf in scan(self.base).values():
            try:
                for part in older_parts(mf):
                    self.report.upgraded.append(
                        upgrade(self.base, self.scratch, part, self.memory_limit, self.say))
            except Damaged as exc:  # this month stays as it is; the others go on
                self.found_damaged(mf.month, exc)

    def seal_closed_months(self) -> None:
        """Seal every closed month's live shard first (cheap renames), then convert: the run
        log's, then the events'."""
        for kind in kinds(self.base):
            for month, mf in kind.scan().items():
                if self.wanted(month) and mf.live is not None:
                    self.say(f"{kind.label(month)}: sealing {mf.live.name}")
                    seal(self.base, month, kind.name)

    def absorb_sealed_shards(self) -> None:
        """Each sealed shard into its month's next part, in the order they were written (an
        events part keeps that order; the run log's rows do not depend on it)."""
        for kind in kinds(self.base):
            done = self.report.months if kind.name == "runs" else self.report.events_months
            for month, mf in kind.scan().items():
                if not self.wanted(month) or not mf.sealed:
                    continue
                mr = MonthReport(month)
                try:
                    for shard in written_order(mf.sealed):
                        absorb(kind, self.scratch, shard, mr, self.memory_limit, self.say)
                except Damaged as exc:  # this month stays as it is; the others go on
                    self.found_damaged(kind.label(month), exc)
                if mr.shards:
                    done.append(mr)

    def found_damaged(self, month: str, exc: Damaged) -> None:
        """A part of ``month`` does not match its checksum: the month is left as it is."""
        if all(d.path != exc.path for d in self.damaged):
            left = Damaged(exc.path, exc.why, f"it was left as it is, and nothing of {month} was "
                           f"compacted (its JSONL files stay readable); {RESTORE_ALL}")
            self.say(f"{month}: {left}")
            self.damaged.append(left)

    def refuse_damage(self) -> None:
        """Fail the run (after everything else was done) when a month was left alone because its
        part is damaged: one line, naming the first such part."""
        if self.damaged:
            more = len(self.damaged) - 1
            raise MantisError(f"{self.damaged[0]}"
                              + (f" ({more} more damaged part{'s' * (more > 1)}: run "
                                 "`mantis runs verify`)" if more else ""))

    def checkpoint_live_shards(self, min_bytes: int) -> None:
        """Live shards of the months not compacted (the open ones, or those --month left out),
        the run log's, then the events'."""
        for kind in kinds(self.base):
            for month, mf in kind.scan().items():
                if mf.live is not None and not self.wanted(month):
                    cr = write_checkpoint(self.base, self.scratch, month, mf.live, min_bytes,
                                          self.memory_limit, self.say, kind.name)
                    if cr is not None:
                        self.report.checkpoints.append(cr)

    def warm_reader_caches(self) -> None:
        """After publishing, work out what readers cache about the Parquet files: each file's
        latest finished_at (db/bounds.py) and the run_ids with copies in two files
        (db/shared_ids.py), so that the first `stats` after this run finds them. Best effort: a
        reader computes what it does not find."""
        r = self.report
        if not (r.months or r.checkpoints or r.upgraded):
            return
        months = scan(self.base)
        files = [p for mf in months.values() for p in mf.parts]
        for month, mf in months.items():
            cp = checkpoint.load(self.base, month) if mf.live is not None else None
            if cp is not None:
                files.append(self.base / CHECKPOINTS / cp.parquet)
                # readers check a checkpoint in full once per file: this run's is known good
                remembered_content_ok(files[-1], cp.parquet_checksum)
        try:
            with closing(connect(memory_limit=self.memory_limit,
                                 temp_directory=self.scratch / "duckdb")) as con:
                parquet_bounds(con, files)
                shared_ids(con, files)
        except (duckdb.Error, OSError):
            pass
