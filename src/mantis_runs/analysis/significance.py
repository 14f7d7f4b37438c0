"""The statistics behind regression verdicts (numpy and scipy; imported only by `compare`).

Methods and their measured error rates are in ``../shared/notes/regression-stats.md`` of the
project's research notes; in short:

* the typical run (p50): a one-sided Mann-Whitney U test (scipy's asymptotic
  ``mannwhitneyu``, computed here with numpy: importing scipy.stats costs a second), the most
  powerful cheap test for a scale shift of a lognormal;
* the tail (p95): a bootstrap of the ratio of percentiles, drawn *exactly* from the Beta
  distribution of uniform order statistics instead of by resampling (the same distribution, in
  O(B) instead of O(n*B));
* honest percentiles: the distribution-free order-statistic interval
  (``scipy.stats.quantile_test``), unbounded below ``min_runs_for`` runs (for `stats --ci`; the
  verdicts use ``min_runs_for`` only);
* Holm's step-down adjustment across every test of one comparison.

Quantiles are numpy's default (linear interpolation between closest ranks, "type 7").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

#: z_{0.995} + z_{0.80}: a one-sided test at 0.5 % with 80 % power (the minimum detectable ratio).
_MDE_Z = 3.42
#: 1/Phi^-1(3/4): the MAD of a normal sample times this estimates its standard deviation.
_MAD_TO_SD = 1.4826


def min_runs_for(p: float, confidence: float = 0.95) -> int:
    """The fewest runs for which the two-sided order-statistic interval of the ``p`` quantile
    is bounded: n >= ln(alpha/2) / ln(max(p, 1-p)) (6 for p50, 72 for p95, 368 for p99)."""
    tail = max(p, 1.0 - p)
    return math.ceil(math.log((1.0 - confidence) / 2.0) / math.log(tail))


def quantile(sorted_x: Floats, p: float) -> float:
    """numpy's default percentile of a sorted sample (``np.quantile(x, p)``, bit for bit), NaN
    when empty or when the sample holds a NaN.

    Read from the two ranks it needs rather than by ``np.quantile``, which partitions a copy of
    the whole sample (a compare asks for about a hundred percentiles of 300,000 runs). numpy
    takes h = (n-1)*p, the values a and b of ranks floor(h) and floor(h)+1 and the weight
    t = h - floor(h) (both the last value, and t = h + 1, once h >= n-1), and returns
    a + (b-a)*t, or b - (b-a)*(1-t) when t >= 0.5 (its _lerp); tests/test_verdicts.py checks
    it against numpy.
    """
    n = sorted_x.size
    if n == 0 or math.isnan(sorted_x[-1]):
        return math.nan
    h = (n - 1) * p
    if h >= n - 1:
        low, high, t = n - 1, n - 1, h + 1
    else:
        low = math.floor(h)
        high, t = low + 1, h - low
    a, b = float(sorted_x[low]), float(sorted_x[high])
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@dataclass(frozen=True)
class Interval:
    low: float | None  # None: unbounded at this n
    high: float | None


def order_statistic_interval(x: Floats, p: float, confidence: float = 0.95) -> Interval:
    """The distribution-free interval of the ``p`` quantile (scipy's ``quantile_test``);
    an end is None where it is unbounded at this n."""
    from scipy import stats

    if x.size == 0:
        return Interval(None, None)
    ci = stats.quantile_test(x, q=float(np.median(x)), p=p).confidence_interval(confidence)
    low, high = float(ci.low), float(ci.high)
    return Interval(None if math.isnan(low) else low, None if math.isnan(high) else high)


def exact_bootstrap(sorted_x: Floats, p: float, draws: int,
                    rng: np.random.Generator) -> Floats:
    """``draws`` bootstrap replicates of numpy's ``p`` quantile of ``sorted_x``, as resampling
    with replacement would give them, without resampling.

    The k-th order statistic of a resample of n values is x[ceil(n*U)] (1-based) with U the
    k-th of n uniform order statistics, U ~ Beta(k, n-k+1); the next one is
    U + (1-U)*Beta(1, n-k). numpy's quantile interpolates between ranks k and k+1 with weight
    g = (n-1)*p - (k-1).
    """
    n = sorted_x.size
    h = (n - 1) * p
    k = math.floor(h) + 1  # 1-based rank of the lower neighbour
    g = h - (k - 1)
    u1 = rng.beta(k, n - k + 1, size=draws)
    lo = sorted_x[np.clip(np.ceil(n * u1).astype(np.int64), 1, n) - 1]
    if k >= n or g == 0.0:
        return np.asarray(lo, dtype=np.float64)
    u2 = u1 + (1.0 - u1) * rng.beta(1, n - k, size=draws)
    hi = sorted_x[np.clip(np.ceil(n * u2).astype(np.int64), 1, n) - 1]
    return np.asarray(lo + (hi - lo) * g, dtype=np.float64)


def block_bootstrap(days: Sequence[Floats], p: float, draws: int,
                    rng: np.random.Generator) -> Floats:
    """Bootstrap replicates of the ``p`` quantile when runs are clustered by day: whole days are
    resampled with replacement (their runs pooled), so day-to-day drift widens the spread."""
    out = np.empty(draws, dtype=np.float64)
    d = len(days)
    for i in range(draws):
        pick = rng.integers(0, d, size=d)
        out[i] = np.quantile(np.concatenate([days[j] for j in pick]), p)
    return out


@dataclass(frozen=True)
class RatioTest:
    """A percentile ratio current/baseline with its bootstrap interval and one-sided p-values."""

    ratio: float | None  # None when the baseline percentile is 0
    interval: Interval
    p_slower: float  # H1: the current percentile is larger
    p_faster: float


def ratio_test(base: Floats, cur: Floats, p: float, *, draws: int, rng: np.random.Generator,
               confidence: float = 0.95, base_days: Sequence[Floats] | None = None,
               cur_days: Sequence[Floats] | None = None) -> RatioTest:
    """The bootstrap test of Q_p(cur)/Q_p(base): exact order-statistic draws, or day blocks
    when ``base_days`` and ``cur_days`` are given. p-values are (1 + #{r* <= 1}) / (B + 1)."""
    qb, qc = quantile(base, p), quantile(cur, p)
    if base_days is not None and cur_days is not None:
        rb = block_bootstrap(base_days, p, draws, rng)
        rc = block_bootstrap(cur_days, p, draws, rng)
    else:
        rb = exact_bootstrap(base, p, draws, rng)
        rc = exact_bootstrap(cur, p, draws, rng)
    if qb <= 0.0:
        return RatioTest(None, Interval(None, None), 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 1e300 / 1e-300: inf
        r = rc / rb
    r = np.where(rb > 0, r, np.inf)
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(r, [a, 1.0 - a])
    slower = (1 + int(np.count_nonzero(r <= 1.0))) / (draws + 1)
    faster = (1 + int(np.count_nonzero(r >= 1.0))) / (draws + 1)
    return RatioTest(qc / qb, Interval(float(lo), float(hi)), slower, faster)


def mann_whitney(base: Floats, cur: Floats) -> tuple[float, float]:
    """One-sided Mann-Whitney U p-values (current slower, current faster) of two sorted
    samples without NaN, as
    ``scipy.stats.mannwhitneyu(cur, base, alternative=..., method="asymptotic")`` computes them
    (normal approximation with the tie and continuity corrections); 1.0 when the test says
    nothing (an empty side, or every value tied).

    Written here rather than imported: importing scipy.stats alone takes about a second, the
    whole budget of a `compare`; tests/test_verdicts.py checks it against scipy.
    """
    n1, n2 = cur.size, base.size
    if n1 == 0 or n2 == 0:
        return 1.0, 1.0
    # two sorted runs: the stable sort (timsort) merges them in linear time
    both = np.sort(np.concatenate([cur, base]), kind="stable")
    values, first, counts = _runs_of_equal(both)
    average_rank = first + (counts + 1) / 2.0
    r1 = float(np.sum(average_rank[np.searchsorted(values, cur)]))
    u1 = r1 - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    ties = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0.0:
        return 1.0, 1.0
    mu, sd = n1 * n2 / 2.0, math.sqrt(variance)
    slower = _normal_sf((u1 - mu - 0.5) / sd)
    faster = _normal_sf((n1 * n2 - u1 - mu - 0.5) / sd)
    return min(1.0, slower), min(1.0, faster)


def _runs_of_equal(sorted_x: Floats) -> tuple[Floats, npt.NDArray[np.intp],
                                               npt.NDArray[np.intp]]:
    """``np.unique(sorted_x, return_index=True, return_counts=True)`` of a sorted sample
    without NaN, without sorting it again: the distinct values, where each first appears and
    how often."""
    starts = np.empty(sorted_x.size, dtype=bool)
    starts[:1] = True
    np.not_equal(sorted_x[1:], sorted_x[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, sorted_x.size))
    return sorted_x[first], first, counts


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def robust_log_sd(x: Floats) -> float:
    """The spread of log values, as 1.4826 * MAD (0 when fewer than two positive values)."""
    pos = x[x > 0]
    if pos.size < 2:
        return 0.0
    logs = np.log(pos)
    return float(_MAD_TO_SD * np.median(np.abs(logs - np.median(logs))))


def mde_median(base: Floats, cur: Floats) -> float | None:
    """The smallest p50 ratio these sample sizes detect with 80 % power at a one-sided 0.5 %
    level (normal approximation on log values); None when it cannot be estimated."""
    if base.size < 2 or cur.size < 2:
        return None
    sd = robust_log_sd(np.concatenate([base, cur]))
    if sd == 0.0:
        return None
    return math.exp(_MDE_Z * sd * math.sqrt(1.0 / base.size + 1.0 / cur.size))


def mde_tail(base_draws: Floats, cur_draws: Floats) -> float | None:
    """The smallest percentile ratio detectable with 80 % power, from the bootstrap standard
    errors of the log percentile of each side."""
    if base_draws.size < 2 or np.any(base_draws <= 0) or np.any(cur_draws <= 0):
        return None
    se = math.hypot(float(np.std(np.log(base_draws))), float(np.std(np.log(cur_draws))))
    return math.exp(_MDE_Z * se)


def day_noise(days: Sequence[Floats]) -> float | None:
    """tau: the between-day standard deviation of log daily medians beyond what within-day
    sampling explains (None with fewer than three days of at least five runs)."""
    usable = [d[d > 0] for d in days]
    usable = [d for d in usable if d.size >= 5]
    if len(usable) < 3:
        return None
    medians = np.array([np.median(np.log(d)) for d in usable])
    # the sampling variance of a median of n lognormal logs: (pi/2) * sigma^2 / n
    within = np.mean([(math.pi / 2.0) * robust_log_sd(d) ** 2 / d.size for d in usable])
    between = float(np.var(medians, ddof=1)) - float(within)
    return math.sqrt(between) if between > 0 else 0.0
