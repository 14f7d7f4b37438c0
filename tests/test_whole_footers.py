"""The whole-history `stats` read once (stats.whole, stats.footers): the footers' proof (row
counts, no bucket of another name) and its cache, the path taken with and without that proof
against the general path, and the failure window counted in numpy from the one read against
DuckDB's aggregates over the same rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import append_bytes
from mantis_runs.compaction import compact
from mantis_runs.db.connection import connect
from mantis_runs.stats import engine, footers, whole
from mantis_runs.stats.engine import stats
from mantis_runs.stats.order import finite
from test_whole_scan import NOW, hostile_store, line


def store(d: Path, *, other_in_parquet: bool) -> None:
    """Compacted March and April (20 runs of w, 5 of v), then a live May line of w with a
    bucket of another name."""
    log = d / "runs_log"
    for i in range(25):
        month = ["2026-03", "2026-04"][i % 2]
        status = "failed" if i % 6 == 0 else "succeeded"
        append_bytes(log / f"{month}.jsonl", line(
            i, {"think": float(i % 7), "act": [math.nan, 2.5, -0.0][i % 3]}, status=status,
            total=float(i % 11), month=month,
            other={"custom": 3.0} if other_in_parquet and i == 4 else None).replace(
                b'"w"', b'"v"' if i >= 20 else b'"w"'))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    append_bytes(log / "2026-05.jsonl", line(90, {"think": 7.0}, status="succeeded", total=3.0,
                                             month="2026-05", other={"custom": 1.5}))


def parts(d: Path) -> list[Path]:
    return sorted(d.glob("compacted/*/part-*.parquet"))


def spied(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bool]]:
    """The SQL files stats.whole loads, and whether each whole_history answered in place."""
    names: list[str] = []
    taken: list[bool] = []
    real_load, real_whole = whole.load, engine.whole_history
    monkeypatch.setattr(whole, "load", lambda name: names.append(name) or real_load(name))
    monkeypatch.setattr(engine, "whole_history",
                        lambda *a, **k: taken.append((out := real_whole(*a, **k)) is not None)
                        or out)
    return names, taken


@pytest.mark.parametrize("other_in_parquet", [False, True])
def test_footers_count_every_row_and_prove_no_other_bucket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_in_parquet: bool) -> None:
    store(tmp_path, other_in_parquet=other_in_parquet)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    con = connect()
    files = parts(tmp_path)
    assert len(files) == 2
    assert footers.footers(con, files) == footers.Footers(rows=25,
                                                          no_other=not other_in_parquet)
    # kept per file: asked again, the footers are not read
    monkeypatch.setattr(footers, "load", lambda name: pytest.fail(name))
    assert footers.footers(con, files[:1]) == footers.Footers(rows=13,
                                                              no_other=not other_in_parquet)
    assert footers.footers(con, files).rows == 25
    # a file the footers say nothing of (not Parquet): nothing is proven
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    empty = tmp_path / "empty.parquet"
    duckdb.sql("COPY (SELECT 1 AS x WHERE false) TO '" + str(empty) + "' (FORMAT parquet)")
    assert footers.footers(con, [*files, empty]) == footers.Footers(rows=None, no_other=False)


@pytest.mark.parametrize("other_in_parquet", [False, True])
def test_one_read_when_the_footers_prove_it_else_a_count_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_in_parquet: bool) -> None:
    """Proven by the footers: no count, only the JSONL rows are asked for other buckets (and
    the one in May is reported); else stats_whole_counts first. The same answers as the general
    path, for every status."""
    store(tmp_path, other_in_parquet=other_in_parquet)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    names, taken = spied(monkeypatch)
    asks: list[dict[str, Any]] = [{}, {"status": "failed"}, {"status": ""}, {"ci": True}]
    answers = [stats("w", data_dir=tmp_path, last=10**6, now=NOW, **ask).to_json()
               for ask in asks]
    assert taken == [True] * len(asks)
    counted = "stats_whole_counts" in names
    assert counted == other_in_parquet
    assert ("stats_whole_other_lines" in names) == (not other_in_parquet)
    assert "stats_parquet_runs" not in names  # may_fit: the footers' 25 rows prove it
    assert answers[0]["run_count"] == 20 - 4 + 1  # i % 6 == 0 failed, the May run
    assert answers[0]["percentiles"]["custom"]["n"] == 1 + (1 if other_in_parquet else 0)
    assert answers[1]["run_count"] == 4
    monkeypatch.setattr(engine, "whole_history", lambda *a, **k: None)
    for ask, got in zip(asks, answers, strict=True):
        assert stats("w", data_dir=tmp_path, last=10**6, now=NOW, **ask).to_json() == got, ask


@pytest.mark.parametrize("limit", [17, 16])
def test_more_footer_rows_than_the_limit_are_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """25 Parquet rows (5 of another workflow) and one JSONL run, 17 runs match: at a limit of
    17 the count lets the whole history be read in place, at 16 the general path answers."""
    store(tmp_path, other_in_parquet=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    names, taken = spied(monkeypatch)
    monkeypatch.setattr(whole, "WHOLE_MAX_RUNS", limit)
    got = stats("w", data_dir=tmp_path, last=10**6, now=NOW).to_json()
    assert taken == [limit == 17]
    assert "stats_whole_counts" in names
    assert ("stats_whole_measures" in names) == (limit == 17)
    monkeypatch.setattr(engine, "whole_history", lambda *a, **k: None)
    assert stats("w", data_dir=tmp_path, last=10**6, now=NOW).to_json() == got


def test_hostile_store_with_a_cold_and_a_warm_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile_store(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    names, taken = spied(monkeypatch)
    cold = stats("w", data_dir=tmp_path, last=10**6, now=NOW, status=None).to_json()
    warm = stats("w", data_dir=tmp_path, last=10**6, now=NOW, status=None).to_json()
    assert cold == warm and taken == [True, True]
    assert names.count("stats_whole_counts") == 2  # a bucket of another name in a part
    monkeypatch.setattr(engine, "whole_history", lambda *a, **k: None)
    assert stats("w", data_dir=tmp_path, last=10**6, now=NOW, status=None).to_json() == cold


STATUS = st.sampled_from([None, "succeeded", "failed", "cancelled", ""])
ROWS = st.lists(st.tuples(STATUS, st.one_of(st.none(), st.integers(-10**6, 10**6)),
                          st.one_of(st.none(), st.floats(allow_nan=True))), max_size=40)


@settings(max_examples=120, deadline=None)
@given(rows=ROWS, status=STATUS, per_batch=st.integers(1, 7))
def test_the_window_counted_in_numpy_is_duckdbs(rows: list[tuple[str | None, int | None,
                                                                 float | None]],
                                                status: str | None, per_batch: int) -> None:
    """chosen/unlike/failed/finished_at as stats_whole_measures selects them, in Arrow chunks
    of any size: the window's counts and oldest times are the aggregates DuckDB computes, and
    the chosen rows' finite values are the samples."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    con.execute("CREATE TABLE t (status VARCHAR, finished_at TIMESTAMPTZ, v DOUBLE)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", [
            (s, None if f is None else epoch + timedelta(microseconds=f * 997), v)
            for s, f, v in rows])
    sql = whole.load("stats_whole_measures")
    select = sql[sql.index("SELECT"):sql.index("total_time_s, unnest")] + "v FROM t"
    table = con.sql(select, params={"status": status}).to_arrow_table()
    table = pa.Table.from_batches(
        [b for b in table.combine_chunks().to_batches(max_chunksize=per_batch)],
        schema=table.schema) if table.num_rows else table
    chosen = whole.flags(table.column("chosen"))
    expected = con.execute(
        "SELECT count(*) FILTER (WHERE $status IS NULL OR status = $status),"
        " min(finished_at) FILTER (WHERE $status IS NULL OR status = $status),"
        " min(finished_at) FILTER (WHERE status IS DISTINCT FROM $status),"
        " count(finished_at) FILTER (WHERE status = 'failed'), count(finished_at) FROM t",
        {"status": status}).fetchall()[0]
    assert whole.window(table, chosen) == expected
    picked = [v for s, _, v in rows
              if (status is None or s == status) and v is not None and math.isfinite(v)]
    assert sorted(finite(table.column("v"), chosen).tolist()) == sorted(picked)
    assert len(chosen) == len(rows) and chosen.dtype == np.bool_
