"""Regression verdicts: error rates over many fixed seeds with binomial bounds, numpy and scipy
as the oracles (../shared/notes/regression-stats.md, section 7, lists the tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mantis_runs.analysis import significance as sig
from mantis_runs.analysis.verdicts import (
    IMPROVED,
    INCONCLUSIVE,
    REGRESSED,
    TOO_FEW,
    UNCHANGED,
    Options,
    Sample,
    decide,
)

BUCKETS = ("think", "claude_extract", "settle", "claude_ground", "perceive", "load", "act",
           "claude_verify", "overhead")
MEDIANS = (90.0, 65.0, 28.0, 18.0, 11.0, 10.0, 6.0, 4.0, 2.0)


def history(rng: np.random.Generator, n: int, factor: dict[str, float] | None = None,
            tail: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """n runs: nine lognormal buckets (sigma 0.45) with a shared run factor (sigma 0.15);
    ``factor`` scales buckets; ``tail`` = (share, factor) slows that share of runs whole."""
    run = rng.lognormal(0.0, 0.15, n)
    out = {b: m * run * rng.lognormal(0.0, 0.45, n) * (factor or {}).get(b, 1.0)
           for b, m in zip(BUCKETS, MEDIANS, strict=True)}
    if tail is not None:
        slow = rng.random(n) < tail[0]
        out = {b: np.where(slow, v * tail[1], v) for b, v in out.items()}
    out["total_time_s"] = np.sum([out[b] for b in BUCKETS], axis=0)
    return out


def samples(base: dict[str, np.ndarray], cur: dict[str, np.ndarray]
            ) -> dict[str, tuple[Sample, Sample]]:
    return {m: (Sample.of(base[m]), Sample.of(cur[m])) for m in base}


def verdicts(base: dict[str, np.ndarray], cur: dict[str, np.ndarray],
             opts: Options | None = None) -> dict[str, str]:
    found, _ = decide(samples(base, cur), opts or Options())
    return {v.metric: v.verdict for v in found}


def binomial_upper(k: int, n: int, conf: float = 0.999) -> float:
    """A one-sided upper confidence bound of a rate seen k times in n (Clopper-Pearson)."""
    return float(stats.binomtest(k, n).proportion_ci(conf * 2 - 1).high)


def test_min_runs_table() -> None:
    assert [sig.min_runs_for(p) for p in (0.5, 0.9, 0.95, 0.99, 0.999)] == [6, 36, 72, 368, 3688]
    assert [sig.min_runs_for(p, 0.99) for p in (0.5, 0.9, 0.95, 0.99)] == [8, 51, 104, 528]


@pytest.mark.parametrize("seed", range(6))
def test_quantile_is_numpy_s_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 7, 20, 72, 101, int(rng.integers(200, 5000))):
        x = np.sort(np.round(rng.lognormal(0, 1, n), int(rng.integers(0, 4))) * rng.choice([-1, 1]))
        for p in (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0, float(rng.random())):
            want = float(np.quantile(x, p))
            got = sig.quantile(x, p)
            assert got == want and math.copysign(1, got) == math.copysign(1, want), (n, p)
    assert math.isnan(sig.quantile(np.array([]), 0.5))
    assert math.isnan(sig.quantile(np.array([1.0, np.nan]), 0.5))
    assert sig.quantile(np.array([-0.0]), 0.95) == 0.0
    assert math.copysign(1, sig.quantile(np.array([-0.0]), 0.95)) == math.copysign(
        1, float(np.quantile(np.array([-0.0]), 0.95)))


def test_runs_of_equal_values_are_numpy_s_unique() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(np.round(rng.lognormal(0, 1, 5000), 1))
    got = sig._runs_of_equal(x)
    want = np.unique(x, return_index=True, return_counts=True)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    assert [a.size for a in sig._runs_of_equal(np.array([]))] == [0, 0, 0]
    assert [a.tolist() for a in sig._runs_of_equal(np.array([2.0]))] == [[2.0], [0], [1]]


def test_order_statistic_interval_is_scipys() -> None:
    rng = np.random.default_rng(1)
    for n, p in ((50, 0.5), (80, 0.95), (500, 0.99), (30, 0.95)):
        x = rng.lognormal(0, 0.45, n)
        ours = sig.order_statistic_interval(x, p)
        ci = stats.quantile_test(x, q=0.0, p=p).confidence_interval(0.95)
        assert ours.low == (None if math.isnan(ci.low) else ci.low)
        assert ours.high == (None if math.isnan(ci.high) else ci.high)
    assert sig.order_statistic_interval(rng.lognormal(0, 1, 30), 0.95).high is None  # n < 72


def test_exact_bootstrap_matches_resampling() -> None:
    rng = np.random.default_rng(7)
    x = np.sort(rng.lognormal(0, 0.45, 200))
    for p in (0.5, 0.95, 0.99):
        exact = sig.exact_bootstrap(x, p, 20_000, rng)
        brute = np.quantile(rng.choice(x, size=(20_000, x.size), replace=True), p, axis=1)
        for q in (0.01, 0.5, 0.99):
            a, b = np.quantile(exact, q), np.quantile(brute, q)
            assert abs(a - b) <= 0.01 * b, (p, q, a, b)


def test_exact_bootstrap_picks_ranks_like_the_binomial() -> None:
    # the rank of the resample's k-th order statistic: P(rank <= j) = P(Bin(n, j/n) >= k)
    rng = np.random.default_rng(3)
    n, p = 40, 0.5
    x = np.arange(1.0, n + 1)  # value = rank
    draws = sig.exact_bootstrap(x, 0.0 + (n // 2 - 1) / (n - 1), 40_000, rng)  # g = 0: a rank
    ranks = draws.astype(int)
    k = n // 2
    expected = np.array([stats.binom.sf(k - 1, n, j / n) - stats.binom.sf(k - 1, n, (j - 1) / n)
                         for j in range(1, n + 1)])
    observed = np.bincount(ranks, minlength=n + 1)[1:]
    keep = expected * ranks.size >= 5
    chi = stats.chisquare(observed[keep], expected[keep] / expected[keep].sum() * observed[keep]
                          .sum())
    assert chi.pvalue > 0.001
    assert p == 0.5


def test_holm_against_a_hand_computed_example() -> None:
    assert sig.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert sig.holm([]) == []
    assert sig.holm([0.9, 0.8]) == [1.0, 1.0]  # 2 * 0.8 is capped at 1; then monotone


def test_a_planted_slowdown_is_found_in_95_percent_of_seeds() -> None:
    found = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        v = verdicts(history(rng, 300), history(rng, 300, factor={"think": 1.3}))
        found += v["think"] == REGRESSED
    assert found >= 95, found


def test_null_data_rarely_regresses() -> None:
    alarms = 0
    seeds = 400
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        v = verdicts(history(rng, 200), history(rng, 200))
        alarms += any(x == REGRESSED for x in v.values())
    assert alarms / seeds <= 0.02, alarms


def test_a_tail_only_slowdown_is_caught_by_p95_not_p50() -> None:
    rng = np.random.default_rng(42)
    base, cur = history(rng, 2000), history(rng, 2000, tail=(0.10, 2.0))
    found, _ = decide(samples(base, cur), Options())
    total = next(v for v in found if v.metric == "total_time_s")
    assert total.verdict == REGRESSED
    assert total.p95.p_slower is not None and total.p95.p_slower <= 0.01
    assert total.p95.ratio is not None and total.p95.ratio >= 1.10
    assert total.p50.ratio is not None and total.p50.ratio < 1.10  # the gate: p50 moved ~5 %


def test_the_gates_hold() -> None:
    rng = np.random.default_rng(5)
    v = verdicts(history(rng, 5000), history(rng, 5000, factor={b: 1.05 for b in BUCKETS}))
    assert v["total_time_s"] == UNCHANGED  # significant at n = 5000, but under --min-ratio
    rng = np.random.default_rng(6)
    v = verdicts(history(rng, 300), history(rng, 300, factor={"think": 0.7}))
    assert v["think"] == IMPROVED
    # a big ratio on a tiny bucket is under --min-delta-s: 20 ms -> 30 ms
    small = {"tiny": np.full(300, 0.02) * np.random.default_rng(1).lognormal(0, 0.1, 300)}
    bigger = {"tiny": np.full(300, 0.03) * np.random.default_rng(2).lognormal(0, 0.1, 300)}
    assert verdicts(small, bigger)["tiny"] == UNCHANGED


def test_too_few_runs_and_rough_percentiles() -> None:
    rng = np.random.default_rng(8)
    found, _ = decide(samples(history(rng, 200), history(rng, 10)), Options())
    assert all(v.verdict == TOO_FEW for v in found)
    found, _ = decide(samples(history(rng, 50), history(rng, 50)), Options())
    total = found[0]
    assert total.metric == "total_time_s" and total.p95.rough and total.p95.p_slower is None
    assert not total.p50.rough and total.p50.p_slower is not None


def test_inconclusive_when_the_ratio_passes_but_the_evidence_does_not() -> None:
    rng = np.random.default_rng(11)
    v = verdicts(history(rng, 25), history(rng, 25, factor={"think": 1.2}),
                 Options(min_runs=20))
    assert v["think"] in (INCONCLUSIVE, REGRESSED)
    counts = {INCONCLUSIVE: 0, REGRESSED: 0}
    for seed in range(30):
        rng = np.random.default_rng(500 + seed)
        got = verdicts(history(rng, 25), history(rng, 25, factor={"think": 1.25}))["think"]
        if got in counts:
            counts[got] += 1
    assert counts[INCONCLUSIVE] > 0


@pytest.mark.parametrize("values", [
    np.full(100, 3.0), np.zeros(100), np.repeat([1.0, 2.0], 50),
])
def test_constant_zero_and_tied_buckets(values: np.ndarray) -> None:
    v = verdicts({"b": values}, {"b": values.copy()})
    assert v["b"] == UNCHANGED


def test_minimum_detectable_ratio_matches_the_notes() -> None:
    # sigma 0.45: x1.63 at n = 20, x1.36 at 50, x1.24 at 100 (the notes' table); samples laid
    # on the lognormal's quantiles, so that their spread is sigma itself
    for n, expected in ((20, 1.63), (50, 1.36), (100, 1.24)):
        x = np.exp(0.45 * stats.norm.ppf((np.arange(n) + 0.5) / n))
        got = sig.mde_median(x, x.copy())
        assert got is not None and abs(got - expected) < 0.05, (n, got)


def daily(rng: np.random.Generator, days: int, per_day: int, tau: float) -> list[np.ndarray]:
    return [rng.lognormal(rng.normal(0, tau), 0.45, per_day) * 100 for _ in range(days)]


def test_day_noise_is_estimated_and_day_blocks_keep_false_alarms_low() -> None:
    rng = np.random.default_rng(2)
    assert (sig.day_noise(daily(rng, 28, 30, 0.0)) or 0.0) < 0.10
    assert (sig.day_noise(daily(rng, 28, 30, 0.2)) or 0.0) >= 0.10
    alarms_plain = alarms_block = 0
    seeds = 60
    for seed in range(seeds):
        rng = np.random.default_rng(900 + seed)
        b_days, c_days = daily(rng, 21, 30, 0.2), daily(rng, 7, 30, 0.2)
        b = Sample.of(np.concatenate(b_days), b_days)
        c = Sample.of(np.concatenate(c_days), c_days)
        plain, _ = decide({"total_time_s": (b, c)}, Options())
        block, _ = decide({"total_time_s": (b, c)}, Options(block_days=True, draws=1000))
        alarms_plain += plain[0].verdict == REGRESSED
        alarms_block += block[0].verdict == REGRESSED
    assert alarms_plain > alarms_block  # drift fools the run-level tests, not the day blocks
    assert binomial_upper(alarms_block, seeds) <= 0.15 and alarms_block / seeds <= 0.03
