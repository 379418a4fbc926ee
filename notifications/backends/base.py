"""The two-method contract every delivery backend implements, and the values it exchanges.

``EmailSender.send_batch`` and ``SmsSender.send`` take fully rendered messages and report one
:class:`SendResult` per message. They never raise for a message the provider refused: the
result says whether the refusal is permanent (do not retry: bad address, opted out) or
transient (retry later: rate limit, network, provider outage). They raise
:class:`core.errors.ValidationError` only for a malformed call (e.g. two messages with the same
idempotency key in one batch).

The idempotency key is the outbox row's unique key, e.g.
``reminder:{consultation}:{round}:{citizen}:sms``. Backends carry it to the provider where
the provider supports it (SendGrid ``custom_args``, a Twilio status-callback parameter, a
deterministic ``Message-ID``), so events can be matched back to the outbox row.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Final, Protocol, runtime_checkable

from core.errors import ValidationError

__all__ = [
    "Attachment",
    "EmailMessageSpec",
    "EmailSender",
    "SendResult",
    "SmsMessageSpec",
    "SmsSender",
    "build_email_message",
    "check_unique_keys",
    "message_id_for",
    "safe_filename",
]

_NEWLINE: Final = re.compile(r"[\r\n]")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


_POLICY = email.policy.default.clone(max_line_length=998)

def _no_newlines(value: str, field_name: str) -> None:
    # A CR or LF in a header value would let it start a new header (header injection).
    if _NEWLINE.search(value):
        raise ValidationError("must be a single line", field=field_name)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to an email.

    Attributes:
        filename: the name shown to the reader, e.g. ``"report-2026-07.pdf"``.
        content: the file's bytes.
        mime: its media type, ``"maintype/subtype"``, e.g. ``"application/pdf"``.
    """

    filename: str
    content: bytes
    mime: str

    def __post_init__(self) -> None:
        _no_newlines(self.filename, "filename")
        if not self.filename:
            raise ValidationError("an attachment needs a file name", field="filename")
        maintype, slash, subtype = self.mime.partition("/")
        if not (maintype and slash and subtype) or _NEWLINE.search(self.mime):
            raise ValidationError(f"not a media type: {self.mime!r}", field="mime")


@dataclass(frozen=True, slots=True)
class EmailMessageSpec:
    """One rendered email to one recipient.

    Attributes:
        key: the idempotency key (the outbox row's unique key); unique within a batch.
        to: the recipient's address, already normalised
            (:func:`core.contacts.normalize_email`).
        subject: one line.
        text: the plain-text body.
        html: the HTML body, or None for text-only mail.
        headers: extra headers, normally
            :func:`notifications.unsubscribe.list_unsubscribe_headers` (``List-Unsubscribe``
            and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``). Single-line values.
        attachments: files to attach (e.g. the governance report PDF).
        to_name: the recipient's display name, or None.
    """

    key: str
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    to_name: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValidationError("an idempotency key is required", field="key")
        if "@" not in self.to:
            raise ValidationError("an email address is required", field="to")
        for name, value in (("key", self.key), ("to", self.to), ("subject", self.subject)):
            _no_newlines(value, name)
        if self.to_name is not None:
            _no_newlines(self.to_name, "to_name")
        for header, value in self.headers.items():
            _no_newlines(f"{header}{value}", "headers")
        # Freeze the caller's dict so the spec cannot change after it was checked.
        object.__setattr__(self, "headers", dict(self.headers))


@dataclass(frozen=True, slots=True)
class SmsMessageSpec:
    """One rendered SMS to one recipient.

    Attributes:
        key: the idempotency key (the outbox row's unique key).
        to: the recipient's number in E.164 form (:func:`core.contacts.normalize_phone`).
        body: the text, already checked with :func:`notifications.sms.check_sms_length`.
    """

    key: str
    to: str
    body: str

    def __post_init__(self) -> None:
        if not self.key:
            raise ValidationError("an idempotency key is required", field="key")
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", self.to):
            raise ValidationError("the number must be in E.164 form (+<digits>)", field="to")
        if not self.body.strip():
            raise ValidationError("the SMS text is empty", field="body")


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one message.

    Attributes:
        key: the idempotency key of the message this is about.
        ok: the provider accepted the message (accepted is not yet delivered: delivery and
            bounces arrive later through webhooks).
        provider_id: the provider's id for it (SendGrid ``X-Message-Id``, Twilio ``SM…`` sid,
            the SMTP ``Message-ID``, the outbox file name), or None when not accepted.
        error_code: ``"<provider>:<code>"`` when not accepted, e.g. ``"twilio:21610"``,
            ``"sendgrid:429"``, ``"smtp:550"``, ``"smtp:connection"``; never personal data.
        permanent: retrying cannot help (invalid or refused address, opted out).
        opted_out: the recipient has opted out at the provider (e.g. replied STOP): withdraw
            the consent and never retry.
    """

    key: str
    ok: bool
    provider_id: str | None = None
    error_code: str | None = None
    permanent: bool = False
    opted_out: bool = False

    @classmethod
    def sent(cls, key: str, provider_id: str | None) -> SendResult:
        """An accepted message."""
        return cls(key=key, ok=True, provider_id=provider_id)

    @classmethod
    def failed(
        cls, key: str, error_code: str, *, permanent: bool, opted_out: bool = False
    ) -> SendResult:
        """A refused message (``opted_out`` implies ``permanent``)."""
        return cls(
            key=key,
            ok=False,
            error_code=error_code,
            permanent=permanent or opted_out,
            opted_out=opted_out,
        )


@runtime_checkable
class EmailSender(Protocol):
    """Sends rendered emails."""

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Send ``messages``; return one result per message, in the same order.

        Raises:
            ValidationError: two messages share an idempotency key.
        """
        ...


@runtime_checkable
class SmsSender(Protocol):
    """Sends rendered SMS."""

    def send(self, message: SmsMessageSpec) -> SendResult:
        """Send ``message`` and say what happened to it."""
        ...


def check_unique_keys(messages: Sequence[EmailMessageSpec]) -> None:
    """Refuse a batch in which two messages share an idempotency key.

    Raises:
        ValidationError: (field ``key``) naming the first repeated key.
    """
    seen: set[str] = set()
    for message in messages:
        if message.key in seen:
            raise ValidationError(f"repeated in one batch: {message.key!r}", field="key")
        seen.add(message.key)


def message_id_for(key: str, domain: str) -> str:
    """A ``Message-ID`` derived from the idempotency key, so a resent copy carries the same id.

    Args:
        key: the idempotency key.
        domain: the sender's domain, e.g. ``"civicflow.example.org"``.

    Returns:
        ``"<sha256(key)[:32]@domain>"`` (RFC 5322 msg-id; the key itself, which may hold a
        citizen id, is not revealed).
    """
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def safe_filename(key: str) -> str:
    """A file-system-safe, collision-free stem for an idempotency key.

    Characters other than ``A-Z a-z 0-9 . _ -`` become ``_`` and a short hash of the exact key
    is appended, so two keys that differ only in unsafe characters still get two files.

    Returns:
        e.g. ``"reminder_42_1_c9f_email-5d41402abc4b"`` (at most ~130 characters).
    """
    stem = _UNSAFE.sub("_", key).strip("._")[:110] or "message"
    return f"{stem}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


def build_email_message(
    spec: EmailMessageSpec, *, from_email: str, from_name: str | None = None
) -> EmailMessage:
    """Build the MIME message for ``spec`` (used by the SMTP and file backends).

    The result is ``multipart/alternative`` (text + HTML) or ``text/plain``, inside
    ``multipart/mixed`` when there are attachments. Non-ASCII subjects and names are
    RFC 2047-encoded and bodies are UTF-8 by ``email.policy.default``.

    Args:
        spec: the message.
        from_email: the sender address.
        from_name: the sender's display name, or None.

    Returns:
        An :class:`email.message.EmailMessage` with ``From``, ``To``, ``Subject``, ``Date``,
        a deterministic ``Message-ID`` (:func:`message_id_for`) and ``spec.headers``.
    """
    msg = EmailMessage()
    msg["From"] = Address(display_name=from_name or "", addr_spec=from_email)
    msg["To"] = Address(display_name=spec.to_name or "", addr_spec=spec.to)
    msg["Subject"] = spec.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id_for(spec.key, from_email.rpartition("@")[2] or "localhost")
    for header, value in spec.headers.items():
        msg[header] = value
    msg.set_content(spec.text)
    if spec.html is not None:
        msg.add_alternative(spec.html, subtype="html")
    for attachment in spec.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    # Serialise with RFC 5322's 998-character line limit: folding a long List-Unsubscribe
    # URL at 78 makes the policy RFC 2047-encode it, which mail providers do not parse.
    # (Set after the bodies, whose transfer encoding was chosen under the default policy.)
    msg.policy = _POLICY
    return msg
