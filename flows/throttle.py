"""Provider rate limits shared by every worker: Prefect global concurrency limits.

With several workers, an in-process limiter no longer sees the total sent to SendGrid or
Twilio, so the limit lives in the Prefect server as a global concurrency limit with slot
decay (a token bucket; ``docs/scale-out.md``). When the settings name one
(``CIVICFLOW_PREFECT__EMAIL_RATE_LIMIT`` / ``CIVICFLOW_PREFECT__SMS_RATE_LIMIT``), delivery
takes slots from it before each provider request: one per SendGrid request (up to
``per_request`` personalizations each), one per SMS.

A slot is taken *before* the request, so a refusal means nothing was sent: the messages are
answered ``rate_limit:unavailable`` (transient), and delivery defers them with backoff —
never "sending" with an unknown outcome. :func:`check_limits` is called before any row is
claimed, so a limit that was named but never created stops the run at once with a clear
message instead of sending unthrottled (Prefect's own ``strict=False`` behaviour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from notifications.backends.base import (
    EmailMessageSpec,
    EmailSender,
    SendResult,
    SmsMessageSpec,
    SmsSender,
)

#: the error code a message gets when no slot could be taken (delivery defers it)
UNAVAILABLE = "rate_limit:unavailable"


def _take(name: str, occupy: int, timeout_seconds: float | None) -> bool:
    from prefect.concurrency.sync import rate_limit

    try:
        rate_limit(name, occupy=occupy, timeout_seconds=timeout_seconds, strict=True)
    except Exception:  # any refusal or outage: nothing was sent
        return False
    return True


class ThrottledEmailSender:
    """An :class:`EmailSender` that takes slots of a global limit before each request.

    Args:
        inner: the real sender (SendGrid, SMTP, file …).
        limit: the global concurrency limit's name, e.g. ``sendgrid``.
        per_request: messages one provider request carries (SendGrid: 1,000
            personalizations), so a batch of n messages takes ``ceil(n / per_request)``.
        timeout_seconds: longest wait for the slots (None: wait as long as it takes).
    """

    def __init__(self, inner: EmailSender, limit: str, *, per_request: int = 1000,
                 timeout_seconds: float | None = 300.0) -> None:
        self.inner, self.limit, self.per_request = inner, limit, max(1, per_request)
        self.timeout_seconds = timeout_seconds

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Take ``ceil(len / per_request)`` slots, then send; without slots send nothing."""
        if not messages:
            return []
        slots = math.ceil(len(messages) / self.per_request)
        if not _take(self.limit, slots, self.timeout_seconds):
            return [SendResult.failed(m.key, UNAVAILABLE, permanent=False) for m in messages]
        return self.inner.send_batch(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ThrottledSmsSender:
    """An :class:`SmsSender` that takes one slot of a global limit before each SMS.

    Args:
        inner: the real sender (Twilio, file …).
        limit: the global concurrency limit's name, e.g. ``twilio``.
        timeout_seconds: longest wait for a slot (None: wait as long as it takes).
    """

    def __init__(self, inner: SmsSender, limit: str, *,
                 timeout_seconds: float | None = 300.0) -> None:
        self.inner, self.limit, self.timeout_seconds = inner, limit, timeout_seconds

    def send(self, message: SmsMessageSpec) -> SendResult:
        """Take one slot, then send; without a slot send nothing (transient refusal)."""
        if not _take(self.limit, 1, self.timeout_seconds):
            return SendResult.failed(message.key, UNAVAILABLE, permanent=False)
        return self.inner.send(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def check_limits(names: Sequence[str]) -> None:
    """Make sure every named global concurrency limit exists and is active on the server.

    Args:
        names: limit names from the settings (empty: nothing to check).
    Raises:
        RuntimeError: a limit is missing or inactive, naming it and the command that
            creates it.
    """
    if not names:
        return
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name in names:
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                limit = None
            if limit is None or not limit.active:
                raise RuntimeError(
                    f"the provider rate limit {name!r} is named in the settings but does not "
                    f"exist or is inactive on the Prefect server; create it with "
                    f"`prefect gcl create {name} --limit N --slot-decay-per-second R`")


def throttled(email: EmailSender, sms: SmsSender, *, email_limit: str | None,
              sms_limit: str | None, per_request: int = 1000
              ) -> tuple[EmailSender, SmsSender]:
    """Wrap the senders whose limit is named; check those limits exist first.

    Args:
        email / sms: the senders :func:`notifications.delivery.make_senders` built.
        email_limit / sms_limit: global concurrency limit names, or None (no throttle).
        per_request: messages per email provider request.
    Returns:
        ``(email sender, sms sender)``, wrapped where a limit is named.
    Raises:
        RuntimeError: a named limit does not exist (see :func:`check_limits`).
    """
    check_limits([n for n in (email_limit, sms_limit) if n])
    if email_limit:
        email = ThrottledEmailSender(email, email_limit, per_request=per_request)
    if sms_limit:
        sms = ThrottledSmsSender(sms, sms_limit)
    return email, sms
