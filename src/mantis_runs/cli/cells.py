"""Terminal cells of text, as wcwidth counts them, and tabulate measuring with the same count.

wcwidth loads its Unicode tables when imported, about 15 ms of CPU for every table drawn. Most of
what mantis prints is printable ASCII and a few narrow symbols of its own (rules, dashes,
ellipses), one cell per character, which needs no tables: :func:`wcswidth` counts those itself
and asks wcwidth for anything else. tabulate imports wcwidth when it is installed;
:func:`tabulate_module` imports it with wcwidth kept out and then hands it this module as its
``wcwidth``, so tables keep their wide-character mode (CJK and emoji take two cells) and measure
exactly as with wcwidth (tests/test_cells.py compares both).
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

#: Narrow symbols mantis prints itself, one terminal cell each in wcwidth's count too
#: (tests/test_cells.py checks each): the rule under headings, the dash of a missing value, the
#: ellipsis of a cut value, the signs of ratios, intervals and comparisons, and sparklines.
NARROW = "─—…×±→←·≤≥−∞σ▁▂▃▄▅▆▇█"
_AS_ASCII = str.maketrans(dict.fromkeys(NARROW, "x"))

#: One import at a time: while tabulate is imported, wcwidth is kept out of ``sys.modules``.
_importing = threading.RLock()


def wcswidth(text: str) -> int:
    """The terminal cells of ``text``: wcwidth's ``wcswidth`` (-1 when it holds a control
    character), counted here without wcwidth for printable ASCII and :data:`NARROW`."""
    plain = text if text.isascii() else text.translate(_AS_ASCII)
    if plain.isascii() and plain.isprintable():
        return len(text)
    with _importing:
        from wcwidth import wcswidth as measure
    return int(measure(text))


def tabulate_module() -> ModuleType:
    """The ``tabulate`` module, measuring cells with :func:`wcswidth`."""
    with _importing:
        if "tabulate" not in sys.modules:
            keep_out = "wcwidth" not in sys.modules
            if keep_out:
                sys.modules["wcwidth"] = None  # type: ignore[assignment]  # import fails: absent
            try:
                import tabulate  # noqa: F401
            finally:
                if keep_out:
                    del sys.modules["wcwidth"]
        module = sys.modules["tabulate"]
        module.wcwidth = sys.modules[__name__]  # type: ignore[attr-defined]
        module.WIDE_CHARS_MODE = True  # type: ignore[attr-defined]
    return module
