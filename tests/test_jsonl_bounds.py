"""A report's baseline on a raw store leaves out the closed JSONL shards whose every row finished
at or after its bound (db/jsonl_bounds.py summaries, stats/plan.py ``plan_before``), and still
gives the answer of reading every shard: the same ``report``/``show`` JSON and skipped lines
with the user cache empty, filled, deleted, planted with garbage, and after a shard is appended
to; a late copy of an old run in a later shard, rows without finished_at, malformed lines in a
left-out shard, hand-written run_ids and timestamps with offsets.

The reference ("every shard read") is the same code with no shard summarised
(``plan.closed_shards`` patched to find none) and, for ``report``, the store's general path
(``RunStore.shortcuts = False``). Shards and rows are of 2020: closed months whatever the
clock (the current month's shard is never summarised).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import append_bytes
from mantis_runs import RunStore
from mantis_runs.cli import render, values
from mantis_runs.db.cache import cache_root
from mantis_runs.db.jsonl_bounds import ShardSummary, shard_summaries
from mantis_runs.db.lake_source import sources_of
from mantis_runs.db.sqlfiles import fragment, load
from mantis_runs.log.layout import scan
from mantis_runs.messages import skipped_lines
from mantis_runs.stats import plan as planning
from mantis_runs.stats.engine import _query, collect
from mantis_runs.stats.result import StatsResult
from mantis_runs.store import lookup
from test_agreement import GARBAGE, MISSING, TOTALS, WHEN, line

SHARDS = ("2020-03", "2020-04", "2020-05")
#: hand-written run_ids: text order is not numeric order, escapes (json.dumps writes Ä as \\u00c4)
RUN_IDS = ("r1", "r2", "r10", "12", "Ä", "a b", "Z")
WORKFLOWS = ("wa", "wb")
BOUNDS = tuple(datetime.fromisoformat(t) for t in (
    "2020-03-10T10:00:00+00:00", "2020-04-01T00:00:00+00:00", "2020-04-15T12:00:00+00:00",
    "2020-05-01T00:00:00+00:00", "2020-06-01T00:00:00+00:00"))
Row = tuple[str, str, str, Any, Any, str]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def write(d: Path, rows: list[Row], bad: Sequence[tuple[int, str]] = ()) -> None:
    """``rows`` as lines of their shards, and after the row at each index of ``bad`` a
    malformed line (GARBAGE) in the shard named."""
    garbage = dict(bad)
    for i, (run_id, wf, status, when, total, shard) in enumerate(rows):
        # copies tied on every column of the copy order are interchangeable (either may win):
        # they get the same breakdown, so that every answer is one
        think = float(zlib.crc32(repr((run_id, wf, status, when, total)).encode()) % 1000)
        append_bytes(d / "runs_log" / f"{shard}.jsonl",
                     line(run_id, wf, status, when, total, think))
        if i in garbage:
            append_bytes(d / "runs_log" / f"{garbage[i]}.jsonl", GARBAGE[i % len(GARBAGE)])


@contextmanager
def every_shard_read() -> Iterator[None]:
    """The reference: no shard summarised, so every JSONL shard is read."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(planning, "closed_shards", lambda *a, **k: [])
        yield


def answer(r: StatsResult) -> tuple[Any, ...]:
    return (r.run_count, r.total.as_dict(), [b.as_dict() for b in r.buckets], r.skipped_lines,
            r.failures)


def baseline(d: Path, wf: str, before: datetime, status: str | None = "succeeded",
             last: int = 100) -> tuple[tuple[Any, ...], list[str]]:
    """stats(before=...) of ``wf`` and the JSONL files it read."""
    query = _query(wf, last=last, since=None, status=status, buckets=None, now=None,
                   before=before, group_by=None, ci=False)

    def step(c: Any) -> tuple[tuple[Any, ...], list[str]]:
        return answer(c.run()), sorted(Path(f).name for f in c.jsonl_read)

    return collect(sources_of(d), query, step)


def reports(d: Path, ids: list[str], caplog: pytest.LogCaptureFixture, *,
            general: bool = False) -> dict[str, Any]:
    """Each run's report JSON and baseline skipped lines, and the warnings logged; ``general``:
    by the general path, every shard read."""
    with every_shard_read() if general else nullcontext():
        store = RunStore(d)
        store.shortcuts = not general
        out: dict[str, Any] = {}
        for run_id in ids:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="mantis_runs"):
                rep = store.report(run_id)
            out[run_id] = (rep.to_json(), rep.baseline and rep.baseline.skipped_lines,
                           [r.getMessage() for r in caplog.records])
        return out


def entries() -> list[Path]:
    return sorted((cache_root() / "jsonl-bounds").glob("*/*.json"))


# -- agreement over random stores ---------------------------------------------------------------

#: test_agreement's finished_at values (offsets, ties, no timestamp), moved to 2020
WHEN_2020 = tuple(w.replace("2026-", "2020-") if isinstance(w, str) else w for w in WHEN)
DATED = tuple(w for w in WHEN_2020 if isinstance(w, str) and w[:1].isdigit())
UNDATED = tuple(w for w in (*WHEN_2020, MISSING) if w not in DATED)


def _sharded(row: tuple[Any, ...]) -> Row:
    """Most rows in the shard of their date as written (a local date for an offset), the
    others anywhere (hand-written)."""
    run_id, wf, status, when, total, shard = row
    if shard == "by date":
        shard = "2020" + when[4:7] if when in DATED else SHARDS[-1]
    return (run_id, wf, status, when, total, shard)


rows_st = st.lists(
    st.tuples(st.sampled_from(RUN_IDS), st.sampled_from(WORKFLOWS),
              st.sampled_from(("succeeded", "failed")),
              st.sampled_from(DATED * 4 + UNDATED),  # mostly dated: shards left out
              st.sampled_from(TOTALS), st.sampled_from((*SHARDS, *["by date"] * 6))
              ).map(_sharded),
    min_size=1, max_size=14)
bad_st = st.lists(st.tuples(st.integers(0, 13), st.sampled_from(SHARDS)), max_size=3)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows_st, bad=bad_st)
def test_the_baseline_agrees_with_reading_every_shard(rows: list[Row],
                                                      bad: list[tuple[int, str]]) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-jsonl-bounds-"))
    try:
        write(d, rows, bad)
        for i, before in enumerate(BOUNDS):
            status, last = (("succeeded", 100), (None, 1))[i % 2]
            for wf in WORKFLOWS:
                with every_shard_read():
                    want, _ = baseline(d, wf, before, status, last)
                for _ in range(2):  # the cache empty, then filled
                    assert baseline(d, wf, before, status, last)[0] == want, (wf, before)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows_st, bad=bad_st)
def test_reports_agree_with_the_general_path(rows: list[Row], bad: list[tuple[int, str]],
                                             caplog: pytest.LogCaptureFixture) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-jsonl-bounds-"))
    try:
        write(d, rows, bad)
        ids = sorted({r[0] for r in rows})
        want = reports(d, ids, caplog, general=True)
        assert reports(d, ids, caplog) == want  # the cache empty
        assert reports(d, ids, caplog) == want  # filled
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- the shortcut is taken, and each cache state gives the same answer -------------------------

#: r1..r3 of wa in March, then April and May rows after every bound up to April 1st; a copy of
#: nothing earlier, and two malformed lines in May's shard
STORE: list[Row] = [
    ("r1", "wa", "succeeded", "2020-03-10T10:00:00Z", 1.0, "2020-03"),
    ("r2", "wa", "succeeded", "2020-03-11T10:00:00+02:00", 2.0, "2020-03"),
    ("r3", "wa", "succeeded", "2020-03-12T10:00:00Z", 4.0, "2020-03"),
    ("r4", "wa", "succeeded", "2020-04-02T10:00:00Z", 8.0, "2020-04"),
    ("r5", "wa", "succeeded", "2020-04-03T00:30:00+02:00", 16.0, "2020-04"),
    ("r6", "wa", "succeeded", "2020-05-02T10:00:00Z", 32.0, "2020-05"),
    ("r7", "wb", "failed", "2020-05-03T10:00:00Z", 64.0, "2020-05"),
]
APRIL = datetime(2020, 4, 1, tzinfo=UTC)
IDS = sorted({r[0] for r in STORE})


def store(d: Path) -> None:
    write(d, STORE, [(4, "2020-05"), (5, "2020-05")])  # GARBAGE[0], GARBAGE[1]


def test_the_oldest_runs_baseline_reads_its_shard_alone(tmp_path: Path) -> None:
    store(tmp_path)
    with every_shard_read():
        want, read = baseline(tmp_path, "wa", APRIL)
    assert read == ["2020-03.jsonl", "2020-04.jsonl", "2020-05.jsonl"]
    assert want[0] == 3 and want[3] == {"2020-05.jsonl": 2}
    got, read = baseline(tmp_path, "wa", APRIL)
    assert (got, read) == (want, ["2020-03.jsonl"])
    assert len(entries()) == 2  # April's and May's: March is before the bound's month
    got, read = baseline(tmp_path, "wa", APRIL)  # from the cache
    assert (got, read) == (want, ["2020-03.jsonl"])
    # a bound in April: April's shard holds a row before it, May's does not
    got, read = baseline(tmp_path, "wa", datetime(2020, 4, 2, 12, tzinfo=UTC))
    assert read == ["2020-03.jsonl", "2020-04.jsonl"] and got[0] == 4


def test_a_lookup_searches_no_shard_a_kept_summary_rules_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a report kept the shards' summaries, finding a run searches only the shards whose
    run_id range holds it, or with a bad line (whose run_id no summary knows)."""
    store(tmp_path)
    searched: list[str] = []
    monkeypatch.setattr(lookup, "observer",
                        lambda what, path: searched.append(path.name) if what == "search" else None)
    s = RunStore(tmp_path)
    want = s.get("r2")
    assert want is not None and searched == ["2020-03.jsonl", "2020-04.jsonl", "2020-05.jsonl"]
    assert len(entries()) == 0  # a lookup computes no summary
    shard_summaries(duckdb.connect(), sorted((tmp_path / "runs_log").glob("*.jsonl")))
    searched.clear()
    assert s.get("r2") == want
    assert searched == ["2020-03.jsonl", "2020-05.jsonl"]  # April's holds r4..r5 alone
    searched.clear()
    assert s.get("r45") is None and searched == ["2020-04.jsonl", "2020-05.jsonl"]
    # a late copy appended to March changes its identity: its summary is no longer used
    append_bytes(tmp_path / "runs_log" / "2020-03.jsonl",
                 line("r5", "wa", "failed", "2020-04-20T10:00:00Z", 99.0, 1.0))
    searched.clear()
    got = s.get("r5")
    assert got is not None and got["status"] == "failed" and got["total_time_s"] == 99.0
    assert searched == ["2020-03.jsonl", "2020-04.jsonl", "2020-05.jsonl"]
    shard_summaries(duckdb.connect(), sorted((tmp_path / "runs_log").glob("*.jsonl")))
    assert s.get("r5") == got


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows_st, bad=bad_st)
def test_lookups_agree_with_the_general_path_once_summaries_are_kept(
        rows: list[Row], bad: list[tuple[int, str]]) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-jsonl-bounds-"))
    try:
        write(d, rows, bad)
        ids = sorted({r[0] for r in rows} | {"r3", "a", "zz", "r10a"})
        general = RunStore(d)
        general.shortcuts = False
        # as JSON text: a NaN total is equal to itself there
        want = {i: json.dumps(general.get(i), default=str, sort_keys=True) for i in ids}
        shard_summaries(duckdb.connect(), sorted((d / "runs_log").glob("*.jsonl")))
        s = RunStore(d)
        assert {i: json.dumps(s.get(i), default=str, sort_keys=True) for i in ids} == want, ids
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_the_summaries(tmp_path: Path) -> None:
    store(tmp_path)
    append_bytes(tmp_path / "runs_log" / "2020-04.jsonl",
                 line("r0", "wb", "failed", "yesterday", 1.0, 0.0))
    shards = sorted((tmp_path / "runs_log").glob("*.jsonl"))
    got = shard_summaries(duckdb.connect(), shards)
    t = datetime.fromisoformat
    assert got == {
        shards[0]: ShardSummary(3, 0, False, t("2020-03-10T10:00:00+00:00"),
                                t("2020-03-12T10:00:00+00:00"), "r1", "r3"),
        shards[1]: ShardSummary(3, 0, True, t("2020-04-02T10:00:00+00:00"),
                                t("2020-04-02T22:30:00+00:00"), "r0", "r5"),
        shards[2]: ShardSummary(2, 2, False, t("2020-05-02T10:00:00+00:00"),
                                t("2020-05-03T10:00:00+00:00"), "r6", "r7"),
    }
    assert not got[shards[1]].after(t("2020-04-01T00:00:00+00:00"))  # the undated row
    assert got[shards[2]].after(t("2020-05-02T10:00:00+00:00"))
    assert not got[shards[2]].after(t("2020-05-02T10:00:00.000001+00:00"))


def test_every_cache_state_gives_the_same_report(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    store(tmp_path)
    want = reports(tmp_path, IDS, caplog, general=True)
    assert want["r1"][1] == {"2020-05.jsonl": 2}
    assert reports(tmp_path, IDS, caplog) == want  # empty
    assert len(entries()) == 3
    assert reports(tmp_path, IDS, caplog) == want  # filled
    shutil.rmtree(cache_root() / "jsonl-bounds")
    assert reports(tmp_path, IDS, caplog) == want  # deleted
    for i, entry in enumerate(entries()):  # garbage
        entry.write_text(("{not json", '{"rows": -1}', '[1, 2]')[i % 3], encoding="utf-8")
    assert reports(tmp_path, IDS, caplog) == want
    assert all(json.loads(e.read_text())["rows"] >= 0 for e in entries())  # computed again


def test_a_shard_appended_to_is_read_again(tmp_path: Path) -> None:
    store(tmp_path)
    first, read = baseline(tmp_path, "wa", APRIL)
    assert read == ["2020-03.jsonl"] and first[0] == 3
    # May's shard gets a run before the bound and a bad line: its cached summary is not used
    append_bytes(tmp_path / "runs_log" / "2020-05.jsonl",
                 line("r8", "wa", "succeeded", "2020-03-20T10:00:00Z", 3.0, 0.0) + b"torn\n")
    with every_shard_read():
        want, _ = baseline(tmp_path, "wa", APRIL)
    got, read = baseline(tmp_path, "wa", APRIL)
    assert got == want and want[0] == 4 and want[3] == {"2020-05.jsonl": 3}
    assert read == ["2020-03.jsonl", "2020-05.jsonl"]


# -- hostile copies ----------------------------------------------------------------------------


@pytest.mark.parametrize("later_wf", ["wa", "wb"])
def test_a_late_copy_in_a_left_out_shard_wins(tmp_path: Path, later_wf: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    # r2's later copy sits in May's shard, which every row of dates after the bound
    store(tmp_path)
    append_bytes(tmp_path / "runs_log" / "2020-05.jsonl",
                 line("r2", later_wf, "succeeded", "2020-05-04T10:00:00Z", 0.5, 0.0))
    with every_shard_read():
        want, _ = baseline(tmp_path, "wa", APRIL)
    assert want[0] == 2  # r1 and r3: r2's winning copy finished after the bound
    got, read = baseline(tmp_path, "wa", APRIL)
    assert got == want and read == ["2020-03.jsonl"]
    assert reports(tmp_path, IDS, caplog) == reports(tmp_path, IDS, caplog, general=True)


def test_a_run_id_within_a_left_out_range_without_a_copy(tmp_path: Path) -> None:
    # "r25" lies between r2 and r3 in text order: May's range [r1, r9] holds it, no copy does
    write(tmp_path, [("r25", "wa", "succeeded", "2020-03-10T10:00:00Z", 1.0, "2020-03"),
                     ("r1", "wa", "succeeded", "2020-05-02T10:00:00Z", 2.0, "2020-05"),
                     ("r9", "wa", "succeeded", "2020-05-03T10:00:00Z", 4.0, "2020-05")])
    got, read = baseline(tmp_path, "wa", APRIL)
    assert read == ["2020-03.jsonl"] and (got[0], got[1]["p50"]) == (1, 1.0)


def test_an_undated_row_keeps_its_shard_read(tmp_path: Path) -> None:
    # an undated copy of r1 in May's shard loses to r1's dated copy, but only reading tells
    write(tmp_path, [("r1", "wa", "succeeded", "2020-03-10T10:00:00Z", 1.0, "2020-03"),
                     ("r9", "wa", "succeeded", "2020-05-03T10:00:00Z", 4.0, "2020-05"),
                     ("r1", "wa", "failed", MISSING, 2.0, "2020-05")])
    with every_shard_read():
        want, _ = baseline(tmp_path, "wa", APRIL)
    got, read = baseline(tmp_path, "wa", APRIL)
    assert got == want and want[0] == 1 and read == ["2020-03.jsonl", "2020-05.jsonl"]


def test_a_left_out_shard_of_bad_lines_only(tmp_path: Path) -> None:
    write(tmp_path, [("r1", "wa", "succeeded", "2020-03-10T10:00:00Z", 1.0, "2020-03")])
    append_bytes(tmp_path / "runs_log" / "2020-04.jsonl", b"garbage\n[1]\n")
    got, read = baseline(tmp_path, "wa", APRIL)
    assert read == ["2020-03.jsonl"] and got[3] == {"2020-04.jsonl": 2} and got[0] == 1


def test_which_shards_are_summarised(tmp_path: Path) -> None:
    now = datetime(2020, 5, 20, tzinfo=UTC)
    store(tmp_path)
    months = list(scan(tmp_path).values())
    assert [p.name for p in planning.closed_shards(months, {}, APRIL.replace(year=2019), now)
            ] == ["2020-03.jsonl", "2020-04.jsonl"]
    # nor an earlier month's than the bound's
    assert [p.name for p in planning.closed_shards(months, {}, datetime(2020, 4, 30, tzinfo=UTC),
                                                   now)] == ["2020-04.jsonl"]


def test_the_summary_reads_shards_as_the_stats_reader_does() -> None:
    # one rule: the summary reads through the fragment stats_collect_jsonl gathers with
    def code(text: str) -> str:
        return re.sub(r"\s+", "", "".join(
            t.split("--")[0] for t in text.splitlines()))

    assert code(fragment("stats_jsonl_read")) in code(load("stats_collect_jsonl"))


# -- the command line --------------------------------------------------------------------------


def test_show_and_report_from_the_command_line(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    d = tmp_path / "data"
    store(d)
    want = reports(d, IDS, caplog, general=True)
    for _ in range(2):  # the cache empty, then filled
        for run_id in ("r1", "r4"):
            out = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "report",
                                  "--run-id", run_id, "--format", "json", "--data-dir", str(d)],
                                 capture_output=True, text=True, check=True)
            assert out.stdout.rstrip("\n") == render.to_json(values.plain(want[run_id][0]))
            text = skipped_lines({"2020-05.jsonl": 2})
            assert text is not None and text in out.stderr and want[run_id][2] == [text]
            shown = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "show", run_id,
                                    "--data-dir", str(d)], capture_output=True, text=True,
                                   check=True)
            assert text in shown.stderr
    assert len(entries()) == 3


@pytest.mark.parametrize("when", ["-infinity", "infinity", "10000-01-01T00:00:00Z",
                                  "9999-12-31T23:59:59.999999-01:00"])
def test_a_time_python_cannot_hold_keeps_its_shard_read(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture,
                                                         when: str) -> None:
    """A finished_at DuckDB reads but Python's datetime cannot hold (infinite, past year 9999)
    counts as undated in the summary: the shard is read, the report is the general path's, and
    the summary is kept (the review's crash: a naive or text bound compared with the run's)."""
    store(tmp_path)
    append_bytes(tmp_path / "runs_log" / "2020-04.jsonl",
                 b'{"run_id":"g","workflow_id":"wa","status":"succeeded","finished_at":"'
                 + when.encode() + b'","total_time_s":3}\n')
    want = reports(tmp_path, ["r1", "r4"], caplog, general=True)
    assert reports(tmp_path, ["r1", "r4"], caplog) == want  # the summaries computed
    assert reports(tmp_path, ["r1", "r4"], caplog) == want  # and kept
    april = shard_summaries(duckdb.connect(), [tmp_path / "runs_log" / "2020-04.jsonl"])
    (summary,) = april.values()
    assert summary.undated and summary.rows == 3
    assert len(entries()) == 3  # March's (r1's month) to May's, each decoded again


@pytest.mark.parametrize(("when", "end"), [("infinity", "latest"), ("-infinity", "earliest"),
                                         ("10000-01-01 00:00:00+00", "latest")])
def test_a_parquet_bound_python_cannot_hold_is_unknown(tmp_path: Path, when: str,
                                                       end: str) -> None:
    """The same rule for a Parquet file's footer bounds (db/bounds.py): that end is unknown, so
    the file is read; the other end is kept."""
    from mantis_runs.db.bounds import Bounds, parquet_bounds

    f = tmp_path / "p.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT CAST(w AS TIMESTAMPTZ) AS finished_at FROM (VALUES ($w), "
                f"('2020-03-01 00:00:00+00')) AS t(w)) TO '{f}' (FORMAT parquet)", {"w": when})
    march = datetime(2020, 3, 1, tzinfo=UTC)
    got = parquet_bounds(con, [f])[f]
    assert got == (Bounds(latest=None, dated=True, earliest=march) if end == "latest"
                   else Bounds(latest=march, dated=True, earliest=None))
    assert not got.known or got.earliest is None
