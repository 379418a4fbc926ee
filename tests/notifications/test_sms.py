"""SMS segment counting: expected values are hand calculations from the GSM 03.38 tables and
the 160/153 (GSM-7) and 70/67 (UCS-2) limits, and the cases measured in STACK-NOTES §3.5."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationError
from notifications.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsSegments,
    check_sms_length,
    count_segments,
)

FA = "س"  # a Persian letter (U+0633), outside GSM-7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SmsSegments("GSM-7", 160, 1)),
        ("a" * 161, SmsSegments("GSM-7", 161, 2)),
        ("a" * 306, SmsSegments("GSM-7", 306, 2)),
        ("a" * 307, SmsSegments("GSM-7", 307, 3)),
        ("€" * 80, SmsSegments("GSM-7", 160, 1)),
        ("€" * 81, SmsSegments("GSM-7", 162, 2)),
        ("a" * 159 + "€", SmsSegments("GSM-7", 161, 2)),
        (FA * 70, SmsSegments("UCS-2", 70, 1)),
        (FA * 71, SmsSegments("UCS-2", 71, 2)),
        (FA * 134, SmsSegments("UCS-2", 134, 2)),
        (FA * 135, SmsSegments("UCS-2", 135, 3)),
        ("a" * 69 + "😀", SmsSegments("UCS-2", 71, 2)),
        ("😀" * 35, SmsSegments("UCS-2", 70, 1)),
        ("Vote now ۱۴۰۳", SmsSegments("UCS-2", 13, 1)),
        ("", SmsSegments("GSM-7", 0, 0)),
    ],
)
def test_counts_units_and_segments(text: str, expected: SmsSegments) -> None:
    assert count_segments(text) == expected


def test_gsm_tables_have_the_sizes_of_gsm_03_38() -> None:
    # 128 code points in the default alphabet, one of which is the ESC to the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize("digit", "۰۱۲۳۴۵۶۷۸۹")
def test_persian_digits_force_ucs2(digit: str) -> None:
    assert count_segments(f"Code {digit}").encoding == "UCS-2"


def test_escape_pair_is_never_split_across_parts() -> None:
    # 306 septets would fit 2 × 153, but the € (ESC + e) cannot start in the last septet of
    # part 1, so part 1 holds 152 a, part 2 holds € + 151 a, part 3 the last a.
    assert count_segments("a" * 152 + "€" + "a" * 152) == SmsSegments("GSM-7", 306, 3)


def test_surrogate_pair_is_never_split_across_parts() -> None:
    assert count_segments(FA * 66 + "😀" + FA * 67).segments == 3


def test_check_accepts_a_message_within_the_limit() -> None:
    assert check_sms_length(FA * 134, max_segments=2).segments == 2


def test_check_refuses_a_message_over_the_limit() -> None:
    with pytest.raises(ValidationError) as info:
        check_sms_length(FA * 135, max_segments=2)
    assert info.value.field == "sms"
    assert "3 parts" in info.value.message


def test_check_refuses_blank_text_and_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        check_sms_length("  ", field="body")
    assert info.value.field == "body"


gsm_basic_text = st.text(alphabet=sorted(GSM7_BASIC), max_size=800)


@given(gsm_basic_text)
def test_gsm_basic_text_matches_the_closed_formula(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert count_segments(text) == SmsSegments("GSM-7", n, expected)


@given(st.text(max_size=400), st.sampled_from([FA, "😀", "۳", "ç"]))
def test_any_non_gsm_character_makes_the_whole_text_ucs2(text: str, odd: str) -> None:
    # ç (lower case) is not in GSM-7: only the capital Ç is, at 0x09.
    counted = count_segments(text + odd)
    assert counted.encoding == "UCS-2"
    assert counted.units == len((text + odd).encode("utf-16-le")) // 2


@given(st.text(max_size=600))
def test_segment_count_is_between_the_packed_bounds(text: str) -> None:
    counted = count_segments(text)
    single, per_part = (160, 153) if counted.encoding == "GSM-7" else (70, 67)
    if counted.units <= single:
        assert counted.segments == (1 if counted.units else 0)
    else:
        # Perfect packing is the floor; losing at most one unit per part is the ceiling.
        assert math.ceil(counted.units / per_part) <= counted.segments
        assert counted.segments <= math.ceil(counted.units / (per_part - 1))
