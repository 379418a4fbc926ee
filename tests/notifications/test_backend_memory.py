"""The memory backends, the factory and the message specs' own checks."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from notifications.backends import (
    EmailMessageSpec,
    EmailSender,
    SendResult,
    SmsMessageSpec,
    SmsSender,
    make_email_sender,
    make_sms_sender,
)
from notifications.backends.memory import MemoryEmailSender, MemorySmsSender, SimulatedFailure


def test_memory_email_records_each_key_once() -> None:
    sender = make_email_sender("memory")
    assert isinstance(sender, MemoryEmailSender)
    spec = EmailMessageSpec("k1", "a@example.org", "Hi", "Hello")
    first = sender.send_batch([spec])
    second = sender.send_batch([spec])
    assert first == second == [SendResult("k1", True, "memory-email-1")]
    assert sender.sent == [spec]
    assert sender.attempts == 2


def test_memory_sms_simulates_an_opted_out_recipient() -> None:
    failure = SimulatedFailure("twilio:21610", opted_out=True)
    sender = make_sms_sender("memory", failures={"+989120000000": failure})
    result = sender.send(SmsMessageSpec("k", "+989120000000", "hi"))
    assert result == SendResult("k", False, None, "twilio:21610", permanent=True, opted_out=True)
    assert isinstance(sender, MemorySmsSender)
    assert sender.sent == []


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("file", {"outbox_dir": "OUT"}),
        ("memory", {}),
        ("smtp", {"host": "h", "from_email": "a@b.c"}),
        ("sendgrid", {"api_key": "SG.x", "from_email": "a@b.c"}),
    ],
)
def test_every_email_kind_satisfies_the_protocol(
    kind: str, config: dict[str, object], tmp_path: object
) -> None:
    if "outbox_dir" in config:
        config = {"outbox_dir": tmp_path}
    assert isinstance(make_email_sender(kind, **config), EmailSender)


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("file", {}),
        ("memory", {}),
        ("twilio", {"account_sid": "AC1", "auth_token": "t", "messaging_service_sid": "MG1"}),
    ],
)
def test_every_sms_kind_satisfies_the_protocol(
    kind: str, config: dict[str, object], tmp_path: object
) -> None:
    if kind == "file":
        config = {"outbox_dir": tmp_path}
    assert isinstance(make_sms_sender(kind, **config), SmsSender)


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        make_email_sender("pigeon")
    assert info.value.field == "kind"
    with pytest.raises(ValidationError):
        make_sms_sender("sendgrid")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"key": ""}, "key"),
        ({"to": "nobody"}, "to"),
        ({"subject": "a\r\nBcc: x@y.z"}, "subject"),
        ({"headers": {"X-A": "b\nBcc: x@y.z"}}, "headers"),
    ],
)
def test_email_spec_refuses_bad_fields(fields: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"key": "k", "to": "a@example.org", "subject": "s", "text": "t"}
    values.update(fields)
    with pytest.raises(ValidationError) as info:
        EmailMessageSpec(**values)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("to", "body", "field"), [("09123456789", "x", "to"), ("+989123456789", " ", "body")]
)
def test_sms_spec_refuses_bad_fields(to: str, body: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SmsMessageSpec("k", to, body)
    assert info.value.field == field


def test_email_spec_headers_cannot_change_after_creation() -> None:
    headers = {"List-Unsubscribe": "<https://x.example/u>"}
    spec = EmailMessageSpec("k", "a@example.org", "s", "t", headers=headers)
    headers["List-Unsubscribe"] = "<https://evil.example/>"
    assert spec.headers["List-Unsubscribe"] == "<https://x.example/u>"
