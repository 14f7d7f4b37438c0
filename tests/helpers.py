"""Shared test helpers, imported by name (``from helpers import ...``): the CLI runner, rows written
exactly as the writer serialises them, a numpy oracle, and on-disk checks. Subprocesses that need
them put :data:`TESTS_DIR` on ``sys.path``. Fixtures and pytest hooks live in ``conftest.py``."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mantis_runs.log.record import format_timestamp, parse_timestamp, prepare

#: tests/, where this module is (for subprocesses that import it).
TESTS_DIR = Path(__file__).resolve().parent


class CliResult(NamedTuple):
    """What ``mantis`` did: compares and unpacks as the tuple ``(code, out, err)``."""

    code: int
    out: str
    err: str


def run_cli(*args: str) -> CliResult:
    """``mantis <args>`` in process through click's CliRunner: exit code, stdout and stderr
    (kept apart). An uncaught exception is exit code 1, as click's runner reports it."""
    from click.testing import CliRunner

    from mantis_runs.cli import main

    r = CliRunner().invoke(main, list(args))
    return CliResult(r.exit_code, r.stdout, r.stderr)


def write_rows(data_dir: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Append rows in writer format (prepare()), grouped by month, without fsync: fast fixtures."""
    by_month: dict[str, list[bytes]] = defaultdict(list)
    n = 0
    for row in rows:
        p = prepare(row)
        by_month[p.month].append(p.line)
        n += 1
    log = data_dir / "runs_log"
    log.mkdir(parents=True, exist_ok=True)
    for month, lines in by_month.items():
        with open(log / f"{month}.jsonl", "ab") as f:
            f.write(b"".join(lines))
    return n


def append_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)


def oracle(rows: Sequence[dict[str, Any]], workflow_id: str, *, last: int = 100,
           status: str | None = "succeeded", since: datetime | None = None,
           buckets: Sequence[str] | None = None) -> dict[str, Any]:
    """What `mantis runs stats --json` must say, computed independently with numpy."""
    # One copy per run_id over every workflow (the documented rule: latest finished_at, then
    # the largest finite total, then status and workflow_id by text, descending); then the
    # workflow, status and since filters apply to that copy.
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        fin = parse_timestamp(r["finished_at"])
        total = r["total_time_s"]
        finite = isinstance(total, int | float) and math.isfinite(total)
        key = (fin, finite, total if finite else 0.0, r["status"] or "", r["workflow_id"] or "")
        cur = best.get(r["run_id"])
        if cur is None or key > cur["_key"]:
            best[r["run_id"]] = {**r, "_key": key, "_fin": fin}
    kept = [r for r in best.values() if r["workflow_id"] == workflow_id
            and (not status or r["status"] == status)
            and (since is None or r["_fin"] >= since)]
    chosen = sorted(kept, key=lambda r: (r["_fin"], r["run_id"]), reverse=True)[:last]
    samples: dict[str, list[float]] = defaultdict(list)
    for r in chosen:
        for b, v in (r.get("wall_time_breakdown") or {}).items():
            if buckets is None or b in buckets:
                samples[b].append(float(v))
    out: dict[str, Any] = {}
    for b, vals in samples.items():
        p = np.percentile(np.array(vals, dtype=float), [50, 95, 99])
        out[b] = {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2]), "n": len(vals),
                  "rough": rough_oracle(vals)}
    totals = [float(r["total_time_s"]) for r in chosen]
    if totals:
        p = np.percentile(np.array(totals), [50, 95, 99])
        out["total_time_s"] = {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2]),
                               "n": len(totals), "rough": rough_oracle(totals)}
    else:
        out["total_time_s"] = {"p50": None, "p95": None, "p99": None, "n": 0, "rough": []}
    return {"run_count": len(chosen), "percentiles": out,
            "failures": failures_oracle(list(best.values()), chosen, workflow_id)}


def failures_oracle(winners: list[dict[str, Any]], chosen: list[dict[str, Any]],
                    workflow_id: str) -> dict[str, Any] | None:
    """The failure rate `stats` reports: every dated run of the workflow (its winning copy, any
    status) finished since the oldest chosen run."""
    dated = [r["_fin"] for r in chosen if r["_fin"] is not None]
    if not dated:
        return None
    start = min(dated)
    window = [r for r in winners if r["workflow_id"] == workflow_id
              and r["_fin"] is not None and r["_fin"] >= start]
    failed = sum(r["status"] == "failed" for r in window)
    return {"since": format_timestamp(start), "failed": failed, "runs": len(window),
            "rate": failed / len(window)}


def rough_oracle(values: Sequence[float]) -> list[str]:
    """The percentiles whose 95 % interval scipy's quantile_test leaves unbounded (NaN)."""
    from scipy import stats

    x = np.array(values, dtype=float)
    out = []
    for name, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        ci = stats.quantile_test(x, q=float(np.median(x)), p=p).confidence_interval(0.95)
        if math.isnan(ci.low) or math.isnan(ci.high):
            out.append(name)
    return out


def assert_matches(actual: dict[str, Any], expected: dict[str, Any], rel: float = 0.0) -> None:
    """Percentiles equal numpy's bit for bit (``rel=0``), or within ``rel`` relative."""
    assert actual["run_count"] == expected["run_count"]
    assert actual["failures"] == expected["failures"]
    got = {k: v for k, v in actual["percentiles"].items() if v["n"] > 0 or k == "total_time_s"}
    assert set(got) == set(expected["percentiles"]), (set(got), set(expected["percentiles"]))
    for bucket, exp in expected["percentiles"].items():
        act = got[bucket]
        assert act["n"] == exp["n"], bucket
        assert act["rough"] == exp["rough"], (bucket, act["rough"], exp["rough"])
        for q in ("p50", "p95", "p99"):
            if exp[q] is None:
                assert act[q] is None
            else:
                assert act[q] == exp[q] or abs(act[q] - exp[q]) <= rel * abs(exp[q]), (
                    bucket, q, act[q], exp[q])


def stored_run_ids(data_dir: Path) -> Counter[str]:
    """How many times each run_id is in the files a reader reads, in one snapshot (the check of
    exactly-once: no dedupe, raw rows). A live shard with a valid checkpoint counts as the
    checkpoint plus the shard's tail, as stats reads it."""
    import tempfile

    from mantis_runs.db.connection import connect, duckdb_path, snapshot
    from mantis_runs.log import schema
    from mantis_runs.stats.sources import live_reads, month_sources

    ids: list[str] = []
    with snapshot(data_dir) as months, tempfile.TemporaryDirectory() as scratch:
        live = live_reads(data_dir, list(months.values()), Path(scratch))
        sources = [month_sources(mf, live) for mf in months.values()]
        con = connect()
        try:
            jsonl = [duckdb_path(p) for j, _ in sources for p in j]
            parts = [duckdb_path(p) for _, ps in sources for p in ps]
            if jsonl:
                ids += [r[0] for r in con.execute(
                    "SELECT run_id FROM read_json($files, format = 'newline_delimited', "
                    "records = true, columns = $columns, ignore_errors = true) "
                    "WHERE run_id IS NOT NULL",
                    {"files": jsonl, "columns": schema.duckdb_columns()}).fetchall()]
            if parts:
                ids += [r[0] for r in con.execute("SELECT run_id FROM read_parquet($files)",
                                                  {"files": parts}).fetchall()]
        finally:
            con.close()
    return Counter(ids)


def disk_state(d: Path, closed: Sequence[str], *, live: bool = True) -> frozenset[str]:
    """What a killed compactor left in ``d``, as tags ("clean" when nothing); only the months
    in ``closed`` are looked at. ``live=False`` leaves out live shards of those months (writers
    that keep appending to a closed month always make one)."""
    from mantis_runs.log.layout import scan

    tags: set[str] = set()
    tmp = d / ".tmp"
    if tmp.exists():
        tags.add("scratch")
        if any(p.name.endswith(".parquet.inprogress") for p in tmp.iterdir()):
            tags.add("unpublished part")
    for month, mf in scan(d).items():
        if month not in closed:
            continue
        if live and mf.live is not None:
            tags.add("live shard of a closed month")
        if mf.sealed:
            tags.add("sealed, not converted")
        for p in mf.superseded:
            tags.add("older generation" if p.suffix == ".parquet" else "absorbed shard left")
    cps = d / "checkpoints"
    if cps.is_dir():
        from mantis_runs.log import checkpoint

        named = {cp.parquet for m in (p.stem for p in cps.glob("*.json"))
                 if (cp := checkpoint.load(d, m)) is not None}
        for p in cps.iterdir():
            if p.name.endswith(".inprogress"):
                tags.add("checkpoint manifest in progress")
            elif p.suffix == ".parquet" and p.name not in named:
                tags.add("checkpoint file no manifest names")
    return frozenset(tags) or frozenset({"clean"})
