"""Twilio Programmable Messaging SMS sender and status-callback signature check.

Messages go out through a Messaging Service (``MessagingServiceSid``, no ``From``), which
picks the sender number and applies Advanced Opt-Out. Each message asks for status
callbacks at ``status_callback`` with the idempotency key added as the ``key`` query
parameter, so a callback can be matched to its outbox row even before the provider id is
stored. Twilio has no idempotency key for creating messages: a retried send after a network
error may send twice, which the outbox flow weighs (STACK-NOTES §3).

Refusals (twilio.com/docs/errors): error 21610 ("attempt to send to unsubscribed
recipient") means the citizen replied STOP: ``opted_out=True, permanent=True``, never
retry. HTTP 429 and 5xx are transient; 401/403 (credentials, a configuration problem) are
transient too so the messages wait for a fix; any other 4xx (invalid or unreachable number,
region not enabled …) is permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from requests import RequestException
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from notifications.backends.base import SendResult, SmsMessageSpec

__all__ = ["OPTED_OUT_CODE", "TwilioSmsSender", "callback_url_for", "verify_request_signature"]

OPTED_OUT_CODE: Final = 21610


def callback_url_for(status_callback: str, key: str) -> str:
    """``status_callback`` with ``key=<idempotency key>`` added to its query string."""
    parts = urlsplit(status_callback)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"key": key})))


class TwilioSmsSender:
    """Sends SMS with the official ``twilio.rest.Client``.

    Args:
        account_sid: the account SID (``AC…``).
        auth_token: the account's auth token (or an API key secret with ``api_key_sid``).
        messaging_service_sid: the Messaging Service SID (``MG…``).
        status_callback: the public URL Twilio posts delivery statuses to, or None to use
            the Messaging Service's own setting.
        api_key_sid: an API key SID (``SK…``) to authenticate with instead of the account
            SID, or None.
        http_client: a ``twilio.http.HttpClient`` to use instead of the default (tests pass a
            recording one), or None.
        edge: a Twilio edge location (e.g. ``"dublin"``), or None.
        region: a Twilio region (e.g. ``"ie1"``), or None.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str,
        status_callback: str | None = None,
        api_key_sid: str | None = None,
        http_client: HttpClient | None = None,
        edge: str | None = None,
        region: str | None = None,
    ) -> None:
        if not messaging_service_sid.startswith("MG"):
            raise ValueError("messaging_service_sid must be a Messaging Service SID (MG…)")
        self._client = Client(
            username=api_key_sid or account_sid,
            password=auth_token,
            account_sid=account_sid,
            http_client=http_client,
            edge=edge,
            region=region,
        )
        self._service = messaging_service_sid
        self._status_callback = status_callback

    def send(self, message: SmsMessageSpec) -> SendResult:
        """Send ``message``; see the module docstring and
        :class:`notifications.backends.base.SmsSender`.

        Error codes: ``"twilio:<Twilio error code>"`` (the HTTP status when the answer has
        no code), ``"twilio:network"``, ``"twilio:error"``.
        """
        options: dict[str, str] = {}
        if self._status_callback:
            options["status_callback"] = callback_url_for(self._status_callback, message.key)
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                messaging_service_sid=self._service,
                **options,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            # The legacy error body and the RFC 9457 one both give a Twilio code and a status;
            # the SDK puts the HTTP status in ``code`` when the body has none.
            status = int(exc.status)
            code = f"twilio:{exc.code if exc.code is not None else status}"
            if exc.code == OPTED_OUT_CODE:
                return SendResult.failed(message.key, code, permanent=True, opted_out=True)
            transient = status == 429 or status >= 500 or status in (401, 403)
            return SendResult.failed(message.key, code, permanent=not transient)
        except (RequestException, OSError):
            return SendResult.failed(message.key, "twilio:network", permanent=False)
        except TwilioException:
            return SendResult.failed(message.key, "twilio:error", permanent=False)
        return SendResult.sent(message.key, created.sid)


def verify_request_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """Check the ``X-Twilio-Signature`` of a request Twilio sent us (HMAC-SHA1).

    Args:
        auth_token: the account's auth token.
        url: the full URL Twilio requested, including the query string, exactly as
            configured at Twilio (scheme, host, path): behind a proxy, rebuild it from the
            public address, not from the internal one.
        params: the POSTed form fields.
        signature: the ``X-Twilio-Signature`` header.

    Returns:
        True if the signature matches.
    """
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
