"""Packaging: the SQL ships in the wheel and is found both there and in the editable install, and
the CLI's help stays free of the heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mantis_runs
from mantis_runs.db.sqlfiles import load, names

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "src" / "mantis_runs"
SQL_ROOT = PKG / "db" / "sql"
#: Paths relative to SQL_ROOT: <purpose>/<name>.sql
SQL_FILES = sorted(str(p.relative_to(SQL_ROOT)) for p in SQL_ROOT.glob("*/*.sql"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                        "--no-build-isolation", "--no-index", "-q", "-w", str(out)],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    (built,) = out.glob("mantis_runs-*.whl")
    return built


def test_sql_files_exist() -> None:
    # the views, macros and queries the package loads by name are all there
    assert {"view_runs", "view_run_buckets", "view_run_costs", "view_runs_bad_lines",
            "macro_quantile", "macro_bad_line", "macro_sealed_rows", "runs_select", "runs_by_id",
            "stats_percentiles"} <= set(names())
    assert len(names()) == len(SQL_FILES)  # one name per file, whatever its folder


def test_wheel_ships_every_sql_file_and_py_typed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        shipped = sorted(n.removeprefix("mantis_runs/db/sql/") for n in names
                         if n.startswith("mantis_runs/db/sql/") and n.endswith(".sql"))
        assert shipped == SQL_FILES
        for name in SQL_FILES:
            assert z.read(f"mantis_runs/db/sql/{name}") == (SQL_ROOT / name).read_bytes()
        assert "mantis_runs/py.typed" in names
        assert "mantis_runs/dashboard/page.html" in names  # the dashboard's template
        assert {f"mantis_runs/{p.relative_to(PKG)}" for p in PKG.rglob("*.py")} <= names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "mantis = mantis_runs.cli:main" in z.read(entry_points).decode()


def test_editable_install_reads_the_repository_sql() -> None:
    assert Path(mantis_runs.__file__).resolve().parent == ROOT / "src" / "mantis_runs"
    assert load("runs_by_id") == (SQL_ROOT / "queries" / "runs_by_id.sql").read_text(
        encoding="utf-8")


def test_installed_wheel_reads_its_own_sql(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                           "--system-site-packages", str(venv)],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        pytest.skip(f"cannot create a virtual environment: {made.stderr.strip()}")
    py = venv / "bin" / "python"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=180)
    if inst.returncode != 0:
        pytest.skip(f"cannot install the wheel offline: {inst.stderr.strip()}")
    probe = ("import json, mantis_runs\n"
             "from mantis_runs.db.sqlfiles import load\n"
             "print(json.dumps([mantis_runs.__file__, load('view_runs')]))")
    p = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    init, view_runs = json.loads(p.stdout)
    site = Path(init).parent
    assert "site-packages" in site.parts and venv in site.parents
    assert view_runs == load("view_runs")  # the same text, fragments in place, as from src/
    assert "@copy_order@" in (SQL_ROOT / "views" / "view_runs.sql").read_text(encoding="utf-8")
    assert "@" not in view_runs.split("QUALIFY", 1)[1]


HEAVY = ("duckdb", "pyarrow")

_HELP_PROBE = """
import json, sys
from mantis_runs.cli import main
try:
    main(sys.argv[1:], prog_name="mantis")
except SystemExit as exc:
    code = exc.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _help_imports(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    p = subprocess.run([sys.executable, "-c", _HELP_PROBE.format(heavy=set(HEAVY)), *args],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    result: dict[str, object] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def test_help_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # Negative control: a command that does run pulls them in, and the probe notices.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    (tmp_path / "data" / "runs_log").mkdir(parents=True)  # a store (a missing one is an error)
    assert _help_imports("runs", "views", "--data-dir", str(tmp_path / "data"), env=env) == {
        "code": 0, "heavy": ["duckdb", "pyarrow"]}


@pytest.mark.parametrize("args", [
    ["--help"], ["runs", "--help"], ["runs", "stats", "--help"], ["runs", "list", "--help"],
    ["runs", "show", "--help"], ["runs", "report", "--help"], ["runs", "sql", "--help"],
    ["runs", "shell", "--help"], ["runs", "views", "--help"], ["runs", "watch", "--help"],
    ["runs", "compact", "--help"], ["runs", "demo", "--help"], ["--version"],
])
def test_help_imports_neither_duckdb_nor_pyarrow(args: list[str]) -> None:
    assert _help_imports(*args) == {"code": 0, "heavy": []}


def test_help_as_the_installed_script() -> None:
    # the console script, as a user runs it, with -X importtime as a second witness
    script = Path(sys.executable).parent / "mantis"
    p = subprocess.run([sys.executable, "-X", "importtime", str(script), "runs", "stats",
                        "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    assert p.stdout.startswith("Usage: mantis runs stats [OPTIONS] WORKFLOW_ID\n")
    imported = {line.split("|")[-1].strip() for line in p.stderr.splitlines()
                if line.startswith("import time:")}
    assert "click" in imported and "mantis_runs.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
