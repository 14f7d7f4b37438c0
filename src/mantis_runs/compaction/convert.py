"""Converting (step 4): JSONL lines plus an earlier Parquet file into one new Parquet file.

A :class:`Conversion` runs DuckDB over a sealed shard (or a checkpoint's copy of a live shard's
new bytes) and the month's previous part generation (or previous checkpoint): a first pass counts
lines, bad lines and repeated run_ids, then :meth:`Conversion.write` streams one row per run_id
into a Parquet file in the scratch directory (fsynced) through ``db.parquet_layout.write_rows``.
A sealed shard's bad lines are copied byte for byte to its quarantine file first
(:func:`write_quarantine`). Nothing here publishes anything: absorb.py, upgrade.py and
checkpoints.py do, under the publish lock.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ..db import views
from ..db.connection import connect, duckdb_path
from ..db.parquet_layout import write_rows
from ..db.sqlfiles import load
from ..errors import MantisError, one_line
from ..log import schema
from ..log.layout import quarantine_path
from ..log.locks import fsync_dir, makedirs_durable

#: The macros that turn JSONL lines into rows of the Parquet layout (mantis_stored_rows).
STORED_ROW_MACROS = ("macro_bad_line", "macro_sealed_rows", "macro_other_seconds",
                     "macro_stored_rows")


def stored_row_params() -> dict[str, Any]:
    """The schema arguments of mantis_stored_rows, derived from schema.py."""
    return {
        "structure": json.dumps(schema.duckdb_columns(seconds_as_json=True)),
        "known": json.dumps(dict.fromkeys(schema.FIELD_NAMES)),
        "known_struct": schema.known_struct(),
        "known_names": list(schema.KNOWN_BUCKETS),
    }


def scratch_connection(scratch: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for one conversion: ``memory_limit``, spilling to the scratch dir."""
    return connect(memory_limit=memory_limit, temp_directory=scratch / "duckdb")


@contextmanager
def nothing_lost(what: str, kept: str = "the shard stays readable") -> Iterator[None]:
    """DuckDB and OS errors of a conversion as one line: the source stays as it was."""
    try:
        yield
    except duckdb.Error as exc:
        raise MantisError(f"{what} failed: {one_line(exc)}; nothing was lost, {kept}") from exc
    except OSError as exc:
        raise MantisError(f"{what} failed: {exc}; nothing was lost, {kept}") from exc


class Conversion:
    """JSONL lines plus an earlier Parquet file (or none) into one Parquet file, one row per
    run_id: the id pass runs first (line and bad-line counts, repeated run_ids), then ``write``."""

    #: whose lines these are: a run shard's (False) or an events shard's (write_quarantine)
    events = False

    def __init__(self, con: duckdb.DuckDBPyConnection, scratch: Path, jsonl: Path,
                 previous: Path | None) -> None:
        self.con = con
        for macro in STORED_ROW_MACROS:
            con.execute(load(macro))
        self.files = [duckdb_path(jsonl)]
        # None yet: an empty Parquet file with the schema stands in, so one query serves both.
        self.previous = [duckdb_path(previous if previous is not None
                                     else views.write_placeholders(scratch)[1])]
        con.execute(load("compact_ids"), {"files": self.files, "previous": self.previous})
        self.lines = self.bad = self.repeated = 0
        for total_row, run_id, shard_lines, _copies in con.execute(
                load("compact_ids_select")).fetchall():
            if total_row:
                self.lines = int(shard_lines)  # non-blank lines of the JSONL file
            elif run_id is None:
                self.bad = int(shard_lines)  # lines that are not rows
            else:
                self.repeated += 1  # run_ids present more than once

    def write(self, tmp: Path) -> int:
        """Stream the rows into ``tmp`` (fsynced); returns how many were written."""
        params: dict[str, Any] = {
            "files": self.files,
            "previous": self.previous,
            **stored_row_params(),
        }
        sql = load("compact_rows_dedupe" if self.repeated else "compact_rows")
        return write_rows(self.con, sql, params, tmp)


def parquet_rows(path: Path) -> int:
    """The row count in a Parquet file's footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def write_quarantine(base: Path, scratch: Path, con: duckdb.DuckDBPyConnection, shard: Path,
                     month: str, lineage: str, lines: int, bad: int,
                     events: bool = False) -> Path:
    """Copy the shard's bad lines, byte for byte, to the quarantine file under ``base`` (the
    kind's root: kinds.py); durable before return.

    ``lines`` and ``bad`` are the counts of the shard's :class:`Conversion` (or, with
    ``events``, ``EventsConversion``: bad lines are then those that are no event); the copy must
    find the same, or the shard stays sealed (and readable) and nothing is quarantined.
    """
    wanted = set(_bad_ordinals(con, shard, bad, events))
    original = shard.name.split(".sealed-", 1)[0]
    tmp = scratch / f"quarantine-{lineage}.jsonl.inprogress"
    found = 0
    with open(shard, "rb") as src, open(tmp, "wb") as out:
        i = 0
        for lineno, raw in enumerate(src, 1):
            if not raw.strip():
                continue  # blank lines are not rows for any reader
            i += 1
            if i in wanted:
                out.write(_quarantine_line(original, shard.name, lineno, raw))
                found += 1
        out.flush()
        os.fsync(out.fileno())
    if i != lines or found != bad:
        raise MantisError(f"cannot place the bad lines of {shard.name} ({found} of {bad} found); "
                          "the shard stays sealed and readable")
    final = quarantine_path(base, month, lineage)
    makedirs_durable(final.parent)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


def _bad_ordinals(con: duckdb.DuckDBPyConnection, shard: Path, bad: int,
                  events: bool) -> list[int]:
    """The ordinals (among non-blank lines, 1-based) of the shard's ``bad`` bad lines."""
    con.execute("SET preserve_insertion_order = true")  # ordinals follow the file
    try:
        for macro in ("macro_bad_line", "macro_bad_event"):  # the query names both rules
            con.execute(load(macro))
        ordinals = [int(r[0]) for r in con.execute(load("compact_bad_lines"), {
            "files": [duckdb_path(shard)], "events": events}).fetchall()]
    finally:
        con.execute("SET preserve_insertion_order = false")
    if len(ordinals) != bad:
        raise MantisError(f"cannot place the bad lines of {shard.name} (found {len(ordinals)}, "
                          f"{bad} expected); the shard stays sealed and readable")
    return ordinals


def _quarantine_line(original: str, sealed_as: str, lineno: int, raw: bytes) -> bytes:
    """One quarantine entry (docs/compaction.md): the line's exact bytes and its place."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    return json.dumps({
        "shard": original,
        "sealed_as": sealed_as,
        "line": lineno,
        "bytes": len(body),
        "raw_base64": base64.b64encode(body).decode("ascii"),
        "text": body.decode("utf-8", "replace"),
    }, ensure_ascii=False).encode("utf-8") + b"\n"
