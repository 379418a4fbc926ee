"""Apply what email and SMS providers report back: bounces, drops, spam reports, opt-outs,
failed SMS and inbound replies, each exactly once.

Providers deliver webhooks at least once, so every event that changes anything is first
recorded in ``provider_event`` with ``INSERT … ON CONFLICT DO NOTHING`` on
``(provider, event_id)``, in the caller's transaction: a repeated delivery finds the row and
changes nothing, and a request that fails part-way rolls the row back with the effects, so
the provider's retry applies it. Signatures are checked before this module is reached
(:mod:`notifications.webhooks`).

* SendGrid (``event_id`` = ``sg_event_id``, twilio.com/docs/sendgrid/for-developers/
  tracking-events/event): ``bounce`` (not ``blocked``) and ``dropped`` mark the message
  ``failed`` (reason ``sendgrid:bounce`` / ``sendgrid:dropped``) and suppress the citizen's
  other queued email (reason ``address_bounced``); ``spamreport``, ``unsubscribe`` and
  ``group_unsubscribe`` withdraw the citizen's email consent for every purpose (source
  ``provider_opt_out``) and suppress their queued email (reason ``opted_out``).
* Twilio status callbacks (``event_id`` = ``MessageSid:MessageStatus``,
  twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks):
  ``failed``/``undelivered`` mark the message ``failed`` (reason ``twilio:<ErrorCode>``);
  error 21610 (the recipient has opted out) withdraws SMS consent for every purpose.
* Twilio inbound messages (``event_id`` = ``MessageSid``): passed to
  :func:`notifications.delivery.handle_sms_reply` once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from models import OutboxMessage, ProviderEvent
from models.participation import PURPOSES
from notifications.delivery import handle_sms_reply
from notifications.outbox import suppress_queued
from notifications.schemas import EmailEventsReport, SmsReply, SmsStatusOutcome
from notifications.unsubscribe import is_stop_keyword
from notifications.webhooks import EmailEvent, InboundSms, SmsStatusEvent
from participation.citizens import find_citizen, set_consent

__all__ = [
    "apply_email_events",
    "apply_inbound_sms",
    "apply_sms_status",
    "record_provider_event",
]

SYSTEM: Final = Actor(kind="system", name="provider-webhook")
#: outbox statuses a provider's later failure report may turn into ``failed``
_REACHED_PROVIDER: Final = ("sent", "sending")


def record_provider_event(session: Session, *, provider: str, event_id: str, kind: str) -> bool:
    """Record that a provider event is being applied; tell whether it is the first time.

    Args:
        provider: ``sendgrid``, ``twilio_status`` or ``twilio_inbound`` (≤ 16 characters).
        event_id: the provider's id of the event (≤ 200 characters; longer ids are cut).
        kind: the event's type, for the record (``bounce``, ``failed``, ``inbound`` …).
    Returns:
        True if this ``(provider, event_id)`` was not recorded before (apply the event);
        False if it was (a retried delivery: do nothing).
    """
    table = cast(Table, ProviderEvent.__table__)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(provider=provider, event_id=event_id[:200], kind=kind[:32], received_at=clock.now())
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(table.c.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def _outbox_row(
    session: Session, *, key: str | None, channel: str, provider_id: str | None = None
) -> OutboxMessage | None:
    if key:
        row = session.execute(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == key, OutboxMessage.channel == channel
            )
        ).scalar_one_or_none()
        if row is not None:
            return row
    if provider_id:
        return session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.provider_id == provider_id, OutboxMessage.channel == channel)
            .limit(1)
        ).scalar_one_or_none()
    return None


def _fail(session: Session, row: OutboxMessage, reason: str) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.status.in_(_REACHED_PROVIDER))
        .values(status="failed", reason=reason[:200])
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _withdraw(session: Session, citizen_id: int, channel: str) -> None:
    set_consent(
        session,
        citizen_id=citizen_id,
        channel=channel,
        purpose=None,
        opted_in=False,
        source="provider_opt_out",
        actor=SYSTEM,
    )
    suppress_queued(
        session, citizen_id=citizen_id, channel=channel, purposes=PURPOSES, reason="opted_out"
    )


def apply_email_events(session: Session, *, events: Sequence[EmailEvent]) -> EmailEventsReport:
    """Apply a batch of verified SendGrid events, in the caller's transaction.

    The message is found by the ``idempotency_key`` custom argument our SendGrid backend
    sends with every personalization; the citizen by that message, else by the event's
    address. Each event that changes something is applied once per ``sg_event_id``.

    Args:
        events: from :func:`notifications.webhooks.parse_sendgrid_events`.
    Returns:
        an :class:`~notifications.schemas.EmailEventsReport` (counts of events and rows).
    """
    applied = duplicates = ignored = failed = opted_out = 0
    for event in events:
        if not (event.permanent_failure or event.opted_out):
            ignored += 1
            continue
        row = _outbox_row(session, key=event.idempotency_key, channel="email")
        citizen_id = row.citizen_id if row is not None else None
        if citizen_id is None:
            found = find_citizen(session, email=event.email)
            citizen_id = found.id if found is not None else None
        if row is None and citizen_id is None:
            ignored += 1
            continue
        if not record_provider_event(
            session, provider="sendgrid", event_id=event.sg_event_id, kind=event.event
        ):
            duplicates += 1
            continue
        applied += 1
        if event.permanent_failure:
            if row is not None and _fail(session, row, f"sendgrid:{event.event}"):
                failed += 1
            if citizen_id is not None:
                suppress_queued(
                    session,
                    citizen_id=citizen_id,
                    channel="email",
                    purposes=PURPOSES,
                    reason="address_bounced",
                )
        if event.opted_out and citizen_id is not None:
            _withdraw(session, citizen_id, "email")
            opted_out += 1
    return EmailEventsReport(len(events), applied, duplicates, ignored, failed, opted_out)


def apply_sms_status(session: Session, *, event: SmsStatusEvent) -> SmsStatusOutcome:
    """Apply a verified Twilio status callback, in the caller's transaction.

    The message is found by the ``key`` our Twilio backend puts in the callback URL, else by
    its ``MessageSid``. Only ``failed``/``undelivered`` and error 21610 change anything;
    each ``(MessageSid, MessageStatus)`` is applied once.

    Args:
        event: from :func:`notifications.webhooks.parse_twilio_status`.
    Returns:
        an :class:`~notifications.schemas.SmsStatusOutcome`.
    """
    if not (event.failed or event.opted_out):
        return SmsStatusOutcome("ignored")
    row = _outbox_row(
        session, key=event.idempotency_key, channel="sms", provider_id=event.message_sid
    )
    if row is None:
        return SmsStatusOutcome("ignored")
    if not record_provider_event(
        session,
        provider="twilio_status",
        event_id=f"{event.message_sid}:{event.status}",
        kind=event.status,
    ):
        return SmsStatusOutcome("duplicate", row.id)
    if event.failed:
        _fail(session, row, f"twilio:{event.error_code or event.status}")
    if event.opted_out and row.citizen_id is not None:
        _withdraw(session, row.citizen_id, "sms")
        return SmsStatusOutcome("opted_out", row.id)
    return SmsStatusOutcome("failed", row.id)


def apply_inbound_sms(session: Session, *, inbound: InboundSms) -> SmsReply | None:
    """Act once on a verified inbound SMS, in the caller's transaction.

    A message Twilio marked as an opt-out (``OptOutType=STOP``: a keyword configured in
    Advanced Opt-Out, twilio.com/docs/messaging/tutorials/advanced-opt-out) is treated as
    STOP even when it is not one of our own :data:`~notifications.unsubscribe.STOP_KEYWORDS`.

    Args:
        inbound: from :func:`notifications.webhooks.parse_twilio_inbound`.
    Returns:
        what :func:`notifications.delivery.handle_sms_reply` made of it, or None when this
        ``MessageSid`` was handled before (nothing changed).
    """
    if not record_provider_event(
        session, provider="twilio_inbound", event_id=inbound.message_sid, kind="inbound"
    ):
        return None
    text = inbound.body
    if inbound.stop and not is_stop_keyword(text):
        text = "STOP"
    return handle_sms_reply(session, phone=inbound.from_number, text=text)
