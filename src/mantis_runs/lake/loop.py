"""``mantis runs ship --every 5m``: a sidecar loop of ship rounds. A failed round is reported
and the next one resumes (the protocol makes that safe); rounds are spaced by the interval with
±10% jitter, so many hosts started together do not commit in lockstep."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..errors import MantisError
from .ship import ShipReport, ship


def ship_every(interval: timedelta, on_report: Callable[[ShipReport], None],
               on_error: Callable[[MantisError], None], *, rounds: int | None = None,
               **options: Any) -> None:
    """Call ``ship(**options)`` every ``interval`` (forever, or ``rounds`` times)."""
    seconds = interval.total_seconds()
    if seconds <= 0:
        raise ValueError("the interval must be positive")
    done = 0
    while rounds is None or done < rounds:
        try:
            on_report(ship(**options))
        except MantisError as exc:
            on_error(exc)
        done += 1
        if rounds is None or done < rounds:
            time.sleep(seconds * random.uniform(0.9, 1.1))
