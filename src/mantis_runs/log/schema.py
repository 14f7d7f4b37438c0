"""The row contract: one definition that drives the writer, DuckDB and Parquet.

Every place that needs to know the columns of a run row derives them from ``FIELDS``:

* which fields the writer requires (``Field.required``: :func:`mantis_runs.log.record.prepare`
  refuses a row without them; how each is checked follows its ``Kind``),
* the explicit ``columns=`` given to DuckDB's JSON reader (:func:`duckdb_columns`),
* the Parquet schema written by compaction and the Arrow schema of rows as the views return them
  (:mod:`mantis_runs.db.arrow_schema`, which builds them from ``FIELDS`` with pyarrow).

This module uses only the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Final


class Kind(Enum):
    """The logical type of a field, shared by every layer."""

    INT = "int"
    FLOAT = "float"
    STRING = "string"
    TIMESTAMP = "timestamp"
    SECONDS_MAP = "seconds_map"  # bucket name -> seconds
    NUMBER_MAP = "number_map"  # name -> number (cost breakdown)


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    #: A row without it is not written: refused (``record.prepare`` checks it by ``kind``), or for
    #: ``status``, whose value must be one of ``TERMINAL_STATUSES``, not terminal yet.
    required: bool = False


#: The run attributes that narrow or split a set of runs (`compare --where`, `--group-by`); the
#: SQL macro mantis_group_value maps the same names to columns.
ATTRIBUTES: Final[tuple[str, ...]] = ("model", "plan_signature", "profile_id", "tenant_id")


def checked_attribute(name: str) -> str:
    """``name`` if it is one of ATTRIBUTES (what --group-by takes), else a UsageError naming
    them."""
    if name not in ATTRIBUTES:
        from ..errors import UsageError

        raise UsageError(f"cannot group by {name!r}; use {', '.join(ATTRIBUTES)}")
    return name


# What each field means, and every rule of the row: docs/storage-format.md, "The row".
FIELDS: Final[tuple[Field, ...]] = (
    Field("schema_version", Kind.INT),
    Field("run_id", Kind.STRING),
    Field("tenant_id", Kind.STRING),
    Field("profile_id", Kind.STRING),
    Field("workflow_id", Kind.STRING, required=True),
    Field("plan_signature", Kind.STRING),
    Field("model", Kind.STRING),
    Field("status", Kind.STRING, required=True),
    Field("created_at", Kind.TIMESTAMP),
    Field("finished_at", Kind.TIMESTAMP),
    Field("total_time_s", Kind.FLOAT, required=True),
    Field("wall_time_breakdown", Kind.SECONDS_MAP),
    Field("cost_breakdown", Kind.NUMBER_MAP),
    Field("steps_executed", Kind.INT),
    Field("viable", Kind.INT),
    Field("error", Kind.STRING),
)

FIELD_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in FIELDS)

#: The name of the Parquet column that holds the keys a row had beyond ``FIELDS`` (a JSON object
#: as text), so that compaction loses nothing.
EXTRA_COLUMN: Final = "extra"

TERMINAL_STATUSES: Final[tuple[str, ...]] = ("succeeded", "failed")
CURRENT_SCHEMA_VERSION: Final = 1
#: The largest serialised row, newline included. Larger rows have ``error`` trimmed; a row that
#: is still too large is refused.
MAX_ROW_BYTES: Final = 64 * 1024
TOTAL_BUCKET: Final = "total_time_s"

# The nine wall-time buckets of the mantis runtime. Other names are accepted too.
KNOWN_BUCKETS: Final[tuple[str, ...]] = (
    "think",
    "claude_extract",
    "settle",
    "claude_ground",
    "perceive",
    "load",
    "act",
    "claude_verify",
    "overhead",
)

_DUCKDB_TYPES: Final[dict[Kind, str]] = {
    Kind.INT: "BIGINT",
    Kind.FLOAT: "DOUBLE",
    Kind.STRING: "VARCHAR",
    Kind.TIMESTAMP: "TIMESTAMPTZ",
    Kind.SECONDS_MAP: "MAP(VARCHAR, DOUBLE)",
    Kind.NUMBER_MAP: "MAP(VARCHAR, DOUBLE)",
}



def duckdb_columns(*, maps_as_json: bool = False, seconds_as_json: bool = False) -> dict[str, str]:
    """The explicit ``columns=`` struct for ``read_json`` (never auto-detect).

    With ``maps_as_json`` the two breakdown maps are read as ``JSON`` text, which DuckDB 2.0 parses
    several times faster than ``MAP``; the caller casts after filtering. ``seconds_as_json`` does
    so for the wall-time breakdown only (compaction splits it into the Parquet layout's columns).
    """
    cols: dict[str, str] = {}
    for f in FIELDS:
        t = _DUCKDB_TYPES[f.kind]
        if ((maps_as_json and f.kind in (Kind.SECONDS_MAP, Kind.NUMBER_MAP))
                or (seconds_as_json and f.kind is Kind.SECONDS_MAP)):
            t = "JSON"
        cols[f.name] = t
    return cols


def known_struct() -> str:
    """The nine known buckets as a ``json_transform`` structure, as DuckDB takes it (JSON text;
    every bucket a DOUBLE)."""
    return json.dumps(dict.fromkeys(KNOWN_BUCKETS, "DOUBLE"))


# --- The Parquet layout (compacted parts and checkpoints) -----------------------------------------
#
# Layout 2 stores a SECONDS_MAP field as two columns, so that readers get the nine known buckets
# as plain DOUBLE columns instead of decoding a MAP per row:
#   <name>        STRUCT of the nine KNOWN_BUCKETS (NULL fields: the run did not report them);
#                 NULL when the row had no breakdown object at all;
#   <name>_other  MAP of every other entry: names outside KNOWN_BUCKETS, and known names whose
#                 value was null or not a number (NULL when there are none).
# The struct keeps the field's name (its type was MAP in layout 1): code written for layout 1 casts
# it back to a MAP (a NULL entry per missing bucket) and ignores the _other map. mantis-runs
# refuses files of a layout newer than PARQUET_LAYOUT.
# The row's breakdown is the non-NULL fields of the struct plus the map. Rows are grouped by
# workflow_id (parquet_layout.py).

#: Written to the key-value metadata of every Parquet file as ``mantis_layout``.
PARQUET_LAYOUT: Final = 2
LAYOUT_KEY: Final = "mantis_layout"
OTHER_SUFFIX: Final = "_other"
