"""`trend`'s memo of closed months (analysis.trend_memo): the per-day results of a compacted
month kept in the user cache answer for its days, and the result is the one computed without
the memo, bit for bit, and the general path's (IN_PLACE False); the memo is observed to answer
(a memo that never does fails here), and never stale: a month re-compacted with a late row, a
late row still in JSONL, a row of its days read elsewhere, a corrupted entry; entries are not
shared between statuses, workflows and bucket lists. `mantis runs compact` fills the memo
(analysis.trend_warm): the first trend after it finds the months compacted, a month compacted
again is kept anew, a failing warm-up changes nothing of the compaction's result, and its
entries, a month proven and read once for all its workflows, are byte for byte those of each
workflow asked on its own (copies of runs, late rows in JSONL and in another month's part).

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

from helpers import append_bytes, run_cli
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
    """The rows of ``d`` (write_shards) compacted at NOW, and a tail in May's live shard."""
    compact(d, now=NOW, checkpoint_min_bytes=0)
    append_bytes(shard(d, when(106, 0)), line("tail-may", when(106, 1), total=3.0,
                                              breakdown={"think": 1.5}) + b'{"no_run_id": 1}\n')


def write_shards(d: Path) -> None:
    """The rows of February to May 19 in JSONL shards, a bad line in each."""
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


@pytest.fixture
def store(raw: Path) -> Path:
    """A copy of the store, and an empty cache."""
    build(raw)
    return raw


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
        return trend(ask.pop("wf", "w"), data_dir=self.d, now=ask.pop("now", NOW), **ask)

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


JUNE = datetime(2026, 6, 1, tzinfo=UTC)  # every month of the store closed and in the window


@pytest.fixture
def raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store's rows in JSONL only (February to May, all closed now), and an empty cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = tmp_path / "data"
    write_shards(d)
    return d


def compact_cli(d: Path, *more: str) -> tuple[int, str]:
    code, out, _err = run_cli("runs", "compact", "--data-dir", str(d), "--json", *more)
    report = json.loads(out)
    return code, json.dumps([m["month"] for m in report["months"]])


def test_compact_fills_the_memo_for_the_first_trend(raw: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`mantis runs compact` keeps each compacted month's entry for every workflow (the
    default question): the first `trend` of each finds every closed month it may hold (not
    February for w: a bucket of another name), and is the result computed without the memo,
    bit for bit, and the general path's."""
    assert compact_cli(raw) == (0, '["2026-02", "2026-03", "2026-04", "2026-05"]')
    assert len(entries()) == 3 + 4  # w: March to May; v: February too
    call = Observed(monkeypatch, raw)
    # v: 10 runs a day, weeks unless days are asked for; every month found, May read still
    for ask in ({"wf": "w"}, {"wf": "v", "every": "1d"}):
        hit = call(**ask, since="2026-01-15", now=JUNE)  # the first trend: from the memo
        assert call.hits[-1] == 3 + (ask["wf"] == "v") and len(call.reads[-1]) == 1
        monkeypatch.setattr(trend_memo, "ENABLED", False)
        without = call(**ask, since="2026-01-15", now=JUNE)
        assert 0 < 3 * call.reads[-2][0] < call.reads[-1][0]  # one month read, then all
        assert bits(hit) == bits(without) and hit.every == "1d"
        assert call.general(**ask, since="2026-01-15", now=JUNE) == hit
        monkeypatch.setattr(trend_memo, "ENABLED", True)
    assert len(entries()) == 7  # nothing more kept: every entry was there


def test_compact_no_warm_keeps_nothing(raw: Path) -> None:
    """`compact --no-warm` compacts the same months and leaves the memo empty."""
    assert compact_cli(raw, "--no-warm") == (0, '["2026-02", "2026-03", "2026-04", "2026-05"]')
    assert entries() == []


def test_a_month_compacted_again_is_warmed_again(raw: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A late row of March compacted into a new part: March's entry is written for the new
    part (the old one never answers) and holds the late row."""
    compact_cli(raw)
    before = set(entries())
    append_bytes(shard(raw, when(40, 0)), line("late", when(40, 5), total=1e6,
                                               breakdown={"think": 2.0}))
    assert compact_cli(raw) == (0, '["2026-03"]')
    assert len(set(entries()) - before) == 2  # March's new part's, of w and v (old: unused)
    call = Observed(monkeypatch, raw)
    late = call(since="2026-02-01", now=JUNE)
    assert call.hits[-1] == 3
    day = late.periods.index(datetime(2026, 3, 13, tzinfo=UTC).date())
    assert late.total.n[day] == 1 and late.total.p50[day] == 1e6  # was an empty day
    assert late == call.general(since="2026-02-01", now=JUNE)


def test_a_failing_warm_up_leaves_compaction_alone(raw: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up raising (while listing a month's workflows, or while keeping one) changes
    neither the report nor the exit status; nothing is kept."""
    from mantis_runs.analysis import trend_warm

    def broken(*_a: Any) -> None:
        raise RuntimeError("warm-up broken")

    expected = run_cli("runs", "compact", "--data-dir", str(raw), "--json", "--dry-run")
    assert expected.code == 0
    monkeypatch.setattr(trend_warm, "keep", broken)
    code, out, err = run_cli("runs", "compact", "--data-dir", str(raw), "--json")
    assert (code, err) == (0, "") and json.loads(out)["months"][0]["month"] == "2026-02"
    assert entries() == []
    append_bytes(shard(raw, when(40, 0)), line("late", when(40, 5), total=1.0))
    monkeypatch.setattr(trend_warm, "_warm_month", broken)
    assert compact_cli(raw) == (0, '["2026-03"]') and entries() == []


MONTHS = ("2026-02", "2026-03", "2026-04")
BOTH = [(m, wf) for m in MONTHS for wf in ("v", "w")]
#: Per case: a line in April's shard before compacting at NOW, one in May's live shard after
#: (besides a tail and a row of a March day of v, the first workflow, whose JSONL rows the
#: warm-up gathers with their breakdowns), the (month, workflow) asked on their own (a month
#: not proven at once for all) and the entries kept
WARM_CASES: dict[str, tuple[bytes, bytes, list[tuple[str, str]], int]] = {
    # a March row of v in April's part, read for March (no April: its footer does not prove
    # its rows); w: not February (a bucket of another name)
    "once": (line("march-v", when(45, 11), wf="v", total=5.0, breakdown={"think": 3.0}), b"",
             [], 3),
    # a copy in JSONL of a March run of w: no in-place read of w from February or March
    "copy": (b"", line("w-01680", when(106, 3), total=2.0), BOTH[:4], 4),
    # a copy in April's part of a March run of w (a shared run_id): none of w
    "shared": (line("w-01680", when(75, 3), total=2.0), b"", BOTH, 3),
    # a March row of w in May's shard, which the warm-up gathers without its breakdowns
    "late": (b"", line("late-w", when(45, 7), total=2.0, breakdown={"think": 2.5}),
             BOTH[2:4], 5),
}


@pytest.mark.parametrize("case", WARM_CASES)
def test_the_warm_up_keeps_what_each_workflow_alone_keeps(raw: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          case: str) -> None:
    """The warm-up proves and reads a month once for all its workflows (May live, a tail and
    late rows in its JSONL): its entries are byte for byte those of each workflow asked on its
    own (``keep_month``, a snapshot and a proof of its own), which it falls back to when the
    month is not proven for all at once."""
    import shutil

    from mantis_runs.analysis import trend_warm
    from mantis_runs.log.layout import month_start, next_month

    before, after, alone, kept = WARM_CASES[case]
    append_bytes(shard(raw, when(75, 0)), before)
    compact(raw, now=NOW, checkpoint_min_bytes=0)
    append_bytes(shard(raw, when(106, 0)), line("tail-may", when(106, 1), total=3.0) + line(
        "late-v", when(45, 9), wf="v", total=4.0, breakdown={"think": -0.0}) + after)
    asked: list[tuple[str, str]] = []
    real = trend_warm.keep_month

    def each(d: Path, wf: str, start: datetime, end: datetime) -> None:
        asked.append((start.strftime("%Y-%m"), wf))
        real(d, wf, start, end)

    monkeypatch.setattr(trend_warm, "keep_month", each)
    assert trend_warm.warm(raw, MONTHS) == 6 and asked == alone
    warmed = {p.name: p.read_bytes() for p in entries()}
    assert len(warmed) == kept
    shutil.rmtree(entries()[0].parent.parent)
    for month in MONTHS:
        for wf in ("v", "w"):
            real(raw, wf, month_start(month), month_start(next_month(month)))
    assert {p.name: p.read_bytes() for p in entries()} == warmed
