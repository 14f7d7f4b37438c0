"""How far a percentile over n runs can be trusted: the distribution-free interval.

The 95 % interval of the p quantile from n runs is a pair of order statistics (the ranks a
Binomial(n, p) count puts 2.5 % beyond on each side), whatever the distribution of run times:
scipy's ``quantile_test(...).confidence_interval()``. An end is unbounded while the extreme
order statistic is still inside the 2.5 % tail: the top end of p95 until p**n <= 2.5 %, that is
n >= 72, the top end of p99 until n >= 368, and the bottom end of p50 until n >= 6. A percentile
reported from fewer runs is *rough*: it is the right number for these runs, but the next runs
may move it anywhere above (or below).

``min_runs`` and ``rough`` are arithmetic (no scipy); ``interval_ranks`` uses scipy's binomial
quantiles, so that the interval is the one scipy's quantile_test gives, bit for bit: the very
functions ``scipy.stats.binom.ppf``/``isf`` call (``scipy.special``'s boost ufuncs), since
importing ``scipy.stats`` costs a cold process about 0.6 s more than ``scipy.special`` does.
"""

from __future__ import annotations

import math
from typing import Any

#: The confidence of every interval `stats` reports (two-sided).
CONFIDENCE = 0.95


def min_runs(p: float, confidence: float = CONFIDENCE) -> int:
    """The fewest runs for which both ends of the ``confidence`` interval of the ``p`` quantile
    are order statistics (bounded): the smallest n with max(p, 1-p)**n < (1-confidence)/2."""
    tail = (1.0 - confidence) / 2.0
    worst = max(p, 1.0 - p)
    n = max(1, math.ceil(math.log(tail) / math.log(worst)))
    while worst**n >= tail:  # guard the rounding of the logarithms
        n += 1
    while n > 1 and worst ** (n - 1) < tail:
        n -= 1
    return n


def rough(p: float, n: int, confidence: float = CONFIDENCE) -> bool:
    """Whether the ``p`` percentile of ``n`` runs has an unbounded interval (too few runs)."""
    return n < min_runs(p, confidence)


def interval_ranks(n: int, p: float,
                   confidence: float = CONFIDENCE) -> tuple[int | None, int | None]:
    """The 0-based ranks, in the sorted sample of ``n`` values, of the two ends of the
    distribution-free interval of the ``p`` quantile; None for an unbounded end. As scipy's
    ``quantile_test(x, p=p).confidence_interval(confidence)`` (two-sided) picks them."""
    if n < 1:
        return None, None
    ppf, isf = _binom_quantiles()
    tail = (1.0 - confidence) / 2.0
    low = int(ppf(tail, n, p)) - 1
    high = int(isf(tail, n, p))
    return (low if low >= 0 else None), (high if high < n else None)


def _binom_quantiles() -> tuple[Any, Any]:
    """Binomial ppf and isf as (q, n, p) functions: scipy.special's ufuncs behind
    ``scipy.stats.binom`` (the same numbers for 0 < q < 1), or scipy.stats' own where a scipy
    has no such ufuncs (tests/test_stats_honest.py compares both with quantile_test)."""
    try:
        from scipy.special import _ufuncs

        return _ufuncs._binom_ppf, _ufuncs._binom_isf
    except (ImportError, AttributeError):  # pragma: no cover - another scipy
        from scipy import stats

        return stats.binom.ppf, stats.binom.isf
