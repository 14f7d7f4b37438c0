"""Turning a caller's dict into one canonical, bounded JSON line (standard library only).

What is refused (``RowRefused``; the writer logs a WARNING and returns False):

* ``workflow_id`` missing, not a string, or empty;
* ``total_time_s`` missing, a bool, not an int/float, or not finite (NaN, ±Infinity, an int too
  large for a float);
* ``finished_at`` present but not a datetime or an ISO 8601 string, or out of range in UTC;
* a row that is still larger than ``MAX_ROW_BYTES`` after ``error`` has been trimmed;
* a value that cannot be represented in JSON (a set, an object, ...).

What is coerced:

* ``status`` other than ``succeeded``/``failed`` is *not terminal*: nothing is written
  (``NotTerminal``, no warning, the call returns False);
* ``run_id`` missing or empty: generated as ``YYYYMMDD_HHMMSS_<8 hex>`` from ``created_at``
  (else ``finished_at``); a non-string run_id is turned into a string;
* ``schema_version`` missing: 1;
* ``finished_at`` missing: now; ``created_at``/``finished_at`` given as datetimes or ISO strings are
  rewritten as UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``; a naive value means UTC; an unparseable
  ``created_at`` is kept as it was (readers see NULL);
* breakdown maps: entries whose value is not a finite number are dropped (and named in the
  warning); a breakdown that is not a dict is replaced by ``{}``;
* ``total_time_s`` and breakdown values that are ints stay ints (JSON has one number type);
* NaN or ±Infinity anywhere else become ``null``; datetimes/dates anywhere become ISO strings;
  strings with lone surrogates get U+FFFD in their place;
* ``error`` that is not a string is turned into one; when the row exceeds the cap, ``error`` is
  cut and ends with ``…[truncated N bytes]``;
* extra keys are written as text, sorted by that text; when two keys have the same text (``1`` and
  ``"1"``), the first in sorted order is kept and the other is named in the warning.

Serialisation is canonical: schema fields in schema order, then extra keys sorted, compact
separators, UTF-8, one ``\\n`` at the end.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from .layout import month_of
from .schema import (
    CURRENT_SCHEMA_VERSION,
    FIELD_NAMES,
    FIELDS,
    MAX_ROW_BYTES,
    TERMINAL_STATUSES,
    Field,
    Kind,
)

_SURROGATE = re.compile("[\ud800-\udfff]")
_STATUS = "status"
#: The schema's required fields but ``status``, which is checked first (a row that is not terminal
#: yet is skipped, not refused), in schema order.
_REQUIRED: tuple[Field, ...] = tuple(f for f in FIELDS if f.required and f.name != _STATUS)


class RowRefused(ValueError):
    """The row cannot be recorded; the message says why in one line."""


class NotTerminal(ValueError):
    """The row's status is not terminal, so nothing is written."""


@dataclass(frozen=True)
class PreparedRow:
    line: bytes  # canonical JSON + b"\n"
    month: str  # YYYY-MM of finished_at in UTC
    run_id: str
    notes: list[str] = field(default_factory=list)  # coercions worth a warning


def parse_timestamp(value: object) -> datetime:
    """Parse a datetime or ISO 8601 string into an aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp")
        dt = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"timestamp out of range in UTC: {value!r}") from exc


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(dt: datetime) -> int:
    """An aware ``dt`` in microseconds since the Unix epoch: what DuckDB's ``epoch_us`` gives
    of a TIMESTAMPTZ (footer statistics, the readers' finished_us columns)."""
    return (dt - _EPOCH) // timedelta(microseconds=1)


def at_epoch_us(us: int) -> datetime:
    """The aware UTC time ``us`` microseconds after the Unix epoch (``epoch_us`` undone)."""
    return _EPOCH + timedelta(microseconds=us)


def format_timestamp(dt: datetime) -> str:
    """Canonical UTC text: ``2026-05-13T18:09:34Z`` or with ``.ffffff`` when there are micros."""
    dt = dt.astimezone(UTC)
    # Not strftime("%Y"): glibc does not zero-pad years before 1000 ("999-05-01T...").
    base = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"
            f"T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}")
    if dt.microsecond:
        base += f".{dt.microsecond:06d}"
    return base + "Z"


def shorten(value: object, limit: int = 300) -> str:
    """Text for a warning: never raises, never huge (a caller's value can be anything)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


def new_run_id(when: datetime) -> str:
    w = when
    return (f"{w.year:04d}{w.month:02d}{w.day:02d}_{w.hour:02d}{w.minute:02d}{w.second:02d}_"
            + secrets.token_hex(4))


def _finite_number(v: object) -> bool:
    t = type(v)
    if t is float:
        return math.isfinite(v)  # type: ignore[arg-type]
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float (10**400): no reader can use it
        return False


def clean_str(s: str) -> str:
    """``s`` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)
    return s


def sanitize(value: Any) -> Any:
    """Make a value JSON-safe: NaN/Inf -> None, datetimes -> ISO text, lone surrogates replaced."""
    t = type(value)
    if t is str:
        return value if value.isascii() else clean_str(value)
    if value is None or t is int or t is bool:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is dict:  # the common case first: plain keys need no cleaning (events' fields)
        return {k if type(k) is str and k.isascii() else clean_str(str(k)): sanitize(v)
                for k, v in value.items()}
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {clean_str(str(k)): sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v) for v in value]
    raise RowRefused(f"value of type {type(value).__name__} cannot be written as JSON")


def _number_map(name: str, value: object, notes: list[str]) -> dict[str, int | float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        notes.append(f"{name} was {type(value).__name__}, not an object; recorded as {{}}")
        return {}
    out: dict[str, int | float] = {}
    dropped: list[str] = []
    for k, v in value.items():
        if (type(v) is float and math.isfinite(v)) or _finite_number(v):
            out[k if type(k) is str and k.isascii() else clean_str(str(k))] = v
        else:
            dropped.append(str(k))
    if dropped:
        notes.append(f"{name} entries without a finite number dropped: {', '.join(dropped)}")
    return out


def prepare(row: dict[str, Any], *, now: datetime | None = None) -> PreparedRow:
    """Validate and serialise ``row``; raises ``NotTerminal`` or ``RowRefused``."""
    if not isinstance(row, dict):
        raise RowRefused(f"a run row must be a dict, not {type(row).__name__}")
    status = row.get(_STATUS)
    if status not in TERMINAL_STATUSES:
        raise NotTerminal(f"status {status!r} is not terminal")
    for f in _REQUIRED:
        _check_required(f, row.get(f.name))

    notes: list[str] = []
    out: dict[str, Any] = {}
    finished, created, created_out = _times(row, now or datetime.now(UTC), notes)
    run_id = _run_id(row.get("run_id"), created or finished)

    e = row.get("error")
    sv = row.get("schema_version")
    computed: dict[str, Any] = {
        "schema_version": CURRENT_SCHEMA_VERSION if sv is None else sanitize(sv),
        "run_id": run_id,
        "finished_at": format_timestamp(finished),
        "created_at": created_out,
        "total_time_s": row["total_time_s"],
        "wall_time_breakdown": _number_map("wall_time_breakdown",
                                           row.get("wall_time_breakdown"), notes),
        "cost_breakdown": _number_map("cost_breakdown", row.get("cost_breakdown"), notes),
        "error": None if e is None else text_of(e),
    }
    for name in FIELD_NAMES:  # schema order
        out[name] = computed[name] if name in computed else sanitize(row.get(name))
    _add_extras(row, out, notes)

    line = dumps(out)
    if len(line) > MAX_ROW_BYTES:
        line = _trim_error(out, line)
    return PreparedRow(line=line, month=month_of(finished), run_id=run_id, notes=notes)


def _times(row: dict[str, Any], now: datetime,
           notes: list[str]) -> tuple[datetime, datetime | None, object]:
    """(finished_at, created_at or None, created_at as written) of ``row``."""
    raw_finished = row.get("finished_at")
    if raw_finished is None:
        finished = now
    else:
        try:
            finished = parse_timestamp(raw_finished)
        except ValueError as exc:
            raise RowRefused(f"finished_at is not a timestamp: {raw_finished!r}") from exc
    created: datetime | None = None
    raw_created = row.get("created_at")
    created_out: object = raw_created
    if raw_created is not None:
        try:
            created = parse_timestamp(raw_created)
            created_out = format_timestamp(created)
        except ValueError:
            notes.append("created_at is not a timestamp; kept as given")
            created_out = sanitize(raw_created)
    return finished, created, created_out


def _run_id(value: object, when: datetime) -> str:
    """The row's run_id as text; a new one from ``when`` when missing or empty."""
    if value is None or value == "":
        return new_run_id(when)
    return text_of(value)


def text_of(value: object) -> str:
    """``value`` as written where text is due (a run_id, ``error``): a non-string turned into a
    string, lone surrogates replaced."""
    return clean_str(value if isinstance(value, str) else str(value))


def _add_extras(row: dict[str, Any], out: dict[str, Any], notes: list[str]) -> None:
    """The keys beyond the schema, sorted by their text (a row may mix str and int keys); a key
    whose text collides with one already written (1 and "1", or a schema field name) keeps the
    first value."""
    extras = sorted(((clean_str(str(k)), k) for k in row if k not in out),
                    key=lambda pair: pair[0])
    for text, key in extras:
        if text in out:
            notes.append(f"key {text!r} appears more than once as text; later value dropped")
            continue
        out[text] = sanitize(row[key])


def _check_required(f: Field, value: object) -> None:
    """Refuse ``value`` of the required field ``f`` unless it is usable, by the field's kind."""
    if f.kind is Kind.STRING:
        if not isinstance(value, str) or not value:
            raise RowRefused(f"{f.name} is missing or not a non-empty string")
    elif f.kind is Kind.FLOAT:
        if not _finite_number(value):
            raise RowRefused(f"{f.name} is not a finite number: {value!r}")
    else:  # pragma: no cover - a schema change that needs a rule here first
        raise TypeError(f"no rule for a required {f.kind.value} field ({f.name})")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _acyclic_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without its per-call set-up, for an object that holds no reference to
    itself (what ``sanitize`` returns, a dict of scalars), so the circular-reference check is
    moot: the C encoder that ``encode`` builds at every call, built once with ``_ENCODER``'s
    settings. Same text; ``_ENCODER.encode`` itself when this Python has no C encoder or it does
    not take these arguments."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return _ENCODER.encode
    try:
        encoder = make(None, _ENCODER.default, json.encoder.encode_basestring, None,
                       _ENCODER.key_separator, _ENCODER.item_separator, False, False,
                       _ENCODER.allow_nan)
        probe = {"a\u00e9\"\\": [1, 2.5, True, None, "x\n"]}
        if "".join(encoder(probe, 0)) != _ENCODER.encode(probe):
            raise ValueError("the C encoder writes other text")
    except Exception:  # a C encoder that takes other arguments
        return _ENCODER.encode
    return lambda obj: "".join(encoder(obj, 0))


#: The canonical JSON text (no newline) of an acyclic object, as ``dumps`` writes it.
encode_acyclic: Final[Callable[[Any], str]] = _acyclic_encoder()
#: The canonical JSON text of a string (a JSON string literal, as ``dumps`` writes it).
encode_string: Final[Callable[[str], str]] = json.encoder.encode_basestring


def dumps(obj: dict[str, Any]) -> bytes:
    """The canonical line of a sanitised object: compact JSON, UTF-8, no NaN, one ``\\n``.
    (What ``sanitize`` returns is made of new containers: acyclic, whatever it was given.)"""
    try:
        text = encode_acyclic(obj)
    except (TypeError, ValueError) as exc:
        raise RowRefused(f"row cannot be serialised: {exc}") from exc
    return text.encode("utf-8") + b"\n"


def _trim_error(out: dict[str, Any], line: bytes) -> bytes:
    """The row with ``error`` cut (:func:`trim_to_fit`) so that it fits ``MAX_ROW_BYTES``."""
    err = out.get("error")
    if isinstance(err, str) and err:
        trimmed = trim_to_fit(out, "error", line, MAX_ROW_BYTES, lambda: dumps(out))
        if len(trimmed) <= MAX_ROW_BYTES:
            return trimmed
    raise RowRefused(f"row is {len(line)} bytes, over the {MAX_ROW_BYTES}-byte cap")


def trim_to_fit(holder: dict[str, Any], key: str, line: bytes, cap: int,
                encode: Callable[[], bytes]) -> bytes:
    """Cut the string ``holder[key]`` to the longest prefix, plus ``…[truncated N bytes]``, that
    keeps ``line`` (which ``encode()`` writes again) within ``cap`` bytes; returns the new line.
    When even the marker alone is too long, the value becomes the marker alone and the line
    returned is still over the cap: the caller refuses it (or trims another value).

    The budget is measured on the *encoded* value: JSON escaping can make it several times longer
    than its UTF-8 bytes (quotes, backslashes, control characters), so a cut computed from the raw
    bytes would throw away far more than needed.
    """
    value: str = holder[key]
    total = len(value.encode("utf-8"))

    def candidate(k: int) -> str:
        cut = value[:k]
        return f"{cut}…[truncated {total - len(cut.encode('utf-8'))} bytes]"

    def encoded_len(s: str) -> int:
        return len(json.dumps(s, ensure_ascii=False).encode("utf-8"))

    fixed = len(line) - encoded_len(value)  # the line without the value's JSON string
    # The line length grows with k (each kept character adds at least as many bytes as the marker
    # can lose), so the largest fitting k is found by bisection. No prefix longer than the cap fits.
    lo, hi = 0, min(len(value), cap)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fixed + encoded_len(candidate(mid)) <= cap:
            lo = mid
        else:
            hi = mid - 1
    holder[key] = candidate(lo)
    return encode()
