"""`mantis runs list/show/report/sql/views` through click's runner, with exact output.

The dataset is small and handwritten, with fixed finished_at timestamps in two months, so every
line of output (and every percentile of the baseline that `show` and `report` compare against:
the workflow's last 100 succeeded runs before the run) can be checked by hand.
"""

from __future__ import annotations

import json
import re
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
                 "total_time_s": {"p50": 100.0, "p95": 118.0, "p99": 119.6, "n": 3,
                                  "rough": ["p50", "p95", "p99"]}},
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
    (tmp_path / "empty" / "runs_log").mkdir(parents=True)  # a store with no runs yet
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
        # the first run of wf: no run before it to compare with (it was compared with the newest
        # runs, itself and later ones included)
        "Wall time:\n"
        "  bucket           seconds    share    p50    p95\n"
        "  think              60.0s    60.0%      —      —\n"
        "  act                30.0s    30.0%      —      —\n"
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
        # the only run of its workflow: none before it (it was its own baseline)
        "baseline": {"run_count": 0, "status": "succeeded", "last": 100,
                     "total_time_s": {"p50": None, "p95": None, "p99": None, "n": 0,
                                      "rough": []}},
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
    (tmp_path / "runs_log").mkdir()  # a store with no runs yet (a bare folder is an error)
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
    (tmp_path / "none" / "runs_log").mkdir(parents=True)  # a store with no runs yet
    code, script, _ = run_cli("runs", "views", "--data-dir", str(tmp_path / "none"))
    assert code == 0
    con = duckdb.connect()
    try:
        con.execute(script)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    finally:
        con.close()


# -- rendering: every digit, DuckDB's text, control and wide characters -------------------------


def test_sql_prints_every_digit_and_duckdb_text(data: Path) -> None:
    # sum() of BIGINTs printed 9007199254740992.0, an INTERVAL [0, 0, 103141000000]
    q = ("SELECT sum(steps_executed) + 9007199254740986 AS big, "
         "max(finished_at) - min(finished_at) AS span, INTERVAL '103.141 seconds' AS iv, "
         "sum(total_time_s)::DECIMAL(18,3) AS dec, 0.1::FLOAT AS f, 'nan'::DOUBLE AS nan, "
         "TIMESTAMP_NS '2026-04-03 10:00:00.123456789' AS ns FROM runs")
    assert sql(data, q) == (0, (
        "big               span     iv            dec      f    nan    ns\n"
        "----------------  -------  ------------  -------  ---  -----  "
        "-----------------------------\n"
        "9007199254740993  33 days  00:01:43.141  515.000  0.1  nan    "
        "2026-04-03T10:00:00.123456789\n"
        "(1 row)\n"), "")
    record = ('{"big": 9007199254740993, "span": "33 days", "iv": "00:01:43.141", '
              '"dec": 515.000, "f": 0.1, "nan": null, "ns": "2026-04-03T10:00:00.123456789"}')
    assert sql(data, q, "jsonl") == (0, record + "\n", "")
    code, out, _ = sql(data, q, "json")
    assert code == 0 and json.loads(out) == [json.loads(record)]
    assert json.loads(out, parse_int=str)[0]["big"] == "9007199254740993"  # an exact integer
    assert sql(data, q, "csv") == (0, (
        "big,span,iv,dec,f,nan,ns\n"
        "9007199254740993,33 days,00:01:43.141,515.000,0.1,nan,2026-04-03T10:00:00.123456789\n"),
        "")


def test_sql_types_arrow_has_no_type_for(data: Path) -> None:
    q = ("SELECT TIMETZ '12:34:56-05:30' AS t, "
         "340282366920938463463374607431768211455::UHUGEINT AS u, '0101'::BIT AS b")
    assert sql(data, q, "jsonl") == (0, (
        '{"t": "12:34:56-05:30", "u": 340282366920938463463374607431768211455, "b": "0101"}\n'),
        "")


HOSTILE: dict[str, Any] = {
    "run_id": "20260405_100000_cccc0005", "workflow_id": "wf\x1b]0;pwned\x07", "status": "failed",
    "finished_at": "2026-04-05T10:00:00Z", "total_time_s": 10.0,
    "wall_time_breakdown": {"think\x1b[2J": 6.0}, "cost_breakdown": {"gpu\x9b31m": 0.5},
    "model": "m\x7f", "error": "boom\x1b[31m\nat\tstep", "host": "h\x1b"}
#: Control characters a terminal acts on; text output may hold only line feeds.
ACTING = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    d = tmp_path / "hostile"
    write_rows(d, [HOSTILE])
    return d


@pytest.mark.parametrize(("cmd", "expected"), [
    (["list"], (
        "finished (UTC)       status    workflow            run_id                      total"
        "  model    error\n"
        "2026-04-05 10:00:00  failed    wf\\x1b]0;pwned\\x07  20260405_100000_cccc0005    10.0s"
        "  m\\x7f    boom\\x1b[31m at step\n")),
    (["show", HOSTILE["run_id"]], (
        "Run 20260405_100000_cccc0005\n"
        "  workflow: wf\\x1b]0;pwned\\x07\n"
        "  status:   failed\n"
        "  model:    m\\x7f\n"
        "  finished: 2026-04-05 10:00:00 UTC\n"
        "  total:    10.0s\n"
        "\n"
        "Wall time:\n"
        "  bucket           seconds    share    p50    p95\n"
        "  think\\x1b[2J        6.0s    60.0%      —      —\n"
        "  (unaccounted)       4.0s    40.0%\n"
        "\n"
        "Cost:\n"
        "  gpu\\x9b31m  0.5\n"
        "  total       0.5\n"
        "\n"
        "Error:\n"
        "  boom\\x1b[31m\n"
        "  at\\tstep\n")),
    (["stats", HOSTILE["workflow_id"], "--status", "failed"], (
        "Across last 1 failed runs of wf\\x1b]0;pwned\\x07:\n"
        "\n"
        "bucket           p50     p95     p99    n\n"
        "─────────────────────────────────────────\n"
        "think\\x1b[2J   ~6.0s   ~6.0s   ~6.0s    1\n"
        "─────────────────────────────────────────\n"
        "total_time_s  ~10.0s  ~10.0s  ~10.0s    1\n"
        "\n"
        "Failure rate: 100.0% (1 of 1 runs finished since 2026-04-05 10:00 UTC).\n"
        "~ rough: too few runs for a bounded 95% interval (p50 needs 6, p95 needs 72, p99 "
        "needs 368 runs).\n")),
    (["sql", "SELECT workflow_id, model, error, extra FROM runs"], (
        "workflow_id         model    error                   extra\n"
        "------------------  -------  ----------------------  -------------------\n"
        'wf\\x1b]0;pwned\\x07  m\\x7f    boom\\x1b[31m\\nat\\tstep  {"host": "h\\u001b"}\n'
        "(1 row)\n")),
    # CSV escapes too, but keeps line feeds and tabs (quoted); JSON is exact: see below
    (["sql", "SELECT workflow_id, model, error FROM runs", "--format", "csv"], (
        "workflow_id,model,error\n"
        'wf\\x1b]0;pwned\\x07,m\\x7f,"boom\\x1b[31m\nat\tstep"\n')),
])
def test_stored_control_characters_are_shown_not_obeyed(hostile: Path, cmd: list[str],
                                                         expected: str) -> None:
    # A workflow id holding ESC ] 0 ; ... BEL set the terminal's window title.
    code, out, err = run_cli("runs", *cmd, "--data-dir", str(hostile))
    assert (code, out, err) == (0, expected, "")
    tabs_allowed = cmd[-1] == "csv"  # CSV keeps tabs and line feeds, quoted
    assert ACTING.search(out.replace("\t", " ") if tabs_allowed else out) is None


def test_report_shows_control_characters_escaped(hostile: Path) -> None:
    code, out, err = run_cli("runs", "report", "--run-id", HOSTILE["run_id"],
                             "--data-dir", str(hostile))
    assert (code, err) == (0, "")
    assert ACTING.search(out) is None
    assert out.startswith("Run report: 20260405_100000_cccc0005\n"
                          "====================================\n\n"
                          "  workflow: wf\\x1b]0;pwned\\x07\n")
    assert out.endswith('Other fields:\n  host: "h\\u001b"\n')


@pytest.mark.parametrize("cmd", [["list", "--json"], ["show", HOSTILE["run_id"], "--json"],
                                 ["sql", "SELECT * FROM runs", "--format", "json"],
                                 ["sql", "SELECT * FROM runs", "--format", "jsonl"]])
def test_json_keeps_control_characters_exactly_and_safely(hostile: Path, cmd: list[str]) -> None:
    code, out, err = run_cli("runs", *cmd, "--data-dir", str(hostile))
    assert (code, err) == (0, "")
    assert ACTING.search(out) is None  # JSON escapes them: \u001b, \u007f, \u009b
    doc = json.loads(out)
    run = doc["run"] if cmd[0] == "show" else doc if cmd[-1] == "jsonl" else doc[0]
    assert {k: run[k] for k in ("workflow_id", "model", "error", "extra")} == {
        "workflow_id": HOSTILE["workflow_id"], "model": HOSTILE["model"],
        "error": HOSTILE["error"], "extra": {"host": "h\x1b"}}


def test_list_aligns_wide_characters(tmp_path: Path) -> None:
    # CJK and emoji take two terminal cells each; tabulate measures them with wcwidth
    write_rows(tmp_path, [
        {"run_id": "r-wide", "workflow_id": "日本語", "status": "succeeded",
         "finished_at": "2026-04-04T10:00:00Z", "total_time_s": 2.0, "model": "🚀",
         "error": "エラー" * 30},
        {"run_id": "r-narrow", "workflow_id": "wf", "status": "failed",
         "finished_at": "2026-04-03T10:00:00Z", "total_time_s": 20.0, "model": "m",
         "error": "x"}])
    assert run_cli("runs", "list", "--data-dir", str(tmp_path)) == (0, (
        "finished (UTC)       status     workflow    run_id      total  model    error\n"
        "2026-04-04 10:00:00  succeeded  日本語      r-wide       2.0s  🚀       "
        + "エラー" * 9 + "エラ…\n"  # 60 cells at most, the ellipsis included
        "2026-04-03 10:00:00  failed     wf          r-narrow    20.0s  m        x\n"), "")


def test_totals_that_are_not_finite_are_a_dash(tmp_path: Path) -> None:
    # hand-written lines: 1e999 reads as infinity; list printed `infs` and `nans`
    write_rows(tmp_path, [{**ROWS[4], "run_id": "r-ok", "finished_at": "2026-04-01T10:00:00Z"}])
    append_bytes(tmp_path / "runs_log" / "2026-04.jsonl", (
        b'{"run_id":"r-inf","workflow_id":"wf","status":"succeeded",'
        b'"finished_at":"2026-04-03T10:00:00Z","total_time_s":1e999}\n'
        b'{"run_id":"r-nan","workflow_id":"wf","status":"failed",'
        b'"finished_at":"2026-04-02T10:00:00Z","total_time_s":NaN}\n'))
    assert run_cli("runs", "list", "--data-dir", str(tmp_path)) == (0, (
        "finished (UTC)       status     workflow    run_id      total  model    error\n"
        "2026-04-03 10:00:00  succeeded  wf          r-inf           —\n"
        "2026-04-02 10:00:00  failed     wf          r-nan           —\n"
        "2026-04-01 10:00:00  succeeded  other       r-ok         5.0s\n"), "")
    for run_id in ("r-inf", "r-nan"):
        code, out, _ = run_cli("runs", "show", run_id, "--data-dir", str(tmp_path))
        assert code == 0 and "  total:    —\n" in out
    code, out, _ = sql(tmp_path, "SELECT run_id, total_time_s FROM runs ORDER BY run_id", "csv")
    assert (code, out) == (0, "run_id,total_time_s\nr-inf,inf\nr-nan,nan\nr-ok,5.0\n")


# -- hardening: hand-written values, the baseline, typos, the shell's stderr --------------------

ODD = ("odd", b'{"run_id": "odd", "workflow_id": "wf", "status": "failed", '
              b'"finished_at": "2026-04-05T10:00:00Z", "total_time_s": 100.0, '
              b'"wall_time_breakdown": {"think": null, "act": "slow", "settle": 20}, '
              b'"cost_breakdown": {"llm": null, "gpu": 0.5}}\n')

ODD_BODY = (
    "  workflow: wf\n"
    "  status:   failed\n"
    "  finished: 2026-04-05 10:00:00 UTC\n"
    "  total:    100.0s\n"
    "\n"
    "Wall time (vs the last 3 succeeded runs of wf):\n"
    "  bucket           seconds    share    p50    p95\n"
    "  settle             20.0s    20.0%   5.0s   5.0s  above p95\n"
    "  (unaccounted)      80.0s    80.0%\n"
    "\n"
    "Cost:\n"
    "  gpu    0.5\n"
    "  total  0.5\n"
)


def test_show_and_report_of_null_or_text_bucket_values(data: Path) -> None:
    # both crashed with a TypeError; a value that is not a number is no bucket and no cost
    append_bytes(data / "runs_log" / "2026-04.jsonl", ODD[1])
    assert run_cli("runs", "show", "odd", "--data-dir", str(data)) == (
        0, "Run odd\n" + ODD_BODY, "")
    assert run_cli("runs", "report", "--data-dir", str(data)) == (  # the newest run
        0, "Run report: odd\n===============\n\n" + ODD_BODY, "")
    code, out, err = run_cli("runs", "report", "--run-id", "odd", "--format", "json",
                             "--data-dir", str(data))
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["run"]["wall_time_breakdown"], doc["run"]["cost_breakdown"]) == (
        {"settle": 20.0}, {"gpu": 0.5})
    assert [b["bucket"] for b in doc["buckets"]] == ["settle"]
    assert (doc["unaccounted_s"], doc["cost_total"]) == (80.0, 0.5)


def test_show_compares_a_run_with_the_runs_before_it(data: Path) -> None:
    # S3 against S1 and S2 only: S3 itself is not in its baseline, nor are later runs
    assert run_cli("runs", "show", S3, "--data-dir", str(data)) == (0, (
        f"Run {S3}\n"
        "  workflow: wf\n"
        "  status:   succeeded\n"
        "  model:    m1\n"
        "  finished: 2026-04-02 11:00:00 UTC\n"
        "  total:    90.0s\n"
        "\n"
        "Wall time (vs the last 2 succeeded runs of wf):\n"
        "  bucket      seconds    share    p50    p95\n"
        "  think         50.0s    55.6%  65.0s  69.5s\n"
        "  act           35.0s    38.9%  35.0s  39.5s\n"
        "  settle         5.0s     5.6%      —      —\n"), "")


@pytest.mark.parametrize("args", [["--status", "succeded"], ["wf", "--status", "done"]])
def test_list_status_typo_is_a_usage_error(data: Path, args: list[str]) -> None:
    code, out, err = run_cli("runs", "list", *args, "--data-dir", str(data))
    assert (code, out) == (2, "")
    assert "Invalid value for '--status': must be 'succeeded', 'failed' or '' (every status)" \
        in err


def test_shell_prints_no_loading_line(data: Path, tmp_path: Path) -> None:
    """duckdb-cli's `-init FILE` printed a coloured "-- Loading resources from FILE" on stderr,
    into pipes and logs too; the views are loaded without it."""
    import os

    from mantis_runs.cli.shell import duckdb_binary
    from mantis_runs.errors import MantisError

    try:
        duckdb_binary()
    except MantisError:  # pragma: no cover - the 'shell' extra is not installed
        pytest.skip("the DuckDB shell (duckdb-cli) is missing")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "shell", "--data-dir",
                        str(data), "--", "-csv", "-c", "SELECT count(*) AS n FROM runs"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert (p.returncode, p.stdout, p.stderr) == (0, "n\n5\n", "")
    # stdin too (interactive use reads it): the views are there before the first statement
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "shell", "--data-dir",
                        str(data), "--", "-csv"], input="SELECT count(*) AS n FROM runs;\n",
                       capture_output=True, text=True, timeout=60, env=env)
    assert (p.returncode, p.stdout, p.stderr) == (0, "n\n5\n", "")


def test_show_an_open_run_of_one_of_several_data_dirs(data: Path, tmp_path: Path) -> None:
    """A run with events and no terminal row, in the second of two data dirs: `show` and
    `report --run-id` describe it as with that data dir alone (not "no run"); the events of
    the first data dir given that has any of the run's are read."""
    from mantis_runs import RunStore, append_events

    other = tmp_path / "other"
    write_rows(other, [{**ROWS[1], "run_id": "elsewhere"}])
    started = datetime(2026, 4, 5, 8, 0, tzinfo=UTC)
    assert append_events([{"run_id": "open-1", "type": "run_started", "ts": started,
                           "fields": {"workflow_id": "wf"}}], data_dir=other)
    both = ["--data-dir", str(data), "--data-dir", str(other)]
    alone = run_cli("runs", "show", "open-1", "--data-dir", str(other))
    assert alone[0] == 0 and alone[1].startswith("Run open-1: no terminal row\n")
    assert run_cli("runs", "show", "open-1", *both) == alone
    code, out, err = run_cli("runs", "report", "--run-id", "open-1", *both, "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == json.loads(run_cli("runs", "report", "--run-id", "open-1",
                                                 "--data-dir", str(other), "--format",
                                                 "json")[1])
    assert json.loads(out)["status"]["status"] == "lost"  # started long ago, nothing since
    # a finished run of either data dir is still its report; an unknown one is "no run"
    found = RunStore([data, other]).show("elsewhere")
    assert found.run["run_id"] == "elsewhere"  # type: ignore[union-attr]
    assert run_cli("runs", "show", "nope", *both) == (1, "", f"error: no run 'nope' in {data}\n")


def test_list_show_and_report_start_duckdb_ahead(data: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`list`, `show` and `report` of one data dir start the lookup's connection before they
    import the store (db/connecting.py ``connect_ahead``), and the lookup takes it; over several
    data dirs (no lookup shortcut) none is started."""
    from mantis_runs.db import connecting
    from mantis_runs.store import lookup

    ahead_when_taken: list[bool] = []
    real = lookup.taken

    def spy(*, events: bool) -> connecting.Connecting:
        ahead_when_taken.append(bool(connecting._ahead))
        return real(events=events)

    monkeypatch.setattr(lookup, "taken", spy)
    d = ["--data-dir", str(data)]
    for cmd in (["list"], ["show", F1], ["report", "--run-id", S2], ["report"]):
        assert run_cli("runs", *cmd, *d)[0] == 0, cmd
    assert ahead_when_taken == [True] * 4 and connecting._ahead == {}
    other = tmp_path / "other"
    write_rows(other, [{**ROWS[0], "run_id": "elsewhere"}])
    ahead_when_taken.clear()
    assert run_cli("runs", "show", F1, *d, "--data-dir", str(other))[0] == 0
    assert ahead_when_taken == [] and connecting._ahead == {}
