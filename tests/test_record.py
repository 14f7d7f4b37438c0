"""record.prepare: every refusal and coercion of its docstring, asserted exactly."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mantis_runs.log.record import (
    NotTerminal,
    PreparedRow,
    RowRefused,
    format_timestamp,
    parse_timestamp,
    prepare,
)
from mantis_runs.log.schema import FIELD_NAMES, FIELDS, MAX_ROW_BYTES

RUN_ID_RE = re.compile(r"^\d{8}_\d{6}_[0-9a-f]{8}$")
TRUNC_RE = re.compile(r"^(.*)…\[truncated (\d+) bytes\]$", re.S)
NOW = datetime(2026, 5, 20, 12, 0, 0, tzinfo=UTC)


def base(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"workflow_id": "wf", "status": "succeeded", "total_time_s": 1.5}
    row.update(kw)
    return row


def parsed(p: PreparedRow) -> dict[str, Any]:
    obj = json.loads(p.line)
    assert isinstance(obj, dict)
    return obj


# --------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize("status", ["paused", "running", "queued", None, "", "SUCCEEDED", 1])
def test_non_terminal_status_is_not_terminal(status: object) -> None:
    with pytest.raises(NotTerminal):
        prepare(base(status=status))


def test_missing_status_is_not_terminal() -> None:
    row = base()
    del row["status"]
    with pytest.raises(NotTerminal):
        prepare(row)


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_terminal_statuses_are_written(status: str) -> None:
    assert parsed(prepare(base(status=status)))["status"] == status


def test_missing_workflow_id_is_refused() -> None:
    row = base()
    del row["workflow_id"]
    with pytest.raises(RowRefused, match="workflow_id"):
        prepare(row)


@pytest.mark.parametrize("wf", ["", None, 123, ["wf"], b"wf"])
def test_bad_workflow_id_is_refused(wf: object) -> None:
    with pytest.raises(RowRefused, match="workflow_id"):
        prepare(base(workflow_id=wf))


def test_missing_total_is_refused() -> None:
    row = base()
    del row["total_time_s"]
    with pytest.raises(RowRefused, match="total_time_s"):
        prepare(row)


@pytest.mark.parametrize("total", [True, False, math.nan, math.inf, -math.inf, "1.5", None,
                                   [1], pytest.param(10**400, id="int-too-big-for-float")])
def test_bad_total_is_refused(total: object) -> None:
    with pytest.raises(RowRefused, match="total_time_s"):
        prepare(base(total_time_s=total))


@pytest.mark.parametrize("total", [0, 7, 2.25, -1.0, 10**15])
def test_numeric_total_is_kept_with_its_type(total: float) -> None:
    out = parsed(prepare(base(total_time_s=total)))["total_time_s"]
    assert out == total
    assert type(out) is type(total)


def test_required_fields_are_the_schemas() -> None:
    assert [f.name for f in FIELDS if f.required] == ["workflow_id", "status", "total_time_s"]


@pytest.mark.parametrize(("row", "message"), [
    ({"status": "failed"}, "workflow_id is missing or not a non-empty string"),  # schema order
    ({"status": "failed", "workflow_id": ""}, "workflow_id is missing or not a non-empty string"),
    ({"status": "failed", "workflow_id": "wf"}, "total_time_s is not a finite number: None"),
    ({"status": "failed", "workflow_id": "wf", "total_time_s": "1.5"},
     "total_time_s is not a finite number: '1.5'"),
])
def test_required_field_refusals_say_exactly_why(row: dict[str, Any], message: str) -> None:
    with pytest.raises(RowRefused) as info:
        prepare(row)
    assert str(info.value) == message


def test_status_is_checked_before_the_other_required_fields() -> None:
    # a row that is not terminal yet is skipped quietly, whatever else it lacks
    with pytest.raises(NotTerminal) as info:
        prepare({"status": "running"})
    assert str(info.value) == "status 'running' is not terminal"


@pytest.mark.parametrize("finished", [
    "../../etc", "2026-05/../../x", "", "   ", "yesterday", "2026-13-01T00:00:00Z",
    "2026-02-30", 1747158574, 1747158574.5, True, ["2026-05-13"],
    "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
])
def test_bad_finished_at_is_refused(finished: object) -> None:
    with pytest.raises(RowRefused, match="finished_at"):
        prepare(base(finished_at=finished))


def test_hostile_finished_at_never_reaches_a_path() -> None:
    # The month always comes from a parsed datetime, never from the caller's text.
    for text in ("2026-05-13T00:00:00Z/../../etc", "../2026-05"):
        with pytest.raises(RowRefused):
            prepare(base(finished_at=text))


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", 1j, frozenset()])
def test_unrepresentable_value_is_refused(value: object) -> None:
    with pytest.raises(RowRefused, match="cannot be written as JSON"):
        prepare(base(extra_thing=value))


def test_unrepresentable_nested_value_is_refused() -> None:
    with pytest.raises(RowRefused):
        prepare(base(extra_thing={"a": [1, {2, 3}]}))


@pytest.mark.parametrize("row", [None, [], "row", 3])
def test_non_dict_row_is_refused(row: Any) -> None:
    with pytest.raises(RowRefused, match="must be a dict"):
        prepare(row)


def test_oversized_row_without_error_is_refused() -> None:
    with pytest.raises(RowRefused, match=f"over the {MAX_ROW_BYTES}-byte cap"):
        prepare(base(blob="x" * MAX_ROW_BYTES))


def test_oversized_row_whose_error_cannot_absorb_it_is_refused() -> None:
    with pytest.raises(RowRefused, match="cap"):
        prepare(base(status="failed", error="short", blob="x" * MAX_ROW_BYTES))


# --------------------------------------------------------------------------------------------
# run_id


def test_run_id_generated_from_created_at() -> None:
    p = prepare(base(created_at="2026-05-13T18:09:34+02:00", finished_at="2026-05-14T00:00:00Z"))
    assert RUN_ID_RE.match(p.run_id), p.run_id
    assert p.run_id.startswith("20260513_160934_")
    assert parsed(p)["run_id"] == p.run_id


def test_run_id_generated_from_finished_at_without_created_at() -> None:
    p = prepare(base(finished_at="2026-05-14T01:02:03.9Z"))
    assert RUN_ID_RE.match(p.run_id), p.run_id
    assert p.run_id.startswith("20260514_010203_")


def test_run_id_from_finished_at_when_created_at_unparseable() -> None:
    p = prepare(base(created_at="not a time", finished_at="2026-05-14T01:02:03Z"))
    assert p.run_id.startswith("20260514_010203_")
    assert RUN_ID_RE.match(p.run_id)


def test_run_id_from_now_when_no_timestamps() -> None:
    p = prepare(base(), now=NOW)
    assert p.run_id.startswith("20260520_120000_")


@pytest.mark.parametrize("rid", [None, ""])
def test_empty_run_id_is_generated(rid: object) -> None:
    assert RUN_ID_RE.match(prepare(base(run_id=rid)).run_id)


def test_generated_run_ids_are_unique() -> None:
    ids = {prepare(base(finished_at="2026-05-14T01:02:03Z")).run_id for _ in range(200)}
    assert len(ids) == 200


def test_run_id_for_year_before_1000_keeps_its_shape() -> None:
    p = prepare(base(finished_at="0999-05-01T00:00:00Z"))
    assert RUN_ID_RE.match(p.run_id), p.run_id
    assert p.month == "0999-05"
    assert parsed(p)["finished_at"] == "0999-05-01T00:00:00Z"


def test_given_run_id_kept_and_non_string_stringified() -> None:
    assert prepare(base(run_id="my-run")).run_id == "my-run"
    p = prepare(base(run_id=42))
    assert p.run_id == "42"
    assert parsed(p)["run_id"] == "42"


# --------------------------------------------------------------------------------------------
# timestamps and month routing


@pytest.mark.parametrize(("given", "expected"), [
    ("2026-05-13T18:09:34Z", "2026-05-13T18:09:34Z"),
    ("2026-05-13T20:09:34+02:00", "2026-05-13T18:09:34Z"),
    ("2026-05-13T18:09:34-05:30", "2026-05-13T23:39:34Z"),
    ("2026-05-13T18:09:34", "2026-05-13T18:09:34Z"),  # naive = UTC
    ("2026-05-13 18:09:34", "2026-05-13T18:09:34Z"),
    ("2026-05-13T18:09:34.5Z", "2026-05-13T18:09:34.500000Z"),
    ("2026-05-13T18:09:34.123456+00:00", "2026-05-13T18:09:34.123456Z"),
    ("2026-05-13T18:09:34.000000Z", "2026-05-13T18:09:34Z"),
    ("2026-05-13", "2026-05-13T00:00:00Z"),
    (" 2026-05-13T18:09:34Z ", "2026-05-13T18:09:34Z"),
    (datetime(2026, 5, 13, 18, 9, 34), "2026-05-13T18:09:34Z"),
    (datetime(2026, 5, 13, 20, 9, 34, 7, tzinfo=timezone(timedelta(hours=2))),
     "2026-05-13T18:09:34.000007Z"),
    (date(2026, 5, 13), "2026-05-13T00:00:00Z"),
])
def test_timestamps_normalised_to_utc_z(given: object, expected: str) -> None:
    out = parsed(prepare(base(finished_at=given, created_at=given)))
    assert out["finished_at"] == expected
    assert out["created_at"] == expected


@pytest.mark.parametrize(("finished", "month"), [
    ("2026-06-01T01:00:00+02:00", "2026-05"),
    ("2026-05-31T23:30:00-01:00", "2026-06"),
    ("2026-12-31T23:59:59.999999Z", "2026-12"),
    ("2027-01-01T00:00:00+00:00", "2027-01"),
    ("2026-01-01T00:30:00+01:00", "2025-12"),
])
def test_month_routed_from_parsed_utc_timestamp(finished: str, month: str) -> None:
    assert prepare(base(finished_at=finished)).month == month


def test_missing_finished_at_is_now() -> None:
    p = prepare(base(), now=NOW)
    assert parsed(p)["finished_at"] == "2026-05-20T12:00:00Z"
    assert p.month == "2026-05"


def test_missing_finished_at_defaults_to_real_now() -> None:
    before = datetime.now(UTC)
    out = parsed(prepare(base()))
    after = datetime.now(UTC)
    got = parse_timestamp(out["finished_at"])
    assert before - timedelta(microseconds=1) <= got <= after


def test_unparseable_created_at_is_kept_with_a_note() -> None:
    p = prepare(base(created_at="sometime last week"))
    assert parsed(p)["created_at"] == "sometime last week"
    assert p.notes == ["created_at is not a timestamp; kept as given"]


def test_created_at_out_of_range_is_kept_not_raised() -> None:
    p = prepare(base(created_at="0001-01-01T00:00:00+01:00"))
    assert parsed(p)["created_at"] == "0001-01-01T00:00:00+01:00"
    assert p.notes == ["created_at is not a timestamp; kept as given"]


def test_format_timestamp_is_canonical() -> None:
    assert format_timestamp(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05Z"
    assert format_timestamp(datetime(2026, 5, 13, tzinfo=UTC)) == "2026-05-13T00:00:00Z"


# --------------------------------------------------------------------------------------------
# coercions of values


def test_schema_version_defaults_to_1_and_is_kept_when_given() -> None:
    assert parsed(prepare(base()))["schema_version"] == 1
    assert parsed(prepare(base(schema_version=2)))["schema_version"] == 2


def test_breakdown_maps_drop_non_finite_entries_and_name_them() -> None:
    p = prepare(base(
        wall_time_breakdown={"think": 1.5, "act": 2, "bad": math.nan, "worse": "3",
                             "flag": True, "inf": math.inf},
        cost_breakdown=["not", "a", "dict"],
    ))
    out = parsed(p)
    assert out["wall_time_breakdown"] == {"think": 1.5, "act": 2}
    assert type(out["wall_time_breakdown"]["act"]) is int
    assert out["cost_breakdown"] == {}
    assert p.notes == [
        "wall_time_breakdown entries without a finite number dropped: bad, worse, flag, inf",
        "cost_breakdown was list, not an object; recorded as {}",
    ]


def test_missing_breakdowns_are_empty_objects_without_notes() -> None:
    p = prepare(base())
    out = parsed(p)
    assert out["wall_time_breakdown"] == {}
    assert out["cost_breakdown"] == {}
    assert p.notes == []


def test_nan_and_infinity_elsewhere_become_null() -> None:
    out = parsed(prepare(base(viable=math.nan, score=math.nan, up=math.inf, down=-math.inf,
                              nested={"a": [1.0, math.nan, {"b": math.inf}]})))
    assert out["viable"] is None
    assert out["score"] is None
    assert out["up"] is None
    assert out["down"] is None
    assert out["nested"] == {"a": [1.0, None, {"b": None}]}


def test_datetimes_in_extras_become_iso_text() -> None:
    out = parsed(prepare(base(when=datetime(2026, 5, 13, 18, 9, 34), day=date(2026, 5, 13),
                              tup=(1, "a"))))
    assert out["when"] == "2026-05-13T18:09:34"
    assert out["day"] == "2026-05-13"
    assert out["tup"] == [1, "a"]


def test_lone_surrogates_replaced_everywhere() -> None:
    p = prepare(base(workflow_id="wf\ud800x", run_id="r\udfff", error="e\udc80",
                     **{"k\ud801": "v\ud802", "list": ["\udbff"]}))
    p.line.decode("utf-8")  # strict: would raise on an encoded surrogate
    out = parsed(p)
    assert out["workflow_id"] == "wf\ufffdx"
    assert out["run_id"] == "r\ufffd" == p.run_id
    assert out["error"] == "e\ufffd"
    assert out["k\ufffd"] == "v\ufffd"
    assert out["list"] == ["\ufffd"]


def test_valid_surrogate_pairs_are_not_touched() -> None:
    out = parsed(prepare(base(workflow_id="wf-😀")))
    assert out["workflow_id"] == "wf-😀"


def test_non_string_error_is_stringified() -> None:
    assert parsed(prepare(base(status="failed", error=ValueError("boom"))))["error"] == "boom"
    assert parsed(prepare(base(status="failed", error=42)))["error"] == "42"
    assert parsed(prepare(base(status="failed")))["error"] is None


def test_mixed_type_extra_keys_are_sorted_by_text() -> None:
    row: dict[Any, Any] = base(b=1) | {2: "two", 10: "ten", "a": 0}
    out = parsed(prepare(row))
    assert list(out)[len(FIELD_NAMES):] == ["10", "2", "a", "b"]


def test_colliding_extra_keys_keep_the_first_and_are_named() -> None:
    row: dict[Any, Any] = {**base(), 1: "int", "1": "str"}
    p = prepare(row)
    assert parsed(p)["1"] == "int"
    assert p.notes == ["key '1' appears more than once as text; later value dropped"]


# --------------------------------------------------------------------------------------------
# size cap and error trimming


def _fill_to(total_len: int, **kw: Any) -> dict[str, Any]:
    """A row whose serialised line is exactly ``total_len`` bytes (ASCII padding)."""
    row = base(pad="", **kw)
    n = len(prepare(row).line)
    row["pad"] = "p" * (total_len - n)
    return row


def test_row_exactly_at_the_cap_is_written_untouched() -> None:
    row = _fill_to(MAX_ROW_BYTES, status="failed", error="keep me")
    p = prepare(row)
    assert len(p.line) == MAX_ROW_BYTES
    assert parsed(p)["error"] == "keep me"


def test_row_one_byte_over_the_cap_without_error_is_refused() -> None:
    row = _fill_to(MAX_ROW_BYTES + 1)
    with pytest.raises(RowRefused, match=f"{MAX_ROW_BYTES + 1} bytes"):
        prepare(row)


def _check_trimmed(original: str, p: PreparedRow) -> str:
    assert len(p.line) <= MAX_ROW_BYTES
    assert p.line.endswith(b"\n")
    assert p.line.count(b"\n") == 1
    err = parsed(p)["error"]
    m = TRUNC_RE.match(err)
    assert m, err[-80:]
    kept, dropped = m.group(1), int(m.group(2))
    assert original.startswith(kept)
    assert dropped == len(original.encode("utf-8")) - len(kept.encode("utf-8"))
    assert dropped > 0
    return kept


@pytest.mark.parametrize("error", [
    "x" * 100_000,
    "é" * 60_000,  # 2-byte UTF-8: the cut must not split a character
    "😀" * 40_000,  # 4-byte UTF-8
    '"' * 100_000,  # every character doubles when escaped
    "\x00" * 70_000,  # every character becomes \u0000 (6 bytes)
    'Traceback: C:\\path\\to\\"file".py\n' * 5_000,
])
def test_error_trimmed_to_fit_with_marker(error: str) -> None:
    p = prepare(base(status="failed", error=error))
    kept = _check_trimmed(error, p)
    # As much as fits is kept: one more character would break the cap.
    longer = error[: len(kept) + 1]
    marker = f"…[truncated {len(error.encode()) - len(longer.encode())} bytes]"
    grown = len(p.line) - len(json.dumps(parsed(p)["error"], ensure_ascii=False).encode()) \
        + len(json.dumps(longer + marker, ensure_ascii=False).encode())
    assert grown > MAX_ROW_BYTES


def test_error_trimmed_by_exactly_the_needed_amount_when_one_byte_over() -> None:
    row = _fill_to(MAX_ROW_BYTES + 1, status="failed", error="e" * 1000)
    p = prepare(row)
    kept = _check_trimmed("e" * 1000, p)
    # 1 byte over, the marker "…[truncated NN bytes]" costs 23 bytes, so 24 characters go.
    assert len(kept) == 1000 - 24
    assert len(p.line) == MAX_ROW_BYTES


def test_trimming_keeps_other_fields_intact() -> None:
    p = prepare(base(status="failed", run_id="keep", error="z" * 200_000, note="n"))
    out = parsed(p)
    assert out["run_id"] == "keep"
    assert out["note"] == "n"
    assert out["status"] == "failed"
    assert p.run_id == "keep"


# --------------------------------------------------------------------------------------------
# canonical serialisation


def test_canonical_serialisation_exact_bytes() -> None:
    row = {
        "zeta": 1,
        "alpha": "ünï 😀",
        "model": "m",
        "status": "failed",
        "error": "boom",
        "workflow_id": "wf-é",
        "total_time_s": 12,
        "finished_at": "2026-05-13T20:09:34.250+02:00",
        "created_at": "2026-05-13T18:00:00Z",
        "run_id": "r1",
        "wall_time_breakdown": {"think": 1.5, "act": 2},
        "Beta": [1, None, "x"],
    }
    expected = (
        '{"schema_version":1,"run_id":"r1","tenant_id":null,"profile_id":null,'
        '"workflow_id":"wf-é","plan_signature":null,"model":"m","status":"failed",'
        '"created_at":"2026-05-13T18:00:00Z","finished_at":"2026-05-13T18:09:34.250000Z",'
        '"total_time_s":12,"wall_time_breakdown":{"think":1.5,"act":2},"cost_breakdown":{},'
        '"steps_executed":null,"viable":null,"error":"boom",'
        '"Beta":[1,null,"x"],"alpha":"ünï 😀","zeta":1}\n'
    ).encode()
    p = prepare(row)
    assert p.line == expected
    assert p.month == "2026-05"
    assert p.run_id == "r1"
    assert p.notes == []


def test_serialisation_independent_of_key_order() -> None:
    a = base(run_id="r", finished_at="2026-05-13T00:00:00Z", x=1, y=2)
    b = dict(reversed(list(a.items())))
    assert prepare(a).line == prepare(b).line


def test_control_characters_are_escaped_not_raw() -> None:
    p = prepare(base(error="line1\nline2\r\u2028\x1e", status="failed", run_id="r"))
    assert p.line.count(b"\n") == 1
    assert b"\r" not in p.line
    assert b"\x1e" not in p.line  # the writer's SEAL byte can never occur inside a row
    assert parsed(p)["error"] == "line1\nline2\r\u2028\x1e"


# --------------------------------------------------------------------------------------------
# property: arbitrary rows


def _clean(s: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def _expected(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, str):
        return _clean(v)
    if isinstance(v, dict):
        return {_clean(k): _expected(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_expected(x) for x in v]
    return v


any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=True, allow_infinity=True) | any_text)
values = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    # nested keys made unique after surrogate replacement, so the expectation is unambiguous
    | st.dictionaries(any_text.map(_clean), inner, max_size=4),
    max_leaves=12,
)
extra_keys = any_text.filter(lambda k: k not in FIELD_NAMES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    wf=st.text(alphabet=st.characters(exclude_categories=()), min_size=1, max_size=30),
    extras=st.dictionaries(extra_keys, values, max_size=6),
    total=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    status=st.sampled_from(["succeeded", "failed"]),
    finished=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                          timezones=st.sampled_from([UTC, timezone(timedelta(hours=5)), None])),
    error=st.none() | any_text,
)
def test_any_row_serialises_to_one_valid_line(wf: str, extras: dict[str, Any], total: float,
                                              status: str, finished: datetime,
                                              error: str | None) -> None:
    row: dict[str, Any] = {"workflow_id": wf, "status": status, "total_time_s": total,
                           "finished_at": finished, "error": error, **extras}
    p = prepare(row)
    assert p.line.endswith(b"\n")
    assert p.line.count(b"\n") == 1
    assert b"\r" not in p.line
    assert len(p.line) <= MAX_ROW_BYTES
    out = json.loads(p.line.decode("utf-8"))  # strict UTF-8: no encoded lone surrogate
    assert isinstance(out, dict)

    assert out["workflow_id"] == _clean(wf)
    assert out["status"] == status
    assert out["total_time_s"] == total
    assert type(out["total_time_s"]) is type(total)
    assert out["error"] == (None if error is None else _clean(error))
    assert out["run_id"] == p.run_id
    assert RUN_ID_RE.match(p.run_id)
    utc = parse_timestamp(finished)
    assert out["finished_at"] == format_timestamp(utc)
    assert p.month == f"{utc.year:04d}-{utc.month:02d}"

    expected_extras: dict[str, Any] = {}
    for key in sorted(extras, key=_clean):
        expected_extras.setdefault(_clean(key), _expected(extras[key]))
    assert list(out) == [*FIELD_NAMES, *expected_extras]
    for key, value in expected_extras.items():
        assert out[key] == value
    # canonical: serialising again (with the generated run_id fixed) gives the same bytes
    assert prepare({**row, "run_id": p.run_id}).line == p.line
