"""`tail` read in place (analysis.runs_in_place) against the general path: the same TailResult
exactly on the hostile store of test_trend_fast (NaN, infinities, -0.0, missing buckets, an
unknown status, bad lines, error texts, a late row in a compacted month, a checkpointed live
month with a tail), the in-place read observed where the proof holds; a bucket of another name,
--extra-key and a copied run send the read to the general path, with the same result."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mantis_runs.analysis import runs_in_place
from mantis_runs.analysis.runs import ATTRIBUTES, WindowRuns, read_runs, runs_query
from mantis_runs.analysis.tail import TailResult, tail
from mantis_runs.db.lake_source import sources_of
from mantis_runs.stats.engine import collect
from test_trend_fast import NOW, append_bytes, at, hostile_store, line, observe_both, shard


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tail-plain")
    hostile_store(d, custom=False)
    return d


def both(monkeypatch: pytest.MonkeyPatch, d: Path, **ask: Any,
         ) -> tuple[TailResult, TailResult, bool]:
    return observe_both(monkeypatch, runs_in_place, "tail_runs",
                        lambda: tail("w", data_dir=d, now=NOW, **ask))


@pytest.mark.parametrize("ask", [{"since": "2026-03-01"}, {"since": "2026-04-10", "above": "p99"},
                                 {"since": "2026-03-01", "above": "p90", "min_support": 5}])
def test_in_place_is_the_general_paths_result(plain: Path, monkeypatch: pytest.MonkeyPatch,
                                              ask: dict[str, Any]) -> None:
    fast, slow, taken = both(monkeypatch, plain, **ask)
    assert taken
    assert fast == slow
    assert fast.enough and fast.runs > 200  # not vacuous: a tail, and the attribute tests
    assert {c.attribute for c in fast.candidates} >= {"model", "error"}
    assert fast.skipped_lines == {"2026-05.jsonl": 2}


def test_what_keeps_the_in_place_read_off(tmp_path: Path, plain: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow, taken = both(monkeypatch, plain, since="2026-03-01", extra_keys=["k"])
    assert not taken and fast == slow
    for name, late in (("custom", line("new", at(76, 0), total=5.0, breakdown={"custom": 1.0})),
                       ("copied", line("r0002", at(76, 0), total=500.0, error="again"))):
        d = tmp_path / name
        shutil.copytree(plain, d)
        append_bytes(shard(d, at(76, 0)), late)  # in the live month's tail
        fast, slow, taken = both(monkeypatch, d, since="2026-03-01")
        assert not taken and fast == slow, name
    # texts that their hashes cannot tell apart (runs_in_place.from_hashes refuses)
    monkeypatch.setattr(runs_in_place, "from_hashes", lambda *a: None)
    fast, slow, taken = both(monkeypatch, plain, since="2026-03-01")
    assert not taken and fast == slow


def test_the_in_place_runs_are_the_general_paths(plain: Path) -> None:
    """Run by run: the texts the in-place read matched from their hashes (WindowRuns.coded)
    are the attributes and error texts the general path reads."""
    start, end = datetime(2026, 3, 1, tzinfo=UTC), NOW
    fast = collect(sources_of(plain), runs_query("w", start=start, end=end),
                   runs_in_place.tail_runs)
    slow = read_runs("w", data_dir=plain, start=start, end=end, attributes=ATTRIBUTES,
                     details=True, errors_only=True)
    assert fast is not None and set(fast.coded) == {*ATTRIBUTES, "error"}
    assert fast.errors is None and len(fast.coded["error"].values) > 16  # the binary search
    assert {len(fast.coded[a].values) for a in ATTRIBUTES} == {0, 3}  # no text; m0, m1, m2

    def each_run(runs: WindowRuns, errors: Any) -> list[tuple[Any, ...]]:
        columns = [runs.finished_us, runs.succeeded, runs.failed, np.nan_to_num(runs.total),
                   *(runs.attributes[a] for a in ATTRIBUTES), errors]
        return sorted(zip(*(c.tolist() for c in columns), strict=True), key=repr)

    assert slow.errors is not None
    assert each_run(fast, fast.coded["error"].texts()) == each_run(slow, slow.errors)
    assert len(fast) > 500
