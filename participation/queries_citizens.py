"""Read models of citizens: a profile without contact details, staff's look-up, and a
citizen's ballot in a consultation (see :mod:`participation.queries` for the family's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.contacts import normalize_phone
from core.settings import get_settings
from models import Ballot, Citizen
from participation.citizens import find_citizen


@dataclass(frozen=True, slots=True)
class CitizenProfile:
    """A citizen as the app needs them (no contact details, only whether they exist)."""

    id: int
    public_id: str
    display_name: str
    district: str | None
    birth_year: int | None
    locale: str
    time_zone: str
    preferred_channel: str
    has_email: bool
    has_phone: bool


@dataclass(frozen=True, slots=True)
class BallotInfo:
    """The citizen's ballot in a consultation (not its choices; ``cast_at`` aware, UTC)."""

    channel: str
    cast_at: datetime
    revision: int


def _profile(c: Citizen) -> CitizenProfile:
    return CitizenProfile(
        c.id,
        c.public_id,
        c.display_name,
        c.district,
        c.birth_year,
        c.locale,
        c.time_zone,
        c.preferred_channel,
        bool(c.email),
        bool(c.phone),
    )


def citizen_profile(session: Session, *, citizen_id: int) -> CitizenProfile | None:
    """Return the signed-in citizen's profile, or ``None`` if the row is gone."""
    row = session.get(Citizen, citizen_id)
    return _profile(row) if row is not None else None


def lookup_citizen(session: Session, *, query: str) -> CitizenProfile | None:
    """Find a citizen by what staff typed: an email, a phone number or a public id.

    Text with ``@`` is an email; text starting with ``+`` or made of digits and spaces is a
    phone number (normalised with the SMS settings' default region); anything else is a
    public id.

    Returns:
        the citizen's profile, or ``None`` for blank text or no match.

    Raises:
        ValidationError: the text looks like a phone number but is not a valid one.
    """
    text = query.strip()
    if not text:
        return None
    if "@" in text:
        found = find_citizen(session, email=text)
    elif text.startswith("+") or text.replace(" ", "").isdigit():
        phone = normalize_phone(text, default_region=get_settings().sms.default_region)
        found = find_citizen(session, phone=phone)
    else:
        found = find_citizen(session, public_id=text)
    return _profile(found) if found is not None else None


def ballot_info(session: Session, *, consultation_id: int, citizen_id: int) -> BallotInfo | None:
    """Return how and when the citizen's ballot was cast, or ``None`` if they have none."""
    row = session.execute(
        select(Ballot.channel, Ballot.cast_at, Ballot.revision).where(
            Ballot.consultation_id == consultation_id, Ballot.citizen_id == citizen_id
        )
    ).one_or_none()
    return BallotInfo(*row) if row is not None else None
