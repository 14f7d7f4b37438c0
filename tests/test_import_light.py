"""The writer path must import only the standard library (it runs inside other runtimes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("duckdb", "pyarrow", "click", "tabulate", "scipy", "deltalake")

_PROBE = """
import json, sys
{stmt}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})))
"""


def _loaded_heavy(stmt: str) -> list[str]:
    code = _PROBE.format(stmt=stmt, heavy=set(HEAVY))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def test_probe_detects_a_heavy_import() -> None:
    # Negative control: the probe really sees these modules when they are imported.
    assert _loaded_heavy("import click, tabulate") == ["click", "tabulate"]


@pytest.mark.parametrize("stmt", [
    "from mantis_runs import append_run",
    "from mantis_runs import append_event, append_events",
    "import mantis_runs.log.writer, mantis_runs.log.record, mantis_runs.log.layout, "
    "mantis_runs.log.schema, mantis_runs.log.locks, mantis_runs.log.checkpoint, "
    "mantis_runs.log.timewindow, mantis_runs.log.events",
])
def test_writer_path_imports_no_heavy_dependency(stmt: str) -> None:
    assert _loaded_heavy(stmt) == []


def test_append_run_itself_stays_light(tmp_path: Path) -> None:
    # Calling the writer (not just importing it) must not pull anything heavy in either.
    stmt = (
        "from mantis_runs import append_run\n"
        f"assert append_run({{'workflow_id': 'w', 'status': 'succeeded', 'total_time_s': 1.5}},"
        f" data_dir={str(tmp_path)!r})"
    )
    assert _loaded_heavy(stmt) == []


def test_append_events_itself_stays_light(tmp_path: Path) -> None:
    stmt = (
        "from mantis_runs import append_event, append_events\n"
        f"assert append_event('r-1', 'heartbeat', progress=0.5, data_dir={str(tmp_path)!r})\n"
        "assert append_events([{'run_id': 'r-1', 'type': 'step_started', "
        "'ts': '2026-05-31T23:59:59Z', 'fields': {'step': 'a'}}, {'run_id': 'r-1', "
        f"'type': 'step_finished', 'fields': {{'step': 'a'}}}}], data_dir={str(tmp_path)!r})"
    )
    assert _loaded_heavy(stmt) == []
    assert (tmp_path / "events_log" / "2026-05.jsonl").read_bytes().count(b"\n") == 1


def test_stats_json_loads_only_what_it_uses(tmp_path: Path) -> None:
    # The everyday CLI call stays lean: DuckDB's compiled engine and click, but neither duckdb's
    # Python relational layer (db/engine.py), nor pyarrow (Parquet is read by DuckDB), nor
    # tabulate (JSON output draws no table), nor scipy. The workflow has a run: an
    # empty answer adds a hint of similar workflow ids, read through the views (pyarrow).
    (tmp_path / "runs_log").mkdir()
    (tmp_path / "runs_log" / "2026-05.jsonl").write_text(
        '{"run_id": "r1", "workflow_id": "wf", "status": "succeeded", '
        '"finished_at": "2026-05-01T00:00:00Z", "total_time_s": 1.0}\n')
    stmt = (
        "import sys\n"
        "from mantis_runs.cli import main\n"
        f"sys.argv = ['mantis', 'runs', 'stats', 'wf', '--json', '--data-dir', {str(tmp_path)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
    )
    assert _loaded_heavy(stmt) == ["click"]
