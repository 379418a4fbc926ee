"""Casting ballots: one ballot per citizen per consultation, whatever the channel."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import Ballot, BallotChoice, Citizen, Proposal
from participation.audit import append_event
from participation.consultations import get_consultation
from participation.ledger import record_contact
from participation.rules import BallotRules, Eligibility, eligibility_refusal, validate_ballot
from participation.schemas import OFFLINE_CHANNELS, BallotReceipt

CAST_CHANNELS = frozenset({"web", "sms", "email"}) | OFFLINE_CHANNELS


def new_receipt_code() -> str:
    """A random 16-character receipt code (80 bits, base32, no look-alike padding)."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


def _insert(session: Session):  # type: ignore[no-untyped-def]
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def open_proposal_costs(session: Session, consultation_id: int) -> dict[int, int | None]:
    """Return ``{proposal id: cost}`` of the consultation's proposals that can be voted on."""
    rows = session.execute(
        select(Proposal.id, Proposal.cost).where(
            Proposal.consultation_id == consultation_id, Proposal.status == "published"
        )
    ).all()
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
        a :class:`BallotReceipt` with a new receipt code.
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
    c = get_consultation(session, ref=consultation_id)
    now = clock.now()
    if c.status != "open" or not (c.opens_at <= now < c.closes_at):
        raise NotAllowed(
            f"voting is not open (consultation is {c.status}, window "
            f"{c.opens_at.isoformat()} to {c.closes_at.isoformat()})",
            field="consultation",
        )
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    why = eligibility_refusal(
        Eligibility.from_json(c.eligibility),
        district=citizen.district,
        birth_year=citizen.birth_year,
        on=c.opens_at,
    )
    if why:
        raise NotAllowed(f"citizen is not eligible: {why}", field="citizen_id")
    costs = open_proposal_costs(session, c.id)
    validate_ballot(BallotRules.from_params(c.method, c.method_params), choices, costs)

    code = new_receipt_code()
    recorded_by = actor.id if offline and actor.kind == "staff" else None
    ins = (
        _insert(session)(Ballot)
        .values(
            consultation_id=c.id,
            citizen_id=citizen_id,
            channel=channel,
            cast_at=now,
            recorded_by=recorded_by,
            receipt_code=code,
            revision=1,
        )
        .on_conflict_do_nothing(index_elements=["consultation_id", "citizen_id"])
        .returning(Ballot.id)
    )
    ballot_id = session.execute(ins).scalar_one_or_none()
    replaced = False
    revision = 1
    if ballot_id is None:
        existing = session.execute(
            select(Ballot)
            .where(Ballot.consultation_id == c.id, Ballot.citizen_id == citizen_id)
            .with_for_update()
        ).scalar_one()
        if offline or existing.channel in OFFLINE_CHANNELS:
            raise Conflict(
                f"this citizen already has a ballot (received by {existing.channel})",
                field="citizen_id",
            )
        existing.channel, existing.cast_at, existing.receipt_code = channel, now, code
        existing.revision += 1
        revision = existing.revision
        ballot_id = existing.id
        replaced = True
        session.execute(delete(BallotChoice).where(BallotChoice.ballot_id == ballot_id))
    session.execute(
        insert(BallotChoice),
        [
            {"ballot_id": ballot_id, "proposal_id": p, "consultation_id": c.id, "value": v}
            for p, v in sorted(choices.items())
        ],
    )
    record_contact(
        session,
        citizen_id=citizen_id,
        channel=channel,
        direction="inbound",
        kind="ballot",
        ref_table="ballot",
        ref_id=ballot_id,
        consultation_id=c.id,
        at=now,
    )
    append_event(
        session,
        actor=actor,
        action="ballot.replace" if replaced else "ballot.cast",
        subject=f"consultation:{c.id}/citizen:{citizen_id}",
        payload={"choices": sorted(choices.items()), "channel": channel, "revision": revision},
    )
    return BallotReceipt(ballot_id, code, revision, replaced, channel)


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
