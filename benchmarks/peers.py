"""Three independent ways to answer ``mantis runs stats``, for benchmarks and cross-checks.

Each peer takes the newest ``last`` runs of one workflow (``finished_at`` descending, ties broken by
``run_id`` descending) that pass the status filter and the optional ``since`` cutoff, and returns
p50/p95/p99 per wall-time bucket and for ``total_time_s`` with numpy's default ("linear")
percentile semantics. A bucket missing from a run is absent from that bucket's sample. The result
has the shape of ``mantis runs stats --json``::

    {"workflow_id": ..., "run_count": N,
     "percentiles": {bucket: {"p50": ..., "p95": ..., "p99": ..., "n": ...}, "total_time_s": {...}}}

Peers (none of them uses mantis_runs, so they stay independent of the code they check):

``pure_python``
    The seed's query path: stream every ``runs_log/*.jsonl`` shard, ``json.loads`` each line,
    skip lines that are not a JSON object, sort, percentiles in pure Python (a bit-for-bit replica
    of numpy's linear method).
``polars``
    ``pl.scan_ndjson`` over the shards as a user would type it (schema inferred from the first 100
    rows of the first file), ``quantile(q, interpolation="linear")``. ``--polars-schema`` passes an
    explicit schema instead; see docs/benchmarks.md for when inference is not good enough.
``duckdb_auto``
    ``read_json_auto('<dir>/runs_log/*.jsonl')`` as typed at a prompt (auto-detected schema: the
    breakdown becomes a STRUCT), ``quantile_cont``. ``--duckdb-ignore-errors`` adds
    ``ignore_errors=true``, which a log with torn lines needs.

Usage::

    python benchmarks/peers.py pure_python WORKFLOW --data-dir DIR [--last N] [--since 7d]
        [--status S] [--bucket B ...] [--now ISO]
    python benchmarks/peers.py all WORKFLOW --data-dir DIR ...   # run all three, check agreement
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

QUANTILES = (0.5, 0.95, 0.99)
LABELS = ("p50", "p95", "p99")
TOTAL = "total_time_s"
REL_TOL = 1e-9

Result = dict[str, Any]


@dataclass(frozen=True)
class Query:
    data_dir: Path
    workflow_id: str
    last: int = 100
    since: datetime | None = None  # aware UTC cutoff: keep finished_at >= since
    status: str | None = "succeeded"  # None: every status
    buckets: tuple[str, ...] | None = None  # None: every bucket found
    polars_schema: bool = False
    duckdb_ignore_errors: bool = False


def shard_glob(data_dir: Path) -> str:
    return os.path.join(data_dir, "runs_log", "*.jsonl")


def shard_files(data_dir: Path) -> list[str]:
    return sorted(glob.glob(shard_glob(data_dir)))


def _result(q: Query, run_count: int, samples: dict[str, list[float]]) -> Result:
    """Percentiles of already-collected samples (used by pure_python)."""
    out: dict[str, dict[str, float | int]] = {}
    for name, values in samples.items():
        if values and (name == TOTAL or q.buckets is None or name in q.buckets):
            values.sort()
            out[name] = {lab: percentile_linear(values, p) for lab, p in
                         zip(LABELS, QUANTILES, strict=True)}
            out[name]["n"] = len(values)
    return {"workflow_id": q.workflow_id, "run_count": run_count, "percentiles": out}


def percentile_linear(sorted_values: list[float], q: float) -> float:
    """numpy.percentile(..., method="linear") of a sorted non-empty list, bit for bit."""
    n = len(sorted_values)
    h = (n - 1) * q
    lo = math.floor(h)
    if h >= n - 1:
        return sorted_values[-1]
    a, b = sorted_values[lo], sorted_values[lo + 1]
    t = h - lo
    d = b - a
    return b - d * (1 - t) if t >= 0.5 else a + d * t


# --- a. the seed's pure-Python streaming reader ------------------------------------------------


def pure_python(q: Query) -> Result:
    wf, status, since = q.workflow_id, q.status, q.since
    picked: list[tuple[datetime, str, Any, Any]] = []
    loads = json.loads
    for path in shard_files(q.data_dir):
        with open(path, "rb") as f:
            for line in f:
                try:
                    row = loads(line)
                except ValueError:  # torn, NUL, garbage, invalid UTF-8, blank
                    continue
                if not isinstance(row, dict) or row.get("workflow_id") != wf:
                    continue
                if status is not None and row.get("status") != status:
                    continue
                try:
                    fin = datetime.fromisoformat(row["finished_at"])
                except (KeyError, TypeError, ValueError):
                    continue
                if fin.tzinfo is None:
                    fin = fin.replace(tzinfo=UTC)
                if since is not None and fin < since:
                    continue
                picked.append((fin, str(row.get("run_id")), row.get(TOTAL),
                               row.get("wall_time_breakdown")))
    picked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    del picked[q.last:]
    samples: dict[str, list[float]] = {TOTAL: []}
    for _, _, total, wtb in picked:
        if _is_number(total):
            samples[TOTAL].append(float(total))
        if isinstance(wtb, dict):
            for k, v in wtb.items():
                if _is_number(v):
                    samples.setdefault(k, []).append(float(v))
    return _result(q, len(picked), samples)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# --- b. polars ---------------------------------------------------------------------------------


def polars_schema() -> Any:
    """An explicit schema (only the columns the query needs are typed precisely)."""
    import polars as pl

    seconds = pl.Struct({b: pl.Float64 for b in (
        "think", "claude_extract", "settle", "claude_ground", "perceive", "load", "act",
        "claude_verify", "overhead")})
    return {"run_id": pl.String, "workflow_id": pl.String, "status": pl.String,
            "finished_at": pl.String, TOTAL: pl.Float64, "wall_time_breakdown": seconds}


def polars(q: Query) -> Result:
    import polars as pl

    if q.polars_schema:
        lf = pl.scan_ndjson(shard_files(q.data_dir), schema=polars_schema())
    else:
        lf = pl.scan_ndjson(shard_glob(q.data_dir))
    lf = lf.filter(pl.col("workflow_id") == q.workflow_id)
    if q.status is not None:
        lf = lf.filter(pl.col("status") == q.status)
    lf = lf.with_columns(pl.col("finished_at").str.to_datetime(time_unit="us", time_zone="UTC"))
    if q.since is not None:
        lf = lf.filter(pl.col("finished_at") >= q.since)
    top = (lf.sort(["finished_at", "run_id"], descending=[True, True])
             .head(q.last)
             .select(TOTAL, pl.col("wall_time_breakdown").struct.unnest()))
    names = [c for c in top.collect_schema().names()
             if c == TOTAL or q.buckets is None or c in q.buckets]
    exprs = [pl.len().alias("__rows__")]
    for c in names:
        exprs.append(pl.col(c).count().alias(f"{c}|n"))
        exprs += [pl.col(c).cast(pl.Float64).quantile(p, interpolation="linear")
                  .alias(f"{c}|{lab}") for lab, p in zip(LABELS, QUANTILES, strict=True)]
    row = top.select(exprs).collect().row(0, named=True)
    out = {c: {**{lab: row[f"{c}|{lab}"] for lab in LABELS}, "n": row[f"{c}|n"]}
           for c in names if row[f"{c}|n"]}
    return {"workflow_id": q.workflow_id, "run_count": row["__rows__"], "percentiles": out}


# --- c. DuckDB with auto-detection -------------------------------------------------------------


def duckdb_auto(q: Query) -> Result:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    path = shard_glob(q.data_dir).replace("'", "''")
    opts = ", ignore_errors=true" if q.duckdb_ignore_errors else ""
    con.execute(
        f"""CREATE TEMP TABLE top AS
            SELECT total_time_s, wall_time_breakdown AS w
            FROM read_json_auto('{path}'{opts})
            WHERE workflow_id = $wf
              AND ($status IS NULL OR status = $status)
              AND ($since IS NULL OR finished_at >= $since::TIMESTAMPTZ)
            ORDER BY finished_at DESC, run_id DESC
            LIMIT $last""",
        {"wf": q.workflow_id, "status": q.status, "last": q.last,
         "since": None if q.since is None else q.since.isoformat()})
    rows = con.execute(
        """SELECT 'total_time_s' AS bucket, count(total_time_s) AS n,
                  quantile_cont(total_time_s::DOUBLE, [0.5, 0.95, 0.99]) AS q FROM top
           UNION ALL
           SELECT bucket, count(*), quantile_cont(secs::DOUBLE, [0.5, 0.95, 0.99])
           FROM (UNPIVOT (SELECT w.* FROM top) ON COLUMNS(*) INTO NAME bucket VALUE secs)
           GROUP BY bucket
           ORDER BY bucket""").fetchall()
    (run_count,) = con.execute("SELECT count(*) FROM top").fetchone() or (0,)
    out = {b: {**dict(zip(LABELS, qs, strict=True)), "n": n} for b, n, qs in rows
           if n and (b == TOTAL or q.buckets is None or b in q.buckets)}
    con.close()
    return {"workflow_id": q.workflow_id, "run_count": run_count, "percentiles": out}


PEERS: dict[str, Callable[[Query], Result]] = {
    "pure_python": pure_python,
    "polars": polars,
    "duckdb_auto": duckdb_auto,
}


# --- comparing results -------------------------------------------------------------------------


def differences(a: Result, b: Result, rel: float = REL_TOL) -> list[str]:
    """What differs between two results (empty when they agree). Buckets with no samples (n=0 or
    p50 null, as mantis prints for a requested bucket that is absent) are ignored."""

    def present(r: Result) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in r["percentiles"].items()
                if v.get("p50") is not None and v.get("n", 1)}

    diffs = []
    if a["run_count"] != b["run_count"]:
        diffs.append(f"run_count {a['run_count']} != {b['run_count']}")
    pa, pb = present(a), present(b)
    if set(pa) != set(pb):
        diffs.append(f"buckets {sorted(set(pa) ^ set(pb))} in only one result")
    for k in sorted(set(pa) & set(pb)):
        if "n" in pa[k] and "n" in pb[k] and pa[k]["n"] != pb[k]["n"]:
            diffs.append(f"{k}.n {pa[k]['n']} != {pb[k]['n']}")
        for lab in LABELS:
            x, y = pa[k][lab], pb[k][lab]
            if not math.isclose(x, y, rel_tol=rel, abs_tol=0.0):
                diffs.append(f"{k}.{lab} {x!r} != {y!r}")
    return diffs


# --- command line ------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``/``24h``/``7d``/``2w`` back from ``now``, or an ISO date/datetime (naive = UTC)."""
    m = _DURATION.match(text)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def build_query(args: argparse.Namespace) -> Query:
    now = (datetime.fromisoformat(args.now).astimezone(UTC) if args.now
           else datetime.now(UTC))
    return Query(
        data_dir=Path(args.data_dir),
        workflow_id=args.workflow_id,
        last=args.last,
        since=parse_since(args.since, now) if args.since else None,
        status=args.status or None,
        buckets=tuple(args.bucket) if args.bucket else None,
        polars_schema=args.polars_schema,
        duckdb_ignore_errors=args.duckdb_ignore_errors,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("peer", choices=[*PEERS, "all"])
    ap.add_argument("workflow_id")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--last", type=int, default=100)
    ap.add_argument("--since", default=None, help="7d, 24h, 30m, 2w or an ISO date")
    ap.add_argument("--status", default="succeeded", help="'' for every status")
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--now", default=None, help="ISO instant that --since counts back from")
    ap.add_argument("--json", action="store_true", help="accepted for symmetry; always JSON")
    ap.add_argument("--polars-schema", action="store_true",
                    help="polars: explicit schema instead of inference")
    ap.add_argument("--duckdb-ignore-errors", action="store_true",
                    help="duckdb_auto: read_json_auto(..., ignore_errors=true)")
    args = ap.parse_args(argv)
    q = build_query(args)

    if args.peer != "all":
        print(json.dumps(PEERS[args.peer](q)))
        return 0

    results: dict[str, Result] = {}
    for name, fn in PEERS.items():  # in-process and warm-ish: for a quick check, not timing
        t0 = time.perf_counter()
        try:
            results[name] = fn(q)
        except Exception as exc:
            print(f"{name:<12} FAILED: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            continue
        print(f"{name:<12} {time.perf_counter() - t0:7.2f} s  run_count="
              f"{results[name]['run_count']}")
    ok = True
    names = list(results)
    for other in names[1:]:
        diffs = differences(results[names[0]], results[other])
        ok &= not diffs
        print(f"{names[0]} vs {other}: " + ("agree" if not diffs else "; ".join(diffs[:10])))
    if names:
        print(json.dumps(results[names[0]], indent=1))
    return 0 if ok and len(results) == len(PEERS) else 1


if __name__ == "__main__":
    sys.exit(main())
