"""English and Persian: the catalogues match, Persian digits, right-to-left style, and the
language switch."""

from __future__ import annotations

from datetime import UTC, datetime

from participation.auth import citizen_actor
from participation_app import i18n
from tests import factories as f
from tests.app.conftest import CONSULTATION, html_bodies, open_app, page_text, slug_of


def test_catalogues_have_the_same_keys_and_placeholders():
    en, fa = i18n.MESSAGES["en"], i18n.MESSAGES["fa"]
    assert set(en) == set(fa)
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert {k: fields(v) for k, v in en.items()} == {k: fields(v) for k, v in fa.items()}


def test_persian_numbers_and_dates():
    assert i18n.num(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"
    assert i18n.num(1234567, "en") == "1,234,567"
    assert i18n.num(2.5, "fa") == "۲٫۵۰"
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert i18n.when(when, "Asia/Tehran", "fa") == "۲۰۲۶-۰۳-۰۲ ۱۲:۳۰"
    assert i18n.t("fa", "detail.votes", n=12) == "۱۲ رأی"


def test_persian_page_is_right_to_left_with_persian_words_and_digits(app_db):
    with app_db.session() as s:
        ann = f.citizen(s)
        cid, _ = f.consultation(
            s, method="budget", params={"budget": 1000}, proposals=[{"title": "Trees", "cost": 600}]
        )
    at = open_app(
        citizen_actor(ann), lang="fa", page=CONSULTATION, query={"c": slug_of(app_db, cid)}
    )
    css = "".join(b for b in html_bodies(at) if b.startswith("<style"))
    assert ".stMain" in css
    assert "direction: rtl" in css
    text = page_text(at)
    # the voting window in Persian digits and, by default, the Solar Hijri calendar
    # (2026-03-02 09:00 UTC = 11 Esfand 1404; tests/app/test_calendars.py checks the dates)
    assert "۱۴۰۴/۱۲/۱۱ ۰۹:۰۰" in text
    assert "هزینه: ۶۰۰" in text
    assert at.button(key=f"cast:{cid}").label == "ثبت رأی من"
    assert "Trees" in text  # user text is left as written


def test_language_switch(app_db):
    at = open_app(None)
    assert at.title[0].value == "Consultations"
    css = "".join(b for b in html_bodies(at) if b.startswith("<style"))
    assert "direction: rtl" not in css
    at.radio(key="lang_widget").set_value("fa").run()
    assert at.title[0].value == "نظرخواهی‌ها"
    css = "".join(b for b in html_bodies(at) if b.startswith("<style"))
    assert "direction: rtl" in css


def test_lang_query_parameter_picks_persian(app_db):
    at = open_app(None, query={"lang": "fa"})
    assert at.title[0].value == "نظرخواهی‌ها"
    assert "نظرخواهی" in page_text(at) or at.title
