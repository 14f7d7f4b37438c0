"""Query results as text: every DuckDB type, faithfully, in table, JSON and CSV.

``mantis runs sql`` results arrive as Arrow tables (RunStore.query, with DuckDB's lossless Arrow
conversion); this module turns each column into Python values that keep what DuckDB holds
(exact integers and decimals, DuckDB's text of intervals, blobs, times and far dates), then
renders them. Text output shows control characters as escapes (render.visible); JSON is exact.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from ..log.record import format_timestamp
from .text import BIDI_CONTROLS, tabulate, visible

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def plain(value: Any) -> Any:
    """A value for :func:`to_json`: ISO timestamps, dicts for maps, text for anything JSON has no
    type for (times, UUIDs...). Numbers stay as they are: decimals and big integers keep every
    digit, and NaN and infinities are written as null by the JSON writer."""
    if value is None or isinstance(value, bool | int | float | str | Decimal):
        return value
    if isinstance(value, datetime):  # an instant as the log writes it; naive: no zone to name
        return format_timestamp(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return _blob_text(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
            return {str(k): plain(v) for k, v in value}  # an Arrow map
        return [plain(x) for x in value]
    return str(value)


def cell(value: Any) -> str:
    """A value as the text of one table or CSV cell: NULL is empty, booleans ``true``/``false``,
    numbers exact (``nan``, ``inf``, ``-inf`` as they are), lists, structs and maps as JSON text
    (with ``NaN``/``Infinity`` where a number is not finite). Not escaped: see :func:`visible`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    v = plain(value)
    if isinstance(v, dict | list):
        return json_text(v, strict=False)
    if isinstance(v, int | Decimal):
        return json_text(v)
    return str(v)


def json_text(value: Any, *, indent: int | None = None, strict: bool = True, level: int = 0) -> str:
    """JSON text of a :func:`plain` value, as ``json.dumps(value, indent=indent,
    ensure_ascii=False)`` writes it, except that integers and decimals keep every digit, DEL and
    the C1 controls are escaped too (a terminal may act on ``U+009B``; the string is the same), and
    a number that is not finite is null (``strict``) or ``NaN``/``Infinity``/``-Infinity``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _int_text(value)
    if isinstance(value, Decimal) and value.is_finite():
        return _decimal_text(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    if isinstance(value, float | Decimal):  # NaN or an infinity
        return "null" if strict else ("NaN" if value != value
                                      else "Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return _json_string(value)

    def inner_json(v: Any) -> str:
        return json_text(v, indent=indent, strict=strict, level=level + 1)

    if isinstance(value, dict):
        items = [f"{_json_string(str(k))}: {inner_json(v)}" for k, v in value.items()]
        start, end = "{", "}"
    elif isinstance(value, list | tuple):
        items = [inner_json(v) for v in value]
        start, end = "[", "]"
    else:
        return _json_string(str(value))
    if not items:
        return start + end
    if indent is None:
        return start + ", ".join(items) + end
    inner, outer = "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)
    return start + inner + ("," + inner).join(items) + outer + end


#: Escaped as \uXXXX in JSON output, beyond what JSON requires: DEL, C1 controls and the
#: bidirectional controls, which would reorder a terminal line showing the JSON.
_DEL_AND_C1 = re.compile(f"[\\x7f-\\x9f{BIDI_CONTROLS}]")


def _json_string(text: str) -> str:
    return _DEL_AND_C1.sub(lambda m: f"\\u{ord(m[0]):04x}", encode_basestring(text))


def _int_text(v: int) -> str:
    try:
        return int.__repr__(v)
    except ValueError:  # more digits than Python converts by default (4,300): a BIGNUM
        return f"{Decimal(v):f}"


def _decimal_text(d: Decimal) -> str:
    """Every digit: ``1.25``, ``0.000`` for DECIMAL(9,3) zero (not ``0E-3``)."""
    exponent = d.as_tuple().exponent
    return f"{d:f}" if isinstance(exponent, int) and -100 <= exponent <= 0 else str(d)


def _from_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def arrow_table(table: pa.Table, fmt: str, *, json_columns: Collection[str] = ()) -> str:
    """Render a query result as table, json, jsonl or csv.

    Every DuckDB type keeps its value (:func:`_python_values`): integers and decimals every digit,
    intervals DuckDB's text (``1 day 00:29:01.141``), timestamps ISO text (UTC ones ending in
    ``Z``; nanoseconds, years before 1 or after 9999 and ``infinity`` included), blobs DuckDB's
    escaped text (``\\x00ab``). JSON is strict (NaN and infinities are null); tables and CSV print
    ``nan``, ``inf``, ``-inf``. Lists, structs and maps are JSON values, or JSON text in a cell.
    Values of DuckDB's JSON type are parsed (``json_columns`` names them where Arrow sees plain
    text), so that ``extra`` is an object in JSON output rather than a string holding JSON.
    The table escapes control characters, CSV all but tabs and line feeds (:func:`visible`); JSON
    keeps them, escaped as JSON. jsonl of no rows is the empty string.
    """
    import pyarrow as pa

    names = table.column_names
    # Columns by position: a query may name two columns alike (a self-join, `x AS a, y AS a`).
    columns = []
    for f, col in zip(table.schema, table.columns, strict=True):
        values = _python_values(col)
        if f.name in json_columns and not isinstance(f.type, pa.BaseExtensionType):
            values = [_from_json(v) for v in values]
        columns.append(values)
    rows = [[plain(v) for v in values] for values in zip(*columns, strict=True)]
    if fmt in ("json", "jsonl"):
        keys = _unique(names)
        records = [dict(zip(keys, r, strict=True)) for r in rows]
        if fmt == "json":
            return json_text(records, indent=2)
        return "\n".join(json_text(r) for r in records)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([visible(n, keep_lines=True) for n in names])
        for r in rows:
            w.writerow([visible(cell(v), keep_lines=True) for v in r])
        return buf.getvalue().rstrip("\n")
    body = [[visible(cell(v)) for v in r] for r in rows]
    text = tabulate(body, headers=[visible(n) for n in names], tablefmt="simple",
                    disable_numparse=True)
    count = len(rows)
    return f"{text}\n({count} row{'' if count == 1 else 's'})"


# -- Arrow values as Python values, type by type ------------------------------------------------

_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_NS_PER_DAY = 86_400 * 10**9
_INFINITY_64 = 2**63 - 1  # DuckDB's infinity timestamp (any unit); -infinity is its negative
_INFINITY_32 = 2**31 - 1  # DuckDB's infinity date
_MAX_TZ_OFFSET = 16 * 3600 - 1  # TIMETZ offsets, as DuckDB encodes them


def _python_values(column: Any) -> list[Any]:
    """A result column (Arrow array or chunked array) as Python values that keep what the DuckDB
    value holds, where ``to_pylist`` would fail or lose it: text for intervals, for nanoseconds
    and dates Python cannot hold, and for DuckDB types Arrow has no type for (TIMETZ, BIT), ints
    for HUGEINT, UHUGEINT and BIGNUM, the shortest text of a FLOAT."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return [v for chunk in column.chunks for v in _python_values(chunk)]
    arr: Any = column
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        return _extension_values(arr)
    if pa.types.is_null(t):
        return [None] * len(arr)
    if pa.types.is_dictionary(t):  # an ENUM
        return _python_values(arr.dictionary_decode())
    nested = _nested_values(arr)
    if nested is not None:
        return nested
    return _scalar_values(arr)


def _extension_values(arr: Any) -> list[Any]:
    """Canonical extension types of pyarrow 18/19 (an older pyarrow has none: ``()``)."""
    import pyarrow as pa

    t = arr.type

    def known(name: str) -> bool:
        return isinstance(t, getattr(pa, name, ()))

    if known("OpaqueType") and t.vendor_name == "DuckDB":
        decode = _DUCKDB_OPAQUE.get(t.type_name, _blob_text)
        return [None if b is None else decode(b) for b in arr.storage.to_pylist()]
    if known("UuidType"):
        return [None if b is None else str(uuid.UUID(bytes=b)) for b in arr.storage.to_pylist()]
    if known("Bool8Type"):
        return [None if v is None else bool(v) for v in arr.storage.to_pylist()]
    storage = _python_values(arr.storage)
    return [_from_json(v) for v in storage] if known("JsonType") else storage


def _nested_values(arr: Any) -> list[Any] | None:
    """Structs, maps and lists (each kind of list) as dicts and lists; None for other types."""
    import pyarrow as pa

    t = arr.type
    valid = arr.is_valid().to_pylist() if len(arr) else []
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        fields = [_python_values(f) for f in arr.flatten()]
        rows = zip(*fields, strict=True) if fields else ([] for _ in valid)
        return [dict(zip(names, row, strict=True)) if ok else None
                for ok, row in zip(valid, rows, strict=True)]
    if pa.types.is_map(t):
        # as for a list: the offsets index the whole child, its (key, value) entries
        keys, items = (_python_values(f) for f in arr.values.flatten())
        offsets = arr.offsets.to_pylist()
        return [{_map_key(k): v for k, v in zip(keys[a:b], items[a:b], strict=True)} if ok
                else None for ok, a, b in zip(valid, offsets[:-1], offsets[1:], strict=True)]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        values = _python_values(arr.values)
        offsets = arr.offsets.to_pylist()
        return [values[a:b] if ok else None
                for ok, a, b in zip(valid, offsets[:-1], offsets[1:], strict=True)]
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        values = _python_values(arr.values)
        return [values[a:a + size] if ok else None for ok, a, size in
                zip(valid, arr.offsets.to_pylist(), arr.sizes.to_pylist(), strict=True)]
    if pa.types.is_fixed_size_list(t):
        values, size, base = _python_values(arr.values), t.list_size, arr.offset
        return [values[(base + i) * size:(base + i + 1) * size] if ok else None
                for i, ok in enumerate(valid)]
    return None


def _scalar_values(arr: Any) -> list[Any]:
    """Numbers, text, blobs, dates, times, timestamps and intervals."""
    import pyarrow as pa

    t = arr.type
    valid = arr.is_valid().to_pylist() if len(arr) else []
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        # Arrow's text of a FLOAT is its shortest round trip (0.1, not 0.10000000149011612)
        return [None if s is None else float(s) for s in arr.cast(pa.string()).to_pylist()]
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t)
            or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t)):
        return [None if b is None else _blob_text(b) for b in arr.to_pylist()]
    if pa.types.is_date32(t):
        return [_day(v) if ok else None
                for ok, v in zip(valid, arr.view(pa.int32()).to_pylist(), strict=True)]
    if pa.types.is_timestamp(t):
        return [_instant(v * _NS[t.unit], v, t.tz is not None) if ok else None
                for ok, v in zip(valid, arr.view(pa.int64()).to_pylist(), strict=True)]
    if pa.types.is_time32(t) or pa.types.is_time64(t):
        ints = arr.view(pa.int32() if pa.types.is_time32(t) else pa.int64()).to_pylist()
        return [_clock(v * _NS[t.unit]) if ok else None
                for ok, v in zip(valid, ints, strict=True)]
    if pa.types.is_duration(t):
        return [_interval_text(0, 0, v * _NS[t.unit]) if ok else None
                for ok, v in zip(valid, arr.view(pa.int64()).to_pylist(), strict=True)]
    if t == pa.month_day_nano_interval():
        return [None if v is None else _interval_text(v.months, v.days, v.nanoseconds)
                for v in arr.to_pylist()]
    try:
        return list(arr.to_pylist())
    except (OverflowError, ValueError):  # a type not handled above that Python cannot hold
        return list(arr.cast(pa.string()).to_pylist())


def _map_key(key: Any) -> Any:
    return key if isinstance(key, str) else cell(key)


def _blob_text(b: bytes) -> str:
    """DuckDB's text of a BLOB: printable ASCII as it is, other bytes (and quotes, backslash) as
    ``\\xHH``; ``'...'::BLOB`` reads it back."""
    return "".join(chr(x) if 0x20 <= x <= 0x7E and x not in b"\"'\\" else f"\\x{x:02X}"
                   for x in b)


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, for any year
    (H. Hinnant's civil_from_days); year 0 is 1 BC."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


def _ymd(days: int) -> str:
    """``-0043-03-15``, ``294247-01-10``: ISO text of a date Python's date cannot hold."""
    y, m, d = _civil(days)
    return f"{'-' if y < 0 else ''}{abs(y):04d}-{m:02d}-{d:02d}"


def _day(v: int) -> date | str:
    if abs(v) == _INFINITY_32:
        return "infinity" if v > 0 else "-infinity"
    try:
        return date(1970, 1, 1) + timedelta(days=v)
    except OverflowError:
        return _ymd(v)


def _instant(ns: int, raw: int, utc: bool) -> datetime | str:
    """A timestamp ``ns`` nanoseconds from the epoch: a datetime where one holds it (written by
    format_timestamp, like every instant), else the same ISO text with 9 digits of fraction, or
    a year Python cannot hold."""
    if abs(raw) == _INFINITY_64:
        return "infinity" if raw > 0 else "-infinity"
    days, of_day = divmod(ns, _NS_PER_DAY)
    if of_day % 1000 == 0:
        try:
            dt = datetime(1970, 1, 1, tzinfo=UTC if utc else None) + timedelta(
                days=days, microseconds=of_day // 1000)
        except OverflowError:
            pass
        else:
            return dt
    return f"{_ymd(days)}T{_clock(of_day)}{'Z' if utc else ''}"


def _clock(ns: int) -> str:
    """``HH:MM:SS`` with ``.ffffff`` (``.fffffffff`` for nanoseconds) when there is a fraction;
    ``24:00:00`` stays itself."""
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs, frac = divmod(rest, 10**9)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if frac:
        text += f".{frac // 1000:06d}" if frac % 1000 == 0 else f".{frac:09d}"
    return text


def _time_tz(b: bytes) -> str:
    """DuckDB's TIMETZ (40 bits of microseconds, 24 of encoded offset) as ``12:34:56+02:00``."""
    bits = int.from_bytes(b, "little")
    offset = _MAX_TZ_OFFSET - (bits & 0xFFFFFF)
    hours, rest = divmod(abs(offset), 3600)
    minutes, secs = divmod(rest, 60)
    zone = f"{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs
                                                                       else "")
    return _clock((bits >> 24) * 1000) + zone


def _interval_text(months: int, days: int, ns: int) -> str:
    """DuckDB's text of an INTERVAL: ``1 year 2 months``, ``1 day 00:29:01.141``, ``-00:00:03``."""
    years = int(months / 12)  # toward zero, as DuckDB: -14 months is -1 year -2 months
    parts = [f"{v} {unit}{'' if abs(v) == 1 else 's'}"
             for v, unit in ((years, "year"), (months - 12 * years, "month"), (days, "day")) if v]
    if ns:
        hours, rest = divmod(abs(ns), 3600 * 10**9)
        minutes, rest = divmod(rest, 60 * 10**9)
        secs, frac = divmod(rest, 10**9)
        text = f"{'-' if ns < 0 else ''}{hours:02d}:{minutes:02d}:{secs:02d}"
        parts.append(text + (f".{frac:09d}".rstrip("0") if frac else ""))
    return " ".join(parts) or "00:00:00"


def _bit(b: bytes) -> str:
    """DuckDB's BIT: a byte of padding count, then the bits, the padding first."""
    return "".join(f"{x:08b}" for x in b[1:])[b[0]:]


def _bignum(b: bytes) -> int:
    """DuckDB's BIGNUM: 3 bytes of header (top bit set: not negative), then the magnitude big
    endian; a negative number has every byte inverted."""
    if b[0] & 0x80:
        return int.from_bytes(b[3:], "big")
    return -int.from_bytes(bytes(0xFF ^ x for x in b[3:]), "big")


#: DuckDB types that reach Arrow as opaque bytes (``arrow_lossless_conversion``), decoded.
_DUCKDB_OPAQUE: dict[str, Any] = {
    "hugeint": lambda b: int.from_bytes(b, "little", signed=True),
    "uhugeint": lambda b: int.from_bytes(b, "little"),
    "time_tz": _time_tz,
    "bit": _bit,
    "bignum": _bignum,
    "varint": _bignum,
}


def _unique(names: list[str]) -> list[str]:
    """Column names made unique for JSON objects: the second `a` becomes `a_2`."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out
