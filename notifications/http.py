"""The webhook server: the HTTP endpoints mail and SMS providers call (an ASGI app).

Streamlit serves pages but cannot accept a POST, so these run as their own small server
(``civicflow hooks``, one of the processes ``civicflow up`` starts):

============================  ==============================================================
``POST /unsubscribe?token=``  RFC 8058 one-click unsubscribe: body
                              ``List-Unsubscribe=One-Click``; withdraws the one consent the
                              signed token names (:func:`notifications.delivery.
                              handle_unsubscribe`); 200, or 400 naming the field at fault.
``GET /unsubscribe?token=``   303 to the app's landing page with the same token, so a link
                              opened in a browser works wherever it lands.
``POST /webhooks/sendgrid``   SendGrid signed event webhook (ECDSA P-256, key in
                              ``email.sendgrid_webhook_public_key``); 403 on a bad signature.
``POST /webhooks/twilio/status``   Twilio status callback (``X-Twilio-Signature``).
``POST /webhooks/twilio/inbound``  Twilio inbound SMS (STOP/START …); answers empty TwiML.
``GET /health``               200 ``ok``.
============================  ==============================================================

Every request that writes opens its own transaction (:func:`core.db.session_scope`): it
commits only when the whole request succeeded, so bad input changes nothing, and the
effects are idempotent (:mod:`notifications.provider_events`), so provider retries are
harmless. Twilio signs the URL it was configured with, so the URL is rebuilt from
``app.hooks_base_url`` (the public address), never from the address the server sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core.db import get_engine, session_scope
from core.errors import NotFound, ValidationError
from core.settings import Settings, get_settings
from notifications.delivery import handle_unsubscribe
from notifications.provider_events import apply_email_events, apply_inbound_sms, apply_sms_status
from notifications.unsubscribe import unsubscribe_url
from notifications.webhooks import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    TWILIO_SIGNATURE_HEADER,
    parse_sendgrid_events,
    parse_twilio_inbound,
    parse_twilio_status,
)

__all__ = ["EMPTY_TWIML", "MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES: Final = 5 * 1024 * 1024
"""Largest request body accepted, bytes (SendGrid batches events; Twilio posts < 10 kB)."""
EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
"""The TwiML reply to an inbound SMS that sends nothing back
(twilio.com/docs/messaging/twiml: an empty ``<Response>``)."""
ONE_CLICK: Final = ("List-Unsubscribe", "One-Click")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=status)


def _refusal(exc: ValidationError | NotFound) -> PlainTextResponse:
    field = exc.field or "body"
    status = 404 if isinstance(exc, NotFound) else 403 if field == "signature" else 400
    return _text(status, f"{field}: {exc.message}")


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a ``multipart/form-data`` body (RFC 7578); files are skipped."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                fields.setdefault(name, payload.decode("utf-8", "replace"))
    return fields


def _one_click_fields(request: Request, body: bytes) -> dict[str, str]:
    """The fields of a one-click POST: RFC 8058 §3.1 says the body SHOULD be
    ``multipart/form-data`` and MAY be ``application/x-www-form-urlencoded``."""
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return _multipart(content_type, body)
    return _form(body)


def _form(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` fields (first value of each; Twilio sends one)."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def create_app(*, settings: Settings | None = None, engine: Engine | None = None) -> Starlette:
    """Build the webhook server's ASGI app.

    Args:
        settings: default :func:`core.settings.get_settings`, looked up at each request;
            used: ``app.secret_key``, ``app.base_url``,
            ``app.hooks_base_url``, ``email.sendgrid_webhook_public_key``,
            ``sms.twilio_auth_token``.
        engine: the database (default :func:`core.db.get_engine` for ``db.url``).
    Returns:
        a Starlette application; serve it with uvicorn (``civicflow hooks``) or test it with
        ``starlette.testclient.TestClient``.
    """

    def conf() -> Settings:
        return settings or get_settings()

    def db() -> Engine:
        return engine or get_engine(conf().db.url)

    def public_url(request: Request) -> str:
        # Twilio computes its signature over the URL exactly as configured at Twilio
        # (twilio.com/docs/usage/webhooks/webhooks-security), query string included.
        url = conf().app.hooks_base_url.rstrip("/") + request.url.path
        return f"{url}?{request.url.query}" if request.url.query else url

    def apply(service: Callable[..., T], **kwargs: Any) -> T:
        """Run one service in its own transaction (in a worker thread: the DB blocks)."""
        with session_scope(db()) as session:
            return service(session, **kwargs)

    async def health(_request: Request) -> Response:
        return _text(200, "ok")

    async def unsubscribe_landing(request: Request) -> Response:
        target = f"{conf().app.base_url.rstrip('/')}/unsubscribe"
        token = request.query_params.get("token")
        if token:
            try:
                target = unsubscribe_url(target, token)
            except ValidationError as exc:
                return _refusal(exc)
        return RedirectResponse(target, status_code=303)

    async def unsubscribe_one_click(request: Request) -> Response:
        token = request.query_params.get("token", "")
        if not token:
            return _text(400, "token: the query parameter token is required")
        body = await _body(request)
        if body is None:
            return _text(413, "body: too large")
        if _one_click_fields(request, body).get(ONE_CLICK[0]) != ONE_CLICK[1]:
            return _text(400, "List-Unsubscribe: the body must be List-Unsubscribe=One-Click")
        secret = conf().app.secret_key.get_secret_value()

        def withdraw() -> None:
            with session_scope(db()) as session:
                handle_unsubscribe(session, token=token, secret=secret)

        try:
            await run_in_threadpool(withdraw)
        except (ValidationError, NotFound) as exc:
            return _refusal(exc)
        return _text(200, "unsubscribed")

    async def sendgrid_events(request: Request) -> Response:
        key = conf().email.sendgrid_webhook_public_key
        if not key:
            return _text(503, "email.sendgrid_webhook_public_key is not set")
        body = await _body(request)
        if body is None:
            return _text(413, "body: too large")
        try:
            events = parse_sendgrid_events(
                body,
                signature=request.headers.get(SENDGRID_SIGNATURE_HEADER, ""),
                timestamp=request.headers.get(SENDGRID_TIMESTAMP_HEADER, ""),
                public_key=key,
            )
            report = await run_in_threadpool(apply, apply_email_events, events=events)
        except (ValidationError, NotFound) as exc:
            return _refusal(exc)
        return _text(200, f"applied {report.applied}, duplicates {report.duplicates}")

    def twilio(kind: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            token = conf().sms.twilio_auth_token
            if token is None or not token.get_secret_value():
                return _text(503, "sms.twilio_auth_token is not set")
            body = await _body(request)
            if body is None:
                return _text(413, "body: too large")
            params = _form(body)
            signature = request.headers.get(TWILIO_SIGNATURE_HEADER, "")
            auth = token.get_secret_value()
            try:
                if kind == "status":
                    event = parse_twilio_status(
                        public_url(request), params, signature=signature, auth_token=auth
                    )
                    await run_in_threadpool(apply, apply_sms_status, event=event)
                    return Response(status_code=200)
                inbound = parse_twilio_inbound(
                    public_url(request), params, signature=signature, auth_token=auth
                )
                await run_in_threadpool(apply, apply_inbound_sms, inbound=inbound)
            except (ValidationError, NotFound) as exc:
                return _refusal(exc)
            return Response(EMPTY_TWIML, media_type="text/xml")

        return endpoint

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/unsubscribe", unsubscribe_landing, methods=["GET"]),
            Route("/unsubscribe", unsubscribe_one_click, methods=["POST"]),
            Route("/webhooks/sendgrid", sendgrid_events, methods=["POST"]),
            Route("/webhooks/twilio/status", twilio("status"), methods=["POST"]),
            Route("/webhooks/twilio/inbound", twilio("inbound"), methods=["POST"]),
        ]
    )
