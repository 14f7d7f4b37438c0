"""`tail`: what makes a workflow's slow runs slow (docs/tail.md).

Two answers over the runs of one window (read once, :mod:`mantis_runs.analysis.runs`):

* **Buckets.** The tail is the succeeded runs whose total_time_s is above a percentile (p95 by
  default; numpy's default percentile, as `stats`), the reference band the succeeded runs from
  p40 to p60 (both ends included). Each bucket's excess is its mean over the tail minus its
  mean over the band (a run without the bucket counts 0 for it); the time in no bucket
  (total - the run's buckets) is a line of its own, so the lines sum to the gap between the
  mean totals. These excesses are the Shapley values of that gap (the game is additive).
  Every mean is exact (``exact_mean``), so the order the runs were read in changes no bit.
  Beside them: the excess of medians (robust, does not sum) and in how many tail runs each
  line has the largest excess over the band's median.
* **Attribute values** (:mod:`mantis_runs.analysis.enrichment`): every terminal run, failed
  ones too, is in the tail when its total is above the same threshold.

Fewer than ``MIN_TAIL`` succeeded runs above the percentile: p90 instead, with a note; fewer
than that above p90 too: no answer ("too few runs", exit status 2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..db.lake_source import DataDirs
from ..errors import UsageError
from ..log.record import format_timestamp
from .enrichment import Candidate, Column, enrich, support_floor
from .runs import ATTRIBUTES, Coded, WindowRuns
from .significance import Floats, quantile

Flags = npt.NDArray[np.bool_]

#: --above: the percentiles a tail may start at.
PERCENTILES: dict[str, float] = {"p90": 0.90, "p95": 0.95, "p99": 0.99}
#: The percentile used when too few runs are above the one asked for.
FALLBACK = "p90"
#: The fewest succeeded runs a tail needs.
MIN_TAIL = 10
#: The reference band: the runs between these percentiles of total_time_s.
BAND = (0.40, 0.60)
#: The name of the line of time in no bucket (total - the run's buckets).
UNBUCKETED = "unbucketed"
#: The attribute name of a run's error class, and the prefix of an extra key's.
ERROR, EXTRA_PREFIX = "error", "extra."
#: Exit statuses of `mantis runs tail`.
ANSWERED, NOT_ENOUGH = 0, 2


@dataclass(frozen=True)
class Line:
    """One line of the bucket table: a bucket, or the time in no bucket."""

    bucket: str
    tail_mean: float  # seconds, over the tail runs (0 where a run has no value)
    band_mean: float
    excess: float  # tail_mean - band_mean: the line's Shapley value of the gap
    share: float | None  # excess / gap; None when the gap is 0
    median_excess: float  # median over the tail - median over the band (does not sum)
    dominant: int  # tail runs in which this line exceeds the band's median the most


@dataclass(frozen=True)
class TailResult:
    workflow_id: str
    start: datetime
    end: datetime
    requested: str  # --above as asked: p90, p95 or p99
    above: str  # the percentile used (FALLBACK when too few runs were above the one asked for)
    threshold: float | None  # that percentile of the succeeded runs' totals, seconds
    succeeded: int  # succeeded runs with a total in the window
    tail_runs: int  # of them above the threshold
    band: tuple[float, float] | None  # p40 and p60 of their totals, seconds
    band_runs: int
    tail_mean: float | None  # mean total over the tail runs, seconds
    band_mean: float | None
    buckets: list[Line]  # the largest excess first
    unbucketed: Line | None  # total - the run's buckets
    runs: int  # terminal runs (failed ones too) in the window: the attribute tests' runs
    runs_in_tail: int  # of them above the threshold
    min_support: int  # the fewest runs a value needed to be tested
    candidates: list[Candidate]  # every value tested, by q
    extra_keys: tuple[str, ...]
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard file name -> lines

    @property
    def enough(self) -> bool:
        return self.tail_runs >= MIN_TAIL

    @property
    def gap(self) -> float | None:
        if self.tail_mean is None or self.band_mean is None:
            return None
        return self.tail_mean - self.band_mean

    @property
    def findings(self) -> list[Candidate]:
        return [c for c in self.candidates if c.finding]

    @property
    def exit_code(self) -> int:
        return ANSWERED if self.enough else NOT_ENOUGH

    @property
    def note(self) -> str | None:
        """Why the answer is not the one asked for, if it is not."""
        if not self.succeeded:
            return "too few runs: no succeeded run in the window"
        if not self.enough:
            return (f"too few runs: {self.tail_runs} succeeded run"
                    f"{'' if self.tail_runs == 1 else 's'} above {self.above} "
                    f"(of {self.succeeded}); a tail needs {MIN_TAIL}")
        if self.above != self.requested:
            return (f"fewer than {MIN_TAIL} succeeded runs above {self.requested}; "
                    f"using {self.above}")
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id, "start": format_timestamp(self.start),
            "end": format_timestamp(self.end), "requested": self.requested,
            "above": self.above, "threshold": self.threshold, "note": self.note,
            "succeeded": self.succeeded, "tail_runs": self.tail_runs,
            "band": list(self.band) if self.band else None, "band_runs": self.band_runs,
            "tail_mean": self.tail_mean, "band_mean": self.band_mean, "gap": self.gap,
            "buckets": [asdict(b) for b in self.buckets],
            "unbucketed": asdict(self.unbucketed) if self.unbucketed else None,
            "runs": self.runs, "runs_in_tail": self.runs_in_tail,
            "min_support": self.min_support, "extra_keys": list(self.extra_keys),
            "findings": [_candidate(c) for c in self.findings],
            "candidates": [_candidate(c) for c in self.candidates],
            "exit_code": self.exit_code, "skipped_lines": dict(self.skipped_lines),
        }


def _candidate(c: Candidate) -> dict[str, Any]:
    return {**asdict(c), "finding": c.finding}


def choose_tail(total: Floats, requested: str) -> tuple[str, float | None]:
    """(the percentile used, its value) over ``total``, sorted: the one asked for, or FALLBACK
    when fewer than MIN_TAIL values are above it (FALLBACK and None when there is no value)."""
    if not total.size:
        return FALLBACK, None
    threshold = quantile(total, PERCENTILES[requested])
    if requested != FALLBACK and _above(total, threshold) < MIN_TAIL:
        return FALLBACK, quantile(total, PERCENTILES[FALLBACK])
    return requested, threshold


def _above(sorted_total: Floats, threshold: float) -> int:
    return int(sorted_total.size - np.searchsorted(sorted_total, threshold, side="right"))


def attribute_buckets(total: Floats, buckets: Mapping[str, Floats], tail: Flags,
                      band: Flags) -> tuple[list[Line], Line]:
    """The bucket lines (the largest excess first) and the line of time in no bucket, of the
    ``tail`` runs against the ``band`` runs; a run without a bucket counts 0 for it. The lines'
    excesses sum to mean(total[tail]) - mean(total[band])."""
    either = np.flatnonzero(tail | band)  # positions: taken faster than by a mask
    names = sorted(n for n, v in buckets.items() if np.isfinite(v[either]).any())
    t, m = (_lines(total, [buckets[n] for n in names], np.flatnonzero(runs))
            for runs in (tail, band))
    t_mean, m_mean = [exact_mean(line) for line in t], [exact_mean(line) for line in m]
    gap = exact_mean(total[tail]) - exact_mean(total[band])
    m_median = medians(m)
    median_excess = medians(t) - m_median
    dominant = np.bincount(np.argmax(t - m_median[:, None], axis=0), minlength=t.shape[0])
    out = [Line(name, t_mean[i], m_mean[i], t_mean[i] - m_mean[i],
                (t_mean[i] - m_mean[i]) / gap if gap else None,
                float(median_excess[i]), int(dominant[i]))
           for i, name in enumerate([*names, UNBUCKETED])]
    *by_bucket, unbucketed = out
    by_bucket.sort(key=lambda x: (-x.excess, x.bucket))
    return by_bucket, unbucketed


def _lines(total: Floats, buckets: Sequence[Floats], runs: npt.NDArray[np.intp]
           ) -> npt.NDArray[np.float64]:
    """One row per line, one column per run at the positions ``runs``: each bucket's seconds (0
    where the run has no value), then the time in no bucket (the total minus the run's
    buckets, added in order)."""
    seconds = [np.where(np.isfinite(b), b, 0.0) for b in (b[runs] for b in buckets)]
    chosen = total[runs]
    in_buckets = np.sum(seconds, axis=0) if seconds else np.zeros(chosen.size)
    return np.array([*seconds, chosen - in_buckets])


def medians(lines: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``np.median(lines, axis=1)``, the same bits (its partition, the mean of the middle
    values, NaN for a row with a NaN), without the import of numpy.ma (10 ms) its NaN check
    makes."""
    size = lines.shape[1]
    if not size:
        return np.median(lines, axis=1)
    half = size // 2
    kth = [half - 1, half] if size % 2 == 0 else [half]
    part = np.partition(lines, [*kth, -1], axis=1)
    out = np.mean(part[:, kth[0]:half + 1], axis=1)
    last = part[:, -1]
    return np.where(np.isnan(last), last, out)


def exact_mean(values: Floats) -> float:
    """The mean of ``values`` as their exactly rounded sum (``math.fsum``) over their count: the
    same bits in any order of the runs (numpy's pairwise sum depends on the order, so a lake
    and a data dir holding the same runs could differ in the last bit); NaN when empty."""
    # a memoryview's floats: no list of them (a fifth faster)
    return math.fsum(np.ascontiguousarray(values).data) / values.size if values.size \
        else math.nan


def attribute_values(runs: WindowRuns, extra_keys: Sequence[str] = ()
                     ) -> dict[str, npt.NDArray[np.object_]]:
    """Each run's value of every attribute tested: the attributes ``runs`` carries, ``error``
    (the class of its error text, ``errors.normalise_error``; None without one) when it
    carries details, and ``extra.KEY`` for each of ``extra_keys`` (the key's value in the
    run's extra fields: text as it is, any other JSON value as compact JSON; None where the
    run has no such key or null)."""
    return {k: v.texts() if isinstance(v, Coded) else v
            for k, v in _values(runs, extra_keys).items()}


def _values(runs: WindowRuns, extra_keys: Sequence[str]) -> dict[str, Column]:
    """``attribute_values``, the columns the read gave as codes (``WindowRuns.coded``) and the
    error classes as codes."""
    out: dict[str, Column] = {k: runs.coded[k] if k in runs.coded else runs.attributes[k]
                              for k in runs.attributes}  # codes stay codes: no text per run
    texts = runs.coded.get("error")
    if texts is None and runs.errors is not None:
        texts = Coded.of(runs.errors)
    if texts is not None:
        out[ERROR] = _error_classes(texts)
    if extra_keys:
        parsed = [None if text is None else json.loads(text)
                  for text in ([None] * len(runs) if runs.extra is None else runs.extra.tolist())]
        for key in extra_keys:
            out[EXTRA_PREFIX + key] = np.array(
                [_extra_value(x.get(key)) if isinstance(x, dict) else None for x in parsed],
                dtype=object)
    return out


def _error_classes(errors: Coded) -> Coded:
    """Each run's error class (none without error text), each distinct text classed once
    (``errors.classes``: texts that differ only in their digits share one normalisation)."""
    from .errors import classes

    found = classes(errors.values)
    names = list(dict.fromkeys(found))
    index = {name: i for i, name in enumerate(names)}
    of_text = np.array([*(index[name] for name in found), -1], dtype=np.intp)
    return Coded(of_text[errors.codes], names)  # code -1 (no text) takes the last: -1


def _extra_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def analyse(workflow_id: str, runs: WindowRuns, start: datetime, end: datetime, *,
            requested: str = "p95", values: Mapping[str, Column] | None = None,
            extra_keys: Sequence[str] = (), min_support: int | None = None) -> TailResult:
    """The tail of ``runs`` (already read): the bucket lines over its succeeded runs, and the
    attribute tests over every terminal run with the ``values`` given per run (default:
    ``attribute_values(runs, extra_keys)``)."""
    ok = runs.succeeded & np.isfinite(runs.total)
    totals = np.sort(runs.total[ok])
    above, threshold = choose_tail(totals, requested)
    terminal = (runs.succeeded | runs.failed) & np.isfinite(runs.total)
    n_terminal = int(np.count_nonzero(terminal))
    floor = support_floor(n_terminal, min_support)
    common: dict[str, Any] = dict(workflow_id=workflow_id, start=start, end=end,
                                  requested=requested, above=above, threshold=threshold,
                                  succeeded=int(totals.size), runs=n_terminal,
                                  min_support=floor, extra_keys=tuple(extra_keys),
                                  skipped_lines=dict(runs.skipped_lines))
    n_tail = 0 if threshold is None else _above(totals, threshold)
    if threshold is None or n_tail < MIN_TAIL:
        return TailResult(**common, tail_runs=n_tail,
                          band=None, band_runs=0, tail_mean=None, band_mean=None, buckets=[],
                          unbucketed=None, runs_in_tail=0, candidates=[])
    low, high = quantile(totals, BAND[0]), quantile(totals, BAND[1])
    slow = runs.total > threshold
    tail, band = ok & slow, ok & (runs.total >= low) & (runs.total <= high)
    lines, unbucketed = attribute_buckets(runs.total, runs.buckets, tail, band)
    chosen = _values(runs, extra_keys) if values is None else values
    if not terminal.all():  # a NaN total (a hand-written line) is in no tail
        chosen, slow = {k: v[terminal] for k, v in chosen.items()}, slow[terminal]
    candidates = enrich(chosen, slow, floor)
    return TailResult(**common, tail_runs=int(np.count_nonzero(tail)), band=(low, high),
                      band_runs=int(np.count_nonzero(band)),
                      tail_mean=exact_mean(runs.total[tail]),
                      band_mean=exact_mean(runs.total[band]), buckets=lines,
                      unbucketed=unbucketed, runs_in_tail=int(np.count_nonzero(slow)),
                      candidates=candidates)


def tail(workflow_id: str, *, data_dir: DataDirs = None, since: str | datetime = "7d",
         above: str = "p95", extra_keys: Sequence[str] = (), min_support: int | None = None,
         now: datetime | None = None) -> TailResult:
    """What makes the slow runs of ``workflow_id`` slow, over the runs that finished since
    ``since`` (``7d``, ``30d``, an ISO date) and before ``now``: the tail is the runs above
    ``above`` (p90, p95 or p99) of total_time_s. ``extra_keys`` names keys of the runs'
    extra fields whose values are tested too; ``min_support`` (runs) replaces the default
    support rule (max(20, 1 % of the runs)). ``data_dir``: what ``db.lake_source.sources_of``
    takes (a data dir, several, lake sources)."""
    from ..db.lake_source import sources_of
    from ..log.timewindow import resolve_since
    from ..stats.engine import collect
    from . import runs_in_place
    from .runs import gather_runs, runs_query

    if above not in PERCENTILES:
        raise UsageError(f"above must be one of {', '.join(PERCENTILES)}, got {above!r}")
    if min_support is not None and min_support < 1:
        raise UsageError(f"min_support must be at least 1, got {min_support}")
    if any(not isinstance(k, str) or not k for k in extra_keys):
        raise UsageError("an extra key must be a non-empty text")
    extra_keys = tuple(dict.fromkeys(extra_keys))
    end = now or datetime.now(UTC)
    start = resolve_since(since, end)
    if start is None:
        raise UsageError("since is required (7d, 30d, an ISO date)")
    # without extra keys only the error texts are tested: the runs without one are not fetched;
    # and they are read in place when no run_id can repeat (analysis.runs_in_place)
    fast = runs_in_place.tail_runs if runs_in_place.IN_PLACE and not extra_keys else None
    runs = collect(sources_of(data_dir), runs_query(workflow_id, start=start, end=end),
                   runs_in_place.first_of(fast, lambda c: gather_runs(
                       c, ATTRIBUTES, details=True, errors_only=not extra_keys)))
    return analyse(workflow_id, runs, start, end, requested=above, extra_keys=extra_keys,
                   min_support=min_support)
