"""`mantis runs stats` and `mantis runs demo` through click's runner, with exact output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs.log.record import format_timestamp

T0 = datetime.now(UTC) - timedelta(hours=1)

ALL = ["p50", "p95", "p99"]  # rough at n < 6


def rows() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(1, 5):
        bd = {"think": 10.0 * i, "act": float(i), "load": 0.5}
        if i == 4:
            del bd["act"]
        out.append({"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded",
                    "finished_at": format_timestamp(T0 - timedelta(minutes=i)),
                    "total_time_s": 12.0 * i, "wall_time_breakdown": bd})
    out.append({"run_id": "f1", "workflow_id": "wf", "status": "failed",
                "finished_at": format_timestamp(T0), "total_time_s": 100.0,
                "wall_time_breakdown": {"think": 90.0}})
    return out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_rows(tmp_path, rows())
    return tmp_path


def _minute(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


ROUGH_ALL = ("~ rough: too few runs for a bounded 95% interval (p50 needs 6, p95 needs 72, "
             "p99 needs 368 runs).\n")


def test_table(data: Path) -> None:
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert out == (
        "Across last 4 succeeded runs of wf:\n"
        "\n"
        "bucket            p50      p95      p99    n\n"
        "────────────────────────────────────────────\n"
        "think          ~25.0s   ~38.5s   ~39.7s    4\n"
        "act             ~2.0s    ~2.9s    ~3.0s    3\n"
        "load          ~0.500s  ~0.500s  ~0.500s    4\n"
        "────────────────────────────────────────────\n"
        "total_time_s   ~30.0s   ~46.2s   ~47.6s    4\n"
        "\n"
        "Failure rate: 20.0% (1 of 5 runs finished since "
        f"{_minute(T0 - timedelta(minutes=4))} UTC).\n"
        f"{ROUGH_ALL}"
    )


def test_table_with_status_and_bucket(data: Path) -> None:
    code, out, _ = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--status", "",
                           "--bucket", "think", "--last", "2")
    assert code == 0
    assert out == (
        "Across last 2 runs (any status) of wf:\n"
        "\n"
        "bucket           p50     p95     p99    n\n"
        "─────────────────────────────────────────\n"
        "think         ~50.0s  ~86.0s  ~89.2s    2\n"
        "─────────────────────────────────────────\n"
        "total_time_s  ~56.0s  ~95.6s  ~99.1s    2\n"
        "\n"
        "Failure rate: 50.0% (1 of 2 runs finished since "
        f"{_minute(T0 - timedelta(minutes=1))} UTC).\n"
        f"{ROUGH_ALL}"
    )


def test_json(data: Path) -> None:
    code, out, _ = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json",
                           "--bucket", "act", "--bucket", "nope")
    assert code == 0
    doc = json.loads(out)
    assert doc == {
        "workflow_id": "wf", "run_count": 4, "status": "succeeded", "last": 100, "since": None,
        "percentiles": {
            "act": {"p50": 2.0, "p95": 2.9, "p99": 2.98, "n": 3, "rough": ALL},
            "nope": {"p50": None, "p95": None, "p99": None, "n": 0, "rough": []},
            "total_time_s": {"p50": 30.0, "p95": 46.199999999999996, "p99": 47.64, "n": 4,
                             "rough": ["p50", "p95", "p99"]},
        },
        "skipped_lines": {},
        # the window opens at the oldest reported run (r4): r1-r4 and the failed f1 since
        "failures": {"since": format_timestamp(T0 - timedelta(minutes=4)), "failed": 1,
                     "runs": 5, "rate": 0.2},
        "confidence": 0.95,
        "needed_runs": {"p50": 6, "p95": 72, "p99": 368},
    }


def test_json_since_is_utc_text_like_list_and_show(data: Path) -> None:
    # `since` was written "...+00:00" where list --json and show --json write instants "...Z"
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json",
                             "--since", "2026-04-01T12:30:00+02:00")
    assert (code, err) == (0, "")
    assert json.loads(out)["since"] == "2026-04-01T10:30:00Z"
    code, out, _ = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json",
                           "--since", "0999-01-01T00:00:00.5")
    assert code == 0 and json.loads(out)["since"] == "0999-01-01T00:00:00.500000Z"


def test_no_runs(tmp_path: Path) -> None:
    (tmp_path / "runs_log").mkdir()  # a store with no runs yet (a bare folder is an error)
    assert run_cli("runs", "stats", "ghost", "--data-dir", str(tmp_path)) == (
        0, "No succeeded runs of ghost found.\n", "")
    code, out, _ = run_cli("runs", "stats", "ghost", "--data-dir", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["run_count"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "7x"], "Invalid value for '--since'"),
    (["--last", "0"], "Invalid value for '--last'"),
    (["--last", "many"], "Invalid value for '--last'"),
])
def test_usage_errors_exit_2(data: Path, args: list[str], message: str) -> None:
    code, _, err = run_cli("runs", "stats", "wf", "--data-dir", str(data), *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_malformed_lines_warn_once_on_stderr(data: Path) -> None:
    shard = next((data / "runs_log").glob("*.jsonl"))
    append_bytes(shard, b"garbage\n\x00\x00\n")
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json")
    assert code == 0 and json.loads(out)["skipped_lines"] == {shard.name: 2}
    assert err == f"warning: skipped 2 malformed lines ({shard.name}: 2)\n"


def test_since_before_year_1000(data: Path) -> None:
    # the month of --since is zero-padded like the shards' names ("0999-01", not "999-01")
    code, out, err = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--since",
                             "0999-01-01", "--bucket", "load")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "Across last 4 succeeded runs of wf finished since 0999-01-01 00:00 UTC:")


def test_since_window(data: Path) -> None:
    code, out, _ = run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json",
                           "--since", "30d")
    assert code == 0 and json.loads(out)["run_count"] == 4
    old = {"run_id": "old", "workflow_id": "wf", "status": "succeeded", "total_time_s": 1,
           "finished_at": format_timestamp(T0 - timedelta(days=9))}
    write_rows(data, [old])
    counts = [json.loads(run_cli("runs", "stats", "wf", "--data-dir", str(data), "--json",
                                 "--since", s)[1])["run_count"] for s in ("7d", "2w", "240h")]
    assert counts == [4, 5, 5]


def test_env_data_dir(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANTIS_DATA_DIR", str(data))
    code, out, _ = run_cli("runs", "stats", "wf", "--json")
    assert code == 0 and json.loads(out)["run_count"] == 4


def test_demo_writes_and_prints(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    code, out, err = run_cli("runs", "demo", "--data-dir", str(target), "--runs", "120")
    assert code == 0, err
    assert out.startswith(f"Wrote 120 runs of 5 workflows to {target}\n\nAcross last ")
    assert "total_time_s" in out and "Next, try:" in out
    assert len(list((target / "runs_log").glob("*.jsonl"))) >= 3  # about three months


def test_python_dash_m_works_the_same(data: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", "stats", "wf",
                        "--data-dir", str(data)], capture_output=True, text=True, check=True)
    assert p.stdout == run_cli("runs", "stats", "wf", "--data-dir", str(data))[1]


@pytest.mark.parametrize("command", [["stats", "wf"], ["list"], ["compact"], ["sql", "FROM runs"]])
def test_a_data_dir_that_is_a_file_is_an_error(tmp_path: Path, command: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "afile"
    target.write_text("not a directory")
    monkeypatch.setenv("MANTIS_DATA_DIR", str(target))
    code, out, err = run_cli("runs", *command)
    assert (code, out) == (1, "")
    assert err == f"error: {target} is not a directory\n"


# -- hardening: typos in options and names, the demo and a real store -----------------------------


@pytest.mark.parametrize("command", [["stats", "wf"], ["list"], ["list", "wf"]])
@pytest.mark.parametrize("status", ["succeded", "SUCCEEDED", "ok"])
def test_a_status_no_run_can_have_is_a_usage_error(data: Path, command: list[str],
                                                   status: str) -> None:
    # it answered "No succeded runs of wf found." (exit 0)
    code, out, err = run_cli("runs", *command, "--status", status, "--data-dir", str(data))
    assert (code, out) == (2, "")
    assert err.endswith(f"Error: Invalid value for '--status': must be 'succeeded', 'failed' or "
                        f"'' (every status), got '{status}'\n")


@pytest.mark.parametrize("status", ["succeeded", "failed", ""])
def test_every_real_status_is_accepted(data: Path, status: str) -> None:
    code, out, _ = run_cli("runs", "stats", "wf", "--status", status, "--data-dir", str(data),
                           "--json")
    assert code == 0 and json.loads(out)["run_count"] == {"succeeded": 4, "failed": 1, "": 5}[
        status]


def test_an_unknown_workflow_hints_at_similar_ones(data: Path) -> None:
    write_rows(data, [{"run_id": "o1", "workflow_id": "wf-other", "status": "succeeded",
                       "finished_at": format_timestamp(T0), "total_time_s": 1.0}])
    assert run_cli("runs", "stats", "wff", "--data-dir", str(data)) == (
        0, "No succeeded runs of wff found.\n",
        "hint: no run has the workflow wff; similar ones: wf\n")
    code, out, err = run_cli("runs", "stats", "wf-othr", "--data-dir", str(data), "--json")
    assert (code, json.loads(out)["run_count"]) == (0, 0)
    assert err == "hint: no run has the workflow wf-othr; similar ones: wf-other\n"
    assert run_cli("runs", "list", "wff", "--data-dir", str(data)) == (
        0, "No runs found.\n", "hint: no run has the workflow wff; similar ones: wf\n")
    # a workflow that has runs, none matching: no hint; nothing close: no hint either
    assert run_cli("runs", "stats", "wf", "--since", "2999-01-01", "--data-dir", str(data))[2] == ""
    assert run_cli("runs", "list", "wf", "--since", "2999-01-01", "--data-dir", str(data)) == (
        0, "No runs found.\n", "")
    assert run_cli("runs", "stats", "nightly-deploy", "--data-dir", str(data)) == (
        0, "No succeeded runs of nightly-deploy found.\n", "")


@pytest.mark.parametrize("command", [["stats", "wf"], ["list"]])
def test_last_help_says_at_least_1_and_keeps_its_range(data: Path, command: list[str]) -> None:
    from mantis_runs.cli.main import MAX_LAST

    code, out, _ = run_cli("runs", *command[:1], "--help")
    assert code == 0
    assert "--last N " in out and "at least 1." in out
    assert str(MAX_LAST) not in out and "<=x<=" not in out  # was 1<=x<=4611686018427387904
    assert run_cli("runs", *command, "--last", str(MAX_LAST), "--data-dir", str(data))[0] == 0
    for bad, why in (("0", "0 is less than 1."), (str(MAX_LAST + 1),
                                                 f"{MAX_LAST + 1} is more than {MAX_LAST}."),
                     ("many", "'many' is not a valid integer.")):
        code, out, err = run_cli("runs", *command, "--last", bad, "--data-dir", str(data))
        assert (code, out) == (2, "")
        assert err.endswith(f"Error: Invalid value for '--last': {why}\n"), err


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    assert run_cli("runs", "demo", "--data-dir", str(target), "--runs", "40")[0] == 0
    shards = {p: p.read_bytes() for p in (target / "runs_log").glob("*.jsonl")}
    # it added 40 more made-up runs to the store without a word
    assert run_cli("runs", "demo", "--data-dir", str(target), "--runs", "40") == (
        1, "", f"error: {target} is not empty: the demo writes 40 made-up runs, so it wants a "
               "new or empty folder (--append adds them anyway)\n")
    assert {p: p.read_bytes() for p in (target / "runs_log").glob("*.jsonl")} == shards
    # a folder that is no store is not written into either
    other = tmp_path / "project"
    other.mkdir()
    (other / "README").write_text("mine")
    code, _, err = run_cli("runs", "demo", "--data-dir", str(other), "--runs", "10")
    assert code == 1 and err.startswith(f"error: {other} is not empty: ")
    assert sorted(p.name for p in other.iterdir()) == ["README"]
    # told to, it adds them; an existing empty folder needs no telling
    code, out, _ = run_cli("runs", "demo", "--data-dir", str(target), "--runs", "40", "--append")
    assert code == 0 and out.startswith(f"Wrote 40 runs of 5 workflows to {target}\n")
    assert sum(len(b.splitlines()) for b in
               (p.read_bytes() for p in (target / "runs_log").glob("*.jsonl"))) == 80
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("runs", "demo", "--data-dir", str(empty), "--runs", "10")[0] == 0
