"""Read models for pages and the CLI: plain rows, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import BallotChoice, Proposal


@dataclass(frozen=True, slots=True)
class ProposalRow:
    """A proposal with its vote count (ballots naming it)."""

    id: int
    external_ref: str
    title: str
    cost: int | None
    status: str
    votes: int


def proposal_rows(session: Session, *, consultation_id: int) -> list[ProposalRow]:
    """Return a consultation's proposals with the number of ballots naming each, by id."""
    votes = (
        select(BallotChoice.proposal_id, func.count().label("n"))
        .where(BallotChoice.consultation_id == consultation_id)
        .group_by(BallotChoice.proposal_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Proposal.id,
            Proposal.external_ref,
            Proposal.title,
            Proposal.cost,
            Proposal.status,
            func.coalesce(votes.c.n, 0),
        )
        .outerjoin(votes, votes.c.proposal_id == Proposal.id)
        .where(Proposal.consultation_id == consultation_id)
        .order_by(Proposal.id)
    ).all()
    return [ProposalRow(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]
