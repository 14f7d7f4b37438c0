"""pytest configuration for the whole suite.

Layout:

* ``tests/test_*.py``: unit and integration tests.
* ``tests/torture/``: the slow torture tests (real processes, SIGKILL, a really full disk).
  Everything collected there carries the ``slow`` marker (added below if a file forgets it), as
  do a few long kill -9 tests elsewhere (``test_compact.py``, ``test_parquet_layout.py``).
* ``tests/helpers.py``: shared helpers, imported by name (``from helpers import run_cli``):
  ``run_cli`` (``mantis`` in process through click's CliRunner, giving ``(code, out, err)``),
  rows written as the writer writes them, the numpy oracle, on-disk checks. They are plain
  functions rather than fixtures because module-level helpers and subprocesses use them too.

Running (CI runs ``python -m pytest`` from the repository root: everything):

* ``python -m pytest tests/torture``: only the torture tests; ``-m slow``: every slow test;
* ``python -m pytest -m "not slow"`` (or ``--ignore=tests/torture``): everything but them.

Tests that cannot run here skip with the reason, and ``-ra`` (in pyproject's addopts) prints
every reason in the summary; ``.ci/run`` prepares what they need.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TORTURE_DIR = Path(__file__).resolve().parent / "torture"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TORTURE_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
