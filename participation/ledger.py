"""The contact ledger: one row per exchange with a citizen, on any channel (DESIGN §1, §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from models import Consultation, Contact


def record_contact(
    session: Session,
    *,
    citizen_id: int,
    channel: str,
    direction: str,
    kind: str,
    ref_table: str | None = None,
    ref_id: int | None = None,
    consultation_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Append a ledger entry in the caller's transaction.

    Args:
        channel: web, email, sms, phone, letter, fax, in_person or import.
        direction: ``inbound`` (from the citizen) or ``outbound`` (to them).
        kind: ballot, comment, survey, request, complaint, invitation, reminder, report, ...
        ref_table / ref_id: the row the entry concerns.
        at: UTC time (default: now).
    """
    session.add(
        Contact(
            citizen_id=citizen_id,
            channel=channel,
            direction=direction,
            kind=kind,
            ref_table=ref_table,
            ref_id=ref_id,
            consultation_id=consultation_id,
            at=at or clock.now(),
        )
    )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One line of a citizen's participation history."""

    at: datetime
    channel: str
    direction: str
    kind: str
    consultation: str | None


def citizen_ledger(session: Session, *, citizen_id: int, limit: int = 200) -> list[LedgerEntry]:
    """Return a citizen's own ledger, newest first (for "my participation")."""
    rows = session.execute(
        select(Contact.at, Contact.channel, Contact.direction, Contact.kind, Consultation.slug)
        .outerjoin(Consultation, Consultation.id == Contact.consultation_id)
        .where(Contact.citizen_id == citizen_id)
        .order_by(Contact.at.desc(), Contact.id.desc())
        .limit(limit)
    ).all()
    return [LedgerEntry(r[0], r[1], r[2], r[3], r[4]) for r in rows]
