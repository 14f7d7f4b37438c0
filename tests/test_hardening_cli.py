"""An operator's mistakes and a hostile neighbour: options that used to give a traceback or never
return, the readers' private DuckDB temp folders, a dry run on a read-only data dir.

Real processes wherever a hang or an exit status is the point, real DuckDB, real mounts (a
read-only bind mount in a user namespace; skipped where there are none).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click
import duckdb
import pytest

from helpers import run_cli, write_rows
from mantis_runs.cli import main
from mantis_runs.db.connection import DUCKDB_TEMP_PREFIX, connect, private_temp_dir
from mantis_runs.stats.sources import TAIL_PREFIX, tail_scratch

ROWS = [{"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded", "total_time_s": 1.0 + i,
         "finished_at": f"2026-0{i}-01T00:00:00Z"} for i in (3, 4)]


def mantis(tmp_path: Path, *args: str, safety: float = 120) -> subprocess.CompletedProcess[str]:
    """``mantis`` as a real process. ``safety`` only keeps a regression that never returns from
    hanging the suite (it is not a timing assertion: the commands here answer at once)."""
    return subprocess.run([sys.executable, "-m", "mantis_runs", *args], capture_output=True,
                          text=True, timeout=safety, check=False,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})


def usage_error(err: str) -> str:
    """The one line of a click usage error (after its "Usage:" and "Try" lines), no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith("Usage: ") and " runs " in lines[0]
    return lines[-1]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    write_rows(d, ROWS)
    return d


# -- item 6: float options and durations -------------------------------------------------------


def float_options() -> list[tuple[str, str, list[str]]]:
    """(command, option, the command's required arguments) for every float option of the CLI."""
    runs = main.commands["runs"]
    assert isinstance(runs, click.Group)
    found = []
    for name, cmd in sorted(runs.commands.items()):
        required = ["x" for p in cmd.params if isinstance(p, click.Argument) and p.required]
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(p.type, click.types.FloatParamType):
                found.append((name, p.opts[0], required))
    return found


def test_the_float_options_are_known() -> None:
    # a new float option joins the tests below by itself; this only proves the walk finds them
    assert {(c, o) for c, o, _ in float_options()} >= {
        ("compact", "--wait"), ("watch", "--interval"), ("watch", "--timeout")}


@pytest.mark.parametrize(("command", "option", "required"), float_options(),
                         ids=[f"{c}{o}" for c, o, _ in float_options()])
def test_every_float_option_refuses_nan(tmp_path: Path, data: Path, command: str, option: str,
                                        required: list[str]) -> None:
    # FloatRange lets nan through (it fails no comparison): compact --wait nan waited forever
    # for a running compaction, watch --timeout nan never gave up, watch --interval nan was a
    # traceback
    r = mantis(tmp_path, "runs", command, *required, "--data-dir", str(data), option, "nan")
    assert (r.returncode, r.stdout) == (2, "")
    runs = main.commands["runs"]
    assert isinstance(runs, click.Group)
    opt = next(p for p in runs.commands[command].params if p.opts[0] == option)
    kind = opt.type.name  # "number", or "number of seconds" for a duration in seconds
    assert kind in ("number", "number of seconds")
    assert usage_error(r.stderr) == (
        f"Error: Invalid value for '{option}': 'nan' is not a {kind}.")


@pytest.mark.parametrize(("command", "option", "required"), float_options(),
                         ids=[f"{c}{o}" for c, o, _ in float_options()])
def test_every_float_option_refuses_inf_or_says_what_it_means(tmp_path: Path, data: Path,
                                                              command: str, option: str,
                                                              required: list[str]) -> None:
    runs = main.commands["runs"]
    assert isinstance(runs, click.Group)
    opt = next(p for p in runs.commands[command].params if p.opts[0] == option)
    assert isinstance(opt, click.Option)
    if "inf" in (opt.help or ""):
        return  # what inf means is documented (and tested below)
    r = mantis(tmp_path, "runs", command, *required, "--data-dir", str(data), option, "inf")
    assert (r.returncode, r.stdout) == (2, "")
    assert usage_error(r.stderr).startswith(f"Error: Invalid value for '{option}': inf is not in")


@pytest.mark.parametrize(("value", "message"), [
    ("inf", "inf is not in the range 0.05<=x<=86400."),  # was OverflowError from time.sleep
    ("1e12", "1000000000000.0 is not in the range 0.05<=x<=86400."),  # likewise
    ("0.01", "0.01 is not in the range 0.05<=x<=86400."),
])
def test_watch_interval_out_of_range_is_a_usage_error(tmp_path: Path, data: Path, value: str,
                                                      message: str) -> None:
    r = mantis(tmp_path, "runs", "watch", "x", "--data-dir", str(data), "--timeout", "0",
               "--interval", value)
    assert (r.returncode, r.stdout) == (2, "")
    assert usage_error(r.stderr) == f"Error: Invalid value for '--interval': {message}"


def test_watch_timeout_inf_is_wait_forever(tmp_path: Path, data: Path) -> None:
    write_rows(data, [{"run_id": "done", "workflow_id": "wf", "status": "succeeded",
                       "total_time_s": 2.0}])
    r = mantis(tmp_path, "runs", "watch", "done", "--data-dir", str(data), "--timeout", "inf")
    assert (r.returncode, r.stdout, r.stderr) == (0, "run done succeeded\n", "")


@pytest.mark.parametrize(("args", "message"), [
    # was a traceback: the month after 9999-12 is not a datetime
    (["--month", "9999-12"], "month 9999-12 is not closed yet (it closes after the year 9999)"),
    # was an OverflowError: the grace period ends after the year 9999
    (["--month", "9999-11", "--grace", "100000d"],
     "month 9999-11 is not closed yet (it closes after the year 9999)"),
    (["--month", "9999-12", "--dry-run"],
     "month 9999-12 is not closed yet (it closes after the year 9999)"),
])
def test_compact_month_that_closes_after_9999(data: Path, args: list[str], message: str) -> None:
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    code, out, err = run_cli("runs", "compact", "--data-dir", str(data), *args)
    assert (code, out) == (2, "")
    assert usage_error(err) == f"Error: {message}"
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


@pytest.mark.parametrize(("args", "message"), [
    (["compact", "--grace", "99999999999999999999d"],
     "Error: --grace is too long: '99999999999999999999d'"),
    (["compact", "--grace", "2000000d"], "Error: --grace is too long: 2000000 days, 0:00:00"),
    (["stats", "wf", "--since", "99999999999999999999w"],
     "Error: Invalid value for '--since': is too far back: '99999999999999999999w'"),
    (["list", "--since", "99999999999999999999999d"],
     "Error: Invalid value for '--since': is too far back: '99999999999999999999999d'"),
])
def test_durations_that_overflow_are_usage_errors(data: Path, args: list[str],
                                                  message: str) -> None:
    code, out, err = run_cli("runs", *args, "--data-dir", str(data))
    assert (code, out) == (2, "")
    assert usage_error(err) == message


def flock_waiters(path: Path) -> set[int]:
    """The pids blocked in flock() on ``path``, from /proc/locks (lines with ``->``)."""
    ino = os.stat(path).st_ino
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: -> FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF"
        if len(fields) > 6 and fields[1] == "->" and fields[6].rsplit(":", 1)[-1] == str(ino):
            pids.add(int(fields[5]))
    return pids


def test_compact_wait_inf_waits_in_the_kernel_for_the_running_compaction(
        tmp_path: Path, data: Path) -> None:
    assert run_cli("runs", "compact", "--data-dir", str(data)).code == 0  # creates the lock
    lock = data / ".compact.lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # "another compaction is running"
        p = subprocess.Popen([sys.executable, "-m", "mantis_runs", "runs", "compact",
                              "--data-dir", str(data), "--wait", "inf", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        try:
            # blocked in flock(), not polling a deadline that inf never reaches
            while p.pid not in flock_waiters(lock):
                assert p.poll() is None, p.communicate()
                time.sleep(0.01)  # polling /proc/locks (no timing is asserted)
        except BaseException:
            p.kill()
            p.communicate()
            raise
    finally:
        os.close(fd)  # the other compaction ends
    out, err = p.communicate(timeout=120)
    assert (p.returncode, err) == (0, "")
    assert '"months": []' in out


# -- item 7: private temp folders ----------------------------------------------------------------


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The system temp dir, as tempfile sees it, moved to a fresh folder."""
    t = tmp_path / "tmp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    yield t


def temp_setting(con: duckdb.DuckDBPyConnection) -> Path:
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    assert row is not None
    return Path(row[0])


def assert_private(folder: Path) -> None:
    st = folder.lstat()
    assert stat.S_ISDIR(st.st_mode)  # a folder, not a symbolic link planted in its place
    assert st.st_uid == os.getuid()
    assert stat.S_IMODE(st.st_mode) == 0o700


def test_readers_spill_to_a_new_private_folder(tmpdir_: Path) -> None:
    # the folder used to be <tmp>/mantis-duckdb-<uid>: anyone could create it first (mode 777,
    # or a link to their own folder) and receive the spilled rows
    planted = tmpdir_ / f"mantis-duckdb-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    con = connect(memory_limit="20MB", threads=1)
    folder = temp_setting(con)
    assert folder.parent == tmpdir_
    assert folder.name.startswith(f"{DUCKDB_TEMP_PREFIX}{os.getpid()}-")
    assert_private(folder)
    con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s "
                "FROM range(2000000)")  # about 100 MB: spills
    assert any(f.name.startswith("duckdb_temp") for f in folder.iterdir())
    assert con.execute("SELECT count(*), sum(length(s)) FROM t").fetchone() == (2000000, 64000000)
    assert list(planted.iterdir()) == []
    other = connect()
    assert temp_setting(other) != folder  # one folder per connection
    other.close()
    con.close()
    del con, other
    # removed with the connection, spill files and all
    assert sorted(p.name for p in tmpdir_.iterdir()) == [planted.name]


def test_no_usable_temp_dir_means_no_spilling_not_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    con = connect()
    assert con.execute("SELECT current_setting('temp_directory')").fetchone() == ("",)
    assert con.execute("SELECT sum(range) FROM range(1000)").fetchone() == (499500,)
    con.close()
    assert not (tmp_path / "missing").exists()


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.parametrize("prefix", [DUCKDB_TEMP_PREFIX, TAIL_PREFIX])
def test_folders_of_killed_readers_are_removed_and_nothing_else(tmpdir_: Path,
                                                                prefix: str) -> None:
    dead = dead_pid()
    left = tmpdir_ / f"{prefix}{dead}-abc"  # a reader killed mid-query
    left.mkdir()
    (left / "duckdb_temp_1_0_storage_DEFAULT-0.tmp").write_bytes(b"rows")
    mine = tmpdir_ / f"{prefix}{os.getpid()}-xyz"  # a live process's: kept
    mine.mkdir()
    other = tmpdir_ / f"{prefix}not-a-pid"
    other.mkdir()
    target = tmpdir_ / "someone-elses"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmpdir_ / f"{prefix}{dead}-link"  # a link is never followed
    link.symlink_to(target)
    made = private_temp_dir(prefix)
    assert_private(made)
    assert made.name.startswith(f"{prefix}{os.getpid()}-")
    assert sorted(p.name for p in tmpdir_.iterdir()) == sorted(
        [mine.name, other.name, target.name, link.name, made.name])
    assert (target / "keep").read_text() == "x"
    made.rmdir()


def test_tail_scratch_is_private(tmpdir_: Path) -> None:
    # already safe before (mkdtemp); now the same function as the DuckDB folders
    folder = tail_scratch()
    assert folder.parent == tmpdir_
    assert folder.name.startswith(f"{TAIL_PREFIX}{os.getpid()}-")
    assert_private(folder)
    shutil.rmtree(folder)


# -- item 9: a dry run on a read-only data dir ---------------------------------------------------

READ_ONLY = """set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
if touch "$1/probe" 2>/dev/null; then echo "still writable" >&2; exit 99; fi
shift
exec "$@"
"""


def read_only(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``args`` run with ``data`` bind-mounted read-only (EROFS), in a user namespace."""
    return subprocess.run(["unshare", "-Urm", "sh", "-c", READ_ONLY, "sh", str(data), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def read_only_unavailable(tmp_path: Path) -> str | None:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare(1) or mount(8) is not installed"
    probe = tmp_path / "probe-dir"
    probe.mkdir()
    r = read_only(probe, "true")
    if r.returncode != 0:
        return f"no read-only bind mount in a user namespace: {r.stderr.strip()}"
    return None


def test_dry_run_on_a_read_only_data_dir_with_a_compact_lock(tmp_path: Path, data: Path) -> None:
    reason = read_only_unavailable(tmp_path)
    if reason:
        pytest.skip(reason)
    first = run_cli("runs", "compact", "--data-dir", str(data), "--no-checkpoint")
    assert first.code == 0, first
    assert (data / ".compact.lock").exists()  # the lock file of an earlier compaction
    write_rows(data, [{"run_id": "new", "workflow_id": "wf", "status": "succeeded",
                       "total_time_s": 3.0, "finished_at": "2026-05-02T00:00:00Z"}])
    expected = run_cli("runs", "compact", "--data-dir", str(data), "--dry-run", "--month",
                       "2026-05")
    assert expected.code == 0 and expected.out.startswith(f"Dry run in {data}:"), expected
    before = sorted((str(p.relative_to(data)), p.stat().st_size) for p in data.rglob("*"))
    # it was: error: Read-only file system: <data>/.compact.lock (exit 1)
    r = read_only(data, sys.executable, "-m", "mantis_runs", "runs", "compact", "--data-dir",
                  str(data), "--dry-run", "--month", "2026-05")
    assert (r.returncode, r.stdout, r.stderr) == (0, expected.out, "")
    assert sorted((str(p.relative_to(data)), p.stat().st_size) for p in data.rglob("*")) == before
