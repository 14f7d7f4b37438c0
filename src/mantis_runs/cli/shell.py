"""``mantis runs shell`` and ``mantis runs views``: the real DuckDB shell with the views defined."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..db import views
from ..db.connection import PathLike, old_layout
from ..errors import MantisError
from ..log.layout import check_data_dir, resolve_data_dir, scan, scan_events


def views_script(data_dir: PathLike | None = None, *, read_only: bool = False) -> str:
    """The views over ``data_dir`` as one script; refused while a part is in an older Parquet
    layout (the shell would fail on it with a binder error instead). ``read_only``: the session
    then reads only the views' files and creates none (what ``mantis runs shell`` runs)."""
    base = resolve_data_dir(data_dir)
    check_data_dir(base, events=True)  # a missing or empty data dir is an error
    months = list(scan(base).values())
    events = [p for files in scan_events(base).values() for p in files]
    stale = old_layout(months)
    if stale is not None:
        raise stale
    holders = views.placeholders()
    text = views.script(months, holders, events)
    return text + views.read_only_script(months, holders, events) if read_only else text


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
        init.write_text(views_script(data_dir, read_only=True), encoding="utf-8")
        # Not `-init FILE`: with it duckdb-cli prints a coloured "-- Loading resources from
        # FILE" on stderr, to a terminal or not (in a pipe, a log, a captured stderr). `-no-init`
        # skips ~/.duckdbrc, as -init FILE did; -cmd runs before any argument of the user's.
        return subprocess.call([binary, "-no-init", "-cmd", f".read {_dot_arg(init)}", *args])


def _dot_arg(path: Path) -> str:
    """``path`` as one argument of a duckdb-cli dot command: in double quotes, in which a
    backslash escapes the next character."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'
