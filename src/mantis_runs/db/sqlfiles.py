"""Loading the SQL files shipped in this package (``mantis_runs/db/sql/<purpose>/<name>.sql``)."""

from __future__ import annotations

import functools
import re
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


#: ``@name@`` in a query's code stands for the fragment ``sql/fragments/<name>.sql``: a rule
#: that several queries share and that SQL cannot name (an ORDER BY list), written once.
_FRAGMENT = re.compile(r"@([a-z_]+)@")


@functools.cache
def load(name: str) -> str:
    """The text of the SQL file ``name`` (e.g. ``stats_percentiles``), with its fragments in
    place (only in code lines, never in ``--`` comments)."""
    text = _index()[name].read_text(encoding="utf-8")
    return "\n".join(line if line.lstrip().startswith("--")
                     else _FRAGMENT.sub(lambda m: fragment(m.group(1)), line)
                     for line in text.split("\n"))


@functools.cache
def fragment(name: str) -> str:
    """The code of ``sql/fragments/<name>.sql`` on one line (its comments left out)."""
    text = _index()[name].read_text(encoding="utf-8")
    return " ".join(line.strip() for line in text.splitlines()
                    if line.strip() and not line.lstrip().startswith("--"))
