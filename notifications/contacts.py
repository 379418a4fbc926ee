"""Phone and email normalisation for the notification side.

The rules live in :mod:`core.contacts` (one implementation for citizen registration and for
delivery); this module gives them the signatures the outbox and routing code use.

* Phones: libphonenumber's rules (the ``phonenumbers`` port) → E.164 (``+989123456789``).
  Persian and Arabic-Indic digits, spaces, dashes and brackets are accepted; the number
  must be a valid, assigned number for its region.
* Emails: ``email-validator`` syntax check, no DNS look-up (``check_deliverability=False``),
  domain lower-cased. The placeholder top-level domains reserved by RFC 2606 / RFC 6761,
  ``.invalid`` and ``.test``, are accepted (the demo data uses ``resident0001@example.invalid``):
  email-validator refuses them even with ``test_environment=True`` (which admits ``.test``
  only), so :func:`core.contacts.normalize_email` checks such an address's local part against
  a stand-in domain and keeps the placeholder. Mail to them can never be delivered.
"""

from __future__ import annotations

from core import contacts as _core

__all__ = ["normalize_email", "normalize_phone"]


def normalize_phone(raw: str, default_region: str, *, field: str = "phone") -> str:
    """Parse a phone number as a person typed it and return it in E.164 form.

    Args:
        raw: the number as entered: national (``0912 345 6789``) or international
            (``+98 912 345 6789``), Latin or Persian digits.
        default_region: ISO 3166-1 alpha-2 region (``"IR"``, ``"GB"``) for a number written
            without a country code; case-insensitive.
        field: the field name to put on the error.

    Returns:
        ``+`` followed by the country code and national number (at most 15 digits).

    Raises:
        ValidationError: (field ``phone``) empty, not a phone number, or not a valid number.
    """
    return _core.normalize_phone(raw.strip(), default_region=default_region.upper(), field=field)


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Check an email address's syntax and return its normalised form.

    Args:
        raw: the address as entered (surrounding whitespace ignored, no display name).
        field: the field name to put on the error.

    Returns:
        The address with its domain lower-cased (the local part keeps its case), e.g.
        ``Maryam@example.org`` for ``" Maryam@EXAMPLE.org "``.

    Raises:
        ValidationError: (field ``email``) empty or malformed, in email-validator's words.
    """
    return _core.normalize_email(raw.strip(), field=field)
