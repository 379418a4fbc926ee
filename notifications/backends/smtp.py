"""SMTP sender (``smtplib``): for self-hosters, a provider's SMTP relay, or a local catcher.

One connection per batch. A recipient the server refuses with a 5xx reply is a permanent
failure, with a 4xx reply a transient one (RFC 5321 §4.2.1). If the connection breaks,
the messages not yet sent are reported as transient failures. A refused sender (``MAIL
FROM``) is a configuration problem and is transient whatever its code. SMTP has no idempotency key:
each message carries a ``Message-ID`` derived from its key, so a copy resent after a retry
has the same id.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence

from notifications.backends.base import (
    EmailMessageSpec,
    SendResult,
    build_email_message,
    check_unique_keys,
)

__all__ = ["SmtpEmailSender"]


def _reply_failure(key: str, code: int) -> SendResult:
    return SendResult.failed(key, f"smtp:{code}", permanent=500 <= code < 600)


class SmtpEmailSender:
    """Sends emails through an SMTP server.

    Args:
        host: the server's host name.
        port: its port (587 for submission with STARTTLS, 25 for relays, 465 with ``ssl``).
        from_email: the sender address (envelope and ``From``).
        from_name: the sender's display name, or None.
        username: login name, or None to send without ``AUTH``.
        password: login password (used only with ``username``).
        starttls: upgrade the connection with ``STARTTLS`` before logging in.
        use_ssl: connect with implicit TLS (``SMTP_SSL``, port 465) instead.
        ssl_context: TLS settings; defaults to ``ssl.create_default_context()`` (certificate
            and host name checked).
        timeout: socket timeout in seconds.
        local_hostname: the name to give in ``EHLO``, or None for the machine's FQDN.
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        from_email: str,
        from_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._from_email = from_email
        self._from_name = from_name
        self._username = username
        self._password = password or ""
        self._starttls = starttls
        self._use_ssl = use_ssl
        self._ssl_context = ssl_context
        self._timeout = timeout
        self._local_hostname = local_hostname

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._use_ssl:
            smtp = smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
            )
        try:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self._username is not None:
                smtp.login(self._username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send_one(self, smtp: smtplib.SMTP, spec: EmailMessageSpec) -> SendResult:
        mime = build_email_message(spec, from_email=self._from_email, from_name=self._from_name)
        try:
            refused = smtp.send_message(mime, from_addr=self._from_email, to_addrs=[spec.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return _reply_failure(spec.key, code)
        except smtplib.SMTPNotSupportedError:
            # A non-ASCII address and a server without SMTPUTF8.
            return SendResult.failed(spec.key, "smtp:smtputf8", permanent=True)
        except smtplib.SMTPSenderRefused as exc:
            # Our own sender refused (e.g. 530 "issue STARTTLS first"): a configuration
            # problem, not this message's fault, so never permanent.
            return SendResult.failed(spec.key, f"smtp:{exc.smtp_code}", permanent=False)
        except smtplib.SMTPDataError as exc:
            return _reply_failure(spec.key, exc.smtp_code)
        if refused:  # only possible with several recipients; kept for safety
            return _reply_failure(spec.key, next(iter(refused.values()))[0])
        return SendResult.sent(spec.key, str(mime["Message-ID"]))

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Send ``messages`` over one connection; see :class:`~.base.EmailSender`.

        Error codes: ``"smtp:<reply code>"`` for a refusal, ``"smtp:auth"`` when the login is
        refused, ``"smtp:connection"`` when the server cannot be reached or drops the line
        (all messages not yet sent), ``"smtp:smtputf8"`` for a non-ASCII address the server
        cannot take.
        """
        check_unique_keys(messages)
        if not messages:
            return []
        results: list[SendResult] = []
        try:
            smtp = self._connect()
        except smtplib.SMTPAuthenticationError:
            return [SendResult.failed(m.key, "smtp:auth", permanent=False) for m in messages]
        except (OSError, smtplib.SMTPException):
            return [SendResult.failed(m.key, "smtp:connection", permanent=False) for m in messages]
        try:
            for spec in messages:
                try:
                    results.append(self._send_one(smtp, spec))
                except (OSError, smtplib.SMTPException):
                    break
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        results.extend(
            SendResult.failed(m.key, "smtp:connection", permanent=False)
            for m in messages[len(results) :]
        )
        return results
