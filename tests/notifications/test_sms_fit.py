"""Every SMS fits the default segment limit even with a long, non-GSM title (Polish ł, Persian)."""

from __future__ import annotations

import pytest

from core.settings import SmsSettings
from notifications.sms import count_segments
from notifications.templating import render_message

LONG_TITLE = "Local PB in Warsaw, Włochy | Nowe Włochy — green courtyards and safer crossings"
URL = "http://localhost:8501/c/demo-poland-warszawa-2018-nowe-wlochy"
CONTEXT = {
    "citizen_name": "Resident 17", "organization": "CivicFlow",
    "unsubscribe_url": "http://localhost:8501/u?t=abc", "consultation_title": LONG_TITLE,
    "consultation_url": URL, "closes_at": "Friday 29 June, 23:59", "results_url": URL,
    "proposals": [], "survey_title": LONG_TITLE + " — satisfaction", "survey_url": URL,
}


@pytest.mark.parametrize("locale", ["en", "fa"])
@pytest.mark.parametrize("message", ["invitation", "reminder", "results", "survey_invitation"])
def test_sms_with_a_long_title_stays_within_the_default_limit(message, locale):
    sms = render_message(message, locale, CONTEXT).sms
    segments = count_segments(sms)
    assert segments.encoding == "UCS-2"  # "ł" and Persian letters are not GSM-7
    assert segments.segments <= SmsSettings().max_segments, (segments, sms)
    assert "…" in sms  # the title was shortened, the link and the opt-out line were kept
    assert URL in sms


def test_a_long_list_unsubscribe_url_is_not_encoded_or_folded():
    from notifications.backends.base import EmailMessageSpec, build_email_message

    url = "http://localhost:8501/unsubscribe?token=" + "a" * 150
    spec = EmailMessageSpec(key="k1", to="a@example.invalid", subject="S", text="t",
                            headers={"List-Unsubscribe": f"<{url}>",
                                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    raw = build_email_message(spec, from_email="x@example.invalid", from_name=None).as_bytes()
    assert f"List-Unsubscribe: <{url}>\n".encode() in raw.replace(b"\r\n", b"\n")


# The demo's real payload: a Warsaw title with "ł" (UCS-2) and the app's real link shape.
DEMO_TITLE = "Local PB in Warsaw, Włochy | Nowe Włochy"
DEMO_URL = "http://localhost:8501/?consultation=demo-poland-warszawa-2018-nowe-wlochy"
DEMO = {**CONTEXT, "consultation_title": DEMO_TITLE, "consultation_url": DEMO_URL,
        "results_url": DEMO_URL, "closes_at": "Wednesday 5 July, 09:00",
        "survey_title": "How did this consultation go for you? — " + DEMO_TITLE,
        "survey_url": "http://localhost:8501/?survey=demo-poland-warszawa-2018-nowe-wlochy-pulse"}


def test_the_demo_reminder_needs_four_parts_at_the_default_title_length():
    """The case fit_sms exists for: 202 UCS-2 units = 4 parts of 67 (GSM 03.38 / 3GPP 23.040)."""
    sms = render_message("reminder", "en", DEMO).sms
    assert len(sms) == 202
    assert count_segments(sms).segments == 4  # ceil(202 / 67)


@pytest.mark.parametrize("locale", ["en", "fa"])
@pytest.mark.parametrize("message", ["invitation", "reminder", "results", "survey_invitation"])
def test_fit_sms_shortens_the_title_until_the_sms_fits(message, locale):
    from notifications.delivery import fit_sms

    limit = SmsSettings().max_segments
    sms = fit_sms(message, locale, DEMO, limit)
    assert sms is not None
    assert count_segments(sms).segments <= limit
    url = DEMO["survey_url"] if message == "survey_invitation" else DEMO_URL
    assert url in sms  # the link is never cut
    full = render_message(message, locale, DEMO).sms
    if count_segments(full).segments <= limit:
        assert sms == full  # a message that fits is left as it was


def test_fit_sms_gives_up_when_even_a_one_letter_title_is_too_long():
    from notifications.delivery import fit_sms

    assert fit_sms("reminder", "fa", DEMO, 1) is None


def test_message_dates_in_persian_use_the_arabic_comma_and_persian_digits():
    from notifications.delivery import format_when

    # 2017-07-05 07:00 UTC is 09:00 in Warsaw (CEST, UTC+2), a Wednesday
    assert format_when("2017-07-05T07:00:00+00:00", "en", "Europe/Warsaw") == (
        "Wednesday 5 July, 09:00")
    fa = format_when("2017-07-05T07:00:00+00:00", "fa", "Europe/Warsaw")
    assert fa.endswith("، ۰۹:۰۰")
    assert "," not in fa
    assert fa.startswith("چهارشنبه ۵ ")  # CLDR's Persian name of Wednesday
