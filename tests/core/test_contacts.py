"""Phone and email normalisation (core.contacts), used by citizen registration and by the
notification side alike (moved here from the removed ``notifications.contacts`` wrapper)."""

from __future__ import annotations

import pytest

from core.contacts import normalize_email, normalize_phone
from core.errors import ValidationError


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0912 345 6789", "IR", "+989123456789"),
        ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "IR", "+989123456789"),  # Persian digits
        ("+98 (912) 345-6789", "GB", "+989123456789"),
        (" 07911 123456 ", "GB", "+447911123456"),
        ("(201) 555-0123", "US", "+12015550123"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == expected


@pytest.mark.parametrize("raw", ["", "not a number", "+1 555 010 0000", "0912"])
def test_bad_phone_numbers_are_refused_by_field(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone(raw, default_region="IR")
    assert info.value.field == "phone"


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone("12", field="to")
    assert info.value.field == "to"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Maryam@EXAMPLE.org", "Maryam@example.org"),
        ("resident0001@example.invalid", "resident0001@example.invalid"),
        ("demo@city.test", "demo@city.test"),
        ("مریم@example.org", "مریم@example.org"),
    ],
)
def test_email_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "no-at-sign", "two@@example.org", "a b@example.org"])
def test_bad_email_addresses_are_refused_by_field(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_email(raw)
    assert info.value.field == "email"
