"""`mantis runs shell`: the real DuckDB shell (duckdb-cli, 1.5.x) with the views defined.

The shell is a different DuckDB from the library's (1.5.x against 2.0), so these tests also show
that a row written after a torn line is seen by every read path, and why the writer seals a torn
tail with 0x1E 0x0A rather than a bare newline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import append_bytes, write_rows
from mantis_runs import RunStore
from mantis_runs.cli import main
from mantis_runs.cli.shell import duckdb_binary
from mantis_runs.errors import MantisError
from mantis_runs.log import schema
from mantis_runs.log.record import prepare
from mantis_runs.log.writer import SEAL, append_run
from mantis_runs.stats.engine import stats

try:
    BINARY: str | None = duckdb_binary()
except MantisError:  # pragma: no cover - the 'shell' extra is not installed
    BINARY = None

pytestmark = pytest.mark.skipif(BINARY is None, reason="the DuckDB shell (duckdb-cli) is missing")

SHARD = "runs_log/2026-05.jsonl"
# Cut right after a key: a reader that carries on past the newline takes the next line as the
# value of total_time_s.
TORN = b'{"schema_version":1,"run_id":"torn","workflow_id":"w","status":"succeeded",' \
       b'"total_time_s":'


def binary_version() -> str:
    assert BINARY is not None
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return out.strip().removeprefix("v")


def row(run_id: str, total: float) -> dict[str, object]:
    return {"run_id": run_id, "workflow_id": "w", "status": "succeeded",
            "finished_at": "2026-05-10T10:00:00Z", "total_time_s": total,
            "wall_time_breakdown": {"think": total / 2}}


def line(run_id: str, total: float) -> bytes:
    return json.dumps(row(run_id, total)).encode() + b"\n"


def env(tmp_path: Path) -> dict[str, str]:
    # the views' placeholder files go to a private cache folder, not the user's
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def mantis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mantis_runs", *args], capture_output=True,
                          text=True, timeout=60, env=env(tmp_path))


def shell_csv(tmp_path: Path, data: Path, query: str) -> str:
    p = mantis(tmp_path, "runs", "shell", "--data-dir", str(data), "--", "-csv", "-c", query)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_the_shell_is_duckdb_1_5() -> None:
    # The CLI's DuckDB on PyPI stops at 1.5.x; the library runs on 2.0.
    import duckdb

    assert binary_version().startswith("1.5."), binary_version()
    assert duckdb.__version__.startswith("2.0.")


def test_shell_counts_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_rows(data, [row(f"r{i}", float(i)) for i in range(7)])
    write_rows(data, [{**row("april", 1.0), "finished_at": "2026-04-01T00:00:00Z"}])
    p = mantis(tmp_path, "runs", "shell", "--data-dir", str(data), "--",
               "-c", "SELECT count(*) FROM runs")
    assert p.returncode == 0, p.stderr
    # DuckDB's box output: the one cell of the one row
    body = [ln for ln in p.stdout.splitlines() if ln.startswith("│")]
    assert body[-1].strip("│ ") == "8", p.stdout
    assert shell_csv(tmp_path, data, "SELECT count(*) AS n FROM runs") == "n\n8\n"


def test_shell_views_agree_with_the_library(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_rows(data, [{**row("a", 10.0), "host": "h1", "cost_breakdown": {"llm": 0.5}},
                      row("b", 20.0), row("b", 20.0)])
    q = ("SELECT run_id, strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ') AS fin, total_time_s, "
         "extra->>'host' AS host FROM runs ORDER BY run_id")
    assert shell_csv(tmp_path, data, q) == (
        "run_id,fin,total_time_s,host\na,2026-05-10T10:00:00Z,10.0,h1\n"
        "b,2026-05-10T10:00:00Z,20.0,NULL\n")
    assert shell_csv(tmp_path, data, "SELECT bucket, sum(seconds) AS s FROM run_buckets "
                                     "GROUP BY ALL") == "bucket,s\nthink,15.0\n"
    assert shell_csv(tmp_path, data, "SELECT mantis_quantile(list_sort(list(total_time_s)), "
                                     "0.95) AS p95 FROM runs") == "p95\n19.5\n"
    assert RunStore(data).sql("SELECT mantis_quantile(list_sort(list(total_time_s)), 0.95) "
                              "AS p95 FROM runs").to_pylist() == [{"p95": 19.5}]


def test_shell_reads_compacted_parts_as_the_library_does(tmp_path: Path) -> None:
    """Parquet layout 2 through DuckDB 1.5: the breakdown is rebuilt from its two columns."""
    from mantis_runs.compaction import compact

    data = tmp_path / "data"
    march = "2026-03-10T10:00:00Z"
    write_rows(data, [{**row("p", 10.0), "finished_at": march},
                      {**row("q", 20.0), "finished_at": march,
                       "wall_time_breakdown": {"think": 4.0, "custom": 1.5}}])
    write_rows(data, [row("live", 30.0)])
    compact(data, now=datetime(2026, 5, 20, tzinfo=UTC))
    assert (data / "compacted" / "2026-03").is_dir()
    q = ("SELECT run_id, bucket, seconds FROM run_buckets ORDER BY run_id, bucket")
    expected = "run_id,bucket,seconds\nlive,think,15.0\np,think,5.0\nq,custom,1.5\nq,think,4.0\n"
    assert shell_csv(tmp_path, data, q) == expected
    assert RunStore(data).sql(q).to_pylist() == [
        {"run_id": r, "bucket": b, "seconds": float(s)}
        for r, b, s in (x.split(",") for x in expected.splitlines()[1:])]


def test_the_shell_reads_only_the_store_and_creates_no_file(tmp_path: Path) -> None:
    """The shell's session is read-only (docs/sql.md): DuckDB reads only the views' files and
    creates none, and file access cannot be turned back on. Settings stay open: DuckDB 1.5.x's
    shell fails once its configuration is locked."""
    data = tmp_path / "data"
    write_rows(data, [row(f"r{i}", float(i)) for i in range(4)])
    shard = data / SHARD
    before = shard.read_bytes()
    secret, out, db = tmp_path / "secret.txt", tmp_path / "out.csv", tmp_path / "new.db"
    secret.write_text("hunter2\n")

    def denied(path: Path | str) -> str:
        return (f'Permission Error: Cannot access file "{path}" - file system operations are '
                "disabled by configuration")

    for query, error in [
        # over an existing file DuckDB writes a temporary file first, then renames it
        (f"COPY (SELECT 1 AS x) TO '{shard}'", denied(data / "runs_log" / "tmp_2026-05.jsonl")),
        (f"COPY (SELECT * FROM runs) TO '{data / 'runs_log' / '2026-06.jsonl'}'",
         denied(data / "runs_log" / "2026-06.jsonl")),
        (f"COPY (SELECT * FROM runs) TO '{out}'", denied(out)),
        (f"SELECT * FROM read_text('{secret}')", denied(secret)),
        ("SELECT * FROM read_text('/etc/passwd')", denied("/etc/passwd")),
        (f"ATTACH '{db}'", denied(db)),
        ("SET enable_external_access = true",
         "Invalid Input Error: Cannot enable external access while database is running"),
        ("SET allowed_paths = ['/']", "Invalid Input Error: Cannot change allowed_paths when "
                                      "enable_external_access is disabled"),
    ]:
        p = mantis(tmp_path, "runs", "shell", "--data-dir", str(data), "--", "-c", query)
        assert p.returncode == 1 and error in p.stderr, (query, p.stderr)
    assert shard.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cache", "data", "secret.txt"]
    assert [x.name for x in (data / "runs_log").iterdir()] == ["2026-05.jsonl"]
    assert shell_csv(tmp_path, data, "SELECT count(*) AS n FROM runs") == "n\n4\n"
    # a result goes to a file through the shell's own `.once`, not through DuckDB
    p = mantis(tmp_path, "runs", "shell", "--data-dir", str(data), "--", "-csv",
               "-c", f".once {out}", "-c", "SELECT count(*) AS n FROM runs")
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "n\n4\n"
    # `mantis runs views` only defines the views: it is for any DuckDB client, as it pleases
    code, script, _ = run_views(tmp_path, data)
    assert code == 0 and "enable_external_access" not in script


def run_views(tmp_path: Path, data: Path) -> tuple[int, str, str]:
    p = mantis(tmp_path, "runs", "views", "--data-dir", str(data))
    return p.returncode, p.stdout, p.stderr


def test_shell_exit_status_is_duckdb_s(tmp_path: Path) -> None:
    (tmp_path / "d" / "runs_log").mkdir(parents=True)  # a store (a missing one is an error)
    p = mantis(tmp_path, "runs", "shell", "--data-dir", str(tmp_path / "d"), "--",
               "-c", "SELECT * FROM nowhere")
    assert p.returncode != 0 and "nowhere" in p.stderr


def test_missing_shell_is_a_clear_error(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    r = CliRunner().invoke(main, ["runs", "shell", "--data-dir", str(tmp_path)])
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == ("error: the DuckDB shell is not installed: "
                        "pip install 'mantis-runs[shell]'\n")


def test_row_after_a_sealed_torn_line_is_seen_by_every_read_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shard = data / SHARD
    append_bytes(shard, line("a", 10.0) + TORN)  # a writer died mid-line
    assert append_run(row("b", 20.0), data_dir=data)  # the next writer seals the tail
    assert append_run(row("c", 30.0), data_dir=data)
    assert shard.read_bytes() == (line("a", 10.0) + TORN + SEAL
                                  + prepare(row("b", 20.0)).line + prepare(row("c", 30.0)).line)

    # 1. the real DuckDB shell (1.5.x) through `mantis runs shell`
    assert shell_csv(tmp_path, data, "SELECT string_agg(run_id, ',' ORDER BY run_id) AS ids, "
                                     "count(*) AS n FROM runs") == 'ids,n\n"a,b,c",3\n'
    assert shell_csv(tmp_path, data, "SELECT * FROM runs_bad_lines") == (
        "shard,lines\n2026-05.jsonl,1\n")
    # 2. `mantis runs sql` (DuckDB 2.0), which also warns about the torn line
    p = mantis(tmp_path, "runs", "sql", "SELECT count(*) AS n FROM runs", "--format", "csv",
               "--data-dir", str(data))
    assert (p.returncode, p.stdout) == (0, "n\n3\n")
    assert p.stderr == "warning: skipped 1 malformed line (2026-05.jsonl: 1)\n"
    # 3. stats (read_json with explicit columns)
    r = stats("w", data_dir=data)
    assert (r.run_count, r.total.p50, r.skipped_lines) == (3, 20.0, {"2026-05.jsonl": 1})
    p = mantis(tmp_path, "runs", "stats", "w", "--json", "--data-dir", str(data))
    assert p.returncode == 0 and json.loads(p.stdout)["run_count"] == 3
    # 4. RunStore
    s = RunStore(data)
    assert [x["run_id"] for x in s.runs()] == ["c", "b", "a"]
    assert s.get("b") is not None and s.bad_lines() == {"2026-05.jsonl": 1}


def _read_json_query(path: Path) -> str:
    """The stats reader's read_json call, as a literal query for the 1.5.x shell."""
    cols = ", ".join(f"'{k}': '{v}'" for k, v in schema.duckdb_columns().items())
    return (f"SELECT string_agg(run_id, ',' ORDER BY run_id) AS ids FROM read_json('{path}', "
            f"format = 'newline_delimited', records = true, columns = {{{cols}}}, "
            "ignore_errors = true)")


def _raw(path: Path) -> str:
    assert BINARY is not None
    p = subprocess.run([BINARY, "-csv", "-c", _read_json_query(path)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_why_the_writer_seals_a_torn_tail(tmp_path: Path) -> None:
    if not binary_version().startswith("1.5"):
        pytest.skip(f"the row loss is a DuckDB 1.5.x behaviour; the shell is {binary_version()}")
    bare = tmp_path / "bare.jsonl"
    sealed = tmp_path / "sealed.jsonl"
    bare.write_bytes(line("a", 1.0) + TORN + b"\n" + line("b", 2.0) + line("c", 3.0))
    sealed.write_bytes(line("a", 1.0) + TORN + SEAL + line("b", 2.0) + line("c", 3.0))
    # DuckDB 1.5.x carries the unterminated object on past a bare newline: row b is lost.
    assert _raw(bare) == 'ids\n"a,c"\n'
    # The record separator cannot be part of any JSON value, so the fragment fails alone.
    assert _raw(sealed) == 'ids\n"a,b,c"\n'

    # DuckDB 2.0 (the library) keeps row b either way.
    import duckdb

    con = duckdb.connect()
    try:
        for path in (bare, sealed):
            assert con.execute(_read_json_query(path)).fetchall() == [("a,b,c",)]
    finally:
        con.close()
