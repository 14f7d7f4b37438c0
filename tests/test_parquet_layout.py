"""The Parquet layout (2) of compacted parts and checkpoints, and the whole-history read path.

* every breakdown a JSONL line can hold (known and other names, nulls, numbers as text, NaN,
  booleans, empty and non-object breakdowns) reads the same through the views before and after
  compaction;
* row groups are sorted by (workflow_id, finished_at): busy workflows get their own, small ones
  share them, whatever the buffer limits and however many workflows there are;
* ``stats`` over whole histories (read in place, with order statistics selected by Arrow) is
  numpy's, bit for bit, and the same as the general path, which it leaves to whenever a run_id
  repeats, more runs match than --last or than it holds in memory;
* parts written in layout 1 make readers say what to do, and compaction rewrites them with
  nothing lost, also when killed before any step of it; a layout newer than this mantis is
  refused.
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
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import append_bytes, assert_matches, oracle
from mantis_runs.cli import main
from mantis_runs.compaction import compact
from mantis_runs.db import arrow_schema, parquet_layout
from mantis_runs.errors import MantisError
from mantis_runs.log import schema
from mantis_runs.log.integrity import checksum_path
from mantis_runs.log.layout import scan
from mantis_runs.stats import engine as query
from mantis_runs.stats import whole
from mantis_runs.stats.engine import stats
from mantis_runs.stats.order import numpy_percentiles
from mantis_runs.store import RunStore

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # May 2026 is open; April and before are closed


def raw_line(run_id: str, breakdown: Any, *, wf: str = "wa", day: int = 3, minute: int = 0,
             total: float = 10.0, status: str = "succeeded", month: str = "2026-04") -> bytes:
    row: dict[str, Any] = {"run_id": run_id, "workflow_id": wf, "status": status,
                           "finished_at": f"{month}-{day:02d}T{minute // 60 % 24:02d}:"
                                          f"{minute % 60:02d}:00Z",
                           "total_time_s": total}
    if breakdown is not MISSING:
        row["wall_time_breakdown"] = breakdown
    return json.dumps(row, allow_nan=True).encode() + b"\n"


MISSING = object()


def view_breakdowns(d: Path) -> dict[str, Any]:
    """run_id -> the breakdown the views show, NaN as the string 'nan' (NaN != NaN)."""
    out: dict[str, Any] = {}
    for r in RunStore(d).runs():
        b = r["wall_time_breakdown"]
        out[r["run_id"]] = None if b is None else {
            k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in b.items()}
    return out


# --------------------------------------------------------------------------------------------
# the breakdown columns

names = st.sampled_from([*schema.KNOWN_BUCKETS[:4], "custom", "think2", "Think", "total"])
values = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**6),
    st.none(),
    st.booleans(),
    st.sampled_from(["12.5", "abc", "", "1e3"]),
    st.sampled_from([math.nan, math.inf]),
    st.lists(st.integers(), max_size=2),
)
breakdowns = st.one_of(
    st.dictionaries(names, values, max_size=6),
    st.sampled_from([MISSING, None, 5, "text", [1, 2]]),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(breakdowns, min_size=1, max_size=12))
def test_every_breakdown_reads_the_same_after_compaction(tmp_path: Path, items: list[Any]) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    d = root / "data"
    data = b"".join(raw_line(f"r{i}", b, minute=i) for i, b in enumerate(items))
    append_bytes(d / "runs_log" / "2026-04.jsonl", data)
    before = view_breakdowns(d)
    before_stats = stats("wa", data_dir=d, now=NOW, since="2026-01-01").to_json()
    assert len(before) == len(items)
    compact(d, now=NOW)
    assert not (d / "runs_log" / "2026-04.jsonl").exists()
    assert view_breakdowns(d) == before
    assert stats("wa", data_dir=d, now=NOW, since="2026-01-01").to_json() == before_stats
    shutil.rmtree(root)


def test_how_a_breakdown_is_stored(tmp_path: Path) -> None:
    d = tmp_path / "data"
    append_bytes(d / "runs_log" / "2026-04.jsonl", b"".join([
        raw_line("known", {"think": 1.5, "act": 2}),
        raw_line("mixed", {"think": 1.0, "custom": 3.0, "act": None, "load": "7.25"}),
        raw_line("empty", {}),
        raw_line("none", MISSING),
        raw_line("scalar", 5),
    ]))
    compact(d, now=NOW)
    (part,) = scan(d)["2026-04"].parts
    rows = {r["run_id"]: r for r in pq.read_table(part).to_pylist()}

    def known(run_id: str) -> dict[str, float] | None:
        k = rows[run_id]["wall_time_breakdown"]
        return None if k is None else {b: v for b, v in k.items() if v is not None}

    assert (known("known"), rows["known"]["wall_time_breakdown_other"]) == (
        {"think": 1.5, "act": 2.0}, None)
    assert known("mixed") == {"think": 1.0, "load": 7.25}
    assert sorted(rows["mixed"]["wall_time_breakdown_other"]) == [("act", None), ("custom", 3.0)]
    assert (known("empty"), rows["empty"]["wall_time_breakdown_other"]) == ({}, None)
    for r in ("none", "scalar"):
        assert (known(r), rows[r]["wall_time_breakdown_other"]) == (None, None)


# --------------------------------------------------------------------------------------------
# row groups

def group_tables(part: Path) -> list[pa.Table]:
    pf = pq.ParquetFile(part)
    return [pf.read_row_group(g, columns=["run_id", "workflow_id", "finished_at"])
            for g in range(pf.metadata.num_row_groups)]


def assert_grouped(groups: list[pa.Table], expected_ids: list[str]) -> dict[Any, int]:
    """Each row group sorted by (workflow_id, finished_at), every row once; returns how many
    row groups each workflow has to itself."""
    own: dict[Any, int] = {}
    seen: list[str] = []
    for t in groups:
        assert 0 < t.num_rows <= parquet_layout.ROW_GROUP_ROWS
        keys = [((w is None, w or ""), f) for w, f in zip(t.column("workflow_id").to_pylist(),
                                                          t.column("finished_at").to_pylist(),
                                                          strict=True)]
        assert keys == sorted(keys)
        wfs = set(t.column("workflow_id").to_pylist())
        if len(wfs) == 1:
            wf = wfs.pop()
            own[wf] = own.get(wf, 0) + 1
        seen += t.column("run_id").to_pylist()
    assert sorted(seen) == sorted(expected_ids)
    return own


def test_busy_workflows_get_row_groups_of_their_own(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Small batches, groups and buffers force every path: groups written when full, the
    largest buffer written early, the rest at the end."""
    monkeypatch.setattr(parquet_layout, "BATCH_ROWS", 37)
    monkeypatch.setattr(parquet_layout, "ROW_GROUP_ROWS", 50)
    monkeypatch.setattr(parquet_layout, "BUFFER_BYTES", 30_000)
    monkeypatch.setattr(parquet_layout, "MIN_OWN_GROUP_ROWS", 20)
    d = tmp_path / "data"
    workflows = ["wa", "wb", "wc", "wd", "we", "wf", "wg"]
    lines = []
    for i in range(900):
        wf = workflows[(i * i) % 7] if i % 5 else "wa"  # skewed: wa is the busiest
        lines.append(raw_line(f"r{i:04d}", {"think": float(i)}, wf=wf, day=1 + (i * 7919) % 28,
                              minute=i))
    lines.append(b'{"run_id": "nowf", "status": "succeeded", "total_time_s": 1,'
                 b' "finished_at": "2026-04-02T00:00:00Z"}\n')  # no workflow: still a row
    append_bytes(d / "runs_log" / "2026-04.jsonl", b"".join(lines))
    compact(d, now=NOW)
    (part,) = scan(d)["2026-04"].parts
    own = assert_grouped(group_tables(part), [f"r{i:04d}" for i in range(900)] + ["nowf"])
    assert own["wa"] > 5 and own.get(None, 0) <= 1


def test_many_small_workflows_share_row_groups(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of workflows with a row or two each: a few shared row groups, not one per
    workflow, and never more than MAX_BUFFERED_WORKFLOWS buffers."""
    monkeypatch.setattr(parquet_layout, "BATCH_ROWS", 400)
    monkeypatch.setattr(parquet_layout, "ROW_GROUP_ROWS", 1000)
    monkeypatch.setattr(parquet_layout, "MAX_BUFFERED_WORKFLOWS", 50)
    most = 0
    real_add = parquet_layout._RowGroups.add

    def add(self: Any, table: pa.Table) -> None:
        nonlocal most
        real_add(self, table)
        most = max(most, len(self.pending))

    monkeypatch.setattr(parquet_layout._RowGroups, "add", add)
    d = tmp_path / "data"
    lines = [raw_line(f"r{i:05d}", {"think": 1.0}, wf=f"w{(i * 7) % 3000:04d}",
                      day=1 + i % 28, minute=i) for i in range(4500)]
    busy = [raw_line(f"b{i:05d}", {"think": 2.0}, wf="busy", minute=i) for i in range(3000)]
    mixed = [x for i, line in enumerate(lines) for x in (line, *busy[i:i + 1])]
    append_bytes(d / "runs_log" / "2026-04.jsonl", b"".join(mixed))
    monkeypatch.setattr(parquet_layout, "MIN_BATCH_SHARE", 100)
    monkeypatch.setattr(parquet_layout, "MIN_OWN_GROUP_ROWS", 500)
    compact(d, now=NOW)
    (part,) = scan(d)["2026-04"].parts
    groups = group_tables(part)
    own = assert_grouped(groups,
                         [f"r{i:05d}" for i in range(4500)] + [f"b{i:05d}" for i in range(3000)])
    assert len(groups) <= 7500 // 400 + 4 and most <= 50  # about a group per batch
    assert own["busy"] >= 2  # a busy workflow keeps groups of its own among thousands


# --------------------------------------------------------------------------------------------
# the whole-history path

@settings(max_examples=300, deadline=None)
@given(sample=st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False),
                                 st.sampled_from([0.1, 0.2, 0.3, 1.0, 2.5, -0.0, 0.0])),
                       min_size=0, max_size=60))
def test_order_statistics_give_numpys_percentiles_bit_for_bit(sample: list[float | None]
                                                              ) -> None:
    n, got = numpy_percentiles(pa.chunked_array([pa.array(sample, pa.float64())]))
    finite = [v for v in sample if v is not None]
    assert n == len(finite)
    if not finite:
        assert got is None
        return
    assert got == [float(v) for v in np.percentile(np.array(finite), [50, 95, 99])]


def test_order_statistics_of_large_samples() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 101, 1000, 99_999, 250_001):
        sample = np.round(rng.lognormal(3, 1, n), 2)  # many ties
        _, got = numpy_percentiles(pa.chunked_array([pa.array(sample)]))
        assert got == [float(v) for v in np.percentile(sample, [50, 95, 99])]


RUN_IDS = [f"r{i}" for i in range(40)]
whole_rows = st.lists(
    st.tuples(
        st.sampled_from(RUN_IDS),
        st.sampled_from(["2026-02", "2026-03", "2026-04", "2026-05"]),
        st.integers(0, 27 * 1440),
        st.sampled_from(["succeeded", "failed"]),
        st.dictionaries(st.sampled_from(["think", "act", "load", "custom", "other"]),
                        st.one_of(st.floats(0, 1000, allow_nan=False, allow_infinity=False),
                                  st.sampled_from([0.5, 1.0, math.nan, math.inf])),
                        max_size=4),
    ),
    min_size=1, max_size=40)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows_in=whole_rows, compact_after=st.integers(0, 40), unique=st.booleans())
def test_whole_histories_match_numpy_and_the_general_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_in: list[Any],
        compact_after: int, unique: bool) -> None:
    """Closed months compacted, late rows in sealed shards, the open month checkpointed with a
    tail; run_ids unique or repeated; NaN, infinities and other bucket names. Every answer with a
    large --last is numpy's, and the same when the in-place path is switched off."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    d = root / "data"
    log = d / "runs_log"
    log.mkdir(parents=True)
    rows: list[dict[str, Any]] = []
    total = 1.0
    for i, (run_id, month, minute, status, breakdown) in enumerate(rows_in):
        if unique:
            run_id = f"u{i}"
        total += 1.25
        line = raw_line(run_id, breakdown, wf="wa" if int(run_id[1:]) % 2 else "wb",
                        day=1 + minute // 1440, minute=minute, total=total, status=status,
                        month=month)
        append_bytes(log / f"{month}.jsonl", line)
        rows.append(json.loads(line))
        if i == compact_after:
            compact(d, now=NOW, checkpoint_min_bytes=0)
    taken: list[bool] = []
    real_whole = query.whole_history

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real_whole(*args, **kwargs)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(query, "whole_history", spy)
    for wf in ("wa", "wb"):
        for status in ("succeeded", ""):
            for since in (None, "2026-03-10"):
                got = stats(wf, data_dir=d, status=status, last=10**6, since=since,
                            now=NOW).to_json()
                assert_matches(got, oracle(finite_only(rows), wf, status=status, last=10**6,
                                           since=None if since is None else
                                           datetime.fromisoformat(since).replace(tzinfo=UTC)))
                with monkeypatch.context() as m:
                    m.setattr(query, "whole_history", lambda *a, **k: None)
                    general = stats(wf, data_dir=d, status=status, last=10**6, since=since,
                                    now=NOW).to_json()
                assert got == general
    if unique and any(scan(d)[m].parts for m in scan(d)):
        assert any(taken)
    shutil.rmtree(root)


def finite_only(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The oracle's rows with NaN and infinite bucket values left out (they are not samples)."""
    return [{**r, "wall_time_breakdown": {k: v for k, v in (r.get("wall_time_breakdown") or {})
                                          .items() if math.isfinite(v)}} for r in rows]


def test_whole_path_is_left_when_runs_repeat_or_exceed_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "data"
    lines = [raw_line(f"r{i}", {"think": float(i)}, total=float(i + 1), minute=i, month=m)
             for i in range(30) for m in ("2026-03",)]
    append_bytes(d / "runs_log" / "2026-03.jsonl", b"".join(lines))
    compact(d, now=NOW)
    taken: list[bool] = []
    real_whole = query.whole_history
    monkeypatch.setattr(query, "whole_history",
                        lambda *a, **k: taken.append((out := real_whole(*a, **k)) is not None)
                        or out)
    assert stats("wa", data_dir=d, last=20_000, now=NOW, since="2026-01-01").run_count == 30
    assert taken == [True]
    # more Parquet rows than --last: months are read newest first, as for a small --last
    monkeypatch.setattr(query, "CUTOFF_MAX_LAST", 5)
    got = stats("wa", data_dir=d, last=10, now=NOW, since="2026-01-01")
    assert taken == [True]
    assert got.run_count == 10 and got.total.p50 == 25.5  # totals 21..30
    # more runs than the in-place path holds in memory
    monkeypatch.setattr(query, "CUTOFF_MAX_LAST", 10_000)
    monkeypatch.setattr(whole, "WHOLE_MAX_RUNS", 29)
    got = stats("wa", data_dir=d, last=20_000, now=NOW, since="2026-01-01")
    assert taken == [True, False]
    assert got.run_count == 30 and got.total.p50 == 15.5
    monkeypatch.undo()
    monkeypatch.setattr(query, "whole_history",
                        lambda *a, **k: taken.append((out := real_whole(*a, **k)) is not None)
                        or out)
    # a copy of r3 in the open month, later: r3 repeats, and its later copy wins
    append_bytes(d / "runs_log" / "2026-05.jsonl",
                 raw_line("r3", {"think": 99.0}, total=99.0, month="2026-05"))
    got = stats("wa", data_dir=d, last=20_000, now=NOW, since="2026-01-01")
    assert taken[-1] is False
    assert got.run_count == 30 and got.total.n == 30
    assert max(b.p99 or 0 for b in got.buckets) > 28


# --------------------------------------------------------------------------------------------
# layout versions

def layout1_part(d: Path, month: str, rows: list[dict[str, Any]]) -> Path:
    """A part as mantis wrote it before the layout had a version: one MAP breakdown column."""
    fields = [pa.field(f.name, pa.map_(pa.string(), pa.float64())
                       if f.kind in (schema.Kind.SECONDS_MAP, schema.Kind.NUMBER_MAP)
                       else arrow_schema.arrow_schema().field(f.name).type) for f in schema.FIELDS]
    old = pa.schema([*fields, pa.field("extra", pa.string())])
    path = d / "compacted" / month / "part-000001-00112233aabbccdd.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=old), path, compression="zstd")
    return path


def old_row(run_id: str, breakdown: list[tuple[str, float | None]] | None,
            total: float) -> dict[str, Any]:
    return {"schema_version": 1, "run_id": run_id, "workflow_id": "wa", "status": "succeeded",
            "finished_at": datetime(2026, 3, 2, 10, int(total) % 60, tzinfo=UTC),
            "total_time_s": total, "wall_time_breakdown": breakdown,
            "extra": '{"host": "h1"}'}


def test_layout1_parts_are_named_by_readers_and_rewritten_by_compaction(tmp_path: Path) -> None:
    d = tmp_path / "data"
    rows = [old_row("a", [("think", 1.5), ("act", 2.0)], 10.0),
            old_row("b", [("think", math.nan), ("custom", 3.0), ("load", None)], 11.0),
            old_row("c", None, 12.0),
            old_row("d", [], 13.0)]
    old = layout1_part(d, "2026-03", rows)
    assert parquet_layout.layout_of(old) == 1
    with pytest.raises(MantisError, match=r"part-000001-00112233aabbccdd\.parquet is in Parquet "
                                          r"layout 1.*run `mantis runs compact` once"):
        stats("wa", data_dir=d, now=NOW, since="2026-01-01")
    with pytest.raises(MantisError, match="is in Parquet layout 1"):
        RunStore(d).runs()
    for command in ("views", "shell"):  # the shell would fail on the views' SQL
        out = CliRunner().invoke(main, ["runs", command, "--data-dir", str(d)])
        assert (out.exit_code, out.stdout) == (1, ""), out.output
        assert "is in Parquet layout 1, written by an earlier mantis-runs; run `mantis runs " \
               "compact` once" in out.stderr

    # listed whatever --month says, as the real run rewrites it whatever --month says
    out = CliRunner().invoke(main, ["runs", "compact", "--dry-run", "--month", "2026-01",
                                    "--data-dir", str(d)])
    assert "2026-03: rewrite part-000001-00112233aabbccdd.parquet in Parquet layout 2" in (
        out.output)
    report = compact(d, now=NOW)
    assert report.upgraded == ["compacted/2026-03/part-000002-00112233aabbccdd.parquet"]
    assert not old.exists()
    (new,) = scan(d)["2026-03"].parts
    assert parquet_layout.layout_of(new) == 2
    assert view_breakdowns(d) == {"a": {"think": 1.5, "act": 2.0},
                                  "b": {"think": "nan", "custom": 3.0, "load": None},
                                  "c": None, "d": {}}
    got = stats("wa", data_dir=d, now=NOW, since="2026-01-01").to_json()
    assert got["run_count"] == 4 and got["percentiles"]["custom"]["n"] == 1
    assert compact(d, now=NOW).upgraded == []


@pytest.mark.slow
def test_kill_9_while_rewriting_layout1_parts(tmp_path: Path) -> None:
    """SIGKILL the compactor before each filesystem step of rewriting two layout-1 parts (one
    month also absorbs a late shard): afterwards the next compaction leaves the same rows and
    breakdowns as an uninterrupted run, and a month is never read from two generations."""
    import signal
    import subprocess
    import sys

    from test_compact import _CRASH_CHILD

    template = tmp_path / "template"
    layout1_part(template, "2026-03", [old_row("a", [("think", 1.5), ("custom", 2.0)], 10.0),
                                       old_row("b", None, 11.0)])
    feb = layout1_part(template, "2026-02", [old_row("c", [("act", 3.0)], 12.0)])
    feb.rename(feb.with_name("part-000004-aabbccdd00112233.parquet"))
    append_bytes(template / "runs_log" / "2026-03.jsonl",
                 raw_line("late", {"think": 9.0, "other": 1.0}, month="2026-03"))
    expected = {"a": {"think": 1.5, "custom": 2.0}, "b": None, "c": {"act": 3.0},
                "late": {"think": 9.0, "other": 1.0}}

    def child(target: Path, crash_at: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _CRASH_CHILD, str(target), str(crash_at),
                               NOW.isoformat()], capture_output=True, text=True, timeout=120,
                              check=False)

    full = tmp_path / "full"
    shutil.copytree(template, full)
    r = child(full, 10**9)
    assert r.returncode == 0, r.stderr
    ops = json.loads(r.stdout)
    assert view_breakdowns(full) == expected
    points = [k for k, op in enumerate(ops, 1) if op != "fsync"]
    assert len(points) >= 8, ops
    for k in points:
        d = tmp_path / f"k{k}"
        shutil.copytree(template, d)
        r = child(d, k)
        assert r.returncode == -signal.SIGKILL, (k, r.returncode, r.stderr)
        for month in ("2026-02", "2026-03"):
            assert len(scan(d)[month].parts) == 1  # the newest generation only is read
        compact(d, now=NOW)
        assert view_breakdowns(d) == expected, k
        assert all(parquet_layout.layout_of(p) == 2
                   for mf in scan(d).values() for p in mf.parts)
        shutil.rmtree(d)


def test_a_truncated_part_is_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    d = tmp_path / "data"
    append_bytes(d / "runs_log" / "2026-03.jsonl", raw_line("a", {"think": 1.0}, month="2026-03"))
    compact(d, now=NOW)
    (part,) = scan(d)["2026-03"].parts
    cut = part.read_bytes()[:1000]
    part.write_bytes(cut)
    checksum_path(part).unlink()  # an unchecked part (earlier versions); test_verify: checked
    for args in (["runs", "compact"], ["runs", "compact", "--dry-run"]):
        out = CliRunner().invoke(main, [*args, "--data-dir", str(d)])
        assert (out.exit_code, out.stdout) == (1, ""), out.output
        assert out.stderr.startswith(f"error: {part} is not a readable Parquet file: ")
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert part.read_bytes() == cut
    out = CliRunner().invoke(main, ["runs", "stats", "wa", "--since", "2026-01-01",
                                    "--data-dir", str(d)])
    assert out.exit_code == 1 and out.stderr.startswith("error: query failed: ")


def test_a_newer_layout_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "data"
    append_bytes(d / "runs_log" / "2026-03.jsonl", raw_line("a", {"think": 1.0}, month="2026-03"))
    compact(d, now=NOW)
    (part,) = scan(d)["2026-03"].parts
    t = pq.read_table(part)
    pq.write_table(t.replace_schema_metadata({"mantis_layout": "3"}), part)
    out = CliRunner().invoke(main, ["runs", "compact", "--data-dir", str(d)])
    assert out.exit_code == 1
    assert out.output.strip().endswith("is in Parquet layout 3, newer than this mantis-runs (2); "
                                       "upgrade mantis-runs")
