"""Read models of consultations: lists for the public pages and pickers, one consultation,
and its ballots per channel (see :mod:`participation.queries` for the family's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import Ballot, Consultation

PUBLIC_STATUSES = ("published", "open", "closed", "tallied", "reported")
"""Statuses a visitor may see (drafts and archived consultations stay out of the list)."""
CURRENT_STATUSES = ("published", "open")
"""Statuses of consultations that are coming up or taking ballots."""
RESULT_STATUSES = ("tallied", "reported", "archived")
"""Statuses of consultations whose results are counted."""


@dataclass(frozen=True, slots=True)
class ConsultationCard:
    """A consultation in a list (``opens_at``/``closes_at`` aware, UTC)."""

    id: int
    slug: str
    title: str
    status: str
    method: str
    opens_at: datetime
    closes_at: datetime
    time_zone: str
    district: str | None
    topic: str | None


@dataclass(frozen=True, slots=True)
class ConsultationView:
    """Everything the consultation page shows about the consultation itself."""

    id: int
    slug: str
    title: str
    body: str
    status: str
    method: str
    params: dict[str, Any]
    eligibility: dict[str, Any]
    opens_at: datetime
    closes_at: datetime
    time_zone: str
    district: str | None
    topic: str | None
    result: dict[str, Any] | None


def _card_columns() -> tuple[Any, ...]:
    c = Consultation
    return (
        c.id,
        c.slug,
        c.title,
        c.status,
        c.method,
        c.opens_at,
        c.closes_at,
        c.time_zone,
        c.district,
        c.topic,
    )


def consultations_page(
    session: Session,
    *,
    statuses: tuple[str, ...],
    district: str | None = None,
    topic: str | None = None,
    offset: int = 0,
    limit: int = 10,
    newest_first: bool = False,
) -> tuple[list[ConsultationCard], int]:
    """Return one page of consultations with these statuses (and district/topic) and the total.

    Ordered by closing time: soonest first, or latest first with ``newest_first``.

    Args:
        statuses: the statuses to list (e.g. :data:`CURRENT_STATUSES`).
        district, topic: keep only consultations with this district/topic (``None``: all).
        offset: consultations to skip; limit: the page size.

    Returns:
        ``(cards, total)``: the page and the number of matching consultations.
    """
    where: list[ColumnElement[bool]] = [Consultation.status.in_(statuses)]
    if district:
        where.append(Consultation.district == district)
    if topic:
        where.append(Consultation.topic == topic)
    total = session.execute(
        select(func.count()).select_from(Consultation).where(*where)
    ).scalar_one()
    order = Consultation.closes_at.desc() if newest_first else Consultation.closes_at
    rows = session.execute(
        select(*_card_columns())
        .where(*where)
        .order_by(order, Consultation.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [ConsultationCard(*r) for r in rows], int(total)


def filter_values(session: Session, *, statuses: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Return the districts and the topics used by consultations with these statuses.

    Returns:
        ``(districts, topics)``, each sorted and without empty values.
    """
    where = Consultation.status.in_(statuses)
    districts = session.execute(
        select(Consultation.district)
        .where(where, Consultation.district.is_not(None))
        .distinct()
        .order_by(Consultation.district)
    ).scalars()
    topics = session.execute(
        select(Consultation.topic)
        .where(where, Consultation.topic.is_not(None))
        .distinct()
        .order_by(Consultation.topic)
    ).scalars()
    return [d for d in districts if d], [t for t in topics if t]


def consultation_view(session: Session, *, ref: int | str) -> ConsultationView | None:
    """Return the consultation with this id (an ``int``) or slug (a ``str``), or ``None``.

    The view is returned whatever the status; callers decide who may see it.
    """
    c = Consultation
    where = c.id == ref if isinstance(ref, int) else c.slug == ref
    row = session.execute(
        select(
            c.id,
            c.slug,
            c.title,
            c.body,
            c.status,
            c.method,
            c.method_params,
            c.eligibility,
            c.opens_at,
            c.closes_at,
            c.time_zone,
            c.district,
            c.topic,
            c.result,
        ).where(where)
    ).one_or_none()
    if row is None:
        return None
    values = list(row)
    values[6] = dict(values[6] or {})
    values[7] = dict(values[7] or {})
    return ConsultationView(*values)


def consultation_options(
    session: Session, *, statuses: tuple[str, ...] | None = None, limit: int = 300
) -> list[tuple[int, str, str]]:
    """Return ``(id, slug, status)`` of the newest consultations (for a picker).

    Args:
        statuses: keep only these statuses (``None``: all).
        limit: at most this many, newest created first.
    """
    stmt = select(Consultation.id, Consultation.slug, Consultation.status)
    if statuses is not None:
        stmt = stmt.where(Consultation.status.in_(statuses))
    rows = session.execute(
        stmt.order_by(Consultation.created_at.desc(), Consultation.id.desc()).limit(limit)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def ballots_by_channel(session: Session, *, consultation_id: int) -> dict[str, int]:
    """Return the number of ballots per channel (web, phone, letter, …).

    Returns:
        ``{channel: ballots}`` in channel order; channels with no ballot are absent.
    """
    rows = session.execute(
        select(Ballot.channel, func.count())
        .where(Ballot.consultation_id == consultation_id)
        .group_by(Ballot.channel)
        .order_by(Ballot.channel)
    ).all()
    return {r[0]: int(r[1]) for r in rows}
