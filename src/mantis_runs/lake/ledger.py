"""The shipper's local record, ``<data dir>/ship/``:

::

    ship/
      host_id                 the host id (hostid.py)
      .lock                   one shipper per data dir (flock)
      ledger.jsonl            one line per event, appended with fdatasync:
                              {"seq": 3, "event": "prepared", "rows": 1200, "sha256": "..."}
                              {"seq": 3, "event": "acked"}
      pending/00000003.parquet  batch 3's rows, fixed before its commit (a retry sends these
                              very bytes), deleted once acknowledged
      sent/00000003.parquet   the run_id and copy-order keys of every row of batch 3: what was
                              shipped, so the next batch leaves it out; merged now and then

A batch exists once its "prepared" line is durable: its files are written and fsynced first,
so a crash leaves either no batch (leftover files are removed) or a whole one. "acked" only
saves asking the table again; the table's app transaction is the truth.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import MantisError
from ..log.locks import fsync_dir

LEDGER: Final = "ledger.jsonl"
PENDING: Final = "pending"
SENT: Final = "sent"
LOCK: Final = ".lock"


@dataclass(frozen=True)
class Prepared:
    seq: int
    rows: int
    sha256: str


@dataclass
class Ledger:
    folder: Path
    prepared: dict[int, Prepared]
    acked: set[int]

    @property
    def last(self) -> int:
        """The last batch prepared (0: none yet)."""
        return max(self.prepared, default=0)

    def pending_file(self, seq: int) -> Path:
        return self.folder / PENDING / f"{seq:08d}.parquet"

    def sent_file(self, seq: int) -> Path:
        return self.folder / SENT / f"{seq:08d}.parquet"

    def record_prepared(self, batch: Prepared) -> None:
        self._append({"seq": batch.seq, "event": "prepared", "rows": batch.rows,
                      "sha256": batch.sha256})
        self.prepared[batch.seq] = batch

    def record_acked(self, seq: int) -> None:
        self._append({"seq": seq, "event": "acked"})
        self.acked.add(seq)
        self.pending_file(seq).unlink(missing_ok=True)

    def _append(self, entry: dict[str, object]) -> None:
        path = self.folder / LEDGER
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if new:
            fsync_dir(self.folder)


def read(folder: Path, *, create: bool = True) -> Ledger:
    """The ledger in ``folder`` (empty when there is none; its folders are created unless
    ``create`` is False). A torn last line (a crash inside the append) is ignored; any other
    unreadable line is an error, never a guess."""
    if create:
        (folder / PENDING).mkdir(parents=True, exist_ok=True)
        (folder / SENT).mkdir(exist_ok=True)
    ledger = Ledger(folder, {}, set())
    try:
        data = (folder / LEDGER).read_bytes()
    except FileNotFoundError:
        return ledger
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            seq = int(entry["seq"])
            if entry["event"] == "prepared":
                ledger.prepared[seq] = Prepared(seq, int(entry["rows"]), str(entry["sha256"]))
            elif entry["event"] == "acked":
                ledger.acked.add(seq)
        except (ValueError, KeyError, TypeError):
            if i == len(lines) - 1:  # torn tail: the append never finished
                continue
            raise MantisError(f"{folder / LEDGER} line {i + 1} is not a ledger entry: move "
                              "the ship/ folder aside and ship again (a new host id)") from None
    return ledger


def remove_leftovers(ledger: Ledger) -> None:
    """Batch files with no "prepared" line (a crash before it) and pending files of batches
    already acknowledged."""
    for sub in (PENDING, SENT):
        for path in (ledger.folder / sub).glob("*.parquet"):
            stem = path.stem
            if not stem.isdigit():
                continue
            seq = int(stem)
            if seq not in ledger.prepared or (sub == PENDING and seq in ledger.acked):
                path.unlink(missing_ok=True)
        for tmp in (ledger.folder / sub).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
