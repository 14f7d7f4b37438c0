"""``mantis runs shell`` and ``mantis runs views``: the real DuckDB shell with the views defined."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

from ..db import views
from ..db.connection import PathLike, old_layout, snapshot
from ..errors import MantisError
from ..log.layout import check_data_dir, has_run_log, resolve_data_dir, scan, scan_events


def views_script(data_dir: PathLike | None = None, *, read_only: bool = False) -> str:
    """The views over ``data_dir`` as one script; refused while a part is in an older Parquet
    layout (the shell would fail on it with a binder error instead). ``read_only``: the session
    then reads only the views' files and creates none (what ``mantis runs shell`` runs). The
    script may run in a later session, so it reads every shard whole, as it is then."""
    return _script(data_dir, read_only=read_only, fast=False)[0]


def _script(data_dir: PathLike | None, *, read_only: bool, fast: bool
            ) -> tuple[str, views.Reads | None]:
    """``views_script``; ``fast`` (``shell``, whose session ends before this process does):
    live shards as their checkpoints plus private copies of their tails, and the Parquet files
    proven clean passed through (db/view_reads.py), taken under the shared publish lock. The
    copies are the caller's to remove (``Reads.close``)."""
    base = resolve_data_dir(data_dir)
    check_data_dir(base, events=True)  # a missing or empty data dir is an error
    locked = snapshot(base) if fast and has_run_log(base) else nullcontext(None)
    with locked as found:
        months = list((scan(base) if found is None else found).values())
        events = [p for files in scan_events(base).values() for p in files]
        stale = old_layout(months)
        if stale is not None:
            raise stale
        holders = views.placeholders()
        reads = views.prepare(months) if found is not None else None
        try:
            text = views.script(months, holders, events, reads)
            if read_only:
                text += views.read_only_script(months, holders, events, reads)
        except BaseException:
            if reads is not None:
                reads.close()
            raise
        return text, reads


def duckdb_binary() -> str:
    """The DuckDB shell of the 'shell' extra (duckdb-cli), next to this Python first."""
    local = Path(sys.executable).parent / "duckdb"
    if local.is_file():
        return str(local)
    found = shutil.which("duckdb")
    if found:
        return found
    raise MantisError("the DuckDB shell is not installed: pip install 'mantis-runs[shell]'")


def run_shell(data_dir: PathLike | None, args: list[str]) -> int:
    binary = duckdb_binary()
    with tempfile.TemporaryDirectory(prefix="mantis-shell-") as tmp:
        init = Path(tmp) / "views.sql"
        text, reads = _script(data_dir, read_only=True, fast=True)
        try:
            init.write_text(text, encoding="utf-8")
            # Not `-init FILE`: with it duckdb-cli prints a coloured "-- Loading resources from
            # FILE" on stderr, to a terminal or not (in a pipe, a log, a captured stderr).
            # `-no-init` skips ~/.duckdbrc, as -init FILE did; -cmd runs before any argument of
            # the user's.
            return subprocess.call([binary, "-no-init", "-cmd", f".read {_dot_arg(init)}",
                                    *args])
        finally:  # the session is over: its tail copies go
            if reads is not None:
                reads.close()


def _dot_arg(path: Path) -> str:
    """``path`` as one argument of a duckdb-cli dot command: in double quotes, in which a
    backslash escapes the next character."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'
