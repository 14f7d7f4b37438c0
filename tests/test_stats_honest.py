"""Honest percentiles in `stats`: n in every row, rough percentiles, `--ci` intervals, the
failure rate of the same window, and `--group-by`; scipy and numpy are the oracles."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from helpers import run_cli, write_rows
from mantis_runs.compaction import compact
from mantis_runs.errors import UsageError
from mantis_runs.log.record import format_timestamp
from mantis_runs.stats import engine, grouped_stats, stats
from mantis_runs.stats.intervals import interval_ranks, min_runs, rough
from mantis_runs.stats.order import intervals

NOW = datetime(2026, 5, 20, 12, 0, 0, tzinfo=UTC)


def scipy_interval(x: np.ndarray, p: float) -> tuple[float | None, float | None]:
    ci = sps.quantile_test(x, q=float(np.median(x)), p=p).confidence_interval(0.95)
    return (None if math.isnan(ci.low) else float(ci.low),
            None if math.isnan(ci.high) else float(ci.high))


# --------------------------------------------------------------------------------------------
# the arithmetic


def test_min_runs_are_the_documented_thresholds() -> None:
    assert (min_runs(0.5), min_runs(0.95), min_runs(0.99)) == (6, 72, 368)


@pytest.mark.parametrize("p", [0.5, 0.9, 0.95, 0.99])
def test_rough_is_exactly_where_scipys_interval_is_unbounded(p: float) -> None:
    x = np.arange(1.0, 401.0)
    for n in range(1, 401):
        low, high = scipy_interval(x[:n], p)
        assert rough(p, n) == (low is None or high is None), n


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=500),
       st.sampled_from([0.5, 0.95, 0.99]))
def test_intervals_equal_scipys_quantile_test(values: list[float], p: float) -> None:
    (got,) = intervals(pa.array(values, pa.float64()), quantiles=(p,))
    assert got == scipy_interval(np.array(values), p)


def test_interval_ranks_of_large_n_and_nulls_are_left_out() -> None:
    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(2, 1, 50_000), 3)
    with_nulls = pa.array([*x.tolist(), None, None])
    got = intervals(with_nulls)
    assert got == tuple(scipy_interval(x, p) for p in (0.5, 0.95, 0.99))
    assert interval_ranks(0, 0.5) == (None, None)


# --------------------------------------------------------------------------------------------
# through stats


def rows_of(n: int, *, wf: str = "w", failed_every: int = 0, model: str | None = None,
            start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        fin = NOW - timedelta(minutes=10 * i + 1)
        status = "failed" if failed_every and i % failed_every == 0 else "succeeded"
        r: dict[str, Any] = {"run_id": f"{wf}-{model}-{i}", "workflow_id": wf, "status": status,
                             "finished_at": format_timestamp(fin),
                             "total_time_s": 10.0 + (i * 7919 % 101) / 10.0,
                             "wall_time_breakdown": {"think": 1.0 + (i * 31 % 17) / 4.0}}
        if model is not None:
            r["model"] = model
        out.append(r)
    return out


def test_ci_equals_scipy_over_the_reported_runs(tmp_path: Path) -> None:
    rows = rows_of(150, failed_every=10)
    write_rows(tmp_path, rows)
    r = stats("w", data_dir=tmp_path, last=100, ci=True, now=NOW)
    chosen = [x for x in rows if x["status"] == "succeeded"][:100]  # newest first
    totals = np.array([x["total_time_s"] for x in chosen])
    assert r.total.ci == tuple(scipy_interval(totals, p) for p in (0.5, 0.95, 0.99))
    assert r.total.rough == ["p99"]  # 100 runs: p95 bounded (>= 72), p99 not (< 368)
    think = np.array([x["wall_time_breakdown"]["think"] for x in chosen])
    (b,) = r.buckets
    assert b.ci == tuple(scipy_interval(think, p) for p in (0.5, 0.95, 0.99))
    doc = r.to_json()["percentiles"]["total_time_s"]
    assert doc["ci"]["p95"] == list(r.total.ci[1]) and doc["ci"]["p99"][1] is None
    # without --ci nothing is computed, and the JSON has no "ci" key
    assert "ci" not in stats("w", data_dir=tmp_path, now=NOW).to_json()["percentiles"]["think"]


def test_failure_rate_window_starts_at_the_oldest_reported_run(tmp_path: Path) -> None:
    rows = rows_of(150, failed_every=10)  # i = 0, 10, ... failed; i = 0 is the newest
    write_rows(tmp_path, rows)
    r = stats("w", data_dir=tmp_path, last=20, now=NOW)
    # the 20 newest succeeded runs are i = 1..22 minus 10 and 20; the window holds i = 0..22
    assert r.failures is not None
    assert (r.failures.failed, r.failures.runs) == (3, 23)
    assert format_timestamp(r.failures.since) == rows[22]["finished_at"]
    # every status: the window is the reported runs themselves
    r = stats("w", data_dir=tmp_path, last=20, status="", now=NOW)
    assert r.failures is not None and (r.failures.failed, r.failures.runs) == (2, 20)
    # no run: no window
    assert stats("w", data_dir=tmp_path, since="2999-01-01", now=NOW).failures is None


@pytest.mark.parametrize("oldest_failed", [False, True])
def test_whole_history_and_general_path_agree_on_failures_and_intervals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oldest_failed: bool) -> None:
    """In place (compacted, unique run_ids), the failure counts come from the counting scan
    unless a run of another status is older than the window: then from stats_whole_failures."""
    rows = rows_of(400, failed_every=7 if oldest_failed else 0)
    if not oldest_failed:  # failures, all newer than the oldest succeeded run
        for r in rows[:300:5]:
            r["status"] = "failed"
    rows[-1]["status"] = "failed" if oldest_failed else "succeeded"
    write_rows(tmp_path, rows)
    compact(tmp_path, now=NOW + timedelta(days=60))
    taken: list[bool] = []
    real = engine.whole_history
    monkeypatch.setattr(engine, "whole_history",
                        lambda *a, **k: taken.append((out := real(*a, **k)) is not None) or out)
    whole_doc = stats("w", data_dir=tmp_path, last=10**6, ci=True, now=NOW).to_json()
    assert taken == [True]
    monkeypatch.setattr(engine, "whole_history", lambda *a, **k: None)
    assert stats("w", data_dir=tmp_path, last=10**6, ci=True, now=NOW).to_json() == whole_doc
    succeeded = [r for r in rows if r["status"] == "succeeded"]
    failed = len(rows) - len(succeeded)
    oldest = min(rows.index(r) for r in succeeded[-1:])
    in_window = rows[: oldest + 1]
    assert whole_doc["failures"] == {
        "since": succeeded[-1]["finished_at"],
        "failed": sum(r["status"] == "failed" for r in in_window), "runs": len(in_window),
        "rate": sum(r["status"] == "failed" for r in in_window) / len(in_window)}
    assert (whole_doc["failures"]["failed"] < failed) == oldest_failed


# --------------------------------------------------------------------------------------------
# --group-by


def grouped_store(tmp_path: Path) -> list[dict[str, Any]]:
    rows = (rows_of(60, model="big", failed_every=6) + rows_of(25, model="small", start=3)
            + rows_of(8, model=None, start=5))
    write_rows(tmp_path, rows)
    return rows


def test_group_by_splits_the_newest_runs(tmp_path: Path) -> None:
    rows = grouped_store(tmp_path)
    g = grouped_stats("w", "model", data_dir=tmp_path, last=1000, now=NOW)
    assert [(x.value, x.stats.run_count) for x in g.groups] == [
        ("big", 50), ("small", 25), (None, 8)]
    assert g.run_count == 83
    for group in g.groups:
        mine = [r for r in rows if r.get("model") == group.value
                and r["status"] == "succeeded"]
        totals = np.array([r["total_time_s"] for r in mine])
        assert [group.stats.total.p50, group.stats.total.p95, group.stats.total.p99] == [
            float(v) for v in np.percentile(totals, [50, 95, 99])]
        assert group.stats.total.n == len(mine)
    big = g.groups[0].stats.failures
    assert big is not None and (big.failed, big.runs) == (10, 60)
    # --last chooses the runs first, then splits them
    g = grouped_stats("w", "model", data_dir=tmp_path, last=10, now=NOW)
    assert sum(x.stats.run_count for x in g.groups) == 10
    newest = sorted((r for r in rows if r["status"] == "succeeded"),
                    key=lambda r: (r["finished_at"], r["run_id"]), reverse=True)[:10]
    assert {x.value: x.stats.run_count for x in g.groups if x.stats.run_count} == {
        m: sum(r.get("model") == m for r in newest) for m in {r.get("model") for r in newest}}


def test_group_by_rejects_other_names(tmp_path: Path) -> None:
    grouped_store(tmp_path)
    with pytest.raises(UsageError, match="cannot group by 'workflow_id'"):
        grouped_stats("w", "workflow_id", data_dir=tmp_path)
    code, _, err = run_cli("runs", "stats", "w", "--data-dir", str(tmp_path), "--group-by",
                           "x'; DROP TABLE runs; --")
    assert code == 2 and "Invalid value for '--group-by'" in err


@pytest.mark.parametrize("attribute", ["plan_signature", "profile_id", "tenant_id"])
def test_every_attribute_groups(tmp_path: Path, attribute: str) -> None:
    rows = rows_of(12)
    for i, r in enumerate(rows):
        r[attribute] = "odd" if i % 2 else "even"
    write_rows(tmp_path, rows)
    g = grouped_stats("w", attribute, data_dir=tmp_path, now=NOW)
    assert [(x.value, x.stats.run_count) for x in g.groups] == [("even", 6), ("odd", 6)]


# --------------------------------------------------------------------------------------------
# the CLI, exactly

T0 = datetime.now(UTC) - timedelta(hours=1)


def small_store(tmp_path: Path) -> None:
    rows = []
    for i in range(6):
        rows.append({"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded",
                     "finished_at": format_timestamp(T0 - timedelta(minutes=i)),
                     "total_time_s": 10.0 + i, "model": "m1" if i < 4 else "m2",
                     "wall_time_breakdown": {"think": 1.0 + i}})
    rows.append({"run_id": "f", "workflow_id": "wf", "status": "failed",
                 "finished_at": format_timestamp(T0), "total_time_s": 1.0, "model": "m2"})
    write_rows(tmp_path, rows)


def test_cli_table_with_ci(tmp_path: Path) -> None:
    small_store(tmp_path)
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(tmp_path), "--ci")
    assert (code, err) == (0, "")
    since = (T0 - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    assert out == (
        "Across last 6 succeeded runs of wf:\n"
        "\n"
        "bucket          p50          95% CI     p95      95% CI     p99      95% CI    n\n"
        "────────────────────────────────────────────────────────────────────────────────\n"
        "think          3.5s    [1.0s, 6.0s]   ~5.8s   [4.0s, ∞)   ~6.0s   [5.0s, ∞)    6\n"
        "────────────────────────────────────────────────────────────────────────────────\n"
        "total_time_s  12.5s  [10.0s, 15.0s]  ~14.8s  [13.0s, ∞)  ~14.9s  [14.0s, ∞)    6\n"
        "\n"
        f"Failure rate: 14.3% (1 of 7 runs finished since {since} UTC).\n"
        "~ rough: too few runs for a bounded 95% interval (p95 needs 72, p99 needs 368 runs).\n"
    )


def test_cli_group_by_text_and_json(tmp_path: Path) -> None:
    small_store(tmp_path)
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(tmp_path),
                             "--group-by", "model", "--bucket", "think")
    assert (code, err) == (0, "")
    since = (T0 - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    assert out == (
        "Across last 6 succeeded runs of wf, by model:\n"
        "\n"
        "model = m1: 4 runs\n"
        "\n"
        "bucket           p50     p95     p99    n\n"
        "─────────────────────────────────────────\n"
        "think          ~2.5s   ~3.8s   ~4.0s    4\n"
        "─────────────────────────────────────────\n"
        "total_time_s  ~11.5s  ~12.8s  ~13.0s    4\n"
        "\n"
        f"Failure rate: 0.0% (0 of 4 runs finished since {since} UTC).\n"
        "\n"
        "model = m2: 2 runs\n"
        "\n"
        "bucket           p50     p95     p99    n\n"
        "─────────────────────────────────────────\n"
        "think          ~5.5s   ~6.0s   ~6.0s    2\n"
        "─────────────────────────────────────────\n"
        "total_time_s  ~14.5s  ~14.9s  ~15.0s    2\n"
        "\n"
        f"Failure rate: 33.3% (1 of 3 runs finished since {since} UTC).\n"
        "\n"
        "~ rough: too few runs for a bounded 95% interval (p50 needs 6, p95 needs 72, "
        "p99 needs 368 runs).\n"
    )
    code, out, _ = run_cli("runs", "stats", "wf", "--data-dir", str(tmp_path),
                           "--group-by", "model", "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["group_by"], doc["run_count"]) == ("model", 6)
    assert [(g["value"], g["run_count"]) for g in doc["groups"]] == [("m1", 4), ("m2", 2)]
    assert doc["groups"][1]["failures"]["failed"] == 1
    assert doc["needed_runs"] == {"p50": 6, "p95": 72, "p99": 368}


def test_grouped_and_intervals_are_the_same_before_and_after_compaction(tmp_path: Path) -> None:
    rows = (rows_of(90, model="big", failed_every=6) + rows_of(40, model="small", start=2)
            + rows_of(9, start=4))
    for r in rows[::11]:  # a second copy, later, of some runs: the later copy wins
        write_rows(tmp_path, [{**r, "total_time_s": r["total_time_s"] + 100.0}])
    write_rows(tmp_path, rows)

    def answers() -> list[Any]:
        return [grouped_stats("w", "model", data_dir=tmp_path, last=last, ci=True, now=NOW)
                .to_json() for last in (7, 60, 10_000)] + [
            stats("w", data_dir=tmp_path, last=last, ci=True, status=status, now=NOW).to_json()
            for last in (7, 60, 10_000) for status in ("succeeded", "")]

    before = answers()
    compact(tmp_path, now=NOW + timedelta(days=60))
    assert answers() == before


def test_interval_ranks_are_scipy_stats_binomial_quantiles() -> None:
    """interval_ranks calls scipy.special's binomial ufuncs (scipy.stats costs a second to
    import): the ranks are scipy.stats.binom's, for small and very large n."""
    from scipy import stats as sps_

    for n in [*range(1, 1500), 10**5, 10**6 + 7, 3 * 10**6]:
        for p in (0.5, 0.95, 0.99):
            d = sps_.binom(n, p)
            low, high = int(d.ppf(0.025)) - 1, int(d.isf(0.025))
            assert interval_ranks(n, p) == ((low if low >= 0 else None),
                                            (high if high < n else None)), (n, p)
