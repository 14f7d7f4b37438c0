"""A data dir that does not exist, or holds no run log, is an error for every reader and for
compaction, naming the folder; it never reads as an empty store. Only the writer creates one.

(It read as an empty store: every command answered "No runs found." with exit 0, and a mistyped
--data-dir or $MANTIS_DATA_DIR looked like a store with no runs. `watch` is the exception by
design, in store/watch.py: it waits for a data dir that the writer has not created yet.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from mantis_runs import RunStore, append_run
from mantis_runs.compaction import compact
from mantis_runs.errors import MantisError, NoRunLog, NotFound
from mantis_runs.stats import stats

ROW = {"run_id": "r1", "workflow_id": "wf", "status": "succeeded",
       "finished_at": "2026-04-02T10:00:00Z", "total_time_s": 3.0,
       "wall_time_breakdown": {"think": 2.0}}

#: Every reading command, and compaction (for a cron job, a missing data dir is a mistake worth
#: an error too), with its dry run.
COMMANDS = [
    ["stats", "wf"], ["stats", "wf", "--json"], ["list"], ["list", "wf", "--json"],
    ["show", "r1"], ["report"], ["report", "--run-id", "r1", "--format", "json"],
    ["sql", "SELECT count(*) FROM runs"], ["compact"], ["compact", "--dry-run"],
]


def missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-dir"


def bare(tmp_path: Path) -> Path:
    d = tmp_path / "not-a-store"
    d.mkdir()
    (d / "notes.txt").write_text("not a run log")
    return d


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_missing_data_dir_is_an_error_naming_it(tmp_path: Path, command: list[str]) -> None:
    d = missing(tmp_path)
    code, out, err = run_cli("runs", *command, "--data-dir", str(d))
    assert (code, out) == (1, "")
    assert err == f"error: data dir {d} does not exist\n"
    assert listing(tmp_path) == []  # nothing created


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_folder_without_a_run_log_is_an_error_naming_it(tmp_path: Path,
                                                          command: list[str]) -> None:
    d = bare(tmp_path)
    code, out, err = run_cli("runs", *command, "--data-dir", str(d))
    assert (code, out) == (1, "")
    assert err == (f"error: data dir {d} holds no run log (no runs_log/ or compacted/ folder "
                   "in it)\n")
    assert listing(tmp_path) == ["not-a-store", "not-a-store/notes.txt"]  # nothing created


def test_a_mistyped_mantis_data_dir_is_named(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_rows(tmp_path / "data", [ROW])
    monkeypatch.setenv("MANTIS_DATA_DIR", str(tmp_path / "dta"))
    assert run_cli("runs", "list") == (1, "", f"error: data dir {tmp_path / 'dta'} does not "
                                              "exist\n")
    monkeypatch.setenv("MANTIS_DATA_DIR", str(tmp_path / "data"))
    code, out, _ = run_cli("runs", "list", "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == ["r1"]


READS: list[tuple[str, Callable[[Path], Any]]] = [
    ("runs", lambda d: RunStore(d).runs()),
    ("latest", lambda d: RunStore(d).latest()),
    ("get", lambda d: RunStore(d).get("r1")),
    ("report", lambda d: RunStore(d).report()),
    ("stats", lambda d: RunStore(d).stats("wf")),
    ("sql", lambda d: RunStore(d).sql("SELECT 1")),
    ("connect", lambda d: RunStore(d).connect()),
    ("workflows", lambda d: RunStore(d).workflows()),
    ("stats()", lambda d: stats("wf", data_dir=d)),
    ("compact()", lambda d: compact(d)),
    ("compact(dry_run)", lambda d: compact(d, dry_run=True)),
]


@pytest.mark.parametrize(("name", "read"), READS, ids=[n for n, _ in READS])
def test_the_python_api_raises_no_run_log(tmp_path: Path, name: str,
                                          read: Callable[[Path], Any]) -> None:
    d = missing(tmp_path)
    store = RunStore(d)  # making a store reads nothing yet: not an error
    assert store.data_dir == d
    with pytest.raises(NoRunLog, match=rf"^data dir {d} does not exist$") as exc:
        read(d)
    assert isinstance(exc.value, NotFound) and isinstance(exc.value, MantisError)
    b = bare(tmp_path)
    with pytest.raises(NoRunLog, match=r"holds no run log \(no runs_log/ or compacted/"):
        read(b)
    assert listing(tmp_path) == ["not-a-store", "not-a-store/notes.txt"]


def test_the_writer_still_creates_a_new_data_dir(tmp_path: Path) -> None:
    d = tmp_path / "new" / "data"
    assert append_run(ROW, data_dir=d) is True
    assert [r["run_id"] for r in RunStore(d).runs()] == ["r1"]
    assert stats("wf", data_dir=d).run_count == 1


def test_a_store_with_no_runs_yet_is_not_an_error(tmp_path: Path) -> None:
    # runs_log/ exists (the writer made it) but holds no shard yet: an empty store
    (tmp_path / "runs_log").mkdir()
    assert run_cli("runs", "list", "--data-dir", str(tmp_path)) == (0, "No runs found.\n", "")
    assert RunStore(tmp_path).runs() == []
    report = compact(tmp_path, now=datetime(2026, 5, 20, tzinfo=UTC))
    assert report.months == []
    # and so is one that holds only compacted parts
    d = tmp_path / "parts-only"
    write_rows(d, [ROW])
    compact(d, now=datetime(2026, 5, 20, tzinfo=UTC))
    for shard in (d / "runs_log").iterdir():
        shard.unlink()
    (d / "runs_log").rmdir()
    assert [r["run_id"] for r in RunStore(d).runs()] == ["r1"]


def test_demo_creates_its_data_dir(tmp_path: Path) -> None:
    d = tmp_path / "fresh" / "demo"
    code, out, err = run_cli("runs", "demo", "--data-dir", str(d), "--runs", "30")
    assert code == 0, err
    assert out.startswith("Wrote 30 runs of ")
    assert (d / "runs_log").is_dir()
