"""How the views read a store at the speed of a scan, with the same answers (docs/sql.md).

Two shortcuts, each taken only where it is proven safe; otherwise the views read as they always
did (``RunStore.shortcuts = False`` turns both off):

* A live shard with a valid checkpoint (log/checkpoint.py ``open_live``, its Parquet file
  checked against the manifest by db/verified.py) is read as that Parquet file plus a private
  copy of the shard's bytes after it, as ``stats`` reads it (stats/sources.py): the month is not
  parsed as JSON. The checkpoint's rows are Parquet rows like a part's: the run_ids they share
  with a part are in ``mantis_shared_ids`` (``views.shared`` counts the checkpoints read), and
  its bad lines are counted by ``runs_bad_lines`` from the manifest. The live events shard of
  the run_events views likewise (``Reads.events``; events_log/checkpoints/, its rows numbered
  after the month's part's, as store/event_files.py reads it), its bad lines counted by
  ``run_events_bad_lines`` and ``views.event_bad_lines`` from the manifest.
* A Parquet file (part or checkpoint) whose footer proves that no row group holds a NULL run_id
  or a contested one (the run_ids of the JSONL lines read and ``mantis_shared_ids``: view_runs.sql)
  is listed in ``mantis_clean_files``, whose rows the runs view passes through with no filter:
  such a row passes through the general view too, and no other copy of its run_id is a row. So
  ``count(*)`` is answered from footers, and a query that does not name run_id does not read it.
  The JSONL run_ids are read here, in Python, once per file, so the split is made only when no
  listed JSONL file can change before a query reads it (private copies, sealed shards; a live
  shard read in place turns it off) and they are few (``SPLIT_JSONL_MAX``). So a live shard
  without a valid checkpoint is copied whole too, while the copies stay under that size and
  the store has Parquet files to spare reading (a late row in a closed month, a small month).
"""

from __future__ import annotations

import bisect
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..log.checkpoint import LiveRead, copy_range, open_live, opened
from ..log.layout import EVENTS_LOG, MonthFiles, live_month, sealed_lineage
from . import engine
from .connection import duckdb_path, private_temp_dir
from .idranges import Group, footer_groups
from .sqlfiles import load
from .verified import remembered_content_ok

#: Private folders of the tail copies: ``mantis-views-<pid>-<random>``, removed with the reads.
PREFIX = "mantis-views-"
#: JSONL bytes beyond which the split is not made (reading their run_ids would cost more than
#: the unread Parquet run_ids save: a store mostly not compacted).
SPLIT_JSONL_MAX = 64 * 1024 * 1024

@dataclass(frozen=True)
class Listing:
    """The files that hold some months' rows, each row in exactly one of them."""

    jsonl: list[Path]
    parquet: list[Path]
    checked_bad: dict[str, int]  # bad lines of checkpointed bytes, by shard name
    stable: bool  # no JSONL file is a live shard read in place


@dataclass
class Reads:
    """A store's live shards as checkpoints plus private tail copies, or whole private copies
    (in ``folder``), and the run_ids with several Parquet copies among the parts and those
    checkpoints (``shared``)."""

    folder: Path
    live: dict[Path, LiveRead]
    shared: list[str]
    copies: dict[Path, Path] = field(default_factory=dict)  # live shard -> a copy of it whole
    _ids: dict[Path, list[str]] = field(default_factory=dict)
    _pid: int = field(default_factory=os.getpid)
    #: each live events shard met by ``events``: its checkpoint and tail (None: read it whole)
    _events: dict[Path, LiveRead | None] = field(default_factory=dict)

    def files(self) -> list[Path]:
        """The files read beside the snapshot's: checkpoints, tail copies (of the run log and of
        the events listed by ``events`` so far), whole copies."""
        return [*(p for lr in [*self.live.values(), *self.event_reads().values()]
                  for p in (lr.parquet, lr.tail) if p is not None), *self.copies.values()]

    def events(self, files: Iterable[Path]) -> tuple[list[Path], dict[str, int]]:
        """The events files the run_events views read for ``files`` (every month's, as
        store/event_files.py lists them), and the bad lines of checkpointed bytes by shard name:
        a live events shard with a valid checkpoint (events_log/checkpoints/) as that checkpoint
        plus a private copy of its tail, taken at its first listing (module doc), unless its
        month has a sealed shard too (as store/event_files.py reads it); the others as they are.
        Call it under the shared publish lock."""
        files = list(files)
        sealed = {lineage[0] for p in files if (lineage := sealed_lineage(p)) is not None}
        out: list[Path] = []
        checked: dict[str, int] = {}
        for p in files:
            month = live_month(p) if p.parent.name == EVENTS_LOG else None
            if month is not None and month not in sealed and p not in self._events:
                self._events[p] = open_live(p.parent, month, p,
                                            self.folder / f"events-{len(self._events)}",
                                            remembered_content_ok)
            lr = self._events.get(p) if month not in sealed else None
            if lr is None:
                out.append(p)
                continue
            out += [lr.parquet, *([lr.tail] if lr.tail is not None else [])]
            if lr.bad_lines:
                checked[p.name] = lr.bad_lines
        return out, checked

    def event_reads(self) -> dict[Path, LiveRead]:
        """The live events shards ``events`` lists as their checkpoints and tails."""
        return {p: lr for p, lr in self._events.items() if lr is not None}

    def listing(self, months: Iterable[MonthFiles]) -> Listing:
        """The files the views read for ``months``: a live shard as its checkpoint and tail, or
        its whole copy, or (neither: not ``stable``) itself."""
        jsonl: list[Path] = []
        parquet: list[Path] = []
        checked: dict[str, int] = {}
        stable = True
        for mf in months:
            month_jsonl, month_parquet = month_reads(mf, self.live, self.copies)
            jsonl += month_jsonl
            parquet += month_parquet
            if mf.live is None:
                continue
            lr = self.live.get(mf.live)
            stable = stable and (lr is not None or mf.live in self.copies)
            if lr is not None and lr.bad_lines:
                checked[mf.live.name] = checked.get(mf.live.name, 0) + lr.bad_lines
        return Listing(jsonl, parquet, checked, stable)

    def split(self, con: engine.DuckDBPyConnection, listing: Listing
              ) -> tuple[list[Path], list[Path]]:
        """(the Parquet files proven to hold no contested or NULL run_id, the others)."""
        if not listing.parquet or not listing.stable or _size(listing.jsonl) > SPLIT_JSONL_MAX:
            return [], listing.parquet
        contested = set(self.shared)
        try:
            for p in listing.jsonl:
                contested.update(self._jsonl_ids(con, p))
            groups = footer_groups(con, listing.parquet)
        except engine.Error:  # a file gone since (a compaction after connect()): not proven
            return [], listing.parquet
        ordered = sorted(contested)
        clean = [p for p in listing.parquet if _clear(groups[p], ordered)]
        return clean, [p for p in listing.parquet if p not in clean]

    def _jsonl_ids(self, con: engine.DuckDBPyConnection, path: Path) -> list[str]:
        if path not in self._ids:
            con.execute(load("macro_contested_ids"))
            self._ids[path] = [str(r[0]) for r in con.execute(
                load("views_jsonl_ids"), {"files": [duckdb_path(path)]}).fetchall()]
        return self._ids[path]

    def close(self) -> None:
        """Remove the copies (not from a forked child: the folder is its parent's)."""
        if os.getpid() == self._pid:
            shutil.rmtree(self.folder, ignore_errors=True)


def month_reads(mf: MonthFiles, live: Mapping[Path, LiveRead],
                copies: Mapping[Path, Path] | None = None) -> tuple[list[Path], list[Path]]:
    """The JSONL and Parquet files that hold the month ``mf``'s rows, each row in exactly one of
    them: its parts, and each shard as itself, or, when it is a live shard with a checkpoint in
    ``live``, as the checkpoint plus the copy of its tail, or as its whole copy in ``copies``
    (the views' and ``stats``' one rule: stats/sources.py)."""
    jsonl: list[Path] = []
    parquet = list(mf.parts)
    for p in mf.jsonl:
        lr = live.get(p)
        if lr is None:
            jsonl.append(copies.get(p, p) if copies else p)
            continue
        parquet.append(lr.parquet)
        if lr.tail is not None:
            jsonl.append(lr.tail)
    return jsonl, parquet


def live_reads(months: list[MonthFiles]
               ) -> tuple[Path, dict[Path, LiveRead], dict[Path, Path]]:
    """A new private folder; each live shard of ``months`` with a valid checkpoint read as it
    and a copy of its tail in that folder; the others copied whole there while the copies add
    up to ``SPLIT_JSONL_MAX`` (when some month has parts). Call it under the shared publish
    lock."""
    folder = private_temp_dir(PREFIX)
    found: dict[Path, LiveRead] = {}
    copies: dict[Path, Path] = {}
    budget = SPLIT_JSONL_MAX if any(mf.parts for mf in months) else 0
    for i, mf in enumerate(months):
        if mf.live is None:
            continue
        lr = open_live(mf.live.parents[1], mf.month, mf.live, folder / str(i),
                       remembered_content_ok)
        if lr is not None:
            found[mf.live] = lr
            continue
        copied = _whole_copy(mf.live, folder / str(i), budget)
        if copied is not None:
            copies[mf.live], size = copied
            budget -= size
    return folder, found, copies


def _whole_copy(live: Path, into: Path, budget: int) -> tuple[Path, int] | None:
    """A copy of every byte of ``live`` in ``into`` under its own name (bad lines are counted
    under it), with its size; None when it is larger than ``budget`` or cannot be copied."""
    try:
        with opened(live) as (fd, st):
            if st.st_size > budget:
                return None
            into.mkdir(parents=True, exist_ok=True)
            dest = into / live.name
            if copy_range(fd, 0, st.st_size, dest) != st.st_size:
                return None
            return dest, st.st_size
    except OSError:
        return None


def _clear(groups: list[Group], contested: list[str]) -> bool:
    """Whether row groups with these footers hold none of ``contested`` (sorted) and no NULL
    run_id. Parquet orders text statistics by their UTF-8 bytes, which is Python's order."""
    if not groups:
        return False
    for g in groups:
        if g is None or not g[2] or g[0] is None or g[1] is None:
            return False
        i = bisect.bisect_left(contested, g[0])
        if i < len(contested) and contested[i] <= g[1]:
            return False
    return True


def _size(files: list[Path]) -> int:
    """The bytes of ``files``; more than any limit when one is gone."""
    try:
        return sum(p.stat().st_size for p in files)
    except OSError:
        return SPLIT_JSONL_MAX + 1
