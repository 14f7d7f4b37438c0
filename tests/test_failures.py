"""`mantis runs failures`: failed runs by error class, counted on their winning copies, before
and after compaction (the general path on JSONL, the in-place path on Parquet), against an
independent oracle; the CLI's text and JSON exactly."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from mantis_runs import RunStore
from mantis_runs.analysis import failures as failures_module
from mantis_runs.analysis.errors import normalise_error
from mantis_runs.analysis.failures import FailuresResult, failures
from mantis_runs.compaction import compact

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # a Wednesday; April is closed, May is open
SINCE = datetime(2026, 4, 20, tzinfo=UTC)  # a Monday: five ISO weeks up to NOW's
ERRORS = [
    "TimeoutError: step 3 (click) exceeded 30s waiting for selector 'button#submit'",
    "TimeoutError: step 11 (type) exceeded 45s waiting for selector 'input[name=q]'",
    "BrowserCrashed: Target page, context or browser has been closed (pid 23240, signal 11)",
    "Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in run\n"
    "KeyError: 'plan_0b5e7c21'\n",
    None,
]


def _rows() -> list[dict[str, Any]]:
    """Two workflows over six weeks (one before SINCE), one failure in five, and copies: a run
    that failed and was written again later as succeeded (not a failure), a failed run whose
    later copy moved it to the other workflow, and a succeeded run re-recorded as failed."""
    rows = []
    for i in range(120):
        failed = i % 5 == 0
        rows.append({"run_id": f"r{i:03d}", "workflow_id": "wf-a" if i % 3 else "wf-b",
                     "status": "failed" if failed else "succeeded",
                     "finished_at": SINCE - timedelta(days=6) + timedelta(hours=7 * i + i % 7),
                     "total_time_s": 10.0 + i,
                     "error": ERRORS[(i // 5) % len(ERRORS)] if failed else None})
    later = timedelta(minutes=5)
    rows += [
        {**rows[10], "status": "succeeded", "error": None,
         "finished_at": rows[10]["finished_at"] + later},
        {**rows[20], "workflow_id": "wf-a" if rows[20]["workflow_id"] == "wf-b" else "wf-b",
         "finished_at": rows[20]["finished_at"] + later},
        {**rows[31], "status": "failed", "error": ERRORS[1],
         "finished_at": rows[31]["finished_at"] + later},
    ]
    return rows


ROWS = _rows()


def oracle(workflow_id: str | None, since: datetime,
           rows: list[dict[str, Any]] = ROWS) -> dict[str, Any]:
    """The winning copies (latest finished_at; no ties here) and their failures, by class."""
    won: dict[str, dict[str, Any]] = {}
    for row in rows:
        cur = won.get(row["run_id"])
        if cur is None or row["finished_at"] > cur["finished_at"]:
            won[row["run_id"]] = row
    mine = [r for r in won.values() if r["finished_at"] >= since
            and (workflow_id is None or r["workflow_id"] == workflow_id)]
    monday = since.date() - timedelta(days=since.weekday())
    weeks = (NOW.date() - monday).days // 7 + 1
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"runs": [], "weekly": [0] * weeks})
    for r in mine:
        if r["status"] == "failed":
            c = found[normalise_error(r["error"])]
            c["runs"].append(r)
            c["weekly"][(r["finished_at"].date() - monday).days // 7] += 1
    failed = sum(len(c["runs"]) for c in found.values())
    return {"failed": failed, "terminal": len(mine),
            "weeks": [monday + timedelta(weeks=i) for i in range(weeks)],
            "classes": sorted(((k, len(c["runs"]), min(r["finished_at"] for r in c["runs"]),
                                max(r["finished_at"] for r in c["runs"]),
                                max(c["runs"], key=lambda r: (r["finished_at"], r["run_id"]))[
                                    "run_id"], c["weekly"],
                                _most_first([r["workflow_id"] for r in c["runs"]]))
                               for k, c in found.items()), key=lambda t: (-t[1], t[0]))}


def _most_first(workflows: list[str]) -> list[str]:
    """The workflows of a class, the most failures first, then by name."""
    counts: dict[str, int] = defaultdict(int)
    for wf in workflows:
        counts[wf] += 1
    return sorted(counts, key=lambda wf: (-counts[wf], wf))


def as_oracle(r: FailuresResult) -> dict[str, Any]:
    assert abs(sum(c.share for c in r.classes) - 1.0) < 1e-12 if r.classes else True
    return {"failed": r.failed, "terminal": r.terminal, "weeks": r.weeks,
            "classes": [(c.error_class, c.count, c.first_seen, c.last_seen, c.example_run_id,
                         c.weekly, c.workflows) for c in r.classes]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("failures")
    write_rows(d, ROWS)
    return d


def check(d: Path, monkeypatch: pytest.MonkeyPatch, *, in_place: bool | None,
          rows: list[dict[str, Any]] = ROWS) -> None:
    """Every workflow, and all of them, with two --since; ``in_place``: which path answered
    (None: the general path for some workflow)."""
    paths: list[bool] = []
    real = failures_module._in_place

    def spy(c: Any) -> int | None:
        found = real(c)
        paths.append(found is not None)
        return found

    monkeypatch.setattr(failures_module, "_in_place", spy)
    for wf in ("wf-a", "wf-b", None):
        for since in (SINCE, SINCE - timedelta(days=30)):
            got = failures(wf, data_dir=d, since=since, now=NOW)
            assert as_oracle(got) == oracle(wf, since, rows), (wf, since)
            assert got.failure_rate == got.failed / got.terminal
    assert set(paths) == {in_place} if in_place is not None else False in paths


def test_failures_agree_with_the_oracle_before_and_after_compaction(
        store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = oracle("wf-a", SINCE)
    assert expected["failed"] >= 8 and len(expected["classes"]) == 5  # the fixture is rich
    check(store, monkeypatch, in_place=False)  # JSONL only: the general path
    copy = tmp_path / "c"
    shutil.copytree(store, copy)
    compact(copy, now=NOW, checkpoint_min_bytes=0)  # April to a part, May checkpointed
    assert list((copy / "compacted").iterdir())
    check(copy, monkeypatch, in_place=True)  # one copy of each run left: in place
    # a later copy in the live shard of a failed run in April's part: the general path again
    again = {**ROWS[15], "status": "succeeded", "error": None, "finished_at": NOW}
    write_rows(copy, [again])
    check(copy, monkeypatch, in_place=None, rows=[*ROWS, again])


def test_a_workflow_without_runs_has_no_failures(store: Path) -> None:
    r = failures("wf-none", data_dir=store, since=SINCE, now=NOW)
    assert (r.failed, r.terminal, r.classes, r.failure_rate) == (0, 0, [], None)
    assert RunStore(store).failures("wf-none", since=SINCE).failed == 0


def _cli_store(tmp_path: Path) -> tuple[Path, datetime, list[dict[str, Any]]]:
    """Three runs in the week before the current one (real time: the CLI has no --now)."""
    today = datetime.now(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday() + 7), datetime.min.time(),
                              tzinfo=UTC)
    rows = [{"run_id": "a1", "workflow_id": "wf", "status": "failed", "total_time_s": 1.0,
             "finished_at": monday + timedelta(hours=10), "error": "HTTP 503 from 10.0.0.1"},
            {"run_id": "a2", "workflow_id": "wf", "status": "failed", "total_time_s": 1.0,
             "finished_at": monday + timedelta(days=2), "error": "HTTP 502 from 10.0.0.9"},
            {"run_id": "a3", "workflow_id": "wf", "status": "failed", "total_time_s": 1.0,
             "finished_at": monday + timedelta(days=3), "error": "\x1b[31mboom\x1b[0m"},
            {"run_id": "a4", "workflow_id": "wf", "status": "succeeded", "total_time_s": 1.0,
             "finished_at": monday + timedelta(days=4)}]
    write_rows(tmp_path, rows)
    return tmp_path, monday, rows


def test_cli_text_and_json(tmp_path: Path) -> None:
    d, monday, _ = _cli_store(tmp_path)
    since = (monday - timedelta(days=7)).date().isoformat()  # an empty week first and last
    code, out, err = run_cli("runs", "failures", "wf", "--data-dir", str(d), "--since", since)
    assert (code, err) == (0, "")
    this_week = (monday + timedelta(days=7)).date().isoformat()
    t = lambda dt: dt.strftime("%Y-%m-%d %H:%M")  # noqa: E731
    first_a, first_b = t(monday + timedelta(hours=10))[:10], t(monday + timedelta(days=3))[:10]
    # one character per week, the blank weeks kept: · █ · (tabulate strips blanks at the ends)
    assert out == (
        f"Failures of wf, since {since} 00:00 UTC:\n"
        "3 of 4 runs failed (75.0%), 2 error classes.\n"
        f"Weeks: one character per ISO week (Monday to Sunday, UTC), {since} to {this_week}, "
        "· for none.\n\n"
        "  runs    share  first       last              weeks    newest run\n"
        "        class\n"
        "------  -------  ----------  ----------------  -------  ------------\n"
        f"     2    66.7%  {first_a}  {t(monday + timedelta(days=2))}  ·█·      a2\n"
        "        HTTP <n> from <ip>\n"
        f"     1    33.3%  {first_b}  {t(monday + timedelta(days=3))}  ·█·      a3\n"
        "        \\x1b[<n>mboom\\x1b[<n>m\n")
    code, out, err = run_cli("runs", "failures", "wf", "--data-dir", str(d), "--since", since,
                             "--json")
    assert (code, err) == (0, "")
    got = json.loads(out)
    assert got["failed"] == 3 and got["terminal"] == 4 and got["failure_rate"] == 0.75
    assert got["weeks"] == [since, monday.date().isoformat(), this_week]
    assert got["skipped_lines"] == {}
    assert [(c["class"], c["count"], c["weekly"], c["example_run_id"], c["workflows"],
             c["by_workflow"]) for c in got["classes"]] == [
        ("HTTP <n> from <ip>", 2, [0, 2, 0], "a2", ["wf"], {"wf": 2}),
        ("\x1b[<n>mboom\x1b[<n>m", 1, [0, 1, 0], "a3", ["wf"], {"wf": 1})]


def test_cli_every_workflow_and_bad_input(tmp_path: Path) -> None:
    d, monday, _ = _cli_store(tmp_path)
    code, out, _ = run_cli("runs", "failures", "--data-dir", str(d), "--since",
                           monday.date().isoformat(), "--json")
    assert code == 0 and json.loads(out)["workflow_id"] is None
    code, out, err = run_cli("runs", "failures", "wf", "--data-dir", str(d), "--since", "soon")
    assert code == 2 and out == "" and "Traceback" not in err and "soon" in err
    code, out, err = run_cli("runs", "failures", "wf", "--data-dir", str(tmp_path / "nope"))
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1
