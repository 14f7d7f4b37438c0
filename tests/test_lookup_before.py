"""``stats(before=...)`` (``report``'s baseline) leaves out the Parquet files whose footer says
every dated row finished at or after the bound (stats/plan.py ``plan_before``), and still gives
the answer of reading every file: hostile copies (tests/test_agreement.py's oracle and lines),
late rows in a compacted month, a later copy of a run in another month or workflow, a copy read
from JSONL whose later copy is in a skipped part, and runs exactly at the bound.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers import append_bytes
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.db.connection import snapshot
from mantis_runs.stats import plan as planning
from mantis_runs.stats.engine import stats
from mantis_runs.stats.sources import live_reads, tail_scratch
from test_agreement import NOW, WORKFLOWS, copies, line, newest, winners, write

#: bounds: each month's first instant, ties with WHEN values, one between two copies
BOUNDS = tuple(datetime.fromisoformat(t) for t in (
    "2026-03-10T10:00:00+00:00", "2026-04-01T00:00:00+00:00", "2026-04-15T12:00:00+00:00",
    "2026-05-01T00:00:00+00:00", "2026-05-10T09:00:00+00:00", "2026-06-01T00:00:00+00:00"))


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def expected(won: dict[str, dict[str, Any]], wf: str, status: str | None, last: int,
             before: datetime) -> tuple[int, list[float] | None]:
    """The oracle: the newest ``last`` runs of ``wf`` whose winning copy is dated before
    ``before`` (with ``status``), and numpy's percentiles of their finite totals."""
    mine = [r for r in won.values() if r["workflow_id"] == wf
            and (status is None or r["status"] == status)
            and r["finished_at"] is not None and r["finished_at"] < before]
    order = newest(mine)[:last]
    totals = [won[i]["total"] for i in order if won[i]["total"] is not None]
    if not totals:
        return len(order), None
    return len(order), [float(x) for x in np.percentile(np.array(totals), [50, 95, 99])]


def check(d: Path, won: dict[str, dict[str, Any]], wfs: tuple[str, ...] = WORKFLOWS) -> None:
    for i, before in enumerate(BOUNDS):
        status, last = (("succeeded", 10), (None, 1))[i % 2]
        for wf in wfs:
            r = stats(wf, data_dir=d, last=last, status=status, before=before)
            qs = None if r.total.p50 is None else [r.total.p50, r.total.p95, r.total.p99]
            assert (r.run_count, qs) == expected(won, wf, status, last, before), (
                wf, status, last, before)


def after_files(d: Path, before: datetime) -> list[str]:
    """The names of the files ``plan_before`` leaves out for ``before``."""
    scratch = tail_scratch()
    try:
        with snapshot(d) as found:
            months = list(found.values())
            live = live_reads(d, months, scratch)
            _, after = planning.plan_before(duckdb.connect(), months, live, None, before)
            return sorted(Path(f).name for f in after.files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.slow
@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=copies)
def test_the_baseline_agrees_with_the_oracle_after_compaction(rows: list[tuple[Any, ...]]
                                                              ) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-before-"))
    try:
        write(d, rows)
        compact(d, now=NOW, checkpoint_min_bytes=0)  # March and April to parts; May checkpointed
        check(d, winners(rows))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def build(d: Path, rows: list[tuple[Any, ...]], *, tail: list[tuple[Any, ...]] = ()
          ) -> dict[str, dict[str, Any]]:
    """``rows`` compacted (March, April parts; May's checkpoint), then ``tail`` appended."""
    write(d, rows)
    compact(d, now=NOW, checkpoint_min_bytes=0)
    for i, (run_id, wf, status, when, total, shard) in enumerate(tail):
        append_bytes(d / "runs_log" / f"{shard}.jsonl",
                     line(run_id, wf, status, when, total, 100.0 + i))
    won = winners([*rows, *tail])
    check(d, won, tuple(sorted({r[1] for r in [*rows, *tail]})))
    return won


def test_a_late_row_keeps_its_part_planned(tmp_path: Path) -> None:
    # r2 finished in March but sits in the April shard, so in April's part
    build(tmp_path, [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                     ("r2", "wa", "succeeded", "2026-03-20T10:00:00Z", 2.0, "2026-04"),
                     ("r3", "wa", "succeeded", "2026-04-20T10:00:00Z", 3.0, "2026-04"),
                     ("r4", "wa", "succeeded", "2026-05-02T10:00:00Z", 4.0, "2026-05")])
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert after_files(tmp_path, april) == sorted(
        [p.name for p in (tmp_path / "checkpoints").glob("*.parquet")])
    r = stats("wa", data_dir=tmp_path, before=april)
    assert (r.run_count, r.total.p50) == (2, 1.5)


@pytest.mark.parametrize("later_wf", ["wa", "wb"])
def test_a_later_copy_in_a_skipped_part_moves_the_run_past_the_bound(tmp_path: Path,
                                                                     later_wf: str) -> None:
    build(tmp_path, [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                     ("r2", "wa", "succeeded", "2026-03-12T10:00:00Z", 2.0, "2026-03"),
                     ("r1", later_wf, "failed", "2026-04-02T10:00:00Z", 9.0, "2026-04"),
                     ("r3", "wa", "succeeded", "2026-05-02T10:00:00Z", 4.0, "2026-05"),
                     ("r2", "wa", "succeeded", "2026-05-03T10:00:00Z", 8.0, "2026-05")])
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert len(after_files(tmp_path, april)) == 2  # April's part and May's checkpoint
    r = stats("wa", data_dir=tmp_path, before=april, status=None)
    assert r.run_count == 0
    # r2 is at the bound; r1 counts when its later copy is still wa's
    assert stats("wa", data_dir=tmp_path, before=datetime(2026, 5, 3, 10, tzinfo=UTC),
                 status=None).run_count == (2 if later_wf == "wa" else 1)


def test_a_copy_read_from_jsonl_is_checked_against_the_skipped_parts(tmp_path: Path) -> None:
    # after compaction, a hand-written line of r1 dated in March lands in May's live tail; its
    # later copy is in April's part, which the bound leaves unread
    won = build(tmp_path,
                [("r1", "wa", "succeeded", "2026-04-02T10:00:00Z", 9.0, "2026-04"),
                 ("r2", "wa", "succeeded", "2026-04-03T10:00:00Z", 2.0, "2026-04"),
                 ("r3", "wa", "succeeded", "2026-05-02T10:00:00Z", 4.0, "2026-05")],
                tail=[("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-05"),
                      ("r4", "wa", "succeeded", "2026-03-11T10:00:00Z", 3.0, "2026-05")])
    assert won["r1"]["finished_at"] == datetime(2026, 4, 2, 10, tzinfo=UTC)
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert len(after_files(tmp_path, april)) == 2
    r = stats("wa", data_dir=tmp_path, before=april)
    assert (r.run_count, r.total.p50) == (1, 3.0)  # r4 alone


def test_a_run_exactly_at_the_bound_is_left_out(tmp_path: Path) -> None:
    at = "2026-04-15T12:00:00Z"
    build(tmp_path, [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                     ("r2", "wa", "succeeded", at, 2.0, "2026-04"),
                     ("r3", "wa", "succeeded", "2026-04-20T10:00:00Z", 3.0, "2026-04")])
    bound = datetime(2026, 4, 15, 12, tzinfo=UTC)
    assert len(after_files(tmp_path, bound)) == 1  # April's part: its earliest is the bound
    r = stats("wa", data_dir=tmp_path, before=bound)
    assert (r.run_count, r.total.p50) == (1, 1.0)


def test_the_oldest_runs_baseline_plans_no_part(tmp_path: Path) -> None:
    build(tmp_path, [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                     ("r2", "wa", "succeeded", "2026-04-20T10:00:00Z", 3.0, "2026-04"),
                     ("r3", "wa", "succeeded", "2026-05-02T10:00:00Z", 4.0, "2026-05")])
    store = RunStore(tmp_path)
    assert len(after_files(tmp_path, datetime(2026, 3, 10, 10, tzinfo=UTC))) == 3
    rep = store.report("r1")
    assert rep.baseline is not None and rep.baseline.run_count == 0
    general = RunStore(tmp_path)
    general.shortcuts = False
    for run_id in ("r1", "r2", "r3"):
        assert store.report(run_id).to_json() == general.report(run_id).to_json()
