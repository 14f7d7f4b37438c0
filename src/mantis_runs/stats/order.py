"""Order statistics as numpy computes them, selected by Arrow instead of sorted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .intervals import interval_ranks
from .result import QUANTILES, Interval


def numpy_percentiles(values: Any,
                      quantiles: Sequence[float] = QUANTILES) -> tuple[int, list[float] | None]:
    """(n, [p50, p95, p99] by default) of the non-null values of an Arrow array, as numpy's default
    percentile computes them, bit for bit (None when n = 0).

    numpy takes h = (n-1)*q, then a and b, the values of ranks floor(h) and floor(h)+1, and
    returns a + (b-a)*t, or b - (b-a)*(1-t) once t = h - floor(h) >= 0.5 (its _lerp; the
    mantis_lerp macro does the same in SQL). When h >= n-1 (n = 1 here), a and b are both the
    last value and t = h + 1, which keeps the sign of -0.0.

    Arrow's quantile kernel with "lower" interpolation selects the value of rank
    floor(q'*(n-1)) without sorting, so each rank r is asked for at q' = (r + 0.25)/(n-1), a
    quarter-rank clear of rounding (q' = 1 for the last rank).
    """
    n = len(values) - values.null_count
    if n == 0:
        return 0, None
    ranks: list[int] = []
    weights: list[float] = []
    for q in quantiles:
        h = (n - 1) * q
        if h >= n - 1:  # numpy: both neighbours are the last value, and the weight is h + 1
            ranks += [n - 1, n - 1]
            weights.append(h + 1)
        else:
            r = math.floor(h)
            ranks += [r, r + 1]
            weights.append(h - r)
    chosen = select_ranks(values, n, ranks)
    out: list[float] = []
    for i, t in enumerate(weights):
        a, b = chosen[2 * i], chosen[2 * i + 1]
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return n, out


def select_ranks(values: Any, n: int, ranks: Sequence[int]) -> list[float]:
    """The values of 0-based ``ranks`` in the sorted order of the ``n`` non-null values of an
    Arrow array (sorted or not), by selection: rank r is asked for at q' = (r + 0.25)/(n-1)
    with "lower" interpolation (numpy_percentiles' doc)."""
    import pyarrow.compute as pc

    at = [1.0 if r == n - 1 else (r + 0.25) / (n - 1) for r in ranks]
    picked: list[float] = pc.quantile(values, q=at, interpolation="lower").to_pylist()
    return picked


def sorted_intervals(values: Sequence[float],
                     quantiles: Sequence[float] = QUANTILES) -> tuple[Interval, ...]:
    """``intervals`` of a sorted list of finite values (no Arrow needed: indexing)."""
    ends = [interval_ranks(len(values), q) for q in quantiles]
    return tuple((None if lo is None else values[lo], None if hi is None else values[hi])
                 for lo, hi in ends)


def intervals(values: Any, quantiles: Sequence[float] = QUANTILES) -> tuple[Interval, ...]:
    """The distribution-free interval of each quantile of the non-null values of an Arrow array
    (stats.intervals): order statistics picked by selection; None for an unbounded end."""
    n = len(values) - values.null_count
    ends = [interval_ranks(n, q) for q in quantiles]
    wanted = sorted({r for pair in ends for r in pair if r is not None})
    value = dict(zip(wanted, select_ranks(values, n, wanted) if wanted else [], strict=True))
    return tuple((None if lo is None else value[lo], None if hi is None else value[hi])
                 for lo, hi in ends)
