"""Which files a `stats` call reads, in what order, and when it may stop.

Months are read newest first, and a call stops as soon as the files it has not read are proven
to hold only older rows than the newest ``--last`` runs it has (see ``Horizon``). The proof is
per file, not per month name: a JSONL shard may hold rows of any date (hand-written lines
sharded by local date), so every JSONL file is read; a Parquet file's footer says the latest
``finished_at`` it holds (:mod:`mantis_runs.db.bounds`).

A ``before`` bound (``report``'s baseline) needs no Parquet file whose footer says every dated
row finished at or after it (``plan_before``): none of its rows is a run before the bound. Its
rows may still be the winning copies of runs read elsewhere, which they then move past the
bound; ``After.check`` finds those copies (only of runs read that may have one there) and adds
them to the candidates before each dedupe.

The same holds for a closed JSONL shard (``closed_shards``: of a month before the current one,
not checkpointed) whose summary (:mod:`mantis_runs.db.jsonl_bounds`, cached under its stat
identity) says every row is dated at or after the bound: it is left out too, and
``After.check`` reads it for copies only when a run gathered before the bound has a run_id
within its [smallest, largest] range (a shard whose range holds none cannot hold a copy of
one). Its bad lines, which reading it would have counted, come from the summary
(``After.skipped``). Without ``before`` (``plan``) every JSONL shard is still read (see
``plan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..db import engine
from ..db.bounds import Bounds, parquet_bounds
from ..db.connection import QUERY_MEMORY_LIMIT, duckdb_path
from ..db.jsonl_bounds import ShardSummary, columns, shard_summaries
from ..db.lake_source import LakeMonthFiles
from ..db.sqlfiles import load
from ..log.checkpoint import LiveRead
from ..log.layout import MonthFiles, month_of
from ..messages import shard_name
from .sources import month_sources

#: The memory limit of the second and last try when a query runs out of memory (it spills beyond
#: it). One large step: every try redoes the whole query.
MEMORY_LIMIT_STEPS = ("4GB",)
#: Above this much data (JSONL bytes, Parquet counted as the JSONL it replaced) a query that may
#: keep every run starts with the large limit instead of failing first with the small one.
LARGE_QUERY_BYTES = 1_500_000_000
PARQUET_TO_JSONL = 12  # compacted parts are about 12 times smaller than their JSONL
#: Up to this --last, a month's Parquet rows are read from a cutoff (stats_cutoff) first.
CUTOFF_MAX_LAST = 10_000
#: The most runs whose samples the in-place path holds in Arrow memory (8 bytes per run and
#: measure, outside DuckDB's memory limit: about 0.8 GB at this many runs); more go through
#: DuckDB, which spills.
WHOLE_MAX_RUNS = 10_000_000
_EARLIEST = datetime.min.replace(tzinfo=UTC)
#: A lake row counted as the JSONL bytes it came from (LARGE_QUERY_BYTES).
LAKE_ROW_BYTES = 600


@dataclass(frozen=True)
class MonthSource:
    """One month's files as `stats` reads them, with the latest finished_at they may hold."""

    month: str
    jsonl: list[Path]
    parquet: list[Path]
    latest: datetime | None  # None: unknown (JSONL, or a footer without statistics)
    dated: bool  # False: no file of the month holds a dated row
    #: bad lines in the checkpointed bytes of live shards, by shard (counted by compaction; the
    #: checkpoint holds only the good rows)
    checkpointed_bad: dict[Path, int] = field(default_factory=dict)
    #: a month partition of the lake (db/lake_source.py), read from the ``mantis_lake`` dataset
    lake: bool = False
    lake_month: str | None = None

    @property
    def known(self) -> bool:
        return self.latest is not None or not self.dated


@dataclass(frozen=True)
class Horizon:
    """What the unread months may still hold: ``can_stop`` False when one of them is unknown;
    otherwise every dated row they hold is at or before ``latest`` (None: they hold none)."""

    can_stop: bool
    latest: datetime | None

    @property
    def above(self) -> str | None:
        """``latest`` as the text stats_count takes ($above)."""
        return None if self.latest is None else self.latest.isoformat()


def plan(con: engine.DuckDBPyConnection, months: list[MonthFiles], live: dict[Path, LiveRead],
         since: datetime | None) -> list[MonthSource]:
    """The months to read, in the order to read them: months with a file of unknown bounds
    first (newest first), then by the latest finished_at they hold. A month proven to hold only
    rows before ``since`` is left out: such rows are outside the window, and as copies of a run
    they lose to any copy inside it (the copy order ranks by finished_at first). The lake's
    months (db/lake_source.py ``LakeMonthFiles``: bounds from the Delta log) are planned
    beside the local ones. A JSONL shard is of unknown bounds here even when its summary is
    cached (db/jsonl_bounds.py): ``plan`` also plans ``list`` (store/lookup.py) and
    ``failures``, which would then stop before shards whose malformed lines they count."""
    return plan_before(con, months, live, since, None)[0]


def plan_before(con: engine.DuckDBPyConnection, months: list[MonthFiles],
                live: dict[Path, LiveRead], since: datetime | None,
                before: datetime | None) -> tuple[list[MonthSource], After]:
    """``plan``, and with ``before`` (and no lake) the Parquet files whose every dated row
    finished at or after ``before``, and the closed JSONL shards whose every row did
    (``closed_shards``, ``ShardSummary.after``), left out of it, as an ``After`` to check for
    copies. A month left with no file is not read; other JSONL files and files of unknown
    bounds always are."""
    sources = [month_sources(mf, live) for mf in months]
    bounds = parquet_bounds(con, [p for _, parquet in sources for p in parquet])
    shards: dict[Path, ShardSummary] = {}
    if before is None or any(isinstance(mf, LakeMonthFiles) for mf in months):
        after: list[Path] = []
    else:
        after = [p for _, parquet in sources for p in parquet if _after(bounds[p], before)]
        shards = {p: s for p, s in shard_summaries(
            con, closed_shards(months, live, before)).items() if s.after(before)}
        sources = [([p for p in jsonl if p not in shards], [p for p in parquet if p not in after])
                   for jsonl, parquet in sources]
    found: list[MonthSource] = []
    for mf, (jsonl, parquet) in zip(months, sources, strict=True):
        if ((after or shards) and not jsonl and not parquet
                and not isinstance(mf, LakeMonthFiles)):
            continue  # every file after the bound
        if isinstance(mf, LakeMonthFiles):
            found.append(MonthSource(mf.month, [], [], latest=mf.latest,
                                     dated=mf.lake_month is not None, lake=True,
                                     lake_month=mf.lake_month))
            continue
        m = _month(mf.month, jsonl, parquet, [bounds[p] for p in parquet])
        bad = {shard: lr.bad_lines for shard in mf.jsonl
               if (lr := live.get(shard)) is not None and lr.bad_lines}
        found.append(replace(m, checkpointed_bad=bad) if bad else m)
    if since is not None:
        found = [m for m in found if not m.known or (m.latest is not None and m.latest >= since)]
    unknown = sorted((m for m in found if not m.known), key=lambda m: m.month, reverse=True)
    known = sorted((m for m in found if m.known),
                   key=lambda m: (m.latest is not None, m.latest or _EARLIEST, m.month),
                   reverse=True)
    return unknown + known, After(
        [duckdb_path(p) for p in after], before,
        shards=[(duckdb_path(p), s.low, s.high) for p, s in shards.items()
                if s.low is not None and s.high is not None],
        bad={p: s.bad for p, s in shards.items() if s.bad})


def _after(b: Bounds, before: datetime) -> bool:
    """Whether a file of bounds ``b`` holds no dated row before ``before`` (proven)."""
    return b.earliest is not None and b.latest is not None and b.earliest >= before


def closed_shards(months: list[MonthFiles], live: dict[Path, LiveRead], before: datetime,
                  now: datetime | None = None) -> list[Path]:
    """The JSONL shards of ``months`` worth summarising for a ``before`` bound: no longer
    appended to (of a month before the current UTC month of ``now``, live or sealed, and not
    read as a checkpoint plus tail: the current month's shard changes at every append, so its
    summary would be a miss each time), and of the bound's month or later (an earlier month's
    shard holds rows before the bound but for hand-written lines, so a summary would rarely
    leave it out: `trend` and `compare`, whose bound is recent, summarise nothing). Only which
    shards may be left out rests on this choice, never the answer: a summary is kept under the
    file's stat identity, which any write changes, and a shard not summarised is read."""
    first, current = month_of(before), month_of(now or datetime.now(UTC))
    return [p for mf in months if not isinstance(mf, LakeMonthFiles)
            and first <= mf.month < current for p in mf.jsonl if p not in live]


@dataclass
class After:
    """The Parquet files a ``before`` bound leaves unread (``plan_before``), and how far the
    runs gathered so far were checked for copies in them."""

    files: list[str] = field(default_factory=list)
    before: datetime | None = None
    #: the JSONL shards left unread that hold rows: (file, smallest run_id, largest run_id)
    shards: list[tuple[str, str, str]] = field(default_factory=list)
    #: the bad lines of the JSONL shards left unread, by shard (those with any)
    bad: dict[Path, int] = field(default_factory=dict)
    checked: int = 0  # runs gathered at this step or earlier were checked

    def skipped(self, several: bool) -> dict[str, int]:
        """The bad lines of the shards left unread, named as reading them names them
        (``messages.shard_name``; stats/skipped.py), to count as skipped lines."""
        return {shard_name(p, several): n for p, n in self.bad.items()}

    def check(self, con: engine.DuckDBPyConnection, workflow_id: str, step: int,
              shared: Callable[[], list[int]]) -> None:
        """Add to mantis_candidates, at ``step``, every copy in these files of the workflow's
        runs gathered since the last check that finished before the bound and may have a copy
        there (``shared``: hashes of run_ids with copies in two Parquet files; in a JSONL
        shard, a run_id within its range). Such a copy finished at or after the bound, so it
        wins: the dedupe that follows leaves the run out of the baseline, as reading every
        file would."""
        if not (self.files or self.shards) or step <= self.checked or self.before is None:
            return
        params = {"workflow_id": workflow_id, "after_step": self.checked,
                  "finished_before": self.before.isoformat()}
        self.checked = step
        (n, _, _), = con.execute(load("before_range"), {**params, "shared": []}).fetchall()
        if not n:
            return
        if self.shards:
            self._check_shards(con, params, step)
        if not self.files:
            return
        params["shared"] = shared()
        (_, lo, hi), = con.execute(load("before_range"), params).fetchall()
        if lo is not None:
            con.execute(load("before_copies"), {**params, "lo": lo, "hi": hi,
                                                "files": self.files, "step": step})

    def _check_shards(self, con: engine.DuckDBPyConnection, params: dict[str, Any],
                      step: int) -> None:
        """The copies in the JSONL shards left unread whose run_id range holds a run gathered
        since the last check (before_shards), read from those shards alone."""
        hit = con.execute(load("before_shards"), {
            **params, "lows": [low for _, low, _ in self.shards],
            "highs": [high for _, _, high in self.shards]}).fetchall()
        if hit:
            con.execute(load("before_shard_copies"), {
                **params, "files": [self.shards[int(i) - 1][0] for (i,) in hit],
                "columns": columns(), "step": step})


def _month(month: str, jsonl: list[Path], parquet: list[Path],
           bounds: list[Bounds]) -> MonthSource:
    if jsonl or any(not b.known for b in bounds):
        return MonthSource(month, jsonl, parquet, latest=None, dated=True)
    latest = [b.latest for b in bounds if b.latest is not None]
    return MonthSource(month, jsonl, parquet, latest=max(latest) if latest else None,
                       dated=bool(latest))


def horizon(unread: list[MonthSource]) -> Horizon:
    if any(not m.known for m in unread):
        return Horizon(can_stop=False, latest=None)
    latest = [m.latest for m in unread if m.latest is not None]
    return Horizon(can_stop=True, latest=max(latest) if latest else None)


def batch_size(todo: list[MonthSource], got: int, per_month: float, last: int,
               whole: bool) -> int:
    """How many months the next batch reads: every month of unknown bounds at once (they are
    read whatever happens), else the newest one alone first (the default --last 100 rarely
    needs more), then from the rate seen so far enough months for the rest, in one scan
    (DuckDB reads them in parallel). A whole history reads every month at once."""
    if whole and got == 0:
        return len(todo)
    unknown = next((i for i, m in enumerate(todo) if m.known), len(todo))
    if unknown:
        return unknown
    if got == 0 or per_month <= 0:
        return 1
    return max(1, math.ceil((last - got) / per_month * 1.25))


def initial_limit(months: list[MonthFiles], last: int) -> str:
    """Most questions fit the small default limit, which keeps RSS low; the full history of a
    busy workflow over millions of rows may not, and starts with more."""
    if last <= 100_000:
        return QUERY_MEMORY_LIMIT
    size = sum(mf.rows for mf in months if isinstance(mf, LakeMonthFiles)) * LAKE_ROW_BYTES
    for mf in months:
        for p in mf.jsonl:
            size += _size(p)
        for p in mf.parts:
            size += _size(p) * PARQUET_TO_JSONL
    return MEMORY_LIMIT_STEPS[-1] if size > LARGE_QUERY_BYTES else QUERY_MEMORY_LIMIT


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def bigger_limit(limit: str) -> str | None:
    """The next memory limit to try after running out of memory at ``limit`` (None: none)."""
    steps = (QUERY_MEMORY_LIMIT, *MEMORY_LIMIT_STEPS)
    return steps[steps.index(limit) + 1] if limit in steps[:-1] else None
