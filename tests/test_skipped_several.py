"""Malformed lines read over several data dirs (``--data-dir`` repeated) are counted per data
dir: the same month of two data dirs is two entries, named by the shard's path
(``messages.shard_name``), while one data dir's shards keep their file names. Every reader of
the stats engine (stats, trend, tail, failures, advise, compare's read) and the CLI warning say
the same; a live shard read as its checkpoint plus a copy of its tail counts under its own
path, and each data dir's tail is its own (two copies named ``2026-06.jsonl`` once shared one
folder: one data dir's tail was read twice and the other's lost)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, run_cli, write_rows
from mantis_runs.analysis.advise import advise
from mantis_runs.analysis.failures import failures
from mantis_runs.analysis.runs import read_runs
from mantis_runs.analysis.tail import tail
from mantis_runs.analysis.trend import trend
from mantis_runs.compaction import compact
from mantis_runs.db.lake_source import sources_of
from mantis_runs.log.layout import live_shard
from mantis_runs.messages import shard_name
from mantis_runs.stats import stats

WF = "several_wf"
MAY, JUNE = datetime(2026, 5, 10, tzinfo=UTC), datetime(2026, 6, 10, tzinfo=UTC)
NOW = datetime(2026, 6, 20, tzinfo=UTC)
#: per data dir: (runs in May, bad lines in May, runs checkpointed in June, bad lines there,
#: runs in June's tail, bad lines there)
SHAPES = {"a": (40, 2, 30, 1, 5, 1), "b": (25, 3, 20, 2, 3, 1)}


def rows(tag: str, n: int, at: datetime) -> list[dict[str, Any]]:
    return [{"run_id": f"{tag}-{at:%m}-{i:04d}", "workflow_id": WF,
             "status": "failed" if i % 5 == 0 else "succeeded",
             "finished_at": (at + timedelta(minutes=7 * i)).isoformat(),
             "total_time_s": 10.0 + i % 13, "wall_time_breakdown": {"think": 4.0 + i % 3},
             "error": "ValueError: bad" if i % 5 == 0 else None} for i in range(n)]


def make(d: Path, tag: str) -> None:
    may, may_bad, june, june_bad, tail_runs, tail_bad = SHAPES[tag]
    write_rows(d, rows(tag, june, JUNE))
    append_bytes(live_shard(d, "2026-06"), b"not json\n" * june_bad)
    compact(d, now=NOW, checkpoint_min_bytes=0)  # June is live: checkpointed
    assert (d / "checkpoints").is_dir()
    write_rows(d, rows(tag + "t", tail_runs, JUNE + timedelta(days=5)))
    append_bytes(live_shard(d, "2026-06"), b"{torn\n" * tail_bad)
    write_rows(d, rows(tag, may, MAY))
    append_bytes(live_shard(d, "2026-05"), b"[1, 2]\n" * may_bad)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("several")
    for tag in SHAPES:
        make(root / tag, tag)
    return [root / tag for tag in SHAPES]


def expected(dirs: list[Path], several: bool) -> dict[str, int]:
    out = {}
    for d, (_, may_bad, _, june_bad, _, tail_bad) in zip(dirs, SHAPES.values(), strict=False):
        out[shard_name(live_shard(d, "2026-05"), several)] = may_bad
        out[shard_name(live_shard(d, "2026-06"), several)] = june_bad + tail_bad
    return out


def test_one_data_dir_names_its_shards_by_file_name(dirs: list[Path]) -> None:
    for d, shape in zip(dirs, SHAPES.values(), strict=True):
        r = stats(WF, data_dir=d, last=1000, status=None)
        assert r.skipped_lines == {"2026-05.jsonl": shape[1], "2026-06.jsonl": shape[3] + shape[5]}
        assert r.run_count == shape[0] + shape[2] + shape[4]


def test_two_data_dirs_keep_the_same_month_apart(dirs: list[Path]) -> None:
    want = expected(dirs, several=True)
    assert len(want) == 4 and all("/runs_log/" in k for k in want)
    r = stats(WF, data_dir=dirs, last=1000, status=None)
    assert r.skipped_lines == want
    assert r.run_count == sum(s[0] + s[2] + s[4] for s in SHAPES.values())  # each tail once
    since, now = "2026-05-01", NOW
    assert dict(read_runs(WF, data_dir=sources_of(dirs), start=datetime(2026, 5, 1, tzinfo=UTC),
                          end=NOW).skipped_lines) == want
    assert trend(WF, data_dir=dirs, since=since, now=now).skipped_lines == want
    assert tail(WF, data_dir=dirs, since=since, now=now).skipped_lines == want
    assert failures(WF, data_dir=dirs, since=since, now=now).skipped_lines == want
    assert failures(None, data_dir=dirs, since=since, now=now).skipped_lines == want
    assert advise(WF, data_dir=dirs, since=since, now=now).skipped_lines == want


def test_the_cli_warning_names_each_data_dir_s_shard(dirs: list[Path]) -> None:
    r = run_cli("runs", "stats", WF, "--data-dir", str(dirs[0]), "--data-dir", str(dirs[1]),
                "--last", "1000")
    assert r.code == 0, r.err
    total = sum(expected(dirs, several=True).values())
    where = ", ".join(f"{k}: {n}" for k, n in sorted(expected(dirs, several=True).items()))
    assert f"skipped {total} malformed lines ({where})" in r.err


def test_list_show_report_and_sql_name_each_data_dir_s_shard(dirs: list[Path]) -> None:
    """The views' readers (list, show, report's row and its baseline, sql) name shards as the
    stats engine does: a report merges the two counts of a shard, never adds them (they were
    once keyed by file name on one side and by path on the other, and counted twice)."""
    want = expected(dirs, several=True)
    line = (f"skipped {sum(want.values())} malformed lines ("
            + ", ".join(f"{k}: {n}" for k, n in sorted(want.items())) + ")")
    both = ("--data-dir", str(dirs[0]), "--data-dir", str(dirs[1]))
    newest = "bt-06-0002"  # b's last tail run, the newest of both dirs
    for args in (("list", "--last", "3"), ("show", newest), ("report", "--run-id", newest),
                 ("report", "--latest"), ("sql", "SELECT count(*) FROM runs")):
        p = subprocess.run([sys.executable, "-m", "mantis_runs", "runs", *args, *both],
                           capture_output=True, text=True, timeout=60)
        assert (p.returncode, p.stderr) == (0, f"warning: {line}\n"), args
    r = run_cli("runs", "sql", "SELECT shard, lines FROM runs_bad_lines", "--format", "json",
                *both)
    assert {row["shard"]: row["lines"] for row in json.loads(r.out)} == want
