"""Dates in the Solar Hijri calendar for Persian readers: the conversion against the
published calendar, Persian digits, the consultation's time zone, the sidebar choice and
the new-consultation page's date pickers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core import clock
from models import Consultation
from participation.auth import citizen_actor
from participation_app import calendars, i18n
from tests import factories as f
from tests.app.conftest import CONSULTATION, open_app, page_text, slug_of

TEHRAN_OFFSET = timedelta(hours=3, minutes=30)
"""Iran Standard Time (no daylight saving since 2022): the 52.5° E meridian the calendar
uses to place Nowruz."""

# March equinoxes (UTC) as published by the US Naval Observatory ("Earth's Seasons,
# Equinoxes, Solstices, Perihelion, and Aphelion"), independent of any calendar library.
MARCH_EQUINOX_UTC = {
    1403: datetime(2024, 3, 20, 3, 6, tzinfo=UTC),
    1404: datetime(2025, 3, 20, 9, 1, tzinfo=UTC),
    1405: datetime(2026, 3, 20, 14, 46, tzinfo=UTC),
}


def _nowruz(equinox: datetime) -> date:
    """1 Farvardin by the calendar's rule: the day of the equinox if it falls before noon in
    Tehran, else the next day (Iran's calendar law of 1925; Institute of Geophysics,
    University of Tehran)."""
    local = equinox + TEHRAN_OFFSET
    return local.date() if local.hour < 12 else local.date() + timedelta(days=1)


def test_nowruz_worked_out_from_the_equinox_matches_the_published_days():
    # Iran's official calendars print Nowruz 1403 on Wednesday 20 March 2024 and Nowruz 1405
    # on Saturday 21 March 2026; the rule above, fed the USNO equinoxes, agrees.
    assert _nowruz(MARCH_EQUINOX_UTC[1403]) == date(2024, 3, 20)
    assert _nowruz(MARCH_EQUINOX_UTC[1404]) == date(2025, 3, 21)
    assert _nowruz(MARCH_EQUINOX_UTC[1405]) == date(2026, 3, 21)
    assert date(2024, 3, 20).weekday() == 2  # Wednesday
    assert date(2026, 3, 21).weekday() == 5  # Saturday


@pytest.mark.parametrize("year", sorted(MARCH_EQUINOX_UTC))
def test_first_of_farvardin_is_nowruz(year):
    nowruz = _nowruz(MARCH_EQUINOX_UTC[year])
    assert calendars.solar_hijri(nowruz) == (year, 1, 1)
    assert calendars.format_date(nowruz, calendars.SOLAR_HIJRI) == f"{year}/01/01"


@pytest.mark.parametrize(
    ("gregorian", "expected"),
    [
        # the two New Year's Days of the brief, from the published calendar
        (date(2026, 3, 21), "1405/01/01"),
        (date(2024, 3, 20), "1403/01/01"),
        # 1403 is a leap year: from Nowruz 1403 (2024-03-20) to Nowruz 1404 (2025-03-21) is
        # 366 days, so the day before Nowruz 1404 is 30 Esfand 1403
        (date(2025, 3, 20), "1403/12/30"),
        # 1404 is a common year (2025-03-21 to 2026-03-21 is 365 days): Esfand has 29 days
        (date(2026, 3, 20), "1404/12/29"),
        # 22 Bahman 1357, the day of the 1979 revolution, is 11 February 1979
        (date(1979, 2, 11), "1357/11/22"),
        # months 1-6 have 31 days and 7-8 have 30: 1 Azar is Nowruz + 6*31 + 2*30 = 246 days,
        # 2026-03-21 + 246 days = 2026-11-22, so 2026-11-29 is 8 Azar 1405
        (date(2026, 11, 29), "1405/09/08"),
    ],
)
def test_solar_hijri_dates_match_the_published_calendar(gregorian, expected):
    assert calendars.format_date(gregorian, calendars.SOLAR_HIJRI) == expected


def test_day_count_of_the_hand_calculation():
    assert date(2026, 3, 21) + timedelta(days=6 * 31 + 2 * 30) == date(2026, 11, 22)
    assert (date(2025, 3, 21) - date(2024, 3, 20)).days == 366
    assert (date(2026, 3, 21) - date(2025, 3, 21)).days == 365


def test_gregorian_dates_are_iso_and_unknown_calendars_are_refused():
    assert calendars.format_date(date(2026, 3, 21), calendars.GREGORIAN) == "2026-03-21"
    with pytest.raises(ValueError, match="unknown calendar"):
        calendars.format_date(date(2026, 3, 21), "julian")
    with pytest.raises(ValueError, match="unknown calendar"):
        i18n.when(datetime(2026, 3, 21, tzinfo=UTC), "UTC", "fa", calendar="julian")


def test_times_take_the_date_of_the_consultations_zone_in_persian_digits():
    # 22:00 UTC on 20 March 2026 is 01:30 on 21 March in Tehran: Nowruz 1405 there, still
    # 29 Esfand 1404 in UTC
    instant = datetime(2026, 3, 20, 22, 0, tzinfo=UTC)
    hijri = calendars.SOLAR_HIJRI
    assert i18n.when(instant, "Asia/Tehran", "fa", calendar=hijri) == "۱۴۰۵/۰۱/۰۱ ۰۱:۳۰"
    assert i18n.when(instant, "UTC", "fa", calendar=hijri) == "۱۴۰۴/۱۲/۲۹ ۲۲:۰۰"
    assert i18n.when(instant, "Asia/Tehran", "en", calendar=hijri) == "1405/01/01 01:30"
    assert i18n.when(instant, "Asia/Tehran", "fa") == "۲۰۲۶-۰۳-۲۱ ۰۱:۳۰"  # Gregorian


def test_dates_inside_composed_text_are_rewritten():
    # 2026-03-02 is 18 days before 29 Esfand 1404 (2026-03-20): 11 Esfand; 2026-03-16: 25
    period = "2026-03-02 to 2026-03-16"
    assert calendars.iso_dates_in(period, calendars.SOLAR_HIJRI) == "1404/12/11 to 1404/12/25"
    assert calendars.iso_dates_in(period, calendars.GREGORIAN) == period
    assert calendars.iso_dates_in("2026-02-30", calendars.SOLAR_HIJRI) == "2026-02-30"


def test_persian_readers_get_the_solar_hijri_calendar_by_default():
    assert calendars.default_calendar("fa") == calendars.SOLAR_HIJRI
    assert calendars.default_calendar("en") == calendars.GREGORIAN


def _tehran_consultation(app_db) -> str:
    """An open consultation in Asia/Tehran from 2026-03-02 09:00 UTC (12:30 in Tehran, 11
    Esfand 1404) to 2026-03-20 22:00 UTC (01:30 on 1 Farvardin 1405 in Tehran)."""
    with app_db.session() as s:
        cid, _ = f.consultation(s)
        row = s.get(Consultation, cid)
        row.time_zone = "Asia/Tehran"
        row.closes_at = datetime(2026, 3, 20, 22, 0, tzinfo=UTC)
    return slug_of(app_db, cid)


def test_consultation_page_in_persian_shows_solar_hijri_dates(app_db):
    slug = _tehran_consultation(app_db)
    with app_db.session() as s:
        ann = f.citizen(s)
    at = open_app(citizen_actor(ann), lang="fa", page=CONSULTATION, query={"c": slug})
    text = page_text(at)
    assert "۱۴۰۴/۱۲/۱۱ ۱۲:۳۰" in text
    assert "۱۴۰۵/۰۱/۰۱ ۰۱:۳۰" in text
    assert "۲۰۲۶" not in text
    assert at.radio(key="calendar_widget").value == calendars.SOLAR_HIJRI

    at.radio(key="calendar_widget").set_value(calendars.GREGORIAN).run()
    text = page_text(at)
    assert "۲۰۲۶-۰۳-۰۲ ۱۲:۳۰" in text
    assert "۲۰۲۶-۰۳-۲۱ ۰۱:۳۰" in text
    assert "۱۴۰۵" not in text


def test_calendar_follows_the_language_until_chosen(app_db):
    slug = _tehran_consultation(app_db)
    at = open_app(None, page=CONSULTATION, query={"c": slug})
    assert "2026-03-02 12:30" in page_text(at)
    assert at.radio(key="calendar_widget").value == calendars.GREGORIAN

    at.radio(key="lang_widget").set_value("fa").run()
    assert "۱۴۰۴/۱۲/۱۱ ۱۲:۳۰" in page_text(at)
    assert at.radio(key="calendar_widget").value == calendars.SOLAR_HIJRI

    # once chosen, the calendar stays when the language changes
    at.radio(key="calendar_widget").set_value(calendars.GREGORIAN).run()
    at.radio(key="lang_widget").set_value("en").run()
    at.radio(key="lang_widget").set_value("fa").run()
    assert "۲۰۲۶-۰۳-۰۲ ۱۲:۳۰" in page_text(at)
    assert at.radio(key="calendar_widget").value == calendars.GREGORIAN


def test_new_consultation_shows_the_solar_hijri_day_under_each_date_picker(app_db):
    organizer = app_db.staff("organizer")
    clock.set_clock(clock.FrozenClock(f.T0))
    at = open_app(organizer, lang="fa", page="app_pages/new_consultation.py")
    text = page_text(at)
    # the pickers start at today (2026-03-02 in UTC) and today + 14 days (2026-03-16)
    assert "هجری شمسی: ۱۴۰۴/۱۲/۱۱" in text
    assert "هجری شمسی: ۱۴۰۴/۱۲/۲۵" in text

    at.date_input(key="new_opens").set_value(date(2026, 3, 21)).run()
    assert "هجری شمسی: ۱۴۰۵/۰۱/۰۱" in page_text(at)

    at.radio(key="calendar_widget").set_value(calendars.GREGORIAN).run()
    assert "هجری شمسی" not in page_text(at)
