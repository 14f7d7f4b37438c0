"""The shortcuts of store/lookup.py: taken on a plain store, and reading only what they must.

That they answer what the general path answers, on hostile copies, is
tests/test_agreement.py's ``test_shortcuts_agree_with_the_general_path``. Here: which files a
lookup reads (counted through ``lookup.observer``, never timed), the line search on its own, and
the fallbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, write_rows
from mantis_runs import RunStore
from mantis_runs.compaction import compact
from mantis_runs.db import views
from mantis_runs.db.linesearch import lines_with, plain, write_lines
from mantis_runs.errors import MantisError
from mantis_runs.store import lookup

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # March and April are closed, May is live
MONTHS = ("2026-03", "2026-04", "2026-05")


def run_id(month: str, i: int) -> str:
    return f"{month.replace('-', '')}10_{i:06d}_{i:08x}"


def rows_of(month: str, n: int) -> list[dict[str, Any]]:
    start = datetime.fromisoformat(f"{month}-10T00:00:00+00:00")
    return [{"run_id": run_id(month, i), "workflow_id": f"wf{i % 2}", "status": "succeeded",
             "finished_at": (start + timedelta(minutes=i)).isoformat(),
             "total_time_s": 1.0 + i, "wall_time_breakdown": {"think": 0.5 + i}}
            for i in range(n)]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(what, file name) of each file a shortcut reads; "copy:" marks a private copy (a tail)."""
    seen: list[tuple[str, str]] = []

    def note(what: str, path: Path) -> None:
        copy = lookup.SCRATCH_PREFIX in str(path)
        seen.append((what, ("copy:" if copy else "") + path.name))

    monkeypatch.setattr(lookup, "observer", note)
    yield seen


@pytest.fixture
def compacted(tmp_path: Path) -> Path:
    """March and April compacted, May live with a checkpoint and a tail after it."""
    d = tmp_path / "data"
    for month in MONTHS:
        write_rows(d, rows_of(month, 20))
    compact(d, now=NOW, checkpoint_min_bytes=0)
    write_rows(d, [{**rows_of("2026-05", 25)[-1], "run_id": "tail_run"}])
    return d


def part_of(d: Path, month: str) -> str:
    (part,) = (d / "compacted" / month).glob("part-*.parquet")
    return part.name


def general(d: Path) -> RunStore:
    s = RunStore(d)
    s.shortcuts = False
    return s


def test_an_old_run_reads_its_part_alone(compacted: Path, reads: list[tuple[str, str]]) -> None:
    got = RunStore(compacted).get(run_id("2026-03", 7))
    assert got == general(compacted).get(run_id("2026-03", 7))
    assert got is not None and got["total_time_s"] == 8.0
    # April's part and May's checkpointed bytes are ruled out by their footers; the tail is
    # searched (it has no footer) and parsed for its bad lines (the checkpoint counts the rest).
    assert sorted(reads) == [("parse", "copy:2026-05.jsonl"),
                             ("rows", part_of(compacted, "2026-03")),
                             ("search", "copy:2026-05.jsonl")]


def checkpoint_of(d: Path) -> str:
    (cp,) = (d / "checkpoints").glob("*.parquet")
    return cp.name


def test_a_live_run_is_read_from_its_checkpoint(compacted: Path,
                                                reads: list[tuple[str, str]]) -> None:
    got = RunStore(compacted).get(run_id("2026-05", 3))
    assert got == general(compacted).get(run_id("2026-05", 3))
    assert got is not None and got["wall_time_breakdown"] == {"think": 3.5}
    # the checkpoint's rows (its footer does not rule the run_id out), not the shard's bytes;
    # the tail is searched
    assert sorted(reads) == [("parse", "copy:2026-05.jsonl"), ("rows", checkpoint_of(compacted)),
                             ("search", "copy:2026-05.jsonl")]


def test_a_live_run_beside_later_copies_in_the_tail_and_a_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run is in the checkpoint, in March's part, then in the tail after the checkpoint (an
    # older copy and a newer one, the newer escaped): every copy read is ranked, the
    # checkpoint's included, and not because the shared run_ids say so.
    d = tmp_path / "data"
    target = run_id("2026-05", 3)
    old = {**rows_of("2026-03", 1)[0], "run_id": target, "workflow_id": "wf-old"}
    write_rows(d, [old, *rows_of("2026-05", 5)])
    compact(d, now=NOW, checkpoint_min_bytes=0)
    s = RunStore(d)
    want = general(d).get(target)
    assert want is not None and want["workflow_id"] == "wf1"  # May's copy beats March's
    monkeypatch.setattr(views, "shared", lambda *args, **kwargs: [])  # a cache that forgot
    assert s.get(target) == want
    monkeypatch.undo()
    append_bytes(d / "runs_log" / "2026-05.jsonl",
                 b'{"run_id":"' + target.encode() + b'","workflow_id":"wf-tail-old",'
                 b'"status":"failed","finished_at":"2026-05-01T00:00:00Z","total_time_s":9}\n'
                 b'{"run_id":"\\u0032' + target[1:].encode() + b'","workflow_id":"wf-tail",'
                 b'"status":"failed","finished_at":"2026-05-19T00:00:00Z","total_time_s":9}\n')
    got = s.get(target)
    assert got == general(d).get(target)
    assert got is not None and (got["workflow_id"], got["status"]) == ("wf-tail", "failed")


def test_a_run_in_the_tail(compacted: Path, reads: list[tuple[str, str]]) -> None:
    got = RunStore(compacted).get("tail_run")
    assert got is not None and got["total_time_s"] == 25.0
    assert got == general(compacted).get("tail_run")
    assert ("rows", part_of(compacted, "2026-03")) not in reads


def test_the_newest_runs_read_the_checkpoint_not_the_shard(
        compacted: Path, reads: list[tuple[str, str]]) -> None:
    got = RunStore(compacted).runs(last=3)
    assert [r["run_id"] for r in got] == ["tail_run", run_id("2026-05", 19),
                                          run_id("2026-05", 18)]
    assert got == general(compacted).runs(last=3)
    # the checkpoint instead of the shard's JSON, then each run's own line; no part read
    assert sorted(set(reads)) == [("parse", "copy:2026-05.jsonl"), ("search", "2026-05.jsonl"),
                                  ("search", "copy:2026-05.jsonl")]


def test_the_newest_runs_of_a_workflow_from_a_part(compacted: Path) -> None:
    s, g = RunStore(compacted), general(compacted)
    for kwargs in ({"since": "2026-04-10T00:10:00Z"}, {"status": "failed"}, {}):
        assert s.runs("wf1", last=30, **kwargs) == g.runs("wf1", last=30, **kwargs), kwargs
    assert s.latest("wf0") == g.latest("wf0")


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    d = tmp_path / "raw"
    for month in MONTHS:
        write_rows(d, rows_of(month, 20))
    append_bytes(d / "runs_log" / "2026-04.jsonl", b"garbage\n")
    return d


def test_a_raw_store_parses_each_shard_once(raw: Path, reads: list[tuple[str, str]],
                                             caplog: pytest.LogCaptureFixture) -> None:
    target = run_id("2026-03", 2)
    with caplog.at_level(logging.WARNING, logger="mantis_runs"):
        assert RunStore(raw).get(target) == general(raw).get(target)
        # the bad lines of every shard, as the general path warns, counted once
        assert sorted(w for w, _ in reads) == ["parse"] * 3 + ["search"] * 3
        reads.clear()
        assert RunStore(raw).get(target) == general(raw).get(target)
        assert sorted(reads) == [("search", f"{m}.jsonl") for m in MONTHS]  # from the cache
    messages = [r.getMessage() for r in caplog.records if r.name == "mantis_runs"]
    assert messages == ["skipped 1 malformed line (2026-04.jsonl: 1)"] * 4
    # a shard that changes is counted again
    append_bytes(raw / "runs_log" / "2026-04.jsonl", b"[1]\n")
    reads.clear()
    assert RunStore(raw)._get(target)[1] == {"2026-04.jsonl": 2}
    assert ("parse", "2026-04.jsonl") in reads


@pytest.mark.parametrize("rid", ["123", "1e5", "NaN", "true", "a b", "r\u00e9", 'q"q', ""])
def test_an_id_that_is_not_plain_takes_the_general_path(
        raw: Path, reads: list[tuple[str, str]], rid: str) -> None:
    write_rows(raw, [{**rows_of("2026-03", 1)[0], "run_id": rid or "x"}])
    assert RunStore(raw).get(rid) == general(raw).get(rid)
    assert reads == []


def test_plain() -> None:
    assert plain("20260310_080000_00000001") and plain("r1") and plain("a.b:c-d")
    assert not any(plain(x) for x in ("12", "-1.5e3", "inf", "Infinity", "nan", "True", "null",
                                      "", "a/b", "a b", "é"))


def test_lines_with(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_bytes(b'{"run_id":"a1"}\n{"run_id":"b2"}\n{"run_id":"a1","x":1}\n{"run_id":"a1"')
    assert lines_with(f, [b"a1"]) == [(0, b'{"run_id":"a1"}\n'),
                                      (32, b'{"run_id":"a1","x":1}\n'), (54, b'{"run_id":"a1"')]
    assert lines_with(f, [b"a1"], last_only=True) == [(54, b'{"run_id":"a1"')]
    assert lines_with(f, [b"a1"], 0, 54, last_only=True) == [(32, b'{"run_id":"a1","x":1}\n')]
    assert lines_with(f, [b"b2", b"zz"], 16) == [(16, b'{"run_id":"b2"}\n')]
    assert lines_with(f, [b"a1"], 16, 16) == []
    out = tmp_path / "out.jsonl"
    write_lines(out, lines_with(f, [b"b2"]))
    assert out.read_bytes() == b'\n{"run_id":"b2"}\n'  # not the shard's start: a blank line first


def test_escaped_ids_and_a_byte_order_mark(raw: Path, caplog: pytest.LogCaptureFixture) -> None:
    # "\u0072" is "r": this line is run r7 though its bytes hold no "r7"; a byte order mark
    # inside a shard makes its line bad (at the start of a file DuckDB would skip it).
    append_bytes(raw / "runs_log" / "2026-03.jsonl",
                 b'{"run_id":"\\u00727","workflow_id":"w","total_time_s":3,'
                 b'"finished_at":"2026-03-11T00:00:00Z"}\n'
                 b'\xef\xbb\xbf{"run_id":"r8","workflow_id":"w","total_time_s":1}\n')
    append_bytes(raw / "runs_log" / "2026-05.jsonl",
                 b'{"run_id":"r7","workflow_id":"w","total_time_s":9,'
                 b'"finished_at":"2026-03-10T00:00:00Z"}\n')
    s, g = RunStore(raw), general(raw)
    got = s._get("r7")
    assert got == g._get("r7")
    assert got[0] is not None and got[0]["total_time_s"] == 3.0  # the later copy, escaped
    assert got[1] == {"2026-03.jsonl": 1, "2026-04.jsonl": 1}
    assert s._get("r8") == g._get("r8") and s.get("r8") is None


def test_a_part_in_an_older_layout_is_never_left_out(tmp_path: Path) -> None:
    # The general path reads every part for a lookup and stops at one in layout 1 with its fix;
    # the lookup must too, though the part's footer rules the run_id out.
    from test_parquet_layout import layout1_part, old_row

    d = tmp_path / "data"
    write_rows(d, rows_of("2026-04", 3))
    layout1_part(d, "2026-03", [old_row("a", [("think", 1.5)], 10.0)])
    for s in (RunStore(d), general(d)):
        with pytest.raises(MantisError, match="is in Parquet layout 1"):
            s.get(run_id("2026-04", 1))


def test_the_newest_runs_of_a_large_raw_store_take_the_general_path(
        raw: Path, reads: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    # Without checkpoints every shard is parsed anyway, and the runs' lines would be searched
    # in all of them: above SEARCH_MAX_BYTES the shortcut gives way before reading anything.
    monkeypatch.setattr(lookup, "SEARCH_MAX_BYTES", 100)
    assert RunStore(raw).runs(last=3) == general(raw).runs(last=3)
    assert reads == []
    monkeypatch.setattr(lookup, "SEARCH_MAX_BYTES", 10**9)
    assert RunStore(raw).runs(last=3) == general(raw).runs(last=3)
    assert ("search", "2026-05.jsonl") in reads
