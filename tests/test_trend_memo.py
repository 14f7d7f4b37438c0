"""`trend`'s memo of closed months (analysis.trend_memo): the per-day results of a compacted
month kept in the user cache answer for its days, and the result is the one computed without
the memo, bit for bit, and the general path's (IN_PLACE False); the memo is observed to answer
(a memo that never does fails here), and never stale: a month re-compacted with a late row, a
late row still in JSONL, a row of its days read elsewhere, a corrupted entry; entries are not
shared between statuses, workflows and bucket lists.

The store: February to April compacted (February holds a bucket of another name, which keeps it
out of the memo), May live and checkpointed with a tail; 40 runs a day (daily periods chosen),
NaN, infinities, -0.0, values that are not numbers, missing buckets, a bucket only failed runs
have, bad lines, empty days."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import append_bytes
from mantis_runs.analysis import trend_fast, trend_memo
from mantis_runs.analysis.trend import TrendResult, trend
from mantis_runs.compaction import compact
from test_trend_fast import HOSTILE, line

START = datetime(2026, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
EMPTY_DAYS = (10, 11, 40, 70)  # Feb 11-12, Mar 13, Apr 12


def when(day: int, i: int) -> str:
    """A finish time ``day`` days after 2026-02-01 (the i-th of that day)."""
    t = START + timedelta(days=day, seconds=97 * i % 86_000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard(d: Path, at: str) -> Path:
    return d / "runs_log" / f"{at[:7]}.jsonl"


def row(rng: np.random.Generator, i: int, day: int, wf: str) -> bytes:
    status = ("failed", "weird", *["succeeded"] * 6)[i % 8]
    breakdown: dict[str, Any] = {"think": float(rng.lognormal(2, 1)),
                                 "act": HOSTILE[i % len(HOSTILE)]}
    if i % 3:
        breakdown["settle"] = float(np.round(rng.lognormal(1, 0.5), 1))  # ties
    if i % 97 == 5:
        breakdown["load"] = "slow"  # not a number: no value
    if status == "failed" and 59 <= day < 89:
        breakdown["perceive"] = float(i % 5)  # April: only failed runs have it
    if day < 28 and i % 50 == 7:
        breakdown["custom"] = 1.0 + i % 4  # February: another name
    total = HOSTILE[i % 7] if i % 11 == 0 else float(rng.lognormal(3, 0.6))
    return line(f"{wf}-{i:05d}", when(day, i), status=status, total=total, breakdown=breakdown,
                wf=wf)


def build(d: Path) -> None:
    rng = np.random.default_rng(11)
    lines: dict[Path, list[bytes]] = {}
    i = 0
    for day in range(108):  # 2026-02-01 .. 2026-05-19
        if day in EMPTY_DAYS:
            continue
        for _ in range(40):
            for wf in ("w", "v") if i % 4 == 0 else ("w",):
                lines.setdefault(shard(d, when(day, i)), []).append(row(rng, i, day, wf))
            i += 1
    for path, found in lines.items():
        append_bytes(path, b"".join(found[:5]) + b"garbage\n" + b"".join(found[5:]))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    append_bytes(shard(d, when(106, 0)), line("tail-may", when(106, 1), total=3.0,
                                              breakdown={"think": 1.5}) + b'{"no_run_id": 1}\n')


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the store, and an empty cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = tmp_path / "data"
    build(d)
    return d


class Observed:
    """``trend`` with the memo's answers counted (months found in the memo, per call) and the
    rows of each in-place read (per call: a second read when the memo could not answer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, d: Path) -> None:
        self.d, self.hits, self.reads = d, [0], [[]]
        self.monkeypatch = monkeypatch
        real, read = trend_memo.read_memo, trend_fast.read_in_place

        def counted(month: trend_memo.Month) -> trend_memo.Found | None:
            found = real(month)
            self.hits[-1] += found is not None
            return found

        def rows(*a: Any) -> trend_fast.PlacedRuns | None:
            runs = read(*a)
            self.reads[-1].append(-1 if runs is None else len(runs.day))
            return runs

        monkeypatch.setattr(trend_memo, "read_memo", counted)
        monkeypatch.setattr(trend_fast, "read_in_place", rows)

    def __call__(self, **ask: Any) -> TrendResult:
        self.hits.append(0)
        self.reads.append([])
        return trend(ask.pop("wf", "w"), data_dir=self.d, now=NOW, **ask)

    def general(self, **ask: Any) -> TrendResult:
        self.monkeypatch.setattr(trend_fast, "IN_PLACE", False)
        try:
            return self(**ask)
        finally:
            self.monkeypatch.setattr(trend_fast, "IN_PLACE", True)


def bits(result: TrendResult) -> str:
    """Every number of a result as text: -0.0 and 0.0 differ, floats are exact."""
    return json.dumps(result.to_json())


def entries() -> list[Path]:
    return sorted((Path(os.environ["XDG_CACHE_HOME"]) / "mantis" / "trend-memo").glob("*/*.json"))


ASKS: list[dict[str, Any]] = [
    {"since": "2026-01-15"},
    {"since": "2026-02-01", "every": "1d", "status": "failed"},
    {"since": "2026-02-20", "every": "1d", "status": None},
    {"since": "2026-03-01", "every": "1d", "buckets": ["act", "custom", "nothing", "act",
                                                       "perceive", "total_time_s", "load"]},
]


@pytest.mark.parametrize("ask", ASKS, ids=[str(i) for i in range(len(ASKS))])
def test_a_memo_hit_is_the_result_without_it(store: Path, monkeypatch: pytest.MonkeyPatch,
                                             ask: dict[str, Any]) -> None:
    call = Observed(monkeypatch, store)
    first = call(**ask)
    assert call.hits[-1] == 0 and first.every == "1d"
    stored = entries()
    closed = 2  # March and April (February has "custom"; May is live)
    assert len(stored) == closed
    second = call(**ask)
    assert call.hits[-1] == closed  # not read: answered by the memo
    (read,), (less,) = call.reads[1], call.reads[2]
    assert 0 < less < read / 2
    assert bits(second) == bits(first)
    monkeypatch.setattr(trend_memo, "ENABLED", False)
    assert bits(call(**ask)) == bits(first)
    assert call.general(**ask) == first  # a zero may be -0.0 on one path (test_trend_fast)
    if ask is ASKS[0]:  # the hostile rows are there
        assert [m.metric for m in first.metrics] == [
            "total_time_s", "act", "custom", "perceive", "settle", "think"]
        assert not any(first.metrics[3].n)  # a bucket of failed runs, known from April's entry
        assert first.skipped_lines == {"2026-05.jsonl": 2}
        march = first.periods.index(datetime(2026, 3, 13, tzinfo=UTC).date())
        assert first.total.n[march] == 0 and first.total.p50[march] is None


def test_a_closed_month_changed_is_read_again(store: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A late row of March: in JSONL, March is read in place; compacted (a new part), the
    entry of the old part is not used, the new one is kept."""
    call = Observed(monkeypatch, store)
    before = call(since="2026-02-01")
    call(since="2026-02-01")
    assert call.hits[-1] == 2
    append_bytes(shard(store, when(40, 0)), line("late", when(40, 5), total=1e6,
                                                 breakdown={"think": 2.0}))
    late = call(since="2026-02-01")
    assert call.hits[-1] == 1  # April only
    assert late == call.general(since="2026-02-01") and late != before
    day = late.periods.index(datetime(2026, 3, 13, tzinfo=UTC).date())
    assert late.total.n[day] == 1 and late.total.p50[day] == 1e6  # was an empty day
    compact(store, now=NOW, checkpoint_min_bytes=0)
    for hits in (1, 2):  # the new part's entry kept, then found
        again = call(since="2026-02-01")
        assert call.hits[-1] == hits and bits(again) == bits(late)
    assert again == call.general(since="2026-02-01")


def test_a_row_on_a_memo_months_day_read_elsewhere(store: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-written March row in May's shard: the months found cannot answer alone; every
    month is read (the general path's result)."""
    call = Observed(monkeypatch, store)
    call(since="2026-02-01")
    append_bytes(shard(store, when(106, 0)), line("odd", when(40, 7), total=5.0))
    odd = call(since="2026-02-01")
    assert call.hits[-1] == 2  # found, then not used: every month read
    fewer, every_row = call.reads[-1]
    assert fewer < every_row == call.reads[1][0] + 1
    assert odd == call.general(since="2026-02-01")
    assert odd.total.n[odd.periods.index(datetime(2026, 3, 13, tzinfo=UTC).date())] == 1


def test_weeks_chosen_with_days_from_the_memo(store: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries kept by daily failed runs: without ``every``, their counts choose weeks (5 a
    day), and the weeks are computed as without the memo."""
    call = Observed(monkeypatch, store)
    call(since="2026-02-01", every="1d", status="failed")
    weekly = call(since="2026-02-01", status="failed")
    assert call.hits[-1] == 2 and weekly.every == "1w" and weekly.weekly_because == 5.0
    assert len(call.reads[-1]) == 2 and call.reads[-1][1] == call.reads[1][0]
    assert weekly == call.general(since="2026-02-01", status="failed")


def test_a_corrupted_entry_is_ignored(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    call = Observed(monkeypatch, store)
    first = call(since="2026-02-01")
    damage: list[Callable[[str], str]] = [
        lambda t: t[:len(t) // 2], lambda t: "[]",
        lambda t: t.replace('"n": [', '"n": [1, ', 1),
        lambda t: t.replace('"total_time_s"', '"other"', 1)]
    for change in damage:
        for entry in entries():
            entry.write_text(change(entry.read_text()))
        assert bits(call(since="2026-02-01")) == bits(first)
        assert call.hits[-1] == 0
        assert bits(call(since="2026-02-01")) == bits(first) and call.hits[-1] == 2


def test_entries_are_not_shared(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another status, workflow or bucket list finds none of the entries kept before it."""
    call = Observed(monkeypatch, store)
    asks: list[dict[str, Any]] = [
        {"every": "1d"}, {"every": "1d", "status": "failed"}, {"every": "1d", "status": None},
        {"every": "1d", "wf": "v"}, {"every": "1d", "buckets": ["think"]},
        {"every": "1d", "buckets": ["think", "act"]}]
    for ask in asks:
        found = call(since="2026-02-01", **ask)
        assert call.hits[-1] == 0, ask
        assert found == call.general(since="2026-02-01", **ask)
    assert len(entries()) == 2 * len(asks) + 1  # v has no "custom": its February is kept
    for ask in asks:
        assert bits(call(since="2026-02-01", **ask)) == bits(call(since="2026-02-01", **ask))
        assert call.hits[-1] == 2 + ("wf" in ask), ask
