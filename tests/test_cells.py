"""cli/cells.py counts terminal cells as wcwidth does, and tabulate draws the same tables with
it as with wcwidth, without importing wcwidth for plain text."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st

from mantis_runs.cli import cells
from mantis_runs.cli.text import _width

#: What tables hold: plain text, mantis's own symbols, CJK, emoji, combining marks, zero-width
#: joiners, controls and escapes (tabulate strips ANSI colours before measuring).
PIECES = ["run", "p95", " ", "12.5s", "—", "…", "─", "×", "▁▇", "σ", "中文", "ｆｕｌｌ", "😀",
          "👩\u200d💻", "e\u0301", "\u200b", "\x1b[31m", "\x1b[0m", "\t", "\x07", "\u202e", "é",
          "\U0001f1fa\U0001f1f8", "\ufe0f", "한글", "ｱ"]


@pytest.mark.parametrize("char", list(cells.NARROW))
def test_each_narrow_symbol_is_one_cell_for_wcwidth(char: str) -> None:
    assert wcwidth.wcswidth(char) == 1


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(PIECES)).map("".join),
                 st.text(alphabet=st.characters(max_codepoint=0x7f))))
def test_the_count_is_wcwidths(text: str) -> None:
    assert cells.wcswidth(text) == wcwidth.wcswidth(text)


CELL = st.one_of(st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
                 st.text(max_size=6), st.integers(-10**6, 10**6), st.floats(allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.tuples(
    st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=5),
    st.lists(st.sampled_from(PIECES), min_size=width, max_size=width),
    st.sampled_from(["plain", "simple", "github", "grid"]))))
def test_tabulate_draws_what_it_draws_with_wcwidth(table: tuple[Any, ...]) -> None:
    rows, headers, fmt = table
    module = cells.tabulate_module()
    ours = module.tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    module.wcwidth = wcwidth
    try:
        theirs = module.tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    finally:
        cells.tabulate_module()
    assert ours == theirs


def test_a_plain_table_does_not_import_wcwidth_and_a_wide_one_does() -> None:
    code = """if True:
        import sys
        from mantis_runs.cli.text import tabulate, _width
        table = tabulate([["succeeded", "12.5s", "—"]], headers=["status", "total", "…"])
        assert _width("─" * 3) == 3
        print("wcwidth" in sys.modules, end=" ")
        wide = tabulate([["中文", "x"]], headers=["a", "b"])
        print("wcwidth" in sys.modules, end=" ")
        print(repr(table), repr(wide))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("False True ")
    assert out.split(" ", 2)[2].strip() == " ".join(
        [repr("status     total    …\n---------  -------  ---\nsucceeded  12.5s    —"),
         repr("a     b\n----  ---\n中文  x")])


def test_width_of_control_text_counts_characters() -> None:
    assert _width("a\x07b") == 3  # wcwidth says -1: a control character
    assert _width("中文") == 4
