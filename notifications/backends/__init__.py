"""Delivery backends, chosen by settings: ``file``, ``memory``, ``smtp``, ``sendgrid``, ``twilio``.

Use :func:`make_email_sender` and :func:`make_sms_sender`; each returns an object with the
two-method contract of :mod:`notifications.backends.base`. Provider SDKs are imported only
when their backend is made, so the laptop demo never loads them.

Configuration keywords per kind (passed through to the class):

=========  ======================================================================
kind       keywords
=========  ======================================================================
file       email: ``outbox_dir``, ``from_email``, ``from_name``;
           SMS: ``outbox_dir``
memory     ``failures`` (recipient → :class:`~.memory.SimulatedFailure`)
smtp       ``host``, ``port``, ``from_email``, ``from_name``, ``username``,
           ``password``, ``starttls``, ``use_ssl``, ``ssl_context``, ``timeout``,
           ``local_hostname``
sendgrid   ``api_key``, ``from_email``, ``from_name``, ``reply_to``, ``host``,
           ``sandbox_mode``, ``tracking``, ``batch_size``, ``max_retries``,
           ``max_wait_seconds``, ``timeout``, ``sleep``, ``clock``
twilio     ``account_sid``, ``auth_token``, ``messaging_service_sid``,
           ``status_callback``, ``api_key_sid``, ``http_client``, ``edge``, ``region``
=========  ======================================================================
"""

from __future__ import annotations

from typing import Any, Final

from core.errors import ValidationError
from notifications.backends.base import (
    Attachment,
    EmailMessageSpec,
    EmailSender,
    SendResult,
    SmsMessageSpec,
    SmsSender,
)

__all__ = [
    "EMAIL_KINDS",
    "SMS_KINDS",
    "Attachment",
    "EmailMessageSpec",
    "EmailSender",
    "SendResult",
    "SmsMessageSpec",
    "SmsSender",
    "make_email_sender",
    "make_sms_sender",
]

EMAIL_KINDS: Final = ("file", "memory", "smtp", "sendgrid")
SMS_KINDS: Final = ("file", "memory", "twilio")


def make_email_sender(kind: str, **config: Any) -> EmailSender:
    """Make the email sender named ``kind`` with its configuration.

    Args:
        kind: one of :data:`EMAIL_KINDS`.
        **config: the keywords of that backend's class (see the module docstring).

    Returns:
        An :class:`~notifications.backends.base.EmailSender`.

    Raises:
        ValidationError: (field ``kind``) an unknown kind. ``TypeError`` for a keyword the
            backend does not take or a missing required one.
    """
    if kind == "file":
        from notifications.backends.file import FileEmailSender

        return FileEmailSender(**config)
    if kind == "memory":
        from notifications.backends.memory import MemoryEmailSender

        return MemoryEmailSender(**config)
    if kind == "smtp":
        from notifications.backends.smtp import SmtpEmailSender

        return SmtpEmailSender(**config)
    if kind == "sendgrid":
        from notifications.backends.sendgrid import SendGridEmailSender

        return SendGridEmailSender(**config)
    raise ValidationError(
        f"unknown email backend {kind!r}; choose one of {', '.join(EMAIL_KINDS)}", field="kind"
    )


def make_sms_sender(kind: str, **config: Any) -> SmsSender:
    """Make the SMS sender named ``kind`` with its configuration.

    Args:
        kind: one of :data:`SMS_KINDS`.
        **config: the keywords of that backend's class (see the module docstring).

    Returns:
        An :class:`~notifications.backends.base.SmsSender`.

    Raises:
        ValidationError: (field ``kind``) an unknown kind. ``TypeError`` for a keyword the
            backend does not take or a missing required one.
    """
    if kind == "file":
        from notifications.backends.file import FileSmsSender

        return FileSmsSender(**config)
    if kind == "memory":
        from notifications.backends.memory import MemorySmsSender

        return MemorySmsSender(**config)
    if kind == "twilio":
        from notifications.backends.twilio import TwilioSmsSender

        return TwilioSmsSender(**config)
    raise ValidationError(
        f"unknown SMS backend {kind!r}; choose one of {', '.join(SMS_KINDS)}", field="kind"
    )
