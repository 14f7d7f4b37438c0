"""A batch's lines built column by column (standard library only), for ``events._plain_batch``.

A batch of common events is mostly the same text over and over: the keys, the run_id, the type,
often the ts and some values. So its dicts are read as columns (every dict with the same keys in
the same order), each column's JSON text is made once when all its values are the same, else
value by value by the very function the JSON encoder calls for that type
(``encode_basestring`` for a str, ``float.__repr__``, ``int.__repr__``; ``true``, ``false``,
``null``), and the lines of the batch are the pieces, constant or per event, interleaved and
joined once. The text is ``encode_acyclic``'s, byte for byte (tests/test_events_prepare.py).
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any, Final

from .record import encode_acyclic, encode_string

#: One piece of every line: the same text for every event, or one text per event.
Segment = str | list[str]

#: The type set of a column of plain text (events.py checks run_ids, types and keys by it too).
TEXT: Final = frozenset({str})
_FLOAT: Final = frozenset({float})
_INT: Final = frozenset({int})
_BOOL_NONE: Final = frozenset({bool, type(None)})
#: The value types whose JSON text is made here, exact types only (a subclass: the full path).
SCALARS: Final = frozenset({str, int, float, bool, type(None)})
#: The JSON of bool and None values (looked up only in a column of bools and Nones: True == 1).
_CONSTANTS: Final[dict[object, str]] = {True: "true", False: "false", None: "null"}


def columns(dicts: list[dict[Any, Any]]) -> tuple[list[str], list[list[Any]]] | None:
    """(keys, each key's values in order) when every dict has the same str keys (exact type) in
    the same order; else None. The dicts' keys, end to end, must be ``keys`` repeated: as a
    dict's keys are distinct, none can hold more than ``len(keys)``, so each holds ``keys``."""
    keys = list(dicts[0])
    flat = list(chain.from_iterable(dicts))
    # Types first: the comparison below must meet no __eq__ but str's.
    if not TEXT.issuperset(map(type, flat)) or flat != keys * len(dicts):
        return None
    values = list(chain.from_iterable(map(dict.values, dicts)))
    width = len(keys)
    return keys, [values[j::width] for j in range(width)]


def same_or_each(texts: list[str]) -> Segment:
    """One text when every one of ``texts`` is the same, else ``texts``."""
    return texts[0] if len(set(texts)) == 1 else texts


def json_column(values: list[Any]) -> Segment | None:
    """The JSON text of each value (one text when they are all the same str): the encoder's
    text, for exact ``SCALARS``; None when a value is of another type or cannot be written
    (NaN, ±Infinity, an int of more digits than ``str()`` allows)."""
    kinds = set(map(type, values))
    if kinds == TEXT:
        distinct = set(values)
        if len(distinct) == 1:
            return encode_string(values[0])
        if 2 * len(distinct) <= len(values):  # repeated texts: each encoded once
            memo = {text: encode_string(text) for text in distinct}
            return list(map(memo.__getitem__, values))
        return list(map(encode_string, values))
    if kinds == _FLOAT:  # not deduplicated: 0.0 == -0.0
        return list(map(float.__repr__, values)) if all(map(math.isfinite, values)) else None
    if kinds <= _BOOL_NONE:
        return list(map(_CONSTANTS.__getitem__, values))
    if not kinds <= SCALARS:
        return None
    try:
        return (list(map(int.__repr__, values)) if kinds == _INT
                else list(map(encode_acyclic, values)))  # mixed types: value by value
    except ValueError:  # NaN or ±Infinity, or an int of more digits than str() allows
        return None


def object_segments(dicts: list[dict[Any, Any]]) -> list[Segment] | None:
    """The JSON objects of ``dicts`` as segments, keys constant between value columns, when the
    dicts are ``columns`` of ``json_column`` values; else None."""
    cols = columns(dicts)
    if cols is None:
        return None
    keys, values = cols
    if not keys:
        return ["{}"]
    out: list[Segment] = []
    for j, (key, column) in enumerate(zip(keys, values, strict=True)):
        texts = json_column(column)
        if texts is None:
            return None
        out += [("{" if j == 0 else ",") + encode_string(key) + ":", texts]
    out.append("}")
    return out


def interleave(segments: list[Segment], count: int) -> tuple[list[str], int]:
    """(pieces, width): the pieces of ``count`` lines made of ``segments``, line after line, in
    one list (``"".join`` it for the text of them all; line i is ``width`` pieces from
    ``i * width``). Adjacent constant segments are merged first."""
    merged: list[Segment] = []
    for segment in segments:
        if isinstance(segment, str) and merged and isinstance(merged[-1], str):
            merged[-1] += segment
        else:
            merged.append(segment)
    width = len(merged)
    pieces = [""] * (width * count)
    for j, segment in enumerate(merged):
        pieces[j::width] = [segment] * count if isinstance(segment, str) else segment
    return pieces, width
