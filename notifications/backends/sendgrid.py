"""SendGrid v3 Web API sender (``POST /v3/mail/send``) and event-webhook signature check.

Batching. One request carries up to 1,000 personalizations, one per recipient (SendGrid's
limit is 1,000 personalizations and 1,000 recipients per request; the client library does
not split, so we do). Every personalization has the recipient's own ``subject``, ``headers``
(``List-Unsubscribe``…), ``custom_args`` ``{"idempotency_key": key}`` (it comes back in
every event of the event webhook) and ``substitutions`` holding that recipient's rendered
text and HTML bodies: the request's ``content`` is just the two tags
:data:`TEXT_TAG` / :data:`HTML_TAG`. SendGrid caps the substitutions of one personalization
at 10,000 bytes; a message whose bodies are larger is sent alone, with literal content.
Messages are grouped so that one request holds messages with the same attachments and the
same kind of body (text only, or text + HTML).

Errors (twilio.com/docs/sendgrid/api-reference/mail-send/errors and
…/how-to-use-the-sendgrid-v3-api/rate-limits):

* 429: retried after ``Retry-After`` seconds, else until ``X-RateLimit-Reset`` (Unix time),
  else with exponential backoff (1, 2, 4 … s), at most ``max_retries`` times; a wait longer
  than ``max_wait_seconds`` is not slept but reported as a transient failure.
* 400 / 413 (nothing was sent): a request for several recipients is split in halves and
  each half sent again, so one bad address fails alone (permanent ``sendgrid:400``).
* 5xx, 401, 403, other codes and network errors: a transient failure for every message of
  the request, not retried here: after a 5xx or a timeout SendGrid may have accepted the
  mail, and the outbox flow decides whether to risk a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Final

from python_http_client.exceptions import HTTPError, TooManyRequestsError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook

from notifications.backends.base import EmailMessageSpec, SendResult, check_unique_keys

__all__ = [
    "HTML_TAG",
    "MAX_PERSONALIZATIONS",
    "MAX_SUBSTITUTION_BYTES",
    "TEXT_TAG",
    "SendGridEmailSender",
    "verify_event_signature",
]

MAX_PERSONALIZATIONS: Final = 1000
MAX_SUBSTITUTION_BYTES: Final = 10_000
TEXT_TAG: Final = "-civicflow-text-"
HTML_TAG: Final = "-civicflow-html-"

Payload = dict[str, Any]


def _substitutions(spec: EmailMessageSpec) -> dict[str, str]:
    subs = {TEXT_TAG: spec.text}
    if spec.html is not None:
        subs[HTML_TAG] = spec.html
    return subs


def _fits(spec: EmailMessageSpec) -> bool:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in _substitutions(spec).items())
    return size <= MAX_SUBSTITUTION_BYTES


def _group_key(spec: EmailMessageSpec) -> tuple[object, ...]:
    files = tuple(
        (a.filename, a.mime, hashlib.sha256(a.content).hexdigest()) for a in spec.attachments
    )
    return (spec.html is not None, files)


class SendGridEmailSender:
    """Sends emails through the SendGrid v3 mail-send API with the official client.

    Args:
        api_key: the SendGrid API key (``SG.…``), with the Mail Send permission.
        from_email: the verified sender address.
        from_name: the sender's display name, or None.
        reply_to: an address for replies, or None.
        host: API base URL; ``https://api.eu.sendgrid.com`` for EU data residency, or a local
            fake in tests.
        sandbox_mode: ask SendGrid to validate but not deliver (``mail_settings.sandbox_mode``).
        tracking: allow SendGrid's open and click tracking. Off by default: a public body
            should not track whether citizens read its mail, and click tracking rewrites
            links (including the unsubscribe link) through SendGrid's redirector.
        batch_size: personalizations per request (1 to 1,000).
        max_retries: how many times to retry a request answered with 429.
        max_wait_seconds: the longest single wait before a retry; a longer rate-limit window
            is reported as a transient failure instead.
        timeout: HTTP timeout in seconds.
        sleep: how to wait (seconds); injectable so tests do not wait.
        clock: the current Unix time in seconds (for ``X-RateLimit-Reset``); injectable.
    """

    def __init__(
        self,
        api_key: str,
        *,
        from_email: str,
        from_name: str | None = None,
        reply_to: str | None = None,
        host: str = "https://api.sendgrid.com",
        sandbox_mode: bool = False,
        tracking: bool = False,
        batch_size: int = MAX_PERSONALIZATIONS,
        max_retries: int = 5,
        max_wait_seconds: float = 120.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ValueError("a SendGrid API key is required")
        if not 1 <= batch_size <= MAX_PERSONALIZATIONS:
            raise ValueError(f"batch_size must be 1..{MAX_PERSONALIZATIONS} (got {batch_size})")
        self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self._client.client.timeout = timeout
        self._from: dict[str, str] = {"email": from_email}
        if from_name:
            self._from["name"] = from_name
        self._reply_to = reply_to
        self._sandbox_mode = sandbox_mode
        self._tracking = tracking
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._max_wait = max_wait_seconds
        self._sleep = sleep
        self._clock = clock

    # -- payload -------------------------------------------------------------------------

    def build_payload(self, specs: Sequence[EmailMessageSpec], *, substitute: bool) -> Payload:
        """The JSON body of one mail-send request for ``specs``.

        Args:
            specs: messages with the same attachments and kind of body; 1 to ``batch_size``
                of them, or exactly 1 when ``substitute`` is False.
            substitute: put each body in its personalization's ``substitutions`` (batched
                form) instead of in ``content`` (single-message form).

        Returns:
            The request body as a dict (see the module docstring for its shape).
        """
        first = specs[0]
        personalizations = []
        for spec in specs:
            to = {"email": spec.to, **({"name": spec.to_name} if spec.to_name else {})}
            item: Payload = {"to": [to], "subject": spec.subject}
            if spec.headers:
                item["headers"] = dict(spec.headers)
            if substitute:
                item["substitutions"] = _substitutions(spec)
            item["custom_args"] = {"idempotency_key": spec.key}
            personalizations.append(item)
        content = [{"type": "text/plain", "value": TEXT_TAG if substitute else first.text}]
        if first.html is not None:
            content.append({"type": "text/html", "value": HTML_TAG if substitute else first.html})
        payload: Payload = {
            "personalizations": personalizations,
            "from": dict(self._from),
            "content": content,
        }
        if self._reply_to:
            payload["reply_to"] = {"email": self._reply_to}
        if first.attachments:
            payload["attachments"] = [
                {
                    "content": base64.b64encode(a.content).decode("ascii"),
                    "filename": a.filename,
                    "type": a.mime,
                    "disposition": "attachment",
                }
                for a in first.attachments
            ]
        if not self._tracking:
            payload["tracking_settings"] = {
                "click_tracking": {"enable": False, "enable_text": False},
                "open_tracking": {"enable": False},
            }
        if self._sandbox_mode:
            payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return payload

    # -- sending -------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Send ``messages``; see the module docstring and
        :class:`notifications.backends.base.EmailSender`.

        Error codes: ``"sendgrid:<HTTP status>"`` or ``"sendgrid:network"``.
        """
        check_unique_keys(messages)
        by_key: dict[str, SendResult] = {}
        groups: dict[tuple[object, ...], list[EmailMessageSpec]] = {}
        for spec in messages:
            if _fits(spec):
                groups.setdefault(_group_key(spec), []).append(spec)
            else:
                for result in self._deliver([spec], substitute=False):
                    by_key[result.key] = result
        for group in groups.values():
            for start in range(0, len(group), self._batch_size):
                chunk = group[start : start + self._batch_size]
                for result in self._deliver(chunk, substitute=True):
                    by_key[result.key] = result
        return [by_key[spec.key] for spec in messages]

    def _deliver(self, specs: list[EmailMessageSpec], *, substitute: bool) -> list[SendResult]:
        status, message_id = self._post(self.build_payload(specs, substitute=substitute))
        if status in (200, 201, 202):
            return [SendResult.sent(spec.key, message_id) for spec in specs]
        if status in (400, 413) and len(specs) > 1:
            # Nothing was sent: split so that one bad recipient fails alone.
            middle = len(specs) // 2
            return self._deliver(specs[:middle], substitute=substitute) + self._deliver(
                specs[middle:], substitute=substitute
            )
        code = "sendgrid:network" if status == 0 else f"sendgrid:{status}"
        permanent = status in (400, 413)
        return [SendResult.failed(spec.key, code, permanent=permanent) for spec in specs]

    def _post(self, payload: Payload) -> tuple[int, str | None]:
        """POST ``payload``, retrying 429s; return (HTTP status or 0 for network, message id)."""
        attempt = 0
        while True:
            try:
                response = self._client.send(payload)
            except TooManyRequestsError as exc:
                delay = self._retry_delay(exc.headers, attempt)
                if attempt >= self._max_retries or delay > self._max_wait:
                    return 429, None
                self._sleep(delay)
                attempt += 1
                continue
            except HTTPError as exc:
                return int(exc.status_code), None
            except OSError:  # URLError, timeouts, refused connections
                return 0, None
            return int(response.status_code), response.headers.get("X-Message-Id")

    def _retry_delay(self, headers: Mapping[str, str] | None, attempt: int) -> float:
        """Seconds to wait before retrying a 429 (at least 1)."""
        headers = headers or {}
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return max(1.0, float(retry_after))
            except ValueError:
                try:
                    when = parsedate_to_datetime(retry_after).timestamp()
                except (TypeError, ValueError):
                    pass
                else:
                    return max(1.0, when - self._clock())
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(1.0, float(reset) - self._clock())
            except ValueError:
                pass
        return float(min(2**attempt, 60))


def verify_event_signature(public_key: str, payload: bytes, signature: str, timestamp: str) -> bool:
    """Check a SendGrid signed event-webhook request (ECDSA P-256 over timestamp + body).

    Args:
        public_key: the verification key from SendGrid's Mail Settings (base64 DER, no PEM
            armour).
        payload: the raw request body, exactly as received (verify before parsing).
        signature: the ``X-Twilio-Email-Event-Webhook-Signature`` header (base64).
        timestamp: the ``X-Twilio-Email-Event-Webhook-Timestamp`` header.

    Returns:
        True if the signature is valid; False if it is not, or is malformed, or the body is
        not UTF-8.
    """
    try:
        return bool(
            EventWebhook(public_key).verify_signature(payload.decode("utf-8"), signature, timestamp)
        )
    except (ValueError, TypeError):  # bad base64, bad DER, bad key, non-UTF-8 body
        return False
