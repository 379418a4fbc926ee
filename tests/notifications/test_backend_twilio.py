"""The Twilio backend through the real twilio.rest.Client with a recording HttpClient."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response

from notifications.backends import SendResult, SmsMessageSpec, make_sms_sender

ACCOUNT = "AC" + "0" * 32
SERVICE = "MG" + "1" * 32
CALLBACK = "https://civic.example.org/webhooks/twilio/status"
BODY = "یادآوری: نظرخواهی «خط دوچرخه» فردا بسته می‌شود. https://civic.example.org/c/7"


@dataclass
class Call:
    method: str
    uri: str
    data: dict[str, object]
    auth: tuple[str, str] | None


class RecordingHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no stubs
    """Records each request and answers with the next scripted (status, JSON) pair."""

    def __init__(self, *replies: tuple[int, dict[str, object]]) -> None:
        super().__init__(logger=logging.getLogger("test.twilio"), is_async=False)
        self.calls: list[Call] = []
        self.replies = list(replies)

    def request(
        self,
        method: str,
        uri: str,
        params: object = None,
        data: dict[str, object] | None = None,
        headers: object = None,
        auth: tuple[str, str] | None = None,
        timeout: object = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.calls.append(Call(method, uri, dict(data or {}), auth))
        status, body = self.replies.pop(0) if self.replies else (201, created(len(self.calls)))
        return Response(status, json.dumps(body))


def created(n: int) -> dict[str, object]:
    return {
        "sid": f"SM{n:032d}",
        "status": "accepted",
        "account_sid": ACCOUNT,
        "messaging_service_sid": SERVICE,
        "body": BODY,
    }


def error(code: int, status: int) -> tuple[int, dict[str, object]]:
    return status, {"code": code, "message": "refused", "more_info": "", "status": status}


def sender(client: RecordingHttpClient, **config: object) -> object:
    values: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": "token",
        "messaging_service_sid": SERVICE,
        "http_client": client,
    }
    values.update(config)
    return make_sms_sender("twilio", **values)


def test_message_is_posted_through_the_messaging_service_with_a_status_callback() -> None:
    client = RecordingHttpClient()
    result = sender(client, status_callback=CALLBACK).send(  # type: ignore[attr-defined]
        SmsMessageSpec("reminder:7:1:c_9:sms", "+989123456789", BODY)
    )
    assert result == SendResult("reminder:7:1:c_9:sms", True, f"SM{1:032d}")
    [call] = client.calls
    assert call.method == "POST"
    assert call.uri == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert call.auth == (ACCOUNT, "token")
    assert call.data == {
        "To": "+989123456789",
        "Body": BODY,
        "MessagingServiceSid": SERVICE,
        "StatusCallback": f"{CALLBACK}?key=reminder%3A7%3A1%3Ac_9%3Asms",
    }
    assert parse_qs(urlsplit(str(call.data["StatusCallback"])).query) == {
        "key": ["reminder:7:1:c_9:sms"]
    }


def test_without_a_status_callback_none_is_sent() -> None:
    client = RecordingHttpClient()
    sender(client).send(SmsMessageSpec("k", "+989123456789", "hi"))  # type: ignore[attr-defined]
    assert "StatusCallback" not in client.calls[0].data
    assert "From" not in client.calls[0].data


def test_unsubscribed_recipient_21610_is_opted_out_and_permanent() -> None:
    client = RecordingHttpClient(error(21610, 400))
    result = sender(client).send(SmsMessageSpec("k", "+989123456789", "hi"))  # type: ignore[attr-defined]
    assert result == SendResult("k", False, None, "twilio:21610", permanent=True, opted_out=True)


@pytest.mark.parametrize(
    ("reply", "code", "permanent"),
    [
        (error(21211, 400), "twilio:21211", True),  # invalid 'To' number
        (error(21408, 400), "twilio:21408", True),  # region not enabled
        (error(20429, 429), "twilio:20429", False),  # too many requests
        (error(20500, 500), "twilio:20500", False),  # Twilio outage
        (error(20003, 401), "twilio:20003", False),  # bad credentials: fix and retry
        ((503, {}), "twilio:503", False),  # no Twilio code: the HTTP status
    ],
)
def test_refusals_are_permanent_or_transient_by_status(
    reply: tuple[int, dict[str, object]], code: str, permanent: bool
) -> None:
    result = sender(RecordingHttpClient(reply)).send(  # type: ignore[attr-defined]
        SmsMessageSpec("k", "+989123456789", "hi")
    )
    assert (result.ok, result.error_code, result.permanent, result.opted_out) == (
        False,
        code,
        permanent,
        False,
    )


def test_rfc_9457_error_body_with_21610_is_opted_out_too() -> None:
    problem = {
        "type": "https://www.twilio.com/docs/errors/21610",
        "title": "Unsubscribed",
        "status": 400,
        "code": 21610,
        "detail": "recipient replied STOP",
    }
    result = sender(RecordingHttpClient((400, problem))).send(  # type: ignore[attr-defined]
        SmsMessageSpec("k", "+989123456789", "hi")
    )
    assert (result.error_code, result.permanent, result.opted_out) == ("twilio:21610", True, True)


def test_network_failure_is_transient() -> None:
    class Broken(RecordingHttpClient):
        def request(self, *args: object, **kwargs: object) -> Response:
            raise ConnectionError("no route to host")

    result = sender(Broken()).send(SmsMessageSpec("k", "+989123456789", "hi"))  # type: ignore[attr-defined]
    assert (result.ok, result.error_code, result.permanent) == (False, "twilio:network", False)


def test_messaging_service_sid_is_required() -> None:
    with pytest.raises(ValueError, match="Messaging Service"):
        sender(RecordingHttpClient(), messaging_service_sid="+15005550006")
