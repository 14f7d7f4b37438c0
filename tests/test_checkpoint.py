"""Checkpoints of live shards, with real files and real DuckDB.

* every stats answer (skipped lines included) is the same with and without checkpoints, on the
  demo history, on live shards full of malformed lines, and under hypothesis-made appends with
  duplicates across the checkpoint and the tail; the answers are also numpy's;
* the checkpoint is really read (a planted row shows up), incrementally extended, and ignored
  whenever it no longer describes the shard (another inode, a shorter file, changed bytes);
* sealing a month drops its checkpoint; recovery removes stray checkpoint files;
* a damaged checkpoint (a flipped byte, a truncated file, a manifest that is not UTF-8, not JSON
  or of the wrong types) is ignored by readers (the shard alone answers), reported by verify, and
  rebuilt from the shard by the next compaction; a full disk while the manifest is written is
  one line naming it;
* the CLI's plan, report line and options.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import (
    append_bytes,
    assert_matches,
    disk_state,
    oracle,
    run_cli,
    stored_run_ids,
)
from mantis_runs.compaction import CheckpointReport, compact
from mantis_runs.db import arrow_schema
from mantis_runs.demo import WORKFLOWS, synth_runs, write_demo
from mantis_runs.log import checkpoint
from mantis_runs.log.integrity import measure, write_json
from mantis_runs.log.layout import scan
from mantis_runs.stats.engine import stats
from mantis_runs.units import human_bytes
from test_compact import BAD, COMBOS, MALFORMED_SHARDS, SHARD_LINES, same, write_malformed

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # May 2026 is open
EARLY = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # no month of the malformed log is closed yet
DEMO_RUNS = 900
DEMO_WORKFLOWS = [w[0] for w in WORKFLOWS]


def answers(d: Path, workflows: list[str], now: datetime = NOW) -> dict[str, Any]:
    """Every COMBO for every workflow, as the CLI's JSON, skipped lines included."""
    return {f"{wf}#{i}": stats(wf, data_dir=d, now=now, **combo).to_json()
            for wf in workflows for i, combo in enumerate(COMBOS)}


def without_checkpoints(d: Path, tmp: Path) -> Path:
    """A copy of the data dir minus its checkpoints: what readers see from the shards alone."""
    copy = tmp / f"plain-{len(list(tmp.iterdir()))}"
    shutil.copytree(d, copy, ignore=shutil.ignore_patterns("checkpoints"))
    return copy


def plant(d: Path, month: str, row: dict[str, Any]) -> None:
    """Add a row to the month's checkpoint file itself (it is read as is: no shard has it), and
    its new checksum to the manifest (a file that does not match it is not read)."""
    cp = checkpoint.load(d, month)
    assert cp is not None
    path = d / "checkpoints" / cp.parquet
    table = pq.read_table(path)
    extra = pa.Table.from_pylist([row], schema=table.schema)
    pq.write_table(pa.concat_tables([table, extra]), path)
    write_json(checkpoint.manifest_path(d, month),
               dataclasses.replace(cp, parquet_checksum=measure(path)).to_json())


def ghost(wf: str, total: float) -> dict[str, Any]:
    return {"schema_version": 1, "run_id": "ghost", "workflow_id": wf, "status": "succeeded",
            "finished_at": NOW, "total_time_s": total, "wall_time_breakdown": [("think", 1.0)]}


# --------------------------------------------------------------------------------------------
# round trips


def test_demo_live_month_round_trip_and_the_checkpoint_is_read(tmp_path: Path) -> None:
    d = tmp_path / "data"
    write_demo(d, DEMO_RUNS, now=NOW)
    compact(d, now=NOW)  # Feb-Apr to Parquet; May (open) is below the default threshold
    assert not (d / "checkpoints").exists()
    before = answers(d, DEMO_WORKFLOWS)
    may = d / "runs_log" / "2026-05.jsonl"
    may_rows = sum(1 for r in synth_runs(DEMO_RUNS, now=NOW, seed=7)
                   if r["finished_at"].startswith("2026-05"))

    report = compact(d, now=NOW, checkpoint_min_bytes=0)

    assert report.months == []
    (cr,) = report.checkpoints
    size = may.stat().st_size
    assert cr == CheckpointReport(month="2026-05", shard="2026-05.jsonl", offset=size,
                                  bytes_read=size, lines_read=may_rows, bad_lines=0,
                                  rows=may_rows, parquet=cr.parquet)
    assert pq.ParquetFile(d / cr.parquet).metadata.num_rows == may_rows
    assert pq.read_schema(d / cr.parquet).equals(arrow_schema.parquet_schema())
    assert same(answers(d, DEMO_WORKFLOWS), before)
    ids = stored_run_ids(d)
    assert len(ids) == DEMO_RUNS and set(ids.values()) == {1}
    rows = list(synth_runs(DEMO_RUNS, now=NOW, seed=7))
    for wf in DEMO_WORKFLOWS:
        assert_matches(stats(wf, data_dir=d, last=50).to_json(), oracle(rows, wf, last=50))
    # a second run finds nothing new to read
    assert compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints == []

    # The rows really come from the checkpoint: one planted there is the newest run.
    wf = DEMO_WORKFLOWS[0]
    plant(d, "2026-05", ghost(wf, 12345.0))
    assert stats(wf, data_dir=d, last=1).total.p50 == 12345.0
    assert stats(wf, data_dir=d, last=1).total.p50 == 12345.0
    assert stats(wf, data_dir=without_checkpoints(d, tmp_path), last=1).total.p50 != 12345.0


def test_malformed_live_shards_round_trip(tmp_path: Path) -> None:
    d = tmp_path / "data"
    write_malformed(d)
    wfs = ["wa", "wb"]
    before = answers(d, wfs, EARLY)
    assert any(a["skipped_lines"] for a in before.values())

    report = compact(d, now=EARLY, checkpoint_min_bytes=0)

    assert report.months == []  # nothing is closed yet
    live = sorted(n for n in MALFORMED_SHARDS if n.endswith(".jsonl"))
    assert [c.shard for c in report.checkpoints] == live
    for c in report.checkpoints:
        data = MALFORMED_SHARDS[c.shard]
        covered = data[:data.rfind(b"\n") + 1]
        assert c.offset == len(covered)
        # the bad lines of the covered bytes: every BAD line but a last one without a newline
        lines = SHARD_LINES[c.shard]
        bad = [kind for kind in (k for _, k in lines)].count(BAD)
        if not data.endswith(b"\n") and lines[-1][1] == BAD:
            bad -= 1
        assert c.bad_lines == bad, c.shard
    assert same(answers(d, wfs, EARLY), before)  # skipped lines and all
    # the same runs; a checkpoint holds one copy of each run_id in the bytes it covers (the
    # shards repeat some; copies in a sealed shard or a tail remain, as they are in the shards)
    plain, got = stored_run_ids(without_checkpoints(d, tmp_path)), stored_run_ids(d)
    assert set(got) == set(plain) and got != plain
    assert all(got[k] <= plain[k] for k in plain)


# --------------------------------------------------------------------------------------------
# appends after a checkpoint: duplicates across checkpoint and tail, bad lines, torn tails

RUN_IDS = [f"r{i}" for i in range(12)]


def line(run_id: str, minute: int, total: float, status: str, wf: str = "wa",
         month: str = "2026-05") -> bytes:
    row = {"run_id": run_id, "workflow_id": wf, "status": status,
           "finished_at": f"{month}-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:"
                          f"{minute % 60:02d}:00Z",
           "total_time_s": total,
           "wall_time_breakdown": {"think": round(total / 3, 3), "act": round(total / 7, 3)}}
    return json.dumps(row).encode() + b"\n"


batch_strategy = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(RUN_IDS), st.integers(0, 2 * 1440), st.sampled_from(
            ["succeeded", "failed"]), st.sampled_from(["2026-04", "2026-05"])),
        st.sampled_from([b"not json\n", b"\n", b"[1]\n", b'{"workflow_id": "wa"}\n']),
    ),
    min_size=0, max_size=15)


@settings(max_examples=16, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.tuples(batch_strategy, st.booleans()), min_size=1, max_size=4),
       torn=st.booleans())
def test_appends_after_checkpoints_match_numpy(tmp_path: Path, batches: list[Any],
                                               torn: bool) -> None:
    """Rows of April (closed: compacted, then late rows) and May (open: checkpointed, then more
    rows), run_ids repeated within and across months and files: every newest-N answer is numpy's
    and the same as from the shards alone."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    d = root / "data"
    log = d / "runs_log"
    log.mkdir(parents=True)
    rows: list[dict[str, Any]] = []
    total = 1.0
    for items, then_compact in batches:
        data: dict[str, bytes] = {"2026-04": b"", "2026-05": b""}
        for i, item in enumerate(items):
            if isinstance(item, bytes):
                data["2026-05" if i % 2 else "2026-04"] += item
                continue
            run_id, minute, status, month = item
            # a run keeps its workflow: copies that disagree on it are a known limitation
            # (test_compact.py::test_duplicates_that_disagree_on_workflow)
            wf = "wa" if RUN_IDS.index(run_id) < 6 else "wb"
            total += 1.25  # every copy distinct: no ties for dedupe to break
            data[month] += line(run_id, minute, total, status, wf, month=month)
            rows.append(json.loads(line(run_id, minute, total, status, wf, month=month)))
        for month, chunk in data.items():
            if chunk:
                append_bytes(log / f"{month}.jsonl", chunk)
        if then_compact:  # April to Parquet, May checkpointed
            compact(d, now=NOW, checkpoint_min_bytes=0)
    if torn:
        append_bytes(log / "2026-05.jsonl", b'{"run_id": "half')  # a writer killed mid-line

    for wf in ("wa", "wb"):
        for status in ("succeeded", ""):
            for last in (1, 3, 10**6):
                got = stats(wf, data_dir=d, status=status, last=last).to_json()
                assert_matches(got, oracle(rows, wf, status=status, last=last))
                plain = stats(wf, data_dir=without_checkpoints(d, root), status=status,
                              last=last).to_json()
                assert same(got, plain)
    shutil.rmtree(root)


def test_incremental_checkpoint_reads_only_new_bytes(tmp_path: Path) -> None:
    d = tmp_path / "data"
    shard = d / "runs_log" / "2026-05.jsonl"
    first = b"".join(line(f"a{i}", i, 10.0 + i, "succeeded") for i in range(30))
    append_bytes(shard, first)
    (c1,) = compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints
    assert (c1.offset, c1.bytes_read, c1.rows) == (len(first), len(first), 30)
    old_parquet = d / c1.parquet

    # a newer copy of a1 (now failed), a bad line, new runs, and a torn last line
    more = (line("a1", 500, 99.0, "failed") + b"oops\n"
            + b"".join(line(f"b{i}", 600 + i, 50.0 + i, "succeeded") for i in range(5)))
    append_bytes(shard, more + b'{"run_id": "b9')
    (c2,) = compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints
    assert (c2.offset, c2.bytes_read, c2.lines_read, c2.bad_lines, c2.rows) == (
        len(first) + len(more), len(more), 7, 1, 35)
    assert not old_parquet.exists()  # replaced, not kept
    assert disk_state(d, []) == {"clean"}

    result = stats("wa", data_dir=d, last=10**6)
    assert result.run_count == 34  # a1's latest copy failed
    assert result.skipped_lines == {"2026-05.jsonl": 2}  # "oops" and the torn line
    assert same(result.to_json(),
                stats("wa", data_dir=without_checkpoints(d, tmp_path), last=10**6).to_json())
    # below the threshold nothing is rewritten
    assert compact(d, now=NOW, checkpoint_min_bytes=1000).checkpoints == []


# --------------------------------------------------------------------------------------------
# a checkpoint that no longer describes its shard is never used


def checkpointed(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "data"
    shard = d / "runs_log" / "2026-05.jsonl"
    append_bytes(shard, b"".join(line(f"a{i}", i, 10.0 + i, "succeeded") for i in range(40)))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    return d, shard


def replaced_by_a_copy(shard: Path) -> None:
    data = shard.read_bytes().replace(b'"total_time_s": 11.0', b'"total_time_s": 911.0')
    tmp = shard.with_suffix(".new")
    tmp.write_bytes(data)
    os.replace(tmp, shard)  # same size, another inode


def truncated_and_rewritten(shard: Path) -> None:
    size = shard.stat().st_size
    with open(shard, "r+b") as f:
        f.truncate(size // 2)
    data = b"".join(line(f"z{i}", 700 + i, 500.0 + i, "succeeded") for i in range(10))
    append_bytes(shard, data)


def changed_in_place(shard: Path) -> None:
    with open(shard, "r+b") as f:
        data = f.read()
        pos = data.rfind(b'"total_time_s": 49.0')  # the last row: inside the hashed bytes
        assert pos > 0
        f.seek(pos)
        f.write(b'"total_time_s": 99.0')


@pytest.mark.parametrize("change", [replaced_by_a_copy, truncated_and_rewritten,
                                    changed_in_place])
def test_a_stale_checkpoint_is_ignored_and_rebuilt(tmp_path: Path, change: Any) -> None:
    d, shard = checkpointed(tmp_path)
    before = stats("wa", data_dir=d, status="", last=10**6).to_json()
    change(shard)
    after = stats("wa", data_dir=d, status="", last=10**6).to_json()
    assert not same(after, before)  # the change shows: the shard was read, not the checkpoint
    plain = stats("wa", data_dir=without_checkpoints(d, tmp_path), status="",
                  last=10**6).to_json()
    assert same(after, plain)
    (c,) = compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints
    assert c.bytes_read == c.offset == shard.stat().st_size  # from scratch
    assert disk_state(d, []) == {"clean"}
    assert same(stats("wa", data_dir=d, status="", last=10**6).to_json(), plain)


def test_sealing_drops_the_checkpoint_and_recovery_removes_strays(tmp_path: Path) -> None:
    d, _shard = checkpointed(tmp_path)
    folder = d / "checkpoints"
    (folder / "2026-05-00000000deadbeef.parquet").write_bytes(b"PAR1")  # named by no manifest
    (folder / "2026-05.json.inprogress").write_bytes(b'{"mon')
    (folder / "2026-04.json").write_text("{}")  # a month with no live shard
    assert disk_state(d, []) >= {"checkpoint file no manifest names",
                                 "checkpoint manifest in progress"}
    before = stats("wa", data_dir=d, last=10**6).to_json()

    r = compact(d, now=NOW)  # recovery only: May is still open
    assert sorted(r.recovered) == ["checkpoints/2026-04.json",
                                   "checkpoints/2026-05-00000000deadbeef.parquet",
                                   "checkpoints/2026-05.json.inprogress"]
    assert disk_state(d, []) == {"clean"}
    assert same(stats("wa", data_dir=d, last=10**6).to_json(), before)

    later = NOW + timedelta(days=20)  # June 9: May is closed
    r = compact(d, now=later)
    assert [m.month for m in r.months] == ["2026-05"] and r.checkpoints == []
    assert sorted(p.name for p in folder.iterdir()) == []
    assert same(stats("wa", data_dir=d, last=10**6).to_json(), before)


def test_tail_copies_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d, shard = checkpointed(tmp_path)
    append_bytes(shard, line("t1", 900, 5.0, "succeeded"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert stats("wa", data_dir=d, last=1).run_count == 1
    assert list(scratch.iterdir()) == []


# --------------------------------------------------------------------------------------------
# the CLI


def test_cli_plan_report_and_options(tmp_path: Path) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")  # the CLI compacts as of now: this month is open
    d = tmp_path / "data"
    shard = d / "runs_log" / f"{month}.jsonl"
    append_bytes(shard, b"".join(line(f"a{i}", i, 10.0 + i, "succeeded", month=month)
                                 for i in range(40)))
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert (code, err) == (0, "")
    cp = checkpoint.load(d, month)
    assert cp is not None and cp.offset == shard.stat().st_size
    append_bytes(shard, b"".join(line(f"n{i}", 800 + i, 3.0, "failed", month=month)
                                 for i in range(20)))
    size = shard.stat().st_size
    new = size - cp.offset

    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--dry-run",
                             "--checkpoint-min-mb", "0")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{month}: checkpoint {month}.jsonl ({human_bytes(new)} not in its checkpoint)")
    assert checkpoint.load(d, month) == cp  # a dry run changes nothing

    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--dry-run")  # 16 MB
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{month}: leave {month}.jsonl as it is ({human_bytes(new)} not in its checkpoint, "
        "under --checkpoint-min-mb)")
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--no-checkpoint")
    assert (code, err) == (0, "") and "checkpoint" not in out
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d))  # 16 MB threshold
    assert (code, err) == (0, "") and "checkpoint" not in out
    assert checkpoint.load(d, month) == cp

    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{month}: checkpoint of live {month}.jsonl now covers {human_bytes(size)}, 60 rows "
        f"({human_bytes(new)} read this run)")
    assert human_bytes(new).endswith(" kB") and human_bytes(size).endswith(" kB")
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "-1")
    assert code == 2 and "checkpoint-min-mb" in err


# --------------------------------------------------------------------------------------------
# reading Parquet from a cutoff: when the rows after it are not enough


def test_cutoff_rows_superseded_by_newer_copies_fall_back_to_the_rest(tmp_path: Path) -> None:
    """The newest succeeded rows of the Parquet files are all superseded by newer, failed copies
    in another file; the runs that answer --last lie before the cutoff and must still be found."""
    d = tmp_path / "data"
    log = d / "runs_log"
    older = [line(f"o{i}", i, 10.0 + i, "succeeded", month="2026-04") for i in range(20)]
    redone = [line(f"r{i}", 2000 + i, 50.0 + i, "succeeded", month="2026-04") for i in range(8)]
    append_bytes(log / "2026-04.jsonl", b"".join(older + redone))
    # the same 8 runs again in May, failed this time: their latest copies
    again = [line(f"r{i}", i, 90.0 + i, "failed", month="2026-05") for i in range(8)]
    append_bytes(log / "2026-05.jsonl", b"".join(again))
    plain = without_checkpoints(d, tmp_path)  # all JSONL
    compact(d, now=NOW, checkpoint_min_bytes=0)  # April: a part; May: a checkpoint
    assert stats("wa", data_dir=d, last=1).run_count == 1
    rows = [json.loads(x) for x in older + redone + again]

    calls: list[bool] = []
    from mantis_runs.stats.engine import Collector

    real = Collector.enough

    def spy(self: Collector, *args: Any) -> bool:
        calls.append(real(self, *args))
        return calls[-1]

    for last in (1, 3, 5, 19, 20, 25):
        for status in ("succeeded", "failed", ""):
            calls.clear()
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(Collector, "enough", spy)
                got = stats("wa", data_dir=d, last=last, status=status).to_json()
            assert_matches(got, oracle(rows, "wa", last=last, status=status))
            assert same(got, stats("wa", data_dir=plain, last=last, status=status).to_json())
            if status == "succeeded" and last <= 4:
                assert calls == [False], last  # the cutoff fell among the superseded copies


@pytest.mark.parametrize("how", ["refused", "missing", "stops short"])
def test_tail_copied_by_hand_without_copy_file_range(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      how: str) -> None:
    d, shard = checkpointed(tmp_path)
    append_bytes(shard, b"".join(line(f"t{i}", 900 + i, 500.0 + i, "succeeded")
                                 for i in range(5)))
    expected = stats("wa", data_dir=without_checkpoints(d, tmp_path), last=10**6).to_json()

    def refuse(*_args: Any) -> int:
        raise OSError(18, "Invalid cross-device link")

    def nothing(*_args: Any) -> int:
        return 0  # as a filesystem that does not really support it may answer

    if how == "refused":
        monkeypatch.setattr(os, "copy_file_range", refuse)
    elif how == "stops short":
        monkeypatch.setattr(os, "copy_file_range", nothing)
    else:
        monkeypatch.delattr(os, "copy_file_range")
    assert same(stats("wa", data_dir=d, last=10**6).to_json(), expected)
    (c,) = compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints
    assert c.offset == shard.stat().st_size and c.rows == 45
    assert same(stats("wa", data_dir=d, last=10**6).to_json(), expected)


def test_tail_not_copied_means_the_shard_is_read(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A temp dir that is full (or a tail too long to copy) costs speed, never an answer."""
    d, shard = checkpointed(tmp_path)
    append_bytes(shard, b"".join(line(f"t{i}", 900 + i, 500.0 + i, "succeeded")
                                 for i in range(5)) + b"oops\n")
    expected = stats("wa", data_dir=without_checkpoints(d, tmp_path), last=10**6).to_json()
    assert expected["skipped_lines"] == {"2026-05.jsonl": 1}
    import mantis_runs.log.checkpoint as cpmod
    import mantis_runs.stats.sources as query

    def full(*_args: Any) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(cpmod, "copy_range", full)
        assert query.live_reads(d, list(scan(d).values()), tmp_path / "s") == {}
        assert same(stats("wa", data_dir=d, last=10**6).to_json(), expected)
    with monkeypatch.context() as mp:
        mp.setattr(cpmod, "TAIL_COPY_MAX", 10)
        assert query.live_reads(d, list(scan(d).values()), tmp_path / "s") == {}
        assert same(stats("wa", data_dir=d, last=10**6).to_json(), expected)
    assert len(query.live_reads(d, list(scan(d).values()), tmp_path / "s")) == 1
    assert same(stats("wa", data_dir=d, last=10**6).to_json(), expected)


def test_tail_copies_of_killed_readers_are_removed(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from mantis_runs.stats.sources import TAIL_PREFIX

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    left = scratch / f"{TAIL_PREFIX}{dead.stdout.strip()}-abc"  # a reader killed mid-query
    (left / "2026-05.jsonl").parent.mkdir()
    (left / "2026-05.jsonl").write_bytes(b"rows\n")
    mine = scratch / f"{TAIL_PREFIX}{os.getpid()}-xyz"  # a live process's: kept
    mine.mkdir()
    other = scratch / f"{TAIL_PREFIX}not-a-pid"
    other.mkdir()
    d, _ = checkpointed(tmp_path)
    assert stats("wa", data_dir=d, last=1).run_count == 1
    assert sorted(p.name for p in scratch.iterdir()) == sorted([mine.name, other.name])


# --------------------------------------------------------------------------------------------
# a damaged checkpoint is derived data: ignored by readers, rebuilt by the next compaction


def flip_byte(path: Path, pos: int) -> None:
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x10]))


def damage_checkpoint(d: Path, how: str) -> str:
    """Damage May's checkpoint; returns the damaged file's path relative to ``d``."""
    cp = checkpoint.load(d, "2026-05")
    assert cp is not None
    parquet = d / "checkpoints" / cp.parquet
    manifest = checkpoint.manifest_path(d, "2026-05")
    footer = cp.parquet_checksum.footer_bytes
    size = parquet.stat().st_size
    if how == "data page":
        flip_byte(parquet, (size - footer) // 2)
    elif how == "footer":
        flip_byte(parquet, size - footer // 2)
    elif how == "truncated":
        with open(parquet, "r+b") as f:
            f.truncate(size - 10)
    elif how == "manifest garbage":
        manifest.write_bytes(b"this is not a manifest\n")
    elif how == "manifest not UTF-8":
        manifest.write_bytes(b'\xff\xfe{"month": "2026-05"}\n')
    elif how == "manifest cut":
        manifest.write_bytes(manifest.read_bytes()[:100])
    elif how == "manifest types":  # valid JSON: an offset that is text (was a TypeError)
        raw = json.loads(manifest.read_bytes())
        raw["offset"] = str(raw["offset"])
        manifest.write_text(json.dumps(raw))
    elif how == "manifest flipped":  # a digit of the Parquet file's checksum
        data = manifest.read_bytes()
        pos = data.index(cp.parquet_checksum.sha256.encode())
        manifest.write_bytes(data[:pos] + (b"0" if data[pos:pos + 1] != b"0" else b"1")
                             + data[pos + 1:])
        return f"checkpoints/{cp.parquet}"
    return f"checkpoints/{cp.parquet}" if not how.startswith("manifest") else \
        "checkpoints/2026-05.json"


DAMAGES = ["data page", "footer", "truncated", "manifest garbage", "manifest not UTF-8",
           "manifest cut", "manifest types", "manifest flipped"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_checkpoint_is_ignored_and_rebuilt(tmp_path: Path, how: str) -> None:
    d, shard = checkpointed(tmp_path)
    append_bytes(shard, b"".join(line(f"t{i}", 900 + i, 500.0 + i, "succeeded")
                                 for i in range(5)) + b"oops\n")
    plain = without_checkpoints(d, tmp_path)
    expected = [stats(wf, data_dir=plain, status=s, last=n).to_json()
                for wf in ("wa", "wb") for s in ("", "succeeded") for n in (1, 10**6)]
    cp = checkpoint.load(d, "2026-05")
    assert cp is not None
    damaged = damage_checkpoint(d, how)

    # readers: the shard alone, no traceback, no warning beyond the shard's own bad line
    got = [stats(wf, data_dir=d, status=s, last=n).to_json()
           for wf in ("wa", "wb") for s in ("", "succeeded") for n in (1, 10**6)]
    assert same(got, expected)
    code, out, err = run_cli("runs", "stats", "wa", "--status", "", "--json", "--data-dir", str(d))
    assert code == 0 and json.loads(out)["run_count"] == 45
    assert "Traceback" not in err and err.count("\n") == 1  # the skipped "oops" line
    assert live_reads_of(d) == {}

    # verify reports it (derived data: nothing is lost)
    code, out, err = run_cli("runs", "verify", "--data-dir", str(d))
    assert (code, err) == (1, "")
    (found,) = [ln for ln in out.splitlines() if ln.startswith("DAMAGED ")]
    assert found.startswith(f"DAMAGED {damaged}: ")
    assert found.endswith("a checkpoint is derived data: readers ignore it and read the shard, "
                          "and the next compaction removes it and builds a new one")

    # the dry run and the next compaction: from the shard's first byte
    size = shard.stat().st_size
    assert compact(d, now=NOW, dry_run=True, checkpoint_min_bytes=0).plan == [
        f"2026-05: checkpoint 2026-05.jsonl ({human_bytes(size)} not in its checkpoint)"]
    r = compact(d, now=NOW, checkpoint_min_bytes=0)
    assert sorted(r.recovered) == sorted(["checkpoints/2026-05.json",
                                          f"checkpoints/{cp.parquet}"])
    (c,) = r.checkpoints
    assert (c.bytes_read, c.offset, c.rows) == (size, size, 45)
    assert disk_state(d, []) == {"clean"}
    assert len(live_reads_of(d)) == 1  # the new checkpoint is read
    assert same([stats(wf, data_dir=d, status=s, last=n).to_json()
                 for wf in ("wa", "wb") for s in ("", "succeeded") for n in (1, 10**6)],
                expected)
    code, out, err = run_cli("runs", "verify", "--data-dir", str(d))
    assert (code, err) == (0, "") and out.endswith("No damage found.\n")


def live_reads_of(d: Path) -> dict[Path, Any]:
    import mantis_runs.stats.sources as sources

    with tempfile.TemporaryDirectory() as scratch:
        return dict(sources.live_reads(d, list(scan(d).values()), Path(scratch)))


def test_a_checkpoint_of_an_older_format_is_unchecked_not_damaged(tmp_path: Path) -> None:
    d, shard = checkpointed(tmp_path)
    manifest = checkpoint.manifest_path(d, "2026-05")
    raw = json.loads(manifest.read_bytes())
    del raw["parquet_checksum"]
    raw["format"] = 2  # as mantis-runs wrote it before checkpoints had checksums
    manifest.write_text(json.dumps(raw))
    assert checkpoint.load(d, "2026-05") is None and live_reads_of(d) == {}
    code, out, err = run_cli("runs", "verify", "--data-dir", str(d))
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "unchecked checkpoints/2026-05.json: it is in format 2, from an earlier mantis-runs: "
        "readers ignore it and the next compaction replaces it", "No damage found."]
    (c,) = compact(d, now=NOW, checkpoint_min_bytes=0).checkpoints
    assert c.bytes_read == c.offset == shard.stat().st_size


def test_a_flipped_checkpoint_file_is_found_once_written_to(tmp_path: Path) -> None:
    """Readers hash a checkpoint file in full the first time they meet it, and again whenever it
    was written to since: a file that passed is remembered under its change time."""
    d, _shard = checkpointed(tmp_path)
    before = stats("wa", data_dir=d, status="", last=10**6).to_json()
    assert len(live_reads_of(d)) == 1  # checked in full, and remembered
    cp = checkpoint.load(d, "2026-05")
    assert cp is not None
    parquet = d / "checkpoints" / cp.parquet
    saved = parquet.read_bytes()
    flip_byte(parquet, 100)  # a data page: the size and footer still match
    assert live_reads_of(d) == {}
    assert same(stats("wa", data_dir=d, status="", last=10**6).to_json(), before)
    parquet.write_bytes(saved)  # put back: checked again, and used
    assert len(live_reads_of(d)) == 1


def test_a_full_disk_while_the_manifest_is_written_names_it(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")  # the CLI compacts as of now: this month is open
    d = tmp_path / "data"
    shard = d / "runs_log" / f"{month}.jsonl"
    append_bytes(shard, b"".join(line(f"a{i}", i, 10.0 + i, "succeeded", month=month)
                                 for i in range(40)))
    assert run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")[0] == 0
    cp = checkpoint.load(d, month)
    assert cp is not None
    append_bytes(shard, b"".join(line(f"n{i}", 800 + i, 3.0, "failed", month=month)
                                 for i in range(20)))
    expected = stats("wa", data_dir=d, status="", last=10**6).to_json()
    manifest = checkpoint.manifest_path(d, month)
    real_fsync = os.fsync

    def full(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".json.inprogress"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert (code, out) == (1, "")
    assert err == (f"error: writing {manifest} failed: No space left on device; nothing was "
                   "lost: the live shard is intact, readers use the last checkpoint or the "
                   "shard, and the next compaction tries again\n")
    monkeypatch.undo()
    # the last checkpoint is still the one, and nothing was left behind
    assert checkpoint.load(d, month) == cp
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == sorted(
        [f"{month}.json", cp.parquet])
    assert not (d / ".tmp").exists()
    assert len(live_reads_of(d)) == 1
    assert same(stats("wa", data_dir=d, status="", last=10**6).to_json(), expected)
    code, out, err = run_cli("runs", "compact", "--data-dir", str(d), "--checkpoint-min-mb", "0")
    assert (code, err) == (0, "")
    new = checkpoint.load(d, month)
    assert new is not None and new.offset == shard.stat().st_size
    assert same(stats("wa", data_dir=d, status="", last=10**6).to_json(), expected)
