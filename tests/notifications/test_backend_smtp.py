"""The SMTP backend against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.backends import EmailMessageSpec, make_email_sender
from notifications.templating import render_message
from notifications.unsubscribe import list_unsubscribe_headers

from .conftest import CollectingHandler, SmtpServer, body_of, free_port

UNSUB = "https://civic.example.org/unsubscribe?token=v1.YzE.email.reminders.sig"


def spec(key: str, to: str = "maryam@example.org") -> EmailMessageSpec:
    rendered = render_message(
        "reminder",
        "fa",
        {
            "citizen_name": "مریم",
            "organization": "شورای شهر شیراز",
            "unsubscribe_url": UNSUB,
            "consultation_title": "خط دوچرخه",
            "consultation_url": "https://civic.example.org/c/bikes",
            "closes_at": "جمعه ۲۱ تیر",
        },
    )
    return EmailMessageSpec(
        key=key,
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        headers=list_unsubscribe_headers(UNSUB),
        to_name="مریم احمدی",
    )


def test_persian_mail_round_trips_through_smtp(smtp_server: SmtpServer) -> None:
    sender = make_email_sender(
        "smtp",
        host=smtp_server.host,
        port=smtp_server.port,
        from_email="council@civic.example.org",
        from_name="شورای شهر",
    )
    message = spec("reminder:7:1:c_9:email")
    [result] = sender.send_batch([message])
    assert result.ok
    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == "council@civic.example.org"
    assert envelope.rcpt_tos == ["maryam@example.org"]
    [received] = smtp_server.handler.messages()
    assert received["Subject"] == message.subject
    assert received["Subject"].startswith("یادآوری: نظرخواهی «خط دوچرخه»")
    assert received["From"].addresses[0].display_name == "شورای شهر"
    assert body_of(received, "plain") == message.text
    html = body_of(received, "html")
    assert html.replace("\r\n", "\n") == message.html  # SMTP carries CRLF line ends
    assert received["List-Unsubscribe"].strip() == f"<{UNSUB}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Message-ID"] == result.provider_id


def test_refused_recipients_fail_alone_permanent_or_not_by_reply_code(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.refuse = {
        "gone@example.org": "550 5.1.1 No such user",
        "busy@example.org": "451 4.3.0 Try again later",
    }
    sender = make_email_sender(
        "smtp", host=smtp_server.host, port=smtp_server.port, from_email="council@civic.example.org"
    )
    results = sender.send_batch(
        [spec("a", "gone@example.org"), spec("b", "busy@example.org"), spec("c")]
    )
    assert [(r.ok, r.error_code, r.permanent) for r in results] == [
        (False, "smtp:550", True),
        (False, "smtp:451", False),
        (True, None, False),
    ]
    assert len(smtp_server.handler.envelopes) == 1


def test_unreachable_server_is_a_transient_failure_for_every_message() -> None:
    sender = make_email_sender(
        "smtp",
        host="127.0.0.1",
        port=free_port(),
        from_email="council@civic.example.org",
        timeout=2,
    )
    results = sender.send_batch([spec("a"), spec("b")])
    assert [(r.ok, r.error_code, r.permanent) for r in results] == [
        (False, "smtp:connection", False)
    ] * 2


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    """An SMTP server that requires STARTTLS and then AUTH (user "civic", password "pw")."""
    cert_path, key_path = _self_signed_certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"civic",
            b"pw",
        )
        # handled=False: let aiosmtpd answer 535 itself on failure.
        return AuthResult(success=ok, handled=False)

    handler = CollectingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    yield SmtpServer("127.0.0.1", port, handler), cert_path
    controller.stop()


def test_starttls_and_login_are_used_when_configured(
    tls_smtp_server: tuple[SmtpServer, Path],
) -> None:
    server, cert_path = tls_smtp_server
    client_context = ssl.create_default_context(cafile=str(cert_path))
    sender = make_email_sender(
        "smtp",
        host=server.host,
        port=server.port,
        from_email="council@civic.example.org",
        starttls=True,
        ssl_context=client_context,
        username="civic",
        password="pw",
    )
    [result] = sender.send_batch([spec("k")])
    assert result.ok
    assert len(server.handler.envelopes) == 1


def test_wrong_password_is_reported_as_an_auth_failure(
    tls_smtp_server: tuple[SmtpServer, Path],
) -> None:
    server, cert_path = tls_smtp_server
    sender = make_email_sender(
        "smtp",
        host=server.host,
        port=server.port,
        from_email="council@civic.example.org",
        starttls=True,
        ssl_context=ssl.create_default_context(cafile=str(cert_path)),
        username="civic",
        password="wrong",
    )
    [result] = sender.send_batch([spec("k")])
    assert (result.ok, result.error_code, result.permanent) == (False, "smtp:auth", False)
    assert server.handler.envelopes == []


def test_plain_connection_to_a_starttls_only_server_is_refused(
    tls_smtp_server: tuple[SmtpServer, Path],
) -> None:
    server, _ = tls_smtp_server
    sender = make_email_sender(
        "smtp", host=server.host, port=server.port, from_email="council@civic.example.org"
    )
    [result] = sender.send_batch([spec("k")])
    # 530 "Must issue a STARTTLS command first": our configuration, so not permanent.
    assert (result.ok, result.error_code, result.permanent) == (False, "smtp:530", False)
    assert server.handler.envelopes == []
