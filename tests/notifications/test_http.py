"""The webhook server: RFC 8058 one-click unsubscribe, SendGrid signed events and Twilio
callbacks, through real HTTP requests to the ASGI app, with committed data."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from core import clock
from core.db import session_scope
from core.settings import AppSettings, EmailSettings, Settings, SmsSettings
from models import AuditEvent, Consent, Contact, OutboxMessage, ProviderEvent
from notifications.delivery import deliver_pending
from notifications.http import EMPTY_TWIML, create_app
from notifications.planning import plan_invitations
from notifications.unsubscribe import make_token
from participation.citizens import consents_of, get_citizen
from tests import factories as f
from tests.notifications.test_delivery import memory
from tests.notifications.test_outbox import person

SECRET = "a-test-secret-of-enough-bytes"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
HOOKS = "https://hooks.civic.example.org"
APP = "https://civic.example.org"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def db(fresh_db) -> Engine:
    """A database of its own: the server commits, as it does in production."""
    return fresh_db.engine()


@pytest.fixture(scope="module")
def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


@pytest.fixture
def client(db: Engine, key_pair) -> Iterator[TestClient]:
    settings = Settings(
        app=AppSettings(base_url=APP, hooks_base_url=HOOKS, secret_key=SecretStr(SECRET)),
        email=EmailSettings(sendgrid_webhook_public_key=key_pair[1]),
        sms=SmsSettings(twilio_auth_token=SecretStr(TWILIO_TOKEN)),
    )
    with TestClient(create_app(settings=settings, engine=db), follow_redirects=False) as c:
        yield c


def consents(db: Engine, citizen_id: int) -> dict[tuple[str, str], bool]:
    with session_scope(db) as s:
        return consents_of(s, citizen_id=citizen_id)


def audit_count(db: Engine) -> int:
    with session_scope(db) as s:
        return int(s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def token_for(db: Engine, citizen_id: int, channel: str, purpose: str) -> str:
    with session_scope(db) as s:
        public = get_citizen(s, citizen_id=citizen_id).public_id
    return make_token(citizen_public_id=public, channel=channel, purpose=purpose, secret=SECRET)


# --- RFC 8058 one-click unsubscribe -------------------------------------------------------


def test_one_click_post_withdraws_exactly_the_named_consent_and_twice_is_fine(db, client):
    with session_scope(db) as s:
        cid = person(
            s,
            [("email", "invitations"), ("email", "reminders"), ("sms", "invitations")],
            phone=True,
        )
    token = token_for(db, cid, "email", "invitations")

    first = client.post(f"/unsubscribe?{urlencode({'token': token})}", data=ONE_CLICK)
    after_first = consents(db, cid)
    second = client.post(f"/unsubscribe?{urlencode({'token': token})}", data=ONE_CLICK)

    assert (first.status_code, second.status_code) == (200, 200)
    assert "location" not in first.headers
    assert after_first == {
        ("email", "invitations"): False,
        ("email", "reminders"): True,
        ("sms", "invitations"): True,
    }
    assert consents(db, cid) == after_first
    with session_scope(db) as s:
        rows = s.execute(
            select(Consent.channel, Consent.purpose, Consent.source).where(
                Consent.citizen_id == cid, Consent.opted_in.is_(False)
            )
        ).all()
    assert rows == [("email", "invitations", "unsubscribe_link")]


def test_forged_token_is_refused_with_400_naming_the_field_and_nothing_changes(db, client):
    with session_scope(db) as s:
        cid = person(s, [("email", "invitations"), ("email", "results")])
    good = token_for(db, cid, "email", "invitations")
    # the same citizen and channel, the purpose edited: the signature no longer matches
    forged = good.replace(".invitations.", ".results.")
    before, audits = consents(db, cid), audit_count(db)

    for token in (forged, "v1.AAAA.email.invitations.BBBB"):
        reply = client.post(f"/unsubscribe?{urlencode({'token': token})}", data=ONE_CLICK)
        assert reply.status_code == 400
        assert reply.text == "token: this unsubscribe link is not valid\n"
    assert client.post("/unsubscribe", data=ONE_CLICK).status_code == 400

    assert (
        consents(db, cid) == before == {("email", "invitations"): True, ("email", "results"): True}
    )
    assert audit_count(db) == audits


def test_one_click_post_as_multipart_form_data_is_accepted(db, client):
    with session_scope(db) as s:
        cid = person(s, [("email", "reminders"), ("email", "results")])
    token = token_for(db, cid, "email", "reminders")
    # RFC 8058 §3.1: the body SHOULD be multipart/form-data (RFC 7578)
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n"
        b"--b0undary--\r\n"
    )

    reply = client.post(
        f"/unsubscribe?{urlencode({'token': token})}",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )

    assert reply.status_code == 200
    assert consents(db, cid) == {("email", "reminders"): False, ("email", "results"): True}


def test_post_without_the_one_click_body_changes_nothing(db, client):
    with session_scope(db) as s:
        cid = person(s, [("email", "invitations")])
    token = token_for(db, cid, "email", "invitations")

    reply = client.post(f"/unsubscribe?{urlencode({'token': token})}", data={"x": "y"})

    assert reply.status_code == 400
    assert reply.text.startswith("List-Unsubscribe:")
    assert consents(db, cid) == {("email", "invitations"): True}


def test_get_redirects_to_the_app_landing_page_with_the_same_token(client):
    reply = client.get("/unsubscribe?token=v1.abc.email.reminders.xyz")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"{APP}/unsubscribe?token=v1.abc.email.reminders.xyz"


def test_health_answers(client):
    reply = client.get("/health")
    assert (reply.status_code, reply.text.strip()) == (200, "ok")


# --- SendGrid signed event webhook ------------------------------------------------------


def sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


def post_events(client: TestClient, private, events: list[dict], *, tamper: bool = False):
    body = json.dumps(events).encode()
    ts = "1774000000"
    signature = sign(private, ts, body)
    if tamper:
        body = body.replace(b'"bounce"', b'"delivered"')
    return client.post(
        "/webhooks/sendgrid",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        },
    )


def sent_invitation(db: Engine, consents_: list[tuple], **fields) -> tuple[int, str]:
    """A citizen invited and the invitation sent (memory backends); returns (citizen, key)."""
    with session_scope(db) as s:
        cons, _ = f.consultation(s)
        cid = person(s, consents_, **fields)
        plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(days=1)))
    email, sms = memory()
    deliver_pending(db, email_sender=email, sms_sender=sms)
    with session_scope(db) as s:
        key, status = s.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.status).where(
                OutboxMessage.citizen_id == cid
            )
        ).one()
    assert status == "sent"
    return cid, key


def outbox_state(db: Engine, key: str) -> tuple[str, str | None]:
    with session_scope(db) as s:
        row = s.execute(
            select(OutboxMessage.status, OutboxMessage.reason).where(
                OutboxMessage.idempotency_key == key
            )
        ).one()
    return row[0], row[1]


def event(kind: str, email: str, event_id: str, **extra) -> dict:
    return {
        "event": kind,
        "email": email,
        "timestamp": 1774000000,
        "sg_event_id": event_id,
        **extra,
    }


def test_sendgrid_bounce_fails_the_message_and_a_repeat_is_applied_once(db, client, key_pair):
    cid, key = sent_invitation(db, [("email", "invitations")])
    with session_scope(db) as s:
        address = get_citizen(s, citizen_id=cid).email
    bounce = event(
        "bounce",
        address,
        f"bounce-{cid}",
        type="bounce",
        reason="550 no such user",
        idempotency_key=key,
    )
    delivered = event("delivered", address, f"delivered-{cid}", idempotency_key=key)

    first = post_events(client, key_pair[0], [delivered, bounce])
    audits = audit_count(db)
    again = post_events(client, key_pair[0], [bounce])

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.text.strip() == "applied 1, duplicates 0"
    assert again.text.strip() == "applied 0, duplicates 1"
    assert outbox_state(db, key) == ("failed", "sendgrid:bounce")
    assert audit_count(db) == audits
    with session_scope(db) as s:
        recorded = s.execute(
            select(ProviderEvent.provider, ProviderEvent.kind).where(
                ProviderEvent.event_id == f"bounce-{cid}"
            )
        ).all()
    assert recorded == [("sendgrid", "bounce")]


def test_sendgrid_spam_report_withdraws_email_consent_once(db, client, key_pair):
    cid, key = sent_invitation(db, [("email", "invitations"), ("sms", "invitations")], phone=True)
    with session_scope(db) as s:
        address = get_citizen(s, citizen_id=cid).email
    report = event("spamreport", address, f"spam-{cid}", idempotency_key=key)

    assert post_events(client, key_pair[0], [report]).status_code == 200
    audits = audit_count(db)
    assert post_events(client, key_pair[0], [report]).status_code == 200

    got = consents(db, cid)
    assert {p for (ch, p), v in got.items() if ch == "email" and not v} == {
        "invitations",
        "reminders",
        "results",
        "surveys",
    }
    assert got[("sms", "invitations")] is True
    assert outbox_state(db, key) == ("sent", None)  # the message itself was delivered
    assert audit_count(db) == audits  # the retry wrote nothing


def test_sendgrid_bad_signature_is_403_and_nothing_changes(db, client, key_pair):
    cid, key = sent_invitation(db, [("email", "invitations")])
    with session_scope(db) as s:
        address = get_citizen(s, citizen_id=cid).email
    bounce = event("bounce", address, f"bounce-{cid}", type="bounce", idempotency_key=key)
    unsubscribe = event("unsubscribe", address, f"unsub-{cid}", idempotency_key=key)
    other_key = ec.generate_private_key(ec.SECP256R1())

    tampered = post_events(client, key_pair[0], [bounce, unsubscribe], tamper=True)
    wrong_key = post_events(client, other_key, [bounce, unsubscribe])

    assert (tampered.status_code, wrong_key.status_code) == (403, 403)
    assert outbox_state(db, key) == ("sent", None)
    assert consents(db, cid) == {("email", "invitations"): True}
    with session_scope(db) as s:
        assert (
            s.execute(
                select(func.count())
                .select_from(ProviderEvent)
                .where(ProviderEvent.event_id.in_([f"bounce-{cid}", f"unsub-{cid}"]))
            ).scalar_one()
            == 0
        )


def test_sendgrid_malformed_batch_is_400_and_applies_none_of_it(db, client, key_pair):
    cid, key = sent_invitation(db, [("email", "invitations")])
    with session_scope(db) as s:
        address = get_citizen(s, citizen_id=cid).email
    good = event("unsubscribe", address, f"unsub-{cid}", idempotency_key=key)
    broken = {"event": "bounce", "email": address}  # no timestamp, no sg_event_id

    reply = post_events(client, key_pair[0], [good, broken])

    assert reply.status_code == 400
    assert consents(db, cid) == {("email", "invitations"): True}


# --- Twilio -------------------------------------------------------------------------------


def twilio_post(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = TWILIO_TOKEN,
):
    url = signed_url or f"{HOOKS}{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        path, content=urlencode(params), headers={**FORM, "X-Twilio-Signature": signature}
    )


def test_twilio_stop_withdraws_sms_consent_once_and_answers_empty_twiml(db, client):
    with session_scope(db) as s:
        cid = person(s, [("sms", "invitations"), ("email", "invitations")], phone=True)
        phone = get_citizen(s, citizen_id=cid).phone
    params = {"MessageSid": f"SM{cid:032d}", "From": phone, "To": "+447700900000", "Body": "Stop"}

    first = twilio_post(client, "/webhooks/twilio/inbound", params)
    retried = twilio_post(client, "/webhooks/twilio/inbound", params)

    assert (first.status_code, retried.status_code) == (200, 200)
    assert first.text == EMPTY_TWIML
    assert first.headers["content-type"].startswith("text/xml")
    got = consents(db, cid)
    assert {p for (ch, p), v in got.items() if ch == "sms" and not v} == {
        "invitations",
        "reminders",
        "results",
        "surveys",
    }
    assert got[("email", "invitations")] is True
    with session_scope(db) as s:
        inbound = s.execute(
            select(func.count())
            .select_from(Contact)
            .where(Contact.citizen_id == cid, Contact.direction == "inbound")
        ).scalar_one()
    assert inbound == 1  # the retried delivery was not counted again


def test_twilio_bad_signature_is_403_and_nothing_changes(db, client):
    with session_scope(db) as s:
        cid = person(s, [("sms", "invitations")], phone=True)
        phone = get_citizen(s, citizen_id=cid).phone
    params = {"MessageSid": f"SM{cid:032d}", "From": phone, "Body": "STOP"}

    wrong_token = twilio_post(client, "/webhooks/twilio/inbound", params, token="another")
    # signed for the internal address instead of the public one Twilio was given
    wrong_url = twilio_post(
        client,
        "/webhooks/twilio/inbound",
        params,
        signed_url="http://testserver/webhooks/twilio/inbound",
    )

    assert (wrong_token.status_code, wrong_url.status_code) == (403, 403)
    assert consents(db, cid) == {("sms", "invitations"): True}


def test_twilio_failed_status_fails_the_message_once(db, client):
    cid, key = sent_invitation(db, [("sms", "invitations")], phone=True, preferred_channel="sms")
    with session_scope(db) as s:
        sid = s.execute(
            select(OutboxMessage.provider_id).where(OutboxMessage.idempotency_key == key)
        ).scalar_one()
    path = f"/webhooks/twilio/status?{urlencode({'key': key})}"
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}

    replies = [twilio_post(client, path, params) for _ in range(2)]
    forged = twilio_post(client, path, {**params, "ErrorCode": "21610"}, token="another")

    assert [r.status_code for r in replies] == [200, 200]
    assert forged.status_code == 403
    assert outbox_state(db, key) == ("failed", "twilio:30003")
    assert consents(db, cid) == {("sms", "invitations"): True}
    with session_scope(db) as s:
        assert s.execute(
            select(ProviderEvent.event_id).where(
                ProviderEvent.provider == "twilio_status", ProviderEvent.event_id.like(f"{sid}:%")
            )
        ).scalars().all() == [f"{sid}:undelivered"]


def test_provider_endpoints_answer_503_naming_the_missing_setting(db):
    app = create_app(settings=Settings(app=AppSettings(hooks_base_url=HOOKS)), engine=db)
    with TestClient(app) as c:
        sendgrid = c.post("/webhooks/sendgrid", content=b"[]")
        twilio = c.post("/webhooks/twilio/inbound", content=b"Body=STOP", headers=FORM)
    assert (sendgrid.status_code, sendgrid.text) == (
        503,
        "email.sendgrid_webhook_public_key is not set\n",
    )
    assert (twilio.status_code, twilio.text) == (503, "sms.twilio_auth_token is not set\n")
