"""`compare`'s read path (stats_rows, stats_rows_other through the stats engine) against the
oracle of tests/test_agreement.py: the same hostile copies, before and after compaction. Each
window holds exactly the winning copies of the workflow's dated runs that finished in it, with
the winner's status and total, and failed runs are counted, never sampled."""

from __future__ import annotations

import math
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from mantis_runs.analysis.compare import compare
from mantis_runs.analysis.runs import read_runs
from mantis_runs.compaction import compact
from test_agreement import NOW, WORKFLOWS, copies, winners, write

#: Two windows that split the history (March and April | May), as compare reads them.
SPLIT = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected(won: dict[str, dict[str, Any]], wf: str, lo: datetime, hi: datetime,
             ) -> list[tuple[int, str, float | None]]:
    out = []
    for r in won.values():
        fin = r["finished_at"]
        if r["workflow_id"] == wf and fin is not None and lo <= fin < hi:
            out.append((round((fin - _EPOCH).total_seconds() * 1e6), r["status"], r["total"]))
    return sorted(out, key=repr)


def read(d: Path, wf: str, lo: datetime, hi: datetime) -> list[tuple[int, str, float | None]]:
    runs = read_runs(wf, data_dir=d, start=START, end=END).select(lo, hi)
    assert not (runs.succeeded & runs.failed).any()
    got = [(int(us), "succeeded" if ok else "failed", None if math.isnan(t) else float(t))
           for us, ok, t in zip(runs.finished_us, runs.succeeded, runs.total, strict=True)]
    return sorted(got, key=repr)


def check_compare(d: Path, won: dict[str, dict[str, Any]]) -> None:
    for wf in WORKFLOWS:
        sides = [expected(won, wf, START, SPLIT), expected(won, wf, SPLIT, END)]
        assert [read(d, wf, START, SPLIT), read(d, wf, SPLIT, END)] == sides, wf
        r = compare(wf, data_dir=d, baseline="2026-01-01..2026-04-15T12:00",
                    current="2026-04-15T12:00..2026-06-01", status=None, now=NOW)
        for side, failures in zip(sides, r.failures, strict=True):
            assert failures.failed == sum(s == "failed" for _, s, _ in side)
            assert failures.terminal == len(side)
        assert (r.total.n_baseline, r.total.n_current) == tuple(
            sum(t is not None for _, _, t in side) for side in sides)
        r = compare(wf, data_dir=d, baseline="2026-01-01..2026-04-15T12:00",
                    current="2026-04-15T12:00..2026-06-01", now=NOW)
        assert (r.total.n_baseline, r.total.n_current) == tuple(
            sum(t is not None and s == "succeeded" for _, s, t in side) for side in sides)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=copies)
def test_compare_reads_the_winning_copies_before_and_after_compaction(
        rows: list[tuple[Any, ...]]) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-agree-compare-"))
    try:
        write(d, rows)
        won = winners(rows)
        check_compare(d, won)
        compact(d, now=NOW, checkpoint_min_bytes=0)
        check_compare(d, won)
    finally:
        shutil.rmtree(d, ignore_errors=True)
