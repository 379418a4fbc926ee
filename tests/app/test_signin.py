"""Signing in through the app: a citizen with an emailed code, staff with a password; the
page list follows the role."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from sqlalchemy import select

from core.actor import Actor
from models import OutboxMessage
from tests import factories as f
from tests.app.conftest import alerts, button, open_app

SIGNIN = "app_pages/signin.py"


def test_citizen_signs_in_with_the_emailed_code(app_db, tmp_path):
    with app_db.session() as s:
        ann = f.citizen(s, display_name="Ann", email="ann@example.invalid", locale="fa")
    at = open_app(None, page=SIGNIN)
    at.text_input(key="signin_address").input("ann@example.invalid")
    button(at, "Send me a code").click().run()
    assert (
        "info: If this address is registered, a six-digit code is on its way. It is valid "
        "for 10 minutes." in alerts(at)
    )
    # sent at once by the page (file backend, the test's outbox folder), not left for the
    # next scheduled delivery run; once sent, the code is no longer kept in the outbox row
    with app_db.session() as s:
        msg = s.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "signin_code")
        ).scalar_one()
        assert (msg.status, "code" in msg.payload) == ("sent", False)
    [mail] = (tmp_path / "outbox").glob("signin_code*.eml")
    text = message_from_bytes(mail.read_bytes(), policy=policy.default)
    body = text.get_body(preferencelist=("plain",)).get_content()
    [code] = set(re.findall(r"\b\d{6}\b", body))

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    at.text_input(key="signin_code").input(wrong)
    button(at, "Sign in").click().run()
    assert "error: This code is not right. 4 attempt(s) left." in alerts(at)

    at.text_input(key="signin_code").input(code)
    button(at, "Sign in").click().run()
    assert not at.exception
    assert at.session_state["actor"] == Actor(kind="citizen", id=ann)
    # the citizen's pages now exist, in the citizen's language (Persian)
    at.switch_page("app_pages/my_participation.py").run()
    assert not at.exception
    assert at.session_state["ui_lang"] == "fa"


def test_unknown_address_gets_the_same_answer_and_no_code(app_db):
    at = open_app(None, page=SIGNIN)
    at.text_input(key="signin_address").input("nobody@example.invalid")
    button(at, "Send me a code").click().run()
    assert any(a.startswith("info: If this address is registered") for a in alerts(at))
    with app_db.session() as s:
        assert s.execute(select(OutboxMessage)).first() is None


def test_staff_sign_in_with_a_password(app_db):
    organizer = app_db.staff("organizer", username="maryam")
    at = open_app(None, page=SIGNIN)
    at.text_input(key="staff_username").input("maryam")
    at.text_input(key="staff_password").input("not the password")
    button(at, "Sign in as staff").click().run()
    assert "error: Wrong username or password." in alerts(at)
    assert "actor" not in at.session_state

    at.text_input(key="staff_password").input("a long password")
    button(at, "Sign in as staff").click().run()
    assert at.session_state["actor"] == organizer
    at.switch_page("app_pages/moderation.py").run()
    assert not at.exception


def test_sign_out_forgets_the_person(app_db):
    organizer = app_db.staff("organizer")
    at = open_app(organizer, page="app_pages/manage.py")
    at.button(key="signout").click().run()
    assert "actor" not in at.session_state


def test_staff_username_is_locked_after_five_wrong_passwords(app_db):
    from datetime import UTC, datetime, timedelta

    from core import clock

    app_db.staff("organizer", username="maryam")
    frozen = clock.FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    clock.set_clock(frozen)
    at = open_app(None, page=SIGNIN)
    at.text_input(key="staff_username").input("maryam")
    for _ in range(4):
        at.text_input(key="staff_password").input("not the password")
        button(at, "Sign in as staff").click().run()
        assert alerts(at) == ["error: Wrong username or password."]
    at.text_input(key="staff_password").input("not the password")
    button(at, "Sign in as staff").click().run()
    locked = (
        "error: Too many wrong passwords in a row: signing in with this username is locked. "
        "Try again at 09:15 (UTC)."
    )
    assert alerts(at) == [locked]
    # the right password changes nothing while the lock lasts
    frozen.advance(timedelta(minutes=14))
    at.text_input(key="staff_password").input("a long password")
    button(at, "Sign in as staff").click().run()
    assert alerts(at) == [locked]
    assert "actor" not in at.session_state

    frozen.advance(timedelta(minutes=1))
    button(at, "Sign in as staff").click().run()
    assert at.session_state["actor"].name == "maryam"


def test_the_lock_time_is_shown_in_the_local_zone_and_in_persian(app_db, monkeypatch):
    from datetime import UTC, datetime

    from core import clock
    from core.settings import get_settings

    monkeypatch.setenv("CIVICFLOW_APP__DEFAULT_TIME_ZONE", "Asia/Tehran")
    monkeypatch.setenv("CIVICFLOW_AUTH__STAFF_MAX_FAILURES", "1")
    get_settings.cache_clear()
    clock.set_clock(clock.FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    at = open_app(None, lang="fa", page=SIGNIN)
    at.text_input(key="staff_username").input("nobody")
    at.text_input(key="staff_password").input("whatever it is")
    button(at, "ورود کارکنان").click().run()
    # 09:15 UTC is 12:45 in Tehran (UTC+03:30)
    assert alerts(at) == [
        "error: گذرواژهٔ نادرست پشت سر هم بسیار بود: ورود با این نام کاربری قفل شده است. "
        "ساعت ۱۲:۴۵ (Asia/Tehran) دوباره بکوشید."
    ]
