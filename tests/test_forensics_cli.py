"""`mantis runs list/show/report/sql/views` through click's runner, with exact output.

The dataset is small and handwritten, with fixed finished_at timestamps in two months, so every
line of output (and every percentile of the baseline that `show` and `report` compare against:
the workflow's last 100 succeeded runs) can be checked by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs.log.record import format_timestamp

S1, S2, S3 = "20260301_100000_aaaa0001", "20260402_100000_aaaa0002", "20260402_110000_aaaa0003"
F1, LEGACY = "20260403_100000_bbbb0004", "legacy-run"

ROWS: list[dict[str, Any]] = [
    {"run_id": S1, "workflow_id": "wf", "status": "succeeded",
     "created_at": "2026-03-01T09:58:00Z", "finished_at": "2026-03-01T10:00:00Z",
     "total_time_s": 100.0, "wall_time_breakdown": {"think": 60.0, "act": 30.0},
     "cost_breakdown": {"llm": 0.5}, "model": "m1"},
    {"run_id": S2, "workflow_id": "wf", "status": "succeeded",
     "finished_at": "2026-04-02T10:00:00Z", "total_time_s": 120.0,
     "wall_time_breakdown": {"think": 70.0, "act": 40.0}, "model": "m1"},
    {"run_id": S3, "workflow_id": "wf", "status": "succeeded",
     "finished_at": "2026-04-02T11:00:00Z", "total_time_s": 90.0,
     "wall_time_breakdown": {"think": 50.0, "act": 35.0, "settle": 5.0}, "model": "m1"},
    {"run_id": F1, "workflow_id": "wf", "status": "failed",
     "created_at": "2026-04-03T09:56:40Z", "finished_at": "2026-04-03T10:00:00Z",
     "total_time_s": 200.0,
     "wall_time_breakdown": {"think": 150.0, "act": 37.0, "settle": 10.0},
     "cost_breakdown": {"llm": 1.25, "gpu": 0.5}, "model": "m2", "tenant_id": "t1",
     "steps_executed": 7, "viable": 1, "host": "h1",
     "error": "TimeoutError: page never loaded\nat step 3"},
    # no date prefix in the run_id; finished at the same instant as F1 (ties go by run_id)
    {"run_id": LEGACY, "workflow_id": "other", "status": "succeeded",
     "finished_at": "2026-04-03T10:00:00Z", "total_time_s": 5.0},
]

# The baseline of wf (S1, S2, S3), by numpy's linear rule:
#   think [50, 60, 70] -> p50 60, p95 60 + 10 * 0.9 = 69;  act [30, 35, 40] -> 35, 39.5;
#   settle [5] -> 5, 5;  total [90, 100, 120] -> 100, 100 + 20 * 0.9 = 118 (p99 119.6).

F1_JSON: dict[str, Any] = {
    "schema_version": 1, "run_id": F1, "tenant_id": "t1", "profile_id": None,
    "workflow_id": "wf", "plan_signature": None, "model": "m2", "status": "failed",
    "created_at": "2026-04-03T09:56:40Z", "finished_at": "2026-04-03T10:00:00Z",
    "total_time_s": 200.0,
    "wall_time_breakdown": {"think": 150.0, "act": 37.0, "settle": 10.0},
    "cost_breakdown": {"llm": 1.25, "gpu": 0.5}, "steps_executed": 7, "viable": 1,
    "error": "TimeoutError: page never loaded\nat step 3", "extra": {"host": "h1"},
}

LEGACY_JSON: dict[str, Any] = {
    "schema_version": 1, "run_id": LEGACY, "tenant_id": None, "profile_id": None,
    "workflow_id": "other", "plan_signature": None, "model": None, "status": "succeeded",
    "created_at": None, "finished_at": "2026-04-03T10:00:00Z", "total_time_s": 5.0,
    "wall_time_breakdown": {}, "cost_breakdown": {}, "steps_executed": None, "viable": None,
    "error": None, "extra": None,
}

F1_REPORT_JSON: dict[str, Any] = {
    "run": F1_JSON,
    "buckets": [
        {"bucket": "think", "seconds": 150.0, "share": 0.75, "p50": 60.0, "p95": 69.0, "n": 3,
         "verdict": "above p95"},
        {"bucket": "act", "seconds": 37.0, "share": 0.185, "p50": 35.0, "p95": 39.5, "n": 3,
         "verdict": "above p50"},
        {"bucket": "settle", "seconds": 10.0, "share": 0.05, "p50": 5.0, "p95": 5.0, "n": 1,
         "verdict": "above p95"},
    ],
    "unaccounted_s": 3.0,
    "baseline": {"run_count": 3, "status": "succeeded", "last": 100,
                 "total_time_s": {"p50": 100.0, "p95": 118.0, "p99": 119.6, "n": 3}},
    "cost_total": 1.75,
}

F1_WALL_TIME = (
    "Wall time (vs the last 3 succeeded runs of wf):\n"
    "  bucket           seconds    share    p50    p95\n"
    "  think             150.0s    75.0%  60.0s  69.0s  above p95\n"
    "  act                37.0s    18.5%  35.0s  39.5s  above p50\n"
    "  settle             10.0s     5.0%   5.0s   5.0s  above p95\n"
    "  (unaccounted)       3.0s     1.5%\n"
    "\n"
    "Cost:\n"
    "  gpu    0.5\n"
    "  llm    1.25\n"
    "  total  1.75\n"
    "\n"
    "Error:\n"
    "  TimeoutError: page never loaded\n"
    "  at step 3\n"
)

F1_REPORT_TEXT = (
    f"Run report: {F1}\n"
    "====================================\n"
    "\n"
    "  workflow: wf\n"
    "  status:   failed\n"
    "  model:    m2\n"
    "  created:  2026-04-03 09:56:40 UTC\n"
    "  finished: 2026-04-03 10:00:00 UTC\n"
    "  total:    200.0s\n"
    "  tenant:   t1\n"
    "  steps:    7\n"
    "  viable:   1\n"
    "\n"
    + F1_WALL_TIME +
    "\n"
    "Other fields:\n"
    '  host: "h1"\n'
)

LEGACY_REPORT_TEXT = (
    "Run report: legacy-run\n"
    "======================\n"
    "\n"
    "  workflow: other\n"
    "  status:   succeeded\n"
    "  finished: 2026-04-03 10:00:00 UTC\n"
    "  total:    5.0s\n"
)

LIST_HEADER = ("finished (UTC)       status     workflow    run_id                      total"
               "  model    error\n")
LIST_LINES = {
    LEGACY: "2026-04-03 10:00:00  succeeded  other       legacy-run                   5.0s\n",
    F1: ("2026-04-03 10:00:00  failed     wf          20260403_100000_bbbb0004   200.0s  m2"
         "       TimeoutError: page never loaded at step 3\n"),
    S3: "2026-04-02 11:00:00  succeeded  wf          20260402_110000_aaaa0003    90.0s  m1\n",
    S2: "2026-04-02 10:00:00  succeeded  wf          20260402_100000_aaaa0002   120.0s  m1\n",
    S1: "2026-03-01 10:00:00  succeeded  wf          20260301_100000_aaaa0001   100.0s  m1\n",
}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    write_rows(d, ROWS)
    return d


# -- list ---------------------------------------------------------------------------------------


def test_list_table_newest_first_ties_by_run_id(data: Path) -> None:
    code, out, err = run_cli("runs", "list", "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert out == LIST_HEADER + "".join(LIST_LINES[r] for r in (LEGACY, F1, S3, S2, S1))


@pytest.mark.parametrize(("args", "expected"), [
    (["--last", "2"], [LEGACY, F1]),
    (["--status", "failed"], [F1]),
    (["--status", "succeeded", "--last", "3"], [LEGACY, S3, S2]),
    (["wf"], [F1, S3, S2, S1]),
    (["wf", "--status", "succeeded", "--last", "2"], [S3, S2]),
    (["other"], [LEGACY]),
    (["--since", "2026-04-02T10:30:00"], [LEGACY, F1, S3]),  # naive means UTC
    (["--since", "2026-04-02T12:30:00+02:00"], [LEGACY, F1, S3]),
    (["--since", "2026-04-01"], [LEGACY, F1, S3, S2]),
    (["wf", "--since", "2026-04-01", "--status", "succeeded"], [S3, S2]),
])
def test_list_filters(data: Path, args: list[str], expected: list[str]) -> None:
    code, out, err = run_cli("runs", "list", "--data-dir", str(data), *args)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["finished", "(UTC)", "status", "workflow", "run_id", "total",
                                "model", "error"]
    assert [line.split()[4] for line in lines[1:]] == expected
    code, out, err = run_cli("runs", "list", "--data-dir", str(data), *args, "--json")
    assert (code, err) == (0, "")
    assert [r["run_id"] for r in json.loads(out)] == expected


def test_list_filtered_text_is_exact(data: Path) -> None:
    assert run_cli("runs", "list", "--data-dir", str(data), "--status", "failed") == (0, (
        "finished (UTC)       status    workflow    run_id                      total  model"
        "    error\n"
        "2026-04-03 10:00:00  failed    wf          20260403_100000_bbbb0004   200.0s  m2"
        "       TimeoutError: page never loaded at step 3\n"), "")
    assert run_cli("runs", "list", "other", "--data-dir", str(data)) == (0, (
        "finished (UTC)       status     workflow    run_id        total  model    error\n"
        "2026-04-03 10:00:00  succeeded  other       legacy-run     5.0s\n"), "")


def test_list_since_duration_is_relative_to_now(data: Path) -> None:
    recent = {"run_id": "recent", "workflow_id": "wf", "status": "succeeded",
              "total_time_s": 1.0,
              "finished_at": format_timestamp(datetime.now(UTC) - timedelta(minutes=30))}
    write_rows(data, [recent])
    code, out, _ = run_cli("runs", "list", "--data-dir", str(data), "--since", "2h", "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == ["recent"]


def test_list_nothing_found(data: Path, tmp_path: Path) -> None:
    assert run_cli("runs", "list", "--data-dir", str(data), "ghost") == (0, "No runs found.\n", "")
    assert run_cli("runs", "list", "--data-dir", str(tmp_path / "empty")) == (
        0, "No runs found.\n", "")
    assert run_cli("runs", "list", "--data-dir", str(data), "ghost", "--json") == (0, "[]\n", "")


def test_list_json_shape(data: Path) -> None:
    code, out, err = run_cli("runs", "list", "--data-dir", str(data), "--json", "--last", "2")
    assert (code, err) == (0, "")
    assert json.loads(out) == [LEGACY_JSON, F1_JSON]
    assert out == json.dumps([LEGACY_JSON, F1_JSON], indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("args", [["--last", "0"], ["--since", "soon"]])
def test_list_usage_errors(data: Path, args: list[str]) -> None:
    code, out, err = run_cli("runs", "list", "--data-dir", str(data), *args)
    assert code == 2 and out == "" and "Invalid value" in err and "Traceback" not in err


# -- show ---------------------------------------------------------------------------------------


def test_show_text_against_the_workflow_baseline(data: Path) -> None:
    code, out, err = run_cli("runs", "show", F1, "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert out == (
        f"Run {F1}\n"
        "  workflow: wf\n"
        "  status:   failed\n"
        "  model:    m2\n"
        "  created:  2026-04-03 09:56:40 UTC\n"
        "  finished: 2026-04-03 10:00:00 UTC\n"
        "  total:    200.0s\n"
        "\n" + F1_WALL_TIME
    )


def test_show_a_succeeded_run_of_an_old_month(data: Path) -> None:
    code, out, err = run_cli("runs", "show", S1, "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert out == (
        f"Run {S1}\n"
        "  workflow: wf\n"
        "  status:   succeeded\n"
        "  model:    m1\n"
        "  created:  2026-03-01 09:58:00 UTC\n"
        "  finished: 2026-03-01 10:00:00 UTC\n"
        "  total:    100.0s\n"
        "\n"
        "Wall time (vs the last 3 succeeded runs of wf):\n"
        "  bucket           seconds    share    p50    p95\n"
        "  think              60.0s    60.0%  60.0s  69.0s\n"
        "  act                30.0s    30.0%  35.0s  39.5s\n"
        "  (unaccounted)      10.0s    10.0%\n"
        "\n"
        "Cost:\n"
        "  llm    0.5\n"
        "  total  0.5\n"
    )


def test_show_a_run_without_buckets_or_date_prefix(data: Path) -> None:
    assert run_cli("runs", "show", LEGACY, "--data-dir", str(data)) == (0, (
        "Run legacy-run\n"
        "  workflow: other\n"
        "  status:   succeeded\n"
        "  finished: 2026-04-03 10:00:00 UTC\n"
        "  total:    5.0s\n"), "")


def test_show_json_shape(data: Path) -> None:
    code, out, err = run_cli("runs", "show", F1, "--data-dir", str(data), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == F1_REPORT_JSON
    assert out.endswith("}\n") and not out.endswith("\n\n")


def test_show_json_without_baseline_buckets(data: Path) -> None:
    code, out, _ = run_cli("runs", "show", LEGACY, "--data-dir", str(data), "--json")
    assert code == 0
    assert json.loads(out) == {
        "run": LEGACY_JSON, "buckets": [], "unaccounted_s": 5.0,
        "baseline": {"run_count": 1, "status": "succeeded", "last": 100,
                     "total_time_s": {"p50": 5.0, "p95": 5.0, "p99": 5.0, "n": 1}},
        "cost_total": None,
    }


@pytest.mark.parametrize("cmd", [["show", "nope"], ["show", "nope", "--json"],
                                 ["report", "--run-id", "nope"],
                                 ["report", "--run-id", "20260401_000000_deadbeef"]])
def test_unknown_run_id_is_one_line_and_exit_1(data: Path, cmd: list[str]) -> None:
    code, out, err = run_cli("runs", *cmd, "--data-dir", str(data))
    rid = cmd[1] if cmd[0] == "show" else cmd[2]
    assert (code, out, err) == (1, "", f"error: no run {rid!r} in {data}\n")


def test_report_on_an_empty_store(tmp_path: Path) -> None:
    assert run_cli("runs", "report", "--data-dir", str(tmp_path)) == (
        1, "", f"error: no runs in {tmp_path}\n")


# -- report -------------------------------------------------------------------------------------


def test_report_latest_is_the_default(data: Path) -> None:
    implicit = run_cli("runs", "report", "--data-dir", str(data))
    explicit = run_cli("runs", "report", "--latest", "--data-dir", str(data))
    assert implicit == explicit == (0, LEGACY_REPORT_TEXT, "")


def test_report_run_id_full_text(data: Path) -> None:
    assert run_cli("runs", "report", "--run-id", F1, "--data-dir", str(data)) == (
        0, F1_REPORT_TEXT, "")


def test_report_json(data: Path) -> None:
    code, out, err = run_cli("runs", "report", "--run-id", F1, "--format", "json",
                             "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert out == json.dumps(F1_REPORT_JSON, indent=2, ensure_ascii=False) + "\n"
    # show --json is the same document
    assert out == run_cli("runs", "show", F1, "--json", "--data-dir", str(data))[1]


@pytest.mark.parametrize(("fmt", "expected"), [
    ("text", F1_REPORT_TEXT),
    ("json", json.dumps(F1_REPORT_JSON, indent=2, ensure_ascii=False) + "\n"),
])
def test_report_output_file(data: Path, tmp_path: Path, fmt: str, expected: str) -> None:
    target = tmp_path / f"report.{fmt}"
    code, out, err = run_cli("runs", "report", "--run-id", F1, "--format", fmt,
                             "--output", str(target), "--data-dir", str(data))
    assert (code, out, err) == (0, "", f"wrote {target}\n")
    assert target.read_text(encoding="utf-8") == expected


def test_report_latest_and_run_id_is_a_usage_error(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "never.txt"
    code, out, err = run_cli("runs", "report", "--latest", "--run-id", F1,
                             "--output", str(target), "--data-dir", str(data))
    assert code == 2 and out == ""
    assert err.endswith("Error: give --latest or --run-id, not both\n")
    assert "Traceback" not in err and not target.exists()


def test_report_bad_format_is_a_usage_error(data: Path) -> None:
    code, _, err = run_cli("runs", "report", "--format", "yaml", "--data-dir", str(data))
    assert code == 2 and "Invalid value for '--format'" in err


# -- sql ----------------------------------------------------------------------------------------

QUERY = ("SELECT run_id, finished_at, total_time_s, wall_time_breakdown, "
         "extra->>'host' AS host, extra FROM runs WHERE workflow_id = 'wf' "
         "AND total_time_s >= 100 ORDER BY run_id")

SQL_RECORDS = [
    {"run_id": S1, "finished_at": "2026-03-01T10:00:00Z", "total_time_s": 100.0,
     "wall_time_breakdown": {"think": 60.0, "act": 30.0}, "host": None, "extra": None},
    {"run_id": S2, "finished_at": "2026-04-02T10:00:00Z", "total_time_s": 120.0,
     "wall_time_breakdown": {"think": 70.0, "act": 40.0}, "host": None, "extra": None},
    {"run_id": F1, "finished_at": "2026-04-03T10:00:00Z", "total_time_s": 200.0,
     "wall_time_breakdown": {"think": 150.0, "act": 37.0, "settle": 10.0}, "host": "h1",
     "extra": {"host": "h1"}},
]


def sql(data: Path, query: str, fmt: str | None = None) -> tuple[int, str, str]:
    return run_cli("runs", "sql", query, "--data-dir", str(data),
                   *([] if fmt is None else ["--format", fmt]))


def test_sql_table(data: Path) -> None:
    code, out, err = sql(data, QUERY)
    assert (code, err) == (0, "")
    assert out == (
        "run_id                    finished_at           total_time_s    wall_time_breakdown"
        "                            host    extra\n"
        "------------------------  --------------------  --------------  "
        "---------------------------------------------  ------  --------------\n"
        "20260301_100000_aaaa0001  2026-03-01T10:00:00Z  100.0           "
        '{"think": 60.0, "act": 30.0}\n'
        "20260402_100000_aaaa0002  2026-04-02T10:00:00Z  120.0           "
        '{"think": 70.0, "act": 40.0}\n'
        "20260403_100000_bbbb0004  2026-04-03T10:00:00Z  200.0           "
        '{"think": 150.0, "act": 37.0, "settle": 10.0}  h1      {"host": "h1"}\n'
        "(3 rows)\n"
    )


def test_sql_json(data: Path) -> None:
    code, out, err = sql(data, QUERY, "json")
    assert (code, err) == (0, "")
    assert out == json.dumps(SQL_RECORDS, indent=2) + "\n"


def test_sql_jsonl(data: Path) -> None:
    code, out, err = sql(data, QUERY, "jsonl")
    assert (code, err) == (0, "")
    assert out == "".join(json.dumps(r) + "\n" for r in SQL_RECORDS)
    assert out.splitlines()[2] == (
        '{"run_id": "20260403_100000_bbbb0004", "finished_at": "2026-04-03T10:00:00Z", '
        '"total_time_s": 200.0, "wall_time_breakdown": {"think": 150.0, "act": 37.0, '
        '"settle": 10.0}, "host": "h1", "extra": {"host": "h1"}}')


def test_sql_csv(data: Path) -> None:
    code, out, err = sql(data, QUERY, "csv")
    assert (code, err) == (0, "")
    assert out == (
        "run_id,finished_at,total_time_s,wall_time_breakdown,host,extra\n"
        '20260301_100000_aaaa0001,2026-03-01T10:00:00Z,100.0,"{""think"": 60.0, ""act"": 30.0}"'
        ",,\n"
        '20260402_100000_aaaa0002,2026-04-02T10:00:00Z,120.0,"{""think"": 70.0, ""act"": 40.0}"'
        ",,\n"
        '20260403_100000_bbbb0004,2026-04-03T10:00:00Z,200.0,"{""think"": 150.0, ""act"": 37.0,'
        ' ""settle"": 10.0}",h1,"{""host"": ""h1""}"\n'
    )


@pytest.mark.parametrize(("fmt", "expected"), [
    ("table", "n\n---\n(0 rows)\n"),
    ("json", "[]\n"),
    ("jsonl", ""),  # no rows is no output, not a blank line
    ("csv", "n\n"),
])
def test_sql_no_rows(data: Path, fmt: str, expected: str) -> None:
    assert sql(data, "SELECT 1 AS n WHERE false", fmt) == (0, expected, "")


def test_sql_long_views_and_aggregates(data: Path) -> None:
    code, out, _ = sql(data, "SELECT bucket, count(*) AS runs, sum(seconds) AS s FROM run_buckets "
                             "GROUP BY bucket ORDER BY bucket", "csv")
    assert (code, out) == (0, "bucket,runs,s\nact,4,142.0\nsettle,2,15.0\nthink,4,330.0\n")
    code, out, _ = sql(data, "SELECT run_id, item, cost FROM run_costs ORDER BY ALL", "csv")
    assert (code, out) == (0, f"run_id,item,cost\n{S1},llm,0.5\n{F1},gpu,0.5\n{F1},llm,1.25\n")
    code, out, _ = sql(data, "SELECT mantis_quantile(list_sort(list(total_time_s)), 0.95) AS p95 "
                             "FROM runs WHERE workflow_id = 'wf' AND status = 'succeeded'",
                       "csv")
    assert (code, out) == (0, "p95\n118.0\n")
    code, out, _ = sql(data, "SELECT count(*) AS n, min(finished_at) AS first, "
                             "max(created_at)::DATE AS day FROM runs", "jsonl")
    assert (code, out) == (0, '{"n": 5, "first": "2026-03-01T10:00:00Z", "day": "2026-04-03"}\n')


def test_sql_error_is_one_line_and_exit_1(data: Path) -> None:
    code, out, err = sql(data, "SELECT nope FROM runs")
    assert code == 1 and out == ""
    assert err.startswith('error: query failed: Binder Error: Referenced column "nope" not found')
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err


def test_sql_parser_error_is_one_line(data: Path) -> None:
    code, out, err = sql(data, "SELEC 1")
    assert (code, out) == (1, "")
    assert err.startswith("error: query failed: Parser Error: syntax error at or near \"SELEC\"")
    assert err.count("\n") == 1


def test_sql_empty_query_is_a_usage_error(data: Path) -> None:
    code, out, err = sql(data, "  ")
    assert (code, out) == (2, "")
    assert err.endswith("Error: the query is empty\n") and "Traceback" not in err


def test_sql_refuses_several_statements(data: Path) -> None:
    code, out, err = sql(data, "SELECT 1 AS a; SELECT 2 AS b")
    assert (code, out) == (2, "")
    assert err.endswith("Error: one SQL statement at a time, got 2 (for scripts, use `mantis "
                        "runs shell` or the SQL of `mantis runs views`)\n")
    code, out, err = sql(data, "SELECT 1 AS a;")  # a trailing semicolon is one statement
    assert (code, err) == (0, "") and out.split() == ["a", "---", "1", "(1", "row)"]


def test_sql_warns_about_malformed_lines_on_stderr(data: Path) -> None:
    # logging is configured by main(); under pytest the root logger already has handlers, so
    # this runs as a real process.
    shard = data / "runs_log" / "2026-04.jsonl"
    append_bytes(shard, b"garbage\n")
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "sql",
                        "SELECT count(*) AS n FROM runs", "--format", "csv",
                        "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "n\n5\n")
    assert p.stderr == "warning: skipped 1 malformed line (2026-04.jsonl: 1)\n"


@pytest.mark.parametrize("cmd", [["list"], ["list", "wf", "--last", "3"], ["show", F1],
                                 ["report", "--run-id", S1], ["report", "--format", "json"]])
def test_every_read_warns_once_about_malformed_lines(data: Path, cmd: list[str]) -> None:
    append_bytes(data / "runs_log" / "2026-04.jsonl", b'garbage\n{"no": "run_id"}\n')
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", *cmd,
                        "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    assert p.stderr == "warning: skipped 2 malformed lines (2026-04.jsonl: 2)\n"
    assert p.stdout == run_cli("runs", *cmd, "--data-dir", str(data))[1]  # output is unchanged


# -- views --------------------------------------------------------------------------------------


def test_views_script_runs_in_a_fresh_duckdb(data: Path) -> None:
    code, script, err = run_cli("runs", "views", "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert script.startswith("-- mantis-runs views. Generated by `mantis runs views`")
    assert script.endswith(";\n")
    con = duckdb.connect()
    try:
        con.execute(script)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM run_buckets").fetchone() == (10,)
        assert con.execute("SELECT count(*) FROM run_costs").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM runs_bad_lines").fetchone() == (0,)
        assert con.execute("SELECT extra->>'host' FROM runs WHERE run_id = $r",
                           {"r": F1}).fetchone() == ("h1",)
    finally:
        con.close()


def test_views_script_counts_match_the_cli(data: Path) -> None:
    # the same count through `mantis runs sql`, and both see a new row only when regenerated
    code, script, _ = run_cli("runs", "views", "--data-dir", str(data))
    assert code == 0
    assert sql(data, "SELECT count(*) AS n FROM runs", "csv")[1] == "n\n5\n"
    write_rows(data, [{**ROWS[0], "run_id": "new", "finished_at": "2026-05-01T00:00:00Z"}])
    con = duckdb.connect()
    try:
        con.execute(script)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (5,)  # a snapshot
        code, fresh, _ = run_cli("runs", "views", "--data-dir", str(data))
        con.execute(fresh)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (6,)
    finally:
        con.close()
    assert sql(data, "SELECT count(*) AS n FROM runs", "csv")[1] == "n\n6\n"


def test_views_on_an_empty_data_dir(tmp_path: Path) -> None:
    code, script, _ = run_cli("runs", "views", "--data-dir", str(tmp_path / "none"))
    assert code == 0
    con = duckdb.connect()
    try:
        con.execute(script)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    finally:
        con.close()
