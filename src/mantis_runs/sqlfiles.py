"""Loading the SQL in ``sql/``: shipped inside the wheel, read from the checkout when editable."""

from __future__ import annotations

import functools
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@functools.cache
def sql_dir() -> Path:
    """``mantis_runs/sql`` in an installed wheel, else the repository's top-level ``sql/``."""
    for candidate in (_HERE / "sql", _HERE.parent.parent / "sql"):
        if (candidate / "stats_percentiles.sql").is_file():
            return candidate
    raise FileNotFoundError("mantis-runs SQL files not found; the installation is incomplete")


@functools.cache
def load(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (sql_dir() / f"{name}.sql").read_text(encoding="utf-8")
