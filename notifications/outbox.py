"""The outbox: queue messages in the caller's transaction, one row per citizen and channel.

Every message is an ``outbox_message`` row whose unique ``idempotency_key`` is
``{kind}:{consultation}:{round}:{citizen}:{channel}`` (``-`` for no consultation), written
with ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING``. ``round`` is the reminder round
(1, 2, …), ``0`` for invitations and results, the survey id for survey invitations and the
``signin_code`` row id for sign-in codes. Before inserting, a citizen who already has a row
of the same kind, consultation and round (on either channel) is skipped, so a retried
task adds nothing even if the routing would now pick the other channel. Services here never
commit (DESIGN §3): :mod:`notifications.delivery` sends the rows after commit.

Fan-outs to a whole audience (invitations, reminders, results, survey invitations) are in
:mod:`notifications.planning`; they write the same rows with the same keys, routing in SQL,
and share the helpers here (page facts, row building, the write).

What is written for each citizen of a fan-out (counts in
:class:`~notifications.schemas.PlanResult`):
``pending`` / ``deferred`` rows to send; ``suppressed`` rows with a reason (``no_consent``,
``no_address``, ``capped``, ``holdout``; pass ``record_suppressed=False`` to keep only
``holdout`` rows, which reports need to measure reminder uplift); nothing for citizens who
already voted (invitations, reminders: counted as ``already_voted``) or who already have a
row (``existing``).

Payloads hold the template context shared by the whole fan-out (titles, links). Values
ending in ``_utc`` are ISO 8601 UTC instants that delivery formats in the citizen's locale
and the payload's ``time_zone``; per-citizen values (name, unsubscribe link) are added at
delivery time, so a payload never carries contact details. A sign-in code is the one secret
in a payload: delivery removes it once the message is sent or has failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Select, Table, case, false, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import clock
from core.actor import Actor
from core.errors import NotAllowed, NotFound, ValidationError
from models import Ballot, Citizen, Consent, Consultation, OutboxMessage
from models.governance import OUTBOX_STATUSES
from models.participation import PURPOSES
from notifications.routing import (
    CAPPED_KINDS,
    CitizenFacts,
    Decision,
    RoutingPolicy,
    route,
)
from notifications.schemas import (
    KIND_PURPOSE,
    EnqueueResult,
    OutboxRow,
)
from notifications.templating import MESSAGES
from participation.audit import append_event
from participation.consultations import get_consultation

__all__ = [
    "LIVE_STATUSES",
    "QUEUED_STATUSES",
    "enqueue",
    "enqueue_signin_code",
    "list_messages",
    "message_key",
    "policy_for",
    "suppress_queued",
]

LIVE_STATUSES: Final = ("pending", "deferred", "sending", "sent")
"""Statuses of messages that are, or will be, delivered (counted against the cap)."""
QUEUED_STATUSES: Final = ("pending", "deferred")
"""Statuses of messages waiting to be claimed by delivery."""


def message_key(
    kind: str, consultation_id: int | None, round: int, citizen_id: int, channel: str
) -> str:
    """The idempotency key ``{kind}:{consultation|-}:{round}:{citizen}:{channel}``."""
    cons = "-" if consultation_id is None else str(consultation_id)
    return f"{kind}:{cons}:{round}:{citizen_id}:{channel}"


def _prefix(kind: str, consultation_id: int | None, round: int) -> str:
    cons = "-" if consultation_id is None else str(consultation_id)
    return f"{kind}:{cons}:{round}:"


def policy_for(consultation: Consultation | None) -> RoutingPolicy:
    """The routing policy of a consultation (its ``reminder_policy``), or for messages
    outside any consultation the default quiet hours (21-8 local) and no cap."""
    if consultation is None:
        return RoutingPolicy()
    return RoutingPolicy.from_reminder_policy(
        consultation.reminder_policy, salt=str(consultation.id)
    )


def _cons_match(consultation_id: int | None) -> ColumnElement[bool]:
    if consultation_id is None:
        return OutboxMessage.consultation_id.is_(None)
    return OutboxMessage.consultation_id == consultation_id


def _citizens_select() -> Select[*tuple[Any, ...]]:
    """Columns: id, public_id, has_email, has_phone, preferred_channel, locale, time_zone."""
    return select(
        Citizen.id,
        Citizen.public_id,
        Citizen.email.is_not(None),
        Citizen.phone.is_not(None),
        Citizen.preferred_channel,
        Citizen.locale,
        Citizen.time_zone,
    )


def _capped_and_same(
    kind: str, consultation_id: int | None, round: int
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Conditions on an ``outbox_message`` row of the consultation: it counts against the
    cap (live, of a capped kind; never outside a consultation), and it is of ``kind`` and
    ``round`` (a retry finds it and adds nothing)."""
    capped = (
        (OutboxMessage.status.in_(LIVE_STATUSES) & OutboxMessage.kind.in_(CAPPED_KINDS))
        if consultation_id is not None
        else false()
    )
    same = (OutboxMessage.kind == kind) & OutboxMessage.idempotency_key.startswith(
        _prefix(kind, consultation_id, round), autoescape=True
    )
    return capped, same


@dataclass(frozen=True, slots=True)
class _PageFacts:
    """What consents, ballots and the outbox say about a page of citizens."""

    consents: Mapping[int, dict[tuple[str, str], bool]]
    took_part: frozenset[int]
    sent_count: Mapping[int, int]
    existing: frozenset[int]


def _page_facts(
    session: Session,
    *,
    kind: str,
    purpose: str | None,
    consultation_id: int | None,
    round: int,
    lo: int,
    hi: int,
) -> _PageFacts:
    """Consents for ``purpose``, ballots, capped messages and rows of this kind and round of
    the citizens with ids in ``[lo, hi]``: three range look-ups on the leading columns of the
    ``consent (citizen_id, channel, purpose)``, ``ballot (consultation_id, citizen_id)`` and
    ``outbox_message (consultation_id, citizen_id)`` indexes.

    Range queries per page rather than joins or correlated sub-queries per citizen: right
    after a bulk import, or while the fan-out itself fills the outbox, PostgreSQL plans on
    stale statistics and chose nested loops over whole tables (measured: 173 s for 100k
    citizens with correlated sub-queries, 3.3 s per page of 5,000 with consent joins).
    """
    consents: dict[int, dict[tuple[str, str], bool]] = {}
    if purpose is not None:
        for cit, channel, opted in session.execute(
            select(Consent.citizen_id, Consent.channel, Consent.opted_in).where(
                Consent.citizen_id.between(lo, hi), Consent.purpose == purpose
            )
        ):
            consents.setdefault(cit, {})[(channel, purpose)] = bool(opted)
    took: frozenset[int] = frozenset()
    if consultation_id is not None:
        took = frozenset(
            session.execute(
                select(Ballot.citizen_id).where(
                    Ballot.consultation_id == consultation_id, Ballot.citizen_id.between(lo, hi)
                )
            ).scalars()
        )
    capped, same = _capped_and_same(kind, consultation_id, round)
    rows = session.execute(
        select(
            OutboxMessage.citizen_id,
            func.sum(case((capped, 1), else_=0)),
            func.max(case((same, 1), else_=0)),
        )
        .where(_cons_match(consultation_id), OutboxMessage.citizen_id.between(lo, hi))
        .group_by(OutboxMessage.citizen_id)
    ).all()
    return _PageFacts(
        consents,
        took,
        {r[0]: int(r[1] or 0) for r in rows},
        frozenset(r[0] for r in rows if r[2]),
    )


def _facts(row: Any, page: _PageFacts) -> tuple[CitizenFacts, dict[tuple[str, str], bool]]:
    facts = CitizenFacts(
        public_id=row[1],
        has_email=bool(row[2]),
        has_phone=bool(row[3]),
        preferred_channel=row[4],
        locale=row[5],
        time_zone=row[6],
        took_part=row[0] in page.took_part,
    )
    return facts, page.consents.get(row[0], {})


def _row(
    *,
    kind: str,
    template: str,
    purpose: str | None,
    consultation_id: int | None,
    round: int,
    citizen_id: int,
    preferred: str,
    decision: Decision,
    payload: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    channel = decision.channel or (preferred if preferred in ("email", "sms") else "email")
    return {
        "idempotency_key": message_key(kind, consultation_id, round, citizen_id, channel),
        "citizen_id": citizen_id,
        "consultation_id": consultation_id,
        "kind": kind,
        "purpose": purpose,
        "channel": channel,
        "template": template,
        "locale": decision.locale,
        "payload": payload,
        "status": decision.status,
        "reason": decision.reason,
        "attempts": 0,
        "not_before": decision.not_before,
        "created_at": now,
    }


_PG_ARRAY_TYPES: Final = {
    "idempotency_key": "text",
    "citizen_id": "integer",
    "consultation_id": "integer",
    "kind": "text",
    "purpose": "text",
    "channel": "text",
    "template": "text",
    "locale": "text",
    "payload": "json",
    "status": "text",
    "reason": "text",
    "attempts": "integer",
    "not_before": "timestamptz",
    "created_at": "timestamptz",
}
# Built from the constant column table above, never from input.
_PG_INSERT: Final = text(
    "INSERT INTO outbox_message ({cols}) SELECT * FROM unnest({arrays}) "  # noqa: S608
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id".format(
        cols=", ".join(_PG_ARRAY_TYPES),
        arrays=", ".join(f"CAST(:{c} AS {t}[])" for c, t in _PG_ARRAY_TYPES.items()),
    )
)


_SQLITE_INSERT: Final = text(
    "INSERT INTO outbox_message ({cols}) VALUES ({values}) "  # noqa: S608
    "ON CONFLICT (idempotency_key) DO NOTHING".format(
        cols=", ".join(_PG_ARRAY_TYPES), values=", ".join(f":{c}" for c in _PG_ARRAY_TYPES)
    )
)


def _write(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows`` with ON CONFLICT (idempotency_key) DO NOTHING; return how many were new.

    Both dialects get one short statement whose parameters are converted once per distinct
    value (a fan-out shares one payload and one timestamp between its rows):
    PostgreSQL ``INSERT … SELECT * FROM unnest(<one array per column>)`` (a multi-row VALUES
    statement of 1,000 rows is 14,000 placeholders that psycopg parses again for every batch:
    2/3 of a 50k-citizen plan), SQLite a prepared ``executemany`` (SQLAlchemy's per-row type
    processing was half of the plan).
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    dumped: dict[int, str] = {}

    def as_json(payload: Any) -> str:
        text_ = dumped.get(id(payload))
        if text_ is None:
            text_ = dumped[id(payload)] = json.dumps(payload, ensure_ascii=False)
        return text_

    if dialect.name == "postgresql":
        params: dict[str, list[Any]] = {c: [r[c] for r in rows] for c in _PG_ARRAY_TYPES}
        params["payload"] = [as_json(p) for p in params["payload"]]
        return len(session.execute(_PG_INSERT, params).scalars().all())
    # the dialect's own conversion (SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC), so
    # rows written here compare equal to rows written through the ORM
    column_type = cast(Table, OutboxMessage.__table__).c.not_before.type
    to_db = column_type.dialect_impl(dialect).bind_processor(dialect)
    stamps: dict[datetime, Any] = {}

    def stamp(value: datetime) -> Any:
        if value not in stamps:
            stamps[value] = to_db(value) if to_db else value
        return stamps[value]

    converted = [
        {
            **r,
            "payload": as_json(r["payload"]),
            "not_before": stamp(r["not_before"]),
            "created_at": stamp(r["created_at"]),
        }
        for r in rows
    ]
    return int(getattr(session.execute(_SQLITE_INSERT, converted), "rowcount", 0) or 0)


def _check(kind: str, template: str, purpose: str | None) -> None:
    if kind not in KIND_PURPOSE:
        raise ValidationError(f"unknown message kind {kind!r}", field="kind")
    if template not in MESSAGES:
        raise ValidationError(f"unknown template {template!r}", field="template")
    if purpose is not None and purpose not in PURPOSES:
        raise ValidationError(f"{purpose!r} is not one of {PURPOSES}", field="purpose")


def enqueue(
    session: Session,
    *,
    kind: str,
    consultation_id: int | None,
    round: int,
    citizen_id: int,
    purpose: str | None,
    template: str,
    context: Mapping[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> EnqueueResult:
    """Queue one message to one citizen, routed now (:func:`notifications.routing.route`).

    A suppressed decision is written too (status ``suppressed`` with its reason), so every
    decision leaves a trace; calling again with the same kind, consultation, round and
    citizen returns the existing row and writes nothing.

    Args:
        kind: ``invitation``, ``reminder``, ``results``, ``survey_invitation`` or
            ``signin_code``.
        consultation_id: the consultation (its policy gives quiet hours and the cap), or None.
        round: see the module docstring.
        citizen_id: the recipient.
        purpose: the consent purpose, or None for a transactional message.
        template: a message folder of :data:`notifications.templating.MESSAGES`.
        context: JSON-able template values (see the module docstring for ``*_utc`` values;
            ``citizen_name`` and ``unsubscribe_url`` are added at delivery).
        actor: organizer or system; a citizen only for their own sign-in code.
        now: decision time, UTC (default :func:`core.clock.now`).
    Returns:
        an :class:`~notifications.schemas.EnqueueResult`.
    Raises:
        ValidationError: unknown kind, template or purpose. NotFound: citizen or
        consultation. NotAllowed: the actor may not queue this message.
    """
    return _enqueue_one(
        session,
        kind=kind,
        consultation_id=consultation_id,
        round=round,
        citizen_id=citizen_id,
        purpose=purpose,
        template=template,
        context=context,
        actor=actor,
        now=now,
        prefer=None,
    )


def _enqueue_one(
    session: Session,
    *,
    kind: str,
    consultation_id: int | None,
    round: int,
    citizen_id: int,
    purpose: str | None,
    template: str,
    context: Mapping[str, Any],
    actor: Actor,
    now: datetime | None,
    prefer: str | None,
) -> EnqueueResult:
    _check(kind, template, purpose)
    if actor.kind == "citizen":
        if kind != "signin_code" or actor.id != citizen_id:
            raise NotAllowed("a citizen may only ask for their own sign-in code", field="actor")
    else:
        actor.require_staff("organizer")
    cons = get_consultation(session, ref=consultation_id) if consultation_id is not None else None
    now = now or clock.now()
    existing = session.execute(
        select(OutboxMessage)
        .where(
            _cons_match(consultation_id),
            OutboxMessage.citizen_id == citizen_id,
            OutboxMessage.kind == kind,
            OutboxMessage.idempotency_key.startswith(
                _prefix(kind, consultation_id, round), autoescape=True
            ),
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        return _result(existing, created=False)
    row = session.execute(_citizens_select().where(Citizen.id == citizen_id)).one_or_none()
    if row is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    page = _page_facts(
        session,
        kind=kind,
        purpose=purpose,
        consultation_id=consultation_id,
        round=round,
        lo=citizen_id,
        hi=citizen_id,
    )
    facts, consents = _facts(row, page)
    if prefer is not None:
        facts = replace(facts, preferred_channel=prefer)
    sent = page.sent_count.get(citizen_id, 0)
    decision = route(facts, consents, policy_for(cons), now, sent, kind=kind, purpose=purpose)
    values = _row(
        kind=kind,
        template=template,
        purpose=purpose,
        consultation_id=consultation_id,
        round=round,
        citizen_id=citizen_id,
        preferred=facts.preferred_channel,
        decision=decision,
        payload=context,
        now=now,
    )
    created = _write(session, [values]) > 0
    stored = session.execute(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == values["idempotency_key"])
    ).scalar_one()
    if created:
        append_event(
            session,
            actor=actor,
            action="outbox.enqueue",
            subject=f"outbox_message:{stored.id}",
            payload={
                "key": stored.idempotency_key,
                "status": stored.status,
                "reason": stored.reason,
            },
        )
    return _result(stored, created=created)


def _result(m: OutboxMessage, *, created: bool) -> EnqueueResult:
    return EnqueueResult(
        m.idempotency_key, m.id, created, m.channel, m.status, m.reason, m.not_before
    )


def enqueue_signin_code(
    session: Session,
    *,
    citizen_id: int,
    signin_code_id: int,
    code: str,
    minutes_valid: int,
    actor: Actor,
    channel: str | None = None,
    now: datetime | None = None,
) -> EnqueueResult:
    """Queue a one-time sign-in code: transactional (purpose None: no consent needed, never
    capped, no quiet hours), on ``channel`` if given, else the preferred channel; the other
    channel when that one has no address.

    Args:
        citizen_id: the citizen signing in.
        signin_code_id: the ``signin_code`` row (the key's round, so each code is one message).
        code: the code in ASCII digits (kept in the payload until sent, then removed).
        minutes_valid: shown in the message.
        actor: the citizen themself, or system.
        channel: ``email`` or ``sms`` to override the citizen's preference.
    Raises:
        ValidationError: a code that is not ASCII digits, or an unknown channel.
        NotFound: no such citizen.
    """
    if not (code.isascii() and code.isdigit()):
        raise ValidationError("a sign-in code is ASCII digits", field="code")
    if channel is not None and channel not in ("email", "sms"):
        raise ValidationError(f"unknown channel {channel!r}", field="channel")
    return _enqueue_one(
        session,
        kind="signin_code",
        consultation_id=None,
        round=signin_code_id,
        citizen_id=citizen_id,
        purpose=None,
        template="signin_code",
        context={"code": code, "minutes_valid": int(minutes_valid)},
        actor=actor,
        now=now,
        prefer=channel,
    )


def suppress_queued(
    session: Session, *, citizen_id: int, channel: str, purposes: Sequence[str], reason: str
) -> int:
    """Suppress a citizen's queued (pending or deferred) messages on ``channel`` for
    ``purposes`` (transactional messages are left alone).

    Returns:
        the number of rows suppressed.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.citizen_id == citizen_id,
            OutboxMessage.channel == channel,
            OutboxMessage.status.in_(QUEUED_STATUSES),
            OutboxMessage.purpose.in_(list(purposes)),
        )
        .values(status="suppressed", reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_messages(
    session: Session, *, status: str | None = None, limit: int = 200
) -> list[OutboxRow]:
    """Return outbox rows, newest first (no contact details).

    Args:
        status: only this status (``pending``, ``sending``, ``sent``, ``failed``,
            ``suppressed``, ``deferred``).
        limit: at most this many rows (1-100000).
    Raises:
        ValidationError: unknown status (field ``status``) or bad limit (field ``limit``).
    """
    if status is not None and status not in OUTBOX_STATUSES:
        raise ValidationError(
            f"{status!r} is not one of {', '.join(OUTBOX_STATUSES)}", field="status"
        )
    if not 1 <= limit <= 100_000:
        raise ValidationError(f"must be between 1 and 100000 (got {limit})", field="limit")
    stmt = (
        select(
            OutboxMessage.id,
            OutboxMessage.idempotency_key,
            OutboxMessage.kind,
            OutboxMessage.channel,
            OutboxMessage.status,
            OutboxMessage.reason,
            OutboxMessage.attempts,
            OutboxMessage.provider_id,
            OutboxMessage.not_before,
            OutboxMessage.created_at,
            OutboxMessage.sent_at,
        )
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return [OutboxRow(*r) for r in session.execute(stmt).all()]
