"""Applying provider reports: which SendGrid events and Twilio statuses change what, once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import OutboxMessage
from notifications.planning import plan_invitations
from notifications.provider_events import (
    apply_email_events,
    apply_inbound_sms,
    apply_sms_status,
    record_provider_event,
)
from notifications.webhooks import EmailEvent, InboundSms, SmsStatusEvent
from participation.citizens import consents_of, get_citizen
from tests import factories as f
from tests.notifications.test_outbox import person

AT = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def email_event(kind: str, email: str, event_id: str, **overrides) -> EmailEvent:
    fields = {
        "event": kind,
        "email": email,
        "at": AT,
        "sg_event_id": event_id,
        "sg_message_id": None,
        "idempotency_key": None,
        "reason": None,
        "permanent_failure": kind in ("bounce", "dropped"),
        "opted_out": kind in ("spamreport", "unsubscribe", "group_unsubscribe"),
    }
    fields.update(overrides)
    return EmailEvent(**fields)


def invitation(session, cid: int) -> OutboxMessage:
    """The citizen's invitation to a new consultation, queued, to point provider reports at."""
    cons, _ = f.consultation(session)
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    return session.execute(
        select(OutboxMessage).where(OutboxMessage.citizen_id == cid)
    ).scalar_one()


def test_the_same_event_id_is_recorded_once_per_provider(session):
    assert record_provider_event(session, provider="sendgrid", event_id="e1", kind="bounce")
    assert not record_provider_event(session, provider="sendgrid", event_id="e1", kind="bounce")
    assert record_provider_event(session, provider="twilio_inbound", event_id="e1", kind="x")


def test_unsubscribe_found_by_address_withdraws_every_email_purpose(session):
    cid = person(session, [("email", "invitations"), ("sms", "reminders")], phone=True)
    email = get_citizen(session, citizen_id=cid).email

    report = apply_email_events(
        session, events=[email_event("group_unsubscribe", email.upper(), "g1")]
    )

    assert (report.applied, report.opted_out, report.failed_messages) == (1, 1, 0)
    consents = consents_of(session, citizen_id=cid)
    assert [consents[("email", p)] for p in ("invitations", "reminders", "results", "surveys")] == [
        False
    ] * 4
    assert consents[("sms", "reminders")] is True


def test_blocked_bounces_deliveries_and_strangers_change_nothing(session):
    cid = person(session, [("email", "invitations")])
    email = get_citizen(session, citizen_id=cid).email
    events = [
        email_event("bounce", email, "b1", permanent_failure=False),  # type "blocked"
        email_event("delivered", email, "d1"),
        email_event("open", email, "o1"),
        email_event("unsubscribe", "nobody@example.invalid", "u1"),
    ]

    report = apply_email_events(session, events=events)

    assert (report.received, report.applied, report.ignored, report.duplicates) == (4, 0, 4, 0)
    assert consents_of(session, citizen_id=cid) == {("email", "invitations"): True}


def test_dropped_mail_fails_a_sent_message_but_never_a_suppressed_one(session):
    cid = person(session, [("email", "invitations")])
    row = invitation(session, cid)
    row.status, row.provider_id = "sent", "sg-1"
    session.flush()
    email = get_citizen(session, citizen_id=cid).email
    drop = email_event("dropped", email, "x1", idempotency_key=row.idempotency_key)

    report = apply_email_events(session, events=[drop])
    session.refresh(row)

    assert (report.applied, report.failed_messages) == (1, 1)
    assert (row.status, row.reason) == ("failed", "sendgrid:dropped")
    row.status, row.reason = "suppressed", "no_consent"
    session.flush()
    again = apply_email_events(
        session, events=[email_event("bounce", email, "x2", idempotency_key=row.idempotency_key)]
    )
    session.refresh(row)
    assert (again.applied, again.failed_messages) == (1, 0)
    assert (row.status, row.reason) == ("suppressed", "no_consent")


def test_sms_opted_out_status_withdraws_sms_consent_and_fails_the_message(session):
    cid = person(session, [("sms", "invitations")], phone=True, preferred_channel="sms")
    row = invitation(session, cid)
    row.status, row.provider_id = "sent", "SM42"
    session.flush()
    status = SmsStatusEvent(
        message_sid="SM42",
        status="failed",
        idempotency_key=None,  # found by MessageSid
        to=get_citizen(session, citizen_id=cid).phone,
        error_code="21610",
        final=True,
        failed=True,
        opted_out=True,
    )

    first = apply_sms_status(session, event=status)
    second = apply_sms_status(session, event=status)
    session.refresh(row)

    assert (first.kind, first.outbox_id, second.kind) == ("opted_out", row.id, "duplicate")
    assert (row.status, row.reason) == ("failed", "twilio:21610")
    assert consents_of(session, citizen_id=cid)[("sms", "invitations")] is False


def test_twilio_advanced_opt_out_keyword_counts_as_stop(session):
    cid = person(session, [("sms", "invitations")], phone=True)
    phone = get_citizen(session, citizen_id=cid).phone
    inbound = InboundSms(message_sid="SM7", from_number=phone, body="arrêter", stop=True)

    reply = apply_inbound_sms(session, inbound=inbound)

    assert reply is not None
    assert (reply.kind, reply.citizen_id) == ("stop", cid)
    assert consents_of(session, citizen_id=cid)[("sms", "invitations")] is False
    assert apply_inbound_sms(session, inbound=inbound) is None
    other = InboundSms(message_sid="SM8", from_number=phone, body="7", stop=False)
    assert apply_inbound_sms(session, inbound=other).digit == 7
