"""Webhook verification and parsing: SendGrid signed events, Twilio callbacks and replies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from core import clock
from core.errors import ValidationError
from notifications.webhooks import (
    EmailEvent,
    parse_sendgrid_events,
    parse_twilio_inbound,
    parse_twilio_status,
)

TS = "1720800000"  # 2024-07-12 16:00:00 UTC


@pytest.fixture(scope="module")
def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER, no PEM armour)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


EVENTS = [
    {
        "email": "c1@example.org",
        "timestamp": 1720800000,
        "event": "delivered",
        "sg_event_id": "ev-1",
        "sg_message_id": "msg-1.filter01",
        "idempotency_key": "inv:1:c1:email",
    },
    {
        "email": "c2@example.org",
        "timestamp": 1720800001,
        "event": "bounce",
        "type": "bounce",
        "reason": "550 5.1.1 no such user",
        "sg_event_id": "ev-2",
        "sg_message_id": "msg-1.f2",
        "idempotency_key": "inv:1:c2:email",
    },
    {
        "email": "c3@example.org",
        "timestamp": 1720800002,
        "event": "bounce",
        "type": "blocked",
        "reason": "421 try later",
        "sg_event_id": "ev-3",
        "idempotency_key": "inv:1:c3:email",
    },
    {
        "email": "c4@example.org",
        "timestamp": 1720800003,
        "event": "unsubscribe",
        "sg_event_id": "ev-4",
    },
    {
        "email": "c5@example.org",
        "timestamp": 1720800004,
        "event": "dropped",
        "reason": "Bounced Address",
        "sg_event_id": "ev-5",
    },
]
BODY = json.dumps(EVENTS).encode()


def test_signed_events_are_accepted_and_parsed(
    key_pair: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = key_pair
    events = parse_sendgrid_events(
        BODY, signature=sign(private, TS, BODY), timestamp=TS, public_key=public
    )
    assert events[0] == EmailEvent(
        event="delivered",
        email="c1@example.org",
        at=datetime(2024, 7, 12, 16, 0, tzinfo=UTC),
        sg_event_id="ev-1",
        sg_message_id="msg-1.filter01",
        idempotency_key="inv:1:c1:email",
        reason=None,
        permanent_failure=False,
        opted_out=False,
    )
    assert [(e.event, e.permanent_failure, e.opted_out) for e in events] == [
        ("delivered", False, False),
        ("bounce", True, False),
        ("bounce", False, False),  # "blocked" is not a hard bounce
        ("unsubscribe", False, True),
        ("dropped", True, False),
    ]
    assert events[1].reason == "550 5.1.1 no such user"
    assert events[3].idempotency_key is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda sig, ts, body: (sig, ts, body.replace(b"delivered", b"bounce\x20\x20\x20")),
        lambda sig, ts, body: (sig, str(int(ts) + 1), body),
        lambda sig, ts, body: ("AAAA" + sig[4:], ts, body),
        lambda sig, ts, body: ("not base64!", ts, body),
        lambda sig, ts, body: ("", ts, body),
    ],
)
def test_tampered_sendgrid_requests_are_refused(
    key_pair: tuple[ec.EllipticCurvePrivateKey, str], tamper: object
) -> None:
    private, public = key_pair
    sig, ts, body = tamper(sign(private, TS, BODY), TS, BODY)  # type: ignore[operator]
    with pytest.raises(ValidationError) as info:
        parse_sendgrid_events(body, signature=sig, timestamp=ts, public_key=public)
    assert info.value.field == "signature"


def test_signature_from_another_key_is_refused(
    key_pair: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    _, public = key_pair
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValidationError):
        parse_sendgrid_events(
            BODY, signature=sign(stranger, TS, BODY), timestamp=TS, public_key=public
        )


def test_old_request_is_refused_when_a_tolerance_is_set(
    key_pair: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = key_pair
    signature = sign(private, TS, BODY)
    with clock.frozen(datetime(2024, 7, 12, 16, 4, tzinfo=UTC)):
        assert parse_sendgrid_events(
            BODY, signature=signature, timestamp=TS, public_key=public, tolerance_seconds=300
        )
        with pytest.raises(ValidationError):
            parse_sendgrid_events(
                BODY, signature=signature, timestamp=TS, public_key=public, tolerance_seconds=60
            )


def test_signed_but_malformed_body_is_refused(
    key_pair: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = key_pair
    for body in (b"{not json", b'{"event": "delivered"}', b'[{"event": "delivered"}]'):
        with pytest.raises(ValidationError) as info:
            parse_sendgrid_events(
                body, signature=sign(private, TS, body), timestamp=TS, public_key=public
            )
        assert info.value.field == "body"


TOKEN = "twilio-auth-token"
STATUS_URL = "https://civic.example.org/webhooks/twilio/status?key=reminder%3A7%3A1%3Ac_9%3Asms"
STATUS = {
    "MessageSid": "SM" + "1" * 32,
    "MessageStatus": "undelivered",
    "ErrorCode": "30003",
    "To": "+989123456789",
    "AccountSid": "AC" + "0" * 32,
}


def twilio_signature(url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, params))


def test_twilio_status_callback_is_verified_and_parsed() -> None:
    event = parse_twilio_status(
        STATUS_URL, STATUS, signature=twilio_signature(STATUS_URL, STATUS), auth_token=TOKEN
    )
    assert event.idempotency_key == "reminder:7:1:c_9:sms"
    assert (event.status, event.error_code, event.final, event.failed, event.opted_out) == (
        "undelivered",
        "30003",
        True,
        True,
        False,
    )
    assert event.to == "+989123456789"


def test_twilio_status_with_a_changed_field_is_refused() -> None:
    signature = twilio_signature(STATUS_URL, STATUS)
    with pytest.raises(ValidationError) as info:
        parse_twilio_status(
            STATUS_URL,
            {**STATUS, "MessageStatus": "delivered"},
            signature=signature,
            auth_token=TOKEN,
        )
    assert info.value.field == "signature"


def test_twilio_status_for_another_outbox_row_is_refused() -> None:
    signature = twilio_signature(STATUS_URL, STATUS)
    other = STATUS_URL.replace("c_9", "c_8")
    with pytest.raises(ValidationError):
        parse_twilio_status(other, STATUS, signature=signature, auth_token=TOKEN)


def test_delivered_status_is_final_and_not_failed() -> None:
    params = {**STATUS, "MessageStatus": "delivered", "ErrorCode": ""}
    event = parse_twilio_status(
        STATUS_URL, params, signature=twilio_signature(STATUS_URL, params), auth_token=TOKEN
    )
    assert (event.final, event.failed, event.error_code) == (True, False, None)


INBOUND_URL = "https://civic.example.org/webhooks/twilio/inbound"


@pytest.mark.parametrize(
    ("params", "stop"),
    [
        ({"Body": "لغو"}, True),
        ({"Body": " Stop "}, True),
        ({"Body": "anything", "OptOutType": "STOP"}, True),
        ({"Body": "START", "OptOutType": "START"}, False),
        ({"Body": "When does voting close?"}, False),
    ],
)
def test_inbound_sms_recognises_stop_requests(params: dict[str, str], stop: bool) -> None:
    full = {"MessageSid": "SM" + "2" * 32, "From": "+989123456789", **params}
    inbound = parse_twilio_inbound(
        INBOUND_URL, full, signature=twilio_signature(INBOUND_URL, full), auth_token=TOKEN
    )
    assert inbound.stop is stop
    assert inbound.from_number == "+989123456789"


def test_inbound_sms_with_a_bad_signature_is_refused() -> None:
    full = {"MessageSid": "SM1", "From": "+989123456789", "Body": "STOP"}
    with pytest.raises(ValidationError):
        parse_twilio_inbound(INBOUND_URL, full, signature="bogus", auth_token=TOKEN)
