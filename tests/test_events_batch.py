"""Batches through the events' fast paths (``events._plain_batch``, lines built column by
column by ``log/event_lines.py``; ``_plain_line`` for each event of a batch it cannot take
whole) and through the full one (each event by ``_prepare_one``): the same
bytes for every month, the same refusals in the same words, the same notes. Hostile values in
columns (NaN, ±Infinity, huge ints, -0.0, bools among ints, lone surrogates, subclasses,
escapes), keys in other orders, mixed months, oversized lines; 30,000 random events, and
hypothesis batches."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mantis_runs.log.event_lines as event_lines
import mantis_runs.log.events as events
from mantis_runs import append_events
from mantis_runs.log.events import MAX_EVENT_BYTES, EventRefused, prepare_events

NOW = datetime(2026, 12, 5, 5, 19, 33, 123456, tzinfo=UTC)
DEFAULT = ("2026-12", "2026-12-05T05:19:33.123456Z")
RID = "20260513_180527_1a2b3c4d"

#: What a prepared batch comes to: the bytes of each month, what the writer's warning calls it
#: and its notes; or the refusal's words.
Outcome = tuple[dict[str, bytes], str, list[str]] | str


def outcome(batch: list[Any]) -> Outcome:
    try:
        prepared = prepare_events(batch, now=NOW)
    except EventRefused as exc:
        return f"refused: {exc}"
    months: dict[str, bytes] = {}
    for month, data in prepared.lines:
        months[month] = months.get(month, b"") + data
    return dict(sorted(months.items())), prepared.what, prepared.notes


def slow_outcome(batch: list[Any]) -> Outcome:
    """The committed path: every event by ``_prepare_one``."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(events, "_plain_batch", lambda items, default: None)
        m.setattr(events, "_plain_line", lambda event, default: None)
        return outcome(batch)


def fast_taken(batch: list[Any]) -> bool:
    return columns_written(batch) is not None


def columns_written(batch: list[Any]) -> dict[str, bytes] | None:
    """The bytes of each month by ``_plain_batch`` itself (whatever the batch's size), or None
    when it does not take the batch."""
    try:
        pairs = events._plain_batch(batch, DEFAULT)
    except Exception:  # a caller's key raised: prepare_events goes event by event
        return None
    if pairs is None:
        return None
    months: dict[str, bytes] = {}
    for month, data in pairs:
        months[month] = months.get(month, b"") + data
    return dict(sorted(months.items()))


def same(batch: list[Any]) -> Outcome:
    """The batch's outcome, asserted equal on every path: as prepare_events goes, event by
    event by the full path alone, and by ``_plain_batch`` whenever it takes the batch."""
    fast = outcome(batch)
    slow = slow_outcome(batch)
    assert fast == slow
    by_columns = columns_written(batch)
    if by_columns is not None:
        assert isinstance(slow, tuple) and by_columns == slow[0]
    return fast


def written(batch: list[Any]) -> tuple[dict[str, bytes], str, list[str]]:
    """The batch's outcome, the same on both paths, and not a refusal."""
    result = same(batch)
    assert isinstance(result, tuple), result
    return result


def step(i: int, **extra: Any) -> dict[str, Any]:
    return {"run_id": RID, "type": "step_finished",
            "fields": {"step": f"think-{i}", "status": "succeeded", "seconds": 1.25 + i,
                       "worker": "gpu-a100-7", **extra}}


class _Text(str):
    pass


class _AlwaysEqual(str):
    """A key that claims to equal anything (and hashes as "status")."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("status")


class _BadHash(str):
    """A key that hashes once, to be put in a dict, and then raises."""

    calls = 0

    def __hash__(self) -> int:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("no hash")
        return hash("x")


class _Num(float):
    def __repr__(self) -> str:
        return "not-json"


def sized(event: dict[str, Any], size: int) -> dict[str, Any]:
    """``event`` with a field ``a`` that makes its line ``size`` bytes long, newline included."""
    base = len(events._prepare_one({**event, "fields": {"a": ""}}, DEFAULT)[1])
    return {**event, "fields": {"a": "x" * (size - base)}}


# --------------------------------------------------------------------------------------------
# batches the fast path takes whole


def _columns_of_every_kind() -> list[dict[str, Any]]:
    values: list[tuple[Any, ...]] = [
        (1, True, 1.0, "1", None),  # an int, a bool, a float, a str and None in one column
        (-0.0, 0.0, 5e-324, 1e16, 1.7976931348623157e308),  # floats never merged: 0.0 == -0.0
        (True, False, None, True, None),
        (2**63, -(2**80), 0, 7, -1),
        ("a", "a", "b", "a", "a"),  # repeated texts: each encoded once
        ("},{\"run_id\":", "\\\"", "\n\t\x00\x7f", "\u2028\u2029", "日本語 ✓"),
    ]
    return [{"run_id": RID, "type": "t", "fields": {f"k{j}": col[i] for j, col in
                                                    enumerate(values)}} for i in range(5)]


FAST_BATCHES: dict[str, list[dict[str, Any]]] = {
    "steps": [step(i) for i in range(100)],
    "every kind of column": _columns_of_every_kind(),
    "all the same": [step(0)] * 7,
    "constant bool and None columns": [{"run_id": "r", "type": "t", "fields": {"ok": True,
                                                                            "x": None}}] * 3,
    "fields in other orders": [step(0), {**step(1), "fields": {"worker": "w", "step": "s"}},
                               {**step(2), "fields": {}}, {"run_id": RID, "type": "t"},
                               {"run_id": RID, "type": "t", "fields": None}],
    "top-level keys in other orders": [
        {"type": "a", "run_id": "r-1", "fields": {"n": 1}},
        {"fields": {"n": 2}, "type": "b", "run_id": "r-2", "ts": None},
        {"run_id": "r\"3\\", "type": "c"}],
    "run_ids and types that vary": [{"run_id": f"r-{i % 3}\"", "type": f"t.{i % 2}:x-y_z",
                                     "fields": {"i": i}} for i in range(9)],
    "keys that need escaping": [{"run_id": "r", "type": "t",
                                 "fields": {"%s": "%d", "{a}": 1, 'q"': 2, "ü\n": 3, "": 4}}] * 2,
    "ts of every plain kind": [
        {**step(0), "ts": "2026-05-13T20:09:34+02:00"},
        {**step(1), "ts": datetime(2026, 5, 13, 18, 9, 34)},
        {**step(2), "ts": datetime(2026, 5, 13, 13, 9, 34, tzinfo=timezone(timedelta(hours=-5)))},
        {**step(3), "ts": date(2026, 5, 13)}, {**step(4), "ts": "2026-05-13T18:09:34Z"},
        {**step(5), "ts": datetime(2026, 5, 13, 18, 9, 34, tzinfo=UTC)}],
    "two months": [{**step(i), "ts": f"2026-0{5 + i % 2}-13T18:09:34Z"} for i in range(6)],
    "over 16 KiB together, each line under": [step(i, note="n" * 500) for i in range(40)],
    "a line exactly at the cap": [step(0), sized({"run_id": "r", "type": "t"}, MAX_EVENT_BYTES),
                                  step(1)],
    "two months, a line at the cap": [
        step(0), sized({"run_id": "r", "type": "t", "ts": "2026-05-13T18:09:34Z"},
                       MAX_EVENT_BYTES)],
}


@pytest.mark.parametrize("name", FAST_BATCHES)
def test_a_batch_of_common_events_is_written_as_the_full_path_writes_it(name: str) -> None:
    batch = FAST_BATCHES[name]
    assert fast_taken(batch)  # the comparison below is not vacuous
    months, what, notes = written(batch)
    assert sum(data.count(b"\n") for data in months.values()) == len(batch)
    assert notes == [] and (what == f"batch of {len(batch)} events" or len(batch) == 1)


def test_the_line_at_the_cap_is_at_the_cap() -> None:
    months, _, _ = written(FAST_BATCHES["a line exactly at the cap"])
    lines = months["2026-12"].split(b"\n")
    assert len(lines) == 4 and len(lines[1]) + 1 == MAX_EVENT_BYTES


def test_a_batch_of_one_month_is_one_join() -> None:
    prepared = prepare_events(FAST_BATCHES["steps"], now=NOW)
    assert len(prepared.lines) == 1 and prepared.lines[0][0] == "2026-12"
    assert prepared.lines[0][1].count(b"\n") == 100


def test_a_small_batch_goes_event_by_event_to_the_same_bytes() -> None:
    small = FAST_BATCHES["steps"][:events.MIN_COLUMN_BATCH - 1]
    prepared = prepare_events(small, now=NOW)
    assert len(prepared.lines) == len(small)  # one pair per event: not built by columns
    large = prepare_events(FAST_BATCHES["steps"][:events.MIN_COLUMN_BATCH], now=NOW)
    assert len(large.lines) == 1  # by columns
    assert b"".join(data for _, data in prepared.lines) == b"".join(
        large.lines[0][1].splitlines(keepends=True)[:len(small)])


# --------------------------------------------------------------------------------------------
# one odd event among common ones: the batch goes event by event, to the same outcome


ODD: dict[str, Any] = {
    "NaN": step(0, x=math.nan), "-Infinity": step(0, x=-math.inf),
    "a huge int": step(0, x=10**5000), "a lone surrogate": step(0, x="a\ud800"),
    "a lone surrogate in a key": step(0, **{"k\udc00": 1}),
    "a nested dict": step(0, x={"a": 1}), "a list": step(0, x=[1, 2]),
    "a datetime value": step(0, x=datetime(2026, 1, 1)), "a set": step(0, x={1}),
    "a float subclass": step(0, x=_Num(1.5)), "a str subclass value": step(0, x=_Text("v")),
    "a str subclass key": step(0, **{_Text("k"): 1}),
    "a key that equals anything": {**step(0), "fields": {"step": "think-0",
                                                         _AlwaysEqual("status"): "x",
                                                         "seconds": 1.25, "worker": "w"}},
    "a key whose hash raises": {**step(0), _BadHash("type"): "t"},
    "an int key": {**step(0), "fields": {1: "a", "1": "b"}},
    "a dict subclass": {**step(0), "fields": type("F", (dict,), {})(a=1)},
    "an unknown key": {**step(0), "other": 1}, "no run_id": {"type": "t"},
    "an empty run_id": {**step(0), "run_id": ""}, "a run_id of tab": {**step(0), "run_id": "a\tb"},
    "a non-ASCII run_id": {**step(0), "run_id": "ünï"}, "an int run_id": {**step(0), "run_id": 7},
    "a long run_id": {**step(0), "run_id": "r" * 257}, "a bad type": {**step(0), "type": "a b"},
    "a str subclass type": {**step(0), "type": _Text("t")}, "no type": {"run_id": "r"},
    "a bad ts": {**step(0), "ts": "yesterday"}, "an int ts": {**step(0), "ts": 5},
    "a ts out of range": {**step(0), "ts": "0001-01-01T00:00:00+01:00"},
    "a ts of another tzinfo": {**step(0),
                               "ts": datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))},
    "a line over the cap": step(0, note="x" * MAX_EVENT_BYTES),
    "a line one byte over the cap": sized({"run_id": "r", "type": "t"}, MAX_EVENT_BYTES + 1),
    "a line one byte over the cap, in another month": sized(
        {"run_id": "r", "type": "t", "ts": "2026-05-13T18:09:34Z"}, MAX_EVENT_BYTES + 1),
    "over the cap by escapes": step(0, note="\x00" * (MAX_EVENT_BYTES // 4)),
    "over the cap, nothing to cut": step(0, **{f"k{i}": 10**15 for i in range(1000)}),
    "not a dict": ["r", "t"], "None": None,
}


@pytest.mark.parametrize("name", ODD)
@pytest.mark.parametrize("where", [0, 57, 99])
def test_an_odd_event_sends_its_batch_event_by_event_to_the_same_outcome(name: str,
                                                                         where: int) -> None:
    batch: list[Any] = [step(i) for i in range(100)]
    batch[where] = ODD[name]
    assert not fast_taken(batch)
    same(batch)


def test_a_key_that_equals_anything_is_written_as_itself() -> None:
    # str == would call its __eq__; the columns compare keys only once they are exact str
    batch = [step(i) for i in range(3)] + [ODD["a key that equals anything"]]
    months, _, _ = written(batch)
    assert months["2026-12"].count(b'"status":"x"') == 1


def test_a_key_whose_hash_raises_is_named_as_before() -> None:
    result = same([step(0), ODD["a key whose hash raises"]])
    assert result == ("refused: event 2 of 2 (run '20260513_180527_1a2b3c4d', type "
                      "'step_finished'): RuntimeError: no hash")


# --------------------------------------------------------------------------------------------
# 30,000 random events, and the files they make


def _common_value(rng: random.Random) -> Any:
    """A value the fast path takes: str, int, finite float, bool or None."""
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(["succeeded", "failed", "gpu-a100-7", "", "ü", "a\"b\\c", "\n"])
    if pick < 0.5:
        return rng.uniform(-1e6, 1e6)
    if pick < 0.65:
        return rng.randint(-10**20, 10**20)
    if pick < 0.8:
        return rng.choice([True, False, None, -0.0, 0.0, 1, 0])
    return "".join(rng.choice("ab{},:\"\\ \x01é✓%") for _ in range(rng.randint(0, 9)))


#: Values that send a batch event by event (cleaned, trimmed, refused or taken as they are).
ODD_VALUES: list[Any] = [math.nan, math.inf, "\ud800", [1], {"a": 1}, 10**4400,
                         datetime(2026, 1, 1), "x" * 20000, _Text("t"), _Num(1.5), {1}]


def _random_event(rng: random.Random, shapes: list[list[str]]) -> dict[str, Any]:
    keys = rng.choice(shapes)
    fields = {k: _common_value(rng) for k in keys}
    if keys and rng.random() < 0.003:  # about one batch in four has one odd value
        fields[keys[0]] = rng.choice(ODD_VALUES)
    event: dict[str, Any] = {"run_id": rng.choice([RID, "r-2", "q\"\\"]),
                             "type": rng.choice(["heartbeat", "step_finished", "x.y:z"]),
                             "fields": fields}
    if rng.random() < 0.3:
        event["ts"] = rng.choice(["2026-11-30T23:59:59.999999Z", "2026-12-01T00:00:00+00:00",
                                  datetime(2026, 12, 1, 0, 30,
                                           tzinfo=timezone(timedelta(hours=1)))])
    return event


def random_batches(seed: int, batches: int, size: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    shapes = [["step", "status", "seconds", "worker"], ["progress"], [], ["a", "b"], ["b", "a"]]
    out = []
    for _ in range(batches):
        one_shape = rng.random() < 0.7  # most batches: every event of one shape
        use = [rng.choice(shapes)] if one_shape else shapes
        out.append([_random_event(rng, use) for _ in range(size)])
    return out


def test_30000_random_events_come_out_alike() -> None:
    taken = 0
    for batch in random_batches(13, 300, 100):
        taken += fast_taken(batch)
        same(batch)
    assert 150 < taken < 300  # both ways are exercised: whole batches fast, and event by event


def test_30000_random_events_make_the_same_files(tmp_path: Path) -> None:
    batches = random_batches(31, 30, 1000)
    for batch in batches:
        for event in batch:
            event.setdefault("ts", "2026-12-05T05:19:33.123456Z")  # not the call's own time
    results = {}
    for name in ("fast", "slow"):
        with pytest.MonkeyPatch.context() as m:
            if name == "slow":
                m.setattr(events, "_plain_batch", lambda items, default: None)
                m.setattr(events, "_plain_line", lambda event, default: None)
            results[name] = [append_events(batch, data_dir=tmp_path / name) for batch in batches]
    assert results["fast"] == results["slow"] and True in results["fast"]
    files = sorted(p.relative_to(tmp_path / "fast")
                   for p in (tmp_path / "fast").rglob("*.jsonl"))
    assert files and files == sorted(p.relative_to(tmp_path / "slow")
                                     for p in (tmp_path / "slow").rglob("*.jsonl"))
    for f in files:
        assert (tmp_path / "fast" / f).read_bytes() == (tmp_path / "slow" / f).read_bytes()


# --------------------------------------------------------------------------------------------
# hypothesis: batches of common-looking events with hostile values in their columns

_hostile_scalars = (st.none() | st.booleans() | st.integers() | st.integers(10**4290, 10**4400)
                    | st.floats() | st.sampled_from([-0.0, 0.0, 5e-324, math.nan, math.inf])
                    | st.text(max_size=8) | st.sampled_from(["\ud800", "a\udfff", "%s", "},{"]))
_odd_values = st.sampled_from([[1], {"a": 1}, (1,), datetime(2026, 1, 1), date(2026, 1, 1),
                               _Text("t"), _Num(2.5), {1, 2}, b"x"])
_field_keys = st.lists(st.text(max_size=6), min_size=0, max_size=4, unique=True)


@st.composite
def _uniform_batches(draw: Callable[..., Any]) -> list[dict[str, Any]]:
    """Events whose fields all have the same keys in the same order, each value hostile."""
    keys = draw(_field_keys)
    n = draw(st.integers(1, 12))
    value = _hostile_scalars | _odd_values if draw(st.booleans()) else _hostile_scalars
    batch = []
    for _ in range(n):
        event = {"run_id": draw(st.sampled_from([RID, "r-1", "a b", "é", "x" * 256])),
                 "type": draw(st.sampled_from(["heartbeat", "t.1", "bad type", "T" * 64])),
                 "fields": {k: draw(value) for k in keys}}
        if draw(st.booleans()):
            event["ts"] = draw(st.none() | st.sampled_from(
                ["2026-05-13T18:09:34Z", "2026-06-01T00:00:00+02:00", "nope"])
                | st.datetimes(min_value=datetime(2, 1, 1),
                               timezones=st.none() | st.just(UTC)
                               | st.builds(timezone, st.timedeltas(timedelta(hours=-23),
                                                                   timedelta(hours=23)))))
        batch.append(event)
    return batch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_uniform_batches())
def test_any_batch_fast_or_full_is_written_alike(batch: list[dict[str, Any]]) -> None:
    same(batch)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(_hostile_scalars | _odd_values, min_size=1, max_size=20))
def test_a_column_is_the_encoders_text_or_none(values: list[Any]) -> None:
    texts = event_lines.json_column(values)
    if texts is None:
        return
    each = [texts] * len(values) if isinstance(texts, str) else texts
    expected = [event_lines.encode_acyclic(v) for v in values]
    assert each == expected

