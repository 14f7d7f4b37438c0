"""RunStore over real files and a real DuckDB: typed rows, filters, reports, SQL, compaction."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from helpers import append_bytes, oracle, write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.db import arrow_schema
from mantis_runs.errors import NotFound, UsageError
from mantis_runs.log import schema
from mantis_runs.stats.engine import stats
from mantis_runs.store import RunRow

A1, A2, A3 = "20260310_080000_00000001", "20260420_080000_00000002", "20260420_090000_00000003"
A4, A5 = "nodate", "20260505_120000_00000005"

ROWS: list[dict[str, Any]] = [
    {"run_id": A1, "workflow_id": "wf", "status": "succeeded", "model": "m1",
     "finished_at": "2026-03-10T08:00:00Z", "total_time_s": 10.0,
     "wall_time_breakdown": {"think": 6.0, "act": 3.0}},
    {"run_id": A2, "workflow_id": "wf", "status": "succeeded", "model": "m1",
     "created_at": "2026-04-20T07:59:30+02:00", "finished_at": "2026-04-20T08:00:00Z",
     "total_time_s": 20.0, "wall_time_breakdown": {"think": 12.0, "act": 6.0},
     "cost_breakdown": {"llm": 0.25}},
    {"run_id": A3, "workflow_id": "wf", "status": "failed", "model": "m2",
     "finished_at": "2026-04-20T09:00:00Z", "total_time_s": 40.0,
     "wall_time_breakdown": {"think": 30.0, "act": 4.0},
     "cost_breakdown": {"llm": 1.0, "gpu": 2.5}, "error": "boom", "steps_executed": 3,
     "host": "h2", "tags": ["x", "y"]},
    {"run_id": A4, "workflow_id": "wf2", "status": "succeeded",  # same instant as A3
     "finished_at": "2026-04-20T09:00:00Z", "total_time_s": 1.5},
    {"run_id": A5, "workflow_id": "wf", "status": "succeeded", "model": "m1",
     "finished_at": "2026-05-05T12:00:00Z", "total_time_s": 30.0,
     "wall_time_breakdown": {"think": 18.0, "act": 9.0, "settle": 1.5}, "host": "h1"},
]
DUPLICATES: list[dict[str, Any]] = [
    ROWS[1],  # a writer retry: the very same line twice
    # an older copy of A5 in an older month: the latest finished_at wins everywhere
    {**ROWS[4], "finished_at": "2026-04-30T23:00:00Z", "total_time_s": 29.0, "host": "old"},
]
NEWEST_FIRST = [A5, A4, A3, A2, A1]
ROW_KEYS = (*schema.FIELD_NAMES, "extra")
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)  # March and April are closed, May is live

ALL = ["p50", "p95", "p99"]  # rough at n < 6


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    write_rows(d, ROWS + DUPLICATES)
    return d


@pytest.fixture
def store(data: Path) -> RunStore:
    return RunStore(data)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "mantis_runs" and r.levelno == logging.WARNING]


# -- the row type -------------------------------------------------------------------------------


def test_runrow_keys_follow_the_schema() -> None:
    assert tuple(RunRow.__annotations__) == ROW_KEYS
    assert RunRow.__required_keys__ == frozenset(ROW_KEYS)


def test_runs_view_columns_are_the_row_schema(store: RunStore) -> None:
    assert store.relation().columns == arrow_schema.arrow_schema().names == list(ROW_KEYS)
    assert store.runs(arrow=True).column_names == list(ROW_KEYS)
    assert store.sql("SELECT * FROM runs").column_names == list(ROW_KEYS)


# -- runs ---------------------------------------------------------------------------------------


def test_runs_typed_rows(store: RunStore) -> None:
    rows = store.runs()
    assert [r["run_id"] for r in rows] == NEWEST_FIRST  # ties (A4, A3) by run_id, descending
    for r in rows:
        assert tuple(r) == ROW_KEYS
        assert isinstance(r["finished_at"], datetime)
        assert r["finished_at"].utcoffset() == timedelta(0)
        assert isinstance(r["wall_time_breakdown"], dict)
        assert r["extra"] is None or isinstance(r["extra"], dict)
    a2, a3, a5 = rows[3], rows[2], rows[0]
    assert a2 == {
        "schema_version": 1, "run_id": A2, "tenant_id": None, "profile_id": None,
        "workflow_id": "wf", "plan_signature": None, "model": "m1", "status": "succeeded",
        "created_at": utc("2026-04-20T05:59:30Z"), "finished_at": utc("2026-04-20T08:00:00Z"),
        "total_time_s": 20.0, "wall_time_breakdown": {"think": 12.0, "act": 6.0},
        "cost_breakdown": {"llm": 0.25}, "steps_executed": None, "viable": None,
        "error": None, "extra": None,
    }
    assert a2["created_at"] is not None and a2["created_at"].utcoffset() == timedelta(0)
    assert (a3["extra"], a3["error"], a3["steps_executed"]) == (
        {"host": "h2", "tags": ["x", "y"]}, "boom", 3)
    assert a3["cost_breakdown"] == {"llm": 1.0, "gpu": 2.5}
    assert (a5["extra"], a5["total_time_s"], a5["finished_at"]) == (
        {"host": "h1"}, 30.0, utc("2026-05-05T12:00:00Z"))


@pytest.mark.parametrize(("args", "kwargs", "expected"), [
    ((), {"last": 2}, [A5, A4]),
    ((), {"last": 3}, [A5, A4, A3]),  # crosses into April
    ((), {"last": 100}, NEWEST_FIRST),
    (("wf",), {}, [A5, A3, A2, A1]),
    (("wf2",), {}, [A4]),
    (("ghost",), {}, []),
    ((), {"status": "failed"}, [A3]),
    ((), {"status": "succeeded", "last": 3}, [A5, A4, A2]),
    ((), {"status": ""}, NEWEST_FIRST),
    ((), {"status": None}, NEWEST_FIRST),
    ((), {"since": "2026-04-20T08:30:00"}, [A5, A4, A3]),  # naive means UTC
    ((), {"since": datetime(2026, 4, 20, 10, 0, tzinfo=UTC)}, [A5]),
    ((), {"since": datetime(2026, 4, 20, 8, 0)}, [A5, A4, A3, A2]),  # inclusive, naive = UTC
    ((), {"since": "2026-04-01"}, [A5, A4, A3, A2]),
    (("wf",), {"since": "2026-04-01", "status": "succeeded", "last": 5}, [A5, A2]),
])
def test_runs_filters(store: RunStore, args: tuple[str, ...], kwargs: dict[str, Any],
                      expected: list[str]) -> None:
    assert [r["run_id"] for r in store.runs(*args, **kwargs)] == expected
    table = store.runs(*args, **kwargs, arrow=True)
    assert isinstance(table, pa.Table)
    assert table.column("run_id").to_pylist() == expected


def test_runs_since_a_duration_is_relative_to_now(data: Path, store: RunStore) -> None:
    write_rows(data, [{"run_id": "recent", "workflow_id": "wf", "status": "failed",
                       "total_time_s": 2.0,
                       "finished_at": datetime.now(UTC) - timedelta(hours=1)}])
    assert [r["run_id"] for r in store.runs(since="3h")] == ["recent"]
    assert [r["run_id"] for r in store.runs(since="7d", status="succeeded")] == []


def test_runs_arrow_table(store: RunStore) -> None:
    table = store.runs(arrow=True)
    assert isinstance(table, pa.Table)
    assert table.num_rows == 5
    assert table.schema.field("finished_at").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_map(table.schema.field("wall_time_breakdown").type)
    assert table.column("run_id").to_pylist() == NEWEST_FIRST
    assert table.column("total_time_s").to_pylist() == [30.0, 1.5, 40.0, 20.0, 10.0]


def test_runs_empty_store(tmp_path: Path) -> None:
    (tmp_path / "nothing" / "runs_log").mkdir(parents=True)  # a store with no runs yet
    s = RunStore(tmp_path / "nothing")
    assert s.runs() == []
    empty = s.runs(arrow=True)
    assert empty.num_rows == 0 and empty.column_names == list(ROW_KEYS)
    assert s.latest() is None and s.get("x") is None and s.bad_lines() == {}


def test_runs_rejects_last_below_one(store: RunStore) -> None:
    # the library names its own argument, not the CLI's --last
    with pytest.raises(UsageError, match=r"^last must be at least 1, got 0$"):
        store.runs(last=0)


# -- get / latest -------------------------------------------------------------------------------


def test_get(store: RunStore) -> None:
    a1 = store.get(A1)  # an old month, found from its run_id's date
    assert a1 is not None
    assert (a1["finished_at"], a1["total_time_s"]) == (utc("2026-03-10T08:00:00Z"), 10.0)
    a4 = store.get(A4)  # no date prefix: every month is searched
    assert a4 is not None and (a4["workflow_id"], a4["total_time_s"]) == ("wf2", 1.5)
    assert store.get("20260101_000000_ffffffff") is None
    assert store.get("nope") is None
    # a row is the same whichever way it is read
    by_id = {r["run_id"]: r for r in store.runs()}
    for rid in NEWEST_FIRST:
        assert store.get(rid) == by_id[rid]


def test_latest(store: RunStore) -> None:
    latest = store.latest()
    assert latest is not None and latest["run_id"] == A5
    wf2 = store.latest("wf2")
    assert wf2 is not None and wf2["run_id"] == A4
    assert store.latest("ghost") is None


# -- duplicates ---------------------------------------------------------------------------------


def test_a_run_id_written_twice_counts_once_everywhere(store: RunStore) -> None:
    lines = sum(1 for f in (store.data_dir / "runs_log").glob("*.jsonl")
                for _ in f.open("rb"))
    assert lines == 7  # five runs, one repeated line, one older copy in another month
    assert [r["run_id"] for r in store.runs()] == NEWEST_FIRST
    assert [r["run_id"] for r in store.runs(last=5)] == NEWEST_FIRST
    assert [r["run_id"] for r in store.runs("wf", since="2026-04-30")] == [A5]
    a5 = store.get(A5)
    assert a5 is not None and (a5["total_time_s"], a5["extra"]) == (30.0, {"host": "h1"})
    assert store.sql("SELECT count(*) AS n, count(DISTINCT run_id) AS d FROM runs"
                     ).to_pylist() == [{"n": 5, "d": 5}]
    assert store.sql("SELECT total_time_s FROM runs WHERE run_id = 'x' OR run_id = "
                     f"'{A5}'").to_pylist() == [{"total_time_s": 30.0}]
    assert store.relation().aggregate("count(*)").fetchall() == [(5,)]
    assert store.sql("SELECT count(*) AS n FROM run_buckets WHERE run_id = "
                     f"'{A2}'").to_pylist() == [{"n": 2}]
    r = store.stats("wf")
    assert (r.run_count, r.total.n, sorted(r.total.as_dict().items())) == (
        3, 3, sorted({"p50": 20.0, "p95": 29.0, "p99": 29.8, "n": 3, "rough": ALL}.items()))
    # the runs before A3 (A1, and A2 written twice); A5 finished after it
    assert store.report(A3).baseline.run_count == 2  # type: ignore[union-attr]
    # A5's older copy (April) is A5 itself, whose winning copy is not before A5
    assert store.report(A5).baseline.run_count == 2  # type: ignore[union-attr]
    assert store.bad_lines() == {}


# -- stats and report ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {}, {"last": 2}, {"status": ""}, {"status": "failed"}, {"since": "2026-04-01"},
    {"buckets": ["act", "nope"]},
])
def test_stats_is_query_stats(data: Path, store: RunStore, kwargs: dict[str, Any]) -> None:
    assert store.stats("wf", **kwargs) == stats("wf", data_dir=data, **kwargs)


def test_stats_matches_numpy(store: RunStore) -> None:
    expected = oracle(ROWS + DUPLICATES, "wf")
    got = store.stats("wf").to_json()
    assert got["run_count"] == expected["run_count"] == 3
    assert got["percentiles"] == expected["percentiles"]


def test_report(store: RunStore) -> None:
    rep = store.report(A3)
    assert rep.run == store.get(A3)
    # the baseline: wf's succeeded runs that finished before A3 (A1, A2), not A5 (after it)
    think = np.percentile([6.0, 12.0], [50, 95])
    act = np.percentile([3.0, 6.0], [50, 95])
    assert [(b.bucket, b.seconds, b.share, b.p50, b.p95, b.n, b.verdict) for b in rep.buckets] == [
        ("think", 30.0, 0.75, float(think[0]), float(think[1]), 2, "above p95"),
        ("act", 4.0, 0.1, float(act[0]), float(act[1]), 2, ""),
    ]
    assert rep.unaccounted_s == 6.0
    assert rep.cost_total == 3.5
    assert rep.baseline is not None
    assert (rep.baseline.workflow_id, rep.baseline.run_count, rep.baseline.status,
            rep.baseline.last) == ("wf", 2, "succeeded", 100)
    doc = rep.to_json()
    assert doc["run"]["finished_at"] == "2026-04-20T09:00:00Z"
    assert doc["run"]["extra"] == {"host": "h2", "tags": ["x", "y"]}
    assert doc["buckets"][0] == {"bucket": "think", "seconds": 30.0, "share": 0.75,
                                 "p50": 9.0, "p95": float(think[1]), "n": 2,
                                 "verdict": "above p95"}
    assert (doc["unaccounted_s"], doc["cost_total"]) == (6.0, 3.5)
    json.dumps(doc)  # JSON-ready as it is


def test_report_compares_a_run_with_the_runs_before_it(store: RunStore) -> None:
    # (it was compared with the newest runs, itself included: A5 within its own baseline, and
    # an old run against runs that came after it)
    rep = store.report(A5)  # against A1 and A2; settle never ran before (no p50, no verdict)
    assert [(b.bucket, b.share, b.p50, b.n, b.verdict) for b in rep.buckets] == [
        ("think", 0.6, 9.0, 2, "above p95"),
        ("act", 0.3, 4.5, 2, "above p95"),
        ("settle", 0.05, None, 0, ""),
    ]
    assert (rep.unaccounted_s, rep.cost_total) == (1.5, None)
    rep = store.report(A2)  # against A1 alone, not A5 (later)
    assert rep.baseline is not None and rep.baseline.run_count == 1
    assert [(b.bucket, b.p50, b.verdict) for b in rep.buckets] == [
        ("think", 6.0, "above p95"), ("act", 3.0, "above p95")]
    assert (rep.unaccounted_s, rep.cost_total) == (2.0, 0.25)
    rep = store.report(A1)  # the first run of wf: nothing before it
    assert rep.baseline is not None and rep.baseline.run_count == 0
    assert [(b.bucket, b.p50, b.n) for b in rep.buckets] == [("think", None, 0), ("act", None, 0)]


def test_report_latest_and_smaller_baseline(store: RunStore) -> None:
    assert store.report().run["run_id"] == A5
    rep = store.report(A3, baseline_runs=1)  # only A2, the newest run before A3
    assert rep.baseline is not None and rep.baseline.run_count == 1
    assert [(b.bucket, b.p50, b.p95) for b in rep.buckets] == [
        ("think", 12.0, 12.0), ("act", 6.0, 6.0)]
    with pytest.raises(UsageError, match=r"^baseline_runs must be at least 1, got 0$"):
        store.report(A3, baseline_runs=0)


def test_report_no_buckets_and_not_found(store: RunStore, tmp_path: Path) -> None:
    rep = store.report(A4)
    assert (rep.buckets, rep.unaccounted_s, rep.cost_total) == ([], 1.5, None)
    with pytest.raises(NotFound, match=r"^no run 'ghost' in "):
        store.report("ghost")
    (tmp_path / "empty" / "runs_log").mkdir(parents=True)  # a store with no runs yet
    with pytest.raises(NotFound, match=r"^no runs in "):
        RunStore(tmp_path / "empty").report()


# -- sql / relation / connect -------------------------------------------------------------------


def test_sql(store: RunStore) -> None:
    t = store.sql("SELECT run_id, extra->>'host' AS host, extra->'tags'->>0 AS tag FROM runs "
                  "ORDER BY run_id")
    assert isinstance(t, pa.Table)
    assert t.to_pylist() == [
        {"run_id": A1, "host": None, "tag": None},
        {"run_id": A2, "host": None, "tag": None},
        {"run_id": A3, "host": "h2", "tag": "x"},
        {"run_id": A5, "host": "h1", "tag": None},
        {"run_id": A4, "host": None, "tag": None},
    ]
    by_model = store.sql("SELECT model, count(*) AS runs, median(total_time_s) AS median_s "
                         "FROM runs WHERE status = 'succeeded' GROUP BY model "
                         "ORDER BY median_s DESC")
    assert by_model.to_pylist() == [{"model": "m1", "runs": 3, "median_s": 20.0},
                                    {"model": None, "runs": 1, "median_s": 1.5}]


def test_sql_error_is_a_mantis_error(store: RunStore) -> None:
    from mantis_runs.errors import MantisError

    with pytest.raises(MantisError, match=r"^query failed: Catalog Error: Table with name "
                                          r"nowhere does not exist"):
        store.sql("SELECT * FROM nowhere")


def test_relation_and_connect(store: RunStore) -> None:
    rel = store.relation()
    assert sorted(rel.aggregate("model, median(total_time_s)").fetchall(),
                  key=lambda r: r[0] or "") == [(None, 1.5), ("m1", 20.0), ("m2", 40.0)]
    con = store.connect()
    try:
        assert con.execute("SELECT count(*) FROM run_costs").fetchall() == [(3,)]
        assert con.execute("SELECT bucket, seconds FROM run_buckets WHERE run_id = $r "
                           "ORDER BY bucket", {"r": A5}).fetchall() == [
            ("act", 9.0), ("settle", 1.5), ("think", 18.0)]
    finally:
        con.close()


# -- malformed input ----------------------------------------------------------------------------


@pytest.fixture
def broken(data: Path) -> Path:
    append_bytes(data / "runs_log" / "2026-04.jsonl",
                 b'garbage\n{"no_run_id": 1}\n\x00\x00\x00\n[1, 2]\n')
    return data


EXPECTED_WARNING = "skipped 4 malformed lines (2026-04.jsonl: 4)"


@pytest.mark.parametrize("call", [
    lambda s: s.runs(),
    lambda s: s.runs("wf", last=4),
    lambda s: s.get(A1),
    lambda s: s.stats("wf"),
    lambda s: s.report(A3),
    lambda s: s.sql("SELECT count(*) FROM runs"),
])
def test_malformed_lines_one_warning(broken: Path, caplog: pytest.LogCaptureFixture,
                                     call: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="mantis_runs"):
        call(RunStore(broken))
    assert warnings_of(caplog) == [EXPECTED_WARNING]


def test_malformed_lines_are_not_rows(broken: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = RunStore(broken)
    with caplog.at_level(logging.WARNING, logger="mantis_runs"):
        assert [r["run_id"] for r in s.runs()] == NEWEST_FIRST
        assert s.bad_lines() == {"2026-04.jsonl": 4}
        assert s.stats("wf").skipped_lines == {"2026-04.jsonl": 4}
    assert warnings_of(caplog) == [EXPECTED_WARNING, EXPECTED_WARNING]  # bad_lines() is quiet


def test_jsonl_months_are_always_read_and_reported(broken: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    # A JSONL shard may hold rows of any date (a runtime that shards by local date), so no
    # JSONL month is skipped: April's bad lines are read, and reported, even for May's runs.
    s = RunStore(broken)
    with caplog.at_level(logging.WARNING, logger="mantis_runs"):
        assert [r["run_id"] for r in s.runs(last=1)] == [A5]
        assert s.get(A5) is not None
        assert s.runs(since="2026-05-01") != []
    assert warnings_of(caplog) == [EXPECTED_WARNING] * 3


# -- live JSONL and compacted Parquet -----------------------------------------------------------

SNAPSHOT_SQL = "SELECT * FROM runs ORDER BY run_id"


def test_compaction_changes_nothing_readers_see(broken: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    s = RunStore(broken)
    before = (s.runs(), s.runs(arrow=True), s.sql(SNAPSHOT_SQL), s.runs("wf", last=3),
              s.get(A1), s.get(A4), s.stats("wf").to_json()["percentiles"])
    report = compact(broken, now=NOW)
    assert [(m.month, m.rows_written, m.duplicates_dropped, m.bad_lines_quarantined)
            for m in report.months] == [("2026-03", 1, 0, 0), ("2026-04", 4, 1, 4)]
    assert sorted(p.name for p in (broken / "runs_log").glob("*.jsonl")) == ["2026-05.jsonl"]
    assert len(list((broken / "compacted").glob("*/part-*.parquet"))) == 2
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mantis_runs"):
        after = (s.runs(), s.runs(arrow=True), s.sql(SNAPSHOT_SQL), s.runs("wf", last=3),
                 s.get(A1), s.get(A4), s.stats("wf").to_json()["percentiles"])
    assert warnings_of(caplog) == []  # the bad lines are in quarantine now
    assert after[0] == before[0]
    assert after[1].equals(before[1])
    assert after[2].equals(before[2])
    assert after[3:] == before[3:]
    assert s.bad_lines() == {}


def test_rows_from_parquet_and_a_late_live_shard(data: Path) -> None:
    compact(data, now=NOW)
    # A late writer (or a retry of a compacted run) starts a new live shard for April.
    late = {"run_id": "late", "workflow_id": "wf", "status": "failed", "total_time_s": 7.0,
            "finished_at": "2026-04-25T00:00:00Z", "error": "late"}
    write_rows(data, [late, ROWS[2]])
    s = RunStore(data)
    assert (data / "runs_log" / "2026-04.jsonl").is_file()
    assert [r["run_id"] for r in s.runs()] == [A5, "late", A4, A3, A2, A1]
    assert [r["run_id"] for r in s.runs(status="failed", last=10)] == ["late", A3]
    assert s.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 6}]
    a3 = s.get(A3)
    assert a3 is not None and a3["extra"] == {"host": "h2", "tags": ["x", "y"]}
    assert s.sql(f"SELECT extra->>'host' AS host FROM runs WHERE run_id = '{A3}'"
                 ).to_pylist() == [{"host": "h2"}]
    assert s.stats("wf", status="").run_count == 5


def test_a_newer_copy_in_a_newer_month_hides_the_older_one_from_filters(tmp_path: Path) -> None:
    from mantis_runs import append_run

    def put(run_id: str, status: str, total: float, finished: str) -> None:
        assert append_run({"run_id": run_id, "workflow_id": "w", "status": status,
                           "total_time_s": total, "finished_at": finished}, tmp_path)

    put("X", "succeeded", 10, "2026-10-31T10:00:00Z")
    put("X", "failed", 11, "2026-11-01T10:00:00Z")  # the run recorded again, later: it failed
    put("Y", "succeeded", 5, "2026-10-30T10:00:00Z")
    store = RunStore(tmp_path)
    assert [r["run_id"] for r in store.runs(status="succeeded", last=5)] == ["Y"]
    assert [r["run_id"] for r in store.runs(status="succeeded")] == ["Y"]
    assert [(r["run_id"], r["status"]) for r in store.runs(last=5)] == [
        ("X", "failed"), ("Y", "succeeded")]
    got = store.get("X")
    assert got is not None and got["status"] == "failed"


def test_views_answer_over_a_hundred_thousand_runs(tmp_path: Path) -> None:
    """Typing whole JSON rows for the views needs more memory than stats' 160MB (it failed at
    this size, out of memory); the views get VIEW_MEMORY_LIMIT. Rows as the writer's size."""
    d = tmp_path / "data"
    error = "Traceback (most recent call last): " + "x" * 150
    lines = [json.dumps({
        "schema_version": 1, "run_id": f"r{i:06d}", "tenant_id": "acme",
        "profile_id": "acme__alice", "workflow_id": f"w{i % 7}", "plan_signature": "abc123",
        "model": "m", "status": "failed" if i % 13 == 0 else "succeeded",
        "created_at": "2026-05-01T00:00:00Z",
        "finished_at": f"2026-05-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", "total_time_s": i / 10,
        "wall_time_breakdown": dict.fromkeys(schema.KNOWN_BUCKETS, i / 100),
        "cost_breakdown": {"llm_usd": 0.01}, "steps_executed": 3, "viable": 1,
        "error": error if i % 13 == 0 else None, "host": "h1"}) for i in range(100_000)]
    append_bytes(d / "runs_log" / "2026-05.jsonl", ("\n".join(lines) + "\n").encode())
    store = RunStore(d)
    assert store.sql("SELECT count(*) AS n, count(DISTINCT run_id) AS ids FROM runs"
                     ).to_pylist() == [{"n": 100_000, "ids": 100_000}]
    assert len(store.runs(last=5)) == 5


# -- hardening: hand-written values, bad arguments, typos ----------------------------------------


def test_report_of_a_run_with_null_text_or_nan_values(tmp_path: Path) -> None:
    """Buckets and costs that are not finite numbers are left out of the report (as stats
    leaves them out of its samples); the report raised a TypeError on them."""
    d = tmp_path / "data"
    write_rows(d, [{"run_id": "base", "workflow_id": "w", "status": "succeeded",
                    "finished_at": "2026-05-01T10:00:00Z", "total_time_s": 10.0,
                    "wall_time_breakdown": {"think": 4.0, "act": 2.0}}])
    append_bytes(d / "runs_log" / "2026-05.jsonl", (
        b'{"run_id": "odd", "workflow_id": "w", "status": "failed", '
        b'"finished_at": "2026-05-02T10:00:00Z", "total_time_s": 20.0, '
        b'"wall_time_breakdown": {"think": null, "act": "slow", "settle": NaN, "load": 5}, '
        b'"cost_breakdown": {"llm": null, "gpu": "n/a", "net": 0.25}}\n'))
    store = RunStore(d)
    raw = store.get("odd")
    assert raw is not None and raw["wall_time_breakdown"] is not None
    assert raw["wall_time_breakdown"]["think"] is None  # get() returns the row as stored
    rep = store.report("odd")
    assert [(b.bucket, b.seconds, b.share, b.p50, b.n, b.verdict) for b in rep.buckets] == [
        ("load", 5.0, 0.25, None, 0, "")]
    assert (rep.unaccounted_s, rep.cost_total) == (15.0, 0.25)
    assert (rep.run["wall_time_breakdown"], rep.run["cost_breakdown"]) == (
        {"load": 5.0}, {"net": 0.25})
    assert rep.baseline is not None and rep.baseline.run_count == 1  # "base"
    doc = rep.to_json()
    assert doc["buckets"] == [{"bucket": "load", "seconds": 5.0, "share": 0.25, "p50": None,
                               "p95": None, "n": 0, "verdict": ""}]
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN left anywhere
    assert store.report().run["run_id"] == "odd"
    # stats reads the same line: only the finite numbers are samples
    r = store.stats("w", status="")
    assert {b.bucket: b.n for b in r.buckets} == {"think": 1, "act": 1, "load": 1}


def test_report_of_a_run_with_a_total_that_is_not_a_number(tmp_path: Path) -> None:
    d = tmp_path / "data"
    append_bytes(d / "runs_log" / "2026-05.jsonl", (
        b'{"run_id": "nan", "workflow_id": "w", "status": "failed", '
        b'"finished_at": "2026-05-02T10:00:00Z", "total_time_s": NaN, '
        b'"wall_time_breakdown": {"think": 3}}\n'))
    rep = RunStore(d).report("nan")
    assert rep.run["total_time_s"] is None
    assert [(b.bucket, b.seconds, b.share) for b in rep.buckets] == [("think", 3.0, None)]
    assert rep.unaccounted_s is None


@pytest.mark.parametrize("status", ["succeded", "SUCCEEDED", "running", " failed"])
def test_a_status_that_no_run_can_have_is_a_usage_error(store: RunStore, status: str) -> None:
    message = f"^status must be 'succeeded', 'failed' or '' \\(every status\\), got '{status}'$"
    with pytest.raises(UsageError, match=message):
        store.runs(status=status)
    with pytest.raises(UsageError, match=message):
        store.stats("wf", status=status)
    with pytest.raises(UsageError, match=message):
        stats("wf", data_dir=store.data_dir, status=status)


def test_library_errors_name_the_python_arguments(store: RunStore) -> None:
    with pytest.raises(UsageError, match=r"^last must be at least 1, got 0$"):
        store.stats("wf", last=0)
    with pytest.raises(UsageError, match=r"^last must be at least 1, got -1$"):
        store.runs("wf", last=-1)


def test_workflows_and_similar_workflows(store: RunStore) -> None:
    assert store.workflows() == ["wf", "wf2"]
    assert store.similar_workflows("wf") == []  # runs have it: no hint
    assert store.similar_workflows("wf3") == ["wf", "wf2"]  # closest first
    assert store.similar_workflows("w") == ["wf"]
    assert store.similar_workflows("deploy-nightly") == []  # nothing close


def test_stats_before_counts_each_run_by_its_winning_copy(tmp_path: Path) -> None:
    """``before`` applies after dedupe, like status: a run recorded again after the bound is
    not a run before it, even though an older copy is."""
    d = tmp_path / "data"
    write_rows(d, [
        {"run_id": "a", "workflow_id": "w", "status": "succeeded",
         "finished_at": "2026-04-01T10:00:00Z", "total_time_s": 1.0},
        {"run_id": "b", "workflow_id": "w", "status": "succeeded",
         "finished_at": "2026-04-02T10:00:00Z", "total_time_s": 2.0},
        {"run_id": "b", "workflow_id": "w", "status": "succeeded",  # b again, later
         "finished_at": "2026-05-03T10:00:00Z", "total_time_s": 2.5},
        {"run_id": "c", "workflow_id": "w", "status": "succeeded",
         "finished_at": "2026-05-01T10:00:00Z", "total_time_s": 3.0},
    ])
    # an undated run (the writer dates every row: by hand) is not "before" anything
    append_bytes(d / "runs_log" / "2026-05.jsonl",
                 b'{"run_id": "v", "workflow_id": "w", "status": "succeeded", '
                 b'"total_time_s": 9.0}\n')
    bound = utc("2026-05-02T00:00:00Z")
    for data in (d, None):
        if data is None:  # the same answers from Parquet parts
            compact(d, now=NOW + timedelta(days=30))
        r = stats("w", data_dir=d, before=bound)
        assert (r.run_count, r.total.p50) == (2, 2.0)  # a and c; b finished after the bound
        r = stats("w", data_dir=d, before=bound, last=1)
        assert (r.run_count, r.total.p50) == (1, 3.0)  # c, the newest before it
        r = stats("w", data_dir=d, before=utc("2026-04-02T10:00:00Z"))
        assert (r.run_count, r.total.p50) == (1, 1.0)  # strictly before: not b's old copy
        naive = stats("w", data_dir=d, before=datetime(2026, 5, 2))  # naive = UTC
        assert naive.run_count == 2
