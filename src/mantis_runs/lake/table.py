"""The lake table: its schema, partitioning, properties, and opening it.

Columns: the Parquet layout of compacted parts (``db.arrow_schema.parquet_schema``: ``FIELDS``,
the wall-time breakdown as a struct of the known buckets plus its ``_other`` map, ``extra`` as
JSON text), then ``month`` (``YYYY-MM`` of ``finished_at`` in UTC, the partition column),
``host_id``, ``ship_seq`` (the batch that brought the row) and ``ingested_at`` (when the batch
was cut). Delta-written files do not keep Parquet key-value metadata, so the layout version is
``mantis.layout=N`` in the table's description (delta-rs 1.6 refuses table properties outside
``delta.*``, so the description carries it). The table is append-only (``delta.appendOnly``), and
``delta.setTransactionRetentionDuration`` must stay unset: app transactions then never expire.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from ..db.arrow_schema import parquet_schema
from ..log import schema
from .storage import LakeError, NoLake, Target, failure

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from deltalake import DeltaTable

PARTITION: Final = "month"
EXTRA_COLUMNS: Final = ("month", "host_id", "ship_seq", "ingested_at")
LAYOUT_KEY: Final = "mantis.layout"
_LAYOUT_RE: Final = re.compile(r"\bmantis\.layout=([0-9]+)\b")
TABLE_NAME: Final = "mantis_runs"
APP_PREFIX: Final = "mantis-runs:"
#: Must never be set: a host whose app transaction expired could ship its batches again.
TXN_RETENTION: Final = "delta.setTransactionRetentionDuration"


def lake_schema() -> pa.Schema:
    """The Arrow schema of the table's rows (no key-value metadata: Delta drops it)."""
    import pyarrow as pa

    base = parquet_schema().remove_metadata()
    return pa.schema([*base, pa.field("month", pa.string()), pa.field("host_id", pa.string()),
                      pa.field("ship_seq", pa.int64()),
                      pa.field("ingested_at", pa.timestamp("us", tz="UTC"))])


def data_files(actions: Any) -> dict[str | None, list[str]]:
    """Per ``month`` partition, the paths of the data files of a version (its add actions,
    flattened: deltalake's arro3 table), as the Delta log names them (relative to the table's
    root, or absolute URIs)."""
    out: dict[str | None, list[str]] = {}
    for path, month in zip(actions.column("path").to_pylist(),
                           actions.column(f"partition.{PARTITION}").to_pylist(), strict=True):
        out.setdefault(month, []).append(path)
    return out


def file_sizes(actions: Any) -> dict[str, int]:
    """Each data file's size in bytes, by its path in the add ``actions`` (as ``data_files``)."""
    return dict(zip(actions.column("path").to_pylist(),
                    actions.column("size_bytes").to_pylist(), strict=True))


def properties() -> dict[str, str]:
    return {"delta.appendOnly": "true"}


def description() -> str:
    return (f"mantis-runs run history, written only by `mantis runs ship`; "
            f"{LAYOUT_KEY}={schema.PARQUET_LAYOUT}")


def app_id(host_id: str) -> str:
    return APP_PREFIX + host_id


def open_table(target: Target) -> DeltaTable:
    """The table at ``target``, checked: ``NoLake`` when there is none, ``LakeError`` when its
    layout is not ours or app transactions could expire."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        dt = DeltaTable(target.uri, storage_options=target.options or None)
    except TableNotFoundError:
        raise NoLake(f"no lake table at {target.uri}: create it once with "
                     f"`mantis runs lake init {target.uri}`") from None
    except Exception as exc:  # deltalake raises OSError and its own errors for the store
        raise failure(exc, target, "cannot open the lake table") from None
    check(dt, target)
    return dt


def check(dt: DeltaTable, target: Target) -> None:
    meta = dt.metadata()
    config: dict[str, Any] = dict(meta.configuration)
    found = _LAYOUT_RE.search(meta.description or "")
    layout = found.group(1) if found else None
    if layout != str(schema.PARQUET_LAYOUT):
        what = f"layout {layout}" if layout else "no mantis layout"
        raise LakeError(f"the table at {target.uri} has {what}; this mantis writes layout "
                        f"{schema.PARQUET_LAYOUT} (ship into a table made by `mantis runs lake "
                        "init`)")
    if config.get(TXN_RETENTION):
        raise LakeError(f"the table at {target.uri} sets {TXN_RETENTION}: app transactions "
                        "would expire and a host could ship its runs twice; unset it")
