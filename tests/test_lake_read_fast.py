"""The short ways of a lake read (issue 12): the tables' logs read on helper threads while
DuckDB is imported (lake/read.py ``open_sources``), and a local table's ``mantis_lake`` view
over the months read only (db/lake_source.py ``ready``). The answers must stay the Arrow
dataset's, the shipped data dir's and the numpy oracle's, and a failure the same one line."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import assert_matches, oracle, run_cli, write_rows
from lake_s3 import require_lake
from test_lake_read import rows

require_lake()

#: Six months of runs, the newest month holding only a few (the default read takes more than
#: its first batch).
START = datetime(2026, 1, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("lake-fast")
    data = root / "dir"
    written = [*rows(330, "a", START, timedelta(hours=12)),
               *rows(6, "z", datetime(2026, 7, 2, tzinfo=UTC))]
    write_rows(data, written)
    table = root / "table"
    assert run_cli("runs", "lake", "init", str(table)).code == 0
    done = run_cli("runs", "ship", "--to", str(table), "--data-dir", str(data),
                   "--host-id", "host-0")
    assert done.code == 0, done.err
    return {"table": table, "data": data, "rows": written}


def _open(*tables: Path) -> list[Any]:
    from mantis_runs.lake.read import open_sources
    from mantis_runs.lake.storage import target

    return open_sources([target(f"file://{t}") for t in tables])


def test_opening_the_lake_does_not_import_duckdb(tmp_path: Path) -> None:
    """What lets the logs be read while DuckDB is imported: lake.read imports neither; and
    several local data dirs (no lake) never import deltalake."""
    code = ("import sys, mantis_runs.lake.read; "
            "print(sorted(m for m in ('duckdb', 'pyarrow', 'deltalake') if m in sys.modules)); "
            "from mantis_runs.cli.lake import read_sources; "
            "print(read_sources((sys.argv[1], sys.argv[2])).label, 'deltalake' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a"), str(tmp_path / "b")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", f"{tmp_path}/a, {tmp_path}/b False"]


def test_sources_opened_together_are_each_opened_alone(lake: dict[str, Any]) -> None:
    from mantis_runs.lake.read import open_source
    from mantis_runs.lake.storage import target

    alone = open_source(target(f"file://{lake['table']}"))
    both = _open(lake["table"], lake["table"])
    assert [s.months for s in both] == [alone.months, alone.months]
    assert [s.files for s in both] == [alone.files, alone.files]
    assert sorted(str(m.month) for m in alone.months) == [f"2026-0{m}" for m in range(1, 8)]


def test_a_table_that_fails_is_its_one_line_and_no_thread_is_left(
        lake: dict[str, Any], tmp_path: Path) -> None:
    from mantis_runs.lake.storage import NoLake

    before = threading.active_count()
    with pytest.raises(NoLake, match=f"no lake table at file://{tmp_path}/none: create it"):
        _open(lake["table"], tmp_path / "none", lake["table"])
    assert threading.active_count() == before
    got = run_cli("runs", "stats", "wf-0", "--data-dir", f"file://{lake['table']}",
                  "--data-dir", f"file://{tmp_path}/none")
    assert (got.code, got.out) == (1, "")
    assert got.err == (f"error: no lake table at file://{tmp_path}/none: create it once with "
                       f"`mantis runs lake init file://{tmp_path}/none`\n")


def test_the_object_store_is_made_only_to_copy_a_file(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote table's store (deltalake's file system handler) is made when a file is first
    copied: a later read whose copies are all kept never makes one."""
    import deltalake._internal

    from mantis_runs.errors import MantisError
    from mantis_runs.lake.fetch import remote_files
    from mantis_runs.lake.read import read_log
    from mantis_runs.lake.storage import target
    from mantis_runs.lake.table import data_files

    made: list[str] = []

    class Handler:  # the table's files, served from the local copy of the table
        def __init__(self, uri: str, options: Any, sizes: dict[str, int]) -> None:
            made.append(uri)

        def open_input_file(self, path: str) -> Any:
            return open(lake["table"] / path, "rb")  # closed by the fetcher

    monkeypatch.setattr(deltalake._internal, "DeltaFileSystemHandler", Handler)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    log = read_log(target(f"file://{lake['table']}"))
    files = data_files(log.actions)

    def fetched(months: list[str | None]) -> dict[str | None, list[str]]:
        fetch = remote_files(target("s3://lake/fast"), "s3://lake/fast", log.actions, files,
                             MantisError)
        assert fetch is not None
        return fetch(months)

    assert made == []
    first = fetched(["2026-07", "2026-06"])
    assert made == ["s3://lake/fast"]  # one store for every copy made
    assert [Path(p).read_bytes() for p in first["2026-06"]] == [
        (lake["table"] / p).read_bytes() for p in files["2026-06"]]
    assert fetched(["2026-07", "2026-06"]) == first and made == ["s3://lake/fast"]
    assert fetched(["2026-05"]) != first and made == ["s3://lake/fast"] * 2


def _months_in_view(con: Any) -> list[str | None]:
    return sorted(r[0] for r in con.execute(
        "SELECT DISTINCT month FROM mantis_lake").fetchall())


def test_the_view_covers_the_months_read_then_every_month(lake: dict[str, Any]) -> None:
    import duckdb

    from mantis_runs.db.lake_source import ready, register

    (src,) = _open(lake["table"])
    con = duckdb.connect()
    register(con, src)
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = "
                       "'mantis_lake'").fetchall() == [(0,)]  # ready makes it, for the months read
    ready(con, src, ["2026-07"])
    assert _months_in_view(con) == ["2026-07"]
    ready(con, src, ["2026-07"])  # nothing new: the same view
    ready(con, src, ["2026-06", "2026-05"])
    assert _months_in_view(con) == ["2026-05", "2026-06", "2026-07"]  # 3 of 7: still few
    ready(con, src, ["2026-04"])
    assert _months_in_view(con) == [f"2026-0{m}" for m in range(1, 8)]  # past half: all
    (other,) = _open(lake["table"])
    register(con, replace(other, files={"2026-01": other.files["2026-01"]}))
    ready(con, src, ["2026-02"])  # a new registration starts a new view
    assert _months_in_view(con) == ["2026-02"]
    con.close()


@pytest.mark.parametrize(("wf", "flags"), [
    ("wf-0", {}), ("wf-2", {}), ("wf-1", {"last": 140}), ("wf-0", {"last": 10**6, "status": None}),
    ("wf-2", {"last": 30, "since": datetime(2026, 5, 1, tzinfo=UTC)})])
def test_the_answers_are_the_datasets_the_dirs_and_the_oracles(
        lake: dict[str, Any], wf: str, flags: dict[str, Any]) -> None:
    from mantis_runs.stats import stats

    (src,) = _open(lake["table"])
    arrow = replace(src, files=None)  # read through deltalake's Arrow dataset
    got = stats(wf, data_dir=src, **flags).to_json()
    assert got == stats(wf, data_dir=arrow, **flags).to_json()
    assert got == stats(wf, data_dir=lake["data"], **flags).to_json()
    assert_matches(got, oracle(lake["rows"], wf, **flags))


def test_a_lake_and_a_local_dir_read_together_by_the_command(lake: dict[str, Any]) -> None:
    """Mixed ``--data-dir`` values: the lake opened beside the local dir, the answer the
    local dir's (the lake holds the same runs)."""
    args = ("runs", "stats", "wf-1", "--json", "--last", "50")
    mixed = run_cli(*args, "--data-dir", str(lake["data"]), "--data-dir",
                    f"file://{lake['table']}")
    alone = run_cli(*args, "--data-dir", str(lake["data"]))
    assert (mixed.code, mixed.err) == (0, "")
    assert mixed.out == alone.out


@pytest.mark.parametrize("args", [
    ["list", "--last", "3"], ["report", "--latest"], ["sql", "SELECT count(*) FROM runs"],
    ["show", "LAST"], ["watch", "LAST", "--timeout", "1"]], ids=" ".join)
def test_every_reader_of_a_lake_in_a_new_process(lake: dict[str, Any], args: list[str]) -> None:
    """In a new process, where nothing imported duckdb's Python layer before (db/engine.py: the
    lake's Arrow dataset is scanned only through it), the commands that read through the views
    answer over the lake as over the data dir the lake was shipped from."""
    newest = max(lake["rows"], key=lambda r: (r["finished_at"], r["run_id"]))["run_id"]
    args = [newest if a == "LAST" else a for a in args]

    def run(data_dir: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mantis_runs", "runs", *args,
                               "--data-dir", data_dir], capture_output=True, text=True,
                              timeout=120)

    over_lake, over_dir = run(f"file://{lake['table']}"), run(str(lake["data"]))
    assert over_dir.stdout + over_dir.stderr != ""
    assert (over_lake.returncode, over_lake.stdout, over_lake.stderr) == (
        over_dir.returncode, over_dir.stdout, over_dir.stderr)
