"""The Arrow and Parquet schemas of a run row, built from the row contract (log.schema.FIELDS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..log import schema

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def parquet_schema() -> pa.Schema:
    """The Parquet schema of compacted parts and checkpoints (``schema.PARQUET_LAYOUT``):
    ``FIELDS`` in order, each SECONDS_MAP field as a struct of the known buckets followed by
    its ``_other`` map, then the ``extra`` JSON text column."""
    import pyarrow as pa

    types = _arrow_types()
    fields = []
    for f in schema.FIELDS:
        if f.kind is schema.Kind.SECONDS_MAP:
            known = pa.struct([pa.field(b, pa.float64()) for b in schema.KNOWN_BUCKETS])
            fields.append(pa.field(f.name, known))
            fields.append(pa.field(f.name + schema.OTHER_SUFFIX, types[f.kind]))
        else:
            fields.append(pa.field(f.name, types[f.kind]))
    fields.append(pa.field(schema.EXTRA_COLUMN, pa.string()))
    return pa.schema(fields, metadata={schema.LAYOUT_KEY: str(schema.PARQUET_LAYOUT)})


def arrow_schema() -> pa.Schema:
    """The Arrow schema of a row as the views (and ``RunStore.runs(arrow=True)``) return it:
    ``schema.FIELDS`` with their logical types, then the ``extra`` JSON text column."""
    import pyarrow as pa

    types = _arrow_types()
    fields = [pa.field(f.name, types[f.kind]) for f in schema.FIELDS]
    fields.append(pa.field(schema.EXTRA_COLUMN, pa.string()))
    return pa.schema(fields)


def _arrow_types() -> dict[schema.Kind, pa.DataType]:
    import pyarrow as pa

    return {
        schema.Kind.INT: pa.int64(),
        schema.Kind.FLOAT: pa.float64(),
        schema.Kind.STRING: pa.string(),
        schema.Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        schema.Kind.SECONDS_MAP: pa.map_(pa.string(), pa.float64()),
        schema.Kind.NUMBER_MAP: pa.map_(pa.string(), pa.float64()),
    }
