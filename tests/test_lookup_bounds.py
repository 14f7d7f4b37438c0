"""The remembered bound of ``list``'s ranking (store/ranking.py ``newest_copies``) on hostile
copies (tests/test_agreement.py's): whatever bound a call starts from, a remembered one or any
finish time at all, ``runs(last=)`` through the shortcut is the general path's answer, after
compaction and with late rows after the checkpoint (and in a compacted month)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.store import ranking
from test_agreement import NOW, hostile, same_rows, tied, write_hostile

#: Bounds a call may start from: before every copy, between the months, tied with copies
#: (test_agreement.WHEN), after every copy; None: the one remembered, if any.
BOUNDS = (None, "2000-01-01T00:00:00+00:00", "2026-03-31T22:00:00+00:00",
          "2026-04-15T12:00:00+00:00", "2026-05-02T08:00:00.250000+00:00",
          "2030-01-01T00:00:00+00:00")


def check(d: Path, rows: list[tuple[Any, ...]], bound: str | None,
          monkeypatch: pytest.MonkeyPatch) -> None:
    slow = RunStore(d)
    slow.shortcuts = False
    ties = tied(rows)
    with monkeypatch.context() as m:
        if bound is not None:
            m.setattr(ranking, "read_entry", lambda entry: bound)
        for last, wf, status in ((3, None, None), (1, "wa", "failed")):
            (ta, bad_a), (tb, bad_b) = (s._runs(wf, last=last, since=None, status=status)
                                        for s in (RunStore(d), slow))
            assert bad_a == bad_b, (wf, status, last, bound)
            assert same_rows(ta, tb, ties), (wf, status, last, bound)


@pytest.mark.slow
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=hostile, late=hostile, bound=st.sampled_from(BOUNDS))
def test_any_bound_gives_the_general_paths_runs(rows: list[tuple[Any, ...]],
                                                late: list[tuple[Any, ...]], bound: str | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-bounds-"))
    try:
        write_hostile(d, rows)  # JSONL alone remembers no bound: compacted at once
        compact(d, now=NOW, checkpoint_min_bytes=0)
        check(d, rows, bound, monkeypatch)
        check(d, rows, bound, monkeypatch)  # the bounds remembered by the first check
        write_hostile(d, late, first=len(rows))
        check(d, rows + late, bound, monkeypatch)  # remembered before the late rows
    finally:
        shutil.rmtree(d, ignore_errors=True)
