"""Verify and parse provider webhooks: SendGrid email events, Twilio SMS statuses and replies.

Every parser checks the request's signature first and raises
:class:`core.errors.ValidationError` (field ``signature``) when it does not match, so an
unsigned or altered request is never parsed. Signature checks run in the backend modules
(the only code that imports the provider SDKs).

* SendGrid signed event webhook: ECDSA P-256 / SHA-256 over ``timestamp + raw body``, headers
  ``X-Twilio-Email-Event-Webhook-Signature`` and ``…-Timestamp``
  (twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
  The body is a JSON array of events (…/tracking-events/event). SendGrid delivers at least
  once: deduplicate on :attr:`EmailEvent.sg_event_id`.
* Twilio: ``X-Twilio-Signature`` (HMAC-SHA1 of URL + sorted form fields with the auth
  token) on status callbacks
  (twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks) and on
  inbound messages; Advanced Opt-Out adds ``OptOutType`` to inbound messages
  (twilio.com/docs/messaging/tutorials/advanced-opt-out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qs, urlsplit

from core import clock
from core.errors import ValidationError
from notifications.backends.sendgrid import verify_event_signature
from notifications.backends.twilio import verify_request_signature
from notifications.unsubscribe import is_stop_keyword

__all__ = [
    "SENDGRID_SIGNATURE_HEADER",
    "SENDGRID_TIMESTAMP_HEADER",
    "TWILIO_SIGNATURE_HEADER",
    "EmailEvent",
    "InboundSms",
    "SmsStatusEvent",
    "parse_sendgrid_events",
    "parse_twilio_inbound",
    "parse_twilio_status",
]

SENDGRID_SIGNATURE_HEADER: Final = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER: Final = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE_HEADER: Final = "X-Twilio-Signature"

_OPT_OUT_EVENTS: Final = frozenset({"unsubscribe", "group_unsubscribe", "spamreport"})
_FINAL_SMS_STATUSES: Final = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
_FAILED_SMS_STATUSES: Final = frozenset({"undelivered", "failed"})
_SMS_OPTED_OUT_CODE: Final = "21610"


@dataclass(frozen=True, slots=True)
class EmailEvent:
    """One SendGrid event about one message to one recipient.

    Attributes:
        event: ``processed``, ``delivered``, ``deferred``, ``bounce``, ``dropped``, ``open``,
            ``click``, ``spamreport``, ``unsubscribe``, ``group_unsubscribe`` …
        email: the recipient's address.
        at: when it happened (UTC).
        sg_event_id: SendGrid's unique event id (deduplicate on it).
        sg_message_id: SendGrid's message id, or None (absent on some events).
        idempotency_key: our outbox key, from the ``custom_args`` the backend sent, or None.
        reason: SendGrid's reason text for bounces, drops and deferrals, or None.
        permanent_failure: the address cannot receive mail from us (a ``bounce`` of type
            ``bounce``, or ``dropped``); a ``blocked`` bounce or ``deferred`` is not permanent.
        opted_out: the recipient unsubscribed or marked the mail as spam: withdraw consent.
    """

    event: str
    email: str
    at: datetime
    sg_event_id: str
    sg_message_id: str | None
    idempotency_key: str | None
    reason: str | None
    permanent_failure: bool
    opted_out: bool


@dataclass(frozen=True, slots=True)
class SmsStatusEvent:
    """A Twilio message status callback.

    Attributes:
        message_sid: Twilio's message sid (``SM…``).
        status: ``queued``, ``sending``, ``sent``, ``delivered``, ``undelivered``, ``failed``,
            ``read`` or ``canceled``.
        idempotency_key: our outbox key, from the ``key`` query parameter the backend added
            to the callback URL, or None.
        to: the recipient's number, or None.
        error_code: Twilio's error code for a failed message (e.g. ``"30003"``), or None.
        final: no later status will follow.
        failed: the message was not delivered.
        opted_out: the recipient has opted out (error 21610).
    """

    message_sid: str
    status: str
    idempotency_key: str | None
    to: str | None
    error_code: str | None
    final: bool
    failed: bool
    opted_out: bool


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS a citizen sent to our Messaging Service.

    Attributes:
        message_sid: Twilio's message sid.
        from_number: the sender's number (E.164).
        body: the text.
        stop: the message asks to stop SMS: Twilio's ``OptOutType`` is ``STOP`` or the text
            is a stop keyword (:func:`notifications.unsubscribe.is_stop_keyword`).
    """

    message_sid: str
    from_number: str
    body: str
    stop: bool


def _bad(message: str, field: str = "body") -> ValidationError:
    return ValidationError(message, field=field)


def parse_sendgrid_events(
    body: bytes,
    *,
    signature: str,
    timestamp: str,
    public_key: str,
    tolerance_seconds: float | None = None,
) -> list[EmailEvent]:
    """Verify a SendGrid event-webhook request and parse its events.

    Args:
        body: the raw request body, exactly as received.
        signature: the ``X-Twilio-Email-Event-Webhook-Signature`` header.
        timestamp: the ``X-Twilio-Email-Event-Webhook-Timestamp`` header (Unix seconds).
        public_key: the webhook verification key from SendGrid (base64 DER).
        tolerance_seconds: if given, refuse a request whose timestamp is further than this
            from :func:`core.clock.now` (replay protection); None accepts any age, relying on
            deduplication by ``sg_event_id``.

    Returns:
        The events in the order SendGrid sent them.

    Raises:
        ValidationError: (field ``signature``) the signature does not match or the timestamp
            is outside the tolerance; (field ``body``) the body is not a JSON array of events.
    """
    if not verify_event_signature(public_key, body, signature, timestamp):
        raise _bad("the SendGrid webhook signature does not match", "signature")
    if tolerance_seconds is not None:
        try:
            age = abs(clock.now().timestamp() - float(timestamp))
        except ValueError as exc:
            raise _bad("the webhook timestamp is not a number", "signature") from exc
        if age > tolerance_seconds:
            raise _bad("the webhook timestamp is too old or in the future", "signature")
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise _bad("the webhook body is not JSON") from exc
    if not isinstance(items, list):
        raise _bad("the webhook body is not a list of events")
    return [_email_event(item) for item in items]


def _email_event(item: object) -> EmailEvent:
    if not isinstance(item, dict):
        raise _bad("an event is not an object")
    try:
        event = str(item["event"])
        email = str(item["email"])
        at = datetime.fromtimestamp(int(item["timestamp"]), UTC)
        sg_event_id = str(item["sg_event_id"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _bad(f"an event lacks a valid field ({exc})") from exc
    key = item.get("idempotency_key")  # custom_args arrive as top-level fields
    reason = item.get("reason")
    bounce_type = item.get("type")
    return EmailEvent(
        event=event,
        email=email,
        at=at,
        sg_event_id=sg_event_id,
        sg_message_id=str(item["sg_message_id"]) if item.get("sg_message_id") else None,
        idempotency_key=str(key) if key is not None else None,
        reason=str(reason) if reason is not None else None,
        permanent_failure=event == "dropped" or (event == "bounce" and bounce_type != "blocked"),
        opted_out=event in _OPT_OUT_EVENTS,
    )


def _check_twilio(url: str, params: Mapping[str, str], signature: str, auth_token: str) -> None:
    if not verify_request_signature(auth_token, url, params, signature):
        raise _bad("the Twilio request signature does not match", "signature")


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise _bad(f"the Twilio request lacks {name}")
    return value


def parse_twilio_status(
    url: str, params: Mapping[str, str], *, signature: str, auth_token: str
) -> SmsStatusEvent:
    """Verify a Twilio status callback and parse it.

    Args:
        url: the full public URL Twilio called, with its query string (``?key=…``).
        params: the POSTed form fields (``MessageSid``, ``MessageStatus``, ``ErrorCode`` …).
        signature: the ``X-Twilio-Signature`` header.
        auth_token: the Twilio account's auth token.

    Returns:
        A :class:`SmsStatusEvent`.

    Raises:
        ValidationError: (field ``signature``) the signature does not match; (field
            ``body``) ``MessageSid`` or ``MessageStatus`` is missing.
    """
    _check_twilio(url, params, signature, auth_token)
    status = _required(params, "MessageStatus").lower()
    error_code = params.get("ErrorCode") or None
    keys = parse_qs(urlsplit(url).query).get("key")
    return SmsStatusEvent(
        message_sid=_required(params, "MessageSid"),
        status=status,
        idempotency_key=keys[0] if keys else None,
        to=params.get("To") or None,
        error_code=error_code,
        final=status in _FINAL_SMS_STATUSES,
        failed=status in _FAILED_SMS_STATUSES,
        opted_out=error_code == _SMS_OPTED_OUT_CODE,
    )


def parse_twilio_inbound(
    url: str, params: Mapping[str, str], *, signature: str, auth_token: str
) -> InboundSms:
    """Verify an inbound-SMS webhook from Twilio and parse it.

    Args:
        url: the full public URL Twilio called.
        params: the POSTed form fields (``MessageSid``, ``From``, ``Body``, ``OptOutType`` …).
        signature: the ``X-Twilio-Signature`` header.
        auth_token: the Twilio account's auth token.

    Returns:
        An :class:`InboundSms`; act on :attr:`InboundSms.stop` by withdrawing SMS consent.

    Raises:
        ValidationError: (field ``signature``) the signature does not match; (field
            ``body``) ``MessageSid`` or ``From`` is missing.
    """
    _check_twilio(url, params, signature, auth_token)
    body = params.get("Body", "")
    stop = params.get("OptOutType", "").upper() == "STOP" or is_stop_keyword(body)
    return InboundSms(
        message_sid=_required(params, "MessageSid"),
        from_number=_required(params, "From"),
        body=body,
        stop=stop,
    )
