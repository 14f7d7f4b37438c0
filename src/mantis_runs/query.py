"""The query layer: DuckDB over the month shards and compacted parts.

Facts this module relies on (measured, see docs/storage-format.md):

* ``read_json`` always gets explicit ``columns`` and ``format='newline_delimited'`` with
  ``ignore_errors=true``; a bad line comes back as an all-NULL row, which is counted and dropped.
* The file list is computed here from the months a query can touch; DuckDB never gets a glob that
  may match nothing (that is an error, not an empty result).
* Every connection runs ``SET TimeZone='UTC'`` (the config key fails at connect time).
* Every value is a bound parameter, including the file lists and the column schema.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from . import schema
from .checkpoint import LiveRead, open_live
from .errors import MantisError, UsageError, one_line
from .layout import (
    PUBLISH_INTENT,
    PUBLISH_LOCK,
    MonthFiles,
    check_data_dir,
    month_of,
    resolve_data_dir,
    scan,
)
from .locks import LockTimeout, shared_if_present
from .sqlfiles import load
from .timewindow import parse_since

#: DuckDB's buffer-manager limit for queries; RSS stays within a small multiple of it.
QUERY_MEMORY_LIMIT = "160MB"
#: The limit for queries over the views (RunStore, `mantis runs sql|list|show|report|watch`):
#: typing whole JSON rows and ranking repeated run_ids needs more than `stats` does (160MB failed
#: at 100,000 runs; a 2M-run store needs about 300-430 MB RSS), and DuckDB spills beyond it.
VIEW_MEMORY_LIMIT = "1GB"
#: How long a reader waits for a compactor that is publishing (it holds the lock for milliseconds).
PUBLISH_LOCK_TIMEOUT_S = 60.0

PathLike = str | os.PathLike[str]


_GLOB_CHARS = {"*": "[*]", "?": "[?]", "[": "[[]"}


def duckdb_path(path: str | os.PathLike[str]) -> str:
    """A file name as DuckDB's readers must be given it: they expand ``*``, ``?`` and ``[...]``
    in every name, so a data dir called ``runs*`` would also read ``runs-old``. Each such
    character becomes a one-character class that matches only itself."""
    text = os.fspath(path)
    if not any(c in text for c in _GLOB_CHARS):
        return text
    return "".join(_GLOB_CHARS.get(c, c) for c in text)


def connect(*, memory_limit: str = QUERY_MEMORY_LIMIT, threads: int | None = None,
            temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up the way every mantis query expects."""
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        # No network here or in many deployments: never try to download an extension.
        "autoinstall_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    # Results are ordered explicitly wherever order matters; not preserving scan order lets
    # DuckDB stream JSON with far smaller buffers.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # no bar on stderr for queries over 2 s
    for macro in ("macro_lerp", "macro_quantile_sorted", "macro_quantile"):
        con.execute(load(macro))
    if temp_directory is None:  # DuckDB's default is ".tmp" in the current directory
        temp_directory = Path(tempfile.gettempdir()) / f"mantis-duckdb-{os.getuid()}"
    con.execute("SET temp_directory = $dir", {"dir": str(temp_directory)})
    return con


@contextmanager
def snapshot(data_dir: Path) -> Iterator[dict[str, MonthFiles]]:
    """A consistent list of the files that hold each month, stable while the context is open.

    A shared lock on ``.publish.lock`` keeps compaction from sealing or publishing meanwhile, so
    every row is in exactly one listed file (or, after a compactor crash, in a sealed shard *and*
    its part, which run_id dedupe absorbs).
    """
    check_data_dir(data_dir)
    try:
        with shared_if_present(data_dir / PUBLISH_INTENT, PUBLISH_LOCK_TIMEOUT_S):
            pass  # a compactor waiting to publish goes first
        with shared_if_present(data_dir / PUBLISH_LOCK, PUBLISH_LOCK_TIMEOUT_S):
            yield scan(data_dir)
    except LockTimeout:
        raise MantisError(
            f"{data_dir / PUBLISH_LOCK} has been locked for over {PUBLISH_LOCK_TIMEOUT_S:g}s; "
            "is a compaction stuck?"
        ) from None


@dataclass(frozen=True)
class BucketStats:
    bucket: str
    n: int
    p50: float | None
    p95: float | None
    p99: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "n": self.n}


@dataclass(frozen=True)
class StatsResult:
    """Percentiles per wall-time bucket over the newest runs of one workflow."""

    workflow_id: str
    run_count: int
    status: str | None  # None: every terminal status
    last: int
    since: datetime | None
    buckets: list[BucketStats]  # sorted by p50 descending, then name
    total: BucketStats
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard file name -> lines


    def to_json(self) -> dict[str, Any]:
        percentiles = {b.bucket: b.as_dict() for b in self.buckets}
        percentiles[schema.TOTAL_BUCKET] = self.total.as_dict()
        return {
            "workflow_id": self.workflow_id,
            "run_count": self.run_count,
            "status": self.status,
            "last": self.last,
            "since": None if self.since is None else self.since.isoformat(),
            "percentiles": percentiles,
            "skipped_lines": dict(self.skipped_lines),
        }


def normalise_status(status: str | None) -> str | None:
    return None if status is None or status == "" else status


def resolve_since(since: str | datetime | None, now: datetime | None = None) -> datetime | None:
    if since is None or since == "":
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return parse_since(since, now)


def stats(
    workflow_id: str,
    *,
    data_dir: PathLike | None = None,
    last: int = 100,
    since: str | datetime | None = None,
    status: str | None = "succeeded",
    buckets: Sequence[str] | None = None,
    now: datetime | None = None,
) -> StatsResult:
    """p50/p95/p99 per wall-time bucket over the newest ``last`` matching runs of a workflow.

    ``status`` None or "" includes every terminal status. ``since`` is a duration (``7d``), an ISO
    date/datetime, or a datetime. ``buckets`` restricts the buckets; total_time_s is always there.
    """
    if last < 1:
        raise UsageError(f"--last must be at least 1, got {last}")
    base = resolve_data_dir(data_dir)
    since_dt = resolve_since(since, now)
    status_n = normalise_status(status)
    wanted = list(dict.fromkeys(buckets)) if buckets else None
    scratch = tail_scratch()
    todo: list[MonthFiles] = []
    try:
        with snapshot(base) as months:
            todo = candidate_months(months, since_dt)
            live = live_reads(base, todo, scratch)
            # Most questions fit the small default limit, which keeps RSS low; the full history
            # of a busy workflow over millions of rows may not, and then gets more, up to a cap.
            limit = _initial_limit(todo, last)
            while True:
                con = connect(memory_limit=limit)
                try:
                    return _stats(con, todo, live, workflow_id, last, since_dt, status_n, wanted)
                except duckdb.OutOfMemoryException:
                    bigger = _bigger_limit(limit)
                    if bigger is None:
                        raise
                    limit = bigger
                finally:
                    con.close()
    except duckdb.Error as exc:
        raise query_failed(exc, todo) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def query_failed(exc: duckdb.Error, months: Iterable[MonthFiles]) -> MantisError:
    """The one-line error of a failed query over ``months``. The usual cause after upgrading
    mantis-runs, a part in an older Parquet layout, is named with its fix."""
    return old_layout(months) or MantisError(f"query failed: {one_line(exc)}")


def old_layout(months: Iterable[MonthFiles]) -> MantisError | None:
    """The error for the first part of ``months`` in an older Parquet layout, if any (reads the
    parts' footers: pyarrow is imported)."""
    from .parquet_layout import layout_of

    for mf in months:
        for part in mf.parts:
            try:
                version = layout_of(part)
            except Exception:  # unreadable: a query's own error says more
                continue
            if version < schema.PARQUET_LAYOUT:
                return MantisError(f"{part} is in Parquet layout {version}, written by an earlier "
                                   "mantis-runs; run `mantis runs compact` once to rewrite it "
                                   "(nothing is lost)")
    return None


TAIL_PREFIX = "mantis-tail-"


def tail_scratch() -> Path:
    """A new private folder for copies of shard tails, named after this process; folders left
    by processes that no longer exist (killed readers) are removed first."""
    tmp = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            name = entry.name
            if not name.startswith(TAIL_PREFIX):
                continue
            pid = name[len(TAIL_PREFIX):].split("-", 1)[0]
            if (pid.isdigit() and not _alive(int(pid))
                    and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid()):
                shutil.rmtree(entry.path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{TAIL_PREFIX}{os.getpid()}-", dir=tmp))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_reads(base: Path, months: list[MonthFiles], scratch: Path) -> dict[Path, LiveRead]:
    """For each live shard among ``months`` with a valid checkpoint: its checkpoint and tail."""
    found: dict[Path, LiveRead] = {}
    for mf in months:
        if mf.live is not None:
            lr = open_live(base, mf.month, mf.live, scratch)
            if lr is not None:
                found[mf.live] = lr
    return found


def month_sources(mf: MonthFiles, live: dict[Path, LiveRead]) -> tuple[list[Path], list[Path]]:
    """The JSONL and Parquet files that hold a month's rows, each row in exactly one of them:
    a live shard with a checkpoint is read as the checkpoint plus a copy of its tail."""
    jsonl: list[Path] = []
    parts = list(mf.parts)
    for p in mf.jsonl:
        lr = live.get(p)
        if lr is None:
            jsonl.append(p)
            continue
        parts.append(lr.parquet)
        if lr.tail is not None:
            jsonl.append(lr.tail)
    return jsonl, parts


#: The memory limit of the second and last try when a query runs out of memory (it spills beyond
#: it). One large step: every try redoes the whole query.
MEMORY_LIMIT_STEPS = ("4GB",)


#: Above this much data (JSONL bytes, Parquet counted as the JSONL it replaced) a query that may
#: keep every run starts with the large limit instead of failing first with the small one.
LARGE_QUERY_BYTES = 1_500_000_000
PARQUET_TO_JSONL = 12  # compacted parts are about 12 times smaller than their JSONL


def _initial_limit(months: list[MonthFiles], last: int) -> str:
    if last <= 100_000:
        return QUERY_MEMORY_LIMIT
    size = 0
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


def _bigger_limit(limit: str) -> str | None:
    steps = (QUERY_MEMORY_LIMIT, *MEMORY_LIMIT_STEPS)
    return steps[steps.index(limit) + 1] if limit in steps[:-1] else None


def candidate_months(months: dict[str, MonthFiles], since: datetime | None) -> list[MonthFiles]:
    """Months that can hold matching rows, newest first (a row lives in its finished_at month)."""
    lo = month_of(since) if since is not None else None
    return [mf for m, mf in sorted(months.items(), reverse=True) if lo is None or m >= lo]


#: Up to this --last, a month's Parquet rows are read from a cutoff (stats_cutoff) first.
CUTOFF_MAX_LAST = 10_000
#: The most runs whose samples _whole holds in Arrow memory (8 bytes per run and measure, outside
#: DuckDB's memory limit: about 0.8 GB at this many runs); more go through DuckDB, which spills.
WHOLE_MAX_RUNS = 10_000_000


def _dedupe(con: duckdb.DuckDBPyConnection) -> None:
    """Leave one copy of each run_id in mantis_candidates (a no-op scan when there are none)."""
    dup = con.execute(load("stats_duplicates")).fetchone()
    if dup is not None and dup[0]:
        con.execute(load("stats_dedupe"))


def _enough(con: duckdb.DuckDBPyConnection, status: str | None, cutoff: str,
            last: int) -> bool:
    """Whether the candidates, read from ``cutoff`` on, already decide the newest ``last`` runs.

    They hold every row with finished_at >= cutoff: all rows of the newer months read before,
    all JSONL rows of this batch, its Parquet rows from the cutoff on, and older months only hold
    older rows (a row lives in the month of its finished_at). Dedupe keeps a run's
    latest copy, so a run with any copy at or after the cutoff is decided among these rows, with
    its true status; runs with no such copy are older than all of them. So when at least ``last``
    deduplicated runs at or after the cutoff match the status, they are exactly the newest
    ``last`` ones, and the rows before the cutoff cannot change the answer.
    """
    row = con.execute(load("stats_count"), {"status": status, "at_least": cutoff}).fetchone()
    return row is not None and int(row[0]) >= last


#: The percentiles `stats` reports; stats_percentiles.sql and stats_whole_other.sql name the same
#: three.
QUANTILES = (0.5, 0.95, 0.99)


def _stats(con: duckdb.DuckDBPyConnection, todo: list[MonthFiles], live: dict[Path, LiveRead],
           workflow_id: str, last: int, since: datetime | None, status: str | None,
           buckets: list[str] | None) -> StatsResult:
    con.execute(load("stats_candidates_table"), {"known_struct": schema.known_struct()})
    since_text = since.isoformat() if since is not None else None
    columns = schema.duckdb_columns(maps_as_json=True)
    checkpointed_bad: dict[str, int] = {}
    common = {"workflow_id": workflow_id, "since": since_text}
    got = runs = 0
    per_month = 0.0
    rows: list[tuple[Any, ...]] | None = None
    whole = last > CUTOFF_MAX_LAST and _may_fit(con, todo, live, common, status, last)
    while todo:
        # The newest month alone first: the default --last 100 rarely needs more. Then, from the
        # rate seen so far, enough older months in one scan (DuckDB reads them in parallel). A
        # --last that every run may fit in reads every month at once, in place when it can.
        if got == 0 or per_month <= 0:
            take = len(todo) if whole or got > 0 else 1
        else:
            take = max(1, math.ceil((last - got) / per_month * 1.25))
        chunk, todo = todo[:take], todo[take:]
        jsonl, parts = [], []
        for mf in chunk:
            j, p = month_sources(mf, live)
            jsonl += [duckdb_path(x) for x in j]
            parts += [duckdb_path(x) for x in p]
            for shard in mf.jsonl:
                if shard in live and live[shard].bad_lines:
                    checkpointed_bad[shard.name] = live[shard].bad_lines
        if jsonl:
            con.execute(load("stats_collect_jsonl"), {**common, "files": jsonl,
                                                      "columns": columns,
                                                      "known": list(schema.KNOWN_BUCKETS),
                                                      "known_struct": schema.known_struct()})
        if whole and not todo and got == 0:
            in_place = _whole(con, parts, common, status, last, buckets)
            if in_place is not None:
                rows, runs = in_place
                break
        cutoff = None
        if parts:
            if last - got <= CUTOFF_MAX_LAST:
                # Parquet is read newest rows first: those at or after the cutoff only, and the
                # rest of these files only if they turn out to be needed (see _enough).
                row = con.execute(load("stats_cutoff"), {**common, "files": parts,
                                                         "status": status,
                                                         "k": 2 * (last - got)}).fetchone()
                cutoff = row[0] if row else None
            con.execute(load("stats_collect_parquet"), {**common, "files": parts,
                                                        "at_least": cutoff, "before": None})
        _dedupe(con)
        if cutoff is not None and not _enough(con, status, cutoff, last):
            con.execute(load("stats_collect_parquet"), {**common, "files": parts,
                                                        "at_least": None, "before": cutoff})
            _dedupe(con)
        row = con.execute(load("stats_count"), {"status": status, "at_least": None}).fetchone()
        runs = int(row[0]) if row else 0
        before, got = got, (int(row[1]) if row else 0)
        per_month = max(per_month, (got - before) / len(chunk))
        if got >= last:  # dated runs: a run without finished_at ranks after all of them
            break

    if rows is None:
        if runs > last:
            con.execute(load("stats_keep_newest"), {"last": last, "status": status})
        rows = con.execute(load("stats_percentiles"),
                           {"status": status, "buckets": buckets,
                            "known": list(schema.KNOWN_BUCKETS)}).fetchall()
        run_count = None
    else:
        run_count = runs
    total = BucketStats(schema.TOTAL_BUCKET, 0, None, None, None)
    found: dict[str, BucketStats] = {}
    for kind, bucket, n, count, q in rows:
        p50, p95, p99 = (None, None, None) if q is None else (q[0], q[1], q[2])
        bs = BucketStats(bucket, int(n), p50, p95, p99)
        if kind == "total":
            total = bs
            if count is not None:
                run_count = int(count)
        elif bucket != schema.TOTAL_BUCKET:  # the name is reserved for the run's own total
            found[bucket] = bs
    for name in buckets or ():
        if name != schema.TOTAL_BUCKET:  # always reported, as the total
            found.setdefault(name, BucketStats(name, 0, None, None, None))
    ordered = sorted(found.values(),
                     key=lambda b: (b.p50 is None, -(b.p50 or 0.0), b.bucket))
    skipped = dict(checkpointed_bad)
    for src, n in con.execute(load("stats_skipped")).fetchall():
        name = Path(src).name
        skipped[name] = skipped.get(name, 0) + int(n)
    skipped = dict(sorted(skipped.items()))
    return StatsResult(workflow_id=workflow_id, run_count=run_count or 0, status=status,
                       last=last, since=since, buckets=ordered, total=total,
                       skipped_lines=skipped)


def _may_fit(con: duckdb.DuckDBPyConnection, todo: list[MonthFiles], live: dict[Path, LiveRead],
             common: dict[str, Any], status: str | None, last: int) -> bool:
    """Whether every matching run may fit in ``last``, so that reading every month at once and
    in place (_whole) can work: the Parquet rows alone do not exceed it (a cheap count)."""
    parts = [duckdb_path(p) for mf in todo for p in month_sources(mf, live)[1]]
    if not parts:
        return False
    rows = con.execute(load("stats_parquet_runs"),
                       {**common, "files": parts, "status": status}).fetchall()[0][0]
    return int(rows) <= last


def _whole(con: duckdb.DuckDBPyConnection, parts: list[str], common: dict[str, Any],
           status: str | None, last: int, buckets: list[str] | None,
           ) -> tuple[list[tuple[Any, ...]], int] | None:
    """The percentile rows and run count of a whole history read in place, or None when that is
    not possible: a run_id may repeat (equal hashes), more runs match than ``last``, or more
    than WHOLE_MAX_RUNS.

    Every JSONL row of the window is in mantis_candidates already; the Parquet rows ``parts``
    are read where they are: once for the counts, once for the samples, which go to Arrow, where
    a selection (not a sort) picks the two order statistics numpy interpolates between.
    """
    from concurrent.futures import ThreadPoolExecutor

    con.execute(load("macro_whole_rows"))
    params = {**common, "files": parts, "status": status}
    row = con.execute(load("stats_whole_counts"), params).fetchall()[0]
    if int(row[0]) != int(row[1]) or int(row[2]) > min(last, WHOLE_MAX_RUNS):
        return None
    runs = int(row[2])
    samples = con.sql(load("stats_whole_measures"), params=params).to_arrow_table()
    names = [name for name in samples.column_names
             if name == schema.TOTAL_BUCKET or buckets is None or name in buckets]
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow's kernels release the GIL
        picked = list(pool.map(numpy_percentiles, [samples.column(name) for name in names]))
    rows: list[tuple[Any, ...]] = []
    for name, (n, q) in zip(names, picked, strict=True):
        if name == schema.TOTAL_BUCKET:
            rows.append(("total", name, n, runs, q))
        elif n:  # as in stats_percentiles, a bucket with no sample is not a row
            rows.append(("bucket", name, n, None, q))
    rows += con.execute(load("stats_whole_other"),
                        {**params, "known": list(schema.KNOWN_BUCKETS),
                         "buckets": buckets}).fetchall()
    return rows, runs


def numpy_percentiles(values: Any) -> tuple[int, list[float] | None]:
    """(n, [p50, p95, p99]) of the non-null values of an Arrow array, as numpy's default
    percentile computes them, bit for bit (None when n = 0).

    numpy takes h = (n-1)*q, then a and b, the values of ranks floor(h) and floor(h)+1, and
    returns a + (b-a)*t, or b - (b-a)*(1-t) once t = h - floor(h) >= 0.5 (its _lerp; the
    mantis_lerp macro does the same in SQL). When h >= n-1 (n = 1 here), a and b are both the
    last value and t = h + 1, which keeps the sign of -0.0.

    Arrow's quantile kernel with "lower" interpolation selects the value of rank
    floor(q'*(n-1)) without sorting, so each rank r is asked for at q' = (r + 0.25)/(n-1), a
    quarter-rank clear of rounding (q' = 1 for the last rank).
    """
    import pyarrow.compute as pc

    n = len(values) - values.null_count
    if n == 0:
        return 0, None
    ranks: list[int] = []
    weights: list[float] = []
    for q in QUANTILES:
        h = (n - 1) * q
        if h >= n - 1:  # numpy: both neighbours are the last value, and the weight is h + 1
            ranks += [n - 1, n - 1]
            weights.append(h + 1)
        else:
            r = math.floor(h)
            ranks += [r, r + 1]
            weights.append(h - r)
    at = [1.0 if r == n - 1 else (r + 0.25) / (n - 1) for r in ranks]
    chosen = pc.quantile(values, q=at, interpolation="lower").to_pylist()
    out: list[float] = []
    for i, t in enumerate(weights):
        a, b = chosen[2 * i], chosen[2 * i + 1]
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return n, out
