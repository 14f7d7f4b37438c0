"""A window's runs read in place for `tail`, when no run_id of the window can repeat.

``tail`` reads every run of a window with its attributes and error text (``runs.read_runs``
with ``details`` and ``errors_only``): the engine gathers every copy, ranks them and searches
the files again for the chosen copies' error texts. When ``stats.whole.proven_files`` proves
that no run_id of the window repeats (the proof of a whole-history `stats`), every row is a
run's only copy: the workflow's Parquet rows are read where they are, with their attributes and
error text, beside the JSONL runs already gathered (tail_whole_rows), and become the same
``WindowRuns``. A run with buckets of other names (rare) sends the read to the general path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..log import schema
from .runs import ATTRIBUTES, WindowRuns

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.engine import Collector

T = TypeVar("T")
U = TypeVar("U")

#: Whether `tail` may read in place (tests set it False to compare with the general path).
IN_PLACE = True


def tail_runs(c: Collector) -> WindowRuns | None:
    """The runs of the Collector's workflow in its window (since, before), every status, with
    ATTRIBUTES and their error texts (``read_runs(..., details=True, errors_only=True)``'s
    runs), read in place; None when that is not proven safe."""
    from ..db.sqlfiles import load
    from ..stats.whole import proven_files

    q = c.query
    if q.before is None or q.since is None:
        return None
    parts = proven_files(c)
    if parts is None:
        return None
    chosen = {"workflow_id": q.workflow_id, **q.chosen}
    c.find_details(chosen, parquet=False)  # the JSONL runs' error texts
    got = c.con.execute(load("tail_whole_rows"), {
        **q.common, "files": parts, "finished_before": q.chosen["finished_before"],
        "known": list(schema.KNOWN_BUCKETS)}).fetchnumpy()
    if np.asarray(got["has_other"], dtype=bool).any():
        return None
    row = np.arange(len(got["finished_us"]), dtype=np.int64)
    runs = {"row": row, **{k: got[k] for k in ("finished_us", "succeeded", "failed",
                                                 schema.TOTAL_BUCKET, *schema.KNOWN_BUCKETS)}}
    return WindowRuns.from_columns({
        "runs": runs, **{a: {"row": row, "value": got[a]} for a in ATTRIBUTES},
        "details": {"row": row, "error": got["error"]}}, c.skipped_lines())


def first_of(fast: Callable[[Collector], T | None] | None,
             general: Callable[[Collector], U]) -> Callable[[Collector], T | U]:
    """An engine step: ``fast`` (an in-place read; None: not tried), and when it answers None,
    ``general`` on a Collector whose steps start afresh (the same snapshot and connection)."""
    def step(c: Collector) -> T | U:
        if fast is not None:
            found = fast(c)
            if found is not None:
                return found
            c = dataclasses.replace(c, step=0, checked=[], skipped={}, jsonl_read=[])
        return general(c)

    return step
