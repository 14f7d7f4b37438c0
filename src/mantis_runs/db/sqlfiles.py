"""Loading the SQL files shipped in this package (``mantis_runs/db/sql/<purpose>/<name>.sql``)."""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable


@functools.cache
def _index() -> dict[str, Traversable]:
    """Every SQL file by its name (without ``.sql``); names are unique across the folders."""
    found: dict[str, Traversable] = {}
    root = resources.files(__package__) / "sql"
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if item.name.endswith(".sql"):
                name = item.name[: -len(".sql")]
                if name in found:
                    raise RuntimeError(f"two SQL files are called {name}.sql")
                found[name] = item
    if not found:
        raise FileNotFoundError("mantis-runs SQL files not found; the installation is incomplete")
    return found


def names() -> list[str]:
    """The names of every SQL file, sorted."""
    return sorted(_index())


@functools.cache
def load(name: str) -> str:
    """The text of the SQL file ``name`` (e.g. ``stats_percentiles``)."""
    return _index()[name].read_text(encoding="utf-8")
