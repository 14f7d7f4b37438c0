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
from ..log.layout import resolve_data_dir, scan


def views_script(data_dir: PathLike | None = None) -> str:
    """The views over ``data_dir`` as one script; refused while a part is in an older Parquet
    layout (the shell would fail on it with a binder error instead)."""
    base = resolve_data_dir(data_dir)
    months = list(scan(base).values())
    stale = old_layout(months)
    if stale is not None:
        raise stale
    return views.script(months, views.placeholders())


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
        init.write_text(views_script(data_dir), encoding="utf-8")
        return subprocess.call([binary, "-init", str(init), *args])
