"""Threaded comments with stance, citizen reports and moderation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import Citizen, Comment, CommentReport, Proposal
from models.participation import STANCES
from participation.audit import append_event
from participation.consultations import get_consultation
from participation.ledger import record_contact
from participation.schemas import OFFLINE_CHANNELS, CommentOut

MAX_COMMENT_CHARS = 5000
COMMENT_CHANNELS = frozenset({"web", "email", "sms"}) | OFFLINE_CHANNELS


def _out(c: Comment) -> CommentOut:
    return CommentOut(
        c.id, c.proposal_id, c.parent_id, c.stance, c.moderation_state, c.report_count
    )


def post_comment(
    session: Session,
    *,
    proposal_id: int,
    citizen_id: int,
    body: str,
    stance: str = "neutral",
    parent_id: int | None = None,
    channel: str = "web",
    actor: Actor,
) -> CommentOut:
    """Post a comment (or a reply) on a proposal of a published or open consultation.

    The body is stored exactly as written (after trimming) and is always displayed as
    text, never as HTML or Markdown.

    Args:
        stance: ``for``, ``against`` or ``neutral``.
        parent_id: the comment replied to (same proposal).
        channel: ``web`` by the citizen, or an offline channel recorded by an organizer.
    Raises:
        ValidationError: empty/too long body, bad stance, parent on another proposal.
        NotAllowed: comments are closed, or the actor may not post for this citizen.
        NotFound: proposal, citizen or parent.
    """
    text = body.strip()
    if not text:
        raise ValidationError("a comment cannot be empty", field="body")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValidationError(
            f"at most {MAX_COMMENT_CHARS} characters (got {len(text)})", field="body"
        )
    if stance not in STANCES:
        raise ValidationError(f"stance must be one of {', '.join(STANCES)}", field="stance")
    if channel not in COMMENT_CHANNELS:
        raise ValidationError(f"{channel!r} is not a comment channel", field="channel")
    if channel in OFFLINE_CHANNELS:
        actor.require_staff("organizer")
    elif actor.kind == "citizen" and actor.id != citizen_id:
        raise NotAllowed("a citizen may post only as themself", field="actor")
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}", field="proposal_id")
    if session.get(Citizen, citizen_id) is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    c = get_consultation(session, ref=proposal.consultation_id)
    if c.status not in ("published", "open"):
        raise NotAllowed(f"comments are closed (consultation is {c.status})", field="consultation")
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None:
            raise NotFound(f"no comment {parent_id}", field="parent_id")
        if parent.proposal_id != proposal_id:
            raise ValidationError(
                "a reply must be on the same proposal as its parent", field="parent_id"
            )
    now = clock.now()
    row = Comment(
        consultation_id=c.id,
        proposal_id=proposal_id,
        citizen_id=citizen_id,
        parent_id=parent_id,
        body=text,
        stance=stance,
        channel=channel,
        recorded_by=actor.id if channel in OFFLINE_CHANNELS else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record_contact(
        session,
        citizen_id=citizen_id,
        channel=channel,
        direction="inbound",
        kind="comment",
        ref_table="comment",
        ref_id=row.id,
        consultation_id=c.id,
        at=now,
    )
    append_event(
        session,
        actor=actor,
        action="comment.post",
        subject=f"comment:{row.id}",
        payload={"body": text, "stance": stance, "parent": parent_id},
    )
    return _out(row)


def report_comment(
    session: Session, *, comment_id: int, citizen_id: int, reason: str, actor: Actor
) -> CommentOut:
    """A citizen reports a comment; at the consultation's ``auto_hide_reports`` distinct
    reports (default 3) the comment is hidden until a moderator restores it.

    Raises:
        Conflict: this citizen already reported this comment. ValidationError: empty reason.
    """
    if actor.kind == "citizen" and actor.id != citizen_id:
        raise NotAllowed("a citizen may report only in their own name", field="actor")
    if not reason.strip():
        raise ValidationError("say why the comment should be reviewed", field="reason")
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}", field="comment_id")
    try:
        with session.begin_nested():
            session.add(
                CommentReport(
                    comment_id=comment_id,
                    citizen_id=citizen_id,
                    reason=reason.strip()[:300],
                    created_at=clock.now(),
                )
            )
            session.flush()
    except IntegrityError:
        raise Conflict("you have already reported this comment", field="comment_id") from None
    comment.report_count += 1
    c = get_consultation(session, ref=comment.consultation_id)
    threshold = int(c.method_params.get("auto_hide_reports", 3))
    if comment.moderation_state == "visible" and comment.report_count >= threshold:
        comment.moderation_state = "hidden"
        comment.moderation_reason = f"hidden automatically after {comment.report_count} reports"
    append_event(
        session,
        actor=actor,
        action="comment.report",
        subject=f"comment:{comment_id}",
        payload={"reason": reason},
    )
    return _out(comment)


def moderate_comment(
    session: Session, *, comment_id: int, hide: bool, reason: str, actor: Actor
) -> CommentOut:
    """Hide or restore a comment, with the moderator's reason (organizers and admins).

    Raises:
        NotAllowed: the actor is not an organizer. ValidationError: empty reason.
    """
    actor.require_staff("organizer")
    if not reason.strip():
        raise ValidationError("a moderation reason is required", field="reason")
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}", field="comment_id")
    comment.moderation_state = "hidden" if hide else "visible"
    comment.moderation_reason = reason.strip()
    append_event(
        session,
        actor=actor,
        action="comment.hide" if hide else "comment.restore",
        subject=f"comment:{comment_id}",
        payload={"reason": reason},
    )
    return _out(comment)


def visible_comments(
    session: Session, *, proposal_id: int, offset: int = 0, limit: int = 50
) -> list[Comment]:
    """Return a page of a proposal's visible comments, oldest first (for threading)."""
    return list(
        session.execute(
            select(Comment)
            .where(Comment.proposal_id == proposal_id, Comment.moderation_state == "visible")
            .order_by(Comment.created_at, Comment.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
