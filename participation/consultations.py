"""Consultations and their proposals: create, publish/open/close through the state machine,
withdraw a proposal, answer a proposal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import Ballot, Consultation, Proposal
from participation.audit import append_event
from participation.ballots import record_ballots_at_close
from participation.rules import check_transition
from participation.schemas import (
    ConsultationIn,
    ConsultationOut,
    ProposalIn,
    ReminderPolicy,
    parse_input,
)


def get_consultation(session: Session, *, ref: int | str, lock: bool = False) -> Consultation:
    """Return a consultation by id or slug.

    Raises:
        NotFound: field ``consultation``.
    """
    stmt = select(Consultation).where(
        Consultation.id == ref if isinstance(ref, int) else Consultation.slug == ref
    )
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no consultation {ref!r}", field="consultation")
    return row


def describe(session: Session, c: Consultation) -> ConsultationOut:
    """Return the public summary of a consultation (with proposal and ballot counts)."""
    n_prop = session.execute(
        select(func.count()).select_from(Proposal).where(Proposal.consultation_id == c.id)
    ).scalar_one()
    n_ballots = session.execute(
        select(func.count()).select_from(Ballot).where(Ballot.consultation_id == c.id)
    ).scalar_one()
    return ConsultationOut(
        c.id,
        c.slug,
        c.title,
        c.status,
        c.method,
        c.opens_at,
        c.closes_at,
        c.time_zone,
        int(n_prop),
        int(n_ballots),
    )


def create_consultation(
    session: Session, *, data: dict[str, Any] | ConsultationIn, actor: Actor
) -> ConsultationOut:
    """Create a consultation in ``draft``.

    Args:
        data: fields of :class:`ConsultationIn` (slug, title, method, method_params,
            eligibility, reminder_policy, quorum, opens_at/closes_at as UTC, time_zone).
        actor: an organizer or admin (or the system).
    Raises:
        ValidationError: a bad field, named. NotAllowed: the actor is not an organizer.
        Conflict: the slug is taken.
    """
    actor.require_staff("organizer")
    inp = data if isinstance(data, ConsultationIn) else parse_input(ConsultationIn, data)
    now = clock.now()
    row = Consultation(
        slug=inp.slug,
        title=inp.title,
        body=inp.body,
        status="draft",
        method=inp.method,
        method_params=inp.method_params.model_dump(exclude_none=True),
        eligibility=inp.eligibility,
        reminder_policy=inp.reminder_policy.model_dump(),
        quorum=inp.quorum,
        opens_at=inp.opens_at,
        closes_at=inp.closes_at,
        time_zone=inp.time_zone,
        district=inp.district,
        topic=inp.topic,
        created_by=actor.id if actor.kind == "staff" else None,
        created_at=now,
        status_changed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"the slug {inp.slug!r} is already used", field="slug") from None
    append_event(
        session,
        actor=actor,
        action="consultation.create",
        subject=f"consultation:{row.id}",
        payload=inp.model_dump(mode="json"),
    )
    return describe(session, row)


#: what may change after publishing: the wording, the reminders, a later close
EDITABLE_AFTER_PUBLISHING = frozenset({"title", "body", "reminder_policy", "closes_at"})
_FIXED = frozenset({"slug", "method"})


def update_consultation(
    session: Session, *, consultation_id: int, changes: dict[str, Any], actor: Actor
) -> list[str]:
    """Edit a consultation: anything but its slug and method while it is a draft; once
    published or open, only its title, body, reminder policy and a later closing time.

    The whole consultation is validated again with the changes applied (the same rules as
    :func:`create_consultation`: closes after it opens, a budget for a budget method, …).
    Applying the same changes twice changes nothing and writes no second audit event.

    Args:
        consultation_id: the consultation.
        changes: fields of :class:`ConsultationIn` with their new values (opens_at /
            closes_at as UTC datetimes; reminder_policy as a dict of
            :class:`participation.schemas.ReminderPolicy` fields).
        actor: an organizer or admin (or the system).
    Returns:
        the names of the fields that changed, sorted (``[]`` when nothing did).
    Raises:
        NotFound: no such consultation. NotAllowed: not an organizer; the consultation is
        closed or later; a field that may not change at this stage (named); a closing time
        moved earlier than before, or into the past, after publishing.
        ValidationError: a bad value, named as in :func:`create_consultation`.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id, lock=True)
    for name in changes:
        if name in _FIXED:
            raise NotAllowed(f"the {name} of a consultation cannot change", field=name)
    if c.status not in ("draft", "published", "open"):
        raise NotAllowed(f"a {c.status} consultation can no longer be edited", field="status")
    current = {
        "slug": c.slug, "title": c.title, "body": c.body, "method": c.method,
        "method_params": c.method_params, "eligibility": c.eligibility,
        "reminder_policy": c.reminder_policy, "quorum": c.quorum, "opens_at": c.opens_at,
        "closes_at": c.closes_at, "time_zone": c.time_zone, "district": c.district,
        "topic": c.topic,
    }
    inp = parse_input(ConsultationIn, {**current, **changes})
    new = {
        "title": inp.title, "body": inp.body,
        "method_params": inp.method_params.model_dump(exclude_none=True),
        "eligibility": inp.eligibility, "reminder_policy": inp.reminder_policy.model_dump(),
        "quorum": inp.quorum, "opens_at": inp.opens_at, "closes_at": inp.closes_at,
        "time_zone": inp.time_zone, "district": inp.district, "topic": inp.topic,
    }
    old = {**current, "reminder_policy": ReminderPolicy(**c.reminder_policy).model_dump()}
    changed = sorted(k for k, v in new.items() if old.get(k) != v)
    if c.status != "draft":
        for name in changed:
            if name not in EDITABLE_AFTER_PUBLISHING:
                raise NotAllowed(
                    f"once a consultation is {c.status}, its {name} cannot change", field=name)
        if "closes_at" in changed and (inp.closes_at < c.closes_at
                                       or inp.closes_at <= clock.now()):
            raise NotAllowed("after publishing, voting may only be extended to a later time",
                             field="closes_at")
    if not changed:
        return []
    for name in changed:
        setattr(c, name, new[name])
    append_event(session, actor=actor, action="consultation.update",
                 subject=f"consultation:{c.id}",
                 payload={"fields": changed,
                          **{k: v for k, v in inp.model_dump(mode="json").items()
                             if k in changed}})
    return changed


def add_proposal(
    session: Session, *, consultation_id: int, data: dict[str, Any] | ProposalIn, actor: Actor
) -> int:
    """Add a proposal to a consultation that is still ``draft`` or ``published``.

    Returns:
        the proposal's id.
    Raises:
        NotAllowed: voting has started, or the actor is not an organizer.
        ValidationError: a bad field; a budget proposal without a cost.
        Conflict: the external reference is already used in this consultation.
    """
    actor.require_staff("organizer")
    inp = data if isinstance(data, ProposalIn) else parse_input(ProposalIn, data)
    c = get_consultation(session, ref=consultation_id)
    if c.status not in ("draft", "published"):
        raise NotAllowed(
            f"proposals cannot be added once the consultation is {c.status}", field="consultation"
        )
    if c.method == "budget" and inp.cost is None:
        raise ValidationError("a project of a budget consultation needs a cost", field="cost")
    if c.method != "budget" and inp.cost is not None:
        raise ValidationError(f"only projects of a budget consultation have a cost "
                              f"(this one is {c.method})", field="cost")
    budget = c.method_params.get("budget")
    if budget is not None and inp.cost is not None and inp.cost > int(budget):
        raise ValidationError(f"{inp.cost:,} is more than the whole budget {int(budget):,}",
                              field="cost")
    same = session.execute(select(Proposal.id).where(
        Proposal.consultation_id == c.id, Proposal.title == inp.title)).first()
    if same is not None:
        raise Conflict(f"this consultation already has a proposal titled {inp.title!r}",
                       field="title")
    now = clock.now()
    if inp.external_ref is None:
        n = session.execute(
            select(func.count()).select_from(Proposal).where(Proposal.consultation_id == c.id)
        ).scalar_one()
        ref = str(int(n) + 1)
    else:
        ref = inp.external_ref
    p = Proposal(
        consultation_id=c.id,
        external_ref=ref,
        title=inp.title,
        body=inp.body,
        cost=inp.cost,
        category=inp.category,
        status="published",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(p)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"proposal reference {ref!r} already exists here", field="external_ref"
        ) from None
    append_event(
        session,
        actor=actor,
        action="proposal.add",
        subject=f"proposal:{p.id}",
        payload=inp.model_dump(mode="json"),
    )
    return p.id


def transition(
    session: Session, *, consultation_id: int, to: str, actor: Actor, at: datetime | None = None
) -> str:
    """Move a consultation to status ``to`` along the allowed transitions.

    Opening is allowed only from ``opens_at`` on, closing only from ``closes_at`` on;
    publishing needs at least one proposal. Idempotent: moving to the status it already
    has returns it unchanged (so a retried flow task is harmless).

    Returns:
        the new status.
    Raises:
        NotAllowed: the transition or its timing is not allowed, or the actor may not.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id, lock=True)
    if c.status == to:
        return to
    check_transition(c.status, to)
    now = at or clock.now()
    if to == "published":
        n = session.execute(
            select(func.count()).select_from(Proposal).where(Proposal.consultation_id == c.id)
        ).scalar_one()
        if not n:
            raise NotAllowed(
                "a consultation needs at least one proposal to be published", field="proposals"
            )
    if to == "open" and now < c.opens_at:
        raise NotAllowed(f"voting opens at {c.opens_at.isoformat()}", field="opens_at")
    if to == "closed" and now < c.closes_at:
        raise NotAllowed(f"voting closes at {c.closes_at.isoformat()}", field="closes_at")
    previous = c.status
    c.status = to
    c.status_changed_at = now
    payload: dict[str, Any] = {"from": previous, "to": to}
    if to == "closed":  # the ballot total at close goes into the log with the closing
        session.flush()
        payload["ballots"] = c.ballots_at_close = record_ballots_at_close(
            session, consultation_id=c.id
        )
    append_event(
        session,
        actor=actor,
        action=f"consultation.{to}",
        subject=f"consultation:{c.id}",
        payload=payload,
    )
    return to


def advance_due(session: Session, *, actor: Actor) -> list[tuple[str, str, str]]:
    """Open every published consultation whose ``opens_at`` has come and close every open one
    whose ``closes_at`` has passed (deadlines are database state; flows call this each minute).

    Returns:
        ``[(slug, from_status, to_status), ...]`` for what moved.
    """
    now = clock.now()
    moved: list[tuple[str, str, str]] = []
    due = session.execute(
        select(Consultation.id, Consultation.slug, Consultation.status)
        .where(
            ((Consultation.status == "published") & (Consultation.opens_at <= now))
            | ((Consultation.status == "open") & (Consultation.closes_at <= now))
        )
        .order_by(Consultation.id)
    ).all()
    for cid, slug, status in due:
        target = "open" if status == "published" else "closed"
        transition(session, consultation_id=cid, to=target, actor=actor, at=now)
        moved.append((slug, status, target))
        # a consultation whose whole window has passed while published opens then closes
        if target == "open" and get_consultation(session, ref=cid).closes_at <= now:
            transition(session, consultation_id=cid, to="closed", actor=actor, at=now)
            moved.append((slug, "open", "closed"))
    return moved


def withdraw_proposal(session: Session, *, proposal_id: int, reason: str, actor: Actor) -> None:
    """Withdraw a proposal (it keeps its votes on record but is no longer votable).

    Raises:
        NotAllowed: the consultation is closed or later; the actor is not an organizer.
        ValidationError: empty reason.
    """
    actor.require_staff("organizer")
    if not reason.strip():
        raise ValidationError("a reason is required", field="reason")
    p = session.get(Proposal, proposal_id)
    if p is None:
        raise NotFound(f"no proposal {proposal_id}", field="proposal_id")
    c = get_consultation(session, ref=p.consultation_id)
    if c.status not in ("draft", "published", "open"):
        raise NotAllowed(f"the consultation is {c.status}", field="consultation")
    if p.status == "withdrawn":
        return
    p.status = "withdrawn"
    append_event(
        session,
        actor=actor,
        action="proposal.withdraw",
        subject=f"proposal:{p.id}",
        payload={"reason": reason},
    )


def answer_proposal(
    session: Session, *, proposal_id: int, decision: str, answer: str, actor: Actor
) -> None:
    """Record the council's official answer to a proposal ("you said, we did").

    Args:
        decision: ``accepted`` or ``rejected``.
        answer: the reasons, shown to participants.
    Raises:
        NotAllowed: the consultation is not yet tallied; the actor is not council.
        ValidationError: unknown decision or empty answer.
    """
    actor.require_staff("council")
    if decision not in ("accepted", "rejected"):
        raise ValidationError("decision must be accepted or rejected", field="decision")
    if not answer.strip():
        raise ValidationError("the answer must give reasons", field="answer")
    p = session.get(Proposal, proposal_id)
    if p is None:
        raise NotFound(f"no proposal {proposal_id}", field="proposal_id")
    c = get_consultation(session, ref=p.consultation_id)
    if c.status not in ("tallied", "reported"):
        raise NotAllowed(
            f"proposals are answered after the tally (consultation is {c.status})",
            field="consultation",
        )
    if p.status == "withdrawn":
        raise NotAllowed("a withdrawn proposal cannot be answered", field="proposal_id")
    p.status, p.answer, p.answered_at = decision, answer.strip(), clock.now()
    p.answered_by = actor.id if actor.kind == "staff" else None
    append_event(
        session,
        actor=actor,
        action="proposal.answer",
        subject=f"proposal:{p.id}",
        payload={"decision": decision, "answer": answer},
    )


def list_consultations(session: Session, *, status: str | None = None) -> list[ConsultationOut]:
    """Return every consultation (optionally of one status), newest first."""
    stmt = select(Consultation).order_by(Consultation.created_at.desc(), Consultation.id.desc())
    if status:
        stmt = stmt.where(Consultation.status == status)
    return [describe(session, c) for c in session.execute(stmt).scalars()]
