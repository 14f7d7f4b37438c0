"""`trend`, `tail`, `failures`, `advise`, `watch` and `dashboard` over a lake table and several
data dirs: each answers over a local table (``file://``) exactly as over the data dirs that
shipped into it (the hostile table: copies that win and lose across hosts, a run under another
workflow, a run shipped twice), and over the clean table as over the one data dir it came from.
S3: tests/test_lake_read.py runs `failures` and `watch` over moto's server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from lake_s3 import require_lake
from test_lake_local import _source, lake  # noqa: F401  (the module's tables, as a fixture)
from test_lake_read import START, later, rows

require_lake()

SINCE = "2026-03-01"


def _dirs(*values: Any) -> list[str]:
    return [x for v in values for x in ("--data-dir", str(v))]


@pytest.mark.parametrize("args", [
    ("trend", "wf-0", "--since", SINCE, "--json"),
    ("trend", "wf-9", "--since", SINCE, "--every", "1w", "--status", "", "--json"),
    ("tail", "wf-1", "--since", SINCE, "--above", "p90", "--json"),
    ("failures", "--since", SINCE, "--json"),
    ("failures", "wf-0", "--since", SINCE, "--json"),
    ("failures", "wf-9", "--json", "--since", "2026-04-01"),
    ("advise", "wf-0", "--since", SINCE, "--json"),
    ("advise", "wf-2", "--last", "20", "--json"),
    ("watch", "a-0003", "--timeout", "5"),
    ("watch", "a-0021", "--timeout", "5"),
    ("watch", "a-0005", "--timeout", "5"),
])
def test_each_command_over_a_local_table_answers_as_over_the_shipped_dirs(
        lake: dict[str, Any], args: tuple[str, ...]) -> None:  # noqa: F811
    over_lake = run_cli("runs", *args, *_dirs(f"file://{lake['root'] / 'hostile'}"))
    over_dirs = run_cli("runs", *args, *_dirs(lake["a"], lake["b"]))
    # 2: too few runs for tail or advise; 1: a watched run that failed (a-0005)
    assert over_lake.code in ((0, 1) if args[0] == "watch" else (0, 2)), over_lake.err
    assert (over_lake.code, _answer(over_lake.out), over_lake.err) == (
        over_dirs.code, _answer(over_dirs.out), over_dirs.err)
    assert over_lake.out + over_lake.err
    clean = run_cli("runs", *args, *_dirs(f"file://{lake['root'] / 'clean'}"))
    solo = run_cli("runs", *args, *_dirs(lake["solo"]))
    assert (clean.code, _answer(clean.out), clean.err) == (
        solo.code, _answer(solo.out), solo.err), (clean, solo)


def _answer(out: str) -> Any:
    """The JSON answer (the text of `watch`), without trend's ``end``: the clock's now."""
    if not out.startswith("{"):
        return out
    found = json.loads(out)
    found.pop("end", None)
    return found


def test_failures_and_watch_see_the_winning_copy(lake: dict[str, Any]) -> None:  # noqa: F811
    """The hostile table's copies decide: a-0003's later copy (99 s) wins, a-0021 moved to
    wf-9; the answers are the ones above, and these pin them."""
    from mantis_runs.store.watch import WatchOutcome, watch_run

    uri = f"file://{lake['root'] / 'hostile'}"
    moved = watch_run("a-0021", data_dir=_source(lake["root"] / "hostile"), timeout=5)
    assert moved.outcome is WatchOutcome.SUCCEEDED and moved.row is not None
    assert moved.row["workflow_id"] == "wf-9"
    won = watch_run("a-0003", data_dir=[lake["solo"], _source(lake["root"] / "hostile")])
    assert won.row is not None and won.row["total_time_s"] == 99.0
    assert won.data_dir == f"{lake['solo']}, {uri}"
    done = run_cli("runs", "failures", "wf-9", "--since", SINCE, "--json", *_dirs(uri))
    assert done.code == 0, done.err
    assert json.loads(done.out)["terminal"] == 1  # wf-9: only a-0021's copy in b


def test_watch_over_a_lake_sees_a_run_shipped_while_it_waits(
        tmp_path: Path) -> None:
    """A lake is read at the version it was opened at: each poll opens it again, so a run
    shipped after the watch began ends it."""
    import threading

    from mantis_runs.store.watch import WatchOutcome, watch_run

    d, table = tmp_path / "data", tmp_path / "table"
    first = rows(3, "w", START)
    write_rows(d, first)
    assert run_cli("runs", "lake", "init", str(table)).code == 0
    assert run_cli("runs", "ship", "--to", str(table), "--data-dir", str(d)).code == 0
    src = _source(table)

    def ship_late() -> None:
        write_rows(d, [later(first[0], 1, run_id="w-late", status="failed")])
        assert run_cli("runs", "ship", "--to", str(table), "--data-dir", str(d)).code == 0

    timer = threading.Timer(0.3, ship_late)
    timer.start()
    try:
        result = watch_run("w-late", data_dir=src, interval=0.1, timeout=30)
    finally:
        timer.join()
    assert result.outcome is WatchOutcome.FAILED and result.row is not None
    assert result.row["run_id"] == "w-late" and result.data_dir == f"file://{table}"
    assert result.status is None


def test_the_dashboard_over_a_lake_is_the_dashboard_over_the_dirs(
        lake: dict[str, Any]) -> None:  # noqa: F811
    from mantis_runs.dashboard import build

    now = datetime(2026, 5, 20, tzinfo=UTC)
    src = _source(lake["root"] / "hostile")
    over_lake = build("wf-0", data_dir=src, since=START - timedelta(days=1), now=now)
    over_dirs = build("wf-0", data_dir=[lake["a"], lake["b"]], since=START - timedelta(days=1),
                      now=now)
    for section in ("stats", "compare", "trend", "tail", "failures"):
        assert getattr(over_lake, section).to_json() == getattr(
            over_dirs, section).to_json(), section
    assert over_lake.stats.run_count > 0 and over_lake.data_dir == src.uri
    assert over_dirs.data_dir == f"{lake['a']}, {lake['b']}"
