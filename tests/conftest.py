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

Running (CI runs ``python -m pytest -n 2`` from the repository root: everything):

* ``python -m pytest tests/torture``: only the torture tests; ``-m slow``: every slow test;
* ``python -m pytest -m "not slow"`` (or ``--ignore=tests/torture``): everything but them.

Tests that cannot run here skip with the reason, and ``-ra`` (in pyproject's addopts) prints
every reason in the summary; ``.ci/run`` prepares what they need.

In parallel (pytest-xdist; pyproject's addopts say ``--dist loadfile``: a file's tests run in
one worker, in order, its module fixtures built once; with ``--dist load`` two workers would
write the browser test's screenshots, fixed names in ``$MANTIS_TEST_ARTIFACTS``, at once):

* every test process gets its own ``$XDG_CACHE_HOME`` (the user cache folder, where footer
  bounds and the like are kept) in the session's temporary folder: tests neither share the
  developer's ``~/.cache/mantis`` nor each other's;
* a test marked ``exclusive`` runs while no other worker runs a test (:class:`Turns`): the tests
  whose verdict or strength depends on timing (an upper bound on a wait, kills landing in a fixed
  number of seconds, writers that must overlap). Every other test takes a shared turn.
* figures a test wants in CI's log (a torture's kill counts) go through the ``figures`` fixture:
  pytest-xdist shows no worker's output, so they are printed in the terminal summary.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TORTURE_DIR = Path(__file__).resolve().parent / "torture"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TORTURE_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)


# --------------------------------------------------------------------------------------------
# taking turns across pytest-xdist's workers


class Turns:
    """A readers-writer lock shared by the workers of one run (two files in the folder above
    the workers' temporary folders). A test takes the room shared, an ``exclusive`` test alone.
    Whoever wants the room first passes the gate, so an exclusive test waiting for the room
    holds the gate, and no worker slips in a shared turn before it (flock is not fair)."""

    def __init__(self, folder: Path) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        self._gate = os.open(folder / "turns.gate", flags, 0o600)
        self._room = os.open(folder / "turns.room", flags, 0o600)

    @contextmanager
    def turn(self, *, exclusive: bool) -> Iterator[None]:
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._room, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._room, fcntl.LOCK_UN)


_TURNS = pytest.StashKey[Turns]()


def pytest_configure(config: pytest.Config) -> None:
    # An xdist worker's basetemp is <the run's basetemp>/popen-gwN: the parent is shared.
    if hasattr(config, "workerinput") and config.option.basetemp:
        config.stash[_TURNS] = Turns(Path(config.option.basetemp).parent)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Setup, call and teardown (module fixtures included) all happen inside the turn."""
    turns = item.config.stash.get(_TURNS, None)
    if turns is None:
        return (yield)
    with turns.turn(exclusive=item.get_closest_marker("exclusive") is not None):
        return (yield)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This test process's own user cache folder; subprocesses inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


# --------------------------------------------------------------------------------------------
# figures for CI's log

_FIGURES = "figures"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``figures(text)``: print ``text`` under the test's name in the terminal summary."""
    return lambda text: request.node.user_properties.append((_FIGURES, text))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = [r for kind in ("passed", "failed") for r in terminalreporter.stats.get(kind, [])
               if getattr(r, "when", None) == "call"]
    shown = [(r.nodeid, text) for r in reports
             for name, text in getattr(r, "user_properties", ()) if name == _FIGURES]
    if shown:
        terminalreporter.section("figures")
        for nodeid, text in shown:
            terminalreporter.write_line(f"{nodeid}\n{text}")
