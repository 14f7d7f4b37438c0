"""`mantis runs sql`, `RunStore.sql/query/connect/relation`: reading the store cannot change it.

A query reads only the files of the store's snapshot (and the views' two placeholders), creates
no file, and cannot change a setting; a statement that is not a query is refused with a one-line
usage error (exit 2). What is allowed and why: docs/sql.md. Everything here runs over real files
with the real DuckDB; the store is compared byte for byte before and after each refused query.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import run_cli, write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.db.connection import connect, lock_down
from mantis_runs.errors import MantisError, UsageError

ROOT = Path(__file__).resolve().parent.parent
MARCH, MAY = "2026-03-10T10:00:00Z", "2026-05-12T10:00:00Z"  # Tuesdays


def row(run_id: str, model: str, status: str, total: float, finished: str,
        buckets: dict[str, float] | None = None) -> dict[str, Any]:
    return {"run_id": run_id, "workflow_id": "w", "model": model, "status": status,
            "total_time_s": total, "finished_at": finished, "wall_time_breakdown": buckets}


ROWS = [row("r1", "m1", "succeeded", 10.0, MARCH, {"think": 6.0, "act": 4.0}),
        row("r2", "m2", "succeeded", 20.0, MARCH, {"think": 15.0}),
        row("r3", "m1", "failed", 30.0, MARCH),
        row("r4", "m1", "succeeded", 40.0, MAY, {"think": 30.0, "act": 10.0}),
        row("r5", "m2", "succeeded", 50.0, MAY)]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """March compacted to a Parquet part, May a live JSONL shard: five runs."""
    d = tmp_path / "data"
    write_rows(d, ROWS[:3])
    compact(d, now=datetime(2026, 5, 20, tzinfo=UTC))
    write_rows(d, ROWS[3:])
    assert live(d).is_file() and part(d).is_file()
    return d


def live(data: Path) -> Path:
    return data / "runs_log" / "2026-05.jsonl"


def part(data: Path) -> Path:
    parts = list((data / "compacted" / "2026-03").glob("part-*.parquet"))
    assert len(parts) == 1
    return parts[0]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def count(data: Path) -> int:
    code, out, err = run_cli("runs", "sql", "SELECT count(*) AS n FROM runs", "--format", "csv",
                             "--data-dir", str(data))
    assert (code, err) == (0, ""), err
    return int(out.splitlines()[1])


def sql(data: Path, query: str, *args: str) -> tuple[int, str, str]:
    return run_cli("runs", "sql", query, "--data-dir", str(data), *args)


def refused(data: Path, query: str, *args: str) -> tuple[int, str, str]:
    """``sql()`` of a query refused as a usage error: the error without click's usage lines."""
    code, out, err = sql(data, query, *args)
    assert err.startswith("Usage: ") and "Traceback" not in err, err
    return code, out, err.split("\n\n", 1)[1]


def refusal(word: str, hint: str = "see docs/sql.md") -> str:
    return (f"Error: {word} is refused: only read-only queries run here (SELECT, FROM, WITH, "
            f"VALUES, DESCRIBE, SUMMARIZE, SHOW, CALL, EXPLAIN); {hint}\n")


WRITE_HINT = ("to write a result to a file, use `mantis runs sql --output FILE` or write the "
              "Arrow table from Python")


def permission(path: Path | str) -> str:
    return (f'error: query failed: Permission Error: Cannot access file "{path}" - file system '
            "operations are disabled by configuration\n")


# -- the store cannot be changed ------------------------------------------------------------------

@pytest.mark.parametrize("copy", [
    "COPY (SELECT 1 AS x) TO '{live}' (FORMAT json)",
    "COPY (SELECT 1 AS x) TO '{live}' (FORMAT json, USE_TMP_FILE false)",
    "COPY (SELECT * FROM runs LIMIT 1) TO '{part}' (FORMAT parquet, USE_TMP_FILE false)",
    # a new shard would add runs
    "COPY (SELECT * FROM runs) TO '{data}/runs_log/2026-06.jsonl' (FORMAT json)",
    "  /* a comment */ copy (from runs) to '{live}' (format json, use_tmp_file false);",
    # EXPLAIN ANALYZE runs what it explains
    "EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{live}' (FORMAT json, USE_TMP_FILE false)",
    "EXPLAIN (FORMAT json) COPY (SELECT 1 AS x) TO '{live}' (FORMAT json, USE_TMP_FILE false)",
])
def test_copy_onto_the_store_is_refused_and_the_store_unchanged(data: Path, copy: str) -> None:
    before = tree(data)
    assert count(data) == 5
    query = copy.format(live=live(data), part=part(data), data=data)
    assert refused(data, query) == (2, "", refusal("COPY", WRITE_HINT))
    with pytest.raises(UsageError, match=r"^COPY is refused: only read-only queries run here"):
        RunStore(data).sql(query)
    assert tree(data) == before
    assert count(data) == 5


def test_a_copy_hidden_in_a_pivot_is_refused(data: Path) -> None:
    # DuckDB expands a PIVOT without its values into several statements, of any kind
    before = tree(data)
    query = f"COPY (PIVOT runs ON status USING count(*)) TO '{live(data)}' (USE_TMP_FILE false)"
    assert refused(data, query) == (2, "", refusal(
        "PIVOT", "list the values to pivot on: PIVOT ... ON column IN (...)"))
    assert tree(data) == before and count(data) == 5
    # with its values listed, a PIVOT is a query
    code, out, _ = sql(data, "PIVOT (SELECT model, status FROM runs) ON status "
                             "IN ('succeeded', 'failed') USING count(*) ORDER BY model", "--format",
                       "csv")
    assert (code, out) == (0, "model,succeeded,failed\nm1,2,1\nm2,2,0\n")


def test_writing_any_file_is_refused(data: Path, tmp_path: Path) -> None:
    out, export = tmp_path / "out.csv", tmp_path / "export"
    assert refused(data, f"COPY (FROM runs) TO '{out}'") == (2, "", refusal("COPY", WRITE_HINT))
    assert refused(data, f"EXPORT DATABASE '{export}'") == (2, "", refusal("EXPORT",
                                                                           WRITE_HINT))
    assert not out.exists() and not export.exists()
    # what a SELECT can reach that would write a file is stopped by the connection itself
    logs = tmp_path / "logs"
    with pytest.raises(MantisError, match=r'^query failed: Invalid Input Error: Cannot change '
                                          r'configuration option "enable_logging" - the '
                                          r"configuration has been locked$"):
        RunStore(data).sql(f"SELECT * FROM enable_logging(storage = 'file', "
                           f"storage_path = '{logs}')")
    assert not logs.exists()


def test_reading_a_file_outside_the_store_is_refused(data: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2\n")
    assert sql(data, f"SELECT content FROM read_text('{secret}')") == (1, "", permission(secret))
    sneaky = data / "runs_log" / ".." / ".." / "secret.txt"
    assert sql(data, f"SELECT content FROM read_text('{sneaky}')") == (1, "", permission(sneaky))
    assert sql(data, "SELECT * FROM read_csv('/etc/passwd')") == (1, "", permission("/etc/passwd"))
    with pytest.raises(MantisError, match=r'^query failed: Permission Error: Cannot access file '
                                          r'"/etc/passwd"'):
        RunStore(data).sql("SELECT content FROM read_text('/etc/passwd')")
    # the store's own files can be read by name
    code, out, _ = sql(data, f"SELECT count(*) AS n FROM read_text('{live(data)}')", "--format",
                       "csv")
    assert (code, out) == (0, "n\n1\n")


@pytest.mark.parametrize(("query", "word"), [
    ("ATTACH '{tmp}/new.db' AS x", "ATTACH"),
    ("ATTACH ':memory:' AS x", "ATTACH"),
    ("SET threads = 1", "SET"),
    ("SET enable_external_access = true", "SET"),
    ("RESET lock_configuration", "RESET"),
    ("SET VARIABLE mantis_jsonl_files = ['/etc/passwd']", "SET"),  # the views' file list
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE OR REPLACE VIEW runs AS SELECT 1 AS x", "CREATE"),
    ("DROP VIEW runs", "DROP"),
    ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "INSERT"),
    ("UPDATE EXTENSIONS", "UPDATE"),
    ("CHECKPOINT", None),  # a CALL of checkpoint(): allowed, and harmless in memory
    ("PRAGMA threads = 1", "PRAGMA"),
    ("PRAGMA table_info('runs')", "PRAGMA"),
    ("IMPORT DATABASE '{tmp}'", "IMPORT"),
])
def test_statements_that_are_not_queries_are_refused(data: Path, tmp_path: Path, query: str,
                                                     word: str | None) -> None:
    before = tree(data)
    query = query.format(tmp=tmp_path)
    if word is None:
        assert sql(data, query)[0::2] == (0, "")
    else:
        code, out, err = refused(data, query)
        hint = ("use SELECT * FROM pragma_<name>(...), DESCRIBE or SHOW" if word == "PRAGMA"
                else "see docs/sql.md")
        assert (code, out, err) == (2, "", refusal(word, hint))
    assert not (tmp_path / "new.db").exists()
    assert tree(data) == before and count(data) == 5


# -- queries still work -------------------------------------------------------------------------

def readme_query() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r'^mantis runs sql "(SELECT model, date_trunc.*?)"$', readme, re.M | re.S)
    assert found, "the README's example query moved"
    return found.group(1)


def test_the_readme_query_and_the_views_work(data: Path) -> None:
    code, out, err = sql(data, readme_query(), "--format", "csv")
    assert (code, err) == (0, "")
    assert out == ("model,week,runs,median_s\nm1,2026-05-11,1,40.0\nm2,2026-05-11,1,50.0\n"
                   "m1,2026-03-09,1,10.0\nm2,2026-03-09,1,20.0\n")
    code, out, _ = sql(data, "SELECT bucket, sum(seconds) AS s FROM run_buckets GROUP BY ALL "
                             "ORDER BY bucket", "--format", "csv")
    assert (code, out) == (0, "bucket,s\nact,14.0\nthink,51.0\n")
    p95 = ("SELECT mantis_quantile(list_sort(list(total_time_s)), 0.95) AS p95 FROM runs "
           "WHERE status = 'succeeded'")
    assert sql(data, p95, "--format", "csv") == (0, "p95\n48.5\n", "")
    store = RunStore(data)
    assert store.sql(readme_query()).to_pylist()[0] == {
        "model": "m1", "week": datetime(2026, 5, 11).date(), "runs": 1, "median_s": 40.0}
    assert store.sql(p95).to_pylist() == [{"p95": 48.5}]
    assert [r["run_id"] for r in store.runs(last=2)] == ["r5", "r4"]
    got = store.get("r1")
    assert got is not None and got["total_time_s"] == 10.0


@pytest.mark.parametrize(("query", "expected"), [
    ("DESCRIBE SELECT run_id, total_time_s FROM runs",
     "column_name,column_type,null,key,default,extra\nrun_id,VARCHAR,YES,,,\n"
     "total_time_s,DOUBLE,YES,,,\n"),
    ("SELECT column_name, min, max, count FROM (SUMMARIZE SELECT total_time_s FROM runs)",
     "column_name,min,max,count\ntotal_time_s,10.0,50.0,5\n"),
    ("CALL pragma_table_info('run_costs')",
     "cid,name,type,notnull,dflt_value,pk\n0,run_id,VARCHAR,false,,false\n"
     "1,workflow_id,VARCHAR,false,,false\n2,status,VARCHAR,false,,false\n"
     "3,model,VARCHAR,false,,false\n4,finished_at,TIMESTAMP WITH TIME ZONE,false,,false\n"
     "5,item,VARCHAR,false,,false\n6,cost,DOUBLE,false,,false\n"),
    ("SELECT name FROM (SHOW TABLES) ORDER BY name",
     "name\nrun_buckets\nrun_costs\nrun_events\nrun_events_bad_lines\nruns\nruns_bad_lines\n"),
    ("FROM runs SELECT run_id WHERE total_time_s > 45", "run_id\nr5\n"),
    ("VALUES (1, 'a')", "col0,col1\n1,a\n"),
])
def test_read_only_statements_work(data: Path, query: str, expected: str) -> None:
    assert sql(data, query, "--format", "csv") == (0, expected, "")


def test_explain_and_explain_analyze_of_a_query(data: Path) -> None:
    for query in ("EXPLAIN SELECT count(*) FROM runs",
                  "EXPLAIN ANALYZE SELECT count(*) FROM runs",
                  "/* why slow? */ EXPLAIN (FORMAT json) SELECT count(*) FROM runs",
                  "EXPLAIN ANALYZE (SELECT count(*) FROM runs)"):  # a query, not options
        t = RunStore(data).sql(query)
        assert t.column_names == ["explain_key", "explain_value"], query
        assert t.num_rows == 1


# -- RunStore.connect() and relation() ----------------------------------------------------------

def test_connect_reads_only_the_store_and_its_settings_are_fixed(data: Path,
                                                                 tmp_path: Path) -> None:
    secret, out = tmp_path / "secret.txt", tmp_path / "out.csv"
    secret.write_text("hunter2\n")
    before = tree(data)
    con = RunStore(data).connect()
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(5,)]
        with pytest.raises(duckdb.PermissionException, match="Cannot access file"):
            con.execute(f"SELECT * FROM read_text('{secret}')")
        with pytest.raises(duckdb.PermissionException, match="Cannot access file"):
            con.execute(f"COPY (FROM runs) TO '{out}'")
        with pytest.raises(duckdb.PermissionException, match="Cannot access file"):
            con.execute(f"ATTACH '{tmp_path / 'new.db'}'")
        with pytest.raises(duckdb.PermissionException, match="Cannot access file"):
            con.execute(f"COPY (FROM runs) TO '{data / 'runs_log' / '2026-06.jsonl'}'")
        for setting in ("SET enable_external_access = true", "SET lock_configuration = false",
                        "SET allowed_paths = ['/']", "SET memory_limit = '8GB'"):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been "
                                                                   "locked"):
                con.execute(setting)
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(5,)]
    finally:
        con.close()
    assert not out.exists() and not (tmp_path / "new.db").exists()
    assert tree(data) == before


def test_relation_is_over_a_locked_connection(data: Path) -> None:
    rel = RunStore(data).relation()
    assert rel.aggregate("count(*)").fetchall() == [(5,)]
    with pytest.raises(duckdb.PermissionException, match='Cannot access file "/etc/passwd"'):
        rel.query("r", "SELECT * FROM read_text('/etc/passwd')").fetchall()


def test_a_locked_connection_still_spills_to_its_temp_directory(tmp_path: Path) -> None:
    query = ("SELECT count(*), min(s), max(s) FROM (SELECT md5(i::VARCHAR) AS s "
             "FROM range(1500000) t(i) ORDER BY s)")
    reference = duckdb.connect()
    try:
        expected = reference.execute(query).fetchall()
    finally:
        reference.close()
    assert expected[0][0] == 1500000
    # The sort is bigger than the memory limit: without a temp directory it fails ...
    con = connect(memory_limit="32MB", threads=1, temp_directory=tmp_path / "spill")
    try:
        con.execute("SET temp_directory = ''")
        with pytest.raises(duckdb.OutOfMemoryException):
            con.execute(query).fetchall()
    finally:
        con.close()
    # ... and a locked-down connection still spills to the one connect() gave it
    con = connect(memory_limit="32MB", threads=1, temp_directory=tmp_path / "spill")
    try:
        lock_down(con, [])
        assert con.execute(query).fetchall() == expected
    finally:
        con.close()


def test_a_data_dir_with_glob_characters_still_reads(tmp_path: Path) -> None:
    # The views name such files with [*]-style classes; DuckDB checks both spellings.
    d = tmp_path / "runs*[1]"
    write_rows(d, ROWS[3:])
    assert sql(d, "SELECT count(*) AS n FROM runs", "--format", "csv") == (0, "n\n2\n", "")
    assert [r["run_id"] for r in RunStore(d).runs()] == ["r5", "r4"]


# -- --output FILE ------------------------------------------------------------------------------

def test_output_writes_the_result_to_a_file(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    code, stdout, _ = sql(data, readme_query(), "--format", "csv")
    assert code == 0
    assert sql(data, readme_query(), "--format", "csv", "--output", str(out)) == (
        0, "", f"wrote {out}\n")
    assert out.read_text(encoding="utf-8") == stdout
    # no rows in jsonl is an empty file
    assert sql(data, "SELECT 1 AS n WHERE false", "--format", "jsonl", "--output",
               str(out))[0] == 0
    assert out.read_bytes() == b""


@pytest.mark.parametrize("target", ["{live}", "{data}/runs_log/2026-06.jsonl",
                                    "{data}/notes.txt", "{cache}/mantis/x.csv"])
def test_output_never_lands_in_the_store(data: Path, tmp_path: Path, target: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = tree(data)
    path = Path(target.format(live=live(data), data=data, cache=tmp_path / "cache"))
    code, out, err = refused(data, "SELECT * FROM runs", "--format", "jsonl", "--output",
                             str(path))
    assert (code, out) == (2, "")
    where = "the data dir" if str(path).startswith(str(data)) else "mantis's cache"
    root = data if where == "the data dir" else tmp_path / "cache" / "mantis"
    assert err.endswith(f"Error: {path} is inside {where} ({root}): write results elsewhere\n")
    assert tree(data) == before and count(data) == 5
    assert path == live(data) or not path.exists()


def test_output_through_a_symbolic_link_into_the_store_is_refused(data: Path,
                                                                  tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(data / "runs_log")
    before = tree(data)
    code, _, err = sql(data, "SELECT * FROM runs", "--format", "jsonl", "--output",
                       str(link / "2026-05.jsonl"))
    assert code == 2 and "is inside the data dir" in err
    assert tree(data) == before


def test_a_failed_query_leaves_the_output_file_alone(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    out.write_text("keep me\n")
    code, _, err = sql(data, "SELECT nope FROM runs", "--output", str(out))
    assert code == 1 and err.startswith("error: query failed: Binder Error")
    assert sql(data, f"COPY runs TO '{out}'", "--output", str(out))[0] == 2
    assert out.read_text() == "keep me\n"
