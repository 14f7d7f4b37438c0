"""db/engine.py: DuckDB's compiled engine is what ``duckdb`` re-exports, ``duckdb`` only adds
methods, every module that uses the relational API asks for it, and the point commands run
without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from mantis_runs.db import engine

SRC = Path(engine.__file__).resolve().parents[1]

#: What ``import duckdb`` adds to the connection class that makes a relation: the calls that
#: need :func:`engine.relational` first (a relation's own methods, ``to_arrow_table`` and the
#: like, come after one of these).
RELATIONAL = {"sql", "read_parquet", "from_arrow", "from_query", "read_json", "read_csv",
              "from_df", "from_parquet", "register"}  # register: a Python Arrow object to scan


def test_the_engine_is_what_duckdb_reexports() -> None:
    duckdb = engine.relational()
    for name in engine.__all__:
        if name != "relational":
            assert getattr(engine, name) is getattr(duckdb, name) or name == "__version__", name
    assert engine.__version__ == duckdb.__version__


def test_duckdb_only_adds_methods_to_the_engines_connection_class() -> None:
    code = """if True:
        import _duckdb
        cls = _duckdb.DuckDBPyConnection
        before = {k: cls.__dict__.get(k) for k in dir(cls)}
        import duckdb
        after = {k: cls.__dict__.get(k) for k in dir(cls)}
        changed = sorted(k for k in before if before[k] is not after[k])
        added = sorted(set(after) - set(before))
        print(changed, "sql" in added)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] True"


def _imports_duckdb_at_top(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Import) and any(a.name == "duckdb" for a in node.names)
               for node in tree.body)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_every_relational_call_has_duckdb_imported(path: Path) -> None:
    """A module that calls the relational API imports ``duckdb`` at its top, or its function
    that calls it imports ``duckdb`` or calls ``relational()`` (the point commands' modules
    never import ``duckdb`` at the top: test below)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _imports_duckdb_at_top(tree):
        return
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        inner = list(ast.walk(func))
        calls = [n for n in inner if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in RELATIONAL and not _module_call(n.func)]
        asks = any(isinstance(n, ast.Call) and _name(n.func) == "relational" for n in inner) or \
            any(isinstance(n, ast.Import) and any(a.name == "duckdb" for a in n.names)
                for n in inner)
        assert not calls or asks, (f"{path.relative_to(SRC)}:{calls[0].lineno}: "
                                   f".{calls[0].func.attr}() without relational()")  # type: ignore[attr-defined]


def _module_call(func: ast.Attribute) -> bool:
    """``pq.read_parquet(...)``-like calls on a module, not on a connection or relation."""
    return isinstance(func.value, ast.Name) and func.value.id in {
        "pq", "pl", "pd", "ds", "np", "atexit", "lake_source"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


_DRIVER = """if True:
    import runpy, sys
    sys.argv = ["mantis", *sys.argv[1:]]
    try:
        runpy.run_module("mantis_runs", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        status = exc.code
    else:
        status = 0
    print(f"exit={status} duckdb={'duckdb' in sys.modules}", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def compacted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import UTC, datetime, timedelta

    from helpers import write_rows
    from mantis_runs.compaction import compact

    d = tmp_path_factory.mktemp("engine") / "d"
    now = datetime.now(UTC)
    write_rows(d, [{"run_id": f"r{i:03d}", "workflow_id": "wf", "status": "succeeded",
                    "finished_at": now - timedelta(days=40) + timedelta(hours=8 * i),
                    "total_time_s": 10.0 + i % 7, "wall_time_breakdown": {"think": 5.0}}
                   for i in range(120)])
    compact(d, checkpoint_min_bytes=0)  # the closed month to Parquet, the live one checkpointed
    return d


@pytest.mark.parametrize("args", [
    ["show", "r000"], ["show", "r119"], ["report", "--run-id", "r060"], ["report", "--latest"],
    ["list", "--last", "5"], ["list", "--last", "5", "--json"],
    ["watch", "r119", "--timeout", "1"], ["status", "r060"], ["status", "r119"],
    ["list", "--running"]], ids=" ".join)
def test_the_point_commands_run_without_duckdbs_relational_layer(compacted: Path,
                                                                  args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", _DRIVER, "runs", *args, "--data-dir",
                           str(compacted)], capture_output=True, text=True, timeout=120)
    assert done.stderr.splitlines()[-1] == "exit=0 duckdb=False", done.stderr
    assert done.stdout
