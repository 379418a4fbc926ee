"""Read models of the app's pages: small frozen rows computed in SQL, one page at a time.

The pages never touch the ORM; they read through these functions and write through the
services. Every list is paginated in SQL (``LIMIT``/``OFFSET`` plus a ``COUNT``), and
per-row figures (votes, comments) are counted only for the rows of the page, so a
consultation with 5,000 proposals and 100,000 comments costs the same as a small one
(``bench/bench_page.py`` measures it).

These are read-only queries written for the app's screens; the write rules stay in
:mod:`participation`. (They belong next to :mod:`participation.queries`; they live here
until that module's owners take them over.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from core.contacts import normalize_phone
from core.settings import get_settings
from models import Ballot, BallotChoice, Citizen, Comment, Consultation, Proposal
from participation.citizens import find_citizen

PUBLIC_STATUSES = ("published", "open", "closed", "tallied", "reported")
"""Statuses a visitor may see (drafts and archived consultations stay out of the list)."""
CURRENT_STATUSES = ("published", "open")
RESULT_STATUSES = ("tallied", "reported", "archived")


@dataclass(frozen=True, slots=True)
class ConsultationCard:
    """A consultation in a list."""

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


@dataclass(frozen=True, slots=True)
class CommentItem:
    """A visible comment in a thread (``depth`` 0 = a top-level comment; ``replies`` = its
    visible direct replies, shown or not)."""

    id: int
    parent_id: int | None
    depth: int
    body: str
    stance: str
    author: str
    channel: str
    created_at: datetime
    replies: int = 0


@dataclass(frozen=True, slots=True)
class ModerationItem:
    """A comment waiting for a moderator (reported) or hidden."""

    id: int
    consultation: str
    proposal_title: str
    body: str
    stance: str
    state: str
    reason: str | None
    reports: int
    created_at: datetime


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
    """The citizen's ballot in a consultation (not its choices)."""

    channel: str
    cast_at: datetime
    revision: int


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
    """Return the districts and the topics used by consultations with these statuses."""
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
    """Return the consultation with this id or slug, or ``None``."""
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
    """Return ``(id, slug, status)`` of the newest consultations (for a picker)."""
    stmt = select(Consultation.id, Consultation.slug, Consultation.status)
    if statuses is not None:
        stmt = stmt.where(Consultation.status.in_(statuses))
    rows = session.execute(
        stmt.order_by(Consultation.created_at.desc(), Consultation.id.desc()).limit(limit)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


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
        with_votes: also count the ballots naming each proposal of the page (shown with
            results and to staff; hidden while voting is open so counts do not sway votes).
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
    """Return the consultation's proposals with these ids (for a basket)."""
    if not ids:
        return {}
    found = _briefs(
        session, and_(Proposal.consultation_id == consultation_id, Proposal.id.in_(ids))
    )
    return {p.id: p for p in found}


def proposals_by_refs(
    session: Session, *, consultation_id: int, refs: list[str]
) -> dict[str, ProposalBrief]:
    """Return the consultation's proposals with these references (a paper ballot's numbers)."""
    if not refs:
        return {}
    found = _briefs(
        session,
        and_(Proposal.consultation_id == consultation_id, Proposal.external_ref.in_(refs)),
    )
    return {p.ref: p for p in found}


def _top_level(proposal_id: int) -> Any:
    return and_(
        Comment.proposal_id == proposal_id,
        Comment.parent_id.is_(None),
        Comment.moderation_state == "visible",
    )


def count_top_comments(session: Session, *, proposal_id: int) -> int:
    """Return the number of visible top-level comments of a proposal (pages of a thread)."""
    return int(
        session.execute(
            select(func.count()).select_from(Comment).where(_top_level(proposal_id))
        ).scalar_one()
    )


def comment_thread(
    session: Session,
    *,
    proposal_id: int,
    offset: int = 0,
    limit: int = 10,
    replies_shown: int = 2,
    expanded: frozenset[int] = frozenset(),
    max_replies: int = 200,
) -> list[CommentItem]:
    """Return a page of a proposal's visible top-level comments with some of their replies.

    Top-level comments are paged oldest first. Under each, the first ``replies_shown``
    direct replies are included (one windowed query for the whole page); under a comment in
    ``expanded``, its whole visible subtree (any depth, at most ``max_replies``, one
    recursive query). A reply under a hidden comment is not shown. Each item carries its
    number of visible direct replies, so the page can offer the rest.

    Returns:
        the comments in reading order (each comment followed by its shown replies).
    """
    # every reply is on its parent's proposal (participation.comments checks it); naming the
    # proposal lets the database use its index instead of scanning all comments for parents
    visible = and_(Comment.proposal_id == proposal_id, Comment.moderation_state == "visible")
    root_ids = list(
        session.execute(
            select(Comment.id)
            .where(_top_level(proposal_id))
            .order_by(Comment.created_at, Comment.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    if not root_ids:
        return []
    opened = [r for r in root_ids if r in expanded]
    closed = [r for r in root_ids if r not in expanded]
    wanted: list[int] = list(root_ids)
    if closed and replies_shown > 0:
        rank = (
            func.row_number()
            .over(partition_by=Comment.parent_id, order_by=(Comment.created_at, Comment.id))
            .label("rank")
        )
        first = (
            select(Comment.id.label("id"), rank)
            .where(Comment.parent_id.in_(closed), visible)
            .subquery()
        )
        wanted += list(
            session.execute(select(first.c.id).where(first.c.rank <= replies_shown)).scalars()
        )
    if opened:
        tree = (
            select(Comment.id.label("id"), literal(1).label("depth"))
            .where(Comment.parent_id.in_(opened), visible)
            .cte("tree", recursive=True)
        )
        child = aliased(Comment)
        tree = tree.union_all(
            select(child.id, tree.c.depth + 1)
            .join(tree, child.parent_id == tree.c.id)
            .where(
                child.proposal_id == proposal_id,
                child.moderation_state == "visible",
                tree.c.depth < 20,
            )
        )
        wanted += list(session.execute(select(tree.c.id).limit(max_replies)).scalars())
    reply_counts = {
        int(pid or 0): int(n)
        for pid, n in session.execute(
            select(Comment.parent_id, func.count())
            .where(Comment.parent_id.in_(wanted), visible)
            .group_by(Comment.parent_id)
        ).all()
    }
    rows = session.execute(
        select(
            Comment.id,
            Comment.parent_id,
            Comment.body,
            Comment.stance,
            func.coalesce(Citizen.display_name, ""),
            Comment.channel,
            Comment.created_at,
        )
        .outerjoin(Citizen, Citizen.id == Comment.citizen_id)
        .where(Comment.id.in_(wanted))
        .order_by(Comment.created_at, Comment.id)
    ).all()
    children: dict[int, list[int]] = {}
    for r in rows:
        if r[1] is not None:
            children.setdefault(r[1], []).append(r[0])
    by_id = {r[0]: r for r in rows}
    out: list[CommentItem] = []

    def walk(cid: int, depth: int) -> None:
        r = by_id[cid]
        out.append(
            CommentItem(r[0], r[1], depth, r[2], r[3], r[4], r[5], r[6], reply_counts.get(cid, 0))
        )
        for kid in children.get(cid, []):
            if kid in by_id:
                walk(kid, depth + 1)

    for rid in root_ids:
        if rid in by_id:
            walk(rid, 0)
    return out


def moderation_queue(
    session: Session, *, hidden: bool, offset: int = 0, limit: int = 10
) -> tuple[list[ModerationItem], int]:
    """Return a page of reported visible comments (most reports first) or of hidden ones.

    Args:
        hidden: ``False`` for the "reported" queue, ``True`` for hidden comments.
    """
    where = (
        Comment.moderation_state == "hidden"
        if hidden
        else and_(Comment.moderation_state == "visible", Comment.report_count > 0)
    )
    total = session.execute(select(func.count()).select_from(Comment).where(where)).scalar_one()
    rows = session.execute(
        select(
            Comment.id,
            Consultation.slug,
            func.coalesce(Proposal.title, ""),
            Comment.body,
            Comment.stance,
            Comment.moderation_state,
            Comment.moderation_reason,
            Comment.report_count,
            Comment.created_at,
        )
        .join(Consultation, Consultation.id == Comment.consultation_id)
        .outerjoin(Proposal, Proposal.id == Comment.proposal_id)
        .where(where)
        .order_by(Comment.report_count.desc(), Comment.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [ModerationItem(*r) for r in rows], int(total)


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
    """Return how and when the citizen's ballot was cast, or ``None``."""
    row = session.execute(
        select(Ballot.channel, Ballot.cast_at, Ballot.revision).where(
            Ballot.consultation_id == consultation_id, Ballot.citizen_id == citizen_id
        )
    ).one_or_none()
    return BallotInfo(*row) if row is not None else None


def ballots_by_channel(session: Session, *, consultation_id: int) -> dict[str, int]:
    """Return the number of ballots per channel (web, phone, letter, …)."""
    rows = session.execute(
        select(Ballot.channel, func.count())
        .where(Ballot.consultation_id == consultation_id)
        .group_by(Ballot.channel)
        .order_by(Ballot.channel)
    ).all()
    return {r[0]: int(r[1]) for r in rows}


def answered_count(session: Session, *, consultation_id: int) -> tuple[int, int]:
    """Return ``(answered, answerable)`` proposals of a consultation (withdrawn left out)."""
    row = session.execute(
        select(
            func.count(Proposal.answered_at),
            func.count(),
        ).where(Proposal.consultation_id == consultation_id, Proposal.status != "withdrawn")
    ).one()
    return int(row[0]), int(row[1])
