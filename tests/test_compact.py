"""Compaction with real files, real DuckDB, real subprocesses and real crashes.

* round trips: every stats query answers the same before and after compaction, on the demo
  history and on a log full of malformed lines, and the report's numbers are exact;
* the Parquet parts: schema, ``extra`` column, pyarrow and polars;
* late rows, --dry-run, --month, the grace period, a busy lock;
* crashes: each crash state made by hand, then a child killed before every single filesystem
  operation of a compaction; readers see each row exactly once in every state and the next
  compaction cleans up (every part left with its checksum file, and no other checksum file);
* a really full disk (tmpfs in a user namespace) and injected ENOSPC.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from helpers import (
    append_bytes,
    assert_matches,
    disk_state,
    oracle,
    run_cli,
    stored_run_ids,
)
from mantis_runs import RunStore
from mantis_runs.compaction import COMPACT_LOCK, CompactionBusy, compact
from mantis_runs.db import arrow_schema
from mantis_runs.demo import WORKFLOWS, synth_runs, write_demo
from mantis_runs.errors import MantisError, UsageError
from mantis_runs.log.integrity import check_part, checksum_path
from mantis_runs.log.layout import month_of, scan
from mantis_runs.log.writer import SEAL, append_run
from mantis_runs.stats.engine import resolve_since, stats
from mantis_runs.units import human_bytes

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # Feb, Mar and Apr 2026 are closed; May is open
DEMO_RUNS = 1200
DEMO_WORKFLOWS = [w[0] for w in WORKFLOWS]
CLOSED = ["2026-02", "2026-03", "2026-04"]

#: stats queries compared before and after: every status, newest-N that stops inside a month,
#: ISO and duration --since, --bucket subsets (one that matches nothing).
COMBOS: list[dict[str, Any]] = [
    {"status": "", "last": 10**9},
    {"status": "succeeded", "last": 10**9},
    {"status": "failed", "last": 10**9},
    {"status": "", "last": 40},
    {"status": "", "last": 10**9, "since": "2026-03-15"},
    {"status": "succeeded", "last": 10**9, "since": "45d", "buckets": ["settle", "think"]},
    {"status": "", "last": 150, "since": datetime(2026, 4, 1, tzinfo=UTC),
     "buckets": ["settle"]},
    {"status": "", "last": 10**9, "buckets": ["no-such-bucket"]},
]


# --------------------------------------------------------------------------------------------
# helpers


def all_stats(data_dir: Path, workflows: list[str]) -> dict[str, Any]:
    """Every COMBO for every workflow, as the JSON the CLI prints (minus skipped_lines)."""
    out: dict[str, Any] = {}
    for wf in workflows:
        for i, combo in enumerate(COMBOS):
            j = stats(wf, data_dir=data_dir, now=NOW, **combo).to_json()
            j.pop("skipped_lines")
            out[f"{wf}#{i}"] = j
    return out


def quick_stats(data_dir: Path, workflows: list[str]) -> dict[str, Any]:
    """Two queries per workflow (all runs, any status; the newest 40 succeeded): for tests whose
    subject is not the query itself."""
    out: dict[str, Any] = {}
    for wf in workflows:
        for status, last in (("", 10**9), ("succeeded", 40)):
            j = stats(wf, data_dir=data_dir, status=status, last=last).to_json()
            j.pop("skipped_lines")
            out[f"{wf}#{status}#{last}"] = j
    return out


def same(a: Any, b: Any) -> bool:
    """Exact equality, NaN included (json.dumps writes NaN the same way each time)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


stored_rows = stored_run_ids


def listing(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every file and directory under root (root included): kind, size, mtime, inode."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            kind = "d" if p.is_dir() else "f"
            out[str(p.relative_to(root))] = (kind, st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def part_files(data_dir: Path) -> dict[str, list[str]]:
    comp = data_dir / "compacted"
    if not comp.is_dir():
        return {}
    return {m.name: sorted(p.name for p in m.iterdir()) for m in sorted(comp.iterdir())}


def assert_clean(data_dir: Path, months: list[str]) -> None:
    """After a successful compaction: one part per compacted month, nothing else left over."""
    parts = part_files(data_dir)
    assert sorted(parts) == months
    for m in months:
        assert len(parts[m]) == 1, parts[m]
        assert parts[m][0].startswith("part-") and parts[m][0].endswith(".parquet")
    assert not (data_dir / ".tmp").exists()
    leftovers = [p.name for p in (data_dir / "runs_log").iterdir()
                 if ".sealed-" in p.name or (p.name[:7] in months and p.name.endswith(".jsonl"))]
    assert leftovers == []
    for mf in scan(data_dir).values():
        assert mf.superseded == [] and mf.sealed == []
    assert disk_state(data_dir, []) == {"clean"}  # no stray checkpoint file either
    # each part has its checksum file, and every byte matches it; no other checksum file is left
    current = [p for mf in scan(data_dir).values() for p in mf.parts]
    assert sorted(p.relative_to(data_dir) for p in (data_dir / "checksums").glob("*/*")) == (
        sorted(checksum_path(p).relative_to(data_dir) for p in current))
    for p in current:
        assert check_part(p, full=True) is not None


def mantis(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mantis_runs", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("demo") / "data"
    result = write_demo(d, DEMO_RUNS, now=NOW)
    assert result.written == DEMO_RUNS
    return d


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(demo_template, d)
    return d


def demo_rows() -> list[dict[str, Any]]:
    return list(synth_runs(DEMO_RUNS, now=NOW, seed=7))


# --------------------------------------------------------------------------------------------
# round trip: the demo history


def test_demo_round_trip_is_exact(demo: Path) -> None:
    before = all_stats(demo, DEMO_WORKFLOWS)
    rows_before = stored_rows(demo)
    assert len(rows_before) == DEMO_RUNS and set(rows_before.values()) == {1}

    report = compact(demo, now=NOW)

    assert report.closed_before == "2026-05" and report.recovered == []
    assert [m.month for m in report.months] == CLOSED
    per_month = Counter(r["finished_at"][:7] for r in demo_rows())
    for m in report.months:
        assert (m.shards, m.lines_in, m.rows_in, m.rows_written, m.duplicates_dropped,
                m.bad_lines_quarantined, m.previous_rows, m.quarantine) == (
            1, per_month[m.month], per_month[m.month], per_month[m.month], 0, 0, 0, [])
        assert m.part is not None and (demo / m.part).is_file()
        assert m.bytes_after == (demo / m.part).stat().st_size
        assert m.bytes_before > m.bytes_after > 0
    assert_clean(demo, CLOSED)
    assert (demo / "runs_log" / "2026-05.jsonl").is_file()  # the open month is untouched

    after = all_stats(demo, DEMO_WORKFLOWS)
    assert same(after, before)
    assert stored_rows(demo) == rows_before
    # ... and both equal numpy, bit for bit at 1e-12
    rows = demo_rows()
    for wf in DEMO_WORKFLOWS:
        for i, combo in enumerate(COMBOS):
            status = combo["status"]
            since = resolve_since(combo.get("since"), NOW)
            expected = oracle(rows, wf, last=combo["last"], status=status, since=since,
                              buckets=combo.get("buckets"))
            assert_matches(after[f"{wf}#{i}"], expected, rel=1e-12)

    # a second run has nothing to do, and does nothing
    files = listing(demo)
    again = compact(demo, now=NOW)
    assert again.months == [] and again.recovered == []
    assert {k: v for k, v in listing(demo).items() if not k.startswith(".")} == {
        k: v for k, v in files.items() if not k.startswith(".")}


# --------------------------------------------------------------------------------------------
# round trip: a log full of malformed lines

BAD, BLANK = "<bad>", "<blank>"


def row(run_id: Any, total: Any, fin: str, wf: str = "wa", status: str = "succeeded",
        **more: Any) -> bytes:
    r = {"run_id": run_id, "workflow_id": wf, "status": status, "finished_at": fin,
         "total_time_s": total,
         "wall_time_breakdown": {"think": total / 2, "act": total / 4} if isinstance(
             total, float) else {}}
    r.update(more)
    return json.dumps(r, separators=(",", ":")).encode()


# (physical line without its "\n", what it is: a run_id, BAD or BLANK)
FEB_LINES: list[tuple[bytes, str]] = [
    (b"[1,2,3]", BAD),  # 1: non-object JSON as the very first line of the shard
    (row("f1", 10.0, "2026-02-03T10:00:00Z"), "f1"),
    (b"", BLANK),
    (row("f2", 20.0, "2026-02-04T10:00:00Z") + b"\r", "f2"),  # CRLF
    (b'{"run_id":"torn1","workflow_id":"wa","sta', BAD),  # 5: torn, then a good row
    (row("f3", 30.0, "2026-02-05T10:00:00Z", host="h1", nested={"a": [1, 2]}), "f3"),
    (b'{"run_id":"torn2","workflow_id":"wa","status":"succ' + SEAL[:-1], BAD),  # torn + SEAL
    (b'{"run_id":"f4","workflow_id":"wa","status":"succeeded",'
     b'"finished_at":"2026-02-06T10:00:00Z","total_time_s":"40.5",'
     b'"wall_time_breakdown":{"think":"20.25"},"steps_executed":"7"}', "f4"),  # numbers as text
    (b"\x00" * 3000, BAD),  # 9: a NUL run (power loss)
    (b"\x00" * 100 + SEAL[:-1], BAD),  # a NUL run sealed by the next writer
    (b'{"run_id":"u8","workflow_id":"wa\xff\xfe","status":"succeeded"}', BAD),  # invalid UTF-8
    (b"\x8b\x08\x00\x93garbage\x01\x02", BAD),
    (b"42", BAD),
    (b'"a string"', BAD),
    (b"null", BAD),
    (b"{}", BAD),  # 16: an object without a run_id
    (row(None, 5.0, "2026-02-07T10:00:00Z"), BAD),  # run_id null
    (b"  \t", BLANK),
    (row("f1", 10.0, "2026-02-03T10:00:00Z"), "f1"),  # 19: exact duplicate
    (row("f2", 25.0, "2026-02-08T10:00:00Z") + b"\r", "f2"),  # later copy of f2: it wins
    (b'{"run_id":12345,"workflow_id":"wa","status":"succeeded",'
     b'"finished_at":"2026-02-09T10:00:00Z","total_time_s":12.5}', "12345"),  # numeric run_id
    (b'{"run_id":"tr","workflow_id":"wa"}TRAILER', BAD),
    (b"\r", BLANK),
    (row("f6", 60.0, "2026-02-10T10:00:00Z", x=None), "f6"),
    (row("f7", 70.0, "2026-02-11T10:00:00Z", wf="wb", status="failed"), "f7"),
    (b'{"run_id":"tail","workflow_id":"wa"', BAD),  # 26: torn tail, no newline at EOF
]
FEB_EOF_NEWLINE = False

MAR_SEALED_ID = "0123456789abcdef"  # a shard sealed by a compactor that died before converting
MAR_SEALED_LINES: list[tuple[bytes, str]] = [
    (b'"first line is a string"', BAD),
    (row("m1", 11.0, "2026-03-02T10:00:00Z"), "m1"),
    (row("m2", 12.0, "2026-03-03T10:00:00Z"), "m2"),
    (row("m1", 11.0, "2026-03-02T10:00:00Z"), "m1"),  # duplicate within the shard
    (row("m3", 13.0, "2026-03-04T10:00:00Z", wf="wb"), "m3"),
    (b"\x00" * 500 + SEAL[:-1], BAD),
    (row("m4", 14.0, "2026-03-05T10:00:00Z"), "m4"),
]
MAR_LIVE_LINES: list[tuple[bytes, str]] = [
    (b"[]", BAD),  # non-object JSON first again
    (row("m2", 12.5, "2026-03-06T10:00:00Z"), "m2"),  # duplicate across shards, later: wins
    (row("m5", 15.0, "2026-03-07T10:00:00Z"), "m5"),
    # the same run_id in another month: both are kept, readers count the latest
    (row("f3", 31.0, "2026-03-01T00:00:01Z", host="h2"), "f3"),
    (b"", BLANK),
    (row("m6", 16.0, "2026-03-31T23:59:59.900000Z"), "m6"),
]
APR_LINES: list[tuple[bytes, str]] = [
    (row("a1", 21.0, "2026-04-01T00:00:00Z", wall_time_breakdown={"new_bucket": 3.0}), "a1"),
    (row("a2", 22.0, "2026-04-02T10:00:00Z") + b"\r", "a2"),
    (row("a3", 23.0, "2026-04-03T10:00:00Z", wf="wb"), "a3"),
    (row("a1", 21.0, "2026-04-01T00:00:00Z", wall_time_breakdown={"new_bucket": 3.0}), "a1"),
]
MAY_LINES: list[tuple[bytes, str]] = [  # the open month: never compacted
    (row("y1", 31.0, "2026-05-01T10:00:00Z"), "y1"),
    (b"garbage", BAD),
    (row("y2", 32.0, "2026-05-19T10:00:00Z"), "y2"),
]


def shard_bytes(lines: list[tuple[bytes, str]], eof_newline: bool = True) -> bytes:
    data = b"\n".join(b for b, _ in lines)
    return data + b"\n" if eof_newline else data


MALFORMED_SHARDS = {
    "2026-02.jsonl": shard_bytes(FEB_LINES, FEB_EOF_NEWLINE),
    f"2026-03.jsonl.sealed-{MAR_SEALED_ID}": shard_bytes(MAR_SEALED_LINES),
    "2026-03.jsonl": shard_bytes(MAR_LIVE_LINES),
    "2026-04.jsonl": shard_bytes(APR_LINES),
    "2026-05.jsonl": shard_bytes(MAY_LINES),
}
SHARD_LINES = {
    "2026-02.jsonl": FEB_LINES,
    f"2026-03.jsonl.sealed-{MAR_SEALED_ID}": MAR_SEALED_LINES,
    "2026-03.jsonl": MAR_LIVE_LINES,
    "2026-04.jsonl": APR_LINES,
    "2026-05.jsonl": MAY_LINES,
}


def write_malformed(data_dir: Path) -> None:
    for name, data in MALFORMED_SHARDS.items():
        append_bytes(data_dir / "runs_log" / name, data)


@pytest.fixture
def malformed(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    write_malformed(d)
    return d


def test_malformed_fixture_is_what_it_claims() -> None:
    # The expectations below are derived from the tables; check the tables against Python's own
    # reading of the bytes, so a typo in them cannot make both sides agree by accident.
    for name, lines in SHARD_LINES.items():
        physical = MALFORMED_SHARDS[name].split(b"\n")
        if MALFORMED_SHARDS[name].endswith(b"\n"):
            physical.pop()
        assert len(physical) == len(lines)
        for raw, (_, kind) in zip(physical, lines, strict=True):
            if kind == BLANK:
                assert raw.strip() == b""
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                assert kind == BAD, raw[:60]
                continue
            ok = isinstance(obj, dict) and obj.get("run_id") is not None
            assert (str(obj["run_id"]) if ok else BAD) == kind, raw[:60]


def expected_month(shards: list[str]) -> dict[str, int]:
    lines = [k for s in shards for _, k in SHARD_LINES[s] if k != BLANK]
    good = [k for k in lines if k != BAD]
    return {"lines_in": len(lines), "rows_in": len(good), "rows_written": len(set(good)),
            "duplicates_dropped": len(good) - len(set(good)),
            "bad_lines_quarantined": lines.count(BAD)}


def test_malformed_round_trip_and_exact_report(malformed: Path) -> None:
    before = all_stats(malformed, ["wa", "wb"])
    rows_before = stored_rows(malformed)
    skipped_before = stats("wa", data_dir=malformed, status="", last=10**9).skipped_lines
    assert skipped_before == {"2026-02.jsonl": 14, f"2026-03.jsonl.sealed-{MAR_SEALED_ID}": 2,
                              "2026-03.jsonl": 1, "2026-05.jsonl": 1}
    # every run once per month; f3 is in February and March
    assert before["wa#0"]["run_count"] == 15 and before["wb#0"]["run_count"] == 3

    report = compact(malformed, now=NOW)

    assert [m.month for m in report.months] == CLOSED
    got = {m.month: m for m in report.months}
    # the numbers, by hand ...
    assert [(m.shards, m.lines_in, m.rows_in, m.rows_written, m.duplicates_dropped,
             m.bad_lines_quarantined, m.previous_rows) for m in report.months] == [
        (1, 23, 9, 7, 2, 14, 0),
        (2, 12, 9, 7, 2, 3, 0),
        (1, 4, 4, 3, 1, 0, 0),
    ]
    # ... and from the tables
    for month, shards in {"2026-02": ["2026-02.jsonl"],
                          "2026-03": [f"2026-03.jsonl.sealed-{MAR_SEALED_ID}", "2026-03.jsonl"],
                          "2026-04": ["2026-04.jsonl"]}.items():
        m = got[month]
        assert {k: getattr(m, k) for k in expected_month(shards)} == expected_month(shards)
        # nothing silently dropped: every non-blank line is written, a duplicate or quarantined
        assert m.rows_written + m.duplicates_dropped + m.bad_lines_quarantined == m.lines_in
        assert m.rows_written == pq.ParquetFile(malformed / str(m.part)).metadata.num_rows
    assert_clean(malformed, CLOSED)

    after = all_stats(malformed, ["wa", "wb"])
    assert same(after, before)
    expected_rows = Counter(set(rows_before))  # one copy per run and month: f3 is in two
    expected_rows["f3"] = 2
    assert stored_rows(malformed) == expected_rows
    # bad lines of compacted months are in quarantine now; the open month's are still counted
    assert stats("wa", data_dir=malformed, status="", last=10**9).skipped_lines == {
        "2026-05.jsonl": 1}

    # the quarantine: one line per bad line, with its 1-based physical line and exact bytes
    seen: dict[str, set[int]] = {}
    for m in report.months:
        assert len(m.quarantine) == (0 if m.month == "2026-04" else
                                     2 if m.month == "2026-03" else 1)
        for q in m.quarantine:
            for line in (malformed / q).read_bytes().splitlines():
                entry = json.loads(line)
                original = ("2026-03.jsonl.sealed-" + MAR_SEALED_ID
                            if entry["sealed_as"].endswith(MAR_SEALED_ID) else entry["shard"])
                assert entry["sealed_as"].startswith(entry["shard"] + ".sealed-")
                physical = MALFORMED_SHARDS[original].split(b"\n")
                raw = base64.b64decode(entry["raw_base64"])
                assert raw == physical[entry["line"] - 1]
                assert entry["bytes"] == len(raw)
                assert SHARD_LINES[original][entry["line"] - 1][1] == BAD
                assert entry["line"] not in seen.setdefault(original, set())
                seen[original].add(entry["line"])
    assert seen == {
        "2026-02.jsonl": {1, 5, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 22, 26},
        f"2026-03.jsonl.sealed-{MAR_SEALED_ID}": {1, 6},
        "2026-03.jsonl": {1},
    }


def test_parquet_schema_extra_column_pyarrow_and_polars(malformed: Path) -> None:
    import polars as pl

    report = compact(malformed, now=NOW)
    parts = {m.month: malformed / str(m.part) for m in report.months}
    for p in parts.values():
        assert pq.read_schema(p).equals(arrow_schema.parquet_schema())
        assert (pq.read_schema(p).metadata or {})[b"mantis_layout"] == b"2"
        assert pq.ParquetFile(p).metadata.row_group(0).column(0).compression == "ZSTD"
    feb = {r["run_id"]: r for r in pq.read_table(parts["2026-02"]).to_pylist()}
    assert sorted(feb) == ["12345", "f1", "f2", "f3", "f4", "f6", "f7"]
    assert json.loads(feb["f3"]["extra"]) == {"host": "h1", "nested": {"a": [1, 2]}}
    assert json.loads(feb["f6"]["extra"]) == {"x": None}
    assert feb["f1"]["extra"] is None
    # numbers written as strings are typed; the later copy of a duplicate is the one kept
    assert (feb["f4"]["total_time_s"], feb["f4"]["wall_time_breakdown"]["think"],
            feb["f4"]["wall_time_breakdown_other"], feb["f4"]["steps_executed"]) == (
        40.5, 20.25, None, 7)
    assert {k for k, v in feb["f4"]["wall_time_breakdown"].items() if v is not None} == {
        "think"}
    assert (feb["f2"]["total_time_s"], feb["f2"]["finished_at"]) == (
        25.0, datetime(2026, 2, 8, 10, tzinfo=UTC))
    mar = {r["run_id"]: r for r in pq.read_table(parts["2026-03"]).to_pylist()}
    assert json.loads(mar["f3"]["extra"]) == {"host": "h2"}
    assert mar["m2"]["total_time_s"] == 12.5
    assert mar["m6"]["finished_at"] == datetime(2026, 3, 31, 23, 59, 59, 900000, tzinfo=UTC)

    glob = str(malformed / "compacted" / "*" / "part-*.parquet")
    total = sum(m.rows_written for m in report.months)
    assert total == 17
    df = pl.read_parquet(glob)
    assert df.height == total
    assert df.columns == arrow_schema.parquet_schema().names
    assert pl.scan_parquet(glob).select(pl.len()).collect().item() == total
    f4 = df.filter(pl.col("run_id") == "f4")
    assert f4["total_time_s"].to_list() == [40.5]
    assert f4["wall_time_breakdown"].struct.field("think").to_list() == [20.25]


def assert_same_stats_by_status_after_compaction(d: Path, run_counts: list[int]) -> None:
    """stats of workflow wa for every status: as expected before compaction, the same after."""
    statuses = ("", "failed", "succeeded")
    before = {st: stats("wa", data_dir=d, status=st, last=10).to_json() for st in statuses}
    assert [before[st]["run_count"] for st in statuses] == run_counts
    compact(d, now=NOW)
    after = {st: stats("wa", data_dir=d, status=st, last=10).to_json() for st in statuses}
    assert same(after, before)


def test_duplicates_that_disagree_on_status(tmp_path: Path) -> None:
    # stats keeps one copy per run_id (the latest) before it filters by status, as compaction does
    append_bytes(tmp_path / "runs_log" / "2026-03.jsonl",
                 row("d1", 1.0, "2026-03-02T10:00:00Z", status="failed") + b"\n"
                 + row("d1", 2.0, "2026-03-03T10:00:00Z") + b"\n"
                 + row("d2", 3.0, "2026-03-04T10:00:00Z") + b"\n"
                 + row("d2", 4.0, "2026-03-01T10:00:00Z", status="failed") + b"\n")
    assert_same_stats_by_status_after_compaction(tmp_path, [2, 0, 2])


def test_duplicates_tied_on_finished_at_with_a_non_finite_total(tmp_path: Path) -> None:
    # Hand-written copies: readers take a NaN or infinite total as none, so the finite copy wins
    # the tie on finished_at; compaction must keep that same copy.
    append_bytes(tmp_path / "runs_log" / "2026-03.jsonl",
                 b'{"run_id": "n1", "workflow_id": "wa", "status": "failed", '
                 b'"finished_at": "2026-03-02T10:00:00Z", "total_time_s": 1e400}\n'
                 + row("n1", 5.0, "2026-03-02T10:00:00Z") + b"\n"
                 + b'{"run_id": "n2", "workflow_id": "wa", "status": "failed", '
                 b'"finished_at": "2026-03-03T10:00:00Z", "total_time_s": "NaN"}\n'
                 + row("n2", 6.0, "2026-03-03T10:00:00Z") + b"\n")
    assert_same_stats_by_status_after_compaction(tmp_path, [2, 0, 2])


def test_duplicates_that_disagree_on_workflow(tmp_path: Path) -> None:
    append_bytes(tmp_path / "runs_log" / "2026-03.jsonl",
                 row("d1", 1.0, "2026-03-02T10:00:00Z", wf="wa") + b"\n"
                 + row("d1", 2.0, "2026-03-03T10:00:00Z", wf="wb") + b"\n")
    before = {wf: stats(wf, data_dir=tmp_path, status="", last=10).run_count
              for wf in ("wa", "wb")}
    compact(tmp_path, now=NOW)
    after = {wf: stats(wf, data_dir=tmp_path, status="", last=10).run_count
             for wf in ("wa", "wb")}
    assert after == before  # before: {"wa": 1, "wb": 1}; after: {"wa": 0, "wb": 1}


# --------------------------------------------------------------------------------------------
# late rows


def test_late_rows_are_read_at_once_and_folded_into_generation_2(demo: Path) -> None:
    rows = demo_rows()
    first = compact(demo, now=NOW)
    gen1 = {m.month: m for m in first.months}
    april = [r for r in rows if r["finished_at"].startswith("2026-04")]
    feb = [r for r in rows if r["finished_at"].startswith("2026-02")]
    # a newer copy of a compacted April run, an exact copy of a compacted February run, and a
    # run that finished at 23:59:59.9 on April's last day
    old = april[len(april) // 2]
    newer = {**old, "total_time_s": old["total_time_s"] + 1000.0,
             "finished_at": "2026-04-30T20:00:00Z"}
    late = {**april[0], "run_id": "late-23-59-59.9", "finished_at": "2026-04-30T23:59:59.900000Z",
            "total_time_s": 77.0}
    for r in (newer, dict(feb[3]), late):
        assert append_run(r, data_dir=demo)
    assert (demo / "runs_log" / "2026-04.jsonl").is_file()
    assert (demo / "runs_log" / "2026-02.jsonl").is_file()

    rows2 = [*rows, newer, feb[3], late]
    seen_now = all_stats(demo, DEMO_WORKFLOWS)
    for wf in DEMO_WORKFLOWS:  # immediately, exactly once, the newest copy
        for i, combo in enumerate(COMBOS):
            expected = oracle(rows2, wf, last=combo["last"], status=combo["status"],
                              since=resolve_since(combo.get("since"), NOW),
                              buckets=combo.get("buckets"))
            assert_matches(seen_now[f"{wf}#{i}"], expected, rel=1e-12)
    counts = stored_rows(demo)
    assert (counts[old["run_id"]], counts[feb[3]["run_id"]], counts[late["run_id"]]) == (2, 2, 1)
    assert len(counts) == DEMO_RUNS + 1

    second = compact(demo, now=NOW)
    assert [m.month for m in second.months] == ["2026-02", "2026-04"]
    by = {m.month: m for m in second.months}
    assert (by["2026-04"].previous_rows, by["2026-04"].rows_in, by["2026-04"].rows_written,
            by["2026-04"].duplicates_dropped) == (
        gen1["2026-04"].rows_written, 2, gen1["2026-04"].rows_written + 1, 1)
    assert (by["2026-02"].previous_rows, by["2026-02"].rows_in, by["2026-02"].rows_written,
            by["2026-02"].duplicates_dropped) == (
        gen1["2026-02"].rows_written, 1, gen1["2026-02"].rows_written, 1)
    parts = part_files(demo)
    assert parts["2026-04"][0].startswith("part-000002-")
    assert parts["2026-02"][0].startswith("part-000002-")
    assert parts["2026-03"][0].startswith("part-000001-")
    assert_clean(demo, CLOSED)
    assert not (demo / str(gen1["2026-04"].part)).exists()
    assert same(all_stats(demo, DEMO_WORKFLOWS), seen_now)
    counts = stored_rows(demo)
    assert set(counts.values()) == {1} and len(counts) == DEMO_RUNS + 1
    apr = {r["run_id"]: r for r in pq.read_table(demo / str(by["2026-04"].part)).to_pylist()}
    assert apr[old["run_id"]]["total_time_s"] == newer["total_time_s"]
    assert apr[late["run_id"]]["finished_at"] == datetime(2026, 4, 30, 23, 59, 59, 900000,
                                                          tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# dry run, --month, the grace period, the current month


def old_months_dir(d: Path) -> None:
    """Rows in three months long closed by the real clock (the CLI has no --now)."""
    for i, m in enumerate(["2025-01", "2025-02", "2025-03"]):
        for k in range(5):
            assert append_run({"run_id": f"{m}-{k}", "workflow_id": "w", "status": "succeeded",
                               "finished_at": f"{m}-1{k}T10:00:00Z",
                               "total_time_s": float(10 * i + k)}, data_dir=d)
    append_bytes(d / "runs_log" / "2025-02.jsonl", b"garbage\n")


def test_dry_run_changes_nothing_and_prints_the_plan(tmp_path: Path) -> None:
    d = tmp_path / "data"
    old_months_dir(d)
    before = listing(d)
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--dry-run")
    assert (code, err) == (0, "")
    assert listing(d) == before  # not even a lock file
    assert out.splitlines() == [
        f"Dry run in {d}: months before {month_of(datetime.now(UTC) - timedelta(days=1))} "
        "are closed.",
        *(f"{m}: absorb {m}.jsonl (to be sealed) into a new part "
          f"({human_bytes((d / 'runs_log' / f'{m}.jsonl').stat().st_size)} now)"
          for m in ("2025-01", "2025-02", "2025-03")),
    ]
    code, out, _ = run_cli("runs", "compact", "--data-dir", str(d), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["dry_run"] is True and len(json.loads(out)["plan"]) == 3
    assert listing(d) == before

    # after a real compaction and a late row, the plan names the next part
    code, out, _ = run_cli("runs", "compact", "--data-dir", str(d), "--json")
    assert code == 0
    assert [m["bad_lines_quarantined"] for m in json.loads(out)["months"]] == [0, 1, 0]
    assert append_run({"run_id": "late", "workflow_id": "w", "status": "succeeded",
                       "finished_at": "2025-02-28T23:59:59.9Z", "total_time_s": 1.0},
                      data_dir=d)
    before = listing(d)
    code, out, _ = run_cli("runs", "compact", "--data-dir", str(d), "--dry-run", "--month",
                           "2025-02", "--month", "2025-03")
    assert code == 0
    feb = scan(d)["2025-02"]
    assert out.splitlines()[1:] == [
        "2025-02: absorb 2025-02.jsonl (to be sealed) into the next part "
        f"({human_bytes(feb.bytes)} now)"]
    assert listing(d) == before


@pytest.mark.parametrize("month", ["2026-13", "2026-5", "26-05", "may", "2026-05-01", ""])
def test_month_must_be_yyyy_mm(tmp_path: Path, month: str) -> None:
    code, out, err = run_cli("runs", "compact", "--data-dir", str(tmp_path), "--month", month)
    assert code == 2 and out == ""
    assert "--month takes YYYY-MM" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_open_months_are_usage_errors(tmp_path: Path) -> None:
    d = tmp_path / "data"
    old_months_dir(d)
    current = month_of(datetime.now(UTC))
    nxt = month_of(datetime.now(UTC) + timedelta(days=32))
    before = listing(d)
    for m in (current, nxt):
        code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--month", m)
        assert code == 2 and out == "", err
        assert f"month {m} is not closed yet" in err
    assert listing(d) == before


def test_current_month_is_never_compacted_and_month_filter(tmp_path: Path) -> None:
    d = tmp_path / "data"
    for fin in ("2026-04-30T23:59:59.900000Z", "2026-05-01T00:00:00Z", "2026-05-20T11:59:00Z"):
        assert append_run({"workflow_id": "w", "status": "succeeded", "finished_at": fin,
                           "total_time_s": 1.0}, data_dir=d)
    may = d / "runs_log" / "2026-05.jsonl"
    st = may.stat()
    # grace 0 and the clock right at a month's start: the previous month is closed, not this one
    r = compact(d, now=datetime(2026, 5, 1, tzinfo=UTC), grace=timedelta(0), months=["2026-04"])
    assert [m.month for m in r.months] == ["2026-04"]
    for now in (NOW, datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC)):
        assert compact(d, now=now, grace=timedelta(0)).months == []
        with pytest.raises(UsageError, match="month 2026-05 is not closed yet"):
            compact(d, now=now, grace=timedelta(0), months=["2026-05"])
    assert (may.stat().st_ino, may.stat().st_size, may.stat().st_mtime_ns) == (
        st.st_ino, st.st_size, st.st_mtime_ns)
    assert part_files(d).keys() == {"2026-04"}


def test_grace_period(tmp_path: Path) -> None:
    d = tmp_path / "data"
    assert append_run({"run_id": "a", "workflow_id": "w", "status": "succeeded",
                       "finished_at": "2026-04-30T23:00:00Z", "total_time_s": 1.0}, data_dir=d)
    two_hours_after = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # April ended 2 hours ago
    r = compact(d, now=two_hours_after, grace=timedelta(days=1))
    assert (r.closed_before, r.months) == ("2026-04", [])
    assert (d / "runs_log" / "2026-04.jsonl").is_file()
    with pytest.raises(UsageError, match=r"closes at 2026-05-02 00:00 UTC"):
        compact(d, now=two_hours_after, grace=timedelta(days=1), months=["2026-04"])
    r = compact(d, now=two_hours_after, grace=timedelta(hours=1), months=["2026-04"])
    assert (r.closed_before, [m.month for m in r.months]) == ("2026-05", ["2026-04"])
    assert_clean(d, ["2026-04"])
    # the CLI parses the duration
    code, _out, err = run_cli("runs", "compact", "--data-dir", str(d), "--grace", "soon")
    assert code == 2 and "--grace" in err


# --------------------------------------------------------------------------------------------
# a second compactor

_HOLD_LOCK = """
import sys, time
from pathlib import Path
from mantis_runs.log.locks import locked
with locked(Path(sys.argv[1]), exclusive=True, timeout=None):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""



@contextmanager
def lock_holder(data_dir: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds .compact.lock for ``seconds`` (as a running compactor does)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(data_dir / COMPACT_LOCK),
                          str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == "held\n"
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_second_compactor_exits_0_and_changes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "data"
    old_months_dir(d)
    with lock_holder(d, 120):
        before = listing(d)
        r = mantis("runs", "compact", "--data-dir", str(d))
        assert (r.returncode, r.stdout) == (0, "")
        assert r.stderr == (f"another compaction is running in {d} (it holds "
                            f"{d / COMPACT_LOCK}); nothing done\n")
        r = mantis("runs", "compact", "--data-dir", str(d), "--dry-run")
        assert (r.returncode, r.stdout, r.stderr.count("\n")) == (0, "", 1)
        with pytest.raises(CompactionBusy):
            compact(d, now=NOW, wait=0.3)
        assert listing(d) == before


def test_second_compactor_with_wait_waits_then_runs(tmp_path: Path) -> None:
    d = tmp_path / "data"
    old_months_dir(d)
    with lock_holder(d, 1.5) as holder:
        t0 = time.monotonic()
        r = mantis("runs", "compact", "--data-dir", str(d), "--wait", "60", "--json")
        waited = time.monotonic() - t0
        assert holder.poll() == 0  # it finished its 1.5 s, then we ran
    assert r.returncode == 0, r.stderr
    assert waited >= 1.0
    assert [m["month"] for m in json.loads(r.stdout)["months"]] == ["2025-01", "2025-02",
                                                                    "2025-03"]
    assert_clean(d, ["2025-01", "2025-02", "2025-03"])


_STATS_LOOP = """
import sys
from mantis_runs.stats.engine import stats
n = 0
while True:
    stats(sys.argv[2], data_dir=sys.argv[1], last=10**9, status=None)
    n += 1
    if n == 1:
        print("looping", flush=True)
"""


@pytest.mark.exclusive  # an upper bound on a wait
def test_compaction_is_not_starved_by_a_reader_in_a_loop(demo: Path) -> None:
    # A reader that queries back to back holds .publish.lock shared almost all the time. Polling
    # for the exclusive lock (LOCK_NB + sleep) waited 10-30 s per publish here; a kernel wait
    # is woken as soon as the reader lets go.
    reader = subprocess.Popen([sys.executable, "-c", _STATS_LOOP, str(demo), DEMO_WORKFLOWS[0]],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline() == "looping\n"
        t0 = time.monotonic()
        r = compact(demo, now=NOW)  # 3 seals + 3 publishes, each under the exclusive lock
        elapsed = time.monotonic() - t0
        assert reader.poll() is None  # the reader kept going, without an error
    finally:
        reader.kill()
        reader.wait()
    assert [m.month for m in r.months] == CLOSED
    assert elapsed < 10, elapsed  # polling: 20-120 s here


# --------------------------------------------------------------------------------------------
# crash states made by hand

CRASH_NOW = NOW


def simple_row(run_id: str, fin: str, total: float, wf: str = "wa") -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": wf, "status": "failed" if total > 90 else "succeeded",
            "finished_at": fin, "total_time_s": total,
            "wall_time_breakdown": {"think": round(total * 0.6, 3), "act": round(total * 0.3, 3)}}


def crash_rows(month: str, prefix: str, n: int, first_day: int = 1) -> list[dict[str, Any]]:
    return [simple_row(f"{prefix}{i:03d}", f"{month}-{first_day + i % 20:02d}T{i % 24:02d}:17:00Z",
                       1.0 + (i * 37 % 100), "wa" if i % 3 else "wb") for i in range(n)]


def write_plain(data_dir: Path, name: str, rows: list[dict[str, Any]], tail: bytes = b"") -> None:
    append_bytes(data_dir / "runs_log" / name,
                 b"".join(json.dumps(r).encode() + b"\n" for r in rows) + tail)


class CrashScene:
    """A data dir in a crash state, and what readers must see in it."""

    def __init__(self, data_dir: Path) -> None:
        self.d = data_dir
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, rows: list[dict[str, Any]], tail: bytes = b"") -> None:
        write_plain(self.d, name, rows, tail)
        self.rows += rows

    def check_readers(self, data_dir: Path | None = None) -> None:
        """Each row exactly once, and the stats of the whole history are numpy's."""
        d = self.d if data_dir is None else data_dir
        counts = stored_rows(d)
        assert counts == Counter(r["run_id"] for r in self.rows), (
            sorted(k for k, c in counts.items() if c != 1))
        for wf in ("wa", "wb"):
            got = stats(wf, data_dir=d, status="", last=10**9).to_json()
            assert_matches(got, oracle(self.rows, wf, last=10**9, status=""), rel=1e-12)


def gen1_scene(d: Path) -> CrashScene:
    """Feb, Mar and Apr compacted once (generation 1); May open."""
    s = CrashScene(d)
    s.add("2026-02.jsonl", crash_rows("2026-02", "f", 30), tail=b'{"run_id":"torn"')
    s.add("2026-03.jsonl", crash_rows("2026-03", "m", 25))
    s.add("2026-04.jsonl", crash_rows("2026-04", "a", 20))
    s.add("2026-05.jsonl", crash_rows("2026-05", "y", 5))
    compact(d, now=CRASH_NOW, checkpoint_min_bytes=0)  # May, open, gets a checkpoint
    assert_clean(d, CLOSED)
    assert (d / "checkpoints" / "2026-05.json").is_file()
    s.add("2026-05.jsonl", crash_rows("2026-05", "yt", 3, first_day=9))  # past the checkpoint
    return s


def the_part(d: Path, month: str) -> Path:
    (p,) = (d / "compacted" / month).iterdir()
    return p


def make_scratch(d: Path) -> None:
    """What a compactor killed while writing leaves: a footer-less part, a spill, a quarantine."""
    full = pq.ParquetFile(the_part(d, "2026-02"))
    assert full.metadata.num_rows > 0
    tmp = d / ".tmp"
    (tmp / "duckdb").mkdir(parents=True)
    (tmp / "duckdb" / "duckdb_temp_storage-0.tmp").write_bytes(b"\x00" * 4096)
    head = the_part(d, "2026-02").read_bytes()[:200]
    assert head.startswith(b"PAR1")
    (tmp / "part-000002-00000000deadbeef.parquet.inprogress").write_bytes(head)
    (tmp / "quarantine-00000000deadbeef.jsonl.inprogress").write_bytes(b'{"shard":')


def absorbed_shard_left(d: Path, s: CrashScene) -> str:
    """Killed between publishing March's part and deleting the sealed shard it absorbed."""
    lineage = the_part(d, "2026-03").name.split("-")[2].removesuffix(".parquet")
    name = f"2026-03.jsonl.sealed-{lineage}"
    write_plain(d, name, [r for r in s.rows if r["finished_at"].startswith("2026-03")])
    return name


def two_generations(d: Path, s: CrashScene) -> list[str]:
    """Killed right after publishing April's generation 2: gen 1 and the absorbed shard remain."""
    gen1 = the_part(d, "2026-04")
    saved = gen1.read_bytes()
    late = crash_rows("2026-04", "al", 6, first_day=10)
    late[0]["finished_at"] = "2026-04-30T23:59:59.900000Z"
    for r in late:
        assert append_run(r, data_dir=d)
    s.rows += late
    shard = (d / "runs_log" / "2026-04.jsonl").read_bytes()
    compact(d, now=CRASH_NOW)
    gen2 = the_part(d, "2026-04")
    assert gen2.name.startswith("part-000002-")
    gen1.write_bytes(saved)
    lineage = gen2.name.split("-")[2].removesuffix(".parquet")
    absorbed = d / "runs_log" / f"2026-04.jsonl.sealed-{lineage}"
    absorbed.write_bytes(shard)
    return [f"compacted/2026-04/{gen1.name}", f"runs_log/{absorbed.name}"]


def sealed_not_converted(d: Path, s: CrashScene) -> None:
    """Killed after sealing February's late shard (and a late shard started after that)."""
    late = crash_rows("2026-02", "fl", 8, first_day=5)
    for r in late[:5]:
        assert append_run(r, data_dir=d)
    append_bytes(d / "runs_log" / "2026-02.jsonl", b"\x00" * 64)  # a torn tail: one bad line
    os.rename(d / "runs_log" / "2026-02.jsonl", d / "runs_log" / "2026-02.jsonl.sealed-feedc0de")
    for r in late[5:]:
        assert append_run(r, data_dir=d)  # a late writer: a new live shard for February
    s.rows += late


STATES = ["scratch", "absorbed shard left", "two generations", "sealed not converted", "all"]


@pytest.mark.parametrize("state", STATES)
def test_recovery_from_each_crash_state(tmp_path: Path, state: str) -> None:
    d = tmp_path / "data"
    s = gen1_scene(d)
    s.check_readers()
    expect_removed: list[str] = []
    if state in ("two generations", "all"):
        expect_removed += two_generations(d, s)  # (it runs a compaction: first)
    if state in ("scratch", "all"):
        make_scratch(d)
        expect_removed.append(".tmp/")
    if state in ("absorbed shard left", "all"):
        expect_removed.append(f"runs_log/{absorbed_shard_left(d, s)}")
    if state in ("sealed not converted", "all"):
        sealed_not_converted(d, s)
    before = quick_stats(d, ["wa", "wb"])
    s.check_readers()  # exactly once in the crash state

    r = compact(d, now=CRASH_NOW)

    assert sorted(r.recovered) == sorted(expect_removed)
    assert_clean(d, CLOSED)
    s.check_readers()
    assert same(quick_stats(d, ["wa", "wb"]), before)
    if state in ("sealed not converted", "all"):
        (feb,) = [m for m in r.months if m.month == "2026-02"]
        assert (feb.shards, feb.rows_in, feb.bad_lines_quarantined, feb.previous_rows,
                feb.rows_written) == (2, 8, 1, 30, 38)
    assert compact(d, now=CRASH_NOW).recovered == []


# --------------------------------------------------------------------------------------------
# kill -9 before every filesystem operation of a compaction

_CRASH_CHILD = """
import json, os, signal, sys
from datetime import datetime
import pyarrow.parquet as pq
from mantis_runs.compaction import compact

data_dir, crash_at, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
ops = []

def hook(owner, name):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if name == "write_table":  # how many batches DuckDB hands over varies: count the first
            if getattr(args[0], "_seen_by_test", False):
                return real(*args, **kwargs)
            args[0]._seen_by_test = True
        ops.append(name)
        if len(ops) == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)

for name in ("rename", "replace", "unlink", "rmdir", "mkdir", "fsync"):
    hook(os, name)
hook(pq.ParquetWriter, "write_table")
compact(data_dir, now=now, checkpoint_min_bytes=0)  # May's checkpoint is replaced too
print(json.dumps(ops))
"""


def crash_events(d: Path) -> list[Any]:
    """Run events in a closed month (a sealed shard and a bad line to quarantine, equal
    timestamps) and in an open one; every event as readers see it."""
    from mantis_runs import append_events

    when = datetime(2026, 2, 20, tzinfo=UTC)
    assert append_events([{"run_id": f"e{i % 3}", "type": "step", "ts": when + timedelta(
        seconds=i // 2), "fields": {"i": i}} for i in range(12)], data_dir=d)
    assert append_events([{"run_id": "e0", "type": "late", "ts": datetime(2026, 5, 2, tzinfo=UTC),
                           "fields": {}}], data_dir=d)
    with open(d / "events_log" / "2026-02.jsonl", "ab") as f:
        f.write(b'{"run_id": "e9"}\n')
    return RunStore(d).events()


def quarantine_entries(d: Path) -> list[tuple[str, str, int, str]]:
    """Every quarantined line: month, original shard, line, bytes (lineage ids are random)."""
    out = []
    for q in [*(d / "quarantine").rglob("*.jsonl"),
              *(d / "events_log" / "quarantine").rglob("*.jsonl")]:
        for line in q.read_bytes().splitlines():
            e = json.loads(line)
            assert q.stem == e["sealed_as"].split(".sealed-")[1]
            out.append((q.parent.name, e["shard"], e["line"], e["raw_base64"]))
    return sorted(out)


@pytest.mark.slow
def test_kill_9_before_every_filesystem_operation(tmp_path: Path,
                                                  figures: Callable[[str], None]) -> None:
    """SIGKILL a compactor right before each rename, unlink, mkdir, ... it makes, in turn."""
    template = tmp_path / "template"
    s = gen1_scene(template)
    two_generations(template, s)
    make_scratch(template)
    absorbed_shard_left(template, s)
    sealed_not_converted(template, s)
    late_mar = crash_rows("2026-03", "ml", 4, first_day=3)
    s.add("2026-03.jsonl", late_mar, tail=b'{"torn":')  # March: a live shard to seal, bad tail
    s.check_readers()
    expected_stats = all_stats(template, ["wa", "wb"])
    expected_events = crash_events(template)  # the events months go through the same steps

    def child(target: Path, crash_at: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _CRASH_CHILD, str(target), str(crash_at),
                               CRASH_NOW.isoformat()], capture_output=True, text=True,
                              timeout=120, check=False)

    # a full run, to list the operations
    full = tmp_path / "full"
    shutil.copytree(template, full)
    r = child(full, 10**9)
    assert r.returncode == 0, r.stderr
    ops = json.loads(r.stdout)
    assert_clean(full, CLOSED)
    s.d = full
    s.check_readers()
    assert same(all_stats(full, ["wa", "wb"]), expected_stats)
    assert RunStore(full).events() == expected_events
    final_rows = stored_rows(full)
    quarantined = quarantine_entries(full)
    assert len(quarantined) == 4  # February's two torn tails, March's; an events line
    # Under kill -9 (not power loss) an fsync changes nothing anyone can see: the states worth
    # making are those right before every other operation (a part's first batch included).
    points = [k for k, op in enumerate(ops, 1) if op != "fsync"]
    assert len(points) >= 25, ops

    def kill_and_recover(k: int) -> frozenset[str]:
        d = tmp_path / f"k{k}"
        shutil.copytree(template, d)
        r = child(d, k)
        assert r.returncode == -signal.SIGKILL, (k, r.returncode, r.stderr)
        state = disk_state(d, CLOSED)
        s.check_readers(d)  # each row exactly once, whatever the step
        assert RunStore(d).events() == expected_events, k  # each event once, in order
        compact(d, now=CRASH_NOW, checkpoint_min_bytes=0)  # the next run recovers, finishes
        assert_clean(d, CLOSED)
        assert RunStore(d).events() == expected_events, k
        assert stored_rows(d) == final_rows, k  # the very rows of the uninterrupted run
        # each bad line is quarantined once, whatever was quarantined before the kill
        assert quarantine_entries(d) == quarantined, k
        shutil.rmtree(d)
        return state

    # two at a time: a child spends much of its life importing and in fsync
    with ThreadPoolExecutor(max_workers=2) as pool:
        states = Counter(pool.map(kill_and_recover, points))

    # the kills landed in every kind of state
    tags = set().union(*states)
    assert tags >= {"scratch", "unpublished part", "sealed, not converted", "older generation",
                    "absorbed shard left", "live shard of a closed month",
                    "checkpoint manifest in progress", "checkpoint file no manifest names"}, tags
    figures(f"[kill -9 before each step] {len(points)} kills of {len(ops)} operations "
            f"({', '.join(f'{n} {c}' for n, c in sorted(Counter(ops).items()))}); "
            f"{len(states)} distinct crash states")


# --------------------------------------------------------------------------------------------
# ENOSPC: a really full disk, and injected faults

_ENOSPC_CHILD = """
import json, os, shutil, subprocess, sys
from pathlib import Path
from mantis_runs import append_run
from mantis_runs.stats.engine import stats

src, mnt, size_kb, workflows = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]

def mantis(*args):
    r = subprocess.run([sys.executable, "-m", "mantis_runs", *args], capture_output=True,
                       text=True)
    return {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr}

def free():
    st = os.statvfs(mnt)
    return st.f_bavail * st.f_frsize

def all_stats(d):
    return {f"{wf}#{last}": stats(wf, data_dir=d, status="", last=last).to_json()
            for wf in workflows for last in (10**9, 40)}

def files(d):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))

subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mnt)], check=True)
d = mnt / "data"
shutil.copytree(src, d)
out = {"free_before": free()}
out["full"] = mantis("runs", "compact", "--data-dir", str(d), "--memory-limit", "100MB")
out["free_after"] = free()
out["files_after"] = files(d)
out["stats_full"] = all_stats(d)
# the writers still work: the failed compaction gave its scratch space back
out["append_after"] = append_run({"run_id": "after-enospc", "workflow_id": "w",
                                  "status": "succeeded", "total_time_s": 1.0}, data_dir=d)
subprocess.run(["mount", "-o", f"remount,size={size_kb * 4}k", str(mnt)], check=True)
out["roomy"] = mantis("runs", "compact", "--data-dir", str(d), "--memory-limit", "100MB",
                      "--json")
out["files_roomy"] = files(d)
out["stats_roomy"] = all_stats(d)
print(json.dumps(out))
"""


def userns_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare(1) or mount(8) is not installed"
    r = subprocess.run(["unshare", "-Urm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                        "/mnt"], capture_output=True, timeout=20, check=False)
    if r.returncode != 0:
        return ("user namespaces (unshare -Urm + tmpfs mount) unavailable: "
                + r.stderr.decode(errors="replace").strip())
    return None


def test_real_enospc_fails_cleanly_and_loses_nothing(demo: Path, tmp_path: Path) -> None:
    reason = userns_unavailable()
    if reason:
        pytest.skip(reason)
    jsonl = list((demo / "runs_log").glob("*.jsonl"))
    pages = sum(-(-p.stat().st_size // 4096) for p in jsonl)
    # the JSONL fits with 8 KiB to spare: less than any month's part, so the first write fails
    size_kb = pages * 4 + 8
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    expected = {f"{wf}#{last}": stats(wf, data_dir=demo, status="", last=last).to_json()
                for wf in DEMO_WORKFLOWS for last in (10**9, 40)}
    r = subprocess.run(["unshare", "-Urm", sys.executable, "-c", _ENOSPC_CHILD, str(demo),
                        str(mnt), str(size_kb), *DEMO_WORKFLOWS],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)

    full = out["full"]
    assert full["rc"] == 1 and full["stdout"] == ""
    assert full["stderr"].count("\n") == 1 and "Traceback" not in full["stderr"]
    assert full["stderr"].startswith("error: compacting 2026-02.jsonl.sealed-")
    assert "No space left on device" in full["stderr"]
    assert "nothing was lost" in full["stderr"]
    # nothing published, nothing left in scratch: the disk is as full as before, no fuller
    assert not any(f.startswith((".tmp", "compacted")) for f in out["files_after"])
    assert out["free_after"] == out["free_before"]
    assert sum(f.startswith("runs_log/2026-0") and ".sealed-" in f
               for f in out["files_after"]) == 4
    assert same(out["stats_full"], expected)  # every JSONL row still readable
    assert out["append_after"] is True

    roomy = out["roomy"]
    assert roomy["rc"] == 0, roomy["stderr"]
    assert [m["month"] for m in json.loads(roomy["stdout"])["months"]] == [
        "2026-02", "2026-03", "2026-04", "2026-05"]
    assert sum(f.endswith(".parquet") for f in out["files_roomy"]) == 4
    assert not any(".sealed-" in f or f.startswith(".tmp") for f in out["files_roomy"])
    assert same(out["stats_roomy"], expected)


def enospc(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_injected_enospc_in_parquet_writer(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = quick_stats(demo, DEMO_WORKFLOWS)
    rows = stored_rows(demo)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", enospc)
    with pytest.raises(MantisError) as info:
        compact(demo, now=NOW)
    msg = str(info.value)
    assert "\n" not in msg and "No space left on device" in msg and "nothing was lost" in msg
    assert part_files(demo) == {} and not (demo / ".tmp").exists()
    assert stored_rows(demo) == rows
    assert same(quick_stats(demo, DEMO_WORKFLOWS), before)
    monkeypatch.undo()
    r = compact(demo, now=NOW)
    assert [m.month for m in r.months] == CLOSED
    assert_clean(demo, CLOSED)
    assert same(quick_stats(demo, DEMO_WORKFLOWS), before)


@pytest.mark.parametrize("victim", [".parquet.inprogress", ".jsonl.inprogress"])
def test_injected_enospc_on_fsync_through_the_cli(malformed: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  victim: str) -> None:
    before = quick_stats(malformed, ["wa", "wb"])
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(victim):
            enospc()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    code, out, err = run_cli("runs", "compact", "--data-dir", str(malformed))
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("error: compacting 2026-02.jsonl.sealed-")
    assert err.endswith("failed: [Errno 28] No space left on device; nothing was lost, the "
                        "shard stays readable\n")
    assert part_files(malformed) == {} and not (malformed / ".tmp").exists()
    assert not (malformed / "quarantine").exists() or victim == ".parquet.inprogress"
    assert same(quick_stats(malformed, ["wa", "wb"]), before)
    monkeypatch.undo()
    code, out, err = run_cli("runs", "compact", "--data-dir", str(malformed))
    assert code == 0, err
    assert same(quick_stats(malformed, ["wa", "wb"]), before)
    assert_clean(malformed, [*CLOSED, "2026-05"])  # by the real clock, May 2026 is closed too
