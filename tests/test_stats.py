"""`stats` against a numpy oracle, on real files read by real DuckDB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import assert_matches, oracle, write_rows
from mantis_runs.compaction import compact
from mantis_runs.errors import NoRunLog
from mantis_runs.log.record import format_timestamp
from mantis_runs.stats.engine import Collector, stats

NOW = datetime(2026, 5, 20, 12, 0, 0, tzinfo=UTC)
BUCKETS = ["think", "act", "load", "settle", "b'; DROP TABLE x; --", "ünï\"cødé"]
WORKFLOWS = ["wf-a", "wf-b", "it's \"quoted\"'; DROP TABLE runs; --", "流程-β"]

ALL = ["p50", "p95", "p99"]  # rough at n < 6


def row(run_id: str, wf: str, fin: datetime, total: float, breakdown: dict[str, float],
        status: str = "succeeded") -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": wf, "status": status,
            "finished_at": format_timestamp(fin), "total_time_s": total,
            "wall_time_breakdown": breakdown}


values = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**6),
)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=40))
    # a small pool of instants makes ties in finished_at common
    instants = draw(st.lists(st.integers(min_value=0, max_value=95 * 86400), min_size=1,
                             max_size=12))
    rows = []
    for i in range(n):
        bd = draw(st.dictionaries(st.sampled_from(BUCKETS), values, max_size=len(BUCKETS)))
        rows.append(row(f"r{i:04d}", draw(st.sampled_from(WORKFLOWS)),
                        NOW - timedelta(seconds=draw(st.sampled_from(instants))),
                        draw(values), bd, draw(st.sampled_from(["succeeded", "failed"]))))
    # Duplicated run_ids: exact copies (a retried append), or a later copy of the same run with
    # another status and breakdown (a run recorded again); the later copy must win everywhere.
    for _ in range(draw(st.integers(0, 6)) if rows else 0):
        orig = draw(st.sampled_from(rows))
        if draw(st.booleans()):
            rows.append(dict(orig))
        else:
            later = datetime.fromisoformat(str(orig["finished_at"])) + timedelta(
                seconds=draw(st.integers(1, 40 * 86400)))
            rows.append(row(str(orig["run_id"]), str(orig["workflow_id"]), later,
                            draw(values), draw(st.dictionaries(st.sampled_from(BUCKETS), values,
                                                              max_size=3)),
                            draw(st.sampled_from(["succeeded", "failed"]))))
    return draw(st.permutations(rows))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=histories(), wf=st.sampled_from(WORKFLOWS), last=st.integers(1, 45),
       status=st.sampled_from(["succeeded", "failed", ""]),
       since_days=st.one_of(st.none(), st.integers(1, 100)),
       buckets=st.one_of(st.none(), st.lists(st.sampled_from(BUCKETS), min_size=1, max_size=3)))
def test_stats_matches_numpy(tmp_path: Path, rows: list[dict[str, Any]], wf: str, last: int,
                             status: str, since_days: int | None,
                             buckets: list[str] | None) -> None:
    d = tmp_path / uuid.uuid4().hex
    write_rows(d, rows)
    since = NOW - timedelta(days=since_days) if since_days else None
    result = stats(wf, data_dir=d, last=last, status=status, buckets=buckets,
                   since=since).to_json()
    expected = oracle(rows, wf, last=last, status=status or None, since=since, buckets=buckets)
    assert_matches(result, expected)
    if buckets:  # a requested bucket is always reported, with n=0 when no run has it
        assert set(buckets) <= set(result["percentiles"])


def test_one_and_two_runs(tmp_path: Path) -> None:
    write_rows(tmp_path, [row("a", "w", NOW, 10.0, {"think": 4.0})])
    r = stats("w", data_dir=tmp_path).to_json()
    assert r["run_count"] == 1
    assert r["percentiles"]["think"] == {"p50": 4.0, "p95": 4.0, "p99": 4.0, "n": 1, "rough": ALL}
    write_rows(tmp_path, [row("b", "w", NOW, 20.0, {"think": 5.0})])
    r = stats("w", data_dir=tmp_path).to_json()
    # p50 of two values is their midpoint; p95 = 10 + 0.95 * 10
    assert r["percentiles"]["total_time_s"] == {"p50": 15.0, "p95": 19.5, "p99": 19.9, "n": 2,
                                                "rough": ALL}
    assert r["percentiles"]["think"] == {"p50": 4.5, "p95": 4.95, "p99": 4.99, "n": 2, "rough": ALL}


def test_missing_bucket_is_absent_not_zero(tmp_path: Path) -> None:
    write_rows(tmp_path, [row("a", "w", NOW, 10, {"think": 4.0, "act": 1.0}),
                          row("b", "w", NOW, 10, {"think": 6.0}),
                          row("c", "w", NOW, 10, {"think": 8.0})])
    r = stats("w", data_dir=tmp_path).to_json()
    assert r["percentiles"]["act"] == {"p50": 1.0, "p95": 1.0, "p99": 1.0, "n": 1, "rough": ALL}
    assert r["percentiles"]["think"]["n"] == 3


def test_last_takes_newest_with_run_id_tiebreak(tmp_path: Path) -> None:
    t = NOW - timedelta(hours=1)
    write_rows(tmp_path, [row("a", "w", t, 1, {}), row("c", "w", t, 3, {}),
                          row("b", "w", t, 2, {}), row("z", "w", t - timedelta(days=40), 9, {})])
    r = stats("w", data_dir=tmp_path, last=2).to_json()
    assert r["run_count"] == 2
    assert r["percentiles"]["total_time_s"]["p50"] == 2.5  # runs c and b


def test_duplicate_run_id_counts_once(tmp_path: Path) -> None:
    write_rows(tmp_path, [row("a", "w", NOW, 10, {"think": 1.0})] * 3
               + [row("b", "w", NOW, 20, {"think": 2.0})])
    r = stats("w", data_dir=tmp_path).to_json()
    assert r["run_count"] == 2
    assert r["percentiles"]["think"]["p50"] == 1.5


def test_last_stops_reading_older_months(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Older months compacted: their parts' footers prove they hold only older rows, so a small
    # --last reads the newest month alone. (JSONL shards prove nothing and are always read:
    # test_rows_outside_their_month_are_found.)
    rows = [row(f"r{m}-{i}", "w", NOW - timedelta(days=31 * m, seconds=i), m, {})
            for m in range(3) for i in range(5)]
    write_rows(tmp_path, rows)
    compact(tmp_path, now=NOW)
    read: list[list[str]] = []
    real = Collector.collect_parquet

    def spy(self: Collector, files: list[str], **kw: Any) -> None:
        read.append([Path(f).parent.name for f in files])
        real(self, files, **kw)

    monkeypatch.setattr(Collector, "collect_parquet", spy)
    r = stats("w", data_dir=tmp_path, last=5)
    assert r.run_count == 5 and r.total.p99 == 0 and read == []  # the live shard alone
    r = stats("w", data_dir=tmp_path, last=6)
    newest_part = f"{NOW - timedelta(days=31):%Y-%m}"
    assert r.run_count == 6 and {m for files in read for m in files} == {newest_part}
    read.clear()
    r = stats("w", data_dir=tmp_path, last=100)
    assert r.run_count == 15 and len({m for files in read for m in files}) == 2


def test_rows_outside_their_month_are_found(tmp_path: Path) -> None:
    # A runtime that shards by local date: an October (UTC) row in the November shard, and a
    # November (UTC) row in the October shard. The newest two by finished_at are b and d.
    nov = tmp_path / "runs_log" / "2026-11.jsonl"
    octo = tmp_path / "runs_log" / "2026-10.jsonl"
    nov.parent.mkdir(parents=True)
    line = ('{{"run_id": "{}", "workflow_id": "w", "status": "succeeded", '
            '"finished_at": "{}", "total_time_s": {}}}\n')
    nov.write_text(line.format("a", "2026-11-01T00:30:00+02:00", 75.0)
                   + line.format("b", "2026-11-02T00:00:00Z", 50.0))
    octo.write_text(line.format("c", "2026-10-20T00:00:00Z", 10.0)
                    + line.format("d", "2026-10-31T23:30:00-02:00", 58.0))
    r = stats("w", data_dir=tmp_path, last=2)
    assert (r.run_count, r.total.p50) == (2, float(np.percentile([50.0, 58.0], 50)))


def test_a_run_without_finished_at_ranks_after_older_dated_runs(tmp_path: Path) -> None:
    # A hand-written line with no finished_at in the newest shard: it ranks after every dated
    # run (NULLS LAST), so it must not stop the reader before the older months are read.
    write_rows(tmp_path, [row("old1", "wf-a", NOW - timedelta(days=40), 7.0, {"act": 1.0}),
                          row("old2", "wf-a", NOW - timedelta(days=41), 8.0, {"act": 2.0})])
    shard = tmp_path / "runs_log" / f"{NOW:%Y-%m}.jsonl"
    shard.write_bytes(b'{"run_id": "undated", "workflow_id": "wf-a", "status": "succeeded", '
                      b'"total_time_s": 99.0}\n')
    assert stats("wf-a", data_dir=tmp_path, last=1).total.p50 == 7.0
    two = stats("wf-a", data_dir=tmp_path, last=2)
    assert (two.run_count, two.total.p50) == (2, 7.5)
    three = stats("wf-a", data_dir=tmp_path, last=3)
    assert (three.run_count, three.total.p99) == (3, float(np.percentile([7.0, 8.0, 99.0], 99)))


def test_empty_and_missing_data_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "runs_log").mkdir(parents=True)
    r = stats("w", data_dir=empty)
    assert r.run_count == 0 and r.buckets == [] and r.total.p50 is None
    # a data dir that does not exist is a mistake, not an empty store (hardening issue, item 13)
    with pytest.raises(NoRunLog, match="does not exist"):
        stats("w", data_dir=tmp_path / "nothing-here")


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_hostile_workflow_ids_and_buckets(tmp_path: Path, wf: str) -> None:
    # (one run_id per workflow and run: a run_id under two workflows is one run)
    rows = [row(f"{wf}-{w}-{i}", w, NOW - timedelta(minutes=i), float(i), {BUCKETS[4]: float(i),
                                                                  BUCKETS[5]: 2.0 * i})
            for i in range(1, 6) for w in WORKFLOWS]
    write_rows(tmp_path, rows)
    r = stats(wf, data_dir=tmp_path, buckets=[BUCKETS[4], BUCKETS[5]]).to_json()
    assert_matches(r, oracle(rows, wf, buckets=[BUCKETS[4], BUCKETS[5]]))
    assert r["run_count"] == 5
    # the shards are untouched by any "injection"
    assert sum(1 for _ in (tmp_path / "runs_log").glob("*.jsonl")) == 1


def test_mantis_quantile_macro_skips_missing_values_like_stats() -> None:
    from mantis_runs.db.connection import connect

    con = connect()
    got = con.execute("SELECT mantis_quantile([3.0, NULL, 1.0, 'NaN'::DOUBLE, 2.0, "
                      "'inf'::DOUBLE], 0.95)").fetchone()
    assert got is not None and got[0] == float(np.percentile([1.0, 2.0, 3.0], 95))
    assert con.execute("SELECT mantis_quantile([]::DOUBLE[], 0.5)").fetchone() == (None,)


def test_out_of_memory_retries_with_a_larger_limit(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.errors import MantisError
    from mantis_runs.stats import engine as query
    from mantis_runs.stats import plan

    rows = [row(f"r{i}", "wf-a", NOW - timedelta(minutes=i), float(i), {"think": float(i)})
            for i in range(50)]
    write_rows(tmp_path, rows)
    expected = stats("wf-a", data_dir=tmp_path).to_json()
    tried: list[str] = []
    real_connect = query.connect

    def spy(**kw: Any) -> Any:
        tried.append(kw["memory_limit"])
        return real_connect(**kw)

    monkeypatch.setattr(query, "connect", spy)
    monkeypatch.setattr(plan, "QUERY_MEMORY_LIMIT", "1MB")  # far too small for a JSON scan
    monkeypatch.setattr(plan, "MEMORY_LIMIT_STEPS", ("1MB ", "256MB"))
    assert stats("wf-a", data_dir=tmp_path).to_json() == expected
    assert tried == ["1MB", "1MB ", "256MB"]  # each step in turn, until one is enough
    monkeypatch.setattr(plan, "MEMORY_LIMIT_STEPS", ("1MB ",))
    with pytest.raises(MantisError, match="Out of Memory"):
        stats("wf-a", data_dir=tmp_path)
