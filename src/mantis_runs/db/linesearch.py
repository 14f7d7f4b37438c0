"""Finding a run's lines in a JSONL shard by its bytes, without parsing the shard.

A line whose ``run_id`` reads as ``X`` holds the bytes of ``X``, unless ``X`` is written with an
escape: for a *plain* ``X`` (only ASCII letters, digits, ``_ . : -``, and not the text of a
number, ``true`` or ``false``: DuckDB reads those as text too) the only escape that can
stand for one of its characters is ``\\uXXXX``. So every line that may hold ``X`` contains ``X``
or ``\\u``, and the lines that contain neither cannot: a point lookup parses only the others
(copied, byte for byte, into a private file), through the same views as every reader.

Whether a shard has any ``\\u`` at all, and how many of its lines are bad (the count the
``runs_bad_lines`` view gives), are kept in the user's cache per shard, under its stat identity
(:func:`facts`), so a lookup that finds the run in one month does not parse the others.
"""

from __future__ import annotations

import functools
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import entry_for, read_entry, write_entry

#: Version of the cached entries' format; a change makes old entries unused.
FORMAT = 1
ESCAPE = b"\\u"
_PLAIN = re.compile(r"[A-Za-z0-9_.:\-]+")
#: The text of a number, as JSON (and DuckDB: NaN, Infinity) may write one and DuckDB may read
#: it as text (a run_id 12 is "12"): such a run_id need not be in its line's bytes.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan)", re.I)


def plain(run_id: str) -> bool:
    """Whether every line that holds ``run_id`` contains its bytes or ``\\u`` (module doc)."""
    return (_PLAIN.fullmatch(run_id) is not None and _NUMBER.fullmatch(run_id) is None
            and run_id.lower() not in ("true", "false", "null"))


#: From this many bytes on, a search goes through the C library's ``memmem`` (about 6 GB/s
#: here, against 1.9 GB/s for ``mmap.find``: 0.33 -> 0.09 s over 1M runs of JSONL), which is
#: worth importing ctypes for (about 3 ms); smaller spans use ``mmap.find``.
MEMMEM_MIN_BYTES = 4 << 20


@functools.cache
def _memmem() -> Any:
    """The C library's ``memmem`` through ctypes, or None where there is none (then every
    search uses ``mmap.find``)."""
    try:
        import ctypes

        found = ctypes.CDLL(None).memmem
    except (OSError, AttributeError, TypeError):  # no C library by that name (Windows)
        return None
    found.restype = ctypes.c_void_p
    found.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)
    return found


class _Mapped:
    """A file's bytes mapped for reading, searched by ``memmem`` when ``fast`` (a private
    copy-on-write mapping, which ctypes can address; nothing is ever written to it), else by
    ``mmap.find``. Both find the same first occurrence."""

    def __init__(self, fd: int, fast: bool) -> None:
        self._memmem = _memmem() if fast else None
        if self._memmem is not None:
            try:
                self.buf = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
            except OSError:  # e.g. strict overcommit counts a private mapping: read it plainly
                self._memmem = None
        if self._memmem is None:
            self.buf = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        self._view: Any = None
        self._base = 0
        if self._memmem is not None:
            import ctypes

            self._view = (ctypes.c_char * len(self.buf)).from_buffer(self.buf)
            self._base = ctypes.addressof(self._view)

    @property
    def fast(self) -> bool:
        """Whether ``memmem`` searches (it releases the GIL: two threads search at once)."""
        return self._memmem is not None

    def find(self, needle: bytes, start: int, end: int) -> int:
        if self._memmem is None or end - start < len(needle) or not needle:
            return self.buf.find(needle, start, end)
        at = self._memmem(self._base + start, end - start, needle, len(needle))
        return -1 if not at else int(at) - self._base

    def close(self) -> None:
        self._view = None  # the export first: a mapping with a live export cannot close
        self.buf.close()


@contextmanager
def _mapped(f: Any, start: int, end: int) -> Iterator[_Mapped]:
    """``f``'s bytes mapped (``_Mapped``), ``memmem`` searching them when [start, end) is
    large enough to be worth it (``MEMMEM_MIN_BYTES``)."""
    m = _Mapped(f.fileno(), fast=end - start >= MEMMEM_MIN_BYTES)
    try:
        yield m
    finally:
        m.close()


def _line_at(buf: mmap.mmap, start: int, end: int, pos: int) -> tuple[int, int]:
    """The line of ``buf[start:end]`` around ``pos`` (``start``: a line start), with its
    newline."""
    nl = buf.rfind(b"\n", start, pos)
    first = start if nl < 0 else nl + 1
    nl = buf.find(b"\n", pos, end)
    return first, end if nl < 0 else nl + 1


def _lines_from(m: _Mapped, needle: bytes, start: int, end: int, lo: int, hi: int
                ) -> set[tuple[int, int]]:
    """The lines of bytes [start, end) (``start``: a line start) that hold ``needle`` at a
    position in [lo, hi): each line once, searched on from its end."""
    stop = min(hi + len(needle) - 1, end)
    spans: set[tuple[int, int]] = set()
    pos = m.find(needle, lo, stop)
    while pos >= 0:
        line = _line_at(m.buf, start, end, pos)
        spans.add(line)
        pos = m.find(needle, line[1], stop)
    return spans


def _lines_of(m: _Mapped, needle: bytes, start: int, end: int) -> set[tuple[int, int]]:
    """``_lines_from`` over all of [start, end); from ``2 * MEMMEM_MIN_BYTES`` on with memmem,
    its two halves on two threads (a line across the middle is found from either side, once)."""
    if not m.fast or end - start < 2 * MEMMEM_MIN_BYTES:
        return _lines_from(m, needle, start, end, start, end)
    mid = start + (end - start) // 2
    theirs: list[set[tuple[int, int]]] = []
    helper = threading.Thread(
        target=lambda: theirs.append(_lines_from(m, needle, start, end, mid, end)),
        name="mantis-linesearch", daemon=True)
    helper.start()
    try:
        mine = _lines_from(m, needle, start, end, start, mid)
    finally:
        helper.join()  # never unmapped while it reads
    return mine | (theirs[0] if theirs else _lines_from(m, needle, start, end, mid, end))


def lines_with(path: Path, needles: list[bytes], start: int = 0, end: int | None = None,
               *, last_only: bool = False) -> list[tuple[int, bytes]]:
    """The lines of ``path`` in bytes [start, end) (``start``: a line start) that contain one
    of ``needles``: (offset, bytes), in file order. ``last_only``: for each needle only its
    last line (found from the end: the newest runs are near the end of a shard)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        end = size if end is None else min(end, size)
        if end <= start:
            return []
        with _mapped(f, start, end) as m:
            buf = m.buf
            spans: set[tuple[int, int]] = set()
            for needle in needles:
                if last_only:
                    pos = buf.rfind(needle, start, end)
                    if pos >= 0:
                        spans.add(_line_at(buf, start, end, pos))
                    continue
                spans |= _lines_of(m, needle, start, end)
            return [(s, buf[s:e]) for s, e in sorted(spans)]


def write_lines(dest: Path, lines: list[tuple[int, bytes]]) -> None:
    """``lines`` (from :func:`lines_with`, in file order) into a new file ``dest``, each as it
    was. A blank line first unless the first of them starts the shard, so that a byte order mark
    inside a shard is not taken for the start of a file (a blank line is no row, nor a bad one);
    a line without its newline (a torn tail) can only be the last."""
    with open(dest, "xb") as out:
        if not lines or lines[0][0] != 0:
            out.write(b"\n")
        for _, data in lines:
            out.write(data)


@dataclass(frozen=True)
class ShardFacts:
    """What a lookup needs to know of a whole JSONL file."""

    bad: int  # lines that are not rows (the runs_bad_lines view's count)
    escapes: bool  # whether ``\\u`` occurs anywhere in it


def has_escape(path: Path, start: int = 0, end: int | None = None) -> bool:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        end = size if end is None else min(end, size)
        if end <= start:
            return False
        with _mapped(f, start, end) as m:
            return m.find(ESCAPE, start, end) >= 0


def facts(path: Path, count_bad: Callable[[Path], int]) -> ShardFacts:
    """The shard's :class:`ShardFacts`, from the user's cache when the file has not changed
    since (path, device, inode, size and times); otherwise counted (``count_bad`` parses it)
    and kept, unless the file changed while it was read."""
    def entry() -> Path | None:
        return entry_for("shard-facts", [path], f"format {FORMAT}")

    before = entry()
    raw = read_entry(before) if before is not None else None
    if (isinstance(raw, dict) and isinstance(raw.get("bad"), int)
            and isinstance(raw.get("escapes"), bool)):
        return ShardFacts(bad=raw["bad"], escapes=raw["escapes"])
    found = ShardFacts(bad=count_bad(path), escapes=has_escape(path))
    if before is not None and entry() == before:
        write_entry(before, {"bad": found.bad, "escapes": found.escapes})
    return found


def prefix_escapes(path: Path, end: int, key: Path, *identity: str) -> bool:
    """Whether ``\\u`` occurs in the first ``end`` bytes of ``path``, a live shard whose first
    ``end`` bytes a checkpoint (the file ``key``, with ``identity``: its hash and offset)
    vouches for; kept in the user's cache under the checkpoint's identity."""
    entry = entry_for("prefix-escapes", [key], f"format {FORMAT}", *identity)
    raw = read_entry(entry) if entry is not None else None
    if isinstance(raw, bool):
        return raw
    found = has_escape(path, 0, end)
    if entry is not None:
        write_entry(entry, found)
    return found
