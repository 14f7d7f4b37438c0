"""Data directories whose names hold DuckDB glob characters read only themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mantis_runs.cli import main
from mantis_runs.compaction import compact
from mantis_runs.db.connection import duckdb_path
from mantis_runs.log.writer import append_run
from mantis_runs.stats.engine import stats
from mantis_runs.store import RunStore

NOW = datetime(2026, 5, 20, tzinfo=UTC)


def fill(d: Path, n: int, prefix: str) -> None:
    for i in range(n):
        assert append_run({"run_id": f"{prefix}{i}", "workflow_id": "w", "status": "succeeded",
                           "total_time_s": float(i), "finished_at": "2026-03-10T10:00:00Z"}, d)


@pytest.mark.parametrize(("name", "sibling"), [
    ("runs*", "runs-old"), ("r?ns", "runs"), ("[ab]", "a"), ("x[*]y", "x*y"),
])
def test_glob_characters_in_the_data_dir(tmp_path: Path, name: str, sibling: str) -> None:
    d, other = tmp_path / name, tmp_path / sibling
    fill(d, 3, "mine-")
    fill(other, 5, "other-")  # what a glob expansion of `name` would also pick up
    assert stats("w", data_dir=d).run_count == 3
    assert RunStore(d).sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 3}]
    report = compact(d, now=NOW)
    assert [m.rows_written for m in report.months] == [3]
    assert stats("w", data_dir=d).run_count == 3
    assert RunStore(d).sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 3}]
    out = CliRunner().invoke(main, ["runs", "stats", "w", "--json", "--data-dir", str(d)])
    assert out.exit_code == 0 and '"run_count": 3' in out.stdout
    assert stats("w", data_dir=other).run_count == 5


def test_duckdb_path_escapes_only_glob_characters() -> None:
    assert duckdb_path("/a/b c/{x,y}/d.jsonl") == "/a/b c/{x,y}/d.jsonl"
    assert duckdb_path("/a*/b?/[c]") == "/a[*]/b[?]/[[]c]"
