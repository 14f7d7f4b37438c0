"""Order statistics as numpy computes them, selected (np.partition) instead of sorted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .intervals import interval_ranks
from .result import QUANTILES, Interval

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np  # imported where used: the default `stats` never loads numpy


def finite(values: Any, chosen: np.ndarray | None = None) -> np.ndarray:
    """The finite values of a float64 column (an Arrow array or chunked array, NULL for no
    value, or a numpy array), as a new numpy array the caller may reorder; with ``chosen`` (one
    boolean per row of the column), only those of the chosen rows.

    Arrow's buffers are read in place (values and validity bitmap) and the kept values copied
    once, into memory from Arrow's pool, which keeps freed memory for the next column (fresh
    pages cost more than the copy itself on a busy machine)."""
    import numpy as np
    import pyarrow as pa

    if hasattr(values, "chunks") or hasattr(values, "buffers"):
        chunks = [values_and_valid(c) for c in getattr(values, "chunks", [values])]
    else:  # the caller's array: never reordered
        chunks = [(np.asarray(values, dtype=np.float64), None)]
    keeps: list[np.ndarray] = []
    row = 0
    for chunk, valid in chunks:
        keep = np.isfinite(chunk)
        if valid is not None:
            keep &= valid
        if chosen is not None:
            keep &= chosen[row:row + len(chunk)]
        row += len(chunk)
        keeps.append(keep)
    counts = [int(np.count_nonzero(k)) for k in keeps]
    out: np.ndarray = np.frombuffer(pa.allocate_buffer(8 * sum(counts)), dtype=np.float64)
    at = 0
    for (chunk, _), keep, n in zip(chunks, keeps, counts, strict=True):
        np.compress(keep, chunk, out=out[at:at + n])
        at += n
    return out


def values_and_valid(chunk: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """An Arrow float64 array's values as a numpy view of its buffer (NULL slots hold anything)
    and its validity as booleans (None: no NULL)."""
    import numpy as np
    import pyarrow as pa

    if chunk.type != pa.float64():  # e.g. all NULL: Arrow's null type
        chunk = chunk.cast(pa.float64())
    return buffer_and_valid(chunk, np.float64)


def buffer_and_valid(chunk: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """An Arrow array of fixed-width values that numpy reads as ``dtype``: its values as a
    numpy view of its buffer (NULL slots hold anything, all zero when every slot is NULL) and
    its validity as booleans (None: no NULL)."""
    import numpy as np

    validity, data = chunk.buffers()[:2]
    lo, hi = chunk.offset, chunk.offset + len(chunk)
    if data is None or chunk.null_count == len(chunk):
        return np.zeros(len(chunk), dtype=dtype), np.zeros(len(chunk), dtype=np.bool_)
    view = np.frombuffer(data, dtype=dtype, count=hi)[lo:]
    if not chunk.null_count:
        return view, None
    return view, bits(validity, lo, hi)


def bits(buffer: Any, lo: int, hi: int) -> np.ndarray:
    """Bits ``lo`` to ``hi`` of an Arrow bitmap (validity, or a boolean array's values) as
    numpy booleans."""
    import numpy as np

    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=hi,
                         bitorder="little")[lo:hi].view(np.bool_)


def ranks_and_weights(n: int, quantiles: Sequence[float]) -> tuple[list[int], list[float]]:
    """The two ranks numpy interpolates between for each quantile of ``n`` values, and its
    weight: numpy takes h = (n-1)*q, a and b the values of ranks floor(h) and floor(h)+1, and
    returns a + (b-a)*t, or b - (b-a)*(1-t) once t = h - floor(h) >= 0.5 (its _lerp; the
    mantis_lerp macro does the same in SQL). When h >= n-1 (n = 1 here), a and b are both the
    last value and t = h + 1, which keeps the sign of -0.0."""
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
    return ranks, weights


def lerp(chosen: dict[int, float], ranks: list[int], weights: list[float]) -> list[float]:
    """numpy's _lerp between the chosen values of each pair of ``ranks``."""
    out: list[float] = []
    for i, t in enumerate(weights):
        a, b = chosen[ranks[2 * i]], chosen[ranks[2 * i + 1]]
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return out


#: Arrays at least this long are narrowed around the wanted ranks first (``narrowed``).
NARROW_FROM = 1 << 18
#: How many values the narrowing samples, and its margin in sample positions (about eight
#: standard deviations of a rank's position in the sample).
SAMPLE = 1 << 15
MARGIN = 4 * int(math.sqrt(SAMPLE))


def order_statistics(values: np.ndarray, ranks: Sequence[int]) -> dict[int, float]:
    """The values of 0-based ``ranks`` in the sorted order of finite ``values`` (reordered in
    place): narrowed first when there are many (``narrowed``), else ``partitioned``."""
    wanted = sorted(set(ranks))
    if len(values) >= NARROW_FROM and wanted:
        got = narrowed(values, wanted)
        if got is not None:
            return got
    return partitioned(values, wanted)


def narrowed(values: np.ndarray, wanted: list[int]) -> dict[int, float] | None:
    """``order_statistics`` from a few values around each group of nearby ranks: an evenly
    strided sample, sorted, gives bounds lo and hi around the group; the values below lo are
    counted and those in [lo, hi] selected from. The ranks are there exactly when the count
    below is at most the group's first rank and the count up to hi exceeds its last: otherwise
    None (an unlucky sample), and the caller partitions everything."""
    import numpy as np

    n = len(values)
    sample = np.sort(values[::max(1, n // SAMPLE)])
    m = len(sample)
    groups: list[list[int]] = []
    for r in wanted:  # ranks whose sample windows overlap share one group
        if groups and (r - groups[-1][-1]) * m <= 2 * MARGIN * n:
            groups[-1].append(r)
        else:
            groups.append([r])
    got: dict[int, float] = {}
    for group in groups:
        a, b = group[0] * m // n - MARGIN, group[-1] * m // n + MARGIN
        low = values >= sample[a] if a > 0 else np.ones(n, dtype=np.bool_)
        below = n - int(np.count_nonzero(low))
        if b < m - 1:
            low &= values <= sample[b]
        inside = values[low]
        if below > group[0] or below + len(inside) <= group[-1]:
            return None
        picked = partitioned(inside, [r - below for r in group])
        got.update({r: picked[r - below] for r in group})
    return got


def partitioned(values: np.ndarray, wanted: list[int]) -> dict[int, float]:
    """The values of the sorted ``wanted`` ranks by np.partition of ``values`` in place: one
    partition point at every wanted rank whose predecessor is not wanted; the value of rank
    p+1 after a partition at p is the least value between p and the next partition point."""
    primary: list[int] = []
    for r in wanted:
        if not primary or primary[-1] != r - 1:
            primary.append(r)
    if primary:
        values.partition(primary)
    got: dict[int, float] = {}
    for i, p in enumerate(primary):
        got[p] = float(values[p])
        if p + 1 in wanted and p + 1 not in got:
            end = primary[i + 1] + 1 if i + 1 < len(primary) else len(values)
            got[p + 1] = float(values[p + 1:end].min())
    return got


def column_statistics(values: np.ndarray, quantiles: Sequence[float] = QUANTILES, *,
                      ci: bool = False
                      ) -> tuple[int, list[float] | None, tuple[Interval, ...] | None]:
    """(n, the percentiles as numpy computes them bit for bit, their intervals when ``ci``) of
    finite ``values`` (reordered in place), from one selection; None for both when n = 0."""
    n = len(values)
    if n == 0:
        return 0, None, None
    ranks, weights = ranks_and_weights(n, quantiles)
    ends = [interval_ranks(n, q) for q in quantiles] if ci else []
    extra = [r for pair in ends for r in pair if r is not None]
    chosen = order_statistics(values, ranks + extra)
    cis = tuple((None if lo is None else chosen[lo], None if hi is None else chosen[hi])
                for lo, hi in ends) if ci else None
    return n, lerp(chosen, ranks, weights), cis


def numpy_percentiles(values: Any,
                      quantiles: Sequence[float] = QUANTILES) -> tuple[int, list[float] | None]:
    """(n, [p50, p95, p99] by default) of the finite values of a column (``finite``), as
    numpy's default percentile computes them, bit for bit (None when n = 0)."""
    n, qs, _ = column_statistics(finite(values), quantiles)
    return n, qs


def sorted_intervals(values: Sequence[float],
                     quantiles: Sequence[float] = QUANTILES) -> tuple[Interval, ...]:
    """``intervals`` of a sorted list of finite values (no Arrow needed: indexing)."""
    ends = [interval_ranks(len(values), q) for q in quantiles]
    return tuple((None if lo is None else values[lo], None if hi is None else values[hi])
                 for lo, hi in ends)


def intervals(values: Any, quantiles: Sequence[float] = QUANTILES) -> tuple[Interval, ...]:
    """The distribution-free interval of each quantile of the finite values of a column
    (``finite``; stats.intervals): order statistics picked by selection; None for an unbounded
    end."""
    picked = finite(values)
    ends = [interval_ranks(len(picked), q) for q in quantiles]
    value = order_statistics(picked, [r for pair in ends for r in pair if r is not None])
    return tuple((None if lo is None else value[lo], None if hi is None else value[hi])
                 for lo, hi in ends)
