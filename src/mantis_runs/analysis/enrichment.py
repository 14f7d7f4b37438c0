"""Which attribute values are over-represented among the tail runs (`mantis runs tail`).

A local BubbleUp (``../shared/notes/regression-stats.md``, section 5.2): every (attribute, value)
pair that passes a support filter is a candidate; its 2x2 table (value or not) x (tail or not)
gets a one-sided Fisher exact test (is the value more frequent in the tail?), and the
Benjamini-Hochberg adjustment runs over every candidate tested. A candidate is a finding when
q <= ``Q_LEVEL``, lift >= ``MIN_LIFT`` and at least ``MIN_TAIL_RUNS`` of its runs are in the tail
(gates after the adjustment: they only ever drop findings).

The support filter counts the runs with each value in the whole window and never looks at tail
membership: ``supported`` receives the values alone. Filtering on the tail count selects on the
outcome; the notes measured it raising "any false finding" on null data from 2 % to 14 %.
A column is texts (an object array) or codes (``runs.Coded``: the in-place read's, and the error
classes), counted with ``np.bincount`` without a text object per run; the same counts either
way (tests/test_tail_codes.py).

Fisher's test and BH are computed here with numpy and ``math`` (importing scipy.stats costs a
second); tests/test_tail.py checks them against ``scipy.stats.fisher_exact(...,
alternative='greater')`` and ``scipy.stats.false_discovery_control``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .runs import Coded

#: One value per run: text (None: no value) or its codes (``runs.Coded``, counted as they are).
Column = Coded | npt.NDArray[np.object_]

#: The support rule's floor: a value needs at least this many runs in the window...
MIN_SUPPORT_RUNS = 20
#: ...and at least this share of the window's runs.
MIN_SUPPORT_SHARE = 0.01
#: Benjamini-Hochberg level over every candidate tested.
Q_LEVEL = 0.05
#: A finding's smallest lift: P(value | tail) / P(value).
MIN_LIFT = 1.5
#: A finding's fewest tail runs with the value.
MIN_TAIL_RUNS = 5


@dataclass(frozen=True)
class Candidate:
    """One (attribute, value) pair that passed the support filter, and its test."""

    attribute: str
    value: str
    runs: int  # runs with the value in the window
    tail_runs: int  # of them in the tail
    lift: float  # (tail_runs / tail size) / (runs / window size)
    p_value: float  # one-sided Fisher exact: the value is more frequent in the tail
    q_value: float  # Benjamini-Hochberg over every candidate tested

    @property
    def finding(self) -> bool:
        return (self.q_value <= Q_LEVEL and self.lift >= MIN_LIFT
                and self.tail_runs >= MIN_TAIL_RUNS)


def support_floor(n_runs: int, min_support: int | None = None) -> int:
    """The fewest runs a value needs to be tested: ``min_support`` when given, else
    max(MIN_SUPPORT_RUNS, 1 % of the window's runs, rounded up)."""
    if min_support is not None:
        return min_support
    return max(MIN_SUPPORT_RUNS, math.ceil(MIN_SUPPORT_SHARE * n_runs))


def supported(values: Mapping[str, Column], floor: int) -> dict[str, dict[str, int]]:
    """The support filter. For each attribute, from each run's value alone (the only input:
    which runs are in the tail is never seen here): the values at least ``floor`` runs have,
    with their number of runs, in order of first appearance (of codes: the order of their
    values; None, no value, is never one)."""
    out = {}
    for attribute, column in values.items():
        counts = _counts(column)
        out[attribute] = {v: n for v, n in counts.items() if v is not None and n >= floor}
    return out


def _counts(column: Column) -> dict[str | None, int]:
    """How many runs have each value (texts counted as they are, codes by their number)."""
    if not isinstance(column, Coded):
        return Counter(column.tolist())
    codes = column.codes
    found = np.bincount(codes[codes >= 0], minlength=len(column.values))
    return dict(zip(column.values, found.tolist(), strict=True))


def enrich(values: Mapping[str, Column], tail: npt.NDArray[np.bool_],
           floor: int) -> list[Candidate]:
    """Every supported (attribute, value) pair with its Fisher test against ``tail`` (one flag
    per run, the same runs as ``values``) and its BH q-value, sorted by q, then p, then
    attribute and value."""
    n, n_tail = int(tail.size), int(np.count_nonzero(tail))
    rows: list[tuple[str, str, int, int]] = []
    for attribute, kept in supported(values, floor).items():
        in_tail = _counts(values[attribute][tail])
        rows += [(attribute, v, runs, in_tail.get(v, 0)) for v, runs in kept.items()]
    p = [fisher_greater(k, runs, n_tail, n) for _, _, runs, k in rows]
    q = benjamini_hochberg(p)
    found = [Candidate(a, v, runs, k, (k / n_tail) / (runs / n) if n_tail else 0.0, pi, qi)
             for (a, v, runs, k), pi, qi in zip(rows, p, q, strict=True)]
    found.sort(key=lambda c: (c.q_value, c.p_value, c.attribute, c.value))
    return found


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(k: int, marked: int, drawn: int, total: int) -> float:
    """P(X >= k) for X hypergeometric: ``drawn`` runs (the tail) out of ``total``, of which
    ``marked`` have the value; the p-value of ``scipy.stats.fisher_exact([[k, marked - k],
    [drawn - k, total - marked - drawn + k]], alternative='greater')``.

    The probabilities of successive counts are a running product of their ratios from the
    first one (by lgamma); above the mode the upper tail is summed, below it one minus the
    lower tail (both sums then run over decreasing terms)."""
    lo, hi = max(0, drawn - (total - marked)), min(marked, drawn)
    if k <= lo:
        return 1.0
    mode = math.floor((drawn + 1) * (marked + 1) / (total + 2))
    if k <= mode:
        return max(0.0, 1.0 - _tail_sum(k - 1, lo, marked, drawn, total, down=True))
    return min(1.0, _tail_sum(k, hi, marked, drawn, total, down=False))


def _tail_sum(start: int, stop: int, marked: int, drawn: int, total: int, *,
              down: bool) -> float:
    """The hypergeometric probabilities of the counts from ``start`` to ``stop`` (inclusive,
    away from the mode), summed."""
    first = math.exp(_log_choose(marked, start) + _log_choose(total - marked, drawn - start)
                     - _log_choose(total, drawn))
    if first == 0.0 or start == stop:
        return first
    if down:  # P(x-1) / P(x) for x = start .. stop+1
        x = np.arange(start, stop, -1, dtype=np.float64)
        ratios = x * (total - marked - drawn + x) / ((marked - x + 1) * (drawn - x + 1))
    else:  # P(x+1) / P(x) for x = start .. stop-1
        x = np.arange(start, stop, dtype=np.float64)
        ratios = (marked - x) * (drawn - x) / ((x + 1) * (total - marked - drawn + x + 1))
    return first * (1.0 + float(np.cumprod(ratios).sum()))


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given:
    min over j >= i of p_(j) * m / j, at most 1 (``scipy.stats.false_discovery_control``)."""
    m = len(pvalues)
    if not m:
        return []
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(x) for x in out]
