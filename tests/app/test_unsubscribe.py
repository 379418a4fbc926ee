"""The unsubscribe landing page: the link in a delivered email opens it, it withdraws exactly
the consent the signed token names without signing in, speaks the citizen's language, can be
opened again, and refuses a forged or garbled token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core import clock
from core.settings import get_settings
from models import Citizen, Consent, OutboxMessage
from notifications.backends import make_email_sender, make_sms_sender
from notifications.delivery import deliver_pending
from notifications.planning import plan_invitations
from notifications.unsubscribe import make_token
from participation.citizens import set_consent
from participation_app import nav
from tests import factories as f
from tests.app.conftest import alerts, open_app, page_text

UNSUB = nav.PAGES["unsubscribe"].path
T1 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _citizen(app_db, **fields) -> tuple[int, str]:
    """A citizen with email and SMS consent for invitations and reminders."""
    with app_db.session() as s:
        cid = f.citizen(s, phone=f"+4479112{next(f._seq):05d}", **fields)
        for channel in ("email", "sms"):
            for purpose in ("invitations", "reminders"):
                set_consent(
                    s,
                    citizen_id=cid,
                    channel=channel,
                    purpose=purpose,
                    opted_in=True,
                    source="web",
                    actor=f.SYSTEM,
                )
        public_id = s.get(Citizen, cid).public_id
    return cid, public_id


def _token(public_id: str, channel: str, purpose: str) -> str:
    secret = get_settings().app.secret_key.get_secret_value()
    return make_token(citizen_public_id=public_id, channel=channel, purpose=purpose, secret=secret)


def _consents(app_db, cid: int) -> dict[tuple[str, str], tuple[bool, datetime, str]]:
    with app_db.session() as s:
        rows = s.execute(select(Consent).where(Consent.citizen_id == cid)).scalars()
        return {
            (r.channel, r.purpose): (r.opted_in, clock.ensure_utc(r.changed_at), r.source)
            for r in rows
        }


def _open_link(token: str, **query: str):
    return open_app(None, page=UNSUB, query={"token": token, **query})


def test_the_link_in_a_delivered_email_withdraws_that_consent_only(app_db):
    cid, _ = _citizen(app_db)
    with app_db.session() as s:
        cons, _ = f.consultation(s, status="published")
        plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
    email = make_email_sender("memory")
    deliver_pending(
        sessionmaker(bind=app_db.engine, expire_on_commit=False),
        email_sender=email,
        sms_sender=make_sms_sender("memory"),
    )
    [sent] = email.sent
    # the footer's link (the List-Unsubscribe header goes to the webhook server, whose GET
    # sends the reader on to this same page)
    [link] = re.findall(r"\S+/unsubscribe\?token=\S+", sent.text)
    header = urlsplit(sent.headers["List-Unsubscribe"].strip("<>"))
    assert parse_qs(header.query)["token"] == parse_qs(urlsplit(link).query)["token"]
    parts = urlsplit(link)
    base = urlsplit(get_settings().app.base_url)
    # the link points at this page of the app: the page's URL path on the app's base URL
    assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
    assert parts.path == f"{base.path.rstrip('/')}/{nav.PAGES['unsubscribe'].url}"
    [token] = parse_qs(parts.query)["token"]

    clock.set_clock(clock.FrozenClock(T1))
    at = _open_link(token)

    assert not at.exception
    assert "actor" not in at.session_state  # nobody was signed in
    assert alerts(at) == [
        "success: You are unsubscribed: we will send you no more email messages of this kind: "
        "Invitations to new consultations."
    ]
    after = _consents(app_db, cid)
    assert after[("email", "invitations")] == (False, T1, "unsubscribe_link")
    assert after[("email", "reminders")][0] is True
    assert after[("sms", "invitations")][0] is True
    assert after[("sms", "reminders")][0] is True


def test_opening_the_link_twice_is_harmless(app_db):
    cid, public_id = _citizen(app_db)
    token = _token(public_id, "sms", "reminders")
    clock.set_clock(clock.FrozenClock(T1))
    first = _open_link(token)
    clock.set_clock(clock.FrozenClock(T1 + timedelta(days=2)))
    second = _open_link(token)

    expected = [
        "success: You are unsubscribed: we will send you no more SMS messages of this kind: "
        "Reminders before voting closes."
    ]
    assert alerts(first) == alerts(second) == expected
    after = _consents(app_db, cid)
    # still withdrawn, and not rewritten by the second visit (changed_at is the first one)
    assert after[("sms", "reminders")] == (False, T1, "unsubscribe_link")
    assert after[("sms", "invitations")][0] is True
    assert after[("email", "reminders")][0] is True

    # a rerun in the same browser session (a language switch) does not withdraw again
    second.radio(key="lang_widget").set_value("fa").run()
    assert not second.exception
    assert any(a.startswith("success: اشتراک شما لغو شد") for a in alerts(second))


def test_a_persian_citizen_is_told_in_persian(app_db):
    cid, public_id = _citizen(app_db, locale="fa")
    at = _open_link(_token(public_id, "email", "reminders"))
    assert not at.exception
    assert at.session_state["ui_lang"] == "fa"
    assert alerts(at) == [
        "success: اشتراک شما لغو شد: دیگر پیام رایانامه از این نوع برایتان نمی‌فرستیم: "
        "یادآوری پیش از پایان رأی‌گیری."
    ]
    assert _consents(app_db, cid)[("email", "reminders")][0] is False


def test_a_visitor_who_chose_a_language_keeps_it(app_db):
    cid, public_id = _citizen(app_db, locale="fa")
    at = _open_link(_token(public_id, "email", "reminders"), lang="en")
    assert at.session_state["ui_lang"] == "en"
    assert alerts(at)[0].startswith("success: You are unsubscribed")
    assert _consents(app_db, cid)[("email", "reminders")][0] is False


def test_a_link_for_every_purpose_withdraws_the_channel(app_db):
    cid, public_id = _citizen(app_db)
    at = _open_link(_token(public_id, "email", "all"))
    assert alerts(at) == [
        "success: You are unsubscribed: we will send you no more email messages that need "
        "your consent (invitations, reminders, results and surveys)."
    ]
    after = _consents(app_db, cid)
    assert {k: v[0] for k, v in after.items() if k[0] == "email"} == {
        ("email", "invitations"): False,
        ("email", "reminders"): False,
        ("email", "results"): False,
        ("email", "surveys"): False,
    }
    assert after[("sms", "invitations")][0] is True


def test_forged_and_garbled_tokens_are_refused_and_change_nothing(app_db):
    cid, public_id = _citizen(app_db)
    good = _token(public_id, "email", "reminders")
    head, _, mac = good.rpartition(".")
    version, pid, channel, _purpose = head.split(".")
    forged = [
        f"{version}.{pid}.{channel}.invitations.{mac}",  # another purpose, same signature
        f"{version}.{pid}.sms.reminders.{mac}",  # another channel
        good[:-3],  # cut short
        make_token(
            citizen_public_id=public_id,
            channel="email",
            purpose="reminders",
            secret="someone else's secret key",
        ),
        "not a token at all",
    ]
    before = _consents(app_db, cid)
    for token in forged:
        at = _open_link(token)
        assert not at.exception
        assert alerts(at) == [
            "error: This unsubscribe link is not valid: it may have been cut short or changed. "
            "Open the whole link from the message, or sign in and change your choices under "
            "Messages and consent."
        ], token
    assert _consents(app_db, cid) == before
    with app_db.session() as s:
        assert s.execute(select(OutboxMessage)).first() is None


def test_a_link_for_someone_no_longer_registered_says_so(app_db):
    at = _open_link(_token("c0ffee0000000000", "email", "reminders"))
    assert alerts(at) == [
        "error: This link names nobody registered with us: there is nothing to withdraw."
    ]


def test_the_page_without_a_token_explains_itself(app_db):
    at = open_app(None, page=UNSUB)
    assert not at.exception
    assert "Unsubscribe" in page_text(at)
    assert alerts(at)[0].startswith("error: This page needs the unsubscribe link")
