"""A lake table on a local filesystem (``file://``) is read by DuckDB from the files the Delta log
lists (db/lake_source.py ``local_view``), and a whole history over it is read in place when no
run of the window has a second copy (stats/lake_steps.py ``lake_whole``). Each answer must be
the Arrow dataset's (the general reader of a lake), the shipped data dirs' and the numpy
oracle's: late rows, a run shipped by two hosts, copies that win or lose, a file whose
statistics are missing. No S3 server here: tests/test_lake_read.py covers S3."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import assert_matches, oracle, run_cli, write_rows
from lake_s3 import require_lake
from test_lake_read import START, later, rows

require_lake()


def _ship(table: Path, *dirs: Path) -> None:
    assert run_cli("runs", "lake", "init", str(table)).code == 0
    for i, d in enumerate(dirs):
        done = run_cli("runs", "ship", "--to", str(table), "--data-dir", str(d),
                       "--host-id", f"host-{i}")
        assert done.code == 0, done.err


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``hostile``: two data dirs shipped, with a later copy that wins (shipped late, into a
    month that already has a file), an earlier copy that loses, a copy under another workflow,
    and one run shipped unchanged by both hosts; ``clean``: one data dir, no run twice."""
    root = tmp_path_factory.mktemp("lake-local")
    a, b, solo = root / "a", root / "b", root / "solo"
    ra = rows(120, "a", START)
    rb = [*rows(40, "b", START + timedelta(days=20)),
          later(ra[3], 45, total_time_s=99.0), later(ra[10], -3, total_time_s=0.1),
          later(ra[21], 30, workflow_id="wf-9"), ra[5]]
    write_rows(a, ra)
    write_rows(b, rb)
    write_rows(solo, ra)  # a ship/ folder belongs to one table: the same runs, another dir
    _ship(root / "hostile", a, b)
    _ship(root / "clean", solo)
    return {"root": root, "a": a, "b": b, "solo": solo, "rows_a": ra, "rows_ab": ra + rb}


def _source(table: Path) -> Any:
    from mantis_runs.lake.read import open_source
    from mantis_runs.lake.storage import target

    return open_source(target(f"file://{table}"))


FLAGS: list[dict[str, Any]] = [
    {}, {"last": 7}, {"last": 10**6, "status": None},
    {"last": 10**6, "since": START + timedelta(days=30), "buckets": ["act"]},
]


def _answers(src: Any, dirs: list[Path], everything: list[dict[str, Any]],
             workflows: tuple[str, ...] = ("wf-0", "wf-9")) -> None:
    """stats over the local table = over its Arrow dataset = over the dirs = the oracle."""
    from mantis_runs.stats import stats

    assert src.files  # read by DuckDB from the listed files
    arrow = replace(src, files=None)
    for flags in FLAGS:
        for wf in workflows:
            got = stats(wf, data_dir=src, **flags).to_json()
            assert got == stats(wf, data_dir=arrow, **flags).to_json(), (wf, flags)
            assert got == {**stats(wf, data_dir=dirs, **flags).to_json(),
                           "skipped_lines": {}}, (wf, flags)
            assert_matches(got, oracle(everything, wf, **flags))


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each whole-history try over the lake's files was read in place."""
    from mantis_runs.stats import lake_steps

    seen: list[bool] = []
    real = lake_steps.whole_history
    monkeypatch.setattr(lake_steps, "whole_history",  # append returns None: `or` gives found
                        lambda *a, **k: seen.append((found := real(*a, **k)) is not None) or found)
    return seen


def test_hostile_copies_read_from_the_files_as_from_the_dataset(
        lake: dict[str, Any], spy: list[bool]) -> None:
    src = _source(lake["root"] / "hostile")
    assert sum(len(v) for v in src.files.values()) >= 4  # late rows: months with two files
    _answers(src, [lake["a"], lake["b"]], lake["rows_ab"])
    # whole histories (--last 10**6) are tried in place: refused while runs of the window
    # repeat; read in place since a day after every repeated run's older copy (whose months
    # are not read: in-window copies beat them), for wf-0 and wf-9 alike
    assert spy == [False, False, True, True]


def test_a_clean_table_is_read_in_place_with_the_same_answers(
        lake: dict[str, Any], spy: list[bool]) -> None:
    src = _source(lake["root"] / "clean")
    _answers(src, [lake["solo"]], lake["rows_a"], ("wf-0", "wf-1"))
    assert spy and all(spy)


def test_a_file_without_statistics(lake: dict[str, Any], tmp_path: Path) -> None:
    """Add actions without ``stats`` (another writer may leave them out): the month's bound is
    its end, and every answer stays the same."""
    table = tmp_path / "nostats"
    shutil.copytree(lake["root"] / "hostile", table)
    log = table / "_delta_log"
    for extra in [*log.glob("*.checkpoint*.parquet"), log / "_last_checkpoint"]:
        extra.unlink(missing_ok=True)
    stripped = 0
    for commit in sorted(log.glob("*.json"))[-2:]:  # the second host's batch
        lines = []
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action and action["add"].pop("stats", None) is not None:
                stripped += 1
            lines.append(json.dumps(action))
        commit.write_text("\n".join(lines) + "\n")
    assert stripped
    src = _source(table)
    ends = {m.month: m.latest for m in src.months}
    assert any(t is not None and t.day == 1 and t.hour == 0 for t in ends.values()), ends
    _answers(src, [lake["a"], lake["b"]], lake["rows_ab"], ("wf-0",))


def test_the_views_read_a_local_table(lake: dict[str, Any]) -> None:
    """RunStore's connection is locked down (it reads no file the snapshot does not name):
    its views read a local table through the Arrow dataset, not the files."""
    from mantis_runs import RunStore

    src = _source(lake["root"] / "hostile")
    ours, arrow = RunStore(src), RunStore(replace(src, files=None))
    assert ours.runs("wf-0", last=15) == arrow.runs("wf-0", last=15)
    assert ours.get("a-0003") == arrow.get("a-0003") == RunStore(
        [lake["a"], lake["b"]]).get("a-0003")
    q = ("SELECT month, host_id, count(*) AS n FROM mantis_lake GROUP BY ALL ORDER BY ALL")
    assert ours.sql(q).to_pylist() == arrow.sql(q).to_pylist()


@pytest.mark.parametrize("args", [
    ("compact",), ("verify",), ("shell",), ("views",), ("events",), ("status", "a-0001"),
])
def test_commands_that_work_on_one_data_dir_refuse_a_lake_in_one_line(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        args: tuple[str, ...]) -> None:
    """No usage text, no traceback, never the URI (it may hold credentials): one line, exit 2,
    and nothing read or written."""
    monkeypatch.chdir(tmp_path)
    for uri in (f"file://{lake['root'] / 'hostile'}", "s3://KEYID:s3cr3t@bucket/runs"):
        done = run_cli("runs", *args, "--data-dir", uri)
        assert done.code == 2 and done.out == "", (args, done)
        command = " ".join(args[:1])
        assert done.err.splitlines() == [
            f"error: {uri.split('://')[0]}://... is a lake URI: `{command}` works on one "
            "local data dir (stats, compare, list, show, report, sql, trend, tail, failures, "
            "advise, watch and dashboard read lakes)"]
    assert list(tmp_path.iterdir()) == []


def test_events_are_never_read_from_another_store_than_the_lake_named(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With only a lake given, a default data dir that has events is not read in its place:
    run_events is empty, and --running/--lost say in one line that a lake has no events."""
    from mantis_runs import append_event

    home = tmp_path / "home"
    assert append_event("x-1", "run_started", data_dir=home)
    monkeypatch.setenv("MANTIS_DATA_DIR", str(home))
    uri = f"file://{lake['root'] / 'hostile'}"
    done = run_cli("runs", "sql", "SELECT count(*) AS n FROM run_events", "--data-dir", uri,
                   "--format", "json")
    assert (done.code, json.loads(done.out)) == (0, [{"n": 0}]), done.err
    for flag in ("--running", "--lost"):
        done = run_cli("runs", "list", flag, "--data-dir", uri)
        assert (done.code, done.out) == (2, ""), done
        assert done.err.splitlines()[-1] == (
            "Error: running and lost runs are found by their events, which a data dir holds "
            "and a lake does not: name a data dir")


@pytest.mark.parametrize(("preset", "expected"), [(None, "error"), ("warn", "warn")])
def test_delta_rs_warnings_stay_off_stderr_unless_asked_for(preset: str | None,
                                                             expected: str) -> None:
    """delta-rs's Rust logger prints the AWS SDK's IMDS probes (several lines of response
    headers) on a failed lookup; the lake wing turns it down to errors before deltalake is
    imported, unless the user set RUST_LOG."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    if preset is not None:
        env["RUST_LOG"] = preset
    code = ("import os, sys, mantis_runs.lake.table; import deltalake; "
            "print(os.environ.get('RUST_LOG'), 'deltalake' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == f"{expected} True\n"


def test_a_lake_uri_given_as_a_path_to_the_python_api_is_one_clear_error() -> None:
    """A URI string where the library takes paths (RunStore, stats, trend) is refused with a
    hint, never taken for a relative folder named ``s3:`` and never repeated (credentials)."""
    from mantis_runs import RunStore
    from mantis_runs.analysis.trend import trend
    from mantis_runs.errors import UsageError
    from mantis_runs.stats import stats

    uri = "s3://KEY:SECRET@bucket/prefix"
    for call in (lambda: RunStore(uri).stats("wf"), lambda: RunStore([uri]).stats("wf"),
                 lambda: stats("wf", data_dir=uri), lambda: trend("wf", data_dir=uri)):
        with pytest.raises(UsageError) as caught:
            call()
        assert str(caught.value) == ("s3://... is a lake URI: open it with "
                                     "mantis_runs.lake.read.open_source first")


def test_copies_of_a_long_lived_lake_source_take_half_the_free_space_in_all(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 copies stay as long as their source: a second, wider read may copy only while every
    copy together stays within half of the space that was free before the first."""
    import io
    from collections import namedtuple

    from mantis_runs.errors import MantisError
    from mantis_runs.lake.fetch import RemoteFiles

    class Store:  # deltalake's file system handler, as RemoteFiles uses it
        def open_input_file(self, path: str) -> io.BytesIO:
            return io.BytesIO(b"x" * sizes[path])

    sizes = {"a": 300, "b": 300}
    fetch = RemoteFiles(Store(), {"2026-01": ["a"], "2026-02": ["b"]}, sizes, MantisError)
    usage = namedtuple("usage", "total used free")

    def disk_usage(path: object) -> object:  # 1,000 bytes free, less what was copied
        folder = fetch._folder
        copied = sum(p.stat().st_size for p in folder.iterdir()) if folder else 0
        return usage(10**6, 0, 1000 - copied)

    monkeypatch.setattr("shutil.disk_usage", disk_usage)
    assert fetch.fits(["2026-01"])  # 300 of 1,000
    local = fetch(["2026-01"])["2026-01"]
    assert [Path(p).stat().st_size for p in local] == [300]
    assert fetch.fits(["2026-01"])  # nothing more to copy
    assert not fetch.fits(["2026-01", "2026-02"])  # 600 in all: over half of 1,000


@pytest.mark.parametrize("args", [
    ("runs", "stats", "wf", "--data-dir", "file:///nowhere"),
    ("runs", "trend", "wf", "--data-dir", "s3://bucket/prefix"),
    ("runs", "ship", "--to", "file:///nowhere"),
    ("runs", "lake", "init", "file:///nowhere"),
])
def test_without_the_lake_extra_a_lake_is_one_line_naming_it(args: tuple[str, ...]) -> None:
    """deltalake not installed (the `lake` extra): one line and exit status 1, never a
    traceback, from every command that reaches a lake (lake.storage.target)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['deltalake'] = None; sys.argv = ['mantis', *sys.argv[1:]]; "
            "from mantis_runs.cli import main; main()")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (
        1, "", "error: a lake table needs the lake extra: pip install 'mantis-runs[lake]'\n")
