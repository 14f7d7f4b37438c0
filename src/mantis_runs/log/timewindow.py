"""Parsing ``--since`` values (standard library only)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import UsageError
from .record import parse_timestamp
from .schema import TERMINAL_STATUSES

_DURATION = re.compile(r"^\s*([0-9]+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """``0``, ``30m``, ``24h``, ``7d``, ``2w`` as a timedelta."""
    if text.strip() == "0":
        return timedelta(0)
    m = _DURATION.match(text)
    if not m:
        raise UsageError(f"{option} takes a duration like 30m, 24h, 7d or 2w, got {text!r}")
    try:
        return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    except OverflowError:
        raise UsageError(f"{option} is too long: {text!r}") from None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``24h``, ``7d``, ``2w`` (back from now), or an ISO date/datetime (naive = UTC)."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(text)
    if m:
        amount = int(m.group(1))
        if amount <= 0:
            raise UsageError(f"--since must be a positive duration, got {text!r}")
        try:
            return now - timedelta(**{_UNITS[m.group(2)]: amount})
        except OverflowError:
            raise UsageError(f"--since is too far back: {text!r}") from None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise UsageError(
            f"--since takes a duration like 30m, 24h, 7d, 2w or an ISO date, got {text!r}"
        ) from None


def resolve_since(since: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """A ``since`` argument as an aware datetime: text as ``parse_since``, a naive datetime as
    UTC; None or "" is no lower bound."""
    if since is None or since == "":
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return parse_since(since, now)


def normalise_status(status: str | None) -> str | None:
    """A ``status`` filter: None or "" means every terminal status."""
    return None if status is None or status == "" else status


def checked_status(status: str | None) -> str | None:
    """A status filter as every reader takes it: None or "" is every terminal status (None),
    else one of ``schema.TERMINAL_STATUSES``; anything else is a UsageError naming them (a typo
    must not read as "no such runs")."""
    status = normalise_status(status)
    if status is not None and status not in TERMINAL_STATUSES:
        known = ", ".join(repr(s) for s in TERMINAL_STATUSES)
        raise UsageError(f"status must be {known} or '' (every status), got {status!r}")
    return status


def parse_window(text: str, now: datetime | None = None,
                 option: str = "window") -> tuple[datetime, datetime]:
    """A time window [start, end): ``7d`` (the last 7 days), ``30d..7d`` (from 30 days ago to 7
    days ago), ``2026-11-01..2026-11-08``, or ISO datetimes (naive = UTC); ``now`` may end a
    window. Each side is what ``--since`` takes."""
    now = now or datetime.now(UTC)
    first, sep, second = text.partition("..")

    def point(part: str) -> datetime:
        if part.strip() == "now":
            return now
        try:
            return parse_since(part.strip(), now)
        except UsageError:
            raise UsageError(f"{option} takes a duration like 7d, a range like 30d..7d, or ISO "
                             f"dates like 2026-11-01..2026-11-08, got {text!r}") from None

    start = point(first)
    end = point(second) if sep else now
    if start >= end:
        raise UsageError(f"{option} {text!r} is empty: it must start before it ends")
    return start, end
