"""Fan-outs: invitations, reminders, results and survey invitations for a whole audience.

Each fan-out writes at most one ``outbox_message`` row per citizen for its kind and round,
keyed and written as :mod:`notifications.outbox` describes (``INSERT … ON CONFLICT
(idempotency_key) DO NOTHING``; a citizen who already has a row of the kind and round, on
either channel, is skipped and counted as ``existing``, so a retried task adds nothing).
What is written for whom, and how it is counted, is in :mod:`notifications.outbox`.

The audience is routed in SQL (:func:`notifications.planning_sql.plan_in_sql`: the same
decisions as :func:`notifications.routing.route`, computed by the database and written with
one ``INSERT … SELECT``), over the whole audience at once or, for named citizens, per
chunk of ``chunk_size`` ids. The citizens SQL leaves to Python (an unusual locale or time
zone value, see that module) and the whole audience on a database other than SQLite and
PostgreSQL are routed one by one with :func:`route` (:func:`_route_in_python`): per page
of ``chunk_size`` ids, four index range look-ups read the citizens, their consents, their
ballots and their queued messages, then one multi-row write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import clock
from core.actor import Actor
from core.errors import NotAllowed, NotFound, ValidationError
from core.settings import get_settings
from models import Ballot, Citizen, Consultation, Proposal, Survey
from notifications.outbox import (
    _citizens_select,
    _facts,
    _page_facts,
    _row,
    _write,
    policy_for,
)
from notifications.planning_sql import DIALECTS, PYTHON, FanOut, plan_in_sql
from notifications.routing import Decision, route
from notifications.schemas import KIND_PURPOSE, SKIP_PARTICIPANTS, PlanResult
from participation.audit import append_event
from participation.consultations import get_consultation
from participation.queries import proposal_rows
from participation.rules import Eligibility

__all__ = [
    "DEFAULT_CHUNK",
    "consultation_context",
    "enqueue_results",
    "enqueue_survey_invitation",
    "plan_invitations",
    "plan_reminders",
]

DEFAULT_CHUNK: Final = 5000
"""Citizens per page of the Python routing, and per statement for named citizens."""


def consultation_context(consultation: Consultation) -> dict[str, Any]:
    """The shared template context of invitations and reminders for ``consultation``.

    Args:
        consultation: the consultation the messages are about.
    Returns:
        ``{"consultation_title", "consultation_url" (``{app.base_url}/?consultation={slug}``),
        "closes_at_utc" (ISO 8601, UTC), "time_zone" (the consultation's, for display)}``.
    """
    base = get_settings().app.base_url.rstrip("/")
    return {
        "consultation_title": consultation.title,
        "consultation_url": f"{base}/?consultation={consultation.slug}",
        "closes_at_utc": consultation.closes_at.isoformat(),
        "time_zone": consultation.time_zone,
    }


# --- routing in Python ---------------------------------------------------------------------


def _pages(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    *,
    citizen_ids: Sequence[int] | None,
    chunk_size: int,
) -> Iterator[tuple[int, int, Sequence[Any]]]:
    """Yield ``(lo, hi, rows)``: the ``stmt`` rows of the citizens with ids in ``[lo, hi]``,
    in id ranges of ``chunk_size`` (or chunks of the sorted ``citizen_ids``).

    Each range starts at the next existing id (one primary-key look-up, so sparse ids cost
    nothing) and is read completely before the caller writes, so reading and inserting
    never interleave on one cursor (undefined on SQLite). Ranges rather than
    ``ORDER BY id LIMIT n`` pages: PostgreSQL sorted the whole remaining table for each page
    when its statistics were stale.
    """
    if citizen_ids is not None:
        ids = sorted(set(citizen_ids))
        for start in range(0, len(ids), chunk_size):
            chunk = ids[start : start + chunk_size]
            yield chunk[0], chunk[-1], session.execute(stmt.where(Citizen.id.in_(chunk))).all()
        return
    next_id = select(Citizen.id).order_by(Citizen.id).limit(1)
    lo = session.execute(next_id).scalar_one_or_none()
    while lo is not None:
        hi = lo + chunk_size - 1
        yield lo, hi, session.execute(stmt.where(Citizen.id.between(lo, hi))).all()
        lo = session.execute(next_id.where(Citizen.id > hi)).scalar_one_or_none()


def _outcome(decision: Decision) -> str:
    """The ``PlanResult.counts`` key of a decision: its status, or ``suppressed:<reason>``."""
    return decision.status if decision.status != "suppressed" else f"suppressed:{decision.reason}"


def _route_in_python(
    session: Session,
    plan: FanOut,
    audience: ColumnElement[bool] | None,
    *,
    citizen_ids: Sequence[int] | None,
    chunk_size: int,
) -> tuple[Counter[str], int]:
    """Route the audience (or ``citizen_ids`` of it) citizen by citizen with :func:`route`:
    per page of ids, four index range look-ups (``_page_facts``), then one multi-row write.

    Returns:
        ``(counts by outcome, rows written)``.
    """
    stmt = _citizens_select()
    if audience is not None:
        stmt = stmt.where(audience)
    counts: Counter[str] = Counter()
    created = 0
    for lo, hi, page in _pages(session, stmt, citizen_ids=citizen_ids, chunk_size=chunk_size):
        facts_of = _page_facts(
            session,
            kind=plan.kind,
            purpose=plan.purpose,
            consultation_id=plan.consultation_id,
            round=plan.round,
            lo=lo,
            hi=hi,
        )
        rows: list[dict[str, Any]] = []
        for r in sorted(page, key=lambda r: int(r[0])):
            if r[0] in facts_of.existing:
                counts["existing"] += 1
                continue
            facts, consents = _facts(r, facts_of)
            decision = route(
                facts,
                consents,
                plan.policy,
                plan.now,
                facts_of.sent_count.get(r[0], 0),
                kind=plan.kind,
                purpose=plan.purpose,
            )
            if decision.reason == "already_voted" and plan.kind in SKIP_PARTICIPANTS:
                counts["already_voted"] += 1
                continue
            counts[_outcome(decision)] += 1
            if (
                decision.status == "suppressed"
                and not plan.record_suppressed
                and decision.reason != "holdout"
            ):
                continue
            rows.append(
                _row(
                    kind=plan.kind,
                    template=plan.kind,
                    purpose=plan.purpose,
                    consultation_id=plan.consultation_id,
                    round=plan.round,
                    citizen_id=r[0],
                    preferred=facts.preferred_channel,
                    decision=decision,
                    payload=plan.context,
                    now=plan.now,
                )
            )
        created += _write(session, rows)
    return counts, created


# --- the fan-outs --------------------------------------------------------------------------


def _scopes(
    audience: ColumnElement[bool] | None, citizen_ids: Sequence[int] | None, chunk_size: int
) -> Iterator[ColumnElement[bool] | None]:
    """The audience, or the named citizens of it in chunks of ``chunk_size`` ids."""
    if citizen_ids is None:
        yield audience
        return
    ids = sorted(set(citizen_ids))
    for start in range(0, len(ids), chunk_size):
        named = Citizen.id.in_(ids[start : start + chunk_size])
        yield named if audience is None else and_(named, audience)


def _fan_out(
    session: Session,
    *,
    kind: str,
    consultation: Consultation | None,
    round: int,
    audience: ColumnElement[bool] | None,
    citizen_ids: Sequence[int] | None,
    context: Mapping[str, Any],
    actor: Actor,
    now: datetime | None,
    record_suppressed: bool,
    chunk_size: int,
) -> PlanResult:
    cid = consultation.id if consultation is not None else None
    plan = FanOut(
        kind=kind,
        purpose=KIND_PURPOSE[kind],
        consultation_id=cid,
        round=round,
        policy=policy_for(consultation),
        now=now or clock.now(),
        context=context,
        record_suppressed=record_suppressed,
    )
    dialect = session.get_bind().dialect.name
    counts: Counter[str] = Counter()
    created = 0
    if plan.purpose is None or dialect not in DIALECTS:
        counts, created = _route_in_python(
            session, plan, audience, citizen_ids=citizen_ids, chunk_size=chunk_size
        )
    else:
        for scope in _scopes(audience, citizen_ids, chunk_size):
            in_sql = plan_in_sql(session, plan, scope, dialect=dialect)
            rest, made = _route_in_python(
                session, plan, None, citizen_ids=in_sql.leftover, chunk_size=chunk_size
            )
            del in_sql.counts[PYTHON]
            counts.update(in_sql.counts)
            counts.update(rest)
            created += in_sql.created + made
    considered = sum(counts.values())
    result = PlanResult(kind, round, considered, created, dict(sorted(counts.items())))
    append_event(
        session,
        actor=actor,
        action=f"outbox.plan_{kind}",
        subject=f"consultation:{cid if cid is not None else '-'}/round:{round}",
        payload={"considered": considered, "created": created, "counts": result.counts},
    )
    return result


def _eligible(consultation: Consultation) -> ColumnElement[bool] | None:
    """SQL form of :func:`participation.rules.eligibility_refusal` (same rule: districts,
    minimum age in calendar years on ``opens_at``)."""
    rule = Eligibility.from_json(consultation.eligibility)
    conds: list[ColumnElement[bool]] = []
    if rule.districts:
        conds.append(Citizen.district.in_(list(rule.districts)))
    if rule.minimum_age is not None:
        conds.append(Citizen.birth_year.is_not(None))
        conds.append(Citizen.birth_year <= consultation.opens_at.year - rule.minimum_age)
    if not conds:
        return None
    out = conds[0]
    for cond in conds[1:]:
        out = out & cond
    return out


def _participants(consultation_id: int) -> ColumnElement[bool]:
    return exists().where(
        Ballot.consultation_id == consultation_id, Ballot.citizen_id == Citizen.id
    )


def plan_invitations(
    session: Session,
    *,
    consultation_id: int,
    actor: Actor,
    now: datetime | None = None,
    record_suppressed: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
) -> PlanResult:
    """Queue an invitation (round 0) to every eligible citizen of a consultation.

    Args:
        consultation_id: a ``published`` or ``open`` consultation.
        actor: organizer or system.
        now: decision time, UTC (default :func:`core.clock.now`); quiet hours are judged at it.
        record_suppressed: also write rows for suppressed citizens (default True).
        chunk_size: citizens per page of the per-citizen routing (see the module docstring).
    Returns:
        a :class:`~notifications.schemas.PlanResult`.
    Raises:
        NotFound: no such consultation. NotAllowed: wrong status or actor.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id)
    if c.status not in ("published", "open"):
        raise NotAllowed(
            f"invitations go out for a published or open consultation (this one is {c.status})",
            field="consultation",
        )
    return _fan_out(
        session,
        kind="invitation",
        consultation=c,
        round=0,
        audience=_eligible(c),
        citizen_ids=None,
        context=consultation_context(c),
        actor=actor,
        now=now,
        record_suppressed=record_suppressed,
        chunk_size=chunk_size,
    )


def plan_reminders(
    session: Session,
    *,
    consultation_id: int,
    round: int,
    actor: Actor,
    now: datetime | None = None,
    record_suppressed: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
) -> PlanResult:
    """Queue reminder ``round`` to every eligible citizen who has not voted yet.

    Citizens with a ballot are skipped (``already_voted``, no row); the policy's holdout
    share is kept out with ``suppressed``/``holdout`` rows (the same citizens every round).

    Args:
        consultation_id: an ``open`` consultation.
        round: 1, 2, … (at most the number of ``rounds_hours`` in its policy, if any).
        actor / now / record_suppressed / chunk_size: as for :func:`plan_invitations`.
    Returns:
        a :class:`~notifications.schemas.PlanResult` (``round`` = ``round``).
    Raises:
        ValidationError: bad round. NotFound / NotAllowed: as for :func:`plan_invitations`.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id)
    if c.status != "open":
        raise NotAllowed(
            f"reminders go out while a consultation is open (this one is {c.status})",
            field="consultation",
        )
    rounds = (c.reminder_policy or {}).get("rounds_hours") or []
    if round < 1 or (rounds and round > len(rounds)):
        raise ValidationError(
            f"round must be 1 to {len(rounds) or 'n'} (got {round})", field="round"
        )
    return _fan_out(
        session,
        kind="reminder",
        consultation=c,
        round=round,
        audience=_eligible(c),
        citizen_ids=None,
        context=consultation_context(c),
        actor=actor,
        now=now,
        record_suppressed=record_suppressed,
        chunk_size=chunk_size,
    )


def enqueue_results(
    session: Session,
    *,
    consultation_id: int,
    actor: Actor,
    now: datetime | None = None,
    record_suppressed: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
) -> PlanResult:
    """Queue the results ("you said, we did", round 0) to every participant.

    The payload lists each proposal with ``title``, ``votes`` (ballots naming it), ``status``
    and the council's ``answer``; delivery writes ``result`` in the citizen's language.

    Args:
        consultation_id: a ``tallied``, ``reported`` or ``archived`` consultation.
        actor / now / record_suppressed / chunk_size: as for :func:`plan_invitations`.
    Returns:
        a :class:`~notifications.schemas.PlanResult` (``considered`` = the participants).
    Raises:
        NotFound: no such consultation. NotAllowed: the consultation is not ``tallied``,
        ``reported`` or ``archived`` yet; wrong actor.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id)
    if c.status not in ("tallied", "reported", "archived"):
        raise NotAllowed(
            f"results go out once the consultation is tallied (it is {c.status})",
            field="consultation",
        )
    answers = dict(
        session.execute(
            select(Proposal.id, Proposal.answer).where(Proposal.consultation_id == c.id)
        ).all()
    )
    base = get_settings().app.base_url.rstrip("/")
    context = {
        "consultation_title": c.title,
        "results_url": f"{base}/?consultation={c.slug}&view=results",
        "proposals": [
            {"title": p.title, "votes": p.votes, "status": p.status, "answer": answers.get(p.id)}
            for p in proposal_rows(session, consultation_id=c.id)
            if p.status != "withdrawn"
        ],
    }
    return _fan_out(
        session,
        kind="results",
        consultation=c,
        round=0,
        audience=_participants(c.id),
        citizen_ids=None,
        context=context,
        actor=actor,
        now=now,
        record_suppressed=record_suppressed,
        chunk_size=chunk_size,
    )


def enqueue_survey_invitation(
    session: Session,
    *,
    survey_id: int,
    closes_at: datetime,
    actor: Actor,
    citizen_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    record_suppressed: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
) -> PlanResult:
    """Invite citizens to answer a survey (purpose ``surveys``; round = the survey id).

    Args:
        survey_id: the survey.
        closes_at: when answers stop being accepted, UTC (shown in the message).
        citizen_ids: who to invite; default: the participants of the survey's consultation
            (a satisfaction pulse). Routed ``chunk_size`` ids per statement.
        actor / now / record_suppressed / chunk_size: as for :func:`plan_invitations`.
    Returns:
        a :class:`~notifications.schemas.PlanResult` (``round`` = the survey id).
    Raises:
        NotFound: no such survey. ValidationError: a survey with no consultation and no
        ``citizen_ids``; a naive ``closes_at``.
    """
    actor.require_staff("organizer")
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"no survey {survey_id}", field="survey_id")
    if closes_at.tzinfo is None:
        raise ValidationError("closes_at must be timezone-aware UTC", field="closes_at")
    if citizen_ids is None and survey.consultation_id is None:
        raise ValidationError(
            "name the citizens to invite to a survey without a consultation", field="citizen_ids"
        )
    c = (
        get_consultation(session, ref=survey.consultation_id)
        if survey.consultation_id is not None
        else None
    )
    base = get_settings().app.base_url.rstrip("/")
    context = {
        "survey_title": survey.title,
        "survey_url": f"{base}/?survey={survey.slug}",
        "closes_at_utc": clock.ensure_utc(closes_at).isoformat(),
        "time_zone": c.time_zone if c is not None else get_settings().app.default_time_zone,
    }
    audience = _participants(c.id) if c is not None and citizen_ids is None else None
    return _fan_out(
        session,
        kind="survey_invitation",
        consultation=c,
        round=survey.id,
        audience=audience,
        citizen_ids=citizen_ids,
        context=context,
        actor=actor,
        now=now,
        record_suppressed=record_suppressed,
        chunk_size=chunk_size,
    )
