"""SMS encoding and segment counting (pure, no I/O).

A text message is sent either in the GSM-7 alphabet (7-bit septets) or, as soon as one
character falls outside it, in UCS-2 (16-bit units) for the whole message. Persian letters,
Persian digits and emoji therefore always make a message UCS-2.

Limits (3GPP TS 23.038 "GSM 03.38" for the alphabet; TS 23.040 for concatenation, whose
6-octet user data header leaves 153 septets or 67 UCS-2 units per part; the same numbers
are given by twilio.com/docs/glossary/what-sms-character-limit):

==========  ==============  ================================
encoding    single message  per part of a concatenated one
==========  ==============  ================================
GSM-7       160 septets     153 septets
UCS-2       70 units        67 units
==========  ==============  ================================

Characters of the GSM-7 extension table (``€ [ ] { } \\ ^ ~ |`` and form feed) are sent as
ESC + character and cost two septets. In UCS-2 a character outside the Basic Multilingual
Plane (most emoji) is a UTF-16 surrogate pair and costs two units. Like real splitters, the
count never cuts an escape pair or a surrogate pair across two parts, which can add a part
at the edges: 152 ``a`` + ``€`` + 152 ``a`` is 306 septets (2 × 153) but needs 3 parts,
because the first part can hold only the 152 ``a``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from core.errors import ValidationError

__all__ = [
    "DEFAULT_MAX_SEGMENTS",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SmsEncoding",
    "SmsSegments",
    "check_sms_length",
    "count_segments",
]

SmsEncoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, in code order 0x00-0x7F; 0x1B (ESC, the escape to the
# extension table) is not a character of its own and is left out, so 127 characters remain.
GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 default extension table (reached through ESC): page break, ^ { } \ [ ~ ] | €.
GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

# (single-message capacity, capacity of each part of a concatenated message)
_CAPACITY: Final[dict[SmsEncoding, tuple[int, int]]] = {
    "GSM-7": (160, 153),
    "UCS-2": (70, 67),
}

DEFAULT_MAX_SEGMENTS: Final[int] = 3
"""A default cap: Twilio recommends at most 320 characters (2 GSM-7 parts); 3 parts leave
room for a Persian (UCS-2) reminder with a link. Twilio's own hard limit is 1,600 characters."""


@dataclass(frozen=True, slots=True)
class SmsSegments:
    """How a text travels as SMS.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        units: length in the encoding's units: septets for GSM-7 (extension characters
            count 2), UTF-16 code units for UCS-2 (characters beyond U+FFFF count 2).
        segments: number of SMS parts the provider sends and bills (0 for empty text).
    """

    encoding: SmsEncoding
    units: int
    segments: int


def _unit_costs(text: str) -> tuple[SmsEncoding, list[int]]:
    """Pick the most compact encoding and return the cost of each character in its units."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> SmsSegments:
    """Count the encoding units and SMS parts needed to send ``text``.

    Args:
        text: the message body exactly as it will be sent (no trimming is done here).

    Returns:
        An :class:`SmsSegments`; see the module docstring for the limits and sources.
    """
    encoding, costs = _unit_costs(text)
    units = sum(costs)
    single, per_part = _CAPACITY[encoding]
    if units == 0:
        return SmsSegments(encoding, 0, 0)
    if units <= single:
        return SmsSegments(encoding, units, 1)
    # Greedy fill; a 2-unit character (escape pair or surrogate pair) never straddles parts.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            segments += 1
            used = 0
        used += cost
    return SmsSegments(encoding, units, segments)


def check_sms_length(
    text: str, *, max_segments: int = DEFAULT_MAX_SEGMENTS, field: str = "sms"
) -> SmsSegments:
    """Refuse an SMS body that is empty or would need more than ``max_segments`` parts.

    Args:
        text: the message body as it will be sent.
        max_segments: the largest number of parts allowed (a setting; at least 1).
        field: the field name to put on the error.

    Returns:
        The :class:`SmsSegments` of ``text`` when it is within the limit.

    Raises:
        ValidationError: the body is empty or blank, or needs more than ``max_segments``
            parts. ``ValueError`` if ``max_segments`` < 1 (a programming error).
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1 (got {max_segments})")
    if not text.strip():
        raise ValidationError("the SMS text is empty", field=field)
    counted = count_segments(text)
    if counted.segments > max_segments:
        raise ValidationError(
            f"the SMS needs {counted.segments} parts ({counted.units} {counted.encoding} "
            f"units); at most {max_segments} are allowed",
            field=field,
        )
    return counted
