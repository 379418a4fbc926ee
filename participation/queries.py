"""Read models of proposals: plain frozen rows computed in SQL, for pages, reports and the CLI.

The read side of :mod:`participation` is split by subject, one module each:

- :mod:`participation.queries` (this module): a consultation's proposals, whole or a page
  at a time, with their vote and comment counts;
- :mod:`participation.queries_consultations`: consultation lists, one consultation, ballots
  per channel;
- :mod:`participation.queries_comments`: comment threads and the moderation queues;
- :mod:`participation.queries_citizens`: a citizen's profile and their ballot.

Every function takes the caller's :class:`~sqlalchemy.orm.Session` first, only reads, and
returns small frozen dataclasses (never ORM objects). Lists are paginated in SQL
(``LIMIT``/``OFFSET`` plus a ``COUNT``), and per-row figures are counted only for the rows
of the page, so a consultation with 5,000 proposals costs the same as a small one
(``bench/cases/page.py`` measures it). Writes go through the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from models import BallotChoice, Comment, Proposal


@dataclass(frozen=True, slots=True)
class ProposalRow:
    """A proposal with its vote count (ballots naming it)."""

    id: int
    external_ref: str
    title: str
    cost: int | None
    status: str
    votes: int


@dataclass(frozen=True, slots=True)
class ProposalItem:
    """A proposal on a page of the list, with its visible comments and (optionally) votes."""

    id: int
    ref: str
    title: str
    body: str
    cost: int | None
    category: str | None
    status: str
    answer: str | None
    votes: int | None
    comments: int


@dataclass(frozen=True, slots=True)
class ProposalBrief:
    """The few facts of a proposal a basket or a paper ballot needs."""

    id: int
    ref: str
    title: str
    cost: int | None
    status: str


def proposal_rows(session: Session, *, consultation_id: int) -> list[ProposalRow]:
    """Return all of a consultation's proposals with the number of ballots naming each.

    Args:
        consultation_id: the consultation's id.

    Returns:
        one row per proposal, by id (``votes`` is 0 for a proposal no ballot names); an
        empty list for an unknown consultation.
    """
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


def proposals_page(
    session: Session,
    *,
    consultation_id: int,
    offset: int = 0,
    limit: int = 10,
    with_votes: bool = False,
) -> tuple[list[ProposalItem], int]:
    """Return one page of a consultation's proposals (by id) and how many there are.

    Args:
        consultation_id: the consultation's id.
        offset: proposals to skip; limit: the page size (0 counts only).
        with_votes: also count the ballots naming each proposal of the page (shown with
            results and to staff; hidden while voting is open so counts do not sway votes).

    Returns:
        ``(items, total)``: the page's proposals (``votes`` is ``None`` without
        ``with_votes``; ``comments`` counts visible comments at any depth) and the number of
        the consultation's proposals.
    """
    total = session.execute(
        select(func.count())
        .select_from(Proposal)
        .where(Proposal.consultation_id == consultation_id)
    ).scalar_one()
    rows = session.execute(
        select(
            Proposal.id,
            Proposal.external_ref,
            Proposal.title,
            Proposal.body,
            Proposal.cost,
            Proposal.category,
            Proposal.status,
            Proposal.answer,
        )
        .where(Proposal.consultation_id == consultation_id)
        .order_by(Proposal.id)
        .offset(offset)
        .limit(limit)
    ).all()
    ids = [r[0] for r in rows]
    comments: dict[int, int] = {}
    votes: dict[int, int] = {}
    if ids:
        comments = {
            int(pid or 0): int(n)
            for pid, n in session.execute(
                select(Comment.proposal_id, func.count())
                .where(Comment.proposal_id.in_(ids), Comment.moderation_state == "visible")
                .group_by(Comment.proposal_id)
            ).all()
        }
        if with_votes:
            votes = {
                pid: int(n)
                for pid, n in session.execute(
                    select(BallotChoice.proposal_id, func.count())
                    .where(
                        BallotChoice.consultation_id == consultation_id,
                        BallotChoice.proposal_id.in_(ids),
                    )
                    .group_by(BallotChoice.proposal_id)
                ).all()
            }
    items = [
        ProposalItem(
            r[0],
            r[1],
            r[2],
            r[3] or "",
            r[4],
            r[5],
            r[6],
            r[7],
            votes.get(r[0], 0) if with_votes else None,
            comments.get(r[0], 0),
        )
        for r in rows
    ]
    return items, int(total)


def _briefs(session: Session, where: Any) -> list[ProposalBrief]:
    rows = session.execute(
        select(
            Proposal.id, Proposal.external_ref, Proposal.title, Proposal.cost, Proposal.status
        ).where(where)
    ).all()
    return [ProposalBrief(*r) for r in rows]


def proposals_by_ids(
    session: Session, *, consultation_id: int, ids: list[int]
) -> dict[int, ProposalBrief]:
    """Return the consultation's proposals with these ids (for a basket).

    Returns:
        ``{proposal id: brief}``; ids of other consultations or of no proposal are left out.
    """
    if not ids:
        return {}
    found = _briefs(
        session, and_(Proposal.consultation_id == consultation_id, Proposal.id.in_(ids))
    )
    return {p.id: p for p in found}


def proposals_by_refs(
    session: Session, *, consultation_id: int, refs: list[str]
) -> dict[str, ProposalBrief]:
    """Return the consultation's proposals with these references (a paper ballot's numbers).

    Returns:
        ``{external ref: brief}``; unknown references are left out.
    """
    if not refs:
        return {}
    found = _briefs(
        session,
        and_(Proposal.consultation_id == consultation_id, Proposal.external_ref.in_(refs)),
    )
    return {p.ref: p for p in found}


def answered_count(session: Session, *, consultation_id: int) -> tuple[int, int]:
    """Return ``(answered, answerable)`` proposals of a consultation (withdrawn left out).

    Returns:
        the number with a council answer (``answered_at`` set) and the number of proposals
        that are not withdrawn; ``(0, 0)`` for an unknown consultation.
    """
    row = session.execute(
        select(
            func.count(Proposal.answered_at),
            func.count(),
        ).where(Proposal.consultation_id == consultation_id, Proposal.status != "withdrawn")
    ).one()
    return int(row[0]), int(row[1])
