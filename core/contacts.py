"""Validation of contact details: E.164 phone numbers (phonenumbers) and email addresses
(email-validator). Used by citizen registration and by the notification router alike."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import ValidationError


def normalize_phone(raw: str, *, default_region: str = "GB", field: str = "phone") -> str:
    """Return ``raw`` as an E.164 number such as ``+447700900123``.

    Args:
        raw: a number as typed, with or without ``+`` and spaces.
        default_region: ISO 3166-1 alpha-2 region for numbers written without a country code.
        field: name used in the error message.
    Raises:
        ValidationError: the number cannot be parsed or is not a valid number.
    """
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{raw!r} is not a phone number ({exc})", field=field) from exc
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{raw!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_PLACEHOLDER_TLDS = frozenset({"invalid", "test"})


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Return the normalised form of an email address (domain lower-cased).

    Placeholder domains reserved by RFC 2606 (``example.invalid``, ``*.test``) are accepted,
    because the demo and the tests use them; deliverability (DNS) is not checked.

    Raises:
        ValidationError: the address is malformed.
    """
    raw = raw.strip()
    local, sep, domain = raw.rpartition("@")
    placeholder = sep and domain.lower().rsplit(".", 1)[-1] in _PLACEHOLDER_TLDS
    # email-validator refuses RFC 2606 names outright; check the syntax of the rest against a
    # stand-in domain and keep the placeholder, so nothing is ever sent to a real domain.
    candidate = f"{local}@example.com" if placeholder else raw
    try:
        info = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"{raw!r} is not a valid email address ({exc})", field=field) from exc
    if placeholder:
        return f"{info.local_part}@{domain.lower()}"
    return str(info.normalized)
