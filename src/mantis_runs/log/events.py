"""Turning a caller's run events into canonical, bounded JSON lines (standard library only).

An event is a dict ``{"run_id": ..., "type": ..., "ts": ... (optional), "fields": {...}
(optional)}``; nothing else is accepted at the top (an event's own data goes in ``fields``, so a
field may be called anything, ``ts`` or ``data_dir`` too). It is written as one line, with the
keys in this order (docs/events.md)::

    {"run_id":"r-1","type":"heartbeat","ts":"2026-12-04T20:52:49.123456Z","fields":{"progress":0.5}}

What is refused (``EventRefused``: the writer refuses the whole batch, with one WARNING):

* an event that is not a dict, or has a top-level key other than those four;
* ``run_id`` missing or empty, with a control character, or longer than ``MAX_RUN_ID_CHARS``
  (a non-string is turned into text, as in a run row);
* ``type`` not a string of 1 to 64 characters of ``[A-Za-z0-9_.:-]``;
* ``ts`` not a datetime or an ISO 8601 string, or out of range in UTC;
* ``fields`` not a dict, or holding a value JSON cannot represent (a set, an object, ...);
* a line still over ``MAX_EVENT_BYTES`` once its long string fields have been trimmed.

What is coerced: ``ts`` missing or None is the call's time; a naive ``ts`` means UTC; ``fields``
missing or None is ``{}``; in ``fields``, as in a run row's extra keys, NaN and ±Infinity become
null, datetimes ISO text, keys text, lone surrogates U+FFFD; when the line is over the cap, the
longest top-level string fields are cut, each ending with ``…[truncated N bytes]`` (named in the
writer's warning).

A batch of common events (a plain run_id, type and ts, and fields of str keys and scalar values)
of ``MIN_COLUMN_BATCH`` events or more is written by a shortcut, ``_plain_batch``: each check
made once for the whole batch, the lines built column by column (``event_lines``), joined into
one text and encoded once, with the very bytes of the general path. A smaller batch, or one with
any other event, has each of its events prepared on its own: the common ones by a shortcut of
their own, ``_plain_line``, the others by the general path, ``_prepare_one``
(tests/test_events_prepare.py and tests/test_events_batch.py hold them to the same bytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from itertools import chain, repeat
from typing import Any, Final, cast

from .event_lines import (
    SCALARS,
    TEXT,
    Segment,
    columns,
    interleave,
    object_segments,
    same_or_each,
)
from .layout import month_of
from .record import (
    RowRefused,
    dumps,
    encode_acyclic,
    encode_string,
    format_timestamp,
    parse_timestamp,
    sanitize,
    shorten,
    text_of,
    trim_to_fit,
)

#: The largest line an event may take, newline included.
MAX_EVENT_BYTES: Final = 16 * 1024
#: The longest run_id an event may name.
MAX_RUN_ID_CHARS: Final = 256
#: An event type: 1 to 64 characters of letters, digits and ``_ . : -``.
TYPE_PATTERN: Final = r"[A-Za-z0-9_.:-]{1,64}"
#: The keys of an event, in the order they are written.
KEYS: Final = ("run_id", "type", "ts", "fields")
#: The conventional types (docs/events.md lists their fields); any other valid type is kept too.
CONVENTIONAL_TYPES: Final = ("run_started", "heartbeat", "step_started", "step_finished",
                             "failure", "failover", "task", "worker", "resource", "cache",
                             "artifact", "cost")

_KEY_SET = frozenset(KEYS)
#: The smallest batch built column by column (``_plain_batch``): below it, the batch's set-up
#: costs more than it saves, and each event goes by ``_plain_line`` (the same bytes).
MIN_COLUMN_BATCH: Final = 12
_NOT_A_BATCH: Final = (dict, str, bytes)  # iterable, but not of events
_TYPE_RE = re.compile(rf"{TYPE_PATTERN}\Z")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


class EventRefused(ValueError):
    """The event (and with it its batch) cannot be recorded; the message says why in one line."""


@dataclass(frozen=True)
class PreparedEvents:
    """A batch ready for the writer: (month, lines) pairs in the caller's order, each the bytes
    of one or more whole lines of that month (a batch of one month: one pair, one join)."""

    lines: list[tuple[str, bytes]]
    what: str  # how a warning names the batch
    notes: list[str]  # coercions worth a warning


def prepare_events(events: Iterable[object], *, now: datetime) -> PreparedEvents:
    """Validate and serialise a batch; raises ``EventRefused`` naming the first bad event.

    ``now`` is the ``ts`` of every event that has none, so such a batch lands in one month."""
    if events is None or isinstance(events, _NOT_A_BATCH):
        raise EventRefused(f"events must be an iterable of dicts, not a {type(events).__name__}")
    items = list(events)
    default = (month_of(now), format_timestamp(now))  # formatted once per batch
    fast = None
    if len(items) >= MIN_COLUMN_BATCH:
        try:  # the first event alone first: when it is not a common one, the batch cannot be
            if _plain_line(items[0], default) is not None:
                fast = _plain_batch(items, default)
        except Exception:  # a bad ts, or a key's own __hash__ or __eq__ raised: _each says so
            fast = None
    lines, notes = (fast, []) if fast is not None else _each(items, default)
    what = (_name(0, 1, items[0]) if len(items) == 1 else
            f"batch of {len(items)} events")
    return PreparedEvents(lines=lines, what=what, notes=notes)


def _each(items: list[object],
          default: tuple[str, str]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(month, line) and notes of each event prepared on its own, in order; ``EventRefused``
    naming the first that cannot be recorded."""
    lines: list[tuple[str, bytes]] = []
    notes: list[str] = []
    for i, event in enumerate(items):
        try:
            fast = _plain_line(event, default)
            if fast is not None:
                lines.append(fast)
                continue
            month, line, changes = _prepare_one(event, default)
        except Exception as exc:  # a caller's odd object names its event, never escapes
            # mantis's own refusals (sanitize's is a RowRefused) say why in their text
            why = shorten(exc) if isinstance(exc, EventRefused | RowRefused) else (
                f"{type(exc).__name__}: {shorten(exc)}")
            raise EventRefused(f"{_name(i, len(items), event)}: {why}") from exc
        lines.append((month, line))
        if changes:
            notes.extend(f"{_name(i, len(items), event)}: {c}" for c in changes)
    return lines, notes


def _name(i: int, n: int, event: object) -> str:
    """``event 3 of 10 (run 'r-1', type 'heartbeat')`` for warnings; never raises."""
    where = "event" if n == 1 else f"event {i + 1} of {n}"
    try:
        if not isinstance(event, dict):
            return where
        rid, etype = event.get("run_id"), event.get("type")
    except Exception:  # a dict subclass with its own get()
        return where
    return f"{where} (run {shorten(rid, 100)!r}, type {shorten(etype, 70)!r})"


def _prepare_one(event: object, default: tuple[str, str]) -> tuple[str, bytes, list[str]]:
    """(month, line, notes) of one event; ``default`` is (month, ts) for an event without ts."""
    if not isinstance(event, dict):
        raise EventRefused(f"an event must be a dict, not {type(event).__name__}")
    if not event.keys() <= _KEY_SET:
        unknown = sorted(shorten(k, 40) for k in event if k not in _KEY_SET)
        raise EventRefused(f"unknown key(s) {', '.join(unknown)}: an event has only "
                           f"{', '.join(KEYS)}; put its own data in 'fields'")
    month, ts = default if event.get("ts") is None else _timestamp(event["ts"])
    fields = event.get("fields")
    if fields is None:
        fields = {}
    elif not isinstance(fields, dict):
        raise EventRefused(f"fields must be a dict, not {type(fields).__name__}")
    out: dict[str, Any] = {"run_id": checked_run_id(event.get("run_id")),
                           "type": checked_type(event.get("type")),
                           "ts": ts, "fields": sanitize(fields)}
    line = dumps(out)
    notes: list[str] = []
    if len(line) > MAX_EVENT_BYTES:
        line = _trim_fields(out, line, notes)
    return month, line, notes


#: Event types already matched by ``_TYPE_RE`` (a batch repeats a few types; bounded).
_KNOWN_TYPES: set[str] = set(CONVENTIONAL_TYPES)
_MAX_KNOWN_TYPES: Final = 1024

_DICT: Final = frozenset({dict})
_NONE: Final = frozenset({type(None)})
#: What ``fields`` missing or None is encoded as (never changed: only read by the encoder).
_NO_FIELDS: Final[dict[str, Any]] = {}
_get = dict.get


def _plain_batch(items: list[object], default: tuple[str, str]) -> list[tuple[str, bytes]] | None:
    """(month, lines) of a batch of common events, the very bytes ``_prepare_one`` writes for
    each of them; None when any event is not a common one (then ``_each`` prepares each event
    on its own and says what is wrong). Raises only what a caller's key raises (its own
    ``__hash__``: ``prepare_events`` then goes event by event too). The common event: a dict of
    the known keys only, a str run_id of printable ASCII, a known-good type, ``ts`` missing or a
    str, a date or a datetime naive or of a fixed offset, and ``fields`` missing or a dict of str
    keys and scalar values that ``sanitize`` would return unchanged. Each check is made once for the
    whole batch by C iterations over all its events (sets of types); each distinct run_id and
    type is checked once, each distinct ts parsed once; the lines are built column by column
    (``event_lines``) and encoded at once."""
    if not items:
        return []
    if not _DICT.issuperset(map(type, items)):
        return None
    top = _top_columns(cast(list[dict[Any, Any]], items))
    if top is None:
        return None
    stamps = _stamps(top["ts"], default)
    run_ids = _plain_run_ids(top["run_id"])
    fields = [_NO_FIELDS if f is None else f for f in top["fields"]]
    if stamps is None or run_ids is None or not _plain_types(top["type"]):
        return None
    body = _body_segments(fields)
    if body is None:
        return None
    months, texts = stamps
    rid_texts = list(map(run_ids.__getitem__, top["run_id"]))
    # type and ts need no JSON escaping: [A-Za-z0-9_.:-] and the canonical timestamp text.
    segments = ['{"run_id":', same_or_each(rid_texts), ',"type":"', same_or_each(top["type"]),
                '","ts":"', same_or_each(texts), '","fields":', *body, "}\n"]
    return _month_lines(months, *interleave(segments, len(items)))


def _top_columns(batch: list[dict[Any, Any]]) -> dict[str, list[Any]] | None:
    """Each of ``KEYS``' values in every event (None where missing); None when an event has
    another key."""
    cols = columns(batch)
    if cols is not None:  # the events' keys alike: read as columns
        keys, values = cols
        if not _KEY_SET.issuperset(keys):
            return None
        found = dict(zip(keys, values, strict=True))
        missing = [None] * len(batch)
        return {key: found.get(key, missing) for key in KEYS}
    if not _KEY_SET.issuperset(chain.from_iterable(batch)):
        return None
    return {key: list(map(_get, batch, repeat(key))) for key in KEYS}


def _body_segments(fields: list[Any]) -> list[Segment] | None:
    """The JSON of each event's fields as segments: by columns when every fields has the same
    keys (``event_lines.object_segments``), else each dict by the encoder; None when one is not
    a dict of str keys and plain scalar values, or cannot be encoded (NaN, ±Infinity, ...)."""
    if not _DICT.issuperset(map(type, fields)):
        return None
    body = object_segments(fields)
    if body is not None:
        return body
    bodies: list[str] = []
    for one in fields:  # stops at the first that cannot be: the batch goes event by event
        text = _encoded_fields(one)
        if text is None:
            return None
        bodies.append(text)
    return [bodies]


def _stamps(values: list[object],
            default: tuple[str, str]) -> tuple[list[str], list[str]] | None:
    """(months, ts texts) of a batch's ``ts`` values, each distinct value parsed once; None when
    one is of another type (a subclass, a datetime of another tzinfo) or is no timestamp."""
    if _NONE.issuperset(map(type, values)):
        return [default[0]] * len(values), [default[1]] * len(values)
    seen: dict[object, tuple[str, str]] = {}
    pairs: list[tuple[str, str]] = []
    for value in values:
        if value is None:
            pairs.append(default)
            continue
        if type(value) is datetime:
            if value.tzinfo is not None and type(value.tzinfo) is not timezone:
                return None
        elif type(value) is not str and type(value) is not date:
            return None
        # Equal values (aware datetimes: the same instant) have the same month and text.
        pair = seen.get(value)
        if pair is None:
            try:
                pair = seen[value] = _timestamp(value)
            except EventRefused:
                return None
        pairs.append(pair)
    return [month for month, _ in pairs], [text for _, text in pairs]


def _plain_run_ids(rids: list[object]) -> dict[str, str] | None:
    """The JSON text of each distinct run_id when every one is a str of 1 to
    ``MAX_RUN_ID_CHARS`` printable ASCII characters (what ``checked_run_id`` returns as it is);
    else None."""
    if not TEXT.issuperset(map(type, rids)):
        return None
    out: dict[str, str] = {}
    for rid in set(cast(list[str], rids)):
        if not _plain_run_id(rid):
            return None
        out[rid] = encode_string(rid)
    return out


def _plain_run_id(rid: str) -> bool:
    """Whether ``checked_run_id`` returns ``rid`` as it is: 1 to ``MAX_RUN_ID_CHARS``
    printable ASCII characters."""
    return 0 < len(rid) <= MAX_RUN_ID_CHARS and rid.isascii() and rid.isprintable()


def _plain_types(types: list[object]) -> bool:
    """Whether every type is a str that ``checked_type`` accepts (each distinct one checked
    once; those seen before by a set lookup)."""
    return (TEXT.issuperset(map(type, types))
            and all(map(_known_type, set(cast(list[str], types)) - _KNOWN_TYPES)))


def _known_type(etype: str) -> bool:
    """Whether ``checked_type`` accepts ``etype``, remembered in ``_KNOWN_TYPES`` (bounded)."""
    if etype in _KNOWN_TYPES:
        return True
    if not _TYPE_RE.match(etype):
        return False
    if len(_KNOWN_TYPES) < _MAX_KNOWN_TYPES:
        _KNOWN_TYPES.add(etype)
    return True


def _month_lines(months: list[str], pieces: list[str],
                 width: int) -> list[tuple[str, bytes]] | None:
    """The lines (``width`` pieces each) as (month, bytes): one pair for a batch of one month;
    None when a line holds a lone surrogate (``sanitize`` replaces it) or is over
    ``MAX_EVENT_BYTES``."""
    try:
        if len(set(months)) == 1:
            data = "".join(pieces).encode()
            # A line is over the cap only if the whole is; JSON text holds no raw newline.
            if len(data) > MAX_EVENT_BYTES and max(map(len, data.split(b"\n"))) >= MAX_EVENT_BYTES:
                return None
            return [(months[0], data)]
        lines = ["".join(pieces[i:i + width]).encode() for i in range(0, len(pieces), width)]
    except UnicodeEncodeError:
        return None
    if max(map(len, lines)) > MAX_EVENT_BYTES:
        return None
    return list(zip(months, lines, strict=True))


def _plain_line(event: object, default: tuple[str, str]) -> tuple[str, bytes] | None:
    """(month, line) of one common event by cheap checks, the very bytes of ``_prepare_one``;
    None when any check fails (another type, a value to clean, a line over the cap): then
    ``_prepare_one`` does it all again and says what is wrong. For the events of a batch that
    ``_plain_batch`` could not take whole (its set-up is a batch's, not an event's)."""
    if type(event) is not dict or not event.keys() <= _KEY_SET:
        return None
    ts = event.get("ts")
    month, text = default if ts is None else _timestamp(ts)  # as _prepare_one, same order
    rid = event.get("run_id")
    etype = event.get("type")
    if (type(rid) is not str or not _plain_run_id(rid) or type(etype) is not str
            or (etype not in _KNOWN_TYPES and not _known_type(etype))):
        return None
    body = _encoded_fields(event.get("fields"))
    if body is None:
        return None
    # type and ts need no JSON escaping: [A-Za-z0-9_.:-] and the canonical timestamp text.
    try:
        line = (f'{{"run_id":{encode_string(rid)},"type":"{etype}","ts":"{text}",'
                f'"fields":{body}}}\n').encode()
    except UnicodeEncodeError:  # a lone surrogate in fields: sanitize replaces it
        return None
    return (month, line) if len(line) <= MAX_EVENT_BYTES else None


def _encoded_fields(fields: object) -> str | None:
    """The JSON text of ``sanitize(fields)`` when it is ``fields`` itself (str keys, values of
    ``SCALARS``' exact types, no NaN, ±Infinity or lone surrogate): ``fields`` encoded as it
    is; else None. The types are checked by set operations in C, the values by the encoder."""
    if fields is None:
        return "{}"
    if (type(fields) is not dict or not SCALARS.issuperset(map(type, fields.values()))
            or not TEXT.issuperset(map(type, fields))):
        return None
    try:
        return encode_acyclic(fields)
    except ValueError:  # NaN or ±Infinity, or an int of more digits than str() allows
        return None


def _timestamp(value: object) -> tuple[str, str]:
    """(month, canonical text) of an event's own ts; ``EventRefused`` when it is not one."""
    try:
        when = parse_timestamp(value)
    except ValueError as exc:
        raise EventRefused(f"ts is not a timestamp: {shorten(value, 100)!r}") from exc
    return month_of(when), format_timestamp(when)


def checked_run_id(value: object) -> str:
    """An event's run_id as written; ``EventRefused`` when it is unusable."""
    if value is None or value == "":
        raise EventRefused("run_id is missing or empty")
    text = text_of(value)
    if len(text) > MAX_RUN_ID_CHARS:
        raise EventRefused(f"run_id is longer than {MAX_RUN_ID_CHARS} characters")
    if _CONTROL_RE.search(text):
        raise EventRefused(f"run_id holds a control character: {text!r}")
    return text


def checked_type(value: object) -> str:
    """An event's type; ``EventRefused`` unless it is 1-64 characters of ``[A-Za-z0-9_.:-]``."""
    if not isinstance(value, str):
        raise EventRefused(f"type must be text, not {type(value).__name__}")
    if not _TYPE_RE.match(value):
        raise EventRefused(f"type must be 1 to 64 characters of A-Z a-z 0-9 _ . : -, not "
                           f"{shorten(value, 80)!r}")
    return value


#: The JSON of the shortest value ``record.trim_to_fit`` can leave: its marker alone.
_MIN_MARKER: Final = len(encode_string("…[truncated 1 bytes]").encode("utf-8"))


def _trim_fields(out: dict[str, Any], line: bytes, notes: list[str]) -> bytes:
    """Cut the longest top-level string fields until the line fits ``MAX_EVENT_BYTES``."""
    fields: dict[str, Any] = out["fields"]
    size = len(line)
    # Only a value whose JSON is longer than the shortest marker can shrink; when cutting all of
    # them to that marker still leaves the line over the cap, no trimming can fit it: refused at
    # once (trimming each in turn re-encodes the line every time: quadratic in the fields).
    gain = {k: n - _MIN_MARKER for k, v in fields.items() if isinstance(v, str) and v
            and (n := len(encode_string(v).encode("utf-8"))) > _MIN_MARKER}
    longest = sorted(gain, key=lambda k: -len(fields[k].encode("utf-8")))
    if size - sum(gain.values()) > MAX_EVENT_BYTES:
        longest = []
    for key in longest:
        line = trim_to_fit(fields, key, line, MAX_EVENT_BYTES, lambda: dumps(out))
        notes.append(f"field {shorten(key, 60)!r} trimmed to fit {MAX_EVENT_BYTES} bytes")
        if len(line) <= MAX_EVENT_BYTES:
            return line
    raise EventRefused(f"event is {size} bytes, over the {MAX_EVENT_BYTES}-byte cap")
