"""Delivering the outbox: claim, re-check, render, send, record; the stuck-row rule after a
crash; provider opt-outs, STOP replies and unsubscribe links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from core import clock
from core.actor import Actor
from core.db import session_scope
from core.errors import ValidationError
from core.settings import Settings
from models import Consent, Consultation, Contact, OutboxMessage
from notifications.backends import SendResult, make_email_sender, make_sms_sender
from notifications.backends.memory import SimulatedFailure
from notifications.delivery import deliver_pending, handle_sms_reply, handle_unsubscribe
from notifications.outbox import enqueue_signin_code
from notifications.planning import plan_invitations, plan_reminders
from notifications.unsubscribe import make_token, verify_token
from participation.citizens import consents_of, get_citizen, set_consent
from tests import factories as f
from tests.notifications.test_outbox import person, policy, vote

ROOT = Path(__file__).resolve().parents[2]
SECRET = Settings().app.secret_key.get_secret_value()


@pytest.fixture
def factory(session):
    """Sessions on the test's connection: each delivery step "commits" a savepoint, and the
    whole test is still rolled back."""
    return sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


class LogEmail:
    """An email provider that logs every message it accepts (duplicates included) and can
    die right after accepting a batch."""

    def __init__(self, *, crash: bool = False) -> None:
        self.log: list[str] = []
        self.crash = crash
        self.lock = threading.Lock()

    def send_batch(self, messages):
        with self.lock:
            self.log.extend(m.key for m in messages)
        if self.crash:
            raise RuntimeError("worker died after the provider accepted the batch")
        return [SendResult.sent(m.key, f"p{len(self.log)}-{i}") for i, m in enumerate(messages)]


class LogSms:
    def __init__(self, *, die_on: int | None = None) -> None:
        self.log: list[str] = []
        self.die_on = die_on

    def send(self, message):
        self.log.append(message.key)
        if self.die_on is not None and len(self.log) == self.die_on:
            raise ConnectionError("network gone mid-batch")
        return SendResult.sent(message.key, f"SM{len(self.log)}")


def memory():
    return make_email_sender("memory"), make_sms_sender("memory")


def outbox(session):
    """``{key: (status, reason, attempts, provider_id)}``, read fresh from the database."""
    return {
        r[0]: tuple(r[1:])
        for r in session.execute(
            select(
                OutboxMessage.idempotency_key,
                OutboxMessage.status,
                OutboxMessage.reason,
                OutboxMessage.attempts,
                OutboxMessage.provider_id,
            )
        )
    }


def test_memory_backends_send_and_the_ledger_records_it(session, factory):
    cons, _ = f.consultation(session)
    a = person(session, [("email", "invitations")], display_name="Ann")
    b = person(session, [("sms", "invitations")], phone=True, preferred_channel="sms")
    person(session)  # no consent: a suppressed row, never claimed
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email, sms = memory()

    report = deliver_pending(factory, email_sender=email, sms_sender=sms)

    assert report.counts == {"email": {"sent": 1}, "sms": {"sent": 1}}
    assert (report.claimed, report.batches) == (2, 1)
    state = outbox(session)
    assert state[f"invitation:{cons}:0:{a}:email"] == ("sent", None, 1, "memory-email-1")
    assert state[f"invitation:{cons}:0:{b}:sms"] == ("sent", None, 1, "memory-sms-1")
    [mail] = email.sent
    assert mail.to_name == "Ann"
    assert "Consultation" in mail.subject
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = mail.headers["List-Unsubscribe"].split("token=")[1].rstrip(">")
    claim = verify_token(token, secret=SECRET)
    assert (claim.channel, claim.purpose) == ("email", "invitations")
    assert "STOP" in sms.sent[0].body
    ledger = session.execute(
        select(Contact.citizen_id, Contact.channel, Contact.direction, Contact.kind).where(
            Contact.kind == "invitation"
        )
    ).all()
    assert sorted(ledger) == sorted(
        [(a, "email", "outbound", "invitation"), (b, "sms", "outbound", "invitation")]
    )
    assert deliver_pending(factory, email_sender=email, sms_sender=sms).claimed == 0


def test_only_the_named_rows_are_sent_and_only_once(session, factory):
    """``only`` (the app sending a sign-in code at once) sends those rows and leaves the
    rest for the scheduled run, which then does not send them again."""
    cons, _ = f.consultation(session)
    a = person(session, [("email", "invitations")], display_name="Ann")
    b = person(session, [("email", "invitations")], display_name="Bob")
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    ids = dict(session.execute(
        select(OutboxMessage.citizen_id, OutboxMessage.id).where(OutboxMessage.kind == "invitation")
    ).all())
    email, sms = memory()

    report = deliver_pending(factory, email_sender=email, sms_sender=sms, only=[ids[a]])

    assert (report.claimed, report.counts) == (1, {"email": {"sent": 1}})
    assert [m.to_name for m in email.sent] == ["Ann"]
    state = outbox(session)
    assert state[f"invitation:{cons}:0:{a}:email"][0] == "sent"
    assert state[f"invitation:{cons}:0:{b}:email"][0] == "pending"
    # asking again for the same row sends nothing; the scheduled run sends only Bob's
    assert deliver_pending(factory, email_sender=email, sms_sender=sms, only=[ids[a]]).claimed == 0
    assert deliver_pending(factory, email_sender=email, sms_sender=sms).claimed == 1
    assert [m.to_name for m in email.sent] == ["Ann", "Bob"]


def test_no_reminder_to_someone_who_voted_after_it_was_queued(session, factory):
    cons, pids = f.consultation(session)
    policy(session, cons, quiet_start=0, quiet_end=0)
    voter = person(session, [("email", "reminders")])
    other = person(session, [("email", "reminders")])
    plan_reminders(session, consultation_id=cons, round=1, actor=f.SYSTEM)
    vote(session, cons, pids[0], voter)
    email, sms = memory()

    report = deliver_pending(factory, email_sender=email, sms_sender=sms)

    assert report.counts == {"email": {"sent": 1, "suppressed": 1}}
    assert report.reasons == {"already_voted": 1}
    assert [m.key for m in email.sent] == [f"reminder:{cons}:1:{other}:email"]


def test_no_message_after_consent_is_withdrawn_or_the_consultation_closed(session, factory):
    cons, _ = f.consultation(session)
    quitter = person(session, [("email", "invitations")])
    person(session, [("email", "invitations")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    handle_unsubscribe_for(session, quitter, "email", "invitations")
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(days=15)))  # after closes_at
    email, sms = memory()

    report = deliver_pending(factory, email_sender=email, sms_sender=sms)

    # the unsubscribed citizen's row was suppressed at once; the other is stopped by the close
    assert report.reasons == {"consultation_closed": 1}
    assert email.sent == []
    assert outbox(session)[f"invitation:{cons}:0:{quitter}:email"][:2] == (
        "suppressed",
        "opted_out",
    )


def handle_unsubscribe_for(session, citizen_id: int, channel: str, purpose: str):
    public = get_citizen(session, citizen_id=citizen_id).public_id
    token = make_token(citizen_public_id=public, channel=channel, purpose=purpose, secret=SECRET)
    return handle_unsubscribe(session, token=token)


def test_consent_withdrawn_between_planning_and_sending_suppresses(session, factory):
    cons, _ = f.consultation(session)
    cid = person(session, [("email", "invitations")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    set_consent(
        session,
        citizen_id=cid,
        channel="email",
        purpose="invitations",
        opted_in=False,
        source="staff",
        actor=f.SYSTEM,
    )
    email, sms = memory()
    report = deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert report.reasons == {"no_consent": 1}
    assert email.sent == []


def test_quiet_hours_defer_and_the_message_goes_once_the_clock_passes(session, factory):
    cons, _ = f.consultation(session)
    cid = person(
        session,
        [("sms", "invitations")],
        phone=True,
        preferred_channel="sms",
        time_zone="Asia/Tehran",
    )
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)  # 10:00 UTC: daytime
    key = f"invitation:{cons}:0:{cid}:sms"
    frozen = clock.FrozenClock(datetime(2026, 3, 2, 18, 0, tzinfo=UTC))  # 21:30 Tehran
    clock.set_clock(frozen)
    email, sms = memory()

    first = deliver_pending(factory, email_sender=email, sms_sender=sms)

    assert first.counts == {"sms": {"deferred": 1}}
    msg = session.execute(
        select(OutboxMessage.status, OutboxMessage.not_before).where(
            OutboxMessage.idempotency_key == key
        )
    ).one()
    assert msg == ("deferred", datetime(2026, 3, 3, 4, 30, tzinfo=UTC))  # 08:00 Tehran
    frozen.set(datetime(2026, 3, 3, 4, 29, tzinfo=UTC))
    assert deliver_pending(factory, email_sender=email, sms_sender=sms).claimed == 0
    frozen.set(datetime(2026, 3, 3, 4, 30, tzinfo=UTC))
    last = deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert last.counts == {"sms": {"sent": 1}}
    assert [m.key for m in sms.sent] == [key]
    assert outbox(session)[key][:3] == ("sent", None, 1)  # the deferral was not an attempt


def test_fallback_from_email_to_sms_is_delivered_as_sms(session, factory):
    cons, _ = f.consultation(session)
    cid = person(session, [("email", "invitations", False), ("sms", "invitations")], phone=True)
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email, sms = memory()
    deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert email.sent == []
    assert [m.key for m in sms.sent] == [f"invitation:{cons}:0:{cid}:sms"]


def test_persian_citizens_get_persian_messages_from_the_file_backend(session, factory, tmp_path):
    cons, _ = f.consultation(session)
    a = person(session, [("email", "invitations")], locale="fa", display_name="مریم")
    b = person(session, [("sms", "invitations")], phone=True, preferred_channel="sms", locale="fa")
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email = make_email_sender("file", outbox_dir=tmp_path, from_email="council@city.test")
    sms = make_sms_sender("file", outbox_dir=tmp_path)

    report = deliver_pending(factory, email_sender=email, sms_sender=sms)

    assert report.counts == {"email": {"sent": 1}, "sms": {"sent": 1}}
    [eml] = sorted(tmp_path.glob("*.eml"))
    [sms_file] = sorted(tmp_path.glob("*.sms.json"))
    assert eml.name.startswith(f"invitation_{cons}_0_{a}_email")
    assert sms_file.name.startswith(f"invitation_{cons}_0_{b}_sms")
    mail = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert 'dir="rtl"' in html
    assert "مریم" in text
    assert "۱۶" in text  # closes 16 March, in Persian digits
    # one-click goes to the webhook server (RFC 8058 POST); the footer link to the app's page
    assert str(mail["List-Unsubscribe"]).startswith("<http://localhost:8502/unsubscribe?token=")
    assert "http://localhost:8501/unsubscribe?token=" in text
    record = json.loads(sms_file.read_text(encoding="utf-8"))
    assert record["encoding"] == "UCS-2"
    assert 1 <= record["segments"] <= 3
    assert outbox(session)[f"invitation:{cons}:0:{a}:email"][3] == eml.name


def test_sms_over_the_segment_limit_is_suppressed(session, factory):
    cons, _ = f.consultation(session)
    person(session, [("sms", "invitations")], phone=True, preferred_channel="sms", locale="fa")
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email, sms = memory()
    tight = Settings(sms={"max_segments": 1})
    report = deliver_pending(factory, email_sender=email, sms_sender=sms, settings=tight)
    assert report.reasons == {"segments_exceeded": 1}
    assert sms.sent == []


def test_provider_opt_out_withdraws_sms_consent_and_suppresses_the_queue(session, factory):
    cons, _ = f.consultation(session)
    policy(session, cons, quiet_start=0, quiet_end=0)
    cid = person(session, [("sms", None)], phone=True, preferred_channel="sms")
    phone = get_citizen(session, citizen_id=cid).phone
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email = make_email_sender("memory")
    sms = make_sms_sender(
        "memory", failures={phone: SimulatedFailure("twilio:21610", opted_out=True)}
    )
    report = deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert report.counts == {"sms": {"suppressed": 1}}
    assert report.reasons == {"opted_out": 1}
    assert set(consents_of(session, citizen_id=cid).items()) == {
        (("sms", p), False) for p in ("invitations", "reminders", "results", "surveys")
    }
    sources = set(
        session.execute(select(Consent.source).where(Consent.citizen_id == cid)).scalars()
    )
    assert sources == {"provider_opt_out"}
    later = plan_reminders(session, consultation_id=cons, round=1, actor=f.SYSTEM)
    assert later.counts == {"suppressed:no_consent": 1}


def test_permanent_refusal_fails_and_transient_ones_back_off_then_fail(session, factory):
    cons, _ = f.consultation(session)
    bad = person(session, [("email", "invitations")], email="bounce@example.invalid")
    busy = person(session, [("email", "invitations")], email="busy@example.invalid")
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    email = make_email_sender(
        "memory",
        failures={
            "bounce@example.invalid": SimulatedFailure("smtp:550", permanent=True),
            "busy@example.invalid": SimulatedFailure("sendgrid:429"),
        },
    )
    sms = make_sms_sender("memory")
    now = f.T0 + timedelta(hours=1)

    first = deliver_pending(factory, email_sender=email, sms_sender=sms, now=now, max_attempts=2)

    assert first.counts == {"email": {"deferred": 1, "failed": 1}}
    state = outbox(session)
    assert state[f"invitation:{cons}:0:{bad}:email"][:2] == ("failed", "smtp:550")
    busy_key = f"invitation:{cons}:0:{busy}:email"
    assert state[busy_key][:2] == ("deferred", "sendgrid:429")
    assert session.execute(
        select(OutboxMessage.not_before).where(OutboxMessage.idempotency_key == busy_key)
    ).scalar_one() == now + timedelta(seconds=60)
    assert (
        deliver_pending(
            factory, email_sender=email, sms_sender=sms, now=now + timedelta(seconds=59)
        ).claimed
        == 0
    )
    second = deliver_pending(
        factory, email_sender=email, sms_sender=sms, now=now + timedelta(seconds=60), max_attempts=2
    )
    assert second.counts == {"email": {"failed": 1}}
    assert outbox(session)[busy_key][:3] == ("failed", "sendgrid:429", 2)


def test_signin_codes_are_scrubbed_from_the_payload_once_sent(session, factory):
    cid = person(session, phone=True)
    me = Actor(kind="citizen", id=cid)
    clock.set_clock(clock.FrozenClock(datetime(2026, 3, 2, 23, 30, tzinfo=UTC)))  # night
    out = enqueue_signin_code(
        session,
        citizen_id=cid,
        signin_code_id=1,
        code="482913",
        minutes_valid=10,
        actor=me,
        channel="sms",
    )
    email, sms = memory()
    report = deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert report.counts == {"sms": {"sent": 1}}
    assert sms.sent[0].body.startswith("482913 ")
    payload = session.execute(
        select(OutboxMessage.payload).where(OutboxMessage.id == out.message_id)
    ).scalar_one()
    assert payload == {"minutes_valid": 10}
    kinds = session.execute(select(Contact.kind).where(Contact.citizen_id == cid)).scalars()
    assert list(kinds) == ["signin"]


def test_sms_batch_interrupted_mid_way_records_what_is_known(session, factory):
    cons, _ = f.consultation(session)
    ids = [
        person(session, [("sms", "invitations")], phone=True, preferred_channel="sms")
        for _ in range(3)
    ]
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    sms = LogSms(die_on=2)

    with pytest.raises(ConnectionError):
        deliver_pending(factory, email_sender=LogEmail(), sms_sender=sms)

    state = outbox(session)
    keys = [f"invitation:{cons}:0:{cid}:sms" for cid in ids]
    assert state[keys[0]] == ("sent", None, 1, "SM1")
    assert state[keys[1]][:2] == ("sending", None)  # in flight: the stuck-row rule decides
    assert state[keys[2]][:3] == ("pending", "requeued", 0)  # never tried


def _crash_then_retry(session, factory, on_stuck):
    cons, _ = f.consultation(session)
    ids = [person(session, [("email", "invitations")]) for _ in range(3)]
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    keys = sorted(f"invitation:{cons}:0:{cid}:email" for cid in ids)
    provider = LogEmail(crash=True)
    t0 = f.T0 + timedelta(hours=1)
    with pytest.raises(RuntimeError):
        deliver_pending(
            factory, email_sender=provider, sms_sender=LogSms(), now=t0, on_stuck=on_stuck
        )
    assert {k: v[:2] for k, v in outbox(session).items()} == dict.fromkeys(keys, ("sending", None))
    provider.crash = False
    # Within the lease nothing is touched: the first worker may still be alive.
    early = deliver_pending(
        factory,
        email_sender=provider,
        sms_sender=LogSms(),
        now=t0 + timedelta(minutes=9),
        on_stuck=on_stuck,
    )
    assert (early.recovered, early.claimed) == (0, 0)
    late = deliver_pending(
        factory,
        email_sender=provider,
        sms_sender=LogSms(),
        now=t0 + timedelta(minutes=11),
        on_stuck=on_stuck,
    )
    return keys, provider, late


def test_crash_after_the_provider_accepted_resends_by_default(session, factory):
    keys, provider, late = _crash_then_retry(session, factory, "resend")
    assert (late.recovered, late.claimed) == (3, 3)
    assert late.counts == {"email": {"sent": 3}}
    # at-least-once: the provider got every message twice, the outbox says sent once
    assert Counter(provider.log) == dict.fromkeys(keys, 2)
    assert {k: v[:3] for k, v in outbox(session).items()} == dict.fromkeys(keys, ("sent", None, 2))


def test_crash_after_the_provider_accepted_fails_the_rows_at_most_once(session, factory):
    keys, provider, late = _crash_then_retry(session, factory, "fail")
    assert (late.recovered, late.claimed) == (3, 0)
    assert Counter(provider.log) == dict.fromkeys(keys, 1)
    assert {k: v[:3] for k, v in outbox(session).items()} == dict.fromkeys(
        keys, ("failed", "lease_expired", 1)
    )


def test_a_row_stuck_max_attempts_times_is_failed_even_when_resending(session, factory):
    _keys, provider, _ = _crash_then_retry(session, factory, "resend")
    session.execute(
        OutboxMessage.__table__.update().values(status="sending", provider_id=None, attempts=5)
    )
    out = deliver_pending(
        factory,
        email_sender=provider,
        sms_sender=LogSms(),
        now=f.T0 + timedelta(hours=2),
        max_attempts=5,
    )
    assert (out.recovered, out.claimed) == (3, 0)
    assert {v[:2] for v in outbox(session).values()} == {("failed", "lease_expired")}


def test_sms_stop_reply_withdraws_sms_consent_for_every_purpose(session):
    cons, _ = f.consultation(session)
    cid = person(
        session, [("sms", None), ("email", "invitations")], phone=True, preferred_channel="sms"
    )
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    phone = get_citizen(session, citizen_id=cid).phone
    reply = handle_sms_reply(session, phone=phone, text=" Stop! ")
    assert (reply.kind, reply.citizen_id, reply.suppressed) == ("stop", cid, 1)
    consents = consents_of(session, citizen_id=cid)
    assert [consents[("sms", p)] for p in ("invitations", "reminders", "results", "surveys")] == [
        False
    ] * 4
    assert consents[("email", "invitations")] is True
    assert session.execute(select(OutboxMessage.status, OutboxMessage.reason)).one() == (
        "suppressed",
        "opted_out",
    )
    assert handle_sms_reply(session, phone=phone, text="لغو").kind == "stop"
    assert handle_sms_reply(session, phone=phone, text="۷").digit == 7
    assert handle_sms_reply(session, phone=phone, text="10").digit == 10
    assert handle_sms_reply(session, phone=phone, text="yes please").kind == "other"
    assert handle_sms_reply(session, phone="+447911999999", text="STOP").kind == "unknown_sender"


def test_unsubscribe_link_withdraws_exactly_one_purpose(session):
    cons, _ = f.consultation(session)
    cid = person(session, [("email", "invitations"), ("email", "reminders")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    out = handle_unsubscribe_for(session, cid, "email", "invitations")
    assert (out.citizen_id, out.channel, out.purposes, out.suppressed) == (
        cid,
        "email",
        ("invitations",),
        1,
    )
    consents = consents_of(session, citizen_id=cid)
    assert consents == {("email", "invitations"): False, ("email", "reminders"): True}
    with pytest.raises(ValidationError) as info:
        handle_unsubscribe(session, token="v1.AAAA.email.invitations.BBBB")
    assert info.value.field == "token"


def test_bad_arguments_are_refused_by_name(session, factory):
    email, sms = memory()
    for kwargs, field in (
        ({"batch_size": 0}, "batch_size"),
        ({"limit": 0}, "limit"),
        ({"on_stuck": "maybe"}, "on_stuck"),
    ):
        with pytest.raises(ValidationError) as info:
            deliver_pending(factory, email_sender=email, sms_sender=sms, **kwargs)
        assert info.value.field == field


# --- with real commits -------------------------------------------------------------------


def _seed(engine, n: int) -> int:
    with session_scope(engine) as s:
        cons, _ = f.consultation(s)
        policy(s, cons, quiet_start=0, quiet_end=0)
        for _ in range(n):
            person(s, [("email", "invitations")])
        plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
    return cons


def test_two_workers_at_once_never_send_a_message_twice(fresh_db):
    engine = fresh_db.engine()
    _seed(engine, 120)
    provider = LogEmail()
    errors: list[BaseException] = []
    reports = []

    def work() -> None:
        try:
            reports.append(
                deliver_pending(engine, email_sender=provider, sms_sender=LogSms(), batch_size=10)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(provider.log) == 120
    assert len(set(provider.log)) == 120
    assert sum(r.claimed for r in reports) == 120
    with session_scope(engine) as s:
        assert (
            s.execute(select(func.count()).where(OutboxMessage.status == "sent")).scalar_one()
            == 120
        )
    engine.dispose()


KILLED_WORKER = textwrap.dedent("""
    import os, sys
    from datetime import datetime
    from core.db import make_engine
    from notifications.backends import SendResult
    from notifications.delivery import deliver_pending

    class DiesAfterAccepting:
        def send_batch(self, messages):
            with open(sys.argv[2], "a") as log:
                log.writelines(m.key + "\\n" for m in messages)
            os._exit(137)  # killed: no exception handler, no record step

    class NoSms:
        def send(self, message):
            raise AssertionError("no SMS expected")

    deliver_pending(make_engine(sys.argv[1]), email_sender=DiesAfterAccepting(),
                    sms_sender=NoSms(), now=datetime.fromisoformat(sys.argv[3]))
""")


def test_a_killed_worker_leaves_rows_sending_and_the_retry_resends_them(fresh_db, tmp_path):
    engine = fresh_db.engine()
    _seed(engine, 4)
    log = tmp_path / "accepted.txt"
    t0 = f.T0 + timedelta(hours=1)
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, url, str(log), t0.isoformat()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 137, done.stderr
    accepted = log.read_text().split()
    assert len(accepted) == 4
    with session_scope(engine) as s:
        assert {v[:3] for v in outbox(s).values()} == {("sending", None, 1)}

    provider = LogEmail()
    retry = deliver_pending(
        engine,
        email_sender=provider,
        sms_sender=LogSms(),
        now=t0 + timedelta(minutes=10, seconds=1),
    )

    assert (retry.recovered, retry.claimed, retry.total("sent")) == (4, 4, 4)
    assert sorted(provider.log) == sorted(accepted)  # each message went out a second time
    with session_scope(engine) as s:
        assert {v[:3] for v in outbox(s).values()} == {("sent", None, 2)}
        assert (
            s.execute(
                select(func.count()).select_from(Contact).where(Contact.kind == "invitation")
            ).scalar_one()
            == 4
        )
    engine.dispose()


def test_consultation_row_is_left_untouched_by_delivery(session, factory):
    cons, _ = f.consultation(session)
    person(session, [("email", "invitations")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    before = session.execute(select(Consultation.status, Consultation.result)).all()
    email, sms = memory()
    deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert session.execute(select(Consultation.status, Consultation.result)).all() == before


def test_send_now_puts_a_row_it_could_not_finish_back_for_the_next_run(
    session, factory, monkeypatch
):
    """A sign-in code whose provider call raises is not left ``sending`` until its lease
    (10 minutes, the code's whole life) runs out: it is pending again, due at once."""
    import notifications.delivery as delivery

    cid = person(session)
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock.set_clock(clock.FrozenClock(at))
    out = enqueue_signin_code(session, citizen_id=cid, signin_code_id=1, code="482913",
                              minutes_valid=10, actor=Actor(kind="citizen", id=cid),
                              channel="email")
    dead = LogEmail(crash=True)  # takes the message, then the connection dies
    monkeypatch.setattr(delivery, "make_senders", lambda settings=None: (dead, LogSms()))
    with pytest.raises(RuntimeError, match="worker died"):
        delivery.send_now(factory, [out.message_id])
    row = session.get(OutboxMessage, out.message_id)
    session.refresh(row)
    assert (row.status, row.claimed_at, row.not_before, row.attempts) == ("pending", None, at, 1)
    assert dead.log == [row.idempotency_key]
    email, sms = memory()
    report = deliver_pending(factory, email_sender=email, sms_sender=sms)
    assert report.counts == {"email": {"sent": 1}}
    assert "482913" in email.sent[0].text
