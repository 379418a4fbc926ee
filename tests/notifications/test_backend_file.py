"""The outbox-folder backends: readable files, one per idempotency key."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from core.errors import ValidationError
from notifications.backends import (
    Attachment,
    EmailMessageSpec,
    SmsMessageSpec,
    make_email_sender,
    make_sms_sender,
)
from notifications.unsubscribe import list_unsubscribe_headers

from .conftest import body_of

UNSUB = "https://civic.example.org/unsubscribe?token=v1.abc.email.reminders.sig"


def email(key: str = "reminder:7:1:c_9:email", **overrides: object) -> EmailMessageSpec:
    fields: dict[str, object] = {
        "key": key,
        "to": "maryam@example.org",
        "to_name": "مریم احمدی",
        "subject": "یادآوری: نظرخواهی «خط دوچرخه»",
        "text": "مریم گرامی،\nهنوز رأی نداده‌اید.\n",
        "html": '<html dir="rtl" lang="fa"><body><p>مریم گرامی</p></body></html>\n',
        "headers": list_unsubscribe_headers(UNSUB),
    }
    fields.update(overrides)
    return EmailMessageSpec(**fields)  # type: ignore[arg-type]


def test_email_file_opens_as_a_mail_with_persian_subject_and_body(tmp_path: Path) -> None:
    sender = make_email_sender("file", outbox_dir=tmp_path, from_email="council@civic.example.org")
    [result] = sender.send_batch([email()])
    assert result.ok
    [path] = tmp_path.glob("*.eml")
    assert result.provider_id == path.name
    assert path.name.startswith("reminder_7_1_c_9_email-")
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "یادآوری: نظرخواهی «خط دوچرخه»"
    assert msg["To"].addresses[0].display_name == "مریم احمدی"
    # The long header is folded onto a continuation line; Python keeps the fold's space.
    assert msg["List-Unsubscribe"].strip() == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body_of(msg, "plain") == "مریم گرامی،\nهنوز رأی نداده‌اید.\n"
    assert 'dir="rtl"' in body_of(msg, "html")


def test_same_key_twice_leaves_one_unchanged_file(tmp_path: Path) -> None:
    sender = make_email_sender("file", outbox_dir=tmp_path)
    first = sender.send_batch([email()])
    before = next(tmp_path.glob("*.eml")).read_bytes()
    again = sender.send_batch([email(subject="changed")])
    assert [p.name for p in tmp_path.iterdir()] == [first[0].provider_id]
    assert next(tmp_path.glob("*.eml")).read_bytes() == before
    assert again == first


def test_keys_that_differ_only_in_unsafe_characters_get_two_files(tmp_path: Path) -> None:
    sender = make_email_sender("file", outbox_dir=tmp_path)
    sender.send_batch([email("a:b"), email("a/b")])
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_attachment_is_written_into_the_mail(tmp_path: Path) -> None:
    report = Attachment("report.pdf", b"%PDF-1.7 fake", "application/pdf")
    make_email_sender("file", outbox_dir=tmp_path).send_batch([email(attachments=(report,))])
    msg = message_from_bytes(next(tmp_path.glob("*.eml")).read_bytes(), policy=policy.default)
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "report.pdf"
    assert part.get_content() == b"%PDF-1.7 fake"


def test_repeated_key_in_one_batch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        make_email_sender("file", outbox_dir=tmp_path).send_batch([email("k"), email("k")])
    assert info.value.field == "key"


def test_sms_file_is_readable_json_with_its_segment_count(tmp_path: Path) -> None:
    sender = make_sms_sender("file", outbox_dir=tmp_path)
    body = "یادآوری: نظرخواهی «خط دوچرخه» فردا بسته می‌شود."
    result = sender.send(SmsMessageSpec("reminder:7:1:c_9:sms", "+989123456789", body))
    [path] = tmp_path.glob("*.sms.json")
    assert result.ok
    assert result.provider_id == path.name
    assert body in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "key": "reminder:7:1:c_9:sms",
        "to": "+989123456789",
        "body": body,
        "encoding": "UCS-2",
        "units": len(body),
        "segments": 1,
    }


def test_sms_same_key_twice_leaves_one_file(tmp_path: Path) -> None:
    sender = make_sms_sender("file", outbox_dir=tmp_path)
    sender.send(SmsMessageSpec("k1", "+989123456789", "first"))
    sender.send(SmsMessageSpec("k1", "+989123456789", "second"))
    [path] = tmp_path.glob("*.sms.json")
    assert json.loads(path.read_text(encoding="utf-8"))["body"] == "first"


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    make_email_sender("file", outbox_dir=tmp_path).send_batch([email("a"), email("b")])
    make_sms_sender("file", outbox_dir=tmp_path).send(SmsMessageSpec("c", "+989123456789", "x"))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml", ".eml", ".json"]


def test_unwritable_outbox_is_a_transient_failure(tmp_path: Path) -> None:
    sender = make_sms_sender("file", outbox_dir=tmp_path / "outbox")
    (tmp_path / "outbox").rmdir()
    (tmp_path / "outbox").write_text("a file where the folder was")
    result = sender.send(SmsMessageSpec("k", "+989123456789", "x"))
    assert not result.ok
    assert not result.permanent
    assert result.error_code is not None
    assert result.error_code.startswith("file:")
