"""The proof `mantis runs lake compact` leaves beside a lake table (lake/proof.py): which
run_ids its version holds twice. A whole history read in place over S3 uses it instead of
scanning every run_id, only while it covers exactly the files of the version read: a ship after
it (with a run shipped twice) makes readers scan again, a corrupted or foreign proof is
ignored. Every answer is the data dirs' answer, JSON for JSON. Also the copies kept between
reads (lake/copies.py), without a server."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_rows
from lake_s3 import env, require_lake, s3_server

require_lake()

START = datetime(2026, 2, 3, tzinfo=UTC)
WHOLE: dict[str, Any] = {"last": 10**6, "since": START - timedelta(days=1)}


def _rows(n: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        finished = START + i * timedelta(hours=13)
        out.append({"run_id": f"{prefix}-{i:03d}", "workflow_id": f"wf-{i % 2}",
                    "status": "failed" if i % 7 == 0 else "succeeded",
                    "total_time_s": 1.0 + (i * 37 % 41) / 3, "finished_at": finished.isoformat(),
                    "wall_time_breakdown": {"think": 0.5 + i % 3}})
    return out


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mp = pytest.MonkeyPatch()
    with s3_server() as endpoint:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(key)
        for key, value in env(endpoint).items():
            mp.setenv(key, value)
        mp.delenv("MANTIS_HOST_ID", raising=False)
        yield tmp_path_factory.mktemp("proof")
        mp.undo()


def _open(uri: str) -> Any:
    from mantis_runs.lake.read import open_source
    from mantis_runs.lake.storage import target

    return open_source(target(uri))


def _compact(uri: str) -> None:
    from mantis_runs.lake.maintain import compact_lake
    from mantis_runs.lake.storage import target

    compact_lake(target(uri), timedelta(0), floor=timedelta(0))


def _whole(data_dir: Any, cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The whole history of wf-1 with a new, empty user cache folder (no kept copy, no cached
    shared run_ids)."""
    from mantis_runs.stats import stats

    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    out: dict[str, Any] = stats("wf-1", data_dir=data_dir, **WHOLE).to_json()
    return out


@pytest.mark.slow
def test_the_proof_is_used_while_it_covers_the_version_read(
        s3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deltalake._internal import DeltaFileSystemHandler

    import mantis_runs.db.shared_ids as shared_ids
    from mantis_runs.lake.proof import FOLDER
    from mantis_runs.lake.storage import target

    a, b = tmp_path / "a", tmp_path / "b"
    ra = _rows(60, "a")
    write_rows(a, ra)
    # b: a later copy of a-001 (wf-1) that wins, and a copy of a-003 under another workflow
    write_rows(b, [*_rows(10, "b"), {**ra[1], "total_time_s": 99.5,
                                     "finished_at": (START + timedelta(days=20)).isoformat()},
                   {**ra[3], "workflow_id": "wf-0",
                    "finished_at": (START + timedelta(days=25)).isoformat()}])
    uri = "s3://lake/proof"
    assert run_cli("runs", "lake", "init", uri).code == 0
    assert run_cli("runs", "ship", "--to", uri, "--data-dir", str(a)).code == 0
    _compact(uri)
    src = _open(uri)
    assert src.proven is not None and src.proven() == []  # a shipped alone: no run twice
    scans: list[object] = []
    real = shared_ids.shared_run_ids

    def counted(*args: Any) -> list[str]:
        scans.append(args)
        return real(*args)

    monkeypatch.setattr(shared_ids, "shared_run_ids", counted)
    over_a = _whole(a, tmp_path / "c0", monkeypatch)
    assert _whole(src, tmp_path / "c1", monkeypatch) == {**over_a, "skipped_lines": {}}
    assert scans == []  # the proof spared the scan
    # a ship after the proof: another set of files, the proof is not found; b's copies win
    assert run_cli("runs", "ship", "--to", uri, "--data-dir", str(b)).code == 0
    src = _open(uri)
    assert src.proven() is None
    over_ab = _whole([a, b], tmp_path / "c2", monkeypatch)
    assert over_ab != over_a
    assert _whole(src, tmp_path / "c3", monkeypatch) == {**over_ab, "skipped_lines": {}}
    assert len(scans) == 1
    # compacted again: a proof for the new version, naming the run_ids shipped twice; the
    # vacuum of a later compaction leaves the proofs folder alone
    _compact(uri)
    src = _open(uri)
    assert src.proven() == ["a-001", "a-003"]
    assert _whole(src, tmp_path / "c4", monkeypatch) == {**over_ab, "skipped_lines": {}}
    assert len(scans) == 1
    store = DeltaFileSystemHandler(uri, target(uri).options)
    proofs = [i.path for i in store.get_file_info_selector(FOLDER, True, False)]
    assert len(proofs) == 1  # the older proof was removed
    from deltalake import DeltaTable

    DeltaTable(uri, storage_options=target(uri).options).vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
    assert [i.path for i in store.get_file_info_selector(FOLDER, True, False)] == proofs
    # a corrupted proof, then one of other files under this version's name: both ignored
    for text in (b'{"format": 1, "files": "x', b'{"format": 1, "files": "other", "shared": []}'):
        out: Any = store.open_output_stream(proofs[0], None)
        out.write(text)
        out.close()
        src = _open(uri)
        assert src.proven() is None
        assert _whole(src, tmp_path / f"c5{len(text)}", monkeypatch) == {
            **over_ab, "skipped_lines": {}}
    assert len(scans) == 3


class _Store:
    """deltalake's file system handler, as RemoteFiles uses it; counts the files opened."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.opened: list[str] = []

    def open_input_file(self, path: str) -> io.BytesIO:
        self.opened.append(path)
        return io.BytesIO(framed(path[-1], self.sizes[path]))


def framed(char: str, size: int) -> bytes:
    """A file of ``size`` bytes framed as Parquet is (``PAR1`` at both ends), ``char`` inside."""
    return b"PAR1" + char.encode() * (size - 8) + b"PAR1"


def test_copies_are_kept_checked_and_tidied(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import stat
    import time

    from mantis_runs.errors import MantisError
    from mantis_runs.lake.copies import KIND, kept_copies
    from mantis_runs.lake.fetch import RemoteFiles

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sizes = {"m=1/a": 300, "m=2/b": 200}
    paths: dict[str | None, list[str]] = {"2026-01": ["m=1/a"], "2026-02": ["m=2/b"]}
    first = _Store(sizes)
    got = RemoteFiles(first, paths, sizes, MantisError, kept_copies("s3://x/t", {}))(
        ["2026-01", "2026-02"])
    assert first.opened == ["m=1/a", "m=2/b"] or first.opened == ["m=2/b", "m=1/a"]
    folder = tmp_path / "mantis" / KIND
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert Path(got["2026-01"][0]).read_bytes() == framed("a", 300)
    # a later reader copies nothing, unless a copy is not whole (its size is checked) or not
    # framed as Parquet (damaged in place, its size kept)
    Path(got["2026-02"][0]).write_bytes(b"b" * 10)
    second = _Store(sizes)
    fetch = RemoteFiles(second, paths, sizes, MantisError, kept_copies("s3://x/t", {}))
    again = fetch(["2026-01", "2026-02"])
    assert again == got and second.opened == ["m=2/b"]
    assert Path(again["2026-02"][0]).read_bytes() == framed("b", 200)
    Path(got["2026-01"][0]).write_bytes(os.urandom(300).replace(b"PAR1", b"RAP1"))
    mended = _Store(sizes)
    assert RemoteFiles(mended, paths, sizes, MantisError, kept_copies("s3://x/t", {}))(
        ["2026-01", "2026-02"]) == got and mended.opened == ["m=1/a"]
    assert Path(got["2026-01"][0]).read_bytes() == framed("a", 300)
    assert fetch.origin(again["2026-01"][0]) == "m=1/a\x00300"
    # another table (or endpoint) keeps its own copies
    assert kept_copies("s3://x/t", {"AWS_ENDPOINT_URL": "http://e"}) != kept_copies(
        "s3://x/t", {})
    other = _Store(sizes)
    RemoteFiles(other, paths, sizes, MantisError,
                kept_copies("s3://x/u", {}))(["2026-01"])
    assert other.opened == ["m=1/a"]
    # the table rewrote month 2026-01: the old copy goes once unused for a day, b's stays
    old_a = Path(got["2026-01"][0])
    os.utime(old_a, (time.time() - 2 * 86_400,) * 2)
    sizes2 = {"m=1/c": 50, "m=2/b": 200}
    third = _Store(sizes2)
    paths2: dict[str | None, list[str]] = {"2026-01": ["m=1/c"], "2026-02": ["m=2/b"]}
    RemoteFiles(third, paths2, sizes2, MantisError,
                kept_copies("s3://x/t", {}))(["2026-01", "2026-02"])
    assert third.opened == ["m=1/c"]
    assert not old_a.exists() and Path(got["2026-02"][0]).exists()


def test_a_read_failing_on_a_kept_copy_says_how_to_drop_the_copies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.lake.copies import KIND, damaged_copy_hint

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "mantis" / KIND
    said = damaged_copy_hint(f"cannot read the lake table s3://b/t: No magic bytes in "
                             f"'{folder}/0123/ab.parquet'")
    assert said.endswith(f"(a kept copy of the table's files is damaged: remove {folder} and "
                         "read again; it is fetched anew)")
    assert damaged_copy_hint("cannot read the lake table s3://b/t: timeout") == (
        "cannot read the lake table s3://b/t: timeout")


def test_a_cache_folder_others_may_enter_keeps_no_copy(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.lake.copies import KIND, kept_copies

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "mantis" / KIND
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    assert kept_copies("s3://x/t", {}) is None
    folder.chmod(0o700)
    assert kept_copies("s3://x/t", {}) is not None
