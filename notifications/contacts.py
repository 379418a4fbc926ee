"""Normalise citizens' phone numbers and email addresses before they are stored or used.

Phone numbers become E.164 strings (``+989123456789``) with Google's libphonenumber rules
(the ``phonenumbers`` port); email addresses are checked and normalised with
``email-validator`` (syntax only: no DNS look-up, so it works offline and in tests).
"""

from __future__ import annotations

from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import ValidationError

__all__ = ["PLACEHOLDER_EMAIL_TLDS", "normalize_email", "normalize_phone"]

PLACEHOLDER_EMAIL_TLDS: Final[frozenset[str]] = frozenset({"invalid", "test"})
"""Reserved top-level domains (RFC 2606 / RFC 6761) that demo and test data use for
addresses that must never receive mail, e.g. ``resident0001@example.invalid``.
email-validator rejects both as special-use names; ``normalize_email`` accepts them only
when asked to with ``allow_placeholder_domains=True``."""


def normalize_phone(
    raw: str, default_region: str, *, strict: bool = True, field: str = "phone"
) -> str:
    """Parse a phone number as a person typed it and return it in E.164 form.

    Args:
        raw: the number as entered: national (``0912 345 6789``) or international
            (``+98 912 345 6789``, ``0098…``), with spaces, dashes, brackets, and Latin,
            Persian or Arabic-Indic digits.
        default_region: ISO 3166-1 alpha-2 region (``"IR"``, ``"US"``) used to read a
            number written without a country code.
        strict: when True (the default) the number must be a valid, assigned number for
            its region (libphonenumber's ``is_valid_number``); when False a number of a
            possible length is enough, which lets demo data use fictional ranges such as
            the US 555-01XX numbers.
        field: the field name to put on the error.

    Returns:
        The number in E.164 form: ``+`` followed by 8 to 15 digits.

    Raises:
        ValidationError: the text is empty, is not a phone number, or is not a valid
            (``strict``) or possible number for its region.
    """
    text = raw.strip()
    if not text:
        raise ValidationError("a phone number is required", field=field)
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"not a phone number: {exc}", field=field) from exc
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    if not ok:
        kind = "valid" if strict else "possible"
        raise ValidationError(
            f"not a {kind} phone number for country code +{number.country_code}", field=field
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(
    raw: str, *, allow_placeholder_domains: bool = False, field: str = "email"
) -> str:
    """Check an email address's syntax and return its normalised form.

    The domain is lower-cased and IDNA-checked and the whole address is Unicode
    NFC-normalised (email-validator's ``normalized``). The local part keeps its case,
    because mail servers may treat it case-sensitively; compare addresses case-insensitively
    when looking for duplicates.

    Args:
        raw: the address as entered (surrounding whitespace is ignored; no display name).
        allow_placeholder_domains: also accept the reserved placeholder top-level domains in
            :data:`PLACEHOLDER_EMAIL_TLDS` (``.invalid``, ``.test``), as demo and test data
            use. email-validator's ``test_environment=True`` admits only ``.test``, so an
            ``.invalid`` domain is checked as if it were ``.test`` (the syntax rules are the
            same) and given back unchanged. Leave False for addresses citizens enter.
        field: the field name to put on the error.

    Returns:
        The normalised address, e.g. ``Maryam@example.org`` for ``" Maryam@EXAMPLE.org "``.

    Raises:
        ValidationError: the address is empty or not a valid address (the message says why,
            in email-validator's words).
    """
    text = raw.strip()
    if not text:
        raise ValidationError("an email address is required", field=field)
    candidate, placeholder_tld = text, None
    if allow_placeholder_domains:
        local, _, domain = text.rpartition("@")
        base, dot, tld = domain.rstrip(".").rpartition(".")
        tld = tld.lower()
        if local and base and dot and tld in PLACEHOLDER_EMAIL_TLDS:
            placeholder_tld = tld
            candidate = f"{local}@{base}.test"
    try:
        result = validate_email(
            candidate,
            check_deliverability=False,
            test_environment=placeholder_tld is not None,
        )
    except EmailNotValidError as exc:
        raise ValidationError(str(exc), field=field) from exc
    normalized: str = result.normalized
    if placeholder_tld is not None and placeholder_tld != "test":
        normalized = normalized[: -len("test")] + placeholder_tld
    return normalized
