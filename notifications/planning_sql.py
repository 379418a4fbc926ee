"""A fan-out routed in SQL: :func:`notifications.routing.route` for a whole audience at once.

:func:`route` is the rule; :func:`plan_in_sql` computes the same decision for every citizen
of an audience in the database and writes the rows with one ``INSERT … SELECT``:

1. ``SELECT DISTINCT locale, time_zone`` of the audience (only ``locale`` when the policy has
   no quiet hours). Python applies the rule's own functions to each distinct value —
   :func:`~notifications.templating.resolve_locale` and
   :func:`~notifications.routing.quiet_until` — and the SQL below only maps those values to
   the answers (``CASE WHEN locale IN (…) THEN 'fa' …``), so locale parsing and time-zone
   arithmetic exist once, in Python.
2. ``INSERT INTO`` a temporary table ``SELECT`` one decision per audience citizen: ``citizen``
   left-joined to the citizen's two consents for the purpose (the ``consent (citizen_id,
   channel, purpose)`` key), their ballot (the ``ballot (consultation_id, citizen_id)`` key)
   and the consultation's queued messages grouped by citizen (capped count, a row of this
   kind and round); ``CASE`` expressions decide in :func:`route`'s order: ``existing`` (a
   row of this kind and round on either channel: nothing written, so a retry adds
   nothing), ``already_voted``, the channel (preferred when consented and addressed, else
   the other with ``fallback_from_<preferred>``, else ``no_address`` / ``no_consent``),
   ``capped``, ``holdout``, quiet hours (``deferred`` until the zone's answer), ``pending``.
3. ``SELECT outcome, count(*) … GROUP BY outcome`` of that table: the counts of the
   :class:`~notifications.schemas.PlanResult`.
4. ``INSERT INTO outbox_message … SELECT … ON CONFLICT (idempotency_key) DO NOTHING`` of the
   rows to write (SQLAlchemy's SQLite and PostgreSQL ``insert``), skipped when there are
   none; the key is built in SQL as ``{kind}:{consultation}:{round}:`` ‖ citizen id ‖ ``:``
   ‖ channel, exactly :func:`notifications.outbox.message_key`.

The temporary table lets 3 and 4 read each decision instead of evaluating the joins twice
(SQLite, 200k citizens: 25 % less CPU); it is dropped before returning, and with the
transaction if anything fails. Joins, not look-ups per citizen: SQLite (no statistics)
plans them as index look-ups in citizen order; PostgreSQL hashes the smaller sides, also
when its statistics of the outbox are stale (checked: an outbox grouped to an estimated 1
row, 140k in fact, was still hashed, not looped over; a ``LATERAL`` look-up per citizen
instead cost 30 % more server CPU and crossed the JIT thresholds).

The holdout compares the first 16 hex digits of ``SHA-256(salt 0x1F public_id)`` with
:func:`~notifications.routing.holdout_cut`, the bound at which
:func:`~notifications.routing.in_holdout`'s float comparison flips: PostgreSQL's
``sha256``; on SQLite, which has none, a deterministic SQL function (Python's ``hashlib``)
registered on the connection.

A citizen whose locale or time zone was not among the values of step 1 (more than
:data:`MAX_VALUES` distinct values, NULL, or a row that arrived between the statements)
gets the outcome ``python``: nothing is written for them here, and their ids are returned
for :func:`route` to decide one by one. ``tests/notifications/test_planning.py`` checks on
random populations that the rows written here equal :func:`route`'s, row for row.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from models import Ballot, Citizen, Consent, OutboxMessage
from models.base import UTCDateTime
from notifications.outbox import _capped_and_same, _cons_match, _prefix
from notifications.routing import (
    CAPPED_KINDS,
    RoutingPolicy,
    holdout_cut,
    quiet_hours_apply,
    quiet_until,
)
from notifications.schemas import SKIP_PARTICIPANTS
from notifications.templating import resolve_locale

__all__ = ["DIALECTS", "MAX_VALUES", "PYTHON", "FanOut", "SqlPlan", "plan_in_sql"]

DIALECTS: Final = ("postgresql", "sqlite")
"""Databases :func:`plan_in_sql` writes for (``INSERT … ON CONFLICT DO NOTHING``)."""
MAX_VALUES: Final = 500
"""Distinct locales (and time zones) mapped in SQL; citizens with others go to Python."""
PYTHON: Final = "python"
"""The outcome of a citizen that SQL leaves to :func:`notifications.routing.route`."""
_SUPPRESSED: Final = "suppressed:"
_ALWAYS_KEPT: Final = ("pending", "deferred", "suppressed:holdout")
_SUPPRESSED_KEPT: Final = ("suppressed:no_address", "suppressed:no_consent", "suppressed:capped")
_SQLITE_SHA: Final = "civicflow_sha256_hex16"
_DECIDED: Final = Table(
    "civicflow_plan_decided",
    MetaData(),
    Column("id", Integer),
    Column("outcome", String(32)),
    Column("channel", String(8)),
    Column("preferred", String(8)),
    Column("locale", String(8)),
    Column("quiet_until", UTCDateTime),
    prefixes=["TEMPORARY"],
)
"""Step 2's decisions, one row per audience citizen, for the length of one call."""


@dataclass(frozen=True, slots=True)
class FanOut:
    """One fan-out: which message, under which policy, decided at which instant.

    Attributes:
        kind: ``invitation``, ``reminder``, ``results`` or ``survey_invitation``.
        purpose: the consent purpose of ``kind`` (``None`` only for transactional kinds,
            which are never fanned out).
        consultation_id: the consultation, or ``None`` (a survey wave).
        round: the round in the keys.
        policy: the consultation's :class:`~notifications.routing.RoutingPolicy`.
        now: decision time, aware UTC.
        context: the JSON payload shared by every row.
        record_suppressed: write ``suppressed`` rows too (``holdout`` rows always).
    """

    kind: str
    purpose: str | None
    consultation_id: int | None
    round: int
    policy: RoutingPolicy
    now: datetime
    context: Mapping[str, Any]
    record_suppressed: bool


@dataclass(frozen=True, slots=True)
class SqlPlan:
    """What :func:`plan_in_sql` did.

    Attributes:
        counts: citizens by outcome (keys of ``PlanResult.counts``, plus :data:`PYTHON`).
        created: rows written.
        leftover: ids of the citizens with outcome :data:`PYTHON`, ascending.
    """

    counts: Counter[str]
    created: int
    leftover: list[int]


@dataclass(frozen=True, slots=True)
class _Values:
    """The rule's answers for the distinct values of the audience (step 1)."""

    locales: Mapping[str, str]
    zones: Mapping[str, datetime | None] | None  # None: no quiet hours


def plan_in_sql(
    session: Session,
    fan_out: FanOut,
    audience: ColumnElement[bool] | None,
    *,
    dialect: str,
) -> SqlPlan:
    """Route every citizen of ``audience`` in SQL and write their rows (module docstring).

    Args:
        session: the caller's transaction (nothing is committed).
        fan_out: the :class:`FanOut`; its ``purpose`` must not be ``None``.
        audience: a condition on ``citizen`` (``None``: every citizen).
        dialect: ``postgresql`` or ``sqlite`` (the session's database).
    Returns:
        a :class:`SqlPlan`; citizens in its ``leftover`` have no row yet.
    Raises:
        ValueError: a dialect not in :data:`DIALECTS`, or a fan-out without a purpose.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL routing for {dialect!r}")
    if fan_out.purpose is None:
        raise ValueError("a fan-out needs a consent purpose")
    values = _distinct_values(session, fan_out, audience)
    conn = session.connection()
    _DECIDED.drop(conn, checkfirst=True)  # DDL is transactional: only a caught error leaves it
    _DECIDED.create(conn)
    decided = _decisions(session, fan_out, audience, values, dialect=dialect)
    conn.execute(insert(_DECIDED).from_select([col.name for col in _DECIDED.c], decided))
    d = _DECIDED.c
    counts: Counter[str] = Counter()
    for outcome, n in conn.execute(select(d.outcome, func.count()).group_by(d.outcome)):
        counts[str(outcome)] = int(n)
    kept = list(_ALWAYS_KEPT) + (list(_SUPPRESSED_KEPT) if fan_out.record_suppressed else [])
    created = 0
    if any(counts[o] for o in kept):
        created = _insert(session, fan_out, kept, dialect=dialect)
    leftover: list[int] = []
    if counts[PYTHON]:
        leftover = [
            int(i)
            for i in conn.execute(select(d.id).where(d.outcome == PYTHON).order_by(d.id)).scalars()
        ]
    _DECIDED.drop(conn)
    return SqlPlan(counts, created, leftover)


def _distinct_values(
    session: Session, fan_out: FanOut, audience: ColumnElement[bool] | None
) -> _Values:
    """Step 1: ``resolve_locale`` and ``quiet_until`` of the audience's distinct values."""
    policy = fan_out.policy
    quiet = quiet_hours_apply(policy.quiet_start, policy.quiet_end)
    stmt = (
        select(Citizen.locale, Citizen.time_zone) if quiet else select(Citizen.locale)
    ).distinct()
    if audience is not None:
        stmt = stmt.where(audience)
    locales: set[str] = set()
    zones: set[str] = set()
    for row in session.execute(stmt):
        if row[0] is not None:
            locales.add(row[0])
        if quiet and row[1] is not None:
            zones.add(row[1])
    return _Values(
        {loc: resolve_locale(loc) for loc in sorted(locales)[:MAX_VALUES]},
        {
            zone: quiet_until(fan_out.now, zone, policy.quiet_start, policy.quiet_end)
            for zone in sorted(zones)[:MAX_VALUES]
        }
        if quiet
        else None,
    )


def _known(values: _Values) -> ColumnElement[bool]:
    """The citizen's locale (and, with quiet hours, time zone) was mapped in step 1."""
    known: ColumnElement[bool] = Citizen.locale.in_(list(values.locales))
    if values.zones is not None:
        known = and_(known, Citizen.time_zone.in_(list(values.zones)))
    return known


def _grouped(answers: Mapping[str, Any]) -> dict[Any, list[str]]:
    """``{answer: [values]}``, in order of first appearance."""
    out: dict[Any, list[str]] = {}
    for value, answer in answers.items():
        out.setdefault(answer, []).append(value)
    return out


def _locale(values: _Values) -> ColumnElement[str]:
    """``resolve_locale(citizen.locale)`` for the mapped values: a ``CASE`` over the groups,
    the largest one in ``ELSE``."""
    groups = sorted(_grouped(values.locales).items(), key=lambda g: len(g[1]))
    if not groups:
        return literal("", String)
    *named, (rest, _) = groups
    if not named:
        return literal(rest, String)
    return case(*((Citizen.locale.in_(vs), loc) for loc, vs in named), else_=rest)


def _hash_prefix(session: Session, dialect: str, salt: str) -> ColumnElement[str]:
    """The first 16 hex digits of ``SHA-256(salt 0x1F public_id)`` (see ``in_holdout``)."""
    seed = literal(f"{salt}\x1f", String) + Citizen.public_id
    if dialect == "postgresql":
        digest = func.sha256(func.convert_to(seed, "UTF8"))
        return func.substr(func.encode(digest, "hex"), 1, 16).collate("C")
    raw = session.connection().connection.driver_connection
    if raw is None:
        raise RuntimeError("the SQLite connection is closed")
    raw.create_function(_SQLITE_SHA, 1, _sha256_hex16, deterministic=True)
    return cast(ColumnElement[str], getattr(func, _SQLITE_SHA)(seed))


def _sha256_hex16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decisions(
    session: Session,
    fan_out: FanOut,
    audience: ColumnElement[bool] | None,
    values: _Values,
    *,
    dialect: str,
) -> Select[Any]:
    """One row per audience citizen, the columns of :data:`_DECIDED`: ``id``, ``outcome`` (a
    key of ``PlanResult.counts`` or :data:`PYTHON`), ``channel``, ``preferred``, ``locale``,
    ``quiet_until`` — :func:`route`'s decision."""
    c, cid, policy = Citizen, fan_out.consultation_id, fan_out.policy
    ce, cs, b = aliased(Consent), aliased(Consent), aliased(Ballot)

    capped_row, same_row = _capped_and_same(fan_out.kind, cid, fan_out.round)
    # grouped once per statement and joined (module docstring)
    queued = (
        select(
            OutboxMessage.citizen_id.label("citizen_id"),
            func.sum(case((capped_row, 1), else_=0)).label("sent"),
            func.max(case((same_row, 1), else_=0)).label("existing"),
        )
        .where(_cons_match(cid))
        .group_by(OutboxMessage.citizen_id)
        .subquery("queued")
    )
    skips = cid is not None and fan_out.kind in SKIP_PARTICIPANTS
    took_part: ColumnElement[bool] = b.id.is_not(None) if skips else false()

    # choose_channel: the preferred channel if consented and addressed, else the other
    preferred = case((c.preferred_channel == "sms", "sms"), else_="email")
    ok_email = and_(ce.opted_in.is_(True), c.email.is_not(None))
    ok_sms = and_(cs.opted_in.is_(True), c.phone.is_not(None))
    no_channel = not_(or_(ok_email, ok_sms))
    some_consent = or_(ce.opted_in.is_(True), cs.opted_in.is_(True))

    capped: ColumnElement[bool] = false()
    if fan_out.kind in CAPPED_KINDS and policy.max_messages is not None:
        capped = func.coalesce(queued.c.sent, 0) >= policy.max_messages
    held: ColumnElement[bool] = false()
    cut = holdout_cut(policy.holdout_share)
    if fan_out.kind == "reminder" and cut > 0:
        held = (
            true()
            if cut >= 2**64
            else _hash_prefix(session, dialect, policy.holdout_salt) < f"{cut:016x}"
        )
    quiet: ColumnElement[bool] = false()
    until: ColumnElement[Any] = literal(None, UTCDateTime)
    if values.zones is not None:
        by_until = _grouped({z: u for z, u in values.zones.items() if u is not None})
        if by_until:
            quiet = c.time_zone.in_([z for zs in by_until.values() for z in zs])
            until = case(
                *((c.time_zone.in_(zs), literal(u, UTCDateTime)) for u, zs in by_until.items())
            )

    decided = case(
        (func.coalesce(queued.c.existing, 0) == 1, "existing"),
        (took_part, "already_voted"),
        (and_(no_channel, some_consent), f"{_SUPPRESSED}no_address"),
        (no_channel, f"{_SUPPRESSED}no_consent"),
        (capped, f"{_SUPPRESSED}capped"),
        (held, f"{_SUPPRESSED}holdout"),
        (quiet, "deferred"),
        else_="pending",
    )
    channel = case(
        (preferred == "sms", case((ok_sms, "sms"), (ok_email, "email"), else_="sms")),
        else_=case((ok_email, "email"), (ok_sms, "sms"), else_="email"),
    )
    columns = [
        c.id,
        case((_known(values), decided), else_=PYTHON),
        channel,
        preferred,
        _locale(values),
        until,
    ]
    stmt: Select[Any] = (
        select(*columns)
        .select_from(c)
        .outerjoin(
            ce, and_(ce.citizen_id == c.id, ce.channel == "email", ce.purpose == fan_out.purpose)
        )
        .outerjoin(
            cs, and_(cs.citizen_id == c.id, cs.channel == "sms", cs.purpose == fan_out.purpose)
        )
        .outerjoin(queued, queued.c.citizen_id == c.id)
    )
    if skips:
        stmt = stmt.outerjoin(b, and_(b.consultation_id == cid, b.citizen_id == c.id))
    if audience is not None:
        stmt = stmt.where(audience)
    return stmt


def _insert(session: Session, fan_out: FanOut, kept: Sequence[str], *, dialect: str) -> int:
    """Step 4: ``INSERT … SELECT`` the decided rows whose outcome is in ``kept``.

    Returns:
        rows written (a key already present is skipped by ``ON CONFLICT DO NOTHING``).
    """
    d, now = _DECIDED.c, literal(fan_out.now, UTCDateTime)
    status = case(
        (d.outcome == "pending", "pending"),
        (d.outcome == "deferred", "deferred"),
        else_="suppressed",
    )
    reason = case(
        (d.outcome == "deferred", "quiet_hours"),
        (
            d.outcome == "pending",
            case((d.channel != d.preferred, literal("fallback_from_", String) + d.preferred)),
        ),
        else_=func.substr(d.outcome, len(_SUPPRESSED) + 1),
    )
    key = (
        literal(_prefix(fan_out.kind, fan_out.consultation_id, fan_out.round), String)
        + sql_cast(d.id, String)
        + literal(":", String)
        + d.channel
    )
    table = cast(Table, OutboxMessage.__table__)
    values: dict[str, Any] = {
        "idempotency_key": key,
        "citizen_id": d.id,
        "consultation_id": literal(fan_out.consultation_id, table.c.consultation_id.type),
        "kind": literal(fan_out.kind, String),
        "purpose": literal(fan_out.purpose, String),
        "channel": d.channel,
        "template": literal(fan_out.kind, String),
        "locale": d.locale,
        "payload": literal(dict(fan_out.context), table.c.payload.type),
        "status": status,
        "reason": reason,
        "attempts": literal(0, table.c.attempts.type),
        "not_before": case((d.outcome == "deferred", d.quiet_until), else_=now),
        "created_at": now,
    }
    body = select(*values.values()).where(d.outcome.in_(list(kept)))
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        make(table)
        .from_select(list(values), body)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .execution_options(preserve_rowcount=True)
    )
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)
