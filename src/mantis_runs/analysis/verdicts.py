"""Regression verdicts from two samples per metric (baseline and current), as typed results.

For each metric (total_time_s, then each bucket) with n runs on each side:

1. ``too few runs`` when either side has fewer than ``min_runs``;
2. p50 is tested by a one-sided Mann-Whitney U (or, with day blocks, the day-block bootstrap of
   the p50 ratio); p95 by the exact bootstrap of the p95 ratio, only when both sides have at
   least ``min_runs_for(0.95)`` (72) runs: below that its interval is unbounded;
3. Holm's adjustment over every "slower" p-value of the comparison, and apart over every
   "faster" one;
4. ``regressed`` when, for p50 or p95, the adjusted p-value is at most ``alpha`` **and** the
   ratio is at least ``min_ratio`` **and** the change is at least ``min_delta_s``; ``improved``
   mirrors it; ``inconclusive`` when the ratio and the change pass the gate but the evidence
   does not; else ``unchanged``.

Missing means absent: a run without a bucket is not in that bucket's sample (as in `stats`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import significance as sig
from .significance import Floats, Interval

REGRESSED, INCONCLUSIVE, TOO_FEW, IMPROVED, UNCHANGED = (
    "regressed", "inconclusive", "too few runs", "improved", "unchanged")
#: How verdicts sort, worst first.
SEVERITY = {REGRESSED: 0, INCONCLUSIVE: 1, TOO_FEW: 2, IMPROVED: 3, UNCHANGED: 4}
P95 = 0.95


@dataclass(frozen=True)
class Options:
    """The knobs of a comparison (the CLI's defaults)."""

    min_ratio: float = 1.10
    min_delta_s: float = 0.25
    alpha: float = 0.01
    min_runs: int = 20
    draws: int = 10_000
    seed: int = 0
    block_days: bool = False


@dataclass(frozen=True)
class Sample:
    """One metric's values on one side, sorted, with the same values grouped by UTC day (for
    day blocks and the day-noise estimate)."""

    values: Floats
    days: Sequence[Floats] = ()

    @classmethod
    def of(cls, values: Sequence[float] | Floats,
           days: Sequence[Sequence[float]] | Sequence[Floats] = ()) -> Sample:
        arr = np.sort(np.asarray(values, dtype=np.float64))
        return cls(arr, tuple(np.asarray(d, dtype=np.float64) for d in days))


@dataclass(frozen=True)
class Quantile:
    """One percentile of one metric on both sides, and the test of their ratio."""

    p: float
    baseline: float | None
    current: float | None
    ratio: float | None
    interval: Interval
    p_slower: float | None  # Holm-adjusted; None when not tested
    p_faster: float | None
    rough: bool  # too few runs on a side for a bounded order-statistic interval


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    n_baseline: int
    n_current: int
    p50: Quantile
    p95: Quantile
    verdict: str

    @property
    def p_value(self) -> float | None:
        """The adjusted p-value behind the verdict: for each tested percentile, that of the
        direction it moved in (faster when its ratio is below 1); the smallest of them."""
        found = [q.p_faster if (q.ratio is not None and q.ratio < 1.0) else q.p_slower
                 for q in (self.p50, self.p95)]
        tested = [p for p in found if p is not None]
        return min(tested) if tested else None


@dataclass
class _Tests:
    """The raw one-sided p-values of one comparison, in the order they were made."""

    slower: list[float] = field(default_factory=list)
    faster: list[float] = field(default_factory=list)
    keys: list[tuple[str, float]] = field(default_factory=list)

    def add(self, metric: str, p: float, slower: float, faster: float) -> None:
        self.keys.append((metric, p))
        self.slower.append(slower)
        self.faster.append(faster)


def decide(samples: Mapping[str, tuple[Sample, Sample]], opts: Options,
           ) -> tuple[list[MetricVerdict], dict[str, Any]]:
    """Verdicts for every metric (worst first, total_time_s first of all), and the diagnostics
    (the minimum detectable ratios of total_time_s)."""
    rng = np.random.default_rng(opts.seed)
    tests = _Tests()
    ratios: dict[tuple[str, float], sig.RatioTest] = {}
    for metric, (b, c) in samples.items():
        if min(b.values.size, c.values.size) < opts.min_runs:
            continue
        for p in _tested(b, c):
            rt = _ratio(b, c, p, opts, rng)
            ratios[(metric, p)] = rt
            if p == 0.5 and not opts.block_days:
                slower, faster = sig.mann_whitney(b.values, c.values)
            else:
                slower, faster = rt.p_slower, rt.p_faster
            tests.add(metric, p, slower, faster)
    adj_slow = dict(zip(tests.keys, sig.holm(tests.slower), strict=True))
    adj_fast = dict(zip(tests.keys, sig.holm(tests.faster), strict=True))
    out = [_verdict(m, b, c, ratios, adj_slow, adj_fast, opts) for m, (b, c) in samples.items()]
    out.sort(key=lambda v: (v.metric != "total_time_s", SEVERITY[v.verdict], v.metric))
    return out, _diagnostics(samples, opts, rng)


def _tested(b: Sample, c: Sample) -> list[float]:
    enough = min(b.values.size, c.values.size) >= sig.min_runs_for(P95)
    return [0.5, P95] if enough else [0.5]


def _ratio(b: Sample, c: Sample, p: float, opts: Options,
           rng: np.random.Generator) -> sig.RatioTest:
    if opts.block_days and len(b.days) >= 2 and len(c.days) >= 2:
        return sig.ratio_test(b.values, c.values, p, draws=min(opts.draws, 2000), rng=rng,
                              base_days=b.days, cur_days=c.days)
    return sig.ratio_test(b.values, c.values, p, draws=opts.draws, rng=rng)


def _verdict(metric: str, b: Sample, c: Sample, ratios: Mapping[tuple[str, float], Any],
             adj_slow: Mapping[tuple[str, float], float],
             adj_fast: Mapping[tuple[str, float], float], opts: Options) -> MetricVerdict:
    quantiles = []
    for p in (0.5, P95):
        rt = ratios.get((metric, p))
        qb, qc = sig.quantile(b.values, p), sig.quantile(c.values, p)
        need = sig.min_runs_for(p)
        quantiles.append(Quantile(
            p=p, baseline=None if math.isnan(qb) else qb, current=None if math.isnan(qc) else qc,
            ratio=None if rt is None else rt.ratio,
            interval=Interval(None, None) if rt is None else rt.interval,
            p_slower=adj_slow.get((metric, p)), p_faster=adj_fast.get((metric, p)),
            rough=min(b.values.size, c.values.size) < need))
    p50, p95 = quantiles
    nb, nc = b.values.size, c.values.size
    if min(nb, nc) < opts.min_runs:
        verdict = TOO_FEW
    else:
        verdict = _label([q for q in quantiles if q.p_slower is not None], opts)
    return MetricVerdict(metric, nb, nc, p50, p95, verdict)


def _label(tested: list[Quantile], opts: Options) -> str:
    def slower_gate(q: Quantile) -> bool:
        return (q.ratio is not None and q.ratio >= opts.min_ratio
                and _delta(q) >= opts.min_delta_s)

    def faster_gate(q: Quantile) -> bool:
        return (q.ratio is not None and q.ratio <= 1.0 / opts.min_ratio
                and -_delta(q) >= opts.min_delta_s)

    if any(slower_gate(q) and (q.p_slower or 1.0) <= opts.alpha for q in tested):
        return REGRESSED
    if any(faster_gate(q) and (q.p_faster or 1.0) <= opts.alpha for q in tested):
        return IMPROVED
    if any(slower_gate(q) or faster_gate(q) for q in tested):
        return INCONCLUSIVE
    return UNCHANGED


def _delta(q: Quantile) -> float:
    if q.baseline is None or q.current is None:
        return 0.0
    return q.current - q.baseline


def _diagnostics(samples: Mapping[str, tuple[Sample, Sample]], opts: Options,
                 rng: np.random.Generator) -> dict[str, Any]:
    total = samples.get("total_time_s")
    if total is None:
        return {"mde_p50": None, "mde_p95": None, "day_noise": None}
    b, c = total
    mde95 = None
    if min(b.values.size, c.values.size) >= sig.min_runs_for(P95):
        draws = min(opts.draws, 2000)
        mde95 = sig.mde_tail(sig.exact_bootstrap(b.values, P95, draws, rng),
                             sig.exact_bootstrap(c.values, P95, draws, rng))
    return {"mde_p50": sig.mde_median(b.values, c.values), "mde_p95": mde95,
            "day_noise": sig.day_noise(b.days)}
