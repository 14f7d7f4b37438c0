"""A window's runs read in place for `tail`, when no run_id of the window can repeat.

``tail`` reads every run of a window with its attributes and error text (``runs.read_runs``
with ``details`` and ``errors_only``): the engine gathers every copy, ranks them and searches
the files again for the chosen copies' error texts. When ``stats.whole.proven_files`` proves
that no run_id of the window repeats (the proof of a whole-history `stats`), every row is a
run's only copy: the workflow's Parquet rows are read where they are, with their attributes and
error text, beside the JSONL runs already gathered (macro_tail_rows), and become the same
``WindowRuns``. A run with buckets of other names (rare) sends the read to the general path.

The texts are fetched as their hashes (tail_coded_rows: numbers, no text object per run) and
each distinct text once with its hash (tail_coded_texts); they become ``WindowRuns.coded``,
which `tail` counts without a text. Two texts of a column with one hash would send the read to
the general path too (``from_hashes``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from ..log import schema
from .runs import ATTRIBUTES, Coded, WindowRuns

if TYPE_CHECKING:  # pragma: no cover
    from ..stats.engine import Collector

T = TypeVar("T")
U = TypeVar("U")

#: Whether `tail` may read in place (tests set it False to compare with the general path).
IN_PLACE = True
#: Up to this many distinct texts, a column's rows are matched to each in turn (``from_hashes``).
_FEW_TEXTS = 16


def tail_runs(c: Collector) -> WindowRuns | None:
    """The runs of the Collector's workflow in its window (since, before), every status, with
    ATTRIBUTES and their error texts (``read_runs(..., details=True, errors_only=True)``'s
    runs; the texts as codes, ``WindowRuns.coded``), read in place; None when that is not
    proven safe."""
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
    c.con.execute(load("macro_tail_rows"))
    params = {**q.common, "files": parts, "finished_before": q.chosen["finished_before"],
              "known": list(schema.KNOWN_BUCKETS)}
    got = c.con.execute(load("tail_coded_rows"), params).fetchnumpy()
    if np.asarray(got["has_other"], dtype=bool).any():
        return None
    texts: dict[str, list[tuple[str | None, int]]] = {}
    for attribute, value, key in c.con.execute(load("tail_coded_texts"), params).fetchall():
        texts.setdefault(attribute, []).append((value, key))
    coded: dict[str, Coded] = {}
    for name in (*ATTRIBUTES, "error"):
        found = from_hashes(np.asarray(got[name], dtype=np.uint64), texts.get(name, []))
        if found is None:
            return None
        coded[name] = found
    runs = {"row": np.arange(len(got["finished_us"]), dtype=np.int64),
            **{k: got[k] for k in ("finished_us", "succeeded", "failed", schema.TOTAL_BUCKET,
                                   *schema.KNOWN_BUCKETS)}}
    return WindowRuns.from_columns({"runs": runs}, c.skipped_lines(), coded)


def from_hashes(hashes: npt.NDArray[np.uint64], texts: Sequence[tuple[str | None, int]]
                ) -> Coded | None:
    """A column read as the hash of each row's text (``hashes``) as codes, from the column's
    distinct texts with their hashes (``texts``; None: no text); None when two texts share a
    hash or a row's hash is none of theirs (then the texts cannot be told apart by it).

    A few texts are matched one at a time (faster than a binary search); of more, the rows
    without text first (often most rows: the error text), then the others by binary search."""
    if len({key for _, key in texts}) < len(texts):
        return None
    keys = np.array([key for _, key in texts], dtype=np.uint64)
    present = np.array([value is not None for value, _ in texts], dtype=bool)
    code = np.where(present, np.cumsum(present) - 1, -1)
    found = np.full(hashes.size, -2, dtype=np.intp)  # -2: not matched yet
    few = keys.size <= _FEW_TEXTS
    for i in range(keys.size) if few else np.flatnonzero(~present).tolist():
        found[hashes == keys[i]] = code[i]
    rest = np.flatnonzero(found == -2)
    if rest.size and not few:
        order = np.argsort(keys)
        at = order[np.minimum(np.searchsorted(keys[order], hashes[rest]), keys.size - 1)]
        found[rest] = np.where(keys[at] == hashes[rest], code[at], -2)
    if (found == -2).any():
        return None
    return Coded(found, [value for value, _ in texts if value is not None])


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
