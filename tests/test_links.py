"""Symbolic links in a data dir, on real files, real DuckDB and the real CLI.

The policy (docs/storage-format.md, "What the data dir accepts"): the data dir itself may be a
link; nothing mantis manages inside it may be one. Readers, compaction and the writer refuse such
a link with one line naming it, and nothing is read, written or deleted behind it. Each test here
failed before that policy: readers skipped a linked month (15 runs became 5), compaction wrote a
second generation-1 part behind the link, deleted files outside the data dir and left copies of
rows there, and the writer appended through a linked runs_log/.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli
from mantis_runs import append_run
from mantis_runs.compaction import compact
from mantis_runs.log.layout import LinkRefused, scan
from mantis_runs.store.runstore import RunStore

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # October and November 2026 are closed


def row(run_id: str, finished_at: str) -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": "wf", "status": "succeeded", "total_time_s": 2.0,
            "finished_at": finished_at}


def history(d: Path) -> None:
    """10 runs in October, 5 in November, 3 in December (the live month)."""
    for i in range(10):
        assert append_run(row(f"oct-{i}", f"2026-10-{i + 1:02d}T00:00:00Z"), d)
    for i in range(5):
        assert append_run(row(f"nov-{i}", f"2026-11-{i + 1:02d}T00:00:00Z"), d)
    for i in range(3):
        assert append_run(row(f"dec-{i}", f"2026-12-{i + 1:02d}T00:00:00Z"), d)


def refused(link: Path) -> str:
    return (f"{link} is a symbolic link to {os.readlink(link)}; mantis follows no links inside "
            "a data dir: move what it points to back in its place, or move the whole data dir "
            "instead (the data dir itself may be a link or a mount point)")


def move_behind_link(d: Path, name: str, elsewhere: Path) -> Path:
    """What the operator did: move ``d/name`` to ``elsewhere`` and link it back."""
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(d / name, elsewhere)
    (d / name).symlink_to(elsewhere)
    return d / name


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file (its bytes), folder and link under ``root``, without following links."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            key = str(p.relative_to(root))
            if p.is_symlink():
                out[key] = f"-> {os.readlink(p)}"
            elif p.is_dir():
                out[key] = "dir"
            else:
                out[key] = p.read_bytes()
    return out


def run_ids(d: Path) -> list[str]:
    return sorted(r["run_id"] for r in RunStore(d).runs(last=1000))


def assert_every_command_refuses(d: Path, message: str) -> None:
    """Readers (library and CLI) and compaction (and its dry run) all stop with ``message``."""
    with pytest.raises(LinkRefused) as caught:
        RunStore(d).runs(last=100)
    assert str(caught.value) == message
    with pytest.raises(LinkRefused) as caught:
        compact(d, now=NOW)
    assert str(caught.value) == message
    expected = (1, "", f"error: {message}\n")
    assert run_cli("runs", "list", "--data-dir", str(d)) == expected
    assert run_cli("runs", "stats", "wf", "--data-dir", str(d)) == expected
    assert run_cli("runs", "show", "oct-1", "--data-dir", str(d)) == expected
    assert run_cli("runs", "sql", "SELECT count(*) FROM runs", "--data-dir", str(d)) == expected
    assert run_cli("runs", "compact", "--dry-run", "--data-dir", str(d)) == expected
    assert run_cli("runs", "compact", "--data-dir", str(d)) == expected


# --------------------------------------------------------------------------------------------
# the story: a month folder moved to another disk and linked back


def test_a_linked_month_folder_is_refused_and_no_row_is_lost(tmp_path: Path) -> None:
    d, disk2 = tmp_path / "data", tmp_path / "disk2"
    history(d)
    compact(d, now=NOW)
    assert len(run_ids(d)) == 18
    link = move_behind_link(d, "compacted/2026-10", disk2 / "2026-10")
    behind = tree(disk2)

    # Readers used to skip the month without a word (18 runs became 8).
    assert_every_command_refuses(d, refused(link))
    assert run_cli("runs", "views", "--data-dir", str(d)) == (1, "", f"error: {refused(link)}\n")

    # A late row is still accepted (runs_log/ is real); compaction used to make a second
    # generation-1 part behind the link, one of which a later compaction deleted.
    assert append_run(row("oct-late", "2026-10-31T23:00:00Z"), d)
    with pytest.raises(LinkRefused):
        compact(d, now=NOW)
    assert tree(disk2) == behind
    assert [p.name for p in (d / "runs_log").iterdir() if p.name.startswith("2026-10")] == [
        "2026-10.jsonl"]

    # The operator puts the folder back: every acknowledged row is there, before and after
    # compaction.
    link.unlink()
    shutil.move(disk2 / "2026-10", link)
    expected = sorted([f"oct-{i}" for i in range(10)] + ["oct-late"]
                      + [f"nov-{i}" for i in range(5)] + [f"dec-{i}" for i in range(3)])
    assert run_ids(d) == expected
    compact(d, now=NOW)
    assert run_ids(d) == expected
    parts = scan(d)["2026-10"].parts
    assert [p.name[:len("part-000002")] for p in parts] == ["part-000002"]
    assert not list(disk2.iterdir())


def test_a_linked_data_dir_is_fine(tmp_path: Path) -> None:
    """The data dir itself may be a link (or a mount point): everything is done in its target."""
    real = tmp_path / "disk2" / "mantis"
    real.mkdir(parents=True)
    d = tmp_path / "data"
    d.symlink_to(real)
    history(d)
    report = compact(d, now=NOW)
    assert [m.month for m in report.months] == ["2026-10", "2026-11"]
    assert len(run_ids(d)) == 18
    assert run_cli("runs", "list", "--data-dir", str(d))[0] == 0
    assert sorted(p.name for p in (real / "compacted").iterdir()) == ["2026-10", "2026-11"]
    assert d.is_symlink()


def test_links_mantis_does_not_manage_are_ignored(tmp_path: Path) -> None:
    d = tmp_path / "data"
    history(d)
    (tmp_path / "notes.txt").write_text("mine")
    (d / "README").symlink_to(tmp_path / "notes.txt")
    compact(d, now=NOW)
    assert len(run_ids(d)) == 18
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------------------------
# linked folders: nothing deleted, written or left behind outside the data dir


def test_a_linked_runs_log_is_refused_by_everyone(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    d, disk2 = tmp_path / "data", tmp_path / "disk2"
    history(d)
    link = move_behind_link(d, "runs_log", disk2 / "runs_log")
    behind = tree(disk2)
    # Compaction used to seal, absorb and delete the shards behind the link.
    assert_every_command_refuses(d, refused(link))

    caplog.set_level(logging.WARNING, logger="mantis_runs")
    assert append_run(row("dec-late", "2026-12-04T00:00:00Z"), d) is False
    msgs = [r.getMessage() for r in caplog.records if r.name == "mantis_runs"]
    assert len(msgs) == 1 and "dec-late" in msgs[0], msgs
    assert msgs[0].endswith(f"not recorded: LinkRefused: {refused(link)}")
    assert tree(disk2) == behind


def test_the_writer_refuses_a_runs_log_linked_while_it_had_it_open(tmp_path: Path) -> None:
    """A writer keeps its descriptors between appends; a runs_log/ moved (same inode) and linked
    back is still refused at the next append."""
    d = tmp_path / "data"
    assert append_run(row("dec-0", "2026-12-01T00:00:00Z"), d)
    os.rename(d / "runs_log", tmp_path / "moved")
    (d / "runs_log").symlink_to(tmp_path / "moved")
    before = (tmp_path / "moved" / "2026-12.jsonl").read_bytes()
    assert append_run(row("dec-1", "2026-12-02T00:00:00Z"), d) is False
    assert (tmp_path / "moved" / "2026-12.jsonl").read_bytes() == before
    (d / "runs_log").unlink()
    os.rename(tmp_path / "moved", d / "runs_log")
    assert append_run(row("dec-2", "2026-12-03T00:00:00Z"), d)
    assert run_ids(d) == ["dec-0", "dec-2"]


@pytest.mark.parametrize("dangling", [False, True])
def test_the_writer_creates_nothing_behind_a_linked_runs_log(tmp_path: Path,
                                                             dangling: bool) -> None:
    d, target = tmp_path / "data", tmp_path / "elsewhere"
    d.mkdir()
    if not dangling:
        target.mkdir()
    (d / "runs_log").symlink_to(target)
    assert append_run(row("dec-0", "2026-12-01T00:00:00Z"), d) is False
    assert (list(target.iterdir()) if target.exists() else None) == ([] if not dangling else None)


def test_a_linked_checkpoints_folder_is_refused(tmp_path: Path) -> None:
    d, disk2 = tmp_path / "data", tmp_path / "disk2"
    history(d)
    compact(d, now=NOW, checkpoint_min_bytes=1)  # checkpoints December, the live month
    assert sorted(p.suffix for p in (d / "checkpoints").iterdir()) == [".json", ".parquet"]
    link = move_behind_link(d, "checkpoints", disk2 / "checkpoints")
    (disk2 / "checkpoints" / "2026-12-00000000deadbeef.parquet").write_bytes(b"not mantis's")
    behind = tree(disk2)
    # stats read the checkpoint behind the link; compaction deleted the file it did not name.
    assert_every_command_refuses(d, refused(link))
    assert tree(disk2) == behind


def test_a_linked_scratch_folder_is_refused(tmp_path: Path) -> None:
    d, scratch = tmp_path / "data", tmp_path / "scratch"
    history(d)
    scratch.mkdir()
    (scratch / "keep.txt").write_text("someone else's")
    (d / ".tmp").symlink_to(scratch)
    # Compaction wrote its parts, copies of rows and DuckDB's spill there, and left them.
    with pytest.raises(LinkRefused) as caught:
        compact(d, now=NOW, checkpoint_min_bytes=1)
    assert str(caught.value) == refused(d / ".tmp")
    assert tree(scratch) == {"keep.txt": b"someone else's"}
    assert sorted(p.name for p in (d / "runs_log").iterdir()) == [
        ".lock", "2026-10.jsonl", "2026-11.jsonl", "2026-12.jsonl"]


@pytest.mark.parametrize("name", ["quarantine", "quarantine/2026-10"])
def test_a_linked_quarantine_folder_is_refused(tmp_path: Path, name: str) -> None:
    d, disk2 = tmp_path / "data", tmp_path / "disk2"
    history(d)
    with open(d / "runs_log" / "2026-10.jsonl", "ab") as f:
        f.write(b"not json\n")
    (disk2 / "q").mkdir(parents=True)
    (d / name).parent.mkdir(exist_ok=True)
    (d / name).symlink_to(disk2 / "q")
    assert_every_command_refuses(d, refused(d / name))
    assert tree(disk2) == {"q": "dir"}


# --------------------------------------------------------------------------------------------
# linked files


@pytest.mark.parametrize("name", [".publish.lock", ".publish.intent", ".compact.lock",
                                  "runs_log/.lock"])
def test_a_linked_lock_file_is_refused(tmp_path: Path, name: str) -> None:
    d = tmp_path / "data"
    history(d)
    compact(d, now=NOW)
    victim = tmp_path / "victim"
    victim.write_bytes(b"v")
    (d / name).unlink()
    (d / name).symlink_to(victim)
    assert_every_command_refuses(d, refused(d / name))
    assert victim.read_bytes() == b"v"


def test_linked_shards_and_parts_are_refused_not_skipped(tmp_path: Path) -> None:
    d = tmp_path / "data"
    history(d)
    compact(d, now=NOW)
    (part,) = scan(d)["2026-11"].parts
    os.rename(part, tmp_path / part.name)
    part.symlink_to(tmp_path / part.name)
    assert_every_command_refuses(d, refused(part))
    part.unlink()
    os.rename(tmp_path / part.name, part)

    live = d / "runs_log" / "2026-12.jsonl"
    os.rename(live, tmp_path / live.name)
    live.symlink_to(tmp_path / live.name)
    with pytest.raises(LinkRefused) as caught:
        RunStore(d).runs(last=100)
    assert str(caught.value) == refused(live)
    assert run_cli("runs", "views", "--data-dir", str(d)) == (1, "", f"error: {refused(live)}\n")


# --------------------------------------------------------------------------------------------
# each step of compaction checks again, under its lock, right before it deletes or writes (a
# link can appear after compact() looked)


def test_recovery_seal_and_publish_each_refuse_a_link(tmp_path: Path) -> None:
    from mantis_runs.compaction.publish import publish_part
    from mantis_runs.compaction.recover import recover
    from mantis_runs.compaction.seal import seal

    d, disk2 = tmp_path / "data", tmp_path / "disk2"
    history(d)
    disk2.mkdir()
    (disk2 / "keep.txt").write_text("someone else's")

    (d / ".tmp").symlink_to(disk2)
    with pytest.raises(LinkRefused):
        recover(d)
    (d / ".tmp").unlink()

    live = d / "runs_log" / "2026-10.jsonl"
    os.rename(live, disk2 / live.name)
    live.symlink_to(disk2 / live.name)
    with pytest.raises(LinkRefused):
        seal(d, "2026-10")
    assert sorted(p.name for p in (d / "runs_log").iterdir()) == [
        ".lock", "2026-10.jsonl", "2026-11.jsonl", "2026-12.jsonl"]
    live.unlink()
    os.rename(disk2 / live.name, live)

    sealed = seal(d, "2026-10")
    assert sealed is not None
    tmp = d / "part.inprogress"
    tmp.write_bytes(b"a part")
    (d / "compacted").mkdir()
    (d / "compacted" / "2026-10").symlink_to(disk2)
    final = d / "compacted" / "2026-10" / "part-000001-0123456789abcdef.parquet"
    with pytest.raises(LinkRefused):
        publish_part(d, tmp, final, sealed)
    assert tmp.read_bytes() == b"a part" and sealed.exists()
    assert tree(disk2) == {"keep.txt": b"someone else's"}
