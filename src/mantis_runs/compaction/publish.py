"""Publishing (step 5): the moment readers see a month change, under the publish lock.

Readers pass through ``.publish.intent`` and then hold ``.publish.lock`` shared while they list
files and query. :func:`publishing` takes both exclusively, waiting in the kernel
(:func:`~mantis_runs.log.locks.exclusive_blocking`) so that readers querying back to back do not
starve it, and with the intent held first so that new readers queue behind it meanwhile. Every
change readers can see (sealing, publishing a part or a checkpoint, recovery's deletions) happens
inside it, so a query sees a month entirely before or entirely after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MantisError
from ..log.integrity import checksum_path, measure, publish_checksum
from ..log.layout import PUBLISH_INTENT, PUBLISH_LOCK, refuse_link
from ..log.locks import LockTimeout, exclusive_blocking, fsync_dir

#: How long compaction waits for readers to finish before it publishes.
PUBLISH_TIMEOUT_S = 120.0


@contextmanager
def publishing(base: Path) -> Iterator[None]:
    """``.publish.intent`` then ``.publish.lock``, exclusively (at most ``PUBLISH_TIMEOUT_S``)."""
    try:
        # New readers queue at the turnstile while the current ones finish.
        with (exclusive_blocking(base / PUBLISH_INTENT, PUBLISH_TIMEOUT_S),
              exclusive_blocking(base / PUBLISH_LOCK, PUBLISH_TIMEOUT_S)):
            yield
    except LockTimeout:
        raise MantisError(f"readers held {base / PUBLISH_LOCK} for over "
                          f"{PUBLISH_TIMEOUT_S:g}s; nothing published, try again") from None


def publish_part(base: Path, tmp: Path, final: Path, replaces: Path,
                 previous: Path | None = None) -> None:
    """Rename the finished part ``tmp`` to ``final`` (a ``part-*.parquet`` name), then delete what
    it replaces: ``replaces`` (a sealed shard it absorbed, or the part it rewrote) and the
    month's ``previous`` generation if any, each followed by an fsync of its directory.

    A crash after the rename leaves both for readers and recovery to sort out: a sealed shard
    whose lineage names a part is not read, and only the newest generation is.

    The part's checksum file (log/integrity.py) is made durable before the rename, so every
    published part has one; the checksum files of the parts it replaces go after those parts.
    Recovery removes a checksum file left without its part.
    """
    try:
        publish_checksum(final, measure(tmp), tmp.parent)
    except OSError as exc:
        raise MantisError(f"writing {checksum_path(final)} failed: {exc.strerror or exc}; "
                          "nothing was published and nothing was lost") from None
    with publishing(base):
        for folder in (final.parent.parent, final.parent):  # compacted/ and its month
            refuse_link(folder)
        os.rename(tmp, final)
        fsync_dir(final.parent)
        replaces.unlink()
        fsync_dir(replaces.parent)
        if previous is not None:
            previous.unlink(missing_ok=True)
            fsync_dir(previous.parent)
        _drop_checksums([p for p in (replaces, previous) if p is not None])


def _drop_checksums(parts: list[Path]) -> None:
    """Delete the checksum files of parts just deleted (those that have one)."""
    for part in parts:
        if part.suffix == ".parquet":  # a part, not an absorbed sealed shard
            path = checksum_path(part)
            if path.exists():
                path.unlink()
                fsync_dir(path.parent)
