"""Signed unsubscribe links and SMS stop keywords.

An unsubscribe token names one citizen (by public id), one channel and one purpose, and is
signed with HMAC-SHA256 (RFC 2104) under a server secret, so a link can withdraw exactly that
consent and nothing else, and cannot be forged or edited. Tokens do not expire: RFC 8058
expects a one-click unsubscribe link to keep working for as long as the mail may be read.

Token format (URL-safe, no padding)::

    v1.<base64url(public_id)>.<channel>.<purpose>.<base64url(hmac-sha256)>

The signed text is ``civicflow-unsubscribe-v1 \\x1f public_id \\x1f channel \\x1f purpose``;
the prefix keeps these MACs from being valid for any other use of the same secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal, cast
from urllib.parse import urlencode, urlsplit, urlunsplit

from core.errors import ValidationError

__all__ = [
    "STOP_KEYWORDS",
    "UnsubscribeClaim",
    "is_stop_keyword",
    "list_unsubscribe_headers",
    "make_token",
    "unsubscribe_url",
    "verify_token",
]

Channel = Literal["email", "sms"]

_VERSION: Final = "v1"
_DOMAIN: Final = b"civicflow-unsubscribe-v1"
_SEP: Final = b"\x1f"
_PURPOSE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_MIN_SECRET_BYTES: Final = 16

STOP_KEYWORDS: Final[frozenset[str]] = frozenset(
    {
        # Twilio's default opt-out keywords for long codes and Messaging Services
        # (twilio.com/docs/messaging/tutorials/advanced-opt-out).
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        # Persian: "cancel" and "stop". Configure the same words as Advanced Opt-Out
        # keywords on the Messaging Service so Twilio blocks further sends as well.
        "لغو",
        "توقف",
    }
)


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    """What a valid token allows: withdraw ``purpose`` consent on ``channel`` for a citizen.

    Attributes:
        citizen_public_id: the citizen's public (random, non-sequential) id.
        channel: ``"email"`` or ``"sms"``.
        purpose: the consent purpose, e.g. ``"invitations"``, ``"reminders"``, ``"results"``.
    """

    citizen_public_id: str
    channel: Channel
    purpose: str


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if len(key) < _MIN_SECRET_BYTES:
        raise ValidationError(
            f"the unsubscribe secret must be at least {_MIN_SECRET_BYTES} bytes", field="secret"
        )
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, claim: UnsubscribeClaim) -> bytes:
    fields = (claim.citizen_public_id, claim.channel, claim.purpose)
    message = _SEP.join([_DOMAIN, *(f.encode("utf-8") for f in fields)])
    return hmac.new(key, message, hashlib.sha256).digest()


def _check_claim(citizen_public_id: str, channel: str, purpose: str) -> UnsubscribeClaim:
    if not citizen_public_id or "\x1f" in citizen_public_id:
        raise ValidationError("a citizen public id is required", field="citizen_public_id")
    if channel not in ("email", "sms"):
        raise ValidationError(f"unknown channel {channel!r}", field="channel")
    if not _PURPOSE_RE.fullmatch(purpose):
        raise ValidationError(
            "a purpose is 1-40 lower-case letters, digits or _ (e.g. reminders)", field="purpose"
        )
    return UnsubscribeClaim(citizen_public_id, cast(Channel, channel), purpose)


def make_token(*, citizen_public_id: str, channel: str, purpose: str, secret: str | bytes) -> str:
    """Make a signed token that unsubscribes one citizen from one purpose on one channel.

    Args:
        citizen_public_id: the citizen's public id (never the database row id).
        channel: ``"email"`` or ``"sms"``.
        purpose: consent purpose, 1-40 characters of ``[a-z0-9_]`` starting with a letter.
        secret: the server's signing secret (at least 16 bytes; from settings).

    Returns:
        A URL-safe token (ASCII letters, digits, ``-``, ``_`` and ``.``).

    Raises:
        ValidationError: a field is missing or malformed, or the secret is too short.
    """
    claim = _check_claim(citizen_public_id, channel, purpose)
    mac = _mac(_key(secret), claim)
    return ".".join(
        [_VERSION, _b64(citizen_public_id.encode("utf-8")), channel, purpose, _b64(mac)]
    )


def verify_token(token: str, *, secret: str | bytes) -> UnsubscribeClaim:
    """Check a token's signature and return what it allows.

    Args:
        token: the token from the link (as produced by :func:`make_token`).
        secret: the same signing secret that made it.

    Returns:
        The :class:`UnsubscribeClaim` the token was made for.

    Raises:
        ValidationError: (field ``token``) the token is malformed, of another version, or its
            signature does not match (tampered, truncated, or made with another secret).
    """
    key = _key(secret)
    parts = token.strip().split(".")
    if len(parts) != 5 or parts[0] != _VERSION:
        raise ValidationError("this unsubscribe link is not valid", field="token")
    _, public_id_b64, channel, purpose, mac_b64 = parts
    try:
        public_id = _unb64(public_id_b64).decode("utf-8")
        given_mac = _unb64(mac_b64)
        claim = _check_claim(public_id, channel, purpose)
    except (binascii.Error, UnicodeDecodeError, ValueError, ValidationError) as exc:
        raise ValidationError("this unsubscribe link is not valid", field="token") from exc
    # Re-encoding must reproduce the token exactly, so no two spellings verify.
    if _b64(public_id.encode("utf-8")) != public_id_b64 or _b64(given_mac) != mac_b64:
        raise ValidationError("this unsubscribe link is not valid", field="token")
    if not hmac.compare_digest(given_mac, _mac(key, claim)):
        raise ValidationError("this unsubscribe link is not valid", field="token")
    return claim


def unsubscribe_url(base_url: str, token: str) -> str:
    """Put ``token`` into the ``token`` query parameter of ``base_url``.

    Args:
        base_url: the public address of the unsubscribe endpoint, e.g.
            ``https://civicflow.example.org/unsubscribe`` (must be absolute; RFC 8058 wants
            HTTPS for one-click unsubscribe, plain HTTP is accepted for local demos).
        token: a token from :func:`make_token`.

    Returns:
        The absolute link, with any existing query parameters kept.

    Raises:
        ValidationError: (field ``base_url``) the address is not an absolute http(s) URL.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("must be an absolute http(s) address", field="base_url")
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"token": token})))


def list_unsubscribe_headers(url: str, *, mailto: str | None = None) -> dict[str, str]:
    """Headers for one-click unsubscribe (RFC 2369 ``List-Unsubscribe`` + RFC 8058).

    Gmail and Yahoo require both headers for bulk senders. The one-click receiver must accept
    an HTTP ``POST`` with the body ``List-Unsubscribe=One-Click`` at ``url`` and withdraw the
    consent without asking anything else.

    Args:
        url: the signed link from :func:`unsubscribe_url`.
        mailto: an optional address that also unsubscribes (``mailto:`` fallback).

    Returns:
        ``{"List-Unsubscribe": "<url>[, <mailto:…>]",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}``.
    """
    value = f"<{url}>" if mailto is None else f"<{url}>, <mailto:{mailto}>"
    return {
        "List-Unsubscribe": value,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _strip_edges(text: str) -> str:
    """Drop whitespace, punctuation, symbols and format characters (e.g. ZWNJ) at both ends."""
    keep = [unicodedata.category(ch)[0] not in "ZPSC" for ch in text]
    if True not in keep:
        return ""
    start = keep.index(True)
    end = len(keep) - keep[::-1].index(True)
    return text[start:end]


def is_stop_keyword(text: str) -> bool:
    """Tell whether an inbound SMS is an opt-out request.

    The whole message must be one keyword of :data:`STOP_KEYWORDS`, case-insensitively,
    after NFKC normalisation (so Arabic presentation forms match) and after dropping
    whitespace, punctuation and invisible characters at both ends (``" Stop! "`` counts,
    ``"please stop texting"`` does not, as in Twilio's own matching).

    Args:
        text: the body of the inbound message.

    Returns:
        True when the message asks to stop.
    """
    word = _strip_edges(unicodedata.normalize("NFKC", text)).casefold()
    return word in STOP_KEYWORDS
