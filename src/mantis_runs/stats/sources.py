"""Where a month's rows are read from: shards, parts, and live shards' checkpoints plus tails."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ..log.checkpoint import LiveRead, open_live
from ..log.layout import MonthFiles

TAIL_PREFIX = "mantis-tail-"


def tail_scratch() -> Path:
    """A new private folder for copies of shard tails, named after this process; folders left
    by processes that no longer exist (killed readers) are removed first."""
    tmp = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            name = entry.name
            if not name.startswith(TAIL_PREFIX):
                continue
            pid = name[len(TAIL_PREFIX):].split("-", 1)[0]
            if (pid.isdigit() and not _alive(int(pid))
                    and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid()):
                shutil.rmtree(entry.path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{TAIL_PREFIX}{os.getpid()}-", dir=tmp))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_reads(base: Path, months: list[MonthFiles], scratch: Path) -> dict[Path, LiveRead]:
    """For each live shard among ``months`` with a valid checkpoint: its checkpoint and tail."""
    found: dict[Path, LiveRead] = {}
    for mf in months:
        if mf.live is not None:
            lr = open_live(base, mf.month, mf.live, scratch)
            if lr is not None:
                found[mf.live] = lr
    return found


def month_sources(mf: MonthFiles, live: dict[Path, LiveRead]) -> tuple[list[Path], list[Path]]:
    """The JSONL and Parquet files that hold a month's rows, each row in exactly one of them:
    a live shard with a checkpoint is read as the checkpoint plus a copy of its tail."""
    jsonl: list[Path] = []
    parts = list(mf.parts)
    for p in mf.jsonl:
        lr = live.get(p)
        if lr is None:
            jsonl.append(p)
            continue
        parts.append(lr.parquet)
        if lr.tail is not None:
            jsonl.append(lr.tail)
    return jsonl, parts
