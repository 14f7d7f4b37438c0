"""The events' fast preparation (``events._plain_batch``, built column by column by
``log/event_lines.py``) writes the very bytes of the full one (``_prepare_one``, the committed
path) and refuses nothing itself: hostile, random and open-ended (hypothesis) events and batches
through both, compared byte for byte and message for message."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mantis_runs.log.events as events
import mantis_runs.log.record as record
from mantis_runs.log.events import (
    MAX_EVENT_BYTES,
    MAX_RUN_ID_CHARS,
    EventRefused,
    PreparedEvents,
    prepare_events,
)
from mantis_runs.log.record import _ENCODER, encode_acyclic

NOW = datetime(2026, 12, 5, 5, 19, 33, 123456, tzinfo=UTC)
DEFAULT = ("2026-12", "2026-12-05T05:19:33.123456Z")


class _Level(enum.IntEnum):
    HIGH = 3


class _Text(str):
    pass


class _Num(float):
    pass


class _Fields(dict[str, Any]):
    pass


def _full(event: object) -> tuple[str, bytes, list[str]]:
    return events._prepare_one(event, DEFAULT)


def _fast(event: object) -> list[tuple[str, bytes]] | None:
    """The batch's fast path on a batch of one event."""
    return events._plain_batch([event], DEFAULT)


def _line(event: object) -> list[tuple[str, bytes]] | None:
    """The fast path of one event among others (``_plain_line``), as ``_fast`` answers."""
    fast = events._plain_line(event, DEFAULT)
    return None if fast is None else [fast]


FastPath = Callable[[object], list[tuple[str, bytes]] | None]
FAST_PATHS: list[FastPath] = [_fast, _line]


#: What a prepared batch comes to: the bytes of each month (in the writer's order), what the
#: warning calls it and its notes; or the refusal's words.
Outcome = tuple[dict[str, bytes], str, list[str]] | str


def _written(prepared: PreparedEvents) -> Outcome:
    months: dict[str, bytes] = {}
    for month, data in prepared.lines:
        months[month] = months.get(month, b"") + data
    return dict(sorted(months.items())), prepared.what, prepared.notes


def _slow_batch(batch: list[Any], monkeypatch: pytest.MonkeyPatch) -> Outcome:
    with monkeypatch.context() as m:
        m.setattr(events, "_plain_batch", lambda items, default: None)
        m.setattr(events, "_plain_line", lambda event, default: None)
        return _outcome(batch)


def _outcome(batch: list[Any]) -> Outcome:
    try:
        return _written(prepare_events(batch, now=NOW))
    except EventRefused as exc:
        return f"refused: {exc}"


def plain(**fields: Any) -> dict[str, Any]:
    return {"run_id": "20260513_180527_1a2b3c4d", "type": "step_finished", "fields": fields}


#: Events the fast path takes: each must come out exactly as the full path writes it.
PLAIN = [
    plain(step="think", status="succeeded", seconds=92.04, worker="gpu-a100-7"),
    plain(),
    {"run_id": "r", "type": "t"},  # no fields, no ts
    {"run_id": "r", "type": "t", "fields": None, "ts": None},
    {"run_id": 'q"uo\\te', "type": "a.b:c-d_e", "fields": {}},  # JSON escapes in the run_id
    {"run_id": "r" * MAX_RUN_ID_CHARS, "type": "T" * 64, "fields": {"n": 1}},
    plain(ok=True, bad=False, none=None, big=2**80, neg=-0.0, small=5e-324, huge=1.7e308),
    plain(**{"ünï ✓": "ü\u2028\u2029 \"\\ \n\t\x00\x7f", "k": "日本語"}),
    plain(**{"": "", "ts": "not mine", "data_dir": "/x"}),
    {**plain(a=1), "ts": "2026-05-13T20:09:34+02:00"},
    {**plain(a=1), "ts": datetime(2026, 7, 4, 1, 2, 3)},  # naive: UTC
    {**plain(a=1), "ts": datetime(2026, 7, 4, tzinfo=timezone(timedelta(hours=-5)))},
    {**plain(a=1), "ts": date(2026, 7, 4)},
    plain(note="x" * (MAX_EVENT_BYTES - 200)),  # under the cap
]

#: Events the fast path must leave to the full one (which cleans, trims or refuses them).
HOSTILE: list[Any] = [
    plain(nan=math.nan), plain(inf=-math.inf), plain(sub=_Num(1.5)), plain(level=_Level.HIGH),
    plain(text=_Text("x")), plain(when=datetime(2026, 1, 1)), plain(day=date(2026, 1, 1)),
    plain(nested={"a": 1}), plain(seq=[1, 2]), plain(tup=(1,)), plain(s={1}),
    plain(lone="a\ud800b"), plain(**{"k\udc00": 1}), plain(digits=10**5000),
    {"run_id": "r", "type": "t", "fields": _Fields(a=1)}, plain(**{_Text("k"): 1}),
    {"run_id": "r", "type": "t", "fields": {1: "int key", "1": "str key"}},
    {"run_id": "r", "type": "t", "fields": {None: 1}},
    {"run_id": "r", "type": "t", "fields": [("a", 1)]},
    {"run_id": "ünï", "type": "t"}, {"run_id": "a\tb", "type": "t"},
    {"run_id": "a\x85b", "type": "t"}, {"run_id": "", "type": "t"}, {"run_id": None, "type": "t"},
    {"run_id": 42, "type": "t"}, {"run_id": _Text("r"), "type": "t"},
    {"run_id": "r" * (MAX_RUN_ID_CHARS + 1), "type": "t"}, {"type": "t"},
    {"run_id": "r", "type": "T" * 65}, {"run_id": "r", "type": "a b"}, {"run_id": "r"},
    {"run_id": "r", "type": _Text("t")}, {"run_id": "r", "type": 5}, {"run_id": "r", "type": ""},
    {"run_id": "r", "type": "t\n"},
    {"run_id": "r", "type": "t", "extra": 1}, {"run_id": "r", "type": "t", 7: 1},
    plain(note="x" * MAX_EVENT_BYTES),  # trimmed
    plain(a="\x00" * (MAX_EVENT_BYTES // 4)),  # escapes push it over: trimmed
    plain(**{f"k{i}": 10**15 for i in range(1000)}),  # over the cap with nothing to cut
    ["r", "t"], None, "event",
]


@pytest.mark.parametrize("fast_path", FAST_PATHS)
@pytest.mark.parametrize("event", PLAIN)
def test_the_fast_path_writes_the_full_paths_bytes(event: dict[str, Any],
                                                   fast_path: FastPath) -> None:
    fast = fast_path(event)
    assert fast is not None  # the fast path is taken: the comparison below is not vacuous
    month, line, notes = _full(event)
    assert fast == [(month, line)] and notes == []
    assert json.loads(line)["run_id"] == event["run_id"]


@pytest.mark.parametrize("event", HOSTILE)
def test_the_fast_path_leaves_the_rest_to_the_full_one(event: Any) -> None:
    assert _fast(event) is None and _line(event) is None
    # ... and so does a batch of plain events that holds it, at any place
    assert events._plain_batch([*PLAIN[:3], event, *PLAIN[3:]], DEFAULT) is None


#: Events refused for their ts, which both paths check first (after the keys), alike.
BAD_TS: list[Any] = [
    {"run_id": "r", "type": "t", "ts": "yesterday", "fields": {"nan": math.nan}},
    {"run_id": "", "type": "t", "ts": _Text("")}, {"run_id": "r", "type": "t", "ts": 5},
    {"run_id": "r", "type": "t", "ts": "0001-01-01T00:00:00+01:00"},
]


@pytest.mark.parametrize("event", BAD_TS)
def test_a_bad_ts_is_left_to_the_full_path_which_refuses_it(event: dict[str, Any]) -> None:
    assert _fast(event) is None
    with pytest.raises(EventRefused, match="ts is not a timestamp") as full:
        _full(event)
    with pytest.raises(EventRefused) as line:  # _plain_line checks ts first, in the same words
        _line(event)
    assert str(line.value) == str(full.value)


@pytest.mark.parametrize("bad", HOSTILE + BAD_TS)
def test_a_batch_is_the_same_with_and_without_the_fast_path(
        bad: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [PLAIN[0], bad, PLAIN[7], {"run_id": "r", "type": "t"}]
    assert _outcome(batch) == _slow_batch(batch, monkeypatch)


def test_a_plain_batch_is_the_same_with_and_without_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    batch = PLAIN * 2  # over events.MIN_COLUMN_BATCH: built by columns
    assert events._plain_batch(batch, DEFAULT) is not None  # the whole batch, fast
    fast = _outcome(batch)
    assert isinstance(fast, tuple) and list(fast[0]) == ["2026-05", "2026-07", "2026-12"]
    assert fast == _slow_batch(batch, monkeypatch)
    # a batch of one month: one write's bytes, joined once
    one = [e for e in batch if "ts" not in e or e["ts"] is None]
    prepared = prepare_events(one, now=NOW)
    assert len(prepared.lines) == 1 and prepared.lines[0][1].count(b"\n") == len(one) == 20
    assert _written(prepared) == _slow_batch(one, monkeypatch)


def test_the_type_cache_is_bounded() -> None:
    before = set(events._KNOWN_TYPES)
    try:
        for i in range(events._MAX_KNOWN_TYPES + 50):
            assert _fast({"run_id": "r", "type": f"t{i}"}) is not None
            assert _line({"run_id": "r", "type": f"u{i}"}) is not None
        assert len(events._KNOWN_TYPES) == events._MAX_KNOWN_TYPES
        assert _fast({"run_id": "r", "type": "t-unseen"}) is not None
        assert _line({"run_id": "r", "type": "t-unseen"}) is not None
    finally:
        events._KNOWN_TYPES.clear()
        events._KNOWN_TYPES.update(before)


# --------------------------------------------------------------------------------------------
# open-ended input

_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
            | st.datetimes(max_value=datetime(9000, 1, 1)) | st.lists(st.integers(), max_size=2))
_keys = st.text(max_size=8) | st.integers(-3, 3)
_events = st.fixed_dictionaries(
    {"run_id": st.text(max_size=20) | st.integers() | st.sampled_from(["r-1", "r\"2\\"]),
     "type": st.from_regex(r"[A-Za-z0-9_.:-]{1,6}", fullmatch=True) | st.text(max_size=4)},
    optional={"ts": st.none() | st.datetimes(min_value=datetime(2, 1, 1)).map(str)
              | st.text(max_size=30),
              "fields": st.none() | st.dictionaries(_keys, _scalars, max_size=5),
              "other": st.integers()})
#: Mostly events the fast path takes, with the odd value it must leave (NaN, a lone surrogate).
_flat = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_plainish = st.fixed_dictionaries(
    {"run_id": st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                       max_size=20),
     "type": st.from_regex(r"[A-Za-z0-9_.:-]{1,6}", fullmatch=True)},
    optional={"ts": st.none() | st.datetimes(min_value=datetime(2, 1, 1),
                                             timezones=st.none() | st.timezones()),
              "fields": st.dictionaries(st.text(max_size=8), _flat, max_size=5)})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_plainish | _events)
def test_any_event_fast_or_full_is_written_alike(event: dict[str, Any]) -> None:
    try:
        fast = _line(event)
    except EventRefused as exc:  # a bad ts: the full path says the same
        with pytest.raises(EventRefused) as full_refusal:
            _full(event)
        assert str(full_refusal.value) == str(exc)
        fast = None
    whole = _fast(event)
    assert whole is None or whole == fast  # the batch's way takes less, never another text
    if fast is not None:
        month, line, notes = _full(event)
        assert fast == [(month, line)] and notes == []


_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.datetimes(max_value=datetime(9000, 1, 1)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(tree=st.dictionaries(_keys, _trees, max_size=5))
def test_dumps_writes_what_the_json_encoder_writes(tree: dict[str, Any]) -> None:
    # dumps (rows and events) now reuses one C encoder: the text of a sanitised tree is
    # JSONEncoder.encode's, with the committed settings, byte for byte.
    clean = record.sanitize(tree)
    committed = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert record.dumps(clean) == committed.encode(clean).encode() + b"\n"
    assert encode_acyclic(clean) == _ENCODER.encode(clean)


def test_the_acyclic_encoder_falls_back_to_the_json_encoder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the C accelerator, or with one that takes other arguments: JSONEncoder.encode.
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert record._acyclic_encoder() == _ENCODER.encode

    def other_signature(*args: Any) -> Any:
        raise TypeError("takes 10 arguments")

    monkeypatch.setattr(json.encoder, "c_make_encoder", other_signature)
    assert record._acyclic_encoder() == _ENCODER.encode
    assert encode_acyclic is not _ENCODER.encode  # this Python's own: the reused C encoder
