"""`trend` read in place (analysis.trend_fast) against the general path (the engine's gathered,
deduplicated runs): the same TrendResult exactly, on hostile stores, and the in-place read is
taken where the proof holds (observed, so that a shortcut that silently never runs fails here).

Hostile: hand-written lines with NaN, infinite, -0.0, huge and tiny values, NULL and missing
buckets, a bucket of another name, a status that is neither succeeded nor failed, bad lines, a
late row in a compacted month (a live shard beside its part), a checkpointed live month with a
tail, empty days, a run before 1970, daily and weekly periods, every status; copies of a run
across months, in a part and in the live JSONL, and under another workflow keep the in-place
read off (the general path answers)."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_agreement as agreement
from helpers import append_bytes
from mantis_runs.analysis import trend_fast
from mantis_runs.analysis.trend import TrendResult, trend
from mantis_runs.compaction import compact

T = TypeVar("T")
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March and April closed, May live
HOSTILE = (1.0, 2.5, 2.5, -0.0, 0.0, 1e300, 5e-324, -3.0, math.nan, math.inf, -math.inf, None)


def line(run_id: str, when: str, *, status: str = "succeeded", total: Any = 1.0,
         breakdown: dict[str, Any] | None = None, wf: str = "w", **more: Any) -> bytes:
    row: dict[str, Any] = {"run_id": run_id, "workflow_id": wf, "status": status,
                           "finished_at": when, "total_time_s": total, **more}
    if breakdown is not None:
        row["wall_time_breakdown"] = breakdown
    return json.dumps(row).encode() + b"\n"  # NaN and Infinity as JSON5-style tokens


def at(day: int, i: int) -> str:
    """A finish time ``day`` days after 2026-03-01 (the i-th of that day)."""
    t = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=day, seconds=97 * i % 86_000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard(d: Path, when: str) -> Path:
    return d / "runs_log" / f"{when[:7]}.jsonl"


def hostile_store(d: Path, *, custom: bool = True) -> None:
    """March and April compacted, May checkpointed with a tail; days without runs; bad lines;
    a late April row after compaction; a run before 1970 (its month compacted too); models and
    error texts; a bucket of another name unless not ``custom``."""
    rng = np.random.default_rng(7)
    for i in range(700):
        day = int(rng.choice([*range(0, 20), *range(26, 62), *range(64, 79)]))
        when = at(day, i)
        status = ("failed", "weird", "succeeded", "succeeded", "succeeded")[i % 5]
        breakdown: dict[str, Any] = {"think": float(rng.lognormal(2, 1)),
                                     "act": HOSTILE[i % len(HOSTILE)]}
        if i % 3:
            breakdown["settle"] = float(np.round(rng.lognormal(1, 0.5), 1))  # ties
        if i % 50 == 7 and custom:
            breakdown["custom"] = 1.0 + i % 4
        if i % 97 == 5:
            breakdown["load"] = "slow"  # not a number: no value
        total = HOSTILE[i % 7] if i % 11 == 0 else float(rng.lognormal(3, 0.6))
        more = {"model": f"m{i % 3}", "error": f"Timeout after {i} s" if i % 4 else None}
        append_bytes(shard(d, when), line(f"r{i:04d}", when, status=status, total=total,
                                          breakdown=breakdown, **more))
        if i % 89 == 0:
            append_bytes(shard(d, when), b"garbage\n")
    append_bytes(d / "runs_log" / "1969-12.jsonl",
                 line("old", "1969-12-31T23:30:00Z", total=4.0, breakdown={"think": 1.0}))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    late = {"think": 2.0, **({"custom": 8.0} if custom else {})}
    append_bytes(shard(d, at(40, 1)), line("late-april", at(40, 9999), total=9.0,
                                           breakdown=late, error="late: boom 7"))
    append_bytes(shard(d, at(75, 1)), line("tail-may", at(75, 9998), total=3.0,
                                           breakdown={"think": 1.5}, error="tail 12")
                 + b'{"no_run_id": 1}\n')


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    hostile_store(d)
    return d


def observe_both(monkeypatch: pytest.MonkeyPatch, module: Any, reader: str,
                 call: Callable[[], T]) -> tuple[T, T, bool]:
    """(``call()`` with ``module``'s in-place read where proven, ``call()`` on the general path
    (``module.IN_PLACE`` False), whether the in-place read ``module.<reader>`` answered)."""
    taken: list[bool] = []
    real = getattr(module, reader)

    def observed(*a: Any, **k: Any) -> Any:
        out = real(*a, **k)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(module, reader, observed)
    fast = call()
    monkeypatch.setattr(module, "IN_PLACE", False)
    slow = call()
    monkeypatch.setattr(module, "IN_PLACE", True)
    return fast, slow, taken == [True]


def both(monkeypatch: pytest.MonkeyPatch, d: Path, **ask: Any,
         ) -> tuple[TrendResult, TrendResult, bool]:
    return observe_both(monkeypatch, trend_fast, "read_in_place",
                        lambda: trend("w", data_dir=d, now=NOW, **ask))


ASKS: list[dict[str, Any]] = [
    {"since": "2026-03-01"},
    {"since": "2026-03-01", "every": "1d", "status": "failed"},
    {"since": "2026-02-20", "every": "1w", "status": None},
    {"since": "2026-03-10", "every": "1d", "buckets": ["act", "custom", "nothing", "act",
                                                        "total_time_s", "load"]},
    {"since": "1969-12-01", "every": "1w"},
    {"since": "2026-05-19"},
]


@pytest.mark.parametrize("ask", ASKS, ids=[str(i) for i in range(len(ASKS))])
def test_in_place_is_the_general_paths_result(hostile: Path, monkeypatch: pytest.MonkeyPatch,
                                              ask: dict[str, Any]) -> None:
    fast, slow, taken = both(monkeypatch, hostile, **ask)
    assert taken
    assert fast == slow  # a zero percentile may be 0.0 on one path, -0.0 on the other (below)


def test_the_hostile_rows_are_there(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store holds what the comparisons are about (so that they are not vacuous)."""
    fast, _, taken = both(monkeypatch, hostile, since="1969-12-01", every="1d", status=None)
    assert taken
    names = [m.metric for m in fast.metrics]
    assert names == ["total_time_s", "act", "custom", "settle", "think"]
    assert fast.periods[0].isoformat() == "1969-12-31" and fast.total.n[0] == 1
    # a garbage line checkpointed with May and one in its tail; closed months' are quarantined
    assert fast.skipped_lines == {"2026-05.jsonl": 2}
    march = fast.periods.index(datetime(2026, 3, 21, tzinfo=UTC).date())
    assert fast.total.n[march] == 0 and fast.total.p50[march] is None  # an empty day
    act = fast.metrics[1]
    assert 0 < sum(act.n) < sum(fast.total.n)  # NaN, infinities and null are no values
    assert sum(fast.metrics[2].n) == 14 + 1  # custom: i % 50 == 7, and the late April row
    for wf in ("nope", "w"):  # no run at all; none in the window
        since = "2026-05-20T11:00:00" if wf == "w" else "2026-03-01"
        nothing, general, taken = observe_both(monkeypatch, trend_fast, "read_in_place", partial(
            trend, wf, data_dir=hostile, since=since, now=NOW))
        assert taken and nothing == general and nothing.empty


def test_a_copied_run_keeps_the_in_place_read_off(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A run in two months' parts, a part's run again in the live JSONL (the later copy wins
    and moves it to May), a run copied under another workflow: the general path answers, the
    same as ever; without them the in-place read does."""
    for d in (tmp_path / "plain", tmp_path / "two-parts"):
        for i in range(40):
            when = at(i % 70, i)
            append_bytes(shard(d, when), line(f"r{i}", when, total=float(i),
                                              breakdown={"think": float(i % 3)}))
    # r1 finished on March 2; a copy dated March 20 in April's shard: two parts hold it
    append_bytes(shard(tmp_path / "two-parts", at(40, 0)), line("r1", at(19, 0), total=99.0))
    for d in (tmp_path / "plain", tmp_path / "two-parts"):
        compact(d, now=NOW, checkpoint_min_bytes=0)
    fast, slow, taken = both(monkeypatch, tmp_path / "two-parts", since="2026-03-01")
    assert not taken and fast == slow
    d = tmp_path / "plain"
    fast, slow, taken = both(monkeypatch, d, since="2026-03-01", every="1w")
    assert taken and fast == slow
    counts = sum(fast.total.n)
    for copy in (line("r2", at(74, 0), total=50.0),  # a part's run again in the live JSONL
                 line("r3", at(10, 9), total=7.0, wf="other")):  # another workflow's copy
        append_bytes(shard(d, at(74, 0)), copy)
        fast, slow, taken = both(monkeypatch, d, since="2026-03-01", every="1w")
        assert not taken and fast == slow
    assert sum(fast.total.n) == counts - 1  # r3 is another workflow's run now


def test_detect_reads_the_runs_themselves(hostile: Path, monkeypatch: pytest.MonkeyPatch,
                                          ) -> None:
    fast, slow, taken = both(monkeypatch, hostile, since="2026-03-01", every="1d",
                             detect=True)
    assert not taken and fast == slow and fast.changes is not None


values = st.one_of(st.sampled_from(HOSTILE), st.floats(-1e6, 1e6), st.floats(0, 1e-300))


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(runs=st.lists(st.tuples(st.integers(0, 80), st.sampled_from(["succeeded", "failed"]),
                               values, values), min_size=1, max_size=60),
       every=st.sampled_from([None, "1d", "1w"]), status=st.sampled_from(["succeeded", None]))
def test_random_hostile_values_in_place_and_gathered(
        runs: list[tuple[int, str, Any, Any]], every: str | None, status: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-trend-fast-"))
    try:
        for i, (day, st_, total, think) in enumerate(runs):
            append_bytes(shard(d, at(day, i)), line(f"r{i}", at(day, i), status=st_,
                                                    total=total, breakdown={"think": think}))
        compact(d, now=NOW, checkpoint_min_bytes=0)
        fast, slow, taken = both(monkeypatch, d, since="2026-02-25", every=every,
                                 status=status)
        assert fast == slow
        parquet = [*d.glob("compacted/*/part-*.parquet"), *d.glob("checkpoints/*.parquet")]
        assert taken == bool(parquet)  # no Parquet file: nothing to read in place
    finally:
        shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=200, deadline=None)
@given(groups=st.lists(st.lists(st.one_of(st.sampled_from(HOSTILE), st.floats()), max_size=90),
                       min_size=1, max_size=5),
       seed=st.integers(0, 2**32 - 1))
def test_per_period_percentiles_are_numpys(groups: list[list[float | None]], seed: int) -> None:
    """Grouping.trend over shuffled rows of several periods (and rows of no period) against
    np.percentile of each period's finite values, bit for bit (ties, -0.0, subnormals, 1e300,
    NaN and infinities that are no values; p95 only from 72)."""
    rng = np.random.default_rng(seed)
    day = np.array([k for k, g in enumerate(groups) for _ in g] + [99] * 3, dtype=np.int64)
    values = np.array([math.nan if v is None else v for g in groups for v in g] + [1.0] * 3)
    order = rng.permutation(day.size)
    ids = np.arange(len(groups), dtype=np.int64)
    grouping = trend_fast.Grouping.of(day[order], np.ones(day.size, dtype=bool), ids, "1d")
    got = grouping.trend("m", values[order].copy())
    for k, g in enumerate(groups):
        finite = np.array([v for v in g if v is not None and math.isfinite(v)])
        assert got.n[k] == finite.size
        if not finite.size:
            assert got.p50[k] is None and got.p95[k] is None
            continue
        p50, p95 = (float(x) for x in np.percentile(finite, [50, 95]))
        # equal as numbers: which of -0.0 and 0.0 sorts first is the sort's (and np.percentile
        # of the same values in another order may give the other zero)
        assert got.p50[k] == p50 and (got.p95[k] == p95 if finite.size >= 72
                                      else got.p95[k] is None)


@pytest.mark.slow
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=agreement.copies, late=agreement.copies)
def test_agreements_hostile_copies(rows: list[tuple[Any, ...]], late: list[tuple[Any, ...]],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """test_agreement's hostile copies of a few run_ids (ties, NaN and missing totals, unusable
    finished_at, other workflows, rows outside their month): trend and tail in place where
    proven equal the general path, compacted and with late rows after the checkpoint."""
    from mantis_runs.analysis import runs_in_place
    from mantis_runs.analysis.tail import tail

    d = Path(tempfile.mkdtemp(prefix="mantis-trend-fast-"))
    try:
        agreement.write(d, rows)
        compact(d, now=agreement.NOW, checkpoint_min_bytes=0)
        for batch in ([], late):
            agreement.write(d, batch)
            for wf in agreement.WORKFLOWS:
                ask = {"data_dir": d, "since": "2026-03-01", "now": agreement.NOW}
                fast, slow, _ = observe_both(monkeypatch, trend_fast, "read_in_place", partial(
                    trend, wf, every="1d", status=None, **ask))
                assert fast == slow
                fast_t, slow_t, _ = observe_both(monkeypatch, runs_in_place, "tail_runs",
                                                 partial(tail, wf, **ask))
                assert fast_t == slow_t
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_several_data_dirs_read_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """trend, tail and advise take what ``sources_of`` takes: two data dirs holding half the
    runs each answer as one holding all of them (in place for trend and tail)."""
    from mantis_runs.analysis import runs_in_place
    from mantis_runs.analysis.advise import advise
    from mantis_runs.analysis.tail import tail

    one, halves = tmp_path / "one", [tmp_path / "even", tmp_path / "odd"]
    for i in range(400):
        when = at(i % 77, i)
        row = line(f"r{i}", when, total=float(10 + i % 37), breakdown={"think": float(i % 5)},
                   status="failed" if i % 9 == 0 else "succeeded", model=f"m{i % 2}")
        append_bytes(shard(one, when), row)
        append_bytes(shard(halves[i % 2], when), row)
    for d in (one, *halves):
        compact(d, now=NOW, checkpoint_min_bytes=0)
    ask: dict[str, Any] = {"since": "2026-03-01", "now": NOW}
    fast, slow, taken = observe_both(monkeypatch, trend_fast, "read_in_place",
                                     partial(trend, "w", data_dir=halves, **ask))
    assert taken and fast == slow == trend("w", data_dir=one, **ask)
    fast_t, slow_t, taken = observe_both(monkeypatch, runs_in_place, "tail_runs",
                                         partial(tail, "w", data_dir=halves, **ask))
    assert taken and fast_t == slow_t == tail("w", data_dir=one, **ask)
    assert fast_t.succeeded == 400 - 45
    assert advise("w", data_dir=halves) == advise("w", data_dir=one)


@pytest.mark.parametrize("ask", [{}, {"since": "2026-04-01"}, {"last": 50}])
def test_advise_in_place_is_the_general_paths_result(hostile: Path, ask: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """advise reads a whole window in place too (the run before 1970 and the undated
    none), but not the newest ``last`` runs."""
    from mantis_runs.analysis.advise import advise

    fast, slow, taken = observe_both(monkeypatch, trend_fast, "read_in_place",
                                     partial(advise, "w", data_dir=hostile, **ask))
    assert taken == ("last" not in ask) and fast == slow
    assert {b.metric for b in fast.buckets} == {"think", "act", "settle", "custom"}
    assert fast.total.n > (20 if ask.get("last") else 200)  # not vacuous


def bits(values: Any) -> list[str]:
    return [float(v).hex() for v in values]


def test_arrow_is_imported_ahead_only_for_an_in_place_read() -> None:
    """``arrow_ahead`` imports pyarrow on a helper thread, done when its block ends; not when
    the read cannot be in place (a fresh interpreter each)."""
    import subprocess
    import sys

    code = ("import sys; from mantis_runs.analysis.trend_fast import arrow_ahead\n"
            "with arrow_ahead({}):\n    pass\nprint('pyarrow' in sys.modules)")
    got = [subprocess.run([sys.executable, "-c", code.format(fast)], capture_output=True,
                          text=True, check=True).stdout.strip() for fast in (True, False)]
    assert got == ["True", "False"]
