"""The reader over every malformed case measured in the DuckDB notes: counted, never fatal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import append_bytes, write_rows
from mantis_runs.log.writer import SEAL, append_run
from mantis_runs.stats.engine import stats

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)

ROUGH = ["p50", "p95", "p99"]  # every percentile is rough under 6 runs


def good(run_id: str, total: float, **extra: object) -> bytes:
    row = {"run_id": run_id, "workflow_id": "w", "status": "succeeded",
           "finished_at": "2026-05-10T10:00:00Z", "total_time_s": total,
           "wall_time_breakdown": {"think": total / 2}, **extra}
    return json.dumps(row).encode() + b"\n"


SHARD = "runs_log/2026-05.jsonl"

CASES: dict[str, tuple[bytes, int]] = {
    # name: (bad bytes placed between two good rows, malformed lines expected)
    "torn line": (b'{"run_id":"x","workflow_id":"w","sta\n', 1),
    "torn line sealed by the writer": (b'{"run_id":"x","workflow_id":"w","sta' + SEAL, 1),
    "torn line inside a string": (b'{"run_id":"x","error":"half\n', 1),
    "NUL run": (b"\x00" * 1800 + b"\n", 1),
    "NUL run sealed": (b"\x00" * 4096 + SEAL, 1),
    "invalid UTF-8": (b'{"run_id":"x","workflow_id":"\xff\xfe","status":"succeeded"}\n', 1),
    "binary garbage": (b"\x8b\x08\x00\x93garbage\x01\x02\n", 1),
    "non-object JSON": (b"[1,2,3]\n42\n", 2),
    "trailing content": (b'{"run_id":"x"}TRAILER\n', 1),
    "empty and blank lines": (b"\n\n   \n\t\n", 0),
    "pretty-printed object": (b'{"run_id":"x",\n"workflow_id":"w"}\n', 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_line_is_counted_and_neighbours_survive(tmp_path: Path, case: str) -> None:
    bad, expected_bad = CASES[case]
    append_bytes(tmp_path / SHARD, good("a", 10.0) + bad + good("b", 20.0) + good("c", 30.0))
    r = stats("w", data_dir=tmp_path, now=NOW)
    assert r.run_count == 3, case  # the row right after the bad line is never hidden
    assert (r.total.p50, r.total.n) == (20.0, 3)
    assert r.skipped_lines == ({"2026-05.jsonl": expected_bad} if expected_bad else {})


def test_crlf_lines(tmp_path: Path) -> None:
    append_bytes(tmp_path / SHARD, good("a", 1.0).replace(b"\n", b"\r\n")
                 + good("b", 3.0).replace(b"\n", b"\r\n"))
    r = stats("w", data_dir=tmp_path, now=NOW)
    assert (r.run_count, r.total.p50, r.skipped_lines) == (2, 2.0, {})


def test_torn_tail_at_eof_without_newline(tmp_path: Path) -> None:
    append_bytes(tmp_path / SHARD, good("a", 1.0) + b'{"run_id":"b","workfl')
    r = stats("w", data_dir=tmp_path, now=NOW)
    assert (r.run_count, r.skipped_lines) == (1, {"2026-05.jsonl": 1})


def test_writer_seals_a_crashed_tail_and_every_reader_sees_the_next_row(tmp_path: Path) -> None:
    append_bytes(tmp_path / SHARD, good("a", 1.0) + b'{"run_id":"torn","workflow_id":"w",')
    assert append_run(json.loads(good("b", 3.0)), data_dir=tmp_path)
    raw = (tmp_path / SHARD).read_bytes()
    assert raw.endswith(b"\n") and SEAL + b'{"schema_version":1,"run_id":"b"' in raw
    r = stats("w", data_dir=tmp_path, now=NOW)
    assert (r.run_count, r.total.p50, r.skipped_lines) == (2, 2.0, {"2026-05.jsonl": 1})


def test_numbers_as_strings_extra_keys_and_schema_v2(tmp_path: Path) -> None:
    lines = (
        b'{"run_id":"s","workflow_id":"w","status":"succeeded","finished_at":"2026-05-10T10:00:00Z",'
        b'"total_time_s":"3.5","wall_time_breakdown":{"think":"1.5"}}\n'
        + good("x", 5.5, host="h1", nested={"a": [1, 2]})
        + b'{"schema_version":2,"run_id":"v2","workflow_id":"w","status":"succeeded",'
          b'"finished_at":"2026-05-10T10:00:00Z","total_time_s":7.5,"new_field":{"k":1},'
          b'"wall_time_breakdown":{"think":2.5,"brand_new_bucket":1.0}}\n'
        # a value that cannot be a number: the row stays, only that field is NULL
        + b'{"run_id":"bad-total","workflow_id":"w","status":"succeeded",'
          b'"finished_at":"2026-05-10T10:00:00Z","total_time_s":"abc"}\n'
    )
    append_bytes(tmp_path / SHARD, lines)
    r = stats("w", data_dir=tmp_path, now=NOW).to_json()
    assert r["run_count"] == 4
    assert r["percentiles"]["total_time_s"] == {"p50": 5.5, "p95": 7.3, "p99": 7.46, "n": 3,
                                                "rough": ROUGH}
    assert r["percentiles"]["think"] == {"p50": 2.5, "p95": 2.725, "p99": 2.745, "n": 3,
                                         "rough": ROUGH}
    assert r["percentiles"]["brand_new_bucket"]["n"] == 1
    assert r["skipped_lines"] == {}


@pytest.mark.parametrize(("stamp", "inside"), [
    ("2026-06-01T01:30:00+02:00", True),   # 2026-05-31T23:30Z: May, and within --since
    ("2026-05-31T23:59:59.900000Z", True),
    ("2026-05-31T23:30:00", True),         # naive means UTC
    ("2026-05-31T20:00:00-07:00", False),  # 2026-06-01T03:00Z: June
])
def test_offsets_and_naive_timestamps(tmp_path: Path, stamp: str, inside: bool) -> None:
    line = (b'{"run_id":"t","workflow_id":"w","status":"succeeded","finished_at":"'
            + stamp.encode() + b'","total_time_s":1}\n')
    # shards hold their UTC month's rows (the writer routes them so); pruning relies on it
    append_bytes(tmp_path / (SHARD if inside else "runs_log/2026-06.jsonl"), line)
    since = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    until_june = stats("w", data_dir=tmp_path, since=since).run_count
    assert until_june == 1  # every form parses; none is NULL
    r = stats("w", data_dir=tmp_path, since=datetime(2026, 6, 1, tzinfo=UTC))
    assert r.run_count == (0 if inside else 1)


def test_writer_routes_offset_timestamps_by_utc_month(tmp_path: Path) -> None:
    assert append_run({"workflow_id": "w", "status": "succeeded", "total_time_s": 1,
                       "finished_at": "2026-06-01T01:30:00+02:00"}, data_dir=tmp_path)
    assert (tmp_path / SHARD).exists()
    write_rows(tmp_path, [])
    assert stats("w", data_dir=tmp_path).run_count == 1


def test_non_finite_values_are_not_samples(tmp_path: Path) -> None:
    lines = (good("a", 10.0)
             + b'{"run_id":"nan","workflow_id":"w","status":"succeeded",'
               b'"finished_at":"2026-05-10T10:00:00Z","total_time_s":"NaN",'
               b'"wall_time_breakdown":{"think":"Infinity","act":2.0}}\n'
             + b'{"run_id":"big","workflow_id":"w","status":"succeeded",'
               b'"finished_at":"2026-05-10T10:00:00Z","total_time_s":1e400,'
               b'"wall_time_breakdown":{"think":"-inf"}}\n')
    append_bytes(tmp_path / SHARD, lines)
    r = stats("w", data_dir=tmp_path, now=NOW).to_json()
    assert r["run_count"] == 3  # the runs are there; their non-finite values are not samples
    assert r["percentiles"]["total_time_s"] == {"p50": 10.0, "p95": 10.0, "p99": 10.0, "n": 1,
                                                "rough": ROUGH}
    assert r["percentiles"]["think"]["n"] == 1 and r["percentiles"]["act"]["n"] == 1
    json.dumps(r, allow_nan=False)  # valid JSON
