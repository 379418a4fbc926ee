"""The one source of "now": UTC, timezone-aware, replaceable in tests and the demo.

Services call :func:`now`; the demo and tests move time with :func:`set_clock` /
:class:`FrozenClock` so a month-long consultation cycle can run in seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return _source()


def ensure_utc(value: datetime, *, field: str = "datetime") -> datetime:
    """Return ``value`` as aware UTC; a naive value is read as UTC (SQLite drops zones).

    Args:
        value: any datetime.
        field: the field name used in the error message.
    Returns:
        the same instant in UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class FrozenClock:
    """A clock that stands still until moved.

    Args:
        start: the initial instant (aware; naive is read as UTC).
    """

    def __init__(self, start: datetime) -> None:
        self.current = ensure_utc(start)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new instant."""
        self.current = self.current + delta
        return self.current

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware UTC)."""
        self.current = ensure_utc(instant)


def current_source() -> Callable[[], datetime]:
    """Return the clock in use (to restore it after a temporary :func:`set_clock`)."""
    return _source


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the clock for the whole process; ``None`` restores the system clock."""
    global _source
    with _lock:
        _source = source if source is not None else (lambda: datetime.now(UTC))


@contextmanager
def frozen(start: datetime) -> Iterator[FrozenClock]:
    """Use a :class:`FrozenClock` inside a ``with`` block, restoring the system clock after."""
    clock = FrozenClock(start)
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(None)
