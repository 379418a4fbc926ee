"""Dates in the reader's calendar: Gregorian, or Solar Hijri for Persian readers.

The Solar Hijri calendar (هجری شمسی, also called Jalali or the Iranian calendar) is the
official calendar of Iran and Afghanistan: the year begins at Nowruz, the March equinox
(1 Farvardin 1405 = 21 March 2026), and months 1–6 have 31 days, months 7–11 have 30 and
Esfand 29 or 30. The conversion is the ``jdatetime`` library's (which uses
``jalali_core``), never arithmetic of ours.

Dates are written here with ASCII digits; :func:`participation_app.i18n.digits` turns them
into Persian ones for a Persian page.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

import jdatetime

GREGORIAN: Final = "gregorian"
SOLAR_HIJRI: Final = "solar_hijri"
CALENDARS: Final = (GREGORIAN, SOLAR_HIJRI)
"""The calendars a reader can choose, in the order the choice lists them."""


def default_calendar(lang: str) -> str:
    """Return the calendar a reader of ``lang`` expects: Solar Hijri for ``fa``, else Gregorian."""
    return SOLAR_HIJRI if lang == "fa" else GREGORIAN


def solar_hijri(day: date) -> tuple[int, int, int]:
    """Convert a Gregorian date to the Solar Hijri calendar.

    Args:
        day: a Gregorian date (a ``datetime`` counts by its own date: convert it to the
            right time zone first).

    Returns:
        ``(year, month, day)`` in the Solar Hijri calendar, month 1 = Farvardin; e.g.
        ``date(2026, 3, 21)`` → ``(1405, 1, 1)``.

    Raises:
        ValueError: a date the library does not reach (before 21 March 622 = 1/01/01, or
            in the last days of year 9999).
    """
    converted = jdatetime.date.fromgregorian(year=day.year, month=day.month, day=day.day)
    return converted.year, converted.month, converted.day


def format_date(day: date, calendar: str) -> str:
    """Write a date in ``calendar`` with ASCII digits.

    Args:
        day: a Gregorian date (a ``datetime`` counts by its own date).
        calendar: :data:`GREGORIAN` (``2026-03-21``, ISO 8601) or :data:`SOLAR_HIJRI`
            (``1405/01/01``, year/month/day as Iranian documents write it).

    Returns:
        the date, zero-padded: ``YYYY-MM-DD`` or ``YYYY/MM/DD``.

    Raises:
        ValueError: an unknown calendar, or a date the Solar Hijri calendar does not reach.
    """
    if calendar == GREGORIAN:
        return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    if calendar == SOLAR_HIJRI:
        year, month, dom = solar_hijri(day)
        return f"{year:04d}/{month:02d}/{dom:02d}"
    raise ValueError(f"unknown calendar {calendar!r} (expected one of {CALENDARS})")


_ISO_DATE: Final = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def iso_dates_in(text: str, calendar: str) -> str:
    """Rewrite every ISO date (``YYYY-MM-DD``) in ``text`` in ``calendar`` (:func:`format_date`).

    For text composed elsewhere, e.g. a report's period ``2026-03-02 to 2026-03-16``
    → ``1404/12/11 to 1404/12/25``. A match that is not a real date is left as it is.

    Raises:
        ValueError: an unknown calendar.
    """
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r} (expected one of {CALENDARS})")

    def convert(match: re.Match[str]) -> str:
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return match[0]
        return format_date(day, calendar)

    return _ISO_DATE.sub(convert, text)
