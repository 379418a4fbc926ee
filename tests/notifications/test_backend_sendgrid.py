"""The SendGrid backend through the real SendGridAPIClient, pointed at a loopback server."""

from __future__ import annotations

import base64

import pytest

from notifications.backends import Attachment, EmailMessageSpec, make_email_sender
from notifications.backends.sendgrid import SendGridEmailSender
from notifications.unsubscribe import list_unsubscribe_headers

from .conftest import RecordedRequest, RecordingHttpServer, Reply, free_port

TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
}


def unsub(i: int) -> str:
    return f"https://civic.example.org/unsubscribe?token=v1.c{i}.email.invitations.sig"


def spec(i: int, **overrides: object) -> EmailMessageSpec:
    fields: dict[str, object] = {
        "key": f"invitation:1:c{i}:email",
        "to": f"c{i}@example.org",
        "to_name": f"شهروند {i}",
        "subject": f"دعوت به نظرخواهی {i}",
        "text": f"سلام {i}",
        "html": f"<p>سلام {i}</p>",
        "headers": list_unsubscribe_headers(unsub(i)),
    }
    fields.update(overrides)
    return EmailMessageSpec(**fields)  # type: ignore[arg-type]


def sender(
    server: RecordingHttpServer, sleeps: list[float] | None = None, **config: object
) -> SendGridEmailSender:
    """A sender pointed at ``server``; waits are recorded in ``sleeps`` instead of slept."""
    if sleeps is not None:
        config["sleep"] = sleeps.append
    made = make_email_sender(
        "sendgrid",
        api_key="SG.test",
        host=server.url,
        from_email="council@civic.example.org",
        from_name="Shiraz Council",
        **config,
    )
    assert isinstance(made, SendGridEmailSender)
    return made


def test_2500_recipients_go_out_in_three_requests_of_1000_1000_500(
    http_server: RecordingHttpServer,
) -> None:
    messages = [spec(i) for i in range(2500)]
    results = sender(http_server).send_batch(messages)

    assert [r.method for r in http_server.requests] == ["POST"] * 3
    assert {r.path for r in http_server.requests} == {"/v3/mail/send"}
    bodies = [r.json() for r in http_server.requests]
    assert [len(b["personalizations"]) for b in bodies] == [1000, 1000, 500]
    headers = http_server.requests[0].headers
    assert headers["Authorization"] == "Bearer SG.test"
    assert headers["Content-Type"] == "application/json"

    # The exact shape of a request body.
    first = bodies[0]
    assert first == {
        "personalizations": first["personalizations"],
        "from": {"email": "council@civic.example.org", "name": "Shiraz Council"},
        "content": [
            {"type": "text/plain", "value": "-civicflow-text-"},
            {"type": "text/html", "value": "-civicflow-html-"},
        ],
        "tracking_settings": TRACKING_OFF,
    }
    assert first["personalizations"][7] == {
        "to": [{"email": "c7@example.org", "name": "شهروند 7"}],
        "subject": "دعوت به نظرخواهی 7",
        "headers": {
            "List-Unsubscribe": f"<{unsub(7)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "substitutions": {"-civicflow-text-": "سلام 7", "-civicflow-html-": "<p>سلام 7</p>"},
        "custom_args": {"idempotency_key": "invitation:1:c7:email"},
    }
    # Every recipient exactly once, in order.
    sent_keys = [p["custom_args"]["idempotency_key"] for b in bodies for p in b["personalizations"]]
    assert sent_keys == [m.key for m in messages]

    assert [r.key for r in results] == [m.key for m in messages]
    assert all(r.ok for r in results)
    assert {r.provider_id for r in results[:1000]} == {"msg-1"}
    assert {r.provider_id for r in results[2000:]} == {"msg-3"}


def test_429_then_202_is_retried_after_retry_after(http_server: RecordingHttpServer) -> None:
    http_server.script = [Reply(429, {"Retry-After": "7"}, b'{"errors":[{"message":"slow"}]}')]
    sleeps: list[float] = []
    [result] = sender(http_server, sleeps).send_batch([spec(1)])
    assert result.ok
    assert result.provider_id == "msg-2"
    assert sleeps == [7.0]
    assert len(http_server.requests) == 2
    assert http_server.requests[0].body == http_server.requests[1].body


def test_429_waits_until_the_rate_limit_reset(http_server: RecordingHttpServer) -> None:
    http_server.script = [Reply(429, {"X-RateLimit-Reset": "1000012"})]
    sleeps: list[float] = []
    [result] = sender(http_server, sleeps, clock=lambda: 1_000_000.0).send_batch([spec(1)])
    assert result.ok
    assert sleeps == [12.0]


def test_429_without_hints_backs_off_exponentially(http_server: RecordingHttpServer) -> None:
    http_server.script = [Reply(429), Reply(429), Reply(429)]
    sleeps: list[float] = []
    [result] = sender(http_server, sleeps).send_batch([spec(1)])
    assert result.ok
    assert sleeps == [1.0, 2.0, 4.0]


def test_429_past_the_retry_budget_is_a_transient_failure(
    http_server: RecordingHttpServer,
) -> None:
    http_server.responder = lambda request: Reply(429, {"Retry-After": "1"})
    sleeps: list[float] = []
    [result] = sender(http_server, sleeps, max_retries=2).send_batch([spec(1)])
    assert (result.ok, result.error_code, result.permanent) == (False, "sendgrid:429", False)
    assert len(http_server.requests) == 3
    assert sleeps == [1.0, 1.0]


def test_429_with_a_long_window_is_not_slept_through(http_server: RecordingHttpServer) -> None:
    http_server.script = [Reply(429, {"Retry-After": "3600"})]
    sleeps: list[float] = []
    [result] = sender(http_server, sleeps, max_wait_seconds=120).send_batch([spec(1)])
    assert (result.ok, result.error_code) == (False, "sendgrid:429")
    assert sleeps == []


def test_a_bad_address_fails_alone_after_the_batch_is_split(
    http_server: RecordingHttpServer,
) -> None:
    def refuse_bad(request: RecordedRequest) -> Reply | None:
        return (
            Reply(400, body=b'{"errors":[{"field":"personalizations.0.to"}]}')
            if (b"bad@example.org" in request.body)
            else None
        )

    http_server.responder = refuse_bad
    messages = [spec(i) for i in range(8)]
    messages[5] = spec(5, to="bad@example.org")
    results = sender(http_server).send_batch(messages)
    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    assert (results[5].error_code, results[5].permanent) == ("sendgrid:400", True)
    delivered = [
        p["custom_args"]["idempotency_key"]
        for r in http_server.requests
        if b"bad@example.org" not in r.body
        for p in r.json()["personalizations"]
    ]
    assert sorted(delivered) == sorted(m.key for i, m in enumerate(messages) if i != 5)


def test_server_error_is_transient_and_not_retried(http_server: RecordingHttpServer) -> None:
    http_server.script = [Reply(500)]
    results = sender(http_server).send_batch([spec(1), spec(2)])
    assert [(r.ok, r.error_code, r.permanent) for r in results] == [
        (False, "sendgrid:500", False)
    ] * 2
    assert len(http_server.requests) == 1


def test_unreachable_api_is_a_transient_network_failure() -> None:
    made = make_email_sender(
        "sendgrid",
        api_key="SG.test",
        host=f"http://127.0.0.1:{free_port()}",
        from_email="council@civic.example.org",
        timeout=2,
    )
    [result] = made.send_batch([spec(1)])
    assert (result.ok, result.error_code, result.permanent) == (False, "sendgrid:network", False)


def test_a_body_too_large_for_substitutions_is_sent_alone_with_literal_content(
    http_server: RecordingHttpServer,
) -> None:
    long_text = "گزارش " * 2000  # 22,000 bytes of UTF-8, over SendGrid's 10,000
    results = sender(http_server).send_batch([spec(1), spec(2, text=long_text, html=None), spec(3)])
    assert all(r.ok for r in results)
    bodies = [r.json() for r in http_server.requests]
    [alone] = [b for b in bodies if len(b["personalizations"]) == 1]
    assert alone["content"] == [{"type": "text/plain", "value": long_text}]
    assert "substitutions" not in alone["personalizations"][0]
    [batched] = [b for b in bodies if len(b["personalizations"]) == 2]
    assert [p["to"][0]["email"] for p in batched["personalizations"]] == [
        "c1@example.org",
        "c3@example.org",
    ]


def test_messages_with_the_same_attachment_share_a_request(
    http_server: RecordingHttpServer,
) -> None:
    report = Attachment("report.pdf", b"%PDF-1.7 fake", "application/pdf")
    with_report = [spec(i, attachments=(report,)) for i in range(3)]
    sender(http_server, sandbox_mode=True).send_batch([*with_report, spec(9)])
    bodies = sorted(
        (r.json() for r in http_server.requests), key=lambda b: -len(b["personalizations"])
    )
    assert [len(b["personalizations"]) for b in bodies] == [3, 1]
    assert bodies[0]["attachments"] == [
        {
            "content": base64.b64encode(b"%PDF-1.7 fake").decode(),
            "filename": "report.pdf",
            "type": "application/pdf",
            "disposition": "attachment",
        }
    ]
    assert "attachments" not in bodies[1]
    assert bodies[0]["mail_settings"] == {"sandbox_mode": {"enable": True}}


@pytest.mark.parametrize("batch_size", [0, 1001])
def test_batch_size_outside_sendgrid_limits_is_refused(batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        SendGridEmailSender("SG.x", from_email="a@b.c", batch_size=batch_size)
