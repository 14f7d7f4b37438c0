"""What `failures`, `advise` and `tail` share on the command line: the one warning of skipped
malformed lines (the same as `stats`, before and after compaction), the hint after a window
without the workflow, text that fits 100 columns with long ids cut (never in --json), which
workflow a class names first, the sample-maximum bound of `advise`, and their --help."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from wcwidth import wcswidth

from helpers import run_cli, write_rows
from mantis_runs import RunStore
from mantis_runs.analysis.advise import advise
from mantis_runs.compaction import compact

LONG_WF = "wf-" + "w" * 130
LONG_BUCKET = "bucket_" + "b" * 60
LONG_MODEL = "model-" + "m" * 90
LONG_ERROR = "TimeoutError: " + "step " * 40  # its class is cut at 120 characters
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _rows() -> list[dict[str, Any]]:
    """400 runs of LONG_WF two days ago (totals 1..400 s; the 30 slowest have LONG_MODEL and
    every tenth of those fails with LONG_ERROR), and one error class in two workflows: 1 failure
    in a-wf, 3 in b-wf."""
    rows = []
    for i in range(400):
        slow = i >= 370
        failed = slow and i % 10 == 0
        rows.append({"run_id": f"run-{i:04d}-" + "r" * 40, "workflow_id": LONG_WF,
                     "status": "failed" if failed else "succeeded",
                     "finished_at": BASE + timedelta(minutes=i), "total_time_s": float(i + 1),
                     "model": LONG_MODEL if slow else "m1",
                     "wall_time_breakdown": {LONG_BUCKET: float(i) / 2, "think": float(i) / 2},
                     "error": LONG_ERROR if failed else None})
    for i, wf in enumerate(["a-wf", "b-wf", "b-wf", "b-wf"]):
        rows.append({"run_id": f"x{i}", "workflow_id": wf, "status": "failed",
                     "finished_at": BASE + timedelta(minutes=i), "total_time_s": 1.0,
                     "error": f"HTTP 503 from 10.0.0.{i}"})
    return rows


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("insights") / "d"
    write_rows(d, _rows())
    return d


COMMANDS = [("failures", LONG_WF), ("failures",), ("advise", LONG_WF), ("tail", LONG_WF)]


def _widths(out: str) -> list[int]:
    return [wcswidth(line) for line in out.splitlines()]


@pytest.mark.parametrize("args", COMMANDS)
def test_every_line_fits_100_columns_and_json_keeps_the_ids(store: Path,
                                                            args: tuple[str, ...]) -> None:
    code, out, err = run_cli("runs", *args, "--data-dir", str(store))
    assert (code, err) == (0, "")
    assert max(_widths(out)) <= 100, out
    assert "…" in out and LONG_WF not in out
    code, out, _ = run_cli("runs", *args, "--data-dir", str(store), "--json")
    assert code == 0 and (LONG_WF in out or args == ("failures",))
    assert LONG_BUCKET in out or args[0] != "advise"
    assert "…" not in out.replace(LONG_ERROR[:119] + "…", "")  # only the class's own cut


def test_tail_cuts_values_in_its_findings(store: Path) -> None:
    code, out, _ = run_cli("runs", "tail", LONG_WF, "--data-dir", str(store))
    assert code == 0 and LONG_MODEL[:35] + "…" in out
    doc = json.loads(run_cli("runs", "tail", LONG_WF, "--data-dir", str(store), "--json")[1])
    assert ("model", LONG_MODEL) in [(f["attribute"], f["value"]) for f in doc["findings"]]


def test_a_class_names_the_workflow_with_most_failures_first(store: Path) -> None:
    code, out, _ = run_cli("runs", "failures", "--data-dir", str(store), "--json")
    assert code == 0
    (http,) = [c for c in json.loads(out)["classes"] if c["class"] == "HTTP <n> from <ip>"]
    assert (http["workflows"], http["by_workflow"]) == (["b-wf", "a-wf"], {"b-wf": 3, "a-wf": 1})
    assert list(http["by_workflow"]) == ["b-wf", "a-wf"]
    _, out, _ = run_cli("runs", "failures", "--data-dir", str(store))
    assert "        HTTP <n> from <ip>  (in b-wf +1)\n" in out


def test_a_workflow_without_runs_in_the_window_is_named(store: Path) -> None:
    d = ("--data-dir", str(store))
    code, out, err = run_cli("runs", "failures", "nope", *d)
    assert (code, err) == (0, "hint: no run has the workflow nope\n")
    assert out.startswith("Failures of nope, since ") and "0 of 0 runs failed" in out
    code, _, err = run_cli("runs", "advise", "nope", *d)
    assert (code, err) == (2, "hint: no run has the workflow nope\n")
    code, _, err = run_cli("runs", "tail", "nope", *d)
    assert (code, err) == (2, "hint: no run has the workflow nope\n")
    code, _, err = run_cli("runs", "tail", "b-wg", *d)
    assert (code, err) == (2, "hint: no run has the workflow b-wg; similar ones: b-wf\n")
    later = (BASE + timedelta(days=1)).date().isoformat()  # the workflow's runs are older
    for args, status in ((("failures", "a-wf"), 0), (("advise", "a-wf"), 2),
                         (("tail", "a-wf"), 2)):
        code, _, err = run_cli("runs", *args, *d, "--since", later)
        assert (code, err) == (status, "hint: no run of the workflow a-wf in the window; it "
                                        "has runs outside it\n"), args


def _stats_warning(d: Path) -> str:
    code, _, err = run_cli("runs", "stats", LONG_WF, "--data-dir", str(d))
    assert code == 0 and err.startswith("warning: skipped 2 malformed lines (")
    return err


def test_malformed_lines_give_the_warning_of_stats(tmp_path: Path, store: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    d = tmp_path / "d"
    shutil.copytree(store, d)
    (shard,) = sorted((d / "runs_log").glob("*.jsonl"))
    with open(shard, "ab") as f:
        f.write(b"not json\n{oops\n")
    for compacted in (False, True):
        if compacted:  # the live month checkpointed: failures read its Parquet in place
            compact(d, checkpoint_min_bytes=0)
        warning = _stats_warning(d)
        for args in COMMANDS:
            code, _, err = run_cli("runs", *args, "--data-dir", str(d), "--json")
            assert (code, err) == (0, warning), (args, compacted)
            doc = json.loads(run_cli("runs", *args, "--data-dir", str(d), "--json")[1])
            assert sum(doc["skipped_lines"].values()) == 2
    caplog.set_level(logging.WARNING, logger="mantis_runs")
    store_ = RunStore(d)
    for call in (lambda: store_.failures(LONG_WF), lambda: store_.advise(LONG_WF),
                 lambda: store_.tail(LONG_WF)):
        caplog.clear()
        call()
        assert [r.getMessage() for r in caplog.records] == [warning[len("warning: "):-1]]


def test_advise_says_when_the_bound_is_the_largest_run(tmp_path: Path) -> None:
    """One run of 1e6 s among 399 of 1..399 s: at n=400 the upper end of p99's interval is the
    sample's maximum, so the timeout is 1.2e6 s; the text and JSON say why."""
    write_rows(tmp_path, [{"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded",
                           "finished_at": BASE + timedelta(minutes=i),
                           "total_time_s": 1e6 if i == 0 else float(i)} for i in range(400)])
    r = advise("wf", data_dir=tmp_path)
    assert (r.total.p99_upper, r.total.upper_is_max, r.total.timeout_s) == (1e6, True, 1.2e6)
    code, out, _ = run_cli("runs", "advise", "wf", "--data-dir", str(tmp_path))
    assert code == 0 and "1000000.0s*" in out
    assert out.endswith("\n* bound is the largest run seen: too few runs for a tighter one, so "
                        "one outlier sets the timeout.\n")
    doc = json.loads(run_cli("runs", "advise", "wf", "--data-dir", str(tmp_path), "--json")[1])
    assert doc["total"]["p99_upper_is_max"] is True
    many = [{"run_id": f"m{i}", "workflow_id": "big", "status": "succeeded",
             "finished_at": BASE + timedelta(seconds=i), "total_time_s": float(i + 1)}
            for i in range(555)]
    write_rows(tmp_path, many)
    big = advise("big", data_dir=tmp_path).total
    assert (big.upper_is_max, big.p99_upper) == (False, 554.0)
    assert "*" not in run_cli("runs", "advise", "big", "--data-dir", str(tmp_path))[1]


def test_help_names_exit_statuses_and_a_clean_margin() -> None:
    failures_help = run_cli("runs", "failures", "--help")[1]
    assert "Exit status: 0 answered (also when nothing failed), 1 an error, 2 a usage" in (
        " ".join(failures_help.split()))
    assert "1 an error" in run_cli("runs", "tail", "--help")[1]
    advise_help = " ".join(run_cli("runs", "advise", "--help")[1].split())
    assert "--margin X" in advise_help and "more than 0, at most 1e6" in advise_help
    assert "1e-09" not in advise_help and "1 an error" in advise_help


def test_the_text_charts_the_last_26_weeks() -> None:
    from datetime import date

    from mantis_runs.analysis.failures import FailureClass, FailuresResult
    from mantis_runs.cli.insights_cmd import failures_text

    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(30)]
    weekly = [0] * 28 + [2, 0]
    c = FailureClass("E <n>", 2, 1.0, BASE, BASE, weekly, "r1", ["wf"], {"wf": 2})
    out = failures_text(FailuresResult("wf", None, weeks, 2, 4, [c]))
    assert out.splitlines()[2:4] == [
        "Weeks: one character per ISO week (Monday to Sunday, UTC), 2026-02-02 to 2026-07-27, "
        "· for none.", "Only the last 26 of 30 weeks are charted; --json has them all."]
    assert "  " + "·" * 24 + "█·  r1" in out and max(_widths(out)) <= 100
