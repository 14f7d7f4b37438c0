"""The CLI's renderers on hand-made results: exact text, and the shared rules they use."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from mantis_runs import messages
from mantis_runs.cli import render, stats_text, values
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
    assert values.plain(value) == text


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
    assert stats_text.stats_text(r) == (
        "No succeeded runs of wf finished since 2026-04-30 22:00 UTC found.")


# -- every DuckDB type, faithfully, in table, JSON and CSV ---------------------------------------

# (SQL expression, cell text in a table and in CSV, JSON text, Arrow routes it holds for).
# Route "default" is DuckDB's Arrow export as RunStore.query() fetches it today; "lossless" is
# with `SET arrow_lossless_conversion = true`, where the types Arrow has no type for (HUGEINT,
# UHUGEINT, TIMETZ, BIT) arrive as DuckDB's own bytes instead of a lossy cast.
BOTH = ("default", "lossless")
TYPES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("true", "true", "true", BOTH),
    ("NULL::INTEGER", "", "null", BOTH),
    ("NULL", "", "null", BOTH),
    ("(-128)::TINYINT", "-128", "-128", BOTH),
    ("32767::SMALLINT", "32767", "32767", BOTH),
    ("(-2147483648)::INTEGER", "-2147483648", "-2147483648", BOTH),
    ("9223372036854775807::BIGINT", "9223372036854775807", "9223372036854775807", BOTH),
    # the example: sum() of BIGINTs is a HUGEINT; it printed 9007199254740992.0
    ("(SELECT sum(x) FROM (VALUES (9007199254740993::BIGINT)) t(x))", "9007199254740993",
     "9007199254740993", BOTH),
    ("-170141183460469231731687303715884105727::HUGEINT - 1",
     "-170141183460469231731687303715884105728", "-170141183460469231731687303715884105728",
     BOTH),
    ("340282366920938463463374607431768211455::UHUGEINT",
     "340282366920938463463374607431768211455", "340282366920938463463374607431768211455",
     ("lossless",)),  # the default export wraps it to -1 (decimal128)
    ("255::UTINYINT", "255", "255", BOTH),
    ("65535::USMALLINT", "65535", "65535", BOTH),
    ("4294967295::UINTEGER", "4294967295", "4294967295", BOTH),
    ("18446744073709551615::UBIGINT", "18446744073709551615", "18446744073709551615", BOTH),
    ("'-123456789012345678901234567890123456789012345678901234567890'::BIGNUM",
     "-123456789012345678901234567890123456789012345678901234567890",
     "-123456789012345678901234567890123456789012345678901234567890", BOTH),
    ("'255'::BIGNUM", "255", "255", BOTH),
    ("'0'::BIGNUM", "0", "0", BOTH),
    ("1.25::DECIMAL(5,2)", "1.25", "1.25", BOTH),
    ("-0.5::DECIMAL(4,1)", "-0.5", "-0.5", BOTH),
    ("0::DECIMAL(9,3)", "0.000", "0.000", BOTH),
    ("123::DECIMAL(18,0)", "123", "123", BOTH),
    ("12345678901234567890.123456789::DECIMAL(38,9)", "12345678901234567890.123456789",
     "12345678901234567890.123456789", BOTH),
    ("0.1::FLOAT", "0.1", "0.1", BOTH),  # not 0.10000000149011612
    ("16777217::FLOAT", "16777216.0", "16777216.0", BOTH),
    ("0.1::DOUBLE", "0.1", "0.1", BOTH),
    ("1e300::DOUBLE", "1e+300", "1e+300", BOTH),
    ("-0.0::DOUBLE", "-0.0", "-0.0", BOTH),
    ("'nan'::DOUBLE", "nan", "null", BOTH),  # strict JSON: NaN and infinities are null
    ("'inf'::DOUBLE", "inf", "null", BOTH),
    ("'-inf'::FLOAT", "-inf", "null", BOTH),
    ("'héllo 日本 🚀'", "héllo 日本 🚀", '"héllo 日本 🚀"', BOTH),
    ("'back\\slash \"q\"'", 'back\\slash "q"', '"back\\\\slash \\"q\\""', BOTH),
    # control characters: escaped in a table (and in CSV but for tabs and line feeds)
    ("chr(27) || ']0;x' || chr(7) || chr(155)", "\x1b]0;x\x07\x9b",
     '"\\u001b]0;x\\u0007\\u009b"', BOTH),
    ("'a' || chr(10) || chr(9) || 'b' || chr(13)", "a\n\tb\r", '"a\\n\\tb\\r"', BOTH),
    ("'\\x00\\xFFab'::BLOB", "\\x00\\xFFab", '"\\\\x00\\\\xFFab"', BOTH),  # DuckDB's blob text
    ("'a''b'::BLOB", "a\\x27b", '"a\\\\x27b"', BOTH),
    ("'0101'::BIT", "0101", '"0101"', ("lossless",)),
    ("'000000000'::BIT", "000000000", '"000000000"', ("lossless",)),
    ("uuid '4ac7a9e9-607c-4c8a-84f3-843f0191e3fd'", "4ac7a9e9-607c-4c8a-84f3-843f0191e3fd",
     '"4ac7a9e9-607c-4c8a-84f3-843f0191e3fd"', BOTH),
    ("'ok'::ENUM('sad', 'ok')", "ok", '"ok"', BOTH),
    ("DATE '2024-01-02'", "2024-01-02", '"2024-01-02"', BOTH),
    ("DATE '0999-05-01'", "0999-05-01", '"0999-05-01"', BOTH),
    ("DATE '0044-03-15 (BC)'", "-0043-03-15", '"-0043-03-15"', BOTH),  # year 0 is 1 BC
    ("DATE '294247-01-10'", "294247-01-10", '"294247-01-10"', BOTH),
    ("'infinity'::DATE", "infinity", '"infinity"', BOTH),
    ("'-infinity'::DATE", "-infinity", '"-infinity"', BOTH),
    ("TIME '12:34:56.789'", "12:34:56.789000", '"12:34:56.789000"', BOTH),
    ("TIME '24:00:00'", "24:00:00", '"24:00:00"', BOTH),  # not 00:00:00
    ("TIMETZ '12:34:56+02'", "12:34:56+02:00", '"12:34:56+02:00"', ("lossless",)),
    ("TIMETZ '23:59:59.999999-15:59:59'", "23:59:59.999999-15:59:59",
     '"23:59:59.999999-15:59:59"', ("lossless",)),
    ("TIMESTAMP '2024-01-02 03:04:05.123456'", "2024-01-02T03:04:05.123456",
     '"2024-01-02T03:04:05.123456"', BOTH),
    ("TIMESTAMPTZ '2024-01-02 05:04:05+02'", "2024-01-02T03:04:05Z", '"2024-01-02T03:04:05Z"',
     BOTH),
    ("TIMESTAMP_S '2024-01-02 03:04:05'", "2024-01-02T03:04:05", '"2024-01-02T03:04:05"', BOTH),
    ("TIMESTAMP_MS '2024-01-02 03:04:05.123'", "2024-01-02T03:04:05.123000",
     '"2024-01-02T03:04:05.123000"', BOTH),
    ("TIMESTAMP_NS '2024-01-02 03:04:05.123456789'", "2024-01-02T03:04:05.123456789",
     '"2024-01-02T03:04:05.123456789"', BOTH),
    ("TIMESTAMP_NS '2024-01-02 03:04:05.5'", "2024-01-02T03:04:05.500000",
     '"2024-01-02T03:04:05.500000"', BOTH),
    ("TIMESTAMP '10000-01-01 00:00:00'", "10000-01-01T00:00:00", '"10000-01-01T00:00:00"', BOTH),
    ("make_timestamp(-5, 1, 1, 0, 0, 0)", "-0005-01-01T00:00:00", '"-0005-01-01T00:00:00"',
     BOTH),
    ("'infinity'::TIMESTAMP", "infinity", '"infinity"', BOTH),
    ("'-infinity'::TIMESTAMPTZ", "-infinity", '"-infinity"', BOTH),
    ("'infinity'::TIMESTAMP_NS", "infinity", '"infinity"', BOTH),
    # the example printed [0, 0, 103141000000]
    ("INTERVAL '103.141 seconds'", "00:01:43.141", '"00:01:43.141"', BOTH),
    ("INTERVAL '1 day 28 minutes 61.141 seconds'", "1 day 00:29:01.141",
     '"1 day 00:29:01.141"', BOTH),
    ("INTERVAL '-14 months'", "-1 year -2 months", '"-1 year -2 months"', BOTH),
    ("INTERVAL '0 seconds'", "00:00:00", '"00:00:00"', BOTH),
    ("[1, NULL, 3]", "[1, null, 3]", "[1, null, 3]", BOTH),
    ("['nan'::DOUBLE, 1.5]", "[NaN, 1.5]", "[null, 1.5]", BOTH),
    ("[1, 2]::INTEGER[2]", "[1, 2]", "[1, 2]", BOTH),
    ("[TIMESTAMP_NS '2024-01-02 03:04:05.123456789']", '["2024-01-02T03:04:05.123456789"]',
     '["2024-01-02T03:04:05.123456789"]', BOTH),
    ("[9007199254740993::HUGEINT]", "[9007199254740993]", "[9007199254740993]", BOTH),
    ("{'a': 1, 'b': [INTERVAL '1 day'], 'c': 1.10::DECIMAL(4,2)}",
     '{"a": 1, "b": ["1 day"], "c": 1.10}', '{"a": 1, "b": ["1 day"], "c": 1.10}', BOTH),
    ("NULL::STRUCT(a INTEGER)", "", "null", BOTH),
    ("MAP {'k': 1}", '{"k": 1}', '{"k": 1}', BOTH),
    ("MAP {1: 'a'}", '{"1": "a"}', '{"1": "a"}', BOTH),
    ("'{\"a\": [1, 2.5, 9007199254740993]}'::JSON", '{"a": [1, 2.5, 9007199254740993]}',
     '{"a": [1, 2.5, 9007199254740993]}', BOTH),
    ("union_value(num := 2)", "2", "2", BOTH),
]


def _result(expr: str, route: str) -> tuple[Any, list[str]]:
    """The Arrow table of ``SELECT expr AS x`` and its JSON columns, as RunStore.query()."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        if route == "lossless":
            con.execute("SET arrow_lossless_conversion = true")
        rel = con.sql(f"SELECT {expr} AS x")
        return rel.to_arrow_table(), [n for n, t in zip(rel.columns, rel.types, strict=True)
                                      if str(t) == "JSON"]
    finally:
        con.close()


@pytest.mark.parametrize(("expr", "text", "as_json", "route"),
                         [(*case[:3], route) for case in TYPES for route in case[3]],
                         ids=[f"{case[0][:40]}-{route}" for case in TYPES for route in case[3]])
def test_every_duckdb_type_keeps_its_value(expr: str, text: str, as_json: str,
                                           route: str) -> None:
    table, json_columns = _result(expr, route)

    def out(fmt: str) -> str:
        return values.arrow_table(table, fmt, json_columns=json_columns)

    assert out("jsonl") == f'{{"x": {as_json}}}'
    assert json.loads(out("json")) == [json.loads(f'{{"x": {as_json}}}')]  # strict JSON
    assert list(csv.reader(io.StringIO(out("csv")))) == [["x"], [render.visible(text,
                                                                        keep_lines=True)]]
    assert out("table").splitlines()[2].rstrip() == render.visible(text)


def test_intervals_read_as_duckdb_writes_them() -> None:
    # DuckDB's own text is the oracle, sign by sign and part by part
    parts = [-400, -13, -1, 0, 1, 12, 14]
    micros = [-90_061_000_001, -3_000_000, -500_000, 0, 1, 1_741_141_000, 360_000_000_000]
    con = duckdb.connect()
    try:
        rel = con.sql("SELECT to_months(m) + to_days(d) + to_microseconds(u) AS x, "
                      "CAST(to_months(m) + to_days(d) + to_microseconds(u) AS VARCHAR) AS s "
                      "FROM unnest($p) a(m), unnest($p) b(d), unnest($u) c(u)",
                      params={"p": parts, "u": micros})
        table = rel.to_arrow_table()
    finally:
        con.close()
    rows = list(csv.reader(io.StringIO(values.arrow_table(table, "csv"))))[1:]
    assert len(rows) == len(parts) ** 2 * len(micros)
    assert [x for x, _ in rows] == [s for _, s in rows]


def test_dates_of_any_year_read_as_duckdb_writes_them() -> None:
    # Python's date holds years 1 to 9999; DuckDB's go from 5877642 BC to 5881580 AD
    con = duckdb.connect()
    try:
        table = con.sql("SELECT DATE '1970-01-01' + i::INTEGER AS x, CAST(x AS VARCHAR) AS s "
                        "FROM range(-2146000000, 2146000000, 7777777) t(i)").to_arrow_table()
    finally:
        con.close()

    def iso(duckdb_text: str) -> str:  # 0044-03-15 (BC) is year -43
        if not duckdb_text.endswith(" (BC)"):
            return duckdb_text
        y, md = duckdb_text.removesuffix(" (BC)").split("-", 1)
        return f"-{int(y) - 1:04d}-{md}" if int(y) > 1 else f"0000-{md}"

    rows = list(csv.reader(io.StringIO(values.arrow_table(table, "csv"))))[1:]
    assert len(rows) == 552
    assert [x for x, _ in rows] == [iso(s) for _, s in rows]


def test_nested_values_of_sliced_and_chunked_results() -> None:
    # Arrow arrays that are slices, or a column in several chunks, index their children with
    # offsets: every row must still get its own list, map or struct.
    con = duckdb.connect()
    try:
        t = con.sql("SELECT i, CASE WHEN i % 3 = 1 THEN NULL ELSE range(i) END AS l, "
                    "CASE WHEN i % 3 = 2 THEN NULL ELSE map_from_entries([(i::VARCHAR, i)]) "
                    "END AS m, CASE WHEN i = 3 THEN NULL ELSE {'n': i, 'l': [i, i]} END AS s, "
                    "[i, i + 1]::BIGINT[2] AS f FROM range(5) t(i) ORDER BY i").to_arrow_table()
    finally:
        con.close()
    table = pa.concat_tables([t.slice(0, 2), t.slice(2)]).slice(1)
    assert table.column("l").num_chunks == 2
    assert values.arrow_table(table, "jsonl").splitlines() == [
        '{"i": 1, "l": null, "m": {"1": 1}, "s": {"n": 1, "l": [1, 1]}, "f": [1, 2]}',
        '{"i": 2, "l": [0, 1], "m": null, "s": {"n": 2, "l": [2, 2]}, "f": [2, 3]}',
        '{"i": 3, "l": [0, 1, 2], "m": {"3": 3}, "s": null, "f": [3, 4]}',
        '{"i": 4, "l": null, "m": {"4": 4}, "s": {"n": 4, "l": [4, 4]}, "f": [4, 5]}',
    ]


def test_json_output_is_the_same_document_json_dumps_writes() -> None:
    # every digit, and otherwise json.dumps's layout (indent 2, ", " and ": " on one line)
    doc = {"a": [1, 2.5, None, True, {"b": "ü\n"}], "c": {}, "d": [], "e": "x"}
    assert render.to_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False)
    assert render.to_json({"n": Decimal("12345678901234567890.123456789"), "f": math.inf}) == (
        '{\n  "n": 12345678901234567890.123456789,\n  "f": null\n}')
    assert render.to_json([2**70, 9007199254740993]) == (
        "[\n  1180591620717411303424,\n  9007199254740993\n]")


# -- control characters and wide characters ----------------------------------------------------


@pytest.mark.parametrize(("text", "shown"), [
    ("plain text, 日本, 🚀, back\\slash", "plain text, 日本, 🚀, back\\slash"),
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # would set the window title
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # would clear the screen
    ("tab\there\r\nnext\x00", "tab\\there\\r\\nnext\\x00"),
    ("del\x7f c1\x9b31m \x85", "del\\x7f c1\\x9b31m \\x85"),  # DEL, 8-bit CSI, NEL
])
def test_visible_escapes_every_control_character(text: str, shown: str) -> None:
    assert render.visible(text) == shown


@pytest.mark.parametrize(("text", "shown"), [
    # a right-to-left override: `invoice\u202efdp.exe` would read `invoiceexe.pdf`
    ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),
    ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),  # embeddings, pop
    ("\u2066a\u2067b\u2068c\u2069", "\\u2066a\\u2067b\\u2068c\\u2069"),  # isolates
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),  # LRM, RLM, Arabic letter mark
    ("\u2065 \u2029 \u200d \u05d0", "\u2065 \u2029 \u200d \u05d0"),  # not bidi controls
])
def test_visible_escapes_bidirectional_controls(text: str, shown: str) -> None:
    assert render.visible(text) == shown
    assert render.visible(text + "\t\n", keep_lines=True) == shown + "\t\n"  # CSV's too


def test_event_text_escapes_bidirectional_controls_in_every_part() -> None:
    from mantis_runs.store.events import RunStatus, Timeline

    e: Any = {"run_id": "r\u202e1", "type": "task", "ts": datetime(2026, 11, 3, tzinfo=UTC),
              "fields": {"note\u2066": "a\u202eb", "ok": "\x1b"}}
    assert render.event_line(e) == (
        '2026-11-03T00:00:00Z r\\u202e1 task {"note\\u2066": "a\\u202eb", "ok": "\\u001b"}')
    s = RunStatus("r\u202e1", "pending", "inference", 900.0, workflow_id="w\u202e",
                  last_event=e)
    assert render.status_text(s).splitlines()[:2] == [
        "run r\\u202e1: pending (source: inference)", "  workflow:   w\\u202e"]
    assert render.status_text(s).endswith('{"note\\u2066": "a\\u202eb", "ok": "\\u001b"}')
    timeline = Timeline.of([{**e, "type": "failure", "fields": {"message": "x\u202ey"}}])
    assert timeline is not None and render.timeline_lines(timeline)[-2] == (
        "  failure:  2026-11-03 00:00:00 UTC x\\u202ey")


def test_json_strings_escape_del_and_c1_and_stay_the_same_string() -> None:
    text = "a\x1b]0;x\x07 \x7f \x9b \x85 ü"
    out = render.to_json({"k": text})
    assert out == '{\n  "k": "a\\u001b]0;x\\u0007 \\u007f \\u009b \\u0085 ü"\n}'
    assert json.loads(out) == {"k": text}


def test_stats_table_escapes_bucket_names_and_measures_wide_ones() -> None:
    total = BucketStats("total_time_s", 2, 12.0, 12.0, 12.0)
    r = StatsResult("wf\x1b]0;x\x07", 2, "succeeded", 100, None,
                    [BucketStats("日本語", 2, 3.0, 3.0, 3.0),
                     BucketStats("a\x1b[2J", 2, 1.0, 1.0, 1.0)], total)
    assert stats_text.stats_text(r) == (
        "Across last 2 succeeded runs of wf\\x1b]0;x\\x07:\n"
        "\n"
        "bucket           p50     p95     p99    n\n"
        "─────────────────────────────────────────\n"
        "日本語         ~3.0s   ~3.0s   ~3.0s    2\n"  # 日本語 takes 6 cells of 12
        "a\\x1b[2J       ~1.0s   ~1.0s   ~1.0s    2\n"
        "─────────────────────────────────────────\n"
        "total_time_s  ~12.0s  ~12.0s  ~12.0s    2\n"
        "\n"
        "~ rough: too few runs for a bounded 95% interval (p50 needs 6, p95 needs 72, "
        "p99 needs 368 runs).")


def test_runs_list_escapes_and_aligns_wide_text() -> None:
    rows: Any = [
        {"finished_at": datetime(2026, 5, 1, tzinfo=UTC), "status": "failed",
         "workflow_id": "日本語", "run_id": "r1\x1b]0;x\x07", "total_time_s": 1.5,
         "model": "🚀", "error": "エラー" * 30},
        {"finished_at": datetime(2026, 5, 1, tzinfo=UTC), "status": "ok", "workflow_id": "wf",
         "run_id": "r2", "total_time_s": 2.0, "model": "m", "error": "x\x9by"},
    ]
    assert render.runs_list(rows) == (
        "finished (UTC)       status    workflow    run_id            total  model    error\n"
        "2026-05-01 00:00:00  failed    日本語      r1\\x1b]0;x\\x07     1.5s  🚀       "
        + "エラー" * 9 + "エラ…\n"
        "2026-05-01 00:00:00  ok        wf          r2                 2.0s  m        x\\x9by")


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, None])
def test_seconds_without_a_finite_value_is_a_dash(value: float | None) -> None:
    # list, show, report and stats: a total that is not a finite number counts as none
    assert render.seconds(value) == "—"
    row: Any = {"finished_at": None, "status": "failed", "workflow_id": "wf", "run_id": "r1",
                "total_time_s": value, "model": None, "error": None}
    assert render.runs_list([row]).splitlines()[1].split() == ["failed", "wf", "r1", "—"]


def test_watch_text_escapes_the_stored_status_and_error(tmp_path: Path) -> None:
    from mantis_runs.store.watch import WatchOutcome, WatchResult

    row: Any = {"run_id": "r1", "status": "failed\x1b[8m", "error": "boom\x07\nat step"}
    r = WatchResult("r1", WatchOutcome.FAILED, tmp_path, None, row=row)
    assert render.watch_text(r) == "run r1 failed\\x1b[8m: boom\\x07 at step"


def test_json_output_escapes_bidirectional_controls() -> None:
    """A right-to-left override in stored text cannot reorder a terminal line showing JSON."""
    from mantis_runs.cli.render import to_json

    text = to_json({"run": "a\u202eb\u2066c\u200fd"})
    assert text == '{\n  "run": "a\\u202eb\\u2066c\\u200fd"\n}'
    assert json.loads(text) == {"run": "a\u202eb\u2066c\u200fd"}  # still the same value
