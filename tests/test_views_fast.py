"""The views at the speed of a scan (db/view_reads.py) give the general path's answers.

A live shard is read as its checkpoint plus a private copy of its tail, and the Parquet files
whose footers prove they hold no contested run_id pass through the runs view unfiltered. Every
hostile case here (a run whose copies span two months, late rows past a checkpoint, a run in a
checkpoint and in the tail, bad lines and a torn tail, a damaged checkpoint, a compactor killed
at several instants) must give exactly the rows of ``runs``, ``run_buckets``, ``run_costs`` and
``runs_bad_lines`` that ``RunStore.shortcuts = False`` (the views as they always read) gives,
and the runs an independent oracle picks. And the shortcut must really be taken where it can.
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import append_bytes
from mantis_runs import RunStore
from mantis_runs.cli.shell import _script, duckdb_binary, views_script
from mantis_runs.compaction import compact
from mantis_runs.db import idranges, view_reads, views
from mantis_runs.errors import MantisError
from mantis_runs.log.layout import scan
from test_compact import _CRASH_CHILD

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # February to April closed, May open
MONTHS = ("2026-02", "2026-03", "2026-04", "2026-05")
VIEWS = ("runs", "run_buckets", "run_costs", "runs_bad_lines")


def rid(month: str, n: int) -> str:
    """A run_id as the writer makes them: its creation date first."""
    return f"{month.replace('-', '')}{n % 27 + 1:02d}_120000_{n:08x}"


def line(run_id: str, month: str, i: int, *, day: int = 10, wf: str = "wa",
         total: float | None = None) -> bytes:
    row = {"run_id": run_id, "workflow_id": wf, "status": "failed" if i % 3 else "succeeded",
           "finished_at": f"{month}-{day:02d}T{i % 24:02d}:00:00Z",
           "total_time_s": float(i) + 0.5 if total is None else total,
           "wall_time_breakdown": {"think": i / 4, f"b{i % 2}": 1.0},
           "cost_breakdown": {"tokens": float(i)}, "host": f"h{i}"}
    return json.dumps(row).encode() + b"\n"


def add(d: Path, shard: str, data: bytes) -> None:
    append_bytes(d / "runs_log" / f"{shard}.jsonl", data)


def answers(d: Path, fast: bool) -> dict[str, list[str]]:
    """Every row of the four views, as sorted text (NaN equal to NaN)."""
    store = RunStore(d)
    store.shortcuts = fast
    con = store.connect()
    try:
        return {v: sorted(json.dumps(r, default=str, sort_keys=True)
                          for r in con.sql(f"SELECT * FROM {v}").to_arrow_table().to_pylist())
                for v in VIEWS}
    finally:
        con.close()


def clean_files(d: Path) -> list[str]:
    """The Parquet files the runs view passes through unfiltered (names relative to ``d``)."""
    con = RunStore(d).connect()
    try:
        (files,), = con.execute("SELECT getvariable('mantis_clean_files')").fetchall()
    finally:
        con.close()
    return sorted(str(Path(f).relative_to(d)) for f in files if Path(f).is_relative_to(d))


def check(d: Path) -> dict[str, list[str]]:
    """The fast views give the general path's rows, each run_id once."""
    fast, slow = answers(d, True), answers(d, False)
    assert fast == slow
    ids = [json.loads(r)["run_id"] for r in fast["runs"]]
    assert len(ids) == len(set(ids))
    return fast


def scene(d: Path) -> None:
    """Four months; a run whose copies span March and April (finished later in April)."""
    for m_i, month in enumerate(MONTHS):
        for n in range(6):
            add(d, month, line(rid(month, n), month, 10 * m_i + n))
    add(d, "2026-04", line(rid("2026-03", 5), "2026-04", 99, day=12))  # wins over March's
    add(d, "2026-03", b"garbage\n")
    add(d, "2026-05", b'{"no_run_id": 1}\n')


def totals(answer: dict[str, list[str]]) -> dict[str, float]:
    return {(r := json.loads(x))["run_id"]: r["total_time_s"] for x in answer["runs"]}


@pytest.mark.slow
def test_the_hostile_cases_agree_and_the_shortcut_is_taken(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    d = tmp_path
    scene(d)
    assert len(totals(check(d))) == 24  # raw JSONL: nothing to pass through
    assert clean_files(d) == []

    compact(d, now=NOW, checkpoint_min_bytes=0)  # parts for Feb-Apr, May checkpointed
    (cp,) = (d / "checkpoints").glob("*.parquet")
    part = {m: str(next((d / "compacted" / m).glob("*.parquet")).relative_to(d))
            for m in MONTHS[:3]}
    got = check(d)
    assert totals(got)[rid("2026-03", 5)] == 99.5
    assert '{"lines": 1, "shard": "2026-05.jsonl"}' in got["runs_bad_lines"]  # checkpointed
    # March and April share a run: both ranked; February and the checkpoint pass through
    assert clean_files(d) == sorted([part["2026-02"], str(cp.relative_to(d))])

    late = [line(rid("2026-04", 2), "2026-05", 200, day=1),  # a late copy of April's run: wins
            line(rid("2026-05", 3), "2026-05", 201, day=11),  # in the checkpoint and the tail
            line(rid("2026-05", 40), "2026-05", 202, day=3),  # a new run
            b"[1]\n"]
    add(d, "2026-05", b"".join(late) + b'{"run_id": "torn", "workflow_id"')  # torn tail
    got = check(d)
    assert {k: totals(got)[k] for k in (rid("2026-04", 2), rid("2026-05", 3))} == {
        rid("2026-04", 2): 200.5, rid("2026-05", 3): 201.5}
    assert '{"lines": 3, "shard": "2026-05.jsonl"}' in got["runs_bad_lines"]
    assert clean_files(d) == [part["2026-02"]]  # the tail contests April and the checkpoint

    data = bytearray(cp.read_bytes())  # a damaged checkpoint: the live shard is read whole,
    data[len(data) // 2] ^= 0xFF         # from a private copy of it
    cp.write_bytes(bytes(data))
    assert check(d) == got
    assert clean_files(d) == [part["2026-02"]]
    monkeypatch.setattr(view_reads, "SPLIT_JSONL_MAX", 100)  # too large to copy: read in place
    assert check(d) == got
    assert clean_files(d) == []  # a live shard read in place could change: nothing proven


copies = st.lists(st.tuples(st.sampled_from(MONTHS), st.integers(0, 5), st.sampled_from(MONTHS),
                            st.sampled_from(("wa", "wb"))), min_size=1, max_size=12)


@pytest.mark.slow
@settings(max_examples=2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=copies, late=copies)
def test_random_copies_agree_before_and_after_compaction(rows: list[tuple[Any, ...]],
                                                         late: list[tuple[Any, ...]]) -> None:
    """Copies of run_ids made in one month and written into any shard, then late copies past
    the checkpoint: the fast views' rows are the general path's, and the oracle's runs."""
    d = Path(tempfile.mkdtemp(prefix="mantis-views-fast-"))
    written: set[str] = set()

    def write(batch: list[tuple[Any, ...]], first: int) -> None:
        for i, (made, n, shard, wf) in enumerate(batch, first):
            add(d, shard, line(rid(made, n), shard, i, day=i % 27 + 1, wf=wf))
            written.add(rid(made, n))

    def runs_of(answer: dict[str, list[str]]) -> set[str]:
        return {json.loads(x)["run_id"] for x in answer["runs"]}

    try:
        write(rows, 0)
        assert runs_of(check(d)) == written
        compact(d, now=NOW, checkpoint_min_bytes=0)
        assert runs_of(check(d)) == written
        write(late, 100)
        assert runs_of(check(d)) == written
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_connection_s_tail_copies_go_with_it(tmp_path: Path) -> None:
    scene(tmp_path)
    compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    add(tmp_path, "2026-05", line(rid("2026-05", 30), "2026-05", 300))
    reads = views.prepare(scan(tmp_path).values())
    (lr,) = reads.live.values()
    assert lr.tail is not None and lr.tail.read_bytes().startswith(b'{"run_id": "20260504')
    con = RunStore(tmp_path).connect()
    reads.close()
    assert not reads.folder.exists()
    (n,), = con.execute("SELECT count(*) FROM runs").fetchall()
    assert n == 25
    folder = next(iter(views._READS[con].live.values())).tail
    assert folder is not None and folder.exists()
    del con
    gc.collect()
    assert not folder.exists()


def test_the_shell_reads_the_checkpoint_and_its_tail(tmp_path: Path) -> None:
    try:
        duckdb_binary()
    except MantisError:  # pragma: no cover - the 'shell' extra is not installed
        pytest.skip("the DuckDB shell (duckdb-cli) is missing")
    scene(tmp_path)
    compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    add(tmp_path, "2026-05", line(rid("2026-04", 2), "2026-05", 200, day=1) + b"[1]\n")
    text, reads = _script(tmp_path, read_only=True, fast=True)
    assert reads is not None
    reads.close()
    (cp,) = (tmp_path / "checkpoints").glob("*.parquet")
    assert str(cp) in text and str(cp) not in views_script(tmp_path)  # `views`: shards whole
    query = ("SELECT count(*), count(DISTINCT run_id), sum(total_time_s), "
             "(SELECT sum(lines) FROM runs_bad_lines) FROM runs")
    out = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "shell", "--data-dir",
                          str(tmp_path), "--", "-csv", "-noheader", "-c", query],
                         capture_output=True, text=True, check=True).stdout
    slow = RunStore(tmp_path)
    slow.shortcuts = False
    want = slow.sql(query).to_pylist()[0].values()
    assert out.strip().split(",") == [str(v) for v in want] == ["24", "24", "694.0", "2"]


@pytest.mark.slow
def test_a_compactor_killed_at_several_instants(tmp_path: Path) -> None:
    """The states a compactor leaves when killed (a sealed shard beside its part, a checkpoint
    half replaced...) read the same through the fast views as through the general path."""
    template = tmp_path / "template"
    scene(template)
    compact(template, now=NOW, checkpoint_min_bytes=0)
    add(template, "2026-04", line(rid("2026-04", 9), "2026-04", 400, day=20))  # to absorb
    add(template, "2026-05", line(rid("2026-05", 9), "2026-05", 401, day=21))
    later = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)  # May closes: sealed and converted

    def child(target: Path, crash_at: int) -> subprocess.CompletedProcess[str]:
        """test_compact's compactor, SIGKILLed before its ``crash_at``-th file operation."""
        args = [str(target), str(crash_at), later.isoformat()]
        return subprocess.run([sys.executable, "-c", _CRASH_CHILD, *args], capture_output=True,
                              text=True, timeout=120, check=False)

    shutil.copytree(template, tmp_path / "whole")
    done = child(tmp_path / "whole", 10**9)  # uninterrupted: lists the operations
    assert done.returncode == 0, done.stderr
    want = totals(check(tmp_path / "whole"))
    points = [k for k, op in enumerate(json.loads(done.stdout), 1) if op != "fsync"]
    for k in points[1::max(1, len(points) // 3)][:3]:
        d = tmp_path / f"k{k}"
        shutil.copytree(template, d)
        assert child(d, k).returncode == -signal.SIGKILL
        assert totals(check(d)) == want, k
        assert "compacted/2026-02" in " ".join(clean_files(d)), k  # the shortcut was taken
        shutil.rmtree(d)


def test_nan_totals_agree(tmp_path: Path) -> None:
    """A NaN or missing total ranks after a finite one on both paths (copies in two months)."""
    add(tmp_path, "2026-03", line(rid("2026-03", 1), "2026-03", 1, total=math.nan))
    add(tmp_path, "2026-04", line(rid("2026-03", 1), "2026-04", 2, day=1, total=math.inf))
    add(tmp_path, "2026-05", line(rid("2026-05", 1), "2026-05", 3))
    compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    add(tmp_path, "2026-05", line(rid("2026-03", 1), "2026-05", 4, day=1, total=math.nan))
    got = check(tmp_path)
    assert len(got["runs"]) == 2


def test_an_unreadable_part_is_one_line_on_both_paths(tmp_path: Path) -> None:
    """A file named like a newer part that is not Parquet: the shortcut's preparation (which
    reads the parts' run_ids) fails with the general path's one-line error, not DuckDB's."""
    d = tmp_path / "data"
    scene(d)
    compact(d, now=NOW, checkpoint_min_bytes=0)
    (d / "compacted" / "2026-03" / "part-000009-deadbeef.parquet").write_bytes(b"not parquet")
    for fast in (True, False):
        store = RunStore(d)
        store.shortcuts = fast
        with pytest.raises(MantisError) as caught:
            store.sql("SELECT count(*) FROM runs")
        assert str(caught.value).startswith("query failed: "), fast


def test_the_views_and_point_lookups_share_one_footer_reader(tmp_path: Path) -> None:
    """The run_id footers are read once (db/idranges.py ``footer_groups``) for the views'
    pass-through and the point lookups (``id_ranges``): after the views' read, the lookups'
    ranges come from the same cache entries, and they prove what each part holds."""
    d = tmp_path
    scene(d)
    compact(d, now=NOW, checkpoint_min_bytes=0)
    assert clean_files(d)  # the views have read every Parquet file's footer
    parts = [p for mf in scan(d).values() for p in mf.parts]
    assert len(parts) == 3

    def no_connection() -> Any:
        raise AssertionError("a footer read a second time")

    ranges = idranges.id_ranges(no_connection, parts)
    assert [idranges.may_hold(ranges[p], [rid(p.parent.name, 0)]) for p in parts] == [True] * 3
    assert [idranges.may_hold(ranges[p], ["20250101_120000_0"]) for p in parts] == [False] * 3
    groups = idranges.footer_groups(no_connection, parts)
    assert all(g is not None and g[2] for p in parts for g in groups[p])  # proven: exact, no NULL
