"""The text primitives every renderer uses: tables, seconds, visible text, warnings.

Text output is for a terminal: stored text goes through :func:`visible`, so control characters
arrive as escapes and never act, and columns are measured in terminal cells (wcwidth).
"""

from __future__ import annotations

import math
import re
from typing import Any

RULE = "─"


def tabulate(*args: Any, **kwargs: Any) -> str:
    """tabulate.tabulate, imported when a table is drawn (``--json`` output never needs it),
    measuring cells as :func:`_width` does (cli/cells.py)."""
    from .cells import tabulate_module

    return str(tabulate_module().tabulate(*args, **kwargs))


def seconds(v: float | None) -> str:
    """``12.3s``, ``0.500s``; ``—`` where there is no duration: none, or a number that is not
    finite (NaN, an infinity in a hand-written line), which counts as none everywhere (stats
    leave it out, ``show`` and ``report`` too), so ``list`` prints ``—`` as they do. ``mantis runs
    sql`` shows the stored value."""
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.1f}s" if abs(v) >= 1 else f"{v:.3f}s"


#: The bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), as a
#: regex character class: a terminal reorders what follows them (a right-to-left override makes
#: ``evil\u202etxt.exe`` read ``evilexe.txt``), so stored text shows them as escapes too.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: C0 controls, DEL and C1 controls: a terminal acts on them (cursor moves, window titles...).
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_CONTROL_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")  # \t, \n kept
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(ch: str) -> str:
    code = ord(ch)
    return _SHORT_ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str, *, keep_lines: bool = False) -> str:
    """``text`` safe for a terminal: each control character (C0, DEL, C1) as an escape, ``\\t``,
    ``\\n``, ``\\r`` or ``\\x1b``, and each bidirectional control (``BIDI_CONTROLS``) as
    ``\\u202e``, so that stored text shows what it holds instead of acting; ``keep_lines`` keeps
    tabs and line feeds (CSV quotes them). Everything else, backslashes included, is unchanged:
    JSON output has the exact text."""
    pattern = _CONTROL_BUT_LINES if keep_lines else _CONTROL
    return pattern.sub(lambda m: _escape(m[0]), text)


def _width(text: str) -> int:
    """Terminal cells that ``text`` (already :func:`visible`) takes: 2 for CJK and most emoji.
    Measured as wcwidth measures them, and as tabulate does here (cli/cells.py)."""
    from .cells import wcswidth

    cells = wcswidth(text)
    return len(text) if cells < 0 else cells


def cut(shown: str, cells: int) -> str:
    """``shown`` (already :func:`visible`) within ``cells`` terminal cells: as it is when it
    fits, else cut to ``cells`` cells ending with ``…``."""
    if _width(shown) <= cells:
        return shown
    kept, used = [], 0
    for ch in shown:
        used += _width(ch)
        if used > cells - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal cells."""
    return text + " " * max(width - _width(text), 0)


def warning(text: str) -> str:
    """A warning line on stderr (the CLI's log records are printed the same way)."""
    return f"warning: {text}"
