"""``mantis runs verify``: every file readers use, checked against what was recorded when it was
written (docs/compaction.md, "Verifying a store").

* Compacted parts (the newest generation of each month): every byte against the checksum file
  written when the part was published (log/integrity.py). A part written by mantis-runs before
  parts had checksums is *unchecked*: it is decoded in full instead (page checksums too, if it
  has them), which finds much damage but not all.
* Checkpoints: the manifest must be readable, and the Parquet file it names must match the
  checksum the manifest holds. A damaged checkpoint is reported, though nothing is lost: readers
  ignore it and the next compaction removes it and starts a new one from the shard.
* Quarantine files: each line must be an entry as compaction wrote it, its ``raw_base64`` of
  ``bytes`` bytes and its ``text`` their UTF-8 reading (the two copies check each other). They are
  the only copy of the bad lines, so damage there is reported too.

JSONL shards carry no checksum (writers append to them); readers report their bad lines.

It takes no lock and changes nothing, so it may run alongside writers, readers and compaction:
a file that compaction replaces while it runs is skipped (its successor is checked next time).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..db.connection import PathLike
from ..db.parquet_layout import decode_problem
from ..log import checkpoint
from ..log.integrity import RESTORE, Damaged, check_part, full_problem
from ..log.layout import CHECKPOINTS, MONTH_RE, QUARANTINE, check_data_dir, resolve_data_dir
from .kinds import kinds

#: What is said of a damaged checkpoint: nothing is lost.
DERIVED = ("a checkpoint is derived data: readers ignore it and read the shard, and the next "
           "compaction removes it and builds a new one")
_QUARANTINE_KEYS = {"shard", "sealed_as", "line", "bytes", "raw_base64", "text"}


@dataclass(frozen=True)
class Finding:
    """A damaged file: its path relative to the data dir, and what is wrong (one line)."""

    path: str
    problem: str


@dataclass
class VerifyReport:
    data_dir: str
    parts: int = 0  # parts whose every byte matched their checksum
    checkpoints: int = 0  # checkpoints whose Parquet file matched the manifest's checksum
    quarantine_files: int = 0  # quarantine files whose every line is an intact entry
    unchecked: list[Finding] = field(default_factory=list)  # no checksum to check against
    damaged: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No damage found (unchecked files are not damage)."""
        return not self.damaged

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def verify(data_dir: PathLike | None = None) -> VerifyReport:
    """Check every compacted part, checkpoint and quarantine file of ``data_dir``."""
    base = resolve_data_dir(data_dir)
    check_data_dir(base, events=True)
    report = VerifyReport(data_dir=str(base))
    for kind in kinds(base):  # the run log's parts, then the events' (events_log/compacted/)
        for mf in kind.scan().values():
            for part in mf.parts:
                _part(base, part, report)
    for kind in kinds(base):  # checkpoints/, then events_log/checkpoints/
        for month in _manifest_months(kind.root):
            _checkpoint(base, kind.root, month, report)
    for kind in kinds(base):
        for path in sorted((kind.root / QUARANTINE).glob("*/*.jsonl")):
            _quarantine(base, path, report)
    return report


def _rel(base: Path, path: Path) -> str:
    return str(path.relative_to(base))


def _part(base: Path, part: Path, report: VerifyReport) -> None:
    try:
        checksum = check_part(part, full=True)
    except Damaged as exc:
        if part.exists():  # else compaction replaced it meanwhile
            report.damaged.append(Finding(_rel(base, part), f"{exc.why}; {RESTORE}"))
        return
    if checksum is not None:
        report.parts += 1
        return
    if not part.exists():
        return
    problem = decode_problem(part)
    if problem is not None and part.exists():
        report.damaged.append(Finding(_rel(base, part), f"it has no checksum (written by an "
                                      f"earlier mantis-runs) and cannot be decoded: {problem}; "
                                      f"{RESTORE}"))
    elif problem is None:
        report.unchecked.append(Finding(_rel(base, part), "no checksum: written by an earlier "
                                        "mantis-runs; it decodes, and gets a checksum when "
                                        "compaction next rewrites it"))


def _manifest_months(base: Path) -> list[str]:
    try:
        names = sorted(os.listdir(base / CHECKPOINTS))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [n.removesuffix(".json") for n in names
            if n.endswith(".json") and MONTH_RE.match(n.removesuffix(".json"))]


def _checkpoint(base: Path, root: Path, month: str, report: VerifyReport) -> None:
    manifest = checkpoint.manifest_path(root, month)
    try:
        cp = checkpoint.read_manifest(root, month)
    except FileNotFoundError:
        return  # removed meanwhile
    except checkpoint.OlderFormat as exc:
        report.unchecked.append(Finding(_rel(base, manifest), f"{exc}: readers ignore it and "
                                        "the next compaction replaces it"))
        return
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        report.damaged.append(Finding(_rel(base, manifest),
                                      f"the manifest cannot be read: {why}; {DERIVED}"))
        return
    parquet = root / CHECKPOINTS / cp.parquet
    try:
        problem = full_problem(parquet, cp.parquet_checksum)
    except OSError as exc:
        if checkpoint.load(root, month) != cp:
            return  # replaced meanwhile: the next verify checks the new one
        problem = f"it cannot be read: {exc.strerror or exc}"
    if problem is None:
        report.checkpoints += 1
    else:
        report.damaged.append(Finding(_rel(base, parquet), f"{problem}; {DERIVED}"))


def _quarantine(base: Path, path: Path, report: VerifyReport) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.damaged.append(Finding(_rel(base, path),
                                      f"it cannot be read: {exc.strerror or exc}; {RESTORE}"))
        return
    lines = data.split(b"\n")
    bad: list[tuple[int, str]] = []
    for n, raw in enumerate(lines[:-1], 1):
        why = _entry_problem(raw, path.stem)
        if why is not None:
            bad.append((n, why))
    if lines[-1]:
        bad.append((len(lines), "it has no newline (the file was cut short)"))
    if not bad:
        report.quarantine_files += 1
        return
    (n, why), more = bad[0], len(bad) - 1
    report.damaged.append(Finding(
        _rel(base, path), f"line {n}{f' (and {more} more)' if more else ''} is not an entry as "
        f"compaction wrote it: {why}; it holds the only copy of those bad lines: {RESTORE}"))


def _entry_problem(raw: bytes, lineage: str) -> str | None:
    """Why one quarantine line is not an intact entry of the file of sealed shard ``lineage``."""
    try:
        e = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "not UTF-8 JSON"
    if not isinstance(e, dict) or set(e) != _QUARANTINE_KEYS:
        return "not an object with the keys of an entry"
    if not all(isinstance(e[k], str) for k in ("shard", "sealed_as", "raw_base64", "text")):
        return "a text field is not text"
    if e["sealed_as"] != f"{e['shard']}.sealed-{lineage}":
        return "its sealed_as does not name this file's sealed shard"
    for k in ("line", "bytes"):
        if not isinstance(e[k], int) or isinstance(e[k], bool) or e[k] < (k == "line"):
            return f"its {k} is not a whole number"
    try:
        body = base64.b64decode(e["raw_base64"], validate=True)
    except (binascii.Error, ValueError):
        return "its raw_base64 is not base64"
    if len(body) != e["bytes"]:
        return f"its raw_base64 holds {len(body)} bytes, not {e['bytes']}"
    if body.decode("utf-8", "replace") != e["text"]:
        return "its text is not the UTF-8 reading of its raw_base64"
    return None
