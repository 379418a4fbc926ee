"""Read models of comments: a proposal's threads a page at a time and the moderators'
queues (see :mod:`participation.queries` for the family's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session, aliased

from models import Citizen, Comment, Consultation, Proposal


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

    Args:
        proposal_id: the proposal's id.
        offset, limit: which top-level comments (oldest first) make the page.
        replies_shown: direct replies shown under a comment that is not expanded.
        expanded: ids of top-level comments whose whole subtree is shown.
        max_replies: at most this many replies under the expanded comments together.

    Returns:
        the comments in reading order (each comment followed by its shown replies, with its
        ``depth`` below the top-level comment); an empty list past the last page.
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
        offset, limit: which comments make the page.

    Returns:
        ``(items, total)``: the page (``consultation`` is the slug; ``proposal_title`` is
        empty for a comment on the consultation itself) and the size of the queue.
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
