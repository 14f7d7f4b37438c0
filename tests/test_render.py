"""The CLI's renderers on hand-made results: exact text, and the shared rules they use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mantis_runs import messages
from mantis_runs.cli import render
from mantis_runs.stats import BucketStats, StatsResult


@pytest.mark.parametrize(("skipped", "text"), [
    ({}, None),
    ({"2026-04.jsonl": 0}, None),
    ({"2026-04.jsonl": 1}, "skipped 1 malformed line (2026-04.jsonl: 1)"),
    ({"b": 1, "a": 1}, "skipped 2 malformed lines (a: 1, b: 1)"),
])
def test_skipped_lines_message(skipped: dict[str, int], text: str | None) -> None:
    assert messages.skipped_lines(skipped) == text
    assert render.skipped_warning(skipped) == (None if text is None else f"warning: {text}")


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2026, 5, 13, 18, 9, 34, tzinfo=UTC), "2026-05-13T18:09:34Z"),
    (datetime(2026, 5, 13, 18, 9, 34, 123456, tzinfo=UTC), "2026-05-13T18:09:34.123456Z"),
    (datetime(2026, 5, 13, 20, 9, 34, tzinfo=timezone(timedelta(hours=2))),
     "2026-05-13T18:09:34Z"),
    (datetime(999, 5, 1, tzinfo=UTC), "0999-05-01T00:00:00Z"),
    (datetime(2026, 5, 13, 18, 9, 34), "2026-05-13T18:09:34"),  # naive: no zone to name
])
def test_plain_timestamps(value: datetime, text: str) -> None:
    assert render.plain(value) == text


def test_runs_list_times_to_the_second_in_utc() -> None:
    row: Any = {"finished_at": datetime(999, 5, 1, 2, 3, 4, 500000, tzinfo=UTC),
                "status": "failed", "workflow_id": "wf", "run_id": "r1", "total_time_s": 1.5,
                "model": None, "error": "boom\n  at x"}
    assert render.runs_list([row]) == (
        "finished (UTC)       status    workflow    run_id      total  model    error\n"
        "0999-05-01 02:03:04  failed    wf          r1           1.5s           boom at x")


def test_stats_since_is_shown_in_utc() -> None:
    since = datetime(2026, 5, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    total = BucketStats("total_time_s", 0, None, None, None)
    r = StatsResult("wf", 0, "succeeded", 100, since, [], total)
    assert render.stats_text(r) == (
        "No succeeded runs of wf finished since 2026-04-30 22:00 UTC found.")
