"""The whole-history `stats` read in place (stats.whole, stats.order): the selection against
numpy over hostile columns (NULL, NaN, infinities, -0.0, ties, one value, several Arrow chunks,
sliced at any offset), and the in-place answer against the general path on a store with hostile rows
(buckets of other names, failed runs older than the window), for --buckets, --ci and every
status."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import append_bytes
from mantis_runs.compaction import compact
from mantis_runs.stats import engine, order
from mantis_runs.stats.engine import stats
from mantis_runs.stats.intervals import interval_ranks
from mantis_runs.stats.order import column_statistics, finite, order_statistics

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
HOSTILE = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False),
                    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1.5, 1.5]))


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.lists(HOSTILE, max_size=25), min_size=1, max_size=4),
       seed=st.integers(0, 2**32 - 1), ci=st.booleans())
def test_selection_is_numpys_over_hostile_columns(chunks: list[list[float | None]], seed: int,
                                                  ci: bool) -> None:
    column = pa.chunked_array([pa.array(c, pa.float64()) for c in chunks], pa.float64())
    at = int(np.random.default_rng(seed).integers(0, len(column) + 1))
    column = column.slice(at // 2, len(column) - at)  # chunks that start at an offset
    flat = [v for c in chunks for v in c][at // 2:at // 2 + len(column)]
    expected = [v for v in flat if v is not None and math.isfinite(v)]
    values = finite(column)
    assert sorted(values.tolist()) == sorted(expected)
    n, qs, cis = column_statistics(values, ci=ci)
    assert n == len(expected)
    if not expected:
        assert qs is None and cis is None
        return
    assert qs == [float(v) for v in np.percentile(np.array(expected), [50, 95, 99])]
    if ci:
        ordered = sorted(expected)
        ends = [interval_ranks(n, q) for q in (0.5, 0.95, 0.99)]
        assert cis == tuple((None if lo is None else ordered[lo],
                             None if hi is None else ordered[hi]) for lo, hi in ends)
    else:
        assert cis is None


@pytest.mark.parametrize("seed", range(4))
def test_order_statistics_of_any_ranks(seed: int) -> None:
    """Adjacent, repeated and isolated ranks, the first and the last, over many ties."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.lognormal(2, 1, 5000), 1)
    ranks = [0, 1, 2, 7, 8, 2500, 2501, 2502, 4998, 4999, 4999, int(rng.integers(0, 5000))]
    got = order_statistics(values.copy(), ranks)
    ordered = np.sort(values)
    assert got == {r: float(ordered[r]) for r in ranks}


@pytest.mark.parametrize("kind", ["lognormal", "sorted", "reversed", "ties", "periodic"])
def test_narrowed_selection_is_exact_or_gives_up(monkeypatch: pytest.MonkeyPatch,
                                                 kind: str) -> None:
    """Narrowing around the wanted ranks from a small sample with a tight margin: every answer
    is the sorted order's, and an unlucky sample gives up (None) rather than guess."""
    monkeypatch.setattr(order, "NARROW_FROM", 0)
    monkeypatch.setattr(order, "SAMPLE", 64)
    outcomes = set()
    for seed in range(30):
        rng = np.random.default_rng(seed)
        values = np.round(rng.lognormal(2, 1, 3000), 1)
        values = {"sorted": np.sort(values), "reversed": -np.sort(values),
                  "ties": np.round(values / 10) * 10,
                  "periodic": np.tile(np.arange(30.0), 100)}.get(kind, values)
        ranks = sorted({int(r) for r in rng.integers(0, 3000, 4)} | {0, 1499, 1500, 2999})
        ordered = np.sort(values)
        for margin in (1, 3, 40):
            monkeypatch.setattr(order, "MARGIN", margin)
            got = order.narrowed(values.copy(), ranks)
            outcomes.add(got is not None)
            if got is not None:
                assert got == {r: float(ordered[r]) for r in ranks}
            assert order_statistics(values.copy(), ranks) == {r: float(ordered[r])
                                                               for r in ranks}
    # it answers at the wide margin; at the tightest it gives up unless the sample is exact
    assert outcomes == ({True} if kind in ("sorted", "reversed") else {True, False})


def test_a_numpy_column_is_never_reordered() -> None:
    mine = np.array([3.0, 1.0, math.nan, 2.0])
    column_statistics(finite(mine), ci=True)
    assert mine[:2].tolist() == [3.0, 1.0] and mine[3] == 2.0


def line(i: int, breakdown: dict[str, float], *, status: str, total: float,
         month: str = "2026-03", other: dict[str, float] | None = None) -> bytes:
    row: dict[str, Any] = {
        "run_id": f"r{i:03d}", "workflow_id": "w", "status": status,
        "finished_at": f"{month}-{1 + i % 27:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "total_time_s": total, "wall_time_breakdown": {**breakdown, **(other or {})}}
    return json.dumps(row, allow_nan=True).encode() + b"\n"


def hostile_store(d: Path) -> None:
    """Compacted March and April (April late rows too), a checkpointed open May with a tail:
    NaN and infinite buckets, a bucket missing from most runs, ties, -0.0, one run with a
    bucket of another name, failed runs older than every succeeded one."""
    log = d / "runs_log"
    log.mkdir(parents=True)
    for i in range(60):
        status = "failed" if i < 3 or i % 7 == 0 else "succeeded"
        breakdown = {"think": float(i % 5), "act": [math.nan, math.inf, -0.0, 2.5][i % 4]}
        if i % 9 == 0:
            breakdown["load"] = float(i)
        month = ["2026-03", "2026-04", "2026-05"][i % 3]
        append_bytes(log / f"{month}.jsonl",
                     line(i, breakdown, status=status, total=float(i % 11), month=month,
                          other={"custom": 1.0 + i} if i == 31 else None))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    append_bytes(log / "2026-05.jsonl", line(90, {"think": 7.0}, status="succeeded",
                                             total=3.0, month="2026-05"))


def test_in_place_answers_as_the_general_path_on_hostile_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile_store(tmp_path)
    taken: list[bool] = []
    real = engine.whole_history
    monkeypatch.setattr(engine, "whole_history",
                        lambda *a, **k: taken.append((out := real(*a, **k)) is not None) or out)
    asks: list[dict[str, Any]] = [
        {}, {"status": ""}, {"status": "failed"}, {"ci": True},
        {"buckets": ["act", "custom", "nothing"], "ci": True}, {"since": "2026-04-01"}]
    answers = [stats("w", data_dir=tmp_path, last=10**6, now=NOW, **ask).to_json()
               for ask in asks]
    assert taken == [True] * len(asks)
    monkeypatch.setattr(engine, "whole_history", lambda *a, **k: None)
    for ask, got in zip(asks, answers, strict=True):
        assert stats("w", data_dir=tmp_path, last=10**6, now=NOW, **ask).to_json() == got, ask
    assert answers[0]["run_count"] == 61 - 3 - 9 + 1  # the failed: i < 3 and i % 7 == 0
    assert answers[4]["percentiles"]["custom"]["n"] == 1
