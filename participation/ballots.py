"""Casting ballots: one ballot per citizen per consultation, whatever the channel.

The casting path is written with Core statements built once per dialect (no ORM objects,
no flushes): at a few hundred ballots a second the ORM's unit of work cost more than the
rows themselves (docs/performance.md, ``cast``). A cast is, in order: one ``SELECT`` of
the consultation joined to the citizen, one ``SELECT`` of the open proposals, an upsert of
the ballot row (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, atomic under concurrent
casts for the same citizen), then the choices, the contact-ledger row and the audit event
(on PostgreSQL these three in one statement). The audit event is a plain insert that locks
nothing shared; it is sealed into the chain after the commit (``participation.audit``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from datetime import UTC
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from core.prepared import Prepared
from models import Ballot, BallotChoice, Citizen, Consultation, Contact, Proposal
from models.base import UTCDateTime
from participation.audit import EVENT_KEYS, append_event, event_values
from participation.rules import BallotRules, Eligibility, eligibility_refusal, validate_ballot
from participation.schemas import OFFLINE_CHANNELS, BallotReceipt

CAST_CHANNELS = frozenset({"web", "sms", "email"}) | OFFLINE_CHANNELS

_BALLOT = cast(Table, Ballot.__table__)
_CHOICE = cast(Table, BallotChoice.__table__)
_CONS = cast(Table, Consultation.__table__)
_CITIZEN = cast(Table, Citizen.__table__)
_PROPOSAL = cast(Table, Proposal.__table__)
_CONTACT = cast(Table, Contact.__table__)

_CONTEXTS: dict[int, Any] = {}
_MAX_JOINED = 32
"""Longest ballot whose proposals are looked up in the context ``SELECT`` (one cached
statement per length); longer ballots, or ones naming no proposal id at all, read all open
proposals of the consultation in a second query (no statement per length, no bound on
parameters: SQLite allows 32,766 per statement)."""


def _context(n: int) -> Any:
    """The consultation, the voter and ``n`` chosen proposals in one ``SELECT``, built once
    per ``n``.

    One row per chosen proposal that is open (published) in this consultation, with its
    cost, or a single row with a NULL proposal when none is (the consultation row is locked
    in share mode, see below); the outer joins keep the
    consultation's row when there is no such citizen (citizen id NULL). Parameters:
    ``consultation_id``, ``citizen_id``, ``p0`` … ``p{n-1}`` (fixed parameters, not an
    expanding ``IN``, which SQLAlchemy re-renders on every execution).
    """
    stmt = _CONTEXTS.get(n)
    if stmt is None:
        on_proposal = (_PROPOSAL.c.consultation_id == _CONS.c.id) & (
            _PROPOSAL.c.status == "published"
        )
        if n:
            on_proposal &= _PROPOSAL.c.id.in_([bindparam(f"p{k}") for k in range(n)])
        else:
            on_proposal &= false()
        stmt = _CONTEXTS[n] = (
            select(
                _CONS.c.status,
                _CONS.c.opens_at,
                _CONS.c.closes_at,
                _CONS.c.method,
                _CONS.c.method_params,
                _CONS.c.eligibility,
                _CITIZEN.c.id,
                _CITIZEN.c.district,
                _CITIZEN.c.birth_year,
                _PROPOSAL.c.id,
                _PROPOSAL.c.cost,
            )
            .select_from(
                _CONS.outerjoin(_CITIZEN, _CITIZEN.c.id == bindparam("citizen_id")).outerjoin(
                    _PROPOSAL, on_proposal
                )
            )
            .where(_CONS.c.id == bindparam("consultation_id"))
            # PostgreSQL: hold the consultation row in share mode until the commit, so
            # closing (which locks it for update, then records the ballot total) waits for
            # every cast that saw it open, and a cast that starts meanwhile reads it closed
            # (SQLite serialises write transactions anyway and renders no lock clause)
            .with_for_update(read=True, of=_CONS)
        )
    return stmt


_PREPARED_CONTEXTS: dict[int, Prepared] = {}


def _context_prepared(n: int) -> Prepared:
    """:func:`_context` for the DBAPI cursor (PostgreSQL only: see ``cast_ballot``)."""
    stmt = _PREPARED_CONTEXTS.get(n)
    if stmt is None:
        keys = ["consultation_id", "citizen_id", *(f"p{k}" for k in range(n))]
        stmt = _PREPARED_CONTEXTS[n] = Prepared(_context(n), keys)
    return stmt


_OPEN_PROPOSALS = select(_PROPOSAL.c.id, _PROPOSAL.c.cost).where(
    _PROPOSAL.c.consultation_id == bindparam("consultation_id"),
    _PROPOSAL.c.status == "published",
)
_EXISTING_CHANNEL = select(_BALLOT.c.channel).where(
    _BALLOT.c.consultation_id == bindparam("consultation_id"),
    _BALLOT.c.citizen_id == bindparam("citizen_id"),
)
# the writes run on the DBAPI cursor (core.prepared): in SQLite's write lock their
# SQLAlchemy execution overhead was most of the transaction
_DROP_CHOICES = Prepared(delete(_CHOICE).where(_CHOICE.c.ballot_id == bindparam("b_id")), ["b_id"])
_INSERT_CHOICES = Prepared(
    insert(_CHOICE), ["ballot_id", "proposal_id", "consultation_id", "value"]
)
_INSERT_CONTACT = Prepared(
    insert(_CONTACT),
    ["citizen_id", "consultation_id", "channel", "direction", "kind", "ref_table", "ref_id", "at"],
)
# PostgreSQL: the choices, the contact-ledger row and the audit event in one statement (one
# round trip and one statement's Python instead of five; with 8 writers on 2 cores Python
# per statement is what a cast costs: docs/performance.md, ``cast``). PostgreSQL runs every
# data-modifying ``WITH`` part exactly once, whether or not it is read.
_PG_WRITES = Prepared(
    text(
        "WITH choice AS (INSERT INTO ballot_choice (ballot_id, proposal_id, consultation_id,"
        " value) SELECT :ballot_id, t.p, :consultation_id, t.v"
        " FROM unnest(CAST(:pids AS integer[]), CAST(:vals AS integer[])) AS t(p, v)),"
        " ledger AS (INSERT INTO contact (citizen_id, consultation_id, channel, direction,"
        " kind, ref_table, ref_id, at) VALUES (:citizen_id, :consultation_id, :channel,"
        " 'inbound', 'ballot', 'ballot', :ballot_id, :cast_at))"
        " INSERT INTO audit_event (at, actor, action, subject, payload_digest)"
        " VALUES (:at, :actor, :action, :subject, :payload_digest)"
    ).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("cast_at", type_=UTCDateTime())),
    ["ballot_id", "consultation_id", "pids", "vals", "citizen_id", "channel", "cast_at",
     *EVENT_KEYS],
)
_BALLOT_KEYS = [
    "consultation_id",
    "citizen_id",
    "channel",
    "cast_at",
    "recorded_by",
    "receipt_code",
    "revision",
]
_UPSERTS: dict[tuple[str, bool], Prepared] = {}


def _upsert(dialect: str, offline: bool) -> Prepared:
    """The ballot upsert for ``dialect``, built once.

    A new ballot is inserted with revision 1. On the ``(consultation_id, citizen_id)``
    conflict an online ballot replaces a stored online one (new channel, time, receipt code,
    revision + 1); an offline ballot, or any ballot over an offline one, changes nothing and
    returns no row. ``RETURNING id, revision`` tells the caller which case happened.
    """
    key = (dialect, offline)
    stmt = _UPSERTS.get(key)
    if stmt is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        ins = make(_BALLOT)
        conflict = ["consultation_id", "citizen_id"]
        if offline:
            ins = ins.on_conflict_do_nothing(index_elements=conflict)
        else:
            ins = ins.on_conflict_do_update(
                index_elements=conflict,
                set_={
                    "channel": ins.excluded.channel,
                    "cast_at": ins.excluded.cast_at,
                    "receipt_code": ins.excluded.receipt_code,
                    "revision": _BALLOT.c.revision + 1,
                },
                # literal values: an expanding IN parameter is re-rendered on every execution
                where=_BALLOT.c.channel.not_in(
                    [literal_column(f"'{c}'") for c in sorted(OFFLINE_CHANNELS)]
                ),
            )
        stmt = _UPSERTS[key] = Prepared(
            ins.returning(_BALLOT.c.id, _BALLOT.c.revision), _BALLOT_KEYS
        )
    return stmt


def new_receipt_code() -> str:
    """A random 16-character receipt code (80 bits, base32, no look-alike padding)."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


def record_ballots_at_close(session: Session, *, consultation_id: int) -> int:
    """Count the consultation's ballots and store the total as ``ballots_at_close``.

    Called where a consultation's ballots become final: when voting closes
    (:func:`participation.consultations.transition` to ``closed``) and at the end of an
    import, which stores a closed consultation's ballots (a re-import counts again). The
    tally takes its ballot total from here instead of counting the ballot rows a second
    time (docs/performance.md, ``tally``); no path changes a closed consultation's ballots.

    Args:
        consultation_id: the consultation's id.
    Returns:
        the number of ballots (one per citizen who took part, with or without a choice).
    """
    n = int(session.execute(
        select(func.count()).select_from(_BALLOT)
        .where(_BALLOT.c.consultation_id == consultation_id)
    ).scalar_one())
    session.execute(
        update(_CONS).where(_CONS.c.id == consultation_id).values(ballots_at_close=n)
    )
    return n


def open_proposal_costs(session: Session, consultation_id: int) -> dict[int, int | None]:
    """Return ``{proposal id: cost}`` of the consultation's proposals that can be voted on.

    Args:
        consultation_id: the consultation's id.
    Returns:
        the published (not withdrawn, not yet answered) proposals' ids and costs (currency
        units; ``None`` outside budgets); empty for an unknown consultation.
    """
    rows = session.execute(_OPEN_PROPOSALS, {"consultation_id": consultation_id}).all()
    return {r[0]: r[1] for r in rows}


def cast_ballot(
    session: Session,
    *,
    consultation_id: int,
    citizen_id: int,
    choices: Mapping[int, int],
    channel: str,
    actor: Actor,
) -> BallotReceipt:
    """Cast (or, on the web while voting is open, replace) a citizen's ballot.

    Args:
        consultation_id: the consultation's id.
        citizen_id: the voter's id.
        choices: proposal id → value (see :func:`participation.rules.validate_ballot`).
        channel: ``web``/``sms``/``email`` from the citizen, or ``phone``/``letter``/``fax``/
            ``in_person`` recorded by staff.
        actor: the citizen themself for online channels; an organizer for offline channels.
    Returns:
        a :class:`BallotReceipt` with a new receipt code; ``revision`` counts the citizen's
        ballots in this consultation (1 for the first), ``replaced`` is ``revision > 1``.
    Raises:
        NotFound: consultation or citizen. NotAllowed: voting is not open now, the citizen is
        not eligible, or the actor may not record this ballot. ValidationError: bad choices
        or channel (nothing is stored). Conflict: the citizen already has a ballot that may
        not be replaced (one recorded offline, or a new offline ballot over any ballot).
    """
    if channel not in CAST_CHANNELS:
        raise ValidationError(f"{channel!r} is not a ballot channel", field="channel")
    offline = channel in OFFLINE_CHANNELS
    if offline:
        actor.require_staff("organizer")
    elif actor.kind == "citizen" and actor.id != citizen_id:
        raise NotAllowed("a citizen may cast only their own ballot", field="actor")
    elif actor.kind == "staff":
        raise NotAllowed("staff record ballots only through an offline channel", field="channel")
    # what needs no database first: on SQLite the transaction's start takes the write lock
    # (BEGIN IMMEDIATE) until the commit
    keys = {"consultation_id": consultation_id, "citizen_id": citizen_id}
    ids = [p for p in choices if isinstance(p, int)]  # others are unknown proposals
    if len(ids) > _MAX_JOINED:  # read every open proposal instead (second query below)
        ids = []
    asked = dict(keys, **{f"p{k}": p for k, p in enumerate(ids)})
    code = new_receipt_code()
    now = clock.now()
    session.flush()  # the statements below go to the connection, past the ORM's autoflush
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # on the DBAPI cursor: psycopg itself returns aware datetimes for timestamptz and
        # Python objects for json, all that SQLAlchemy's result processing would add here
        # (it was a quarter of a cast's Python; docs/performance.md, ``cast``)
        rows = _context_prepared(len(ids)).execute(conn, asked).fetchall()
    else:
        rows = conn.execute(_context(len(ids)), asked).all()
    if not rows:
        raise NotFound(f"no consultation {consultation_id!r}", field="consultation")
    status, opens_at, closes_at, method, params, eligibility, voter, district, born = rows[0][:9]
    # psycopg gives the session's time zone; messages and the age rule's date read UTC
    opens_at, closes_at = opens_at.astimezone(UTC), closes_at.astimezone(UTC)
    if status != "open" or not (opens_at <= now < closes_at):
        raise NotAllowed(
            f"voting is not open (consultation is {status}, window "
            f"{opens_at.isoformat()} to {closes_at.isoformat()})",
            field="consultation",
        )
    if voter is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    why = eligibility_refusal(
        Eligibility.from_json(eligibility), district=district, birth_year=born, on=opens_at
    )
    if why:
        raise NotAllowed(f"citizen is not eligible: {why}", field="citizen_id")
    # the costs of the chosen open proposals are all validate_ballot reads of ``costs``
    if ids or not choices:
        costs = {r[9]: r[10] for r in rows if r[9] is not None}
    else:
        costs = {r[0]: r[1] for r in conn.execute(_OPEN_PROPOSALS, keys)}
    validate_ballot(BallotRules.from_params(method, params or {}), choices, costs)
    chosen = sorted(choices.items())

    recorded_by = actor.id if offline and actor.kind == "staff" else None
    got = (
        _upsert(conn.dialect.name, offline)
        .execute(
            conn,
            {
                "consultation_id": consultation_id,
                "citizen_id": citizen_id,
                "channel": channel,
                "cast_at": now,
                "recorded_by": recorded_by,
                "receipt_code": code,
                "revision": 1,
            },
        )
        .fetchone()
    )
    if got is None:
        existing = conn.execute(_EXISTING_CHANNEL, keys).scalar_one()
        raise Conflict(
            f"this citizen already has a ballot (received by {existing})", field="citizen_id"
        )
    ballot_id, revision = got
    replaced = revision > 1
    if replaced:
        _DROP_CHOICES.execute(conn, {"b_id": ballot_id})
        _expire_loaded(session, ballot_id)
    action = "ballot.replace" if replaced else "ballot.cast"
    subject = f"consultation:{consultation_id}/citizen:{citizen_id}"
    payload = {"choices": chosen, "channel": channel, "revision": revision}
    if conn.dialect.name == "postgresql":
        _PG_WRITES.execute(
            conn,
            {
                "ballot_id": ballot_id,
                "consultation_id": consultation_id,
                "pids": [p for p, _ in chosen],
                "vals": [v for _, v in chosen],
                "citizen_id": citizen_id,
                "channel": channel,
                "cast_at": now,
                **event_values(actor=actor, action=action, subject=subject, payload=payload),
            },
        ).close()
        return BallotReceipt(ballot_id, code, revision, replaced, channel)
    _INSERT_CHOICES.executemany(
        conn,
        [
            {
                "ballot_id": ballot_id,
                "proposal_id": p,
                "consultation_id": consultation_id,
                "value": v,
            }
            for p, v in chosen
        ],
    )
    _INSERT_CONTACT.execute(
        conn,
        {
            "citizen_id": citizen_id,
            "consultation_id": consultation_id,
            "channel": channel,
            "direction": "inbound",
            "kind": "ballot",
            "ref_table": "ballot",
            "ref_id": ballot_id,
            "at": now,
        },
    )
    append_event(session, actor=actor, action=action, subject=subject, payload=payload)
    return BallotReceipt(ballot_id, code, revision, replaced, channel)


def _expire_loaded(session: Session, ballot_id: int) -> None:
    """Expire the ballot's ORM object if this session holds one (it was changed by Core)."""
    obj = session.identity_map.get(session.identity_key(Ballot, ballot_id))
    if obj is not None:
        session.expire(obj)


def ballot_of(session: Session, *, consultation_id: int, citizen_id: int) -> dict[int, int] | None:
    """Return the citizen's current choices (proposal id → value), or ``None`` if no ballot."""
    bid = session.execute(
        select(Ballot.id).where(
            Ballot.consultation_id == consultation_id, Ballot.citizen_id == citizen_id
        )
    ).scalar_one_or_none()
    if bid is None:
        return None
    rows = session.execute(
        select(BallotChoice.proposal_id, BallotChoice.value).where(BallotChoice.ballot_id == bid)
    ).all()
    return {r[0]: r[1] for r in rows}
