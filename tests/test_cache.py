"""The user cache stays bounded: entries nobody reads are pruned, entries in use are kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mantis_runs.db import cache


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return cache.cache_root()


def _entry(tmp_path: Path, name: str) -> Path:
    data = tmp_path / name
    data.write_text(name)
    entry = cache.entry_for("kind", [data], "v1")
    assert entry is not None
    cache.write_entry(entry, {"name": name})
    return entry


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_prune_removes_unused_entries_and_dead_temporaries_only(root: Path, tmp_path: Path
                                                               ) -> None:
    old, recent = _entry(tmp_path, "old"), _entry(tmp_path, "recent")
    _age(old, cache.UNUSED_FOR_S + 60)
    _age(recent, cache.UNUSED_FOR_S - 3600)
    dead_tmp = old.parent / ".tmp-abc"
    fresh_tmp = old.parent / ".tmp-def"
    dead_tmp.write_text("{")
    fresh_tmp.write_text("{")
    _age(dead_tmp, cache.DAY_S + 60)

    assert cache.prune(root / "kind", now=time.time()) == 2
    assert not old.exists() and not dead_tmp.exists()
    assert recent.exists() and fresh_tmp.exists()
    assert cache.read_entry(recent) == {"name": "recent"}


def test_reading_an_entry_keeps_it(root: Path, tmp_path: Path) -> None:
    entry = _entry(tmp_path, "used")
    _age(entry, cache.UNUSED_FOR_S + 60)
    assert cache.read_entry(entry) == {"name": "used"}  # read: its mtime is refreshed
    assert time.time() - entry.stat().st_mtime < 60
    assert cache.prune(root / "kind", now=time.time()) == 0
    assert entry.exists()


def test_a_read_within_a_day_does_not_write(root: Path, tmp_path: Path) -> None:
    entry = _entry(tmp_path, "warm")
    _age(entry, cache.DAY_S - 3600)
    before = entry.stat().st_mtime
    assert cache.read_entry(entry) == {"name": "warm"}
    assert entry.stat().st_mtime == before


def test_writes_prune_at_most_once_a_day(root: Path, tmp_path: Path) -> None:
    first = _entry(tmp_path, "first")  # this write pruned (nothing) and left the mark
    mark = root / "kind" / cache.PRUNED_MARK
    assert mark.exists()
    _age(first, cache.UNUSED_FOR_S + 60)
    _entry(tmp_path, "second")  # the mark is fresh: no pruning yet
    assert first.exists()
    _age(mark, cache.DAY_S + 60)
    _entry(tmp_path, "third")  # a day later, the next write prunes
    assert not first.exists()


def test_a_missing_or_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    assert cache.prune(tmp_path / "nowhere") == 0
    assert cache.read_entry(tmp_path / "nowhere" / "x.json") is None
