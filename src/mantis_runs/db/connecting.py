"""The point lookups' connection, made on a helper thread (store/lookup.py ``session``), and
made ahead by a command that knows it will look a run up (``connect_ahead``).

DuckDB releases the GIL for part of the time it starts a database and binds the macros (about
50 ms of CPU; a Python loop on another thread keeps about 60% of its pace meanwhile), so the
caller lists, checks and searches files, or imports what it still needs, meanwhile. Only
the macros the lookups' queries read are created (``LOOKUP_MACROS``: the ``runs`` view's
macros, not the view, which no lookup queries and whose binding cost about 7 ms at every
start; with ``events`` the macros that read events files too), over no month: a session points
them at its files. So a connection made ahead holds nothing of any data dir, and any session
of the same process may take it.
"""

from __future__ import annotations

import atexit
import os

from . import engine, views
from .background import Background
from .connection import VIEW_MEMORY_LIMIT, connect

#: The macros of the lookups' queries (re-exported from views.py, where the lists live).
LOOKUP_MACROS = views.LOOKUP_MACROS


class Connecting:
    """A connection with the lookups' macros (and with ``events`` the macros that read events
    files), made on a helper thread; ``get`` waits for it."""

    def __init__(self, *, events: bool) -> None:
        self.events = events
        self._made = Background(lambda: _make(events))

    def get(self) -> engine.DuckDBPyConnection:
        """The connection, once made (its error, if making it failed)."""
        return self._made.result()

    def close(self) -> None:
        try:
            con = self._made.result()
        except BaseException:  # never made: nothing to close
            return
        con.close()


def _make(events: bool) -> engine.DuckDBPyConnection:
    con = connect(memory_limit=VIEW_MEMORY_LIMIT)
    try:
        views.install(con, [], only=(*LOOKUP_MACROS, *(views.EVENT_MACROS if events else ())))
    except BaseException:
        con.close()
        raise
    return con


#: The connection being made ahead (``connect_ahead``), by the process that asked for it.
_ahead: dict[int, Connecting] = {}


def connect_ahead(*, events: bool = False) -> None:
    """Start making the next session's connection now: a command that will look a run up calls
    it before importing the rest of what it needs. The next ``taken`` in this process gets it,
    unless it needs the events macros and this one has none; one never taken is closed at
    exit (its thread is waited for: it is never stopped inside DuckDB)."""
    if os.getpid() not in _ahead:
        _ahead[os.getpid()] = Connecting(events=events)


@atexit.register
def _close_ahead() -> None:
    ahead = _ahead.pop(os.getpid(), None)
    if ahead is not None:
        ahead.close()


def taken(*, events: bool) -> Connecting:
    """The connection made ahead, if it serves (``connect_ahead``), else a new one."""
    ahead = _ahead.pop(os.getpid(), None)
    if ahead is not None and (ahead.events or not events):
        return ahead
    if ahead is not None:
        ahead.close()
    return Connecting(events=events)
