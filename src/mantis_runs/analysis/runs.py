"""The runs a comparison reads, as columns: one row per run (its winning copy), every status.

``read_runs`` gathers a workflow's runs of a time span through the stats engine (the same
planning, dedupe and rival rules as `stats`) as numpy columns, and ``WindowRuns.select`` cuts
them into windows and attribute filters in memory (``group_codes`` and ``subset`` into groups).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..log import schema
from ..log.record import epoch_us
from .limits import ALL_RUNS

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources
    from ..stats.engine import Collector, StatsQuery
    from .compare import FailureRate

#: The run attributes a window may be narrowed by.
ATTRIBUTES = schema.ATTRIBUTES  # the attributes a comparison narrows or groups by
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Coded:
    """A text column as codes: ``values[codes[i]]`` is row i's text, -1 none (NULL). The
    values are distinct, in no order that means anything (``of``: first appearance)."""

    codes: npt.NDArray[np.intp]
    values: list[str]

    def __len__(self) -> int:
        return int(self.codes.size)

    def __getitem__(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice) -> Coded:
        return Coded(self.codes[keep], self.values)

    def texts(self) -> npt.NDArray[np.object_]:
        """Each row's text as an object array, None where it has none."""
        table = np.empty(len(self.values) + 1, dtype=object)
        table[:-1] = self.values  # code -1 takes the last entry: None
        return table[self.codes]

    @classmethod
    def of(cls, texts: npt.NDArray[np.object_]) -> Coded:
        """``texts`` (an object array, None for none) as codes, the values in order of first
        appearance."""
        items = texts.tolist()
        values = dict.fromkeys(items)
        values.pop(None, None)
        index: dict[str | None, int] = {v: i for i, v in enumerate(values)}
        index[None] = -1
        codes = np.fromiter(map(index.__getitem__, items), dtype=np.intp, count=len(items))
        return cls(codes, list(values))


class _Texts(Mapping[str, npt.NDArray[np.object_]]):
    """Columns given as codes, each made texts when first asked for (``Coded.texts``)."""

    def __init__(self, coded: Mapping[str, Coded]) -> None:
        self._coded = coded
        self._texts: dict[str, npt.NDArray[np.object_]] = {}

    def __getitem__(self, key: str) -> npt.NDArray[np.object_]:
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = self._coded[key].texts()
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._coded)

    def __len__(self) -> int:
        return len(self._coded)


@dataclass(frozen=True)
class WindowRuns:
    """Runs as parallel arrays, oldest first: finished_at (microseconds since the epoch, UTC),
    its UTC day, which runs succeeded and which failed, total_time_s and each bucket (NaN where
    a run has no finite value); the attributes that were read, as object arrays of text (None
    where a run has none); with details (``read_runs(details=True)``, else None), each run's
    run_id, error text and extra keys (JSON text) of its winning copy as object arrays (None
    where the copy has none); the malformed lines the read skipped, per shard file name
    (``StatsResult.skipped_lines``; kept by ``subset`` and ``select``); and ``coded``: the
    attributes and error texts (key ``error``) when the read gave them as codes (`tail`'s read
    in place: counting codes needs no text); then ``attributes`` makes each texts when first
    asked for, and ``errors`` is None (their texts: ``coded["error"].texts()``)."""

    finished_us: npt.NDArray[np.int64]
    succeeded: npt.NDArray[np.bool_]
    failed: npt.NDArray[np.bool_]
    total: npt.NDArray[np.float64]
    buckets: Mapping[str, npt.NDArray[np.float64]]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    run_ids: npt.NDArray[np.object_] | None = None
    errors: npt.NDArray[np.object_] | None = None
    extra: npt.NDArray[np.object_] | None = None
    skipped_lines: Mapping[str, int] = field(default_factory=dict)
    coded: Mapping[str, Coded] = field(default_factory=dict)

    @cached_property
    def day(self) -> npt.NDArray[np.int64]:
        """Each run's UTC day (days since the epoch)."""
        return self.finished_us // _US_PER_DAY

    @cached_property
    def day_starts(self) -> npt.NDArray[np.intp]:
        """Where each UTC day's runs start (the runs are oldest first)."""
        day = self.day
        return np.flatnonzero(np.concatenate([[True], day[1:] != day[:-1]])) if day.size \
            else np.zeros(0, dtype=np.intp)

    def __len__(self) -> int:
        return int(self.finished_us.size)

    def metric(self, name: str) -> npt.NDArray[np.float64]:
        if name == schema.TOTAL_BUCKET:
            return self.total
        found = self.buckets.get(name)
        return found if found is not None else np.full(len(self), np.nan)

    def with_status(self, status: str | None) -> npt.NDArray[np.bool_]:
        """Which runs have ``status`` (None: every terminal status)."""
        if status is None:
            return self.succeeded | self.failed
        return self.succeeded if status == "succeeded" else self.failed

    def select(self, start: datetime, end: datetime,
               filters: Mapping[str, str] | None = None) -> WindowRuns:
        """The runs that finished in [start, end) and have every attribute value in
        ``filters`` (a run without the attribute has none of its values)."""
        # oldest first: the window is a slice (views, no copy) unless a filter narrows it
        lo, hi = np.searchsorted(self.finished_us, [epoch_us(start), epoch_us(end)]).tolist()
        window = self.subset(slice(lo, max(lo, hi)))
        if not filters:
            return window
        keep = np.ones(len(window), dtype=bool)
        for key, value in filters.items():
            keep &= np.asarray(window.attributes[key] == value, dtype=bool)
        return window.subset(keep)

    def failure_rate(self) -> FailureRate:
        from .compare import FailureRate

        failed = int(np.count_nonzero(self.failed))
        return FailureRate(failed=failed, terminal=failed + int(np.count_nonzero(self.succeeded)))

    def group_codes(self, attribute: str) -> tuple[npt.NDArray[np.int64], list[str | None]]:
        """Each run's group (an index into the returned values) by ``attribute``: the distinct
        values in order of first appearance, None for runs without it."""
        index: dict[str | None, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index))
                             for v in self.attributes[attribute].tolist()),
                            dtype=np.int64, count=len(self))
        return codes, list(index)

    def subset(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice) -> WindowRuns:
        """The runs where ``keep`` is True (or at the positions it lists, in that order, or in
        that slice), with their attributes and details."""
        return WindowRuns(self.finished_us[keep], self.succeeded[keep], self.failed[keep],
                          self.total[keep], {k: v[keep] for k, v in self.buckets.items()},
                          {k: v[keep] for k, v in self.attributes.items()},
                          **{k: None if v is None else v[keep] for k, v in (
                              ("run_ids", self.run_ids), ("errors", self.errors),
                              ("extra", self.extra))},
                          skipped_lines=self.skipped_lines,
                          coded={k: v[keep] for k, v in self.coded.items()})

    @classmethod
    def from_columns(cls, read: Mapping[str, Mapping[str, Any]],
                     skipped_lines: Mapping[str, int] | None = None,
                     coded: Mapping[str, Coded] | None = None) -> WindowRuns:
        """From the numpy columns of Collector.rows, in no order and keyed by rowid: ``runs``
        (finished_us, succeeded, failed, total_time_s and the known buckets by name), ``other``
        (map entries: row, bucket, seconds), one per attribute read (row, value) and
        ``details`` when asked (row, run_id, error, extra); sorted
        here by finished_at (the order of runs that finished at the same instant changes no
        answer). NULL and non-finite values become NaN, an attribute's NULL None; a known
        bucket no run has is left out. ``skipped_lines``: the read's malformed lines.
        ``coded``: attributes and the error text (``error``) as codes, one per row of ``runs``
        in its order, in place of their (row, value) columns and of ``details``."""
        runs = read["runs"]
        finished = np.asarray(runs["finished_us"], dtype=np.int64)
        order = np.argsort(finished, kind="stable")
        rowid = np.asarray(runs["row"], dtype=np.int64)[order]
        position = np.full(int(rowid.max()) + 1 if rowid.size else 0, -1, dtype=np.int64)
        position[rowid] = np.arange(rowid.size)
        buckets: dict[str, npt.NDArray[np.float64]] = {}
        for name in schema.KNOWN_BUCKETS:
            values = _floats(runs[name], order)
            if np.isfinite(values).any():
                buckets[name] = values
        _add_other(buckets, read.get("other"), position)
        details = read.get("details")
        detail = {} if details is None else {
            name: _by_row({"row": details["row"], "value": details[column]}, position)
            for name, column in (("run_ids", "run_id"), ("errors", "error"), ("extra", "extra"))
            if column in details}
        codes = {k: v[order] for k, v in (coded or {}).items()}
        attributes = _Texts({a: codes[a] for a in ATTRIBUTES if a in codes}) if codes else {
            a: _by_row(read[a], position) for a in ATTRIBUTES if a in read}
        return cls(finished_us=finished[order],
                   succeeded=np.asarray(runs["succeeded"], dtype=bool)[order],
                   failed=np.asarray(runs["failed"], dtype=bool)[order],
                   total=_floats(runs["total_time_s"], order), buckets=buckets,
                   attributes=attributes, skipped_lines=dict(skipped_lines or {}),
                   coded=codes, **detail)


def _floats(column: Any, order: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.float64]:
    """A numeric column (a masked array where it has NULLs) as float64, NaN for NULL and for
    every non-finite value, taken in ``order`` when given (always a copy)."""
    if type(column) is np.ndarray:  # no NULL (and numpy.ma, 10 ms of imports, not needed)
        values = np.array(column, dtype=np.float64) if order is None else \
            np.asarray(column, dtype=np.float64)[order]
        values[~np.isfinite(values)] = np.nan
        return values
    values = np.asarray(np.ma.getdata(column), dtype=np.float64)
    null = np.ma.getmaskarray(column)
    if order is not None:
        values, null = values[order], null[order]
    else:
        values = values.copy()
    values[null | ~np.isfinite(values)] = np.nan
    return values


def _texts(column: Any) -> npt.NDArray[np.object_]:
    """A text column as an object array, None for NULL."""
    values = np.array(np.ma.getdata(column), dtype=object)
    values[np.ma.getmaskarray(column)] = None
    return values


def _by_row(column: Mapping[str, Any], position: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """An attribute's (row, value) pairs as an object array in the runs' order."""
    values = np.full(np.count_nonzero(position >= 0), None, dtype=object)
    values[position[np.asarray(column["row"], dtype=np.int64)]] = _texts(column["value"])
    return values


def _add_other(buckets: dict[str, npt.NDArray[np.float64]], other: Mapping[str, Any] | None,
               position: npt.NDArray[np.int64]) -> None:
    """Buckets outside the known nine, from the entries of the runs' maps (rare; row by row);
    a known name there (its value was not a number) is not a sample, as in `stats`."""
    if not other:
        return
    n = int(np.count_nonzero(position >= 0))
    null = np.ma.getmaskarray(other["seconds"]).tolist()
    values = np.asarray(np.ma.getdata(other["seconds"]), dtype=np.float64).tolist()
    at = position[np.asarray(other["row"], dtype=np.int64)].tolist()
    for pos, name, value, none in zip(at, _texts(other["bucket"]).tolist(), values, null,
                                      strict=True):
        if none or name is None or name in schema.KNOWN_BUCKETS:
            continue
        column = buckets.setdefault(name, np.full(n, np.nan))
        column[pos] = value if math.isfinite(value) else np.nan



def read_runs(workflow_id: str, *, data_dir: Path | Sources, start: datetime | None,
              end: datetime | None,
              attributes: Sequence[str] = (), memory_limit: str | None = None,
              details: bool = False, last: int | None = None,
              errors_only: bool = False) -> WindowRuns:
    """Every run of ``workflow_id`` whose winning copy finished in [start, end) (None: no
    bound; undated runs are never read), every status, or only the newest ``last`` of them
    (the order of `stats --last`), read by the stats engine (the same files, dedupe and rival
    rules as `stats`), with the text of the ``attributes`` asked for (the others are not
    read), and with ``details`` each run's run_id, error and extra (WindowRuns.run_ids,
    errors, extra; None without: then they are not read at all); with ``errors_only`` too,
    only the error text of the runs that have one (WindowRuns.errors, None for the others;
    run_ids and extra are not fetched). The malformed lines skipped
    are in ``WindowRuns.skipped_lines``, counted as `stats` counts them."""
    from ..stats.engine import collect

    return collect(data_dir, runs_query(workflow_id, start=start, end=end, last=last),
                   lambda c: gather_runs(c, attributes, details=details,
                                         errors_only=errors_only),
                   memory_limit=memory_limit)


def runs_query(workflow_id: str, *, start: datetime | None, end: datetime | None,
               last: int | None = None) -> StatsQuery:
    """The stats engine's query of ``read_runs``: every status, no percentile."""
    from ..stats.engine import StatsQuery

    return StatsQuery(workflow_id=workflow_id, last=ALL_RUNS if last is None else last,
                      since=start, status=None, buckets=None, before=end)


def gather_runs(c: Collector, attributes: Sequence[str] = (), *, details: bool = False,
                errors_only: bool = False) -> WindowRuns:
    """``read_runs``'s step over the engine's Collector (of ``runs_query``): the runs as
    ``WindowRuns``, gathered and deduplicated by the engine."""
    from ..db.sqlfiles import load

    if not (details and errors_only):
        out = c.rows(attributes, details=details)
    else:
        out = c.rows(attributes)
        params = {"workflow_id": c.query.workflow_id, **c.query.chosen}
        c.find_details(params)  # the copies of the chosen runs, as rows_details finds them
        out["details"] = c.con.execute(load("stats_rows_errors"), params).fetchnumpy()
    return WindowRuns.from_columns(out, c.skipped_lines())
