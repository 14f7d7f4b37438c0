"""One call on a helper thread while the caller does something else. DuckDB releases the GIL
while it starts a database, binds and runs a query, so such a call overlaps the caller's work:
the lookups' connection is made this way while files are listed (db/connecting.py), and
``status`` reads a run's events while the point lookup reads its row (store/events.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``call()`` on a daemon thread, started at once; :meth:`result` waits for its value (or
    raises its exception). Used as a context manager, the thread is always waited for on the
    way out, so nothing it holds (locks, scratch folders) outlives the block."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # raised where the result is asked for
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when no error

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._thread.join()
