"""Signed unsubscribe tokens, their links and headers, and SMS stop keywords."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from core.errors import ValidationError
from notifications.unsubscribe import (
    UnsubscribeClaim,
    is_stop_keyword,
    list_unsubscribe_headers,
    make_token,
    unsubscribe_url,
    verify_token,
)

SECRET = "a-test-secret-of-enough-length"


def _token(**overrides: str) -> str:
    fields = {"citizen_public_id": "c_7Hq2", "channel": "email", "purpose": "reminders"}
    fields.update(overrides)
    return make_token(**fields, secret=SECRET)


def test_token_round_trip_returns_what_it_was_made_for() -> None:
    assert verify_token(_token(), secret=SECRET) == UnsubscribeClaim("c_7Hq2", "email", "reminders")


def test_token_mac_is_hmac_sha256_over_the_documented_message() -> None:
    # Independent recomputation of the documented format.
    message = b"\x1f".join([b"civicflow-unsubscribe-v1", b"c_7Hq2", b"email", b"reminders"])
    mac = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert _token().rsplit(".", 1)[1] == expected


def test_token_is_url_safe() -> None:
    token = _token(citizen_public_id="مریم/+?&=")
    assert all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in token)
    assert verify_token(token, secret=SECRET).citizen_public_id == "مریم/+?&="


def test_purpose_cannot_be_swapped_in_a_valid_token() -> None:
    tampered = _token().replace(".reminders.", ".results.")
    with pytest.raises(ValidationError) as info:
        verify_token(tampered, secret=SECRET)
    assert info.value.field == "token"


def test_channel_cannot_be_swapped_in_a_valid_token() -> None:
    with pytest.raises(ValidationError):
        verify_token(_token().replace(".email.", ".sms."), secret=SECRET)


def test_citizen_cannot_be_swapped_in_a_valid_token() -> None:
    other = _token(citizen_public_id="c_other").split(".")[1]
    parts = _token().split(".")
    parts[1] = other
    with pytest.raises(ValidationError):
        verify_token(".".join(parts), secret=SECRET)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[:-2],
        lambda t: "v2" + t[2:],
        lambda t: t + ".extra",
        lambda t: "",
        lambda t: "v1.!!!.email.reminders.abc",
    ],
)
def test_malformed_or_tampered_tokens_are_refused(mangle: object) -> None:
    with pytest.raises(ValidationError) as info:
        verify_token(mangle(_token()), secret=SECRET)  # type: ignore[operator]
    assert info.value.field == "token"


def test_token_from_another_secret_is_refused() -> None:
    with pytest.raises(ValidationError):
        verify_token(_token(), secret="another-secret-of-enough-length")


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        make_token(citizen_public_id="c1", channel="email", purpose="results", secret="short")
    assert info.value.field == "secret"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"purpose": "All Mail"}, "purpose"),
        ({"citizen_public_id": ""}, "citizen_public_id"),
    ],
)
def test_bad_fields_are_refused_by_name(overrides: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        _token(**overrides)
    assert info.value.field == field


def test_unsubscribe_url_adds_the_token_and_keeps_the_query() -> None:
    url = unsubscribe_url("https://civic.example.org/unsubscribe?lang=fa", "v1.a.email.b.c")
    assert url == "https://civic.example.org/unsubscribe?lang=fa&token=v1.a.email.b.c"


def test_unsubscribe_url_needs_an_absolute_address() -> None:
    with pytest.raises(ValidationError) as info:
        unsubscribe_url("/unsubscribe", "t")
    assert info.value.field == "base_url"


def test_list_unsubscribe_headers_are_rfc_8058_one_click() -> None:
    assert list_unsubscribe_headers("https://x.example/u?token=t") == {
        "List-Unsubscribe": "<https://x.example/u?token=t>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    with_mailto = list_unsubscribe_headers("https://x.example/u", mailto="unsub@x.example")
    assert with_mailto["List-Unsubscribe"] == "<https://x.example/u>, <mailto:unsub@x.example>"


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop! ",
        "StopAll",
        "UNSUBSCRIBE",
        "cancel",
        "End",
        "quit",
        "REVOKE",
        "optout",
        "لغو",
        " لغو. ",
        "توقف",
        "\u200cلغو\u200c",
        "ﻟﻐﻮ",
    ],
)
def test_stop_keywords_are_recognised(text: str) -> None:
    assert is_stop_keyword(text)


@pytest.mark.parametrize("text", ["", "please stop texting me", "STOPS", "start", "لغو کن", "yes"])
def test_other_replies_are_not_stop_keywords(text: str) -> None:
    assert not is_stop_keyword(text)
