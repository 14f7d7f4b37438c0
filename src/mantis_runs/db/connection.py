"""DuckDB connections and consistent file snapshots, shared by every reader and the compactor.

Facts every query relies on (measured, see docs/storage-format.md):

* ``read_json`` always gets explicit ``columns`` and ``format='newline_delimited'`` with
  ``ignore_errors=true``; a bad line comes back as an all-NULL row, which is counted and dropped.
* The file list is computed from the months a query can touch; DuckDB never gets a glob that
  may match nothing (that is an error, not an empty result).
* Every connection runs ``SET TimeZone='UTC'`` (the config key fails at connect time).
* Every value is a bound parameter, including the file lists and the column schema.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ..errors import MantisError, one_line
from ..log import schema
from ..log.layout import PUBLISH_INTENT, PUBLISH_LOCK, MonthFiles, check_data_dir, scan
from ..log.locks import LockTimeout, shared_if_present
from .sqlfiles import load

#: DuckDB's buffer-manager limit for queries; RSS stays within a small multiple of it.
QUERY_MEMORY_LIMIT = "160MB"
#: The limit for queries over the views (RunStore, `mantis runs sql|list|show|report|watch`):
#: typing whole JSON rows and ranking repeated run_ids needs more than `stats` does (160MB failed
#: at 100,000 runs; a 2M-run store needs about 300-430 MB RSS), and DuckDB spills beyond it.
VIEW_MEMORY_LIMIT = "1GB"
#: How long a reader waits for a compactor that is publishing (it holds the lock for milliseconds).
PUBLISH_LOCK_TIMEOUT_S = 60.0

PathLike = str | os.PathLike[str]


_GLOB_CHARS = {"*": "[*]", "?": "[?]", "[": "[[]"}


def duckdb_path(path: str | os.PathLike[str]) -> str:
    """A file name as DuckDB's readers must be given it: they expand ``*``, ``?`` and ``[...]``
    in every name, so a data dir called ``runs*`` would also read ``runs-old``. Each such
    character becomes a one-character class that matches only itself."""
    text = os.fspath(path)
    if not any(c in text for c in _GLOB_CHARS):
        return text
    return "".join(_GLOB_CHARS.get(c, c) for c in text)


#: The macros every connection has: numpy's percentiles and the rules shared by every reader.
BASE_MACROS = ("macro_lerp", "macro_quantile_sorted", "macro_quantile", "macro_percentiles",
               "macro_finite", "macro_copy_key", "macro_newest_key")


def connect(*, memory_limit: str = QUERY_MEMORY_LIMIT, threads: int | None = None,
            temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up the way every mantis query expects."""
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        # No network here or in many deployments: never try to download an extension.
        "autoinstall_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    # Results are ordered explicitly wherever order matters; not preserving scan order lets
    # DuckDB stream JSON with far smaller buffers.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # no bar on stderr for queries over 2 s
    for macro in BASE_MACROS:
        con.execute(load(macro))
    if temp_directory is None:  # DuckDB's default is ".tmp" in the current directory
        temp_directory = Path(tempfile.gettempdir()) / f"mantis-duckdb-{os.getuid()}"
    con.execute("SET temp_directory = $dir", {"dir": str(temp_directory)})
    return con


@contextmanager
def snapshot(data_dir: Path) -> Iterator[dict[str, MonthFiles]]:
    """A consistent list of the files that hold each month, stable while the context is open.

    A shared lock on ``.publish.lock`` keeps compaction from sealing or publishing meanwhile, so
    every row is in exactly one listed file (or, after a compactor crash, in a sealed shard *and*
    its part, which run_id dedupe absorbs).
    """
    check_data_dir(data_dir)
    try:
        with shared_if_present(data_dir / PUBLISH_INTENT, PUBLISH_LOCK_TIMEOUT_S):
            pass  # a compactor waiting to publish goes first
        with shared_if_present(data_dir / PUBLISH_LOCK, PUBLISH_LOCK_TIMEOUT_S):
            yield scan(data_dir)
    except LockTimeout:
        raise MantisError(
            f"{data_dir / PUBLISH_LOCK} has been locked for over {PUBLISH_LOCK_TIMEOUT_S:g}s; "
            "is a compaction stuck?"
        ) from None


def query_failed(exc: duckdb.Error, months: Iterable[MonthFiles]) -> MantisError:
    """The one-line error of a failed query over ``months``. The usual cause after upgrading
    mantis-runs, a part in an older Parquet layout, is named with its fix."""
    return old_layout(months) or MantisError(f"query failed: {one_line(exc)}")


def old_layout(months: Iterable[MonthFiles]) -> MantisError | None:
    """The error for the first part of ``months`` in an older Parquet layout, if any (reads the
    parts' footers: pyarrow is imported)."""
    from .parquet_layout import layout_of

    for mf in months:
        for part in mf.parts:
            try:
                version = layout_of(part)
            except Exception:  # unreadable: a query's own error says more
                continue
            if version < schema.PARQUET_LAYOUT:
                return MantisError(f"{part} is in Parquet layout {version}, written by an earlier "
                                   "mantis-runs; run `mantis runs compact` once to rewrite it "
                                   "(nothing is lost)")
    return None
