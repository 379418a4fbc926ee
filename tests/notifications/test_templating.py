"""Rendering the five messages in English and Persian."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationError
from notifications.sms import DEFAULT_MAX_SEGMENTS, count_segments
from notifications.templating import LOCALES, MESSAGES, TEMPLATE_DIR, render_message

UNSUB = "https://civic.example.org/unsubscribe?token=v1.YzE.email.reminders.sig"


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "citizen_name": "Maryam Ahmadi",
        "organization": "Shiraz Council",
        "unsubscribe_url": UNSUB,
        "consultation_title": "Bike lanes",
        "consultation_url": "https://civic.example.org/c/bikes",
        "closes_at": "12 July, 18:00",
        "results_url": "https://civic.example.org/c/bikes/results",
        "survey_title": "How did it go?",
        "survey_url": "https://civic.example.org/s/42",
        "code": "482913",
        "minutes_valid": 10,
        "proposals": [
            {
                "title": "Lane on Zand St",
                "result": "412 yes, 120 no",
                "status": "accepted",
                "answer": "Built in spring.",
            },
            {
                "title": "Close Karim Khan St",
                "result": "98 yes, 301 no",
                "status": "rejected",
                "answer": None,
            },
        ],
    }
    values.update(overrides)
    return values


def test_every_message_has_all_four_templates_in_every_locale() -> None:
    for message in MESSAGES:
        for locale in LOCALES:
            for part in ("subject.txt", "body.txt", "body.html", "sms.txt"):
                assert (TEMPLATE_DIR / message / locale / part).is_file(), (message, locale, part)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("message", MESSAGES)
def test_every_email_carries_the_unsubscribe_link(message: str, locale: str) -> None:
    rendered = render_message(message, locale, context())
    assert UNSUB in rendered.text
    assert f'href="{UNSUB}"' in rendered.html
    assert "\n" not in rendered.subject
    assert rendered.subject


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("message", MESSAGES)
def test_sms_fits_the_default_segment_limit(message: str, locale: str) -> None:
    counted = count_segments(render_message(message, locale, context()).sms)
    assert 1 <= counted.segments <= DEFAULT_MAX_SEGMENTS
    assert counted.encoding == ("UCS-2" if locale == "fa" else "GSM-7")


def test_persian_html_is_right_to_left() -> None:
    rendered = render_message("invitation", "fa", context())
    assert '<html dir="rtl" lang="fa">' in rendered.html
    assert "نظرخواهی" in rendered.text
    assert rendered.subject == "دعوت به نظرخواهی: Bike lanes"


def test_english_html_is_left_to_right() -> None:
    rendered = render_message("invitation", "en", context())
    assert '<html dir="ltr" lang="en">' in rendered.html
    assert rendered.subject == "Have your say: Bike lanes"


@pytest.mark.parametrize("locale", LOCALES)
def test_user_values_are_escaped_in_html_but_not_in_text(locale: str) -> None:
    evil = '<script>alert("x")</script> & <b>'
    rendered = render_message(
        "results",
        locale,
        context(
            citizen_name=evil,
            consultation_title=evil,
            proposals=[{"title": evil, "result": evil, "status": evil, "answer": evil}],
        ),
    )
    assert "<script>" not in rendered.html
    assert "<b>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in rendered.html
    assert evil in rendered.text


@pytest.mark.parametrize(
    ("locale", "accepted", "no_answer"),
    [("en", "Accepted", "not given yet"), ("fa", "پذیرفته شد", "هنوز داده نشده است")],
)
def test_results_list_the_council_answer_for_each_proposal(
    locale: str, accepted: str, no_answer: str
) -> None:
    rendered = render_message("results", locale, context())
    for body in (rendered.text, rendered.html):
        assert "Lane on Zand St" in body
        assert "Close Karim Khan St" in body
        assert "Built in spring." in body
        assert accepted in body
        assert no_answer in body


def test_persian_text_numbers_proposals_with_persian_digits() -> None:
    text = render_message("results", "fa", context()).text
    assert "۱. Lane on Zand St" in text
    assert "۲. Close Karim Khan St" in text


def test_signin_code_stays_in_ascii_digits_in_persian() -> None:
    rendered = render_message("signin_code", "fa", context())
    assert "482913" in rendered.sms
    assert "۱۰" in rendered.sms


@pytest.mark.parametrize(
    ("locale", "marker"),
    [("fa-IR", 'lang="fa"'), ("fa_IR", 'lang="fa"'), ("de", 'lang="en"'), (None, 'lang="en"')],
)
def test_locale_is_reduced_to_its_language_and_falls_back_to_english(
    locale: str | None, marker: str
) -> None:
    assert marker in render_message("reminder", locale, context()).html


def test_missing_context_value_is_an_error_naming_the_context() -> None:
    values = context()
    del values["consultation_url"]
    with pytest.raises(ValidationError) as info:
        render_message("invitation", "en", values)
    assert info.value.field == "context"
    assert "consultation_url" in info.value.message


def test_missing_unsubscribe_link_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        render_message("reminder", "en", context(unsubscribe_url=""))
    assert info.value.field == "context"


def test_unknown_message_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        render_message("newsletter", "en", context())
    assert info.value.field == "message"


def test_subject_is_one_line_even_with_newlines_in_values() -> None:
    rendered = render_message("invitation", "en", context(consultation_title="Bike\r\nlanes"))
    assert rendered.subject == "Have your say: Bike lanes"
