"""The malformed lines a `stats` read skipped, per shard, named by ``messages.shard_name``: the
shard's file name, or its path when several data dirs are read (the same month of two data dirs
counted apart). A live shard read as its checkpoint plus a copy of its tail counts the bad
lines of its checkpointed bytes (from the manifest) and of the copy, under its own name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..log.checkpoint import LiveRead
from ..messages import shard_name
from .plan import MonthSource


def checkpointed(m: MonthSource, several: bool) -> dict[str, int]:
    """The bad lines in the checkpointed bytes of ``m``'s live shards, named."""
    return {shard_name(shard, several): n for shard, n in m.checkpointed_bad.items()}


def per_shard(skipped: Mapping[str, int], read: Iterable[tuple[Any, Any]],
              live: Mapping[Path, LiveRead], several: bool) -> dict[str, int]:
    """``skipped`` (the checkpointed bytes' counts) plus the (JSONL file, bad lines) pairs of
    the files ``read`` (stats_skipped), sorted by name."""
    out = dict(skipped)
    shard_of = {lr.tail: shard for shard, lr in live.items() if lr.tail is not None}
    for src, n in read:
        name = shard_name(shard_of.get(Path(src), Path(src)), several)
        out[name] = out.get(name, 0) + int(n)
    return dict(sorted(out.items()))
