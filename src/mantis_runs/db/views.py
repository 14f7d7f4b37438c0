"""The SQL views over a data directory: runs, run_buckets, run_costs and runs_bad_lines.

The views are defined once, in ``sql/view_*.sql``, over session variables that name the files
(``mantis_jsonl_files``, ``mantis_parquet_files``), carry the schema and list the run_ids with
more than one copy among the store's Parquet files (``mantis_shared_ids``, from the cache of
``shared_ids.py``: the runs whose Parquet rows the ``runs`` view must rank). In the library the
variables are set with bound parameters; for the DuckDB shell (``mantis runs shell`` and
``mantis runs views``) the same SQL is preceded by ``SET VARIABLE`` statements with quoted literals.

DuckDB refuses an empty file list, so each list also names an empty placeholder file (a 0-byte
JSONL file and a 0-row Parquet file with the canonical schema). They live in the user cache
folder (``$XDG_CACHE_HOME/mantis``), so a printed script keeps working; a private temp folder is
the fallback when that is not writable.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import duckdb

from ..log import checkpoint, schema
from ..log.layout import CHECKPOINTS, MonthFiles, scan
from . import arrow_schema
from .cache import cache_root
from .connection import BASE_MACROS, connect, duckdb_path
from .shared_ids import cached_shared_run_ids, shared_run_ids
from .sqlfiles import load

MACROS = (*BASE_MACROS, "macro_bad_line", "macro_breakdown", "macro_part_rows",
          "macro_contested_ids", "macro_view_jsonl_rows")
#: The breakdown fields: each is typed by a json_transform of its own (mantis_view_jsonl_rows).
_MAPS = {"wall_time_breakdown": "mantis_wall", "cost_breakdown": "mantis_cost"}
VIEWS = ("view_runs", "view_run_buckets", "view_run_costs", "view_runs_bad_lines")


def write_placeholders(folder: Path) -> tuple[Path, Path]:
    """An empty JSONL file and an empty Parquet file with the canonical schema, in ``folder``.

    Each is written under a temporary name and renamed, so concurrent processes never see a
    half-written placeholder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, parquet = folder / "empty.jsonl", folder / "empty.parquet"
    tag = f".{os.getpid()}.tmp"
    if not jsonl.exists():
        Path(str(jsonl) + tag).write_bytes(b"")
        os.replace(str(jsonl) + tag, jsonl)
    if not parquet.exists():
        import pyarrow.parquet as pq  # only when the file is missing: finding it imports none

        pq.write_table(arrow_schema.parquet_schema().empty_table(), str(parquet) + tag)
        os.replace(str(parquet) + tag, parquet)
    return jsonl, parquet


@functools.cache
def placeholders() -> tuple[Path, Path]:
    """The placeholders for this schema, in the user cache folder (a temp folder as fallback).

    The folder is named by a digest of what the Parquet schema is made from (the row contract
    and the code of arrow_schema), so that finding them imports no pyarrow."""
    made_of = repr((schema.FIELDS, schema.KNOWN_BUCKETS, schema.PARQUET_LAYOUT)).encode()
    made_of += Path(arrow_schema.__file__).read_bytes()
    digest = hashlib.sha256(made_of).hexdigest()[:12]
    cache = cache_root() / f"empty-{digest}"
    try:
        return write_placeholders(cache)
    except OSError:
        d = Path(tempfile.mkdtemp(prefix="mantis-views-"))
        atexit.register(shutil.rmtree, d, True)
        return write_placeholders(d)


def file_lists(months: Iterable[MonthFiles],
               holders: tuple[Path, Path] | None = None) -> tuple[list[str], list[str]]:
    """(JSONL files, Parquet files) of ``months``, each list ending with its placeholder."""
    jsonl_holder, parquet_holder = holders or placeholders()
    jsonl: list[str] = []
    parquet: list[str] = []
    for mf in months:
        jsonl.extend(duckdb_path(p) for p in mf.jsonl)
        parquet.extend(duckdb_path(p) for p in mf.parts)
    return [*jsonl, duckdb_path(jsonl_holder)], [*parquet, duckdb_path(parquet_holder)]


def readable(months: Iterable[MonthFiles],
             holders: tuple[Path, Path] | None = None) -> list[str]:
    """Every file the views over ``months`` read: what a locked-down connection may read
    (``connection.lock_down``). Each name is there as the views give it (``duckdb_path``) and as
    DuckDB's glob expands it, since DuckDB checks both."""
    months = list(months)
    holders = holders or placeholders()
    jsonl, parquet = file_lists(months, holders)
    named = [str(p) for mf in months for p in (*mf.jsonl, *mf.parts)]
    return sorted({*jsonl, *parquet, *named, *map(str, holders)})


def variables(jsonl: list[str], parquet: list[str], shared: list[str]) -> dict[str, object]:
    columns = schema.duckdb_columns()
    return {
        "mantis_jsonl_files": jsonl,
        "mantis_parquet_files": parquet,
        "mantis_shared_ids": shared,
        "mantis_scalars": json.dumps({k: t for k, t in columns.items() if k not in _MAPS}),
        **{var: json.dumps({k: columns[k]}) for k, var in _MAPS.items()},
        "mantis_known": json.dumps(dict.fromkeys(schema.FIELD_NAMES)),
    }


def install(con: duckdb.DuckDBPyConnection, months: Iterable[MonthFiles]) -> None:
    """Define the macros and views on ``con`` over ``months`` (values bound, never formatted)."""
    set_files(con, months)
    for name in (*MACROS, *VIEWS):
        con.execute(load(name))


def set_files(con: duckdb.DuckDBPyConnection, months: Iterable[MonthFiles]) -> None:
    """Point the views at other months (the views re-read the variables on every query)."""
    months = list(months)
    jsonl, parquet = file_lists(months)
    for name, value in variables(jsonl, parquet, shared(months)).items():
        if name == "mantis_shared_ids":  # a list literal with no element has no type
            con.execute(f"SET VARIABLE {name} = CAST($value AS VARCHAR[])", {"value": value})
        else:
            con.execute(f"SET VARIABLE {name} = $value", {"value": value})  # name: a constant


def shared(months: Iterable[MonthFiles]) -> list[str]:
    """The run_ids with more than one copy among the Parquet files of the store ``months`` are
    in (a superset for the parts of ``months``; ``shared_ids.shared_run_ids``).

    The files are every part of the store plus each live month's checkpoint, the set that
    compaction warms the cache for, so the answer is usually one cached file; without a usable
    checkpoint file, the parts alone. Computing it (a cache miss) reads every run_id once, on
    a private connection: the views' own may be locked down to the files they read."""
    months = list(months)
    base = _data_dir(months)
    if base is None or not any(mf.parts for mf in months):
        return []
    store = scan(base)
    parts = [p for mf in store.values() for p in mf.parts]
    checkpoints = [base / CHECKPOINTS / cp.parquet for m, mf in store.items()
                   if mf.live is not None and (cp := checkpoint.load(base, m)) is not None]
    if checkpoints:
        known = cached_shared_run_ids(parts + checkpoints)
        if known is not None:
            return known
    known = cached_shared_run_ids(parts)
    if known is not None:
        return known
    with closing(connect()) as con:
        if checkpoints:
            try:
                return shared_run_ids(con, parts + checkpoints)
            except duckdb.Error:
                pass  # a checkpoint file that is gone or damaged: the parts are what matters
        return shared_run_ids(con, parts)


def _data_dir(months: list[MonthFiles]) -> Path | None:
    """The data dir whose files ``months`` lists (runs_log/<shard>, compacted/<month>/<part>)."""
    for mf in months:
        if mf.parts:
            return mf.parts[0].parents[2]
        if mf.jsonl:
            return mf.jsonl[0].parents[1]
    return None


def _literal(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def script(months: Iterable[MonthFiles], holders: tuple[Path, Path]) -> str:
    """The whole setup as one SQL script for any DuckDB client (1.5.x or 2.0)."""
    months = list(months)
    jsonl, parquet = file_lists(months, holders)
    out = [
        "-- mantis-runs views. Generated by `mantis runs views`; the file lists are a snapshot:",
        "-- generate it again after new months appear or a compaction runs. It only defines",
        "-- views; `mantis runs shell` also makes the session read-only (docs/sql.md).",
        "SET TimeZone = 'UTC';",
    ]
    for name, value in variables(jsonl, parquet, shared(months)).items():
        cast = "::VARCHAR[]" if name == "mantis_shared_ids" else ""
        out.append(f"SET VARIABLE {name} = {_literal(value)}{cast};")
    out.extend(load(name).rstrip() for name in (*MACROS, *VIEWS))
    return "\n".join(out) + "\n"


def read_only_script(months: Iterable[MonthFiles], holders: tuple[Path, Path]) -> str:
    """What ``mantis runs shell`` adds after ``script``: the session reads only the files of the
    views and writes none (``connection.lock_down`` without its last step: the DuckDB 1.5.x shell
    fails once its configuration is locked; turning file access back on is refused anyway)."""
    return "\n".join([
        "-- Read-only (docs/sql.md): from here on DuckDB reads only the files above and creates",
        "-- none (COPY TO, EXPORT, ATTACH of a file are refused). The dot commands are the",
        "-- shell's own, not DuckDB's: `.once FILE` writes the next result to FILE.",
        f"SET allowed_paths = {_literal(readable(months, holders))};",
        "SET enable_external_access = false;",
    ]) + "\n"
