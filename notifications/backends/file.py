"""Outbox-folder senders for the laptop demo: each message becomes a file a person can open.

Emails are written as ``<safe key>.eml`` (RFC 5322, opens in any mail program) and SMS as
``<safe key>.sms.json`` (UTF-8 JSON with the text, its encoding and its segment count). The
file name comes from the idempotency key (:func:`notifications.backends.base.safe_filename`),
and a file is created only if none exists yet, so sending the same key twice leaves one file.
Each file is written to a temporary name first and then linked into place, so a reader never
sees half a message.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from notifications.backends.base import (
    EmailMessageSpec,
    SendResult,
    SmsMessageSpec,
    build_email_message,
    check_unique_keys,
    safe_filename,
)
from notifications.sms import count_segments

__all__ = ["FileEmailSender", "FileSmsSender"]


def _write_once(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` unless it exists; atomic for readers of the folder."""
    if path.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # os.link fails if another writer got there first; keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


class FileEmailSender:
    """Writes each email to ``<outbox_dir>/<safe key>.eml``.

    Args:
        outbox_dir: the folder to write to (created if missing).
        from_email: the sender address written into ``From``.
        from_name: the sender's display name, or None.
    """

    def __init__(
        self,
        outbox_dir: str | os.PathLike[str],
        *,
        from_email: str = "civicflow@localhost",
        from_name: str | None = None,
    ) -> None:
        self.outbox_dir = Path(outbox_dir)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        self._from_email = from_email
        self._from_name = from_name

    def path_for(self, key: str) -> Path:
        """The file an email with idempotency key ``key`` is written to."""
        return self.outbox_dir / f"{safe_filename(key)}.eml"

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Write ``messages``; see :class:`notifications.backends.base.EmailSender`.

        A message whose file cannot be written (disk full, permissions) gets a transient
        failure ``"file:<errno name>"``.
        """
        check_unique_keys(messages)
        results = []
        for spec in messages:
            path = self.path_for(spec.key)
            mime = build_email_message(spec, from_email=self._from_email, from_name=self._from_name)
            try:
                _write_once(path, mime.as_bytes())
            except OSError as exc:
                results.append(SendResult.failed(spec.key, _os_code(exc), permanent=False))
                continue
            results.append(SendResult.sent(spec.key, path.name))
        return results


class FileSmsSender:
    """Writes each SMS to ``<outbox_dir>/<safe key>.sms.json``.

    The JSON object has ``key``, ``to``, ``body``, ``encoding`` (``"GSM-7"``/``"UCS-2"``),
    ``units`` and ``segments``.

    Args:
        outbox_dir: the folder to write to (created if missing).
    """

    def __init__(self, outbox_dir: str | os.PathLike[str]) -> None:
        self.outbox_dir = Path(outbox_dir)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        """The file an SMS with idempotency key ``key`` is written to."""
        return self.outbox_dir / f"{safe_filename(key)}.sms.json"

    def send(self, message: SmsMessageSpec) -> SendResult:
        """Write ``message``; see :class:`notifications.backends.base.SmsSender`."""
        path = self.path_for(message.key)
        counted = count_segments(message.body)
        record = {
            "key": message.key,
            "to": message.to,
            "body": message.body,
            "encoding": counted.encoding,
            "units": counted.units,
            "segments": counted.segments,
        }
        data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        try:
            _write_once(path, data)
        except OSError as exc:
            return SendResult.failed(message.key, _os_code(exc), permanent=False)
        return SendResult.sent(message.key, path.name)


def _os_code(exc: OSError) -> str:
    return f"file:{errno.errorcode.get(exc.errno or 0, 'oserror')}"
