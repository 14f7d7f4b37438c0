"""db/linesearch.py's two ways of finding bytes: the C library's ``memmem`` (spans from
MEMMEM_MIN_BYTES on) and ``mmap.find`` give the same lines and the same escapes."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mantis_runs.db import linesearch
from mantis_runs.db.linesearch import ESCAPE, has_escape, lines_with

pytestmark = pytest.mark.skipif(linesearch._memmem() is None,
                                reason="no C library memmem on this platform: mmap.find alone")

_LINES = st.lists(st.one_of(
    st.sampled_from([b'{"run_id":"a1"}', b'{"run_id":"a1","x":1}', b'{"run_id":"b2"}',
                     b'{"run_id":"\\u0061\\u0031"}', b"", b"a1a1a1", b"\x00\xff"]),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))), max_size=60)


def _both(monkeypatch: pytest.MonkeyPatch, call: object) -> tuple[object, object]:
    """``call()`` with memmem searching every span, then with mmap.find alone."""
    monkeypatch.setattr(linesearch, "MEMMEM_MIN_BYTES", 0)
    fast = call()  # type: ignore[operator]
    monkeypatch.setattr(linesearch, "MEMMEM_MIN_BYTES", 1 << 62)
    slow = call()  # type: ignore[operator]
    return fast, slow


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_LINES, torn=st.booleans(), needles=st.lists(
    st.sampled_from([b"a1", b"b2", b"zz", ESCAPE, b"1a", b"\x00"]), min_size=1, max_size=3),
    cut=st.tuples(st.integers(0, 400), st.integers(0, 400)))
def test_memmem_finds_what_mmap_find_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           lines: list[bytes], torn: bool,
                                           needles: list[bytes], cut: tuple[int, int]) -> None:
    data = b"\n".join(lines) + (b"" if torn or not lines else b"\n")
    f = tmp_path / "s.jsonl"
    f.write_bytes(data)
    # a start that is a line start, as the callers give
    starts = [0] + [i + 1 for i, c in enumerate(data) if c == 0x0A]
    start = starts[cut[0] % len(starts)]
    end = None if cut[1] % 3 == 0 else cut[1]
    fast, slow = _both(monkeypatch, lambda: lines_with(f, needles, start, end))
    assert fast == slow
    fast, slow = _both(monkeypatch, lambda: has_escape(f, start, end))
    assert fast == slow == (ESCAPE in data[start:len(data) if end is None else end])
    if data:  # every position each way finds, against bytes.find
        stop = len(data) if end is None else min(end, len(data))
        for needle in needles:
            want, at = [], data.find(needle, start, stop)
            while at >= 0:
                want.append(at)
                at = data.find(needle, at + 1, stop)
            for fast_find in (True, False):
                with open(f, "rb") as fh:
                    m = linesearch._Mapped(fh.fileno(), fast=fast_find)
                    try:
                        got, at = [], m.find(needle, start, stop)
                        while at >= 0:
                            got.append(at)
                            at = m.find(needle, at + 1, stop)
                    finally:
                        m.close()
                assert got == want


def test_a_large_shard_is_searched_by_memmem(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """From MEMMEM_MIN_BYTES on the search goes through memmem, and finds every copy (at the
    very start, in the middle, at the very end without a newline); a smaller span does not."""
    f = tmp_path / "big.jsonl"
    filler = b'{"run_id":"x","pad":"' + b"." * 200 + b'"}\n'
    n = linesearch.MEMMEM_MIN_BYTES // len(filler) + 10
    with open(f, "wb") as out:
        out.write(b'{"run_id":"needle"}\n')
        out.write(filler * (n // 2))
        out.write(b'{"run_id":"needle","n":2}\n')
        out.write(filler * (n // 2))
        out.write(b'{"run_id":"needle","n":3}')
    calls: list[int] = []
    real = linesearch._memmem()

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(linesearch, "_memmem", lambda: counting)
    found = lines_with(f, [b"needle"])
    assert [line for _, line in found] == [b'{"run_id":"needle"}\n',
                                           b'{"run_id":"needle","n":2}\n',
                                           b'{"run_id":"needle","n":3}']
    assert found[0][0] == 0 and found[2][0] + len(found[2][1]) == f.stat().st_size
    assert len(calls) == 3  # the search after the last copy starts at the end: no call
    calls.clear()
    assert lines_with(f, [b"needle"], 0, 100) == [found[0]]
    assert calls == []  # 100 bytes: mmap.find


def test_a_private_mapping_refused_falls_back_to_mmap_find(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel refuses the private mapping memmem needs (strict overcommit), the span
    is searched by mmap.find, with the same answer."""
    f = tmp_path / "s.jsonl"
    f.write_bytes(b'{"run_id":"a1"}\n{"run_id":"b2"}\n{"run_id":"a1","n":2}\n')
    real = mmap.mmap
    accesses: list[int] = []

    def refusing(fd: int, length: int, *, access: int) -> object:
        accesses.append(access)
        if access == mmap.ACCESS_COPY:
            raise OSError(12, "Cannot allocate memory")
        return real(fd, length, access=access)

    monkeypatch.setattr(linesearch, "MEMMEM_MIN_BYTES", 0)
    monkeypatch.setattr(mmap, "mmap", refusing)
    assert lines_with(f, [b"a1"]) == [(0, b'{"run_id":"a1"}\n'),
                                      (32, b'{"run_id":"a1","n":2}\n')]
    assert accesses == [mmap.ACCESS_COPY, mmap.ACCESS_READ]


def test_the_two_halves_find_a_needle_across_the_middle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From 2 * MEMMEM_MIN_BYTES on a span is searched as two halves on two threads: a needle at
    every position around the middle, on one line or split over two, is found once, and so is
    a second copy on the same line."""
    monkeypatch.setattr(linesearch, "MEMMEM_MIN_BYTES", 1)
    f = tmp_path / "s.jsonl"
    for at in range(0, 40):
        data = b'{"pad":"' + b"." * at + b'needle"}\n{"run_id":"needle","n":2}\n{"x":"need\nle"}\n'
        f.write_bytes(data)
        want = [(0, data[:data.index(b"\n") + 1]),
                (data.index(b"\n") + 1, b'{"run_id":"needle","n":2}\n')]
        assert lines_with(f, [b"needle"]) == want, at
        assert lines_with(f, [b"needle", b"needle"]) == want, at  # one line, found twice
