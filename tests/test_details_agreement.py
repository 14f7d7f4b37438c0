"""The details of `read_runs(details=True)` (run_id, error, extra of each run's winning copy)
against the oracle of tests/test_agreement.py: the same hostile copies, each with an error text
and extra keys of its own, before and after compaction (JSONL lines, Parquet parts, a
checkpoint and its tail). Copies equal in every key of the copy order are interchangeable by
that rule: for those runs, any of the tied copies' details is the answer."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers import append_bytes
from mantis_runs.analysis.runs import read_runs
from mantis_runs.compaction import compact
from test_agreement import MISSING, NOW, WORKFLOWS, copies, finite, when_of

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
Details = tuple[str | None, dict[str, Any] | None]


def details_of(i: int) -> Details:
    """Copy ``i``'s error text and extra keys: every third copy has no error, every fourth
    no extra key; the others differ from copy to copy."""
    error = None if i % 3 == 0 else f"E{i}: failed at 'step {i}'\nsecond line"
    extra = None if i % 4 == 0 else {"copy": i, "host": f"h{i % 2}", "tags": ["é", i]}
    return error, extra


def write(d: Path, rows: list[tuple[Any, ...]]) -> None:
    for i, (run_id, wf, status, when, total, shard) in enumerate(rows):
        row: dict[str, Any] = {"run_id": run_id, "workflow_id": wf, "status": status}
        if when is not MISSING:
            row["finished_at"] = when
        if total is not MISSING:
            row["total_time_s"] = total
        error, extra = details_of(i)
        row["error"] = error
        row.update(extra or {})
        append_bytes(d / "runs_log" / f"{shard}.jsonl", json.dumps(row).encode() + b"\n")


def expected(rows: list[tuple[Any, ...]], wf: str) -> dict[str, list[Details]]:
    """run_id -> the details of its tied best copies, for the workflow's dated runs whose
    winning copy finished in [START, END)."""
    best: dict[str, tuple[tuple[Any, ...], list[Details], str]] = {}
    for i, (run_id, row_wf, status, when, total, _shard) in enumerate(rows):
        fin, tot = when_of(when), finite(total)
        key = (fin is not None, fin or datetime.min.replace(tzinfo=UTC), tot is not None,
               tot or 0.0, status, row_wf)
        cur = best.get(run_id)
        if cur is None or key > cur[0]:
            best[run_id] = (key, [details_of(i)], row_wf)
        elif key == cur[0]:
            cur[1].append(details_of(i))
    return {run_id: found for run_id, (key, found, row_wf) in best.items()
            if row_wf == wf and key[0] and START <= key[1] < END}


def read(d: Path, wf: str) -> dict[str, Details]:
    runs = read_runs(wf, data_dir=d, start=START, end=END, details=True)
    assert runs.run_ids is not None and runs.errors is not None and runs.extra is not None
    got = {str(r): (e, None if x is None else json.loads(x))
           for r, e, x in zip(runs.run_ids, runs.errors, runs.extra, strict=True)}
    assert len(got) == len(runs)
    # subset and select carry the details in the same order as the other arrays
    window = runs.select(START, END)
    assert window.run_ids is not None and list(window.run_ids) == list(runs.run_ids)
    picked = runs.subset(np.arange(len(runs))[::-1])
    assert picked.errors is not None and list(picked.errors) == list(runs.errors)[::-1]
    return got


def check(d: Path, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Details]]:
    answers = {}
    for wf in WORKFLOWS:
        want, got = expected(rows, wf), read(d, wf)
        assert set(got) == set(want), wf
        for run_id, found in got.items():
            assert found in want[run_id], (wf, run_id, found, want[run_id])
        answers[wf] = got
    return answers


def untied(answers: dict[str, dict[str, Details]], rows: list[tuple[Any, ...]],
           ) -> dict[str, dict[str, Details]]:
    """The answers of the runs without tied best copies (their details are fixed)."""
    return {wf: {r: v for r, v in got.items() if len(expected(rows, wf)[r]) == 1}
            for wf, got in answers.items()}


@pytest.mark.slow
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=copies)
def test_details_are_the_winning_copys_before_and_after_compaction(
        rows: list[tuple[Any, ...]]) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-agree-details-"))
    try:
        write(d, rows)
        before = check(d, rows)
        compact(d, now=NOW, checkpoint_min_bytes=0)  # March, April to parts; May checkpointed
        after = check(d, rows)
        assert untied(before, rows) == untied(after, rows)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_later_copy_under_another_workflow_takes_its_details_along(tmp_path: Path) -> None:
    rows = [("r1", "wa", "failed", "2026-04-15T12:00:00Z", 5.0, "2026-04"),
            ("r1", "wb", "failed", "2026-05-02T08:00:00.250000Z", 1.0, "2026-05"),
            ("r2", "wa", "succeeded", "2026-04-15T12:00:00Z", math.nan, "2026-04"),
            ("r2", "wa", "failed", "2026-04-15T12:00:00Z", 7.5, "2026-05")]
    write(tmp_path, rows)
    for _ in range(2):
        assert read(tmp_path, "wb") == {"r1": details_of(1)}
        assert read(tmp_path, "wa") == {"r2": details_of(3)}
        compact(tmp_path, now=NOW, checkpoint_min_bytes=0)


def test_without_details_nothing_is_read(tmp_path: Path) -> None:
    write(tmp_path, [("r1", "wa", "failed", "2026-04-15T12:00:00Z", 5.0, "2026-04")])
    runs = read_runs("wa", data_dir=tmp_path, start=START, end=END)
    assert (runs.run_ids, runs.errors, runs.extra) == (None, None, None)
    assert runs.subset(slice(0, 1)).run_ids is None
