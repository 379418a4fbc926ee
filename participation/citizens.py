"""Citizens, their consent per channel and purpose, and their contact preferences."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import Citizen, Consent
from models.participation import CHANNELS_OUTBOUND, PURPOSES
from participation.audit import append_event
from participation.schemas import (
    CitizenIn,
    CitizenOut,
    ContactPreferencesIn,
    ContactPreferencesOut,
    parse_input,
)


def _out(c: Citizen) -> CitizenOut:
    return CitizenOut(c.id, c.public_id, c.display_name, c.locale, c.district)


def _taken_field(session: Session, email: str | None, phone: str | None,
                 ref: str | None) -> str:
    """Which unique contact field another citizen already holds (for the Conflict's field)."""
    for name, value, column in (("email", email, Citizen.email), ("phone", phone, Citizen.phone),
                                ("external_ref", ref, Citizen.external_ref)):
        if value is not None and session.execute(
                select(Citizen.id).where(column == value).limit(1)).first() is not None:
            return name
    return "email"


def register_citizen(
    session: Session,
    *,
    data: dict[str, Any] | CitizenIn,
    actor: Actor,
    consents: dict[tuple[str, str], bool] | None = None,
    consent_source: str = "web",
) -> CitizenOut:
    """Register a citizen and record their consents.

    Args:
        data: fields of :class:`CitizenIn` (display_name, email, phone, locale, district,
            birth_year, gender, ...).
        actor: who registers (the citizen themself, staff, or the system for imports).
        consents: ``{(channel, purpose): opted_in}``; channels email/sms, purposes
            invitations/reminders/results/surveys. Missing pairs mean "not asked" = no consent.
        consent_source: recorded with each consent (web, staff, import, ...).
    Returns:
        the new citizen (id, random public id).
    Raises:
        ValidationError: a bad field (named) or consent key.
        Conflict: the email or phone is already registered.
    """
    inp = data if isinstance(data, CitizenIn) else parse_input(CitizenIn, data)
    now = clock.now()
    citizen = Citizen(
        public_id=secrets.token_hex(8),
        display_name=inp.display_name,
        email=inp.email,
        phone=inp.phone,
        locale=inp.locale,
        time_zone=inp.time_zone,
        preferred_channel=inp.preferred_channel,
        district=inp.district,
        birth_year=inp.birth_year,
        gender=inp.gender,
        external_ref=inp.external_ref,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(citizen)
            session.flush()
    except IntegrityError:
        taken = _taken_field(session, inp.email, inp.phone, inp.external_ref)
        raise Conflict(f"a citizen with this {taken.replace('_', ' ')} already exists",
                       field=taken) from None
    for (channel, purpose), opted_in in (consents or {}).items():
        if opted_in and channel == "email" and not inp.email:
            raise ValidationError("consent to email needs an email address", field="consents")
        if opted_in and channel == "sms" and not inp.phone:
            raise ValidationError("consent to SMS needs a phone number", field="consents")
        _put_consent(session, citizen.id, channel, purpose, opted_in, consent_source)
    append_event(
        session,
        actor=actor,
        action="citizen.register",
        subject=f"citizen:{citizen.id}",
        payload={"consents": sorted(f"{c}/{p}={v}" for (c, p), v in (consents or {}).items())},
    )
    return _out(citizen)


def _put_consent(
    session: Session, citizen_id: int, channel: str, purpose: str, opted_in: bool, source: str
) -> None:
    if channel not in CHANNELS_OUTBOUND:
        raise ValidationError(f"{channel!r} is not one of {CHANNELS_OUTBOUND}", field="channel")
    if purpose not in PURPOSES:
        raise ValidationError(f"{purpose!r} is not one of {PURPOSES}", field="purpose")
    row = session.execute(
        select(Consent).where(
            Consent.citizen_id == citizen_id, Consent.channel == channel, Consent.purpose == purpose
        )
    ).scalar_one_or_none()
    now = clock.now()
    if row is None:
        session.add(
            Consent(
                citizen_id=citizen_id,
                channel=channel,
                purpose=purpose,
                opted_in=opted_in,
                changed_at=now,
                source=source,
            )
        )
    elif row.opted_in != opted_in:
        row.opted_in, row.changed_at, row.source = opted_in, now, source


def set_consent(
    session: Session,
    *,
    citizen_id: int,
    channel: str,
    purpose: str | None,
    opted_in: bool,
    source: str,
    actor: Actor,
) -> int:
    """Opt a citizen in or out of one channel for one purpose (``purpose=None``: all purposes).

    Idempotent: setting the value it already has changes nothing but the audit trail.

    Args:
        source: web, staff, unsubscribe_link, sms_stop, provider_opt_out, import.
    Returns:
        the number of (channel, purpose) pairs written.
    Raises:
        NotFound: no such citizen. NotAllowed: a citizen changing someone else's consent.
        ValidationError: unknown channel or purpose.
    """
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    if actor.kind == "citizen" and actor.id != citizen_id:
        raise NotAllowed("a citizen may change only their own consent", field="actor")
    purposes = PURPOSES if purpose is None else (purpose,)
    for p in purposes:
        _put_consent(session, citizen_id, channel, p, opted_in, source)
    append_event(
        session,
        actor=actor,
        action="consent.set",
        subject=f"citizen:{citizen_id}",
        payload={
            "channel": channel,
            "purposes": list(purposes),
            "opted_in": opted_in,
            "source": source,
        },
    )
    return len(purposes)


def set_contact_preferences(
    session: Session,
    *,
    citizen_id: int,
    preferred_channel: str,
    locale: str,
    actor: Actor,
) -> ContactPreferencesOut:
    """Set the channel a citizen is contacted on first and the language of their messages.

    Routing (:mod:`notifications.routing`) reads both from the citizen's row whenever a
    message is planned, so the change applies to every message queued afterwards (messages
    already queued keep the channel and language they were queued with). Idempotent: the
    same values again write nothing and return ``changed=False``; a change is audited as
    ``citizen.preferences``.

    Args:
        citizen_id: the citizen's row id.
        preferred_channel: ``email`` or ``sms``; the citizen must have an address on it.
        locale: ``en`` or ``fa``.
        actor: the citizen themself, organizer or admin staff (acting on a request made by
            phone, letter or in person), or the system.
    Returns:
        a :class:`~participation.schemas.ContactPreferencesOut` with the stored values.
    Raises:
        ValidationError: an unknown channel or locale (field ``preferred_channel`` /
            ``locale``), or a channel the citizen has no address for
            (field ``preferred_channel``).
        NotFound: no such citizen. NotAllowed: a citizen changing someone else's
            preferences, or a council member.
    """
    inp = parse_input(
        ContactPreferencesIn, {"preferred_channel": preferred_channel, "locale": locale}
    )
    if actor.kind == "citizen":
        if actor.id != citizen_id:
            raise NotAllowed("a citizen may change only their own preferences", field="actor")
    else:
        actor.require_staff("organizer")
    citizen = get_citizen(session, citizen_id=citizen_id)
    address = citizen.email if inp.preferred_channel == "email" else citizen.phone
    if not address:
        what = "an email address" if inp.preferred_channel == "email" else "a phone number"
        raise ValidationError(
            f"{inp.preferred_channel} needs {what}, and this citizen has none",
            field="preferred_channel",
        )
    before = {"preferred_channel": citizen.preferred_channel, "locale": citizen.locale}
    after = {"preferred_channel": inp.preferred_channel, "locale": inp.locale}
    changed = before != after
    if changed:
        citizen.preferred_channel, citizen.locale = inp.preferred_channel, inp.locale
        session.flush()
        append_event(
            session,
            actor=actor,
            action="citizen.preferences",
            subject=f"citizen:{citizen_id}",
            payload={"before": before, "after": after},
        )
    return ContactPreferencesOut(citizen_id, inp.preferred_channel, inp.locale, changed)


def consents_of(session: Session, *, citizen_id: int) -> dict[tuple[str, str], bool]:
    """Return ``{(channel, purpose): opted_in}`` for a citizen."""
    rows = session.execute(
        select(Consent.channel, Consent.purpose, Consent.opted_in).where(
            Consent.citizen_id == citizen_id
        )
    ).all()
    return {(r[0], r[1]): bool(r[2]) for r in rows}


def citizen_locale(session: Session, *, citizen_id: int) -> str:
    """Return the language a citizen reads their messages in (``en`` or ``fa``).

    Raises:
        NotFound: no such citizen (field ``citizen_id``).
    """
    return get_citizen(session, citizen_id=citizen_id).locale


def get_citizen(session: Session, *, citizen_id: int) -> Citizen:
    """Return the citizen row or raise :class:`NotFound` (field ``citizen_id``)."""
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    return citizen


def find_citizen(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    public_id: str | None = None,
) -> Citizen | None:
    """Find a citizen by email, phone (E.164) or public id; ``None`` when there is none."""
    stmt = select(Citizen)
    if email:
        stmt = stmt.where(Citizen.email == email.strip().lower())
    elif phone:
        stmt = stmt.where(Citizen.phone == phone)
    elif public_id:
        stmt = stmt.where(Citizen.public_id == public_id)
    else:
        return None
    return session.execute(stmt).scalar_one_or_none()
