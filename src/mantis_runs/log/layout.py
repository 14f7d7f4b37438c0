"""Where things live in a data directory (standard library only).

::

    <data dir>/
      .publish.lock                         readers share it; compaction takes it to publish
      runs_log/
        .lock                               writers and sealing take it exclusively; never renamed
        2026-05.jsonl                       live shard: rows whose finished_at is in May 2026 (UTC)
        2026-04.jsonl.sealed-<id>           sealed by compaction: immutable, still read
      compacted/
        2026-04/part-000002-<id>.parquet    the month's compacted rows, generation 2; <id> is the
                                            lineage of the sealed shard it absorbed last
      quarantine/
        2026-04/<id>.jsonl                  bad lines of sealed shard <id>, with shard and line
      checkpoints/
        2026-05.json                        the live shard's checkpoint: which bytes it covers
        2026-05-<id>.parquet                their rows (derived data: see checkpoint.py)
      events_log/                           run events (events_root): laid out as the above,
        2026-05.jsonl                       with its shards in it, and compacted/, checksums/
        compacted/2026-04/part-...parquet   and quarantine/ under it (scan_event_months)
      .tmp/                                 compaction's scratch (DuckDB spill, unpublished parts)

The data dir itself may be a symbolic link, but nothing mantis manages inside it may be one
(:func:`refuse_links`, and :func:`scan` for what it lists): readers, the writer and compaction
refuse such a link with one line naming it (docs/storage-format.md, "What the data dir accepts").

A month's rows are the union of its live shard, its sealed shards not yet absorbed, and its newest
part. Generation g+1 of a month's part holds every row of generation g plus one sealed shard, so
only the newest generation is ever read; older ones are leftovers of a crash, removed by the next
compaction. A sealed shard whose lineage names a part is already absorbed and is not read either.
Readers list exactly those files; nothing is matched by a glob.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NoReturn

from ..errors import MantisError, NoDataDir, NoRunLog

RUNS_LOG = "runs_log"
#: Run events (append_event): events_log/YYYY-MM.jsonl by the month of each event's ts, written
#: with the same protocol as the run log under events_log/.lock (docs/events.md).
EVENTS_LOG = "events_log"
COMPACTED = "compacted"
QUARANTINE = "quarantine"
CHECKPOINTS = "checkpoints"
#: The compacted parts' checksum files: checksums/<month>/<part name>.json (log/integrity.py).
CHECKSUMS = "checksums"
SCRATCH = ".tmp"
WRITER_LOCK = ".lock"
PUBLISH_LOCK = ".publish.lock"
#: A turnstile in front of PUBLISH_LOCK: compaction holds it while it waits to publish, and readers
#: pass through it first, so a stream of readers cannot starve compaction.
PUBLISH_INTENT = ".publish.intent"
#: One compactor at a time (compaction/run.py takes it).
COMPACT_LOCK = ".compact.lock"
#: What mantis manages at the top of a data dir: each is a real directory or file, never a link.
MANAGED = (RUNS_LOG, EVENTS_LOG, COMPACTED, QUARANTINE, CHECKPOINTS, CHECKSUMS, SCRATCH,
           PUBLISH_LOCK, PUBLISH_INTENT, COMPACT_LOCK)

#: A UTC month as every file name, folder and option spells it: ``YYYY-MM`` (a regular expression
#: without groups or anchors; the patterns below and in checkpoint.py are built from it).
MONTH_PATTERN: Final = r"[0-9]{4}-(?:0[1-9]|1[0-2])"  # ASCII digits only (\d takes any)
# `\Z`, not `$`: `$` also matches before a final newline, and "2026-05\n" is not a month.
MONTH_RE: Final = re.compile(rf"^({MONTH_PATTERN})\Z")
_LIVE_RE = re.compile(rf"^({MONTH_PATTERN})\.jsonl\Z")
_SEALED_RE = re.compile(rf"^({MONTH_PATTERN})\.jsonl\.sealed-([0-9a-f]{{8,64}})\Z")
_PART_RE = re.compile(r"^part-(\d{6})-([0-9a-f]{8,64})\.parquet\Z")

ENV_DATA_DIR = "MANTIS_DATA_DIR"
BASETEN_DIR = Path("/workspace/mantis-data")
MODAL_DIR = Path("/data/mantis-runs")


def platform_default(env: Mapping[str, str]) -> Path | None:
    """The data dir of a known hosting platform, detected from its own environment variables.

    * Baseten sets ``BASETEN_*`` variables in model containers -> /workspace/mantis-data
    * Modal sets ``MODAL_TASK_ID`` (and ``MODAL_IS_REMOTE``) in containers -> /data/mantis-runs
    """
    if any(k.startswith("BASETEN_") for k in env):
        return BASETEN_DIR
    if env.get("MODAL_TASK_ID") or env.get("MODAL_IS_REMOTE"):
        return MODAL_DIR
    return None


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> Path:
    """``explicit`` > ``$MANTIS_DATA_DIR`` > platform default > ``$XDG_DATA_HOME/mantis``.

    ``$XDG_DATA_HOME`` defaults to ``~/.local/share`` when unset, empty or relative (XDG spec).
    A relative directory is made absolute now, so a later ``chdir`` cannot move the log.
    """
    env = os.environ if env is None else env
    if explicit is not None and str(explicit) != "":
        return Path(os.path.abspath(Path(explicit).expanduser()))
    if env.get(ENV_DATA_DIR):
        return Path(os.path.abspath(Path(env[ENV_DATA_DIR]).expanduser()))
    plat = platform_default(env)
    if plat is not None:
        return plat
    xdg = Path(env["XDG_DATA_HOME"]).expanduser() if env.get("XDG_DATA_HOME") else None
    # The XDG spec: a relative path in XDG_DATA_HOME is invalid and must be ignored.
    base = xdg if xdg is not None and xdg.is_absolute() else Path.home() / ".local" / "share"
    return base / "mantis"


def check_data_dir(data_dir: Path, *, events: bool = False) -> None:
    """Raise when ``data_dir`` holds no run log to read or compact: reading such a place as an
    empty store would hide a mistake (a mistyped path, the wrong $MANTIS_DATA_DIR). With
    ``events`` (the events readers: ``events``, ``status``, ``list --running/--lost``), an
    ``events_log/`` folder alone is a store too (runs that have not finished yet).

    * it does not exist: :class:`NoDataDir`, a :class:`NoRunLog` (only the writer creates a
      data dir, with its first row; readers and compaction never do);
    * it, ``runs_log`` or ``compacted`` is a file, or cannot be listed: ``OSError``;
    * it holds neither ``runs_log/`` nor ``compacted/``: :class:`NoRunLog`;
    * a symbolic link among what mantis manages in it: :class:`LinkRefused` (``refuse_links``).

    Every reader (through ``db.connection.snapshot``) and compaction call it first."""
    try:
        os.stat(data_dir)
    except FileNotFoundError:
        raise NoDataDir(f"data dir {data_dir} does not exist") from None
    for path in (data_dir, data_dir / RUNS_LOG, data_dir / COMPACTED):
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is not a directory")
        if path.is_dir():
            os.listdir(path)  # raises PermissionError when it cannot be listed
    refuse_links(data_dir)
    if events and (data_dir / EVENTS_LOG).is_dir():
        return
    if not has_run_log(data_dir):
        raise NoRunLog(f"data dir {data_dir} holds no run log (no {RUNS_LOG}/ or {COMPACTED}/ "
                       "folder in it)")


def has_run_log(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a run log (``runs_log/`` or ``compacted/``)."""
    return (data_dir / RUNS_LOG).is_dir() or (data_dir / COMPACTED).is_dir()


class LinkRefused(MantisError):
    """A symbolic link where mantis manages a file or folder of the data dir."""


def link_refused(path: str | os.PathLike[str]) -> NoReturn:
    """Raise :class:`LinkRefused` for the symbolic link ``path``: one line that names it (and
    where it points) and says what to do."""
    try:
        target = f" to {os.readlink(path)}"
    except OSError:
        target = ""
    raise LinkRefused(
        f"{os.fspath(path)} is a symbolic link{target}; mantis follows no links inside a data "
        "dir: move what it points to back in its place, or move the whole data dir instead "
        "(the data dir itself may be a link or a mount point)")


def refuse_link(path: str | os.PathLike[str]) -> os.stat_result | None:
    """``lstat`` of ``path``, None when it does not exist; :class:`LinkRefused` when it is a
    symbolic link."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(st.st_mode):
        link_refused(path)
    return st


def refuse_links(data_dir: Path) -> None:
    """Raise :class:`LinkRefused` for a symbolic link among what mantis manages in ``data_dir``:
    the names in :data:`MANAGED`, ``runs_log/.lock``, and anything in ``checkpoints/``,
    ``quarantine/`` or ``checksums/``. :func:`scan` refuses the links among what it lists (in
    ``runs_log/``, ``compacted/`` and its month folders). ``data_dir`` itself may be a link."""
    for name in MANAGED:
        refuse_link(data_dir / name)
    refuse_link(data_dir / RUNS_LOG / WRITER_LOCK)
    for folder in (CHECKPOINTS, QUARANTINE, CHECKSUMS):
        for e in _entries(data_dir / folder):
            if e.is_symlink():
                link_refused(e.path)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` by name; none when it is missing, not a folder or unreadable."""
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def month_of(dt: datetime) -> str:
    """``YYYY-MM`` of ``dt`` in UTC: the month whose files hold a row finished at ``dt``."""
    dt = dt.astimezone(UTC)
    # Not strftime("%Y"): glibc does not zero-pad years before 1000 ("999-05").
    return f"{dt.year:04d}-{dt.month:02d}"


def month_start(month: str) -> datetime:
    year, mo = checked_month(month).split("-")
    return datetime(int(year), int(mo), 1, tzinfo=UTC)


def next_month(month: str) -> str:
    start = month_start(month)
    y, mo = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return month_of(datetime(y, mo, 1, tzinfo=UTC))


def runs_log_dir(data_dir: Path) -> Path:
    return data_dir / RUNS_LOG


def checked_month(month: str) -> str:
    """``month`` if it is YYYY-MM, else ValueError: no path is built from unchecked text."""
    if not MONTH_RE.match(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return month


def live_shard(data_dir: Path, month: str) -> Path:
    return data_dir / RUNS_LOG / f"{checked_month(month)}.jsonl"


def events_shard(data_dir: Path, month: str) -> Path:
    """The live events shard of ``month``: events_log/YYYY-MM.jsonl."""
    return data_dir / EVENTS_LOG / f"{checked_month(month)}.jsonl"


def sealed_name(month: str, lineage: str) -> str:
    return f"{month}.jsonl.sealed-{lineage}"


def part_path(data_dir: Path, month: str, generation: int, lineage: str) -> Path:
    return data_dir / COMPACTED / month / f"part-{generation:06d}-{lineage}.parquet"


def part_generation(path: Path) -> tuple[int, str]:
    m = _PART_RE.match(path.name)
    if not m:
        raise ValueError(f"not a part file: {path.name}")
    return int(m.group(1)), m.group(2)


def quarantine_path(data_dir: Path, month: str, lineage: str) -> Path:
    return data_dir / QUARANTINE / month / f"{lineage}.jsonl"


@dataclass
class MonthFiles:
    """The files that together hold one month's rows."""

    month: str
    live: Path | None = None
    sealed: list[Path] = field(default_factory=list)  # sealed shards not yet absorbed
    parts: list[Path] = field(default_factory=list)  # the newest generation only (0 or 1 file)
    superseded: list[Path] = field(default_factory=list)  # absorbed sealed shards, old parts

    @property
    def jsonl(self) -> list[Path]:
        return ([self.live] if self.live else []) + self.sealed

    @property
    def bytes(self) -> int:
        total = 0
        for p in [*self.jsonl, *self.parts]:
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
        return total


def live_month(path: Path) -> str | None:
    """The month of ``path`` when it is named as a live shard (``YYYY-MM.jsonl``), else None."""
    m = _LIVE_RE.match(path.name)
    return m.group(1) if m else None


def sealed_lineage(path: Path) -> tuple[str, str] | None:
    m = _SEALED_RE.match(path.name)
    return (m.group(1), m.group(2)) if m else None


def _scan_parts(comp: Path, get: Callable[[str], MonthFiles]) -> set[tuple[str, str]]:
    """Each month's newest part generation under ``comp`` (the older ones as superseded); the
    (month, lineage) of every part, so that the sealed shards they absorbed are known."""
    # No symbolic link is followed, nor skipped: a month behind one would vanish from readers
    # while compaction wrote a second part behind it (refuse_links says why).
    refuse_link(comp)
    lineages: set[tuple[str, str]] = set()
    try:
        month_dirs = sorted(os.scandir(comp), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        month_dirs = []
    for d in month_dirs:
        if d.is_symlink():
            link_refused(d.path)
        if not (MONTH_RE.match(d.name) and d.is_dir(follow_symlinks=False)):
            continue
        found = []
        for e in sorted(os.scandir(d.path), key=lambda e: e.name):
            if e.is_symlink():
                link_refused(e.path)
            m = _PART_RE.match(e.name)
            if m and e.is_file(follow_symlinks=False):
                found.append((int(m.group(1)), Path(e.path)))
                lineages.add((d.name, m.group(2)))
        if found:
            found.sort()
            mf = get(d.name)
            mf.parts.append(found[-1][1])
            mf.superseded.extend(p for _, p in found[:-1])
    return lineages


def scan(data_dir: Path, log_folder: Path | None = None) -> dict[str, MonthFiles]:
    """List every month present, oldest first. Hold the publish lock (shared) for a stable view.

    ``log_folder`` (default ``data_dir/runs_log``) is where the live and sealed shards are: the
    events' store root is ``events_log/`` itself (:func:`events_root`)."""
    months: dict[str, MonthFiles] = {}
    logs = data_dir / RUNS_LOG if log_folder is None else log_folder

    def get(month: str) -> MonthFiles:
        return months.setdefault(month, MonthFiles(month))

    lineages = _scan_parts(data_dir / COMPACTED, get)

    refuse_link(logs)
    try:
        entries = sorted(os.scandir(logs), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        entries = []
    for e in entries:
        if e.is_symlink():
            link_refused(e.path)
        if not e.is_file(follow_symlinks=False):
            continue
        m = _LIVE_RE.match(e.name)
        if m:
            get(m.group(1)).live = Path(e.path)
            continue
        s = _SEALED_RE.match(e.name)
        if s:
            mf = get(s.group(1))
            if (s.group(1), s.group(2)) in lineages:
                mf.superseded.append(Path(e.path))
            else:
                mf.sealed.append(Path(e.path))
    return dict(sorted(months.items()))


def events_root(data_dir: Path) -> Path:
    """The events' store root, ``events_log/``: laid out as a data dir is for runs, with the
    shards in it rather than in ``runs_log/``: ``YYYY-MM.jsonl`` (live), ``YYYY-MM.jsonl.sealed-
    <id>``, ``compacted/<month>/part-<gen>-<id>.parquet``, ``checksums/<month>/<part>.json``
    and ``quarantine/<month>/<id>.jsonl`` (docs/storage-format.md)."""
    return data_dir / EVENTS_LOG


def scan_event_months(data_dir: Path) -> dict[str, MonthFiles]:
    """:func:`scan` of the events' store root: each month's part, sealed and live shards,
    its sealed shards in the order they were written (:func:`written_order`)."""
    root = events_root(data_dir)
    refuse_link(root)
    if not root.is_dir():
        return {}
    # a link in events_log/ is refused, as in runs_log/, and in its quarantine/ and checksums/
    for e in [*_entries(root), *_entries(root / QUARANTINE), *_entries(root / CHECKSUMS)]:
        if e.is_symlink():
            link_refused(e.path)
    months = scan(root, root)
    for mf in months.values():
        mf.sealed = written_order(mf.sealed)
    return months


def written_order(shards: list[Path]) -> list[Path]:
    """Sealed shards of one month in the order they were written: a month's live shard is
    sealed before a late writer starts the next one, so the one last written to (mtime, which a
    rename keeps) is the newer; the name breaks a tie."""
    def key(p: Path) -> tuple[int, str]:
        try:
            return (p.stat().st_mtime_ns, p.name)
        except FileNotFoundError:
            return (0, p.name)
    return sorted(shards, key=key)


def scan_events(data_dir: Path) -> dict[str, list[Path]]:
    """Every month of run events present, oldest first: ``{month: [files]}``, each list the
    files that hold that month's events in the order they were written: the newest part (its
    rows carry their order in ``seq``), the sealed shards not yet absorbed, the live shard. A
    symbolic link among them, or in ``events_log``'s place, is refused; no events_log/ is no
    events. Hold the publish lock (shared) for a stable view, as for :func:`scan`."""
    return {m: [*mf.parts, *mf.sealed, *([mf.live] if mf.live else [])]
            for m, mf in scan_event_months(data_dir).items()}
