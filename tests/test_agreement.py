"""One rule, every path: which copy of a run wins and which runs are newest must not depend on
the command, the query path, or whether a month was compacted.

Hand-written lines (other runtimes write these files too) with hostile copies of a few run_ids:
ties, NaN / infinite / null / missing totals, differing status and workflow, unusable
finished_at values, and rows outside their month (a runtime that shards by local date). A small
independent oracle here applies the documented rule (docs/storage-format.md, "Which copy of a
run wins"); the views (`sql`), `show`/`get`, `report`, `list`/`runs`, `stats` and compaction
must all agree with it, before and after `mantis runs compact`.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import append_bytes
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.log.record import parse_timestamp
from mantis_runs.stats.engine import stats

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March and April are closed, May is open
SHARDS = ("2026-03", "2026-04", "2026-05")
RUN_IDS = ("r1", "r2", "r3", "r4", "r5")
WORKFLOWS = ("wa", "wb")
STATUSES = ("succeeded", "failed")
#: finished_at values: plain UTC, offsets that put the UTC instant in another month than the
#: text's date, ties, and values that are no timestamp (they rank after every dated copy).
WHEN: tuple[Any, ...] = (
    "2026-03-10T10:00:00Z", "2026-03-31T23:30:00-02:00", "2026-04-01T00:30:00+02:00",
    "2026-04-15T12:00:00Z", "2026-04-15T12:00:00Z", "2026-05-01T00:30:00+02:00",
    "2026-05-02T08:00:00.250000Z", "2026-05-10T09:00:00Z", "", "yesterday", 5, None,
)
MISSING = object()
#: total_time_s values: ties, NaN, infinities, null, a key that is missing.
TOTALS: tuple[Any, ...] = (1.0, 5.0, 5.0, 7.5, math.nan, math.inf, -math.inf, None, MISSING)


def line(run_id: str, wf: str, status: str, when: Any, total: Any, think: float) -> bytes:
    row: dict[str, Any] = {"run_id": run_id, "workflow_id": wf, "status": status,
                           "wall_time_breakdown": {"think": think}}
    if when is not MISSING:
        row["finished_at"] = when
    if total is not MISSING:
        row["total_time_s"] = total
    return json.dumps(row).encode() + b"\n"  # NaN and Infinity as JSON5-style tokens


copies = st.lists(
    st.tuples(st.sampled_from(RUN_IDS), st.sampled_from(WORKFLOWS), st.sampled_from(STATUSES),
              st.sampled_from((*WHEN, MISSING)), st.sampled_from(TOTALS),
              st.sampled_from(SHARDS)),
    min_size=1, max_size=14)


# -- the oracle: the documented rule, in plain Python -------------------------------------------


def when_of(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or not value[0].isdigit():
        return None
    return parse_timestamp(value)


def finite(total: Any) -> float | None:
    return float(total) if isinstance(total, float) and math.isfinite(total) else None


def winners(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """run_id -> its winning copy: dated before undated, then the latest finished_at, a finite
    total before none, the larger total, then status and workflow_id by text, descending."""
    best: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    for run_id, wf, status, when, total, _shard in rows:
        fin = when_of(when)
        tot = finite(total)
        key = (fin is not None, fin or datetime.min.replace(tzinfo=UTC), tot is not None,
               tot or 0.0, status, wf)
        cur = best.get(run_id)
        if cur is None or key > cur[0]:
            best[run_id] = (key, {"run_id": run_id, "workflow_id": wf, "status": status,
                                  "finished_at": fin, "total": tot})
    return {k: v for k, (_key, v) in best.items()}


def newest(runs: list[dict[str, Any]]) -> list[str]:
    """run_ids newest first: latest finished_at, ties by run_id descending, undated last."""
    dated = sorted((r for r in runs if r["finished_at"] is not None),
                   key=lambda r: (r["finished_at"], r["run_id"]), reverse=True)
    undated = sorted((r for r in runs if r["finished_at"] is None),
                     key=lambda r: r["run_id"], reverse=True)
    return [r["run_id"] for r in dated + undated]


# -- what each path says ------------------------------------------------------------------------


def view_rows(store: RunStore) -> dict[str, dict[str, Any]]:
    table = store.sql("SELECT run_id, workflow_id, status, finished_at, total_time_s FROM runs")
    return {r["run_id"]: {"run_id": r["run_id"], "workflow_id": r["workflow_id"],
                          "status": r["status"], "finished_at": r["finished_at"],
                          "total": finite(r["total_time_s"])}
            for r in table.to_pylist()}


def as_expected(row: Any) -> dict[str, Any]:
    return {"run_id": row["run_id"], "workflow_id": row["workflow_id"], "status": row["status"],
            "finished_at": row["finished_at"], "total": finite(row["total_time_s"])}


def expected_stats(won: dict[str, dict[str, Any]], wf: str, status: str | None,
                   last: int) -> tuple[int, list[float] | None]:
    mine = [r for r in won.values() if r["workflow_id"] == wf
            and (status is None or r["status"] == status)]
    order = newest(mine)[:last]
    totals = [won[i]["total"] for i in order if won[i]["total"] is not None]
    if not totals:
        return len(order), None
    return len(order), [float(x) for x in np.percentile(np.array(totals), [50, 95, 99])]


def check_every_path(d: Path, won: dict[str, dict[str, Any]]) -> None:
    store = RunStore(d)
    assert view_rows(store) == won
    for run_id in RUN_IDS:
        got = store.get(run_id)
        if run_id not in won:
            assert got is None
            continue
        assert got is not None and as_expected(got) == won[run_id], run_id
    first = min(won)
    assert as_expected(store.report(first).run) == won[first]
    every = newest(list(won.values()))
    for last in (1, 3):
        assert [r["run_id"] for r in store.runs(last=last)] == every[:last], last
        for wf in WORKFLOWS:
            for status in (None, "failed"):
                mine = [won[i] for i in every if won[i]["workflow_id"] == wf
                        and (status is None or won[i]["status"] == status)]
                got_ids = [r["run_id"] for r in store.runs(wf, last=last, status=status)]
                assert got_ids == newest(mine)[:last], (wf, status, last)
    for wf in WORKFLOWS:
        for status in ("succeeded", None):
            for last in (1, 10, 10**6):  # 10**6: whole histories read in place when provably safe
                r = stats(wf, data_dir=d, last=last, status=status)
                qs = None if r.total.p50 is None else [r.total.p50, r.total.p95, r.total.p99]
                assert (r.run_count, qs) == expected_stats(won, wf, status, last), (
                    wf, status, last)


def write(d: Path, rows: list[tuple[Any, ...]]) -> None:
    for i, (run_id, wf, status, when, total, shard) in enumerate(rows):
        append_bytes(d / "runs_log" / f"{shard}.jsonl",
                     line(run_id, wf, status, when, total, float(i)))


@settings(max_examples=11, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=copies)
def test_every_path_agrees_before_and_after_compaction(rows: list[tuple[Any, ...]]) -> None:
    d = Path(tempfile.mkdtemp(prefix="mantis-agree-"))
    try:
        write(d, rows)
        won = winners(rows)
        check_every_path(d, won)
        compact(d, now=NOW, checkpoint_min_bytes=0)  # March and April to parts; May checkpointed
        check_every_path(d, won)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- the cases that disagreed, by name ----------------------------------------------------------


def agree(tmp_path: Path, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    write(tmp_path, rows)
    won = winners(rows)
    check_every_path(tmp_path, won)
    compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    check_every_path(tmp_path, won)
    return won


def test_a_tie_with_a_nan_total_loses_to_a_finite_total(tmp_path: Path) -> None:
    at = "2026-04-15T12:00:00Z"
    won = agree(tmp_path, [("r1", "wa", "failed", at, math.nan, "2026-04"),
                           ("r1", "wa", "succeeded", at, 5.0, "2026-04")])
    assert won["r1"]["status"] == "succeeded"


def test_a_run_moved_to_another_workflow_belongs_to_the_newer_one(tmp_path: Path) -> None:
    won = agree(tmp_path, [("r1", "wf-old", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                           ("r1", "wf-new", "succeeded", "2026-04-15T12:00:00Z", 2.0, "2026-04")])
    assert stats("wf-old", data_dir=tmp_path, status="").run_count == 0
    assert won["r1"]["workflow_id"] == "wf-new"


@pytest.mark.parametrize("undated", ["", "yesterday", 5])
def test_an_undated_copy_loses_to_a_dated_one(tmp_path: Path, undated: Any) -> None:
    won = agree(tmp_path, [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                           ("r1", "wa", "failed", undated, 9.0, "2026-05")])
    assert won["r1"]["finished_at"] is not None


def test_rows_outside_their_month_do_not_stop_the_newest_first_reads(tmp_path: Path) -> None:
    # the newest two by finished_at are r3 (in the April shard) and r2
    agree(tmp_path, [("r1", "wa", "succeeded", "2026-05-01T00:30:00+02:00", 75.0, "2026-05"),
                     ("r2", "wa", "succeeded", "2026-05-02T08:00:00.250000Z", 50.0, "2026-05"),
                     ("r3", "wa", "succeeded", "2026-05-10T09:00:00Z", 58.0, "2026-04")])
    r = stats("wa", data_dir=tmp_path, last=2)
    assert (r.run_count, r.total.p50) == (2, 54.0)


def test_an_empty_run_id_is_a_malformed_line_on_every_path(tmp_path: Path) -> None:
    """A hand-written ``"run_id": ""`` (the writer makes one up instead) is no run on any path:
    the same malformed line, counted and skipped, for the views, `show`, `list`, `stats` and
    compaction (quarantined), before and after compaction. (Each such line counted as one run
    for the views, `list` and `stats`, and compaction wrote it into a part.)"""
    rows = [("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
            ("", "wa", "succeeded", "2026-03-11T10:00:00Z", 2.0, "2026-03"),
            ("", "wa", "succeeded", "2026-03-12T10:00:00Z", 3.0, "2026-03"),
            ("r2", "wa", "succeeded", "2026-04-15T12:00:00Z", 5.0, "2026-04"),
            ("", "wb", "failed", "2026-05-02T08:00:00.250000Z", 7.5, "2026-05"),
            ("r3", "wa", "failed", "2026-05-10T09:00:00Z", 9.0, "2026-05")]
    write(tmp_path, rows)
    won = winners([r for r in rows if r[0]])
    assert sorted(won) == ["r1", "r2", "r3"]
    store = RunStore(tmp_path)
    bad = {"2026-03.jsonl": 2, "2026-05.jsonl": 1}

    def every_path_skips_them(bad: dict[str, int]) -> None:
        check_every_path(tmp_path, won)
        assert store.get("") is None
        assert store.bad_lines() == bad
        assert [r["run_id"] for r in store.runs()] == ["r3", "r2", "r1"]
        assert store.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 3}]
        for wf, runs in (("wa", 3), ("wb", 0)):
            r = stats(wf, data_dir=tmp_path, status="")
            assert (r.run_count, r.skipped_lines) == (runs, bad), wf

    every_path_skips_them(bad)
    report = compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    march, april = report.months
    assert (march.month, march.lines_in, march.rows_in, march.rows_written,
            march.bad_lines_quarantined) == ("2026-03", 3, 1, 1, 2)
    assert (april.rows_written, april.bad_lines_quarantined) == (1, 0)
    (quarantine,) = (tmp_path / "quarantine" / "2026-03").iterdir()
    entries = [json.loads(q) for q in quarantine.read_text().splitlines()]
    assert [(e["line"], json.loads(e["text"])["run_id"]) for e in entries] == [(2, ""), (3, "")]
    (checkpoint,) = report.checkpoints
    assert (checkpoint.month, checkpoint.rows, checkpoint.bad_lines) == ("2026-05", 1, 1)
    every_path_skips_them({"2026-05.jsonl": 1})  # March's are in quarantine now


# -- the shortcuts (store/lookup.py) against the general path -----------------------------------


#: A copy: run_id, workflow, status, finished_at, total, shard, its run_id written with an escape
#: ("\u0072" for "r": its bytes do not hold the run_id), and another run named in its error text
#: (its bytes hold a run_id that is not its own).
hostile = st.lists(
    st.tuples(st.sampled_from(RUN_IDS), st.sampled_from(WORKFLOWS), st.sampled_from(STATUSES),
              st.sampled_from((*WHEN, MISSING)), st.sampled_from(TOTALS),
              st.sampled_from(SHARDS), st.booleans(), st.sampled_from(RUN_IDS)),
    min_size=1, max_size=14)
GARBAGE = (b"garbage\n", b'{"no_run_id": 1}\n', b"\xef\xbb\xbf{\"run_id\": \"r1\"}\n", b"[1]\n")


def write_hostile(d: Path, rows: list[tuple[Any, ...]], first: int = 0) -> None:
    for i, (run_id, wf, status, when, total, shard, escaped, named) in enumerate(rows, first):
        data = line(run_id, wf, status, when, total, float(i))
        data = data[:-2] + f', "error": "retry of {named}"}}\n'.encode()
        if escaped:
            data = data.replace(b'"run_id": "r', b'"run_id": "\\u0072', 1)
        append_bytes(d / "runs_log" / f"{shard}.jsonl", data + GARBAGE[i % len(GARBAGE)] * (i % 2))


def tied(rows: list[tuple[Any, ...]]) -> set[str]:
    """run_ids whose winning copy ties with another copy on every column of the copy order:
    either may be the row (the copy order says they are interchangeable), so only those
    columns are compared."""
    keys: dict[str, list[tuple[Any, ...]]] = {}
    for run_id, wf, status, when, total, *_ in rows:
        fin, tot = when_of(when), finite(total)
        keys.setdefault(run_id, []).append((fin is not None, fin or datetime.min.replace(
            tzinfo=UTC), tot is not None, tot or 0.0, status, wf))
    return {r for r, ks in keys.items() if ks.count(max(ks)) > 1}


def same_rows(a: list[Any], b: list[Any], ties: set[str]) -> bool:
    """The same runs in the same order, each the same row (NaN equal to NaN), the columns of
    the copy order only for a tied run."""
    def nan_free(row: Any) -> dict[str, Any]:
        return {k: "NaN" if isinstance(v, float) and math.isnan(v) else v
                for k, v in row.items()}

    return [as_expected(r) for r in a] == [as_expected(r) for r in b] and all(
        nan_free(x) == nan_free(y) for x, y in zip(a, b, strict=True) if x["run_id"] not in ties)


def check_shortcuts(d: Path, rows: list[tuple[Any, ...]]) -> None:
    fast, slow = RunStore(d), RunStore(d)
    slow.shortcuts = False
    won, ties = winners([r[:6] for r in rows]), tied(rows)
    for run_id in (*RUN_IDS, "r9"):
        (a, bad_a), (b, bad_b) = fast._get(run_id), slow._get(run_id)
        assert bad_a == bad_b, run_id  # the same malformed lines, hence the same warning
        assert same_rows([a] if a else [], [b] if b else [], ties), run_id
        assert (as_expected(a) if a else None) == won.get(run_id), run_id
    for last in (1, 3):
        for wf in (None, "wa"):
            for status in (None, "failed"):
                (ta, bad_a), (tb, bad_b) = (s._runs(wf, last=last, since=None, status=status)
                                            for s in (fast, slow))
                assert bad_a == bad_b, (wf, status, last)
                assert same_rows(ta, tb, ties), (wf, status, last)
    first = min(won)
    assert same_rows([fast.report(first).run], [slow.report(first).run], ties)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=hostile, late=hostile)
def test_shortcuts_agree_with_the_general_path(rows: list[tuple[Any, ...]],
                                               late: list[tuple[Any, ...]]) -> None:
    """`show`/`get`, `report`, `list`/`runs(last=)` and `latest` through the shortcuts give the
    general path's rows and malformed lines: before compaction (raw JSONL), after it (parts and
    a checkpointed live month), and with late rows after the checkpoint (a tail) and in a
    compacted month (a live shard beside its part)."""
    d = Path(tempfile.mkdtemp(prefix="mantis-agree-"))
    try:
        write_hostile(d, rows)
        check_shortcuts(d, rows)
        compact(d, now=NOW, checkpoint_min_bytes=0)
        check_shortcuts(d, rows)
        write_hostile(d, late, first=len(rows))
        check_shortcuts(d, rows + late)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- the views' shortcut: Parquet rows pass through unless their run_id may have another copy ----


def test_a_run_in_two_parts_and_in_a_checkpoint_is_one_row(tmp_path: Path) -> None:
    won = agree(tmp_path, [("r1", "wa", "failed", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
                           ("r1", "wb", "succeeded", "2026-04-15T12:00:00Z", 5.0, "2026-04"),
                           ("r2", "wa", "succeeded", "2026-05-10T09:00:00Z", 1.0, "2026-04"),
                           ("r2", "wb", "failed", "2026-04-15T12:00:00Z", 7.5, "2026-05"),
                           ("r3", "wa", "succeeded", "2026-05-02T08:00:00.250000Z", 1.0,
                            "2026-05")])
    assert len(list((tmp_path / "compacted").glob("*/part-*.parquet"))) == 2
    assert list((tmp_path / "checkpoints").glob("*.parquet"))
    assert (won["r1"]["workflow_id"], won["r2"]["workflow_id"]) == ("wb", "wa")


def test_a_run_in_a_part_and_in_the_live_shard_after_compaction(tmp_path: Path) -> None:
    rows: list[tuple[Any, ...]] = [
        ("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
        ("r2", "wa", "succeeded", "2026-04-15T12:00:00Z", 5.0, "2026-04"),
        ("r3", "wb", "failed", "2026-05-10T09:00:00Z", 5.0, "2026-05")]
    agree(tmp_path, rows)
    late = [("r1", "wb", "failed", "2026-05-01T00:30:00+02:00", 7.5, "2026-05"),  # wins
            ("r2", "wb", "failed", "2026-04-01T00:30:00+02:00", 9.0, "2026-05"),  # loses
            ("r3", "wa", "succeeded", "", 1.0, "2026-05")]  # undated: loses
    write(tmp_path, late)  # past the checkpoint: the views read these lines as JSONL
    won = winners(rows + late)
    check_every_path(tmp_path, won)
    assert (won["r1"]["workflow_id"], won["r2"]["workflow_id"]) == ("wb", "wa")
    counted = RunStore(tmp_path).sql("SELECT count(*) AS n, count(DISTINCT run_id) AS d FROM runs")
    assert counted.to_pylist() == [{"n": 3, "d": 3}]


def test_a_part_with_two_copies_of_a_run_is_still_one_row(tmp_path: Path) -> None:
    """Compaction never writes one, but the views do not take its word for it: a part rewritten
    by hand (and its checksum published again) with a second, winning copy of a run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mantis_runs.log.integrity import measure, publish_checksum

    rows: list[tuple[Any, ...]] = [
        ("r1", "wa", "succeeded", "2026-03-10T10:00:00Z", 1.0, "2026-03"),
        ("r2", "wa", "succeeded", "2026-03-31T23:30:00-02:00", 5.0, "2026-03"),
        ("r3", "wb", "failed", "2026-05-10T09:00:00Z", 5.0, "2026-05")]
    agree(tmp_path, rows)
    (part,) = (tmp_path / "compacted" / "2026-03").glob("part-*.parquet")
    table = pq.read_table(part)
    copy = table.filter(pa.compute.equal(table["run_id"], "r1")).to_pylist()[0]
    copy.update(workflow_id="wb", status="failed", total_time_s=9.0,
                finished_at=datetime(2026, 3, 20, tzinfo=UTC))
    extra = pa.Table.from_pylist([copy], schema=table.schema)
    pq.write_table(pa.concat_tables([table, extra]), part)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    publish_checksum(part, measure(part), scratch)
    won = winners([*rows, ("r1", "wb", "failed", "2026-03-20T00:00:00Z", 9.0, "2026-03")])
    assert view_rows(RunStore(tmp_path)) == won
    assert won["r1"]["workflow_id"] == "wb"
    check_every_path(tmp_path, won)  # stats too, the whole history in place included

