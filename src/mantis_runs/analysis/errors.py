"""The class of a run's error: its first line, with what differs from run to run replaced.

``normalise_error`` is the one place this rule lives (`mantis runs failures`, docs/insights.md):

1. The line: the first non-empty line of the text. When that line is Python's
   ``Traceback (most recent call last):``, the exception line instead: the first non-empty line
   after it that is not indented (``TimeoutError: ...``), which is what tells failures apart.
2. Trimmed, every run of white space made one space.
3. In one pass from left to right, the first of these that matches at a place is replaced:

   ============  ==========================================================  ==========
   placeholder   what                                                        example
   ============  ==========================================================  ==========
   ``<url>``     scheme://... up to white space or a quote                   https://x/y?z=1
   ``<str>``     text in '...', "..." or “...” (a ' inside a word is not     'Suivant'
                 a quote)
   ``<uuid>``    8-4-4-4-12 hex digits                                       0b5e...-...
   ``<time>``    an ISO date, time or both (YYYY-MM-DD, HH:MM[:SS], with a   2026-12-04T10:00:00Z
                 fraction and a zone), not glued to a word
   ``<ip>``      IPv4 address, with its :port                                10.0.3.7:443
   ``<path>``    a Windows path (C:\\...) or a Unix path starting with /,    /app/x.py
                 ./, ../ or ~/ (not right after a letter, digit or /)
   ``<hex>``     0x... , or 8+ hex digits with both a digit and a letter     05b13c78e4be
   ``<n>``       a number not glued to a word before it (12, -3, 4.5, 1e9)   30000ms -> <n>ms
   ============  ==========================================================  ==========

4. Cut to ``MAX_CLASS_CHARS`` characters (then ending with ``…``).

A missing or blank error is the class ``NO_ERROR``. Deterministic: the same text always gives
the same class, on every platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

#: The class of a failed run without error text.
NO_ERROR: Final = "(no error text)"
#: The longest class, in characters (longer ones are cut and end with "…").
MAX_CLASS_CHARS: Final = 120
_TRACEBACK: Final = "Traceback (most recent call last):"

_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("url", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>“”]+"),
    ("str", r"(?<!\w)'[^'\n]*'(?!\w)|\"[^\"\n]*\"|“[^”\n]*”"),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("time", r"(?<![\w.:])(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?"
             r"|\d{1,2}:\d{2}(?::\d{2})?)(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])"),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"),
    ("path", r"\b[A-Za-z]:\\[^\s'\"]*|(?<![\w/])(?:~|\.{1,2})?/[\w.@%+~-]+(?:/[\w.@%+~-]*)*"),
    ("hex", r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    ("n", r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"),
)
_VARIABLE: Final = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PATTERNS))
_SPACE: Final = re.compile(r"\s+")


def _placeholder(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def error_line(text: str | None) -> str | None:
    """The line of ``text`` that names the error (rule 1 of the module doc); None when blank."""
    if not text:
        return None
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip():
            break
    else:
        return None
    if line.strip() != _TRACEBACK:
        return line
    for after in lines:
        if after.strip() and not after[:1].isspace():
            return after
    return line


def normalise_error(text: str | None) -> str:
    """The class of an error text (the module doc's rules)."""
    line = error_line(text)
    if line is None:
        return NO_ERROR
    found = _VARIABLE.sub(_placeholder, _SPACE.sub(" ", line.strip()))
    if len(found) > MAX_CLASS_CHARS:
        found = found[:MAX_CLASS_CHARS - 1] + "…"
    return found


#: The shape of a text: ASCII digits 2-9 made 1. No rule above tells them apart (none names a
#: digit but the 0 of 0x), so texts of the same shape have the same class, unless the class
#: keeps a digit (one inside a word, as in k8s). SQL groups by it too (translate(error, FROM, TO)).
SHAPE_FROM: Final = "23456789"
SHAPE_TO: Final = "11111111"
_SAME_DIGITS: Final = str.maketrans(SHAPE_FROM, SHAPE_TO)


def keeps_digits(error_class: str) -> bool:
    """Whether a class keeps a digit 1-9 (then texts of one shape may differ in class)."""
    return any(d in error_class for d in "123456789")


def classes(texts: Iterable[str | None]) -> list[str]:
    """``normalise_error`` of each text, faster for many texts that differ only in their
    digits: the lines equal once digits 2-9 read as 1 are normalised once, unless the class
    keeps a digit (a digit inside a word, as in k8s), then each line on its own."""
    by_key: dict[str, str] = {}
    by_line: dict[str, str] = {}
    out: list[str] = []
    for text in texts:
        line = error_line(text)
        if line is None:
            out.append(NO_ERROR)
            continue
        key = line.translate(_SAME_DIGITS)
        found = by_key.get(key)
        if found is None:
            found = by_key[key] = normalise_error(line)
        if keeps_digits(found):
            found = by_line.get(line) or by_line.setdefault(line, normalise_error(line))
        out.append(found)
    return out
