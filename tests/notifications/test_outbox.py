"""Queueing messages: idempotent keys, fan-outs to the eligible population with a consent
mix counted by hand, skips, cap, holdout, quiet hours, sign-in codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.errors import NotAllowed, ValidationError
from models import Citizen, Consultation, OutboxMessage, Survey
from notifications.outbox import enqueue, enqueue_signin_code, list_messages
from notifications.planning import (
    enqueue_results,
    enqueue_survey_invitation,
    plan_invitations,
    plan_reminders,
)
from participation.ballots import cast_ballot
from participation.citizens import set_consent
from participation.consultations import transition
from tests import factories as f

PHONES = iter(range(100000, 999999))


def person(session, consents=(), *, phone=False, **fields) -> int:
    """A citizen with ``consents`` given as ``(channel, purpose)`` pairs (``purpose=None``:
    every purpose) or ``(channel, purpose, False)`` for an explicit opt-out."""
    if phone:
        fields["phone"] = f"+447911{next(PHONES):06d}"
    cid = f.citizen(session, **fields)
    for item in consents:
        channel, purpose, *rest = item
        set_consent(
            session,
            citizen_id=cid,
            channel=channel,
            purpose=purpose,
            opted_in=rest[0] if rest else True,
            source="web",
            actor=f.SYSTEM,
        )
    return cid


def vote(session, cons: int, pid: int, citizen_id: int) -> None:
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=citizen_id,
        choices={pid: 1},
        channel="web",
        actor=Actor(kind="citizen", id=citizen_id),
    )


def policy(session, cons: int, **values) -> None:
    c = session.get(Consultation, cons)
    c.reminder_policy = {**c.reminder_policy, **values}
    session.flush()


def rows(session, kind: str | None = None) -> dict[int, tuple[str, str, str | None]]:
    """``{citizen_id: (channel, status, reason)}`` of the outbox (one kind)."""
    stmt = select(
        OutboxMessage.citizen_id, OutboxMessage.channel, OutboxMessage.status, OutboxMessage.reason
    )
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return {r[0]: (r[1], r[2], r[3]) for r in session.execute(stmt)}


def count(session) -> int:
    return session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()


def test_enqueue_twice_writes_one_row(session):
    cons, _ = f.consultation(session)
    cid = person(session, [("email", "reminders")])
    kw = {
        "kind": "reminder",
        "consultation_id": cons,
        "round": 1,
        "citizen_id": cid,
        "purpose": "reminders",
        "template": "reminder",
        "context": {"x": 1},
        "actor": f.SYSTEM,
    }
    first = enqueue(session, **kw)
    again = enqueue(session, **kw)
    assert first.created
    assert not again.created
    assert again.message_id == first.message_id
    assert first.key == f"reminder:{cons}:1:{cid}:email"
    assert (first.status, first.channel) == ("pending", "email")
    assert count(session) == 1


def test_retry_after_the_route_changed_still_adds_nothing(session):
    cons, _ = f.consultation(session)
    cid = person(session, [("email", "reminders"), ("sms", "reminders")], phone=True)
    kw = {
        "kind": "reminder",
        "consultation_id": cons,
        "round": 1,
        "citizen_id": cid,
        "purpose": "reminders",
        "template": "reminder",
        "context": {},
        "actor": f.SYSTEM,
    }
    assert enqueue(session, **kw).channel == "email"
    set_consent(
        session,
        citizen_id=cid,
        channel="email",
        purpose="reminders",
        opted_in=False,
        source="web",
        actor=f.SYSTEM,
    )
    again = enqueue(session, **kw)  # would now route to SMS: a new key, but not a new message
    assert not again.created
    assert again.channel == "email"
    assert count(session) == 1


def test_invitations_follow_eligibility_consent_and_participation(session):
    cons, pids = f.consultation(session, eligibility={"districts": ["North"]})
    north = {"district": "North"}
    a = person(session, [("email", "invitations")], **north)
    b = person(session, [("sms", "invitations")], phone=True, preferred_channel="sms", **north)
    c = person(session, [("email", "reminders")], **north)  # consent for another purpose
    d = person(session, [("email", None, False)], **north)  # opted out of everything
    e = person(session, [("sms", "invitations")], phone=True, **north)  # prefers email
    g = person(session, [("sms", "invitations")], **north)  # SMS consent, no phone
    h = person(session, [("email", "invitations")], **north)  # has voted already
    person(session, [("email", "invitations")], district="South")  # not eligible
    vote(session, cons, pids[0], h)

    result = plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)

    # Hand count: 7 eligible; a, b, e reachable (e by fallback); c, d no consent; g no
    # address; h voted (no row).
    assert result.considered == 7
    assert result.created == 6
    assert result.counts == {
        "already_voted": 1,
        "pending": 3,
        "suppressed:no_address": 1,
        "suppressed:no_consent": 2,
    }
    assert rows(session) == {
        a: ("email", "pending", None),
        b: ("sms", "pending", None),
        c: ("email", "suppressed", "no_consent"),
        d: ("email", "suppressed", "no_consent"),
        e: ("sms", "pending", "fallback_from_email"),
        g: ("email", "suppressed", "no_address"),
    }
    again = plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    assert (again.created, again.counts) == (0, {"already_voted": 1, "existing": 6})
    assert count(session) == 6


def test_pages_give_the_same_plan_as_one_statement(session):
    cons, _ = f.consultation(session)
    for i in range(11):
        person(session, [("email", "invitations")] if i % 3 else [], phone=bool(i % 2))
    small = plan_invitations(session, consultation_id=cons, actor=f.SYSTEM, chunk_size=2)
    assert small.considered == 11
    assert small.counts == {"pending": 7, "suppressed:no_consent": 4}


def test_record_suppressed_false_writes_only_messages_to_send(session):
    cons, _ = f.consultation(session)
    a = person(session, [("email", "invitations")])
    person(session)
    result = plan_invitations(
        session, consultation_id=cons, actor=f.SYSTEM, record_suppressed=False
    )
    assert result.counts == {"pending": 1, "suppressed:no_consent": 1}
    assert list(rows(session)) == [a]


def _held_out(public_id: str, share: float, salt: int) -> bool:
    digest = hashlib.sha256(f"{salt}\x1f{public_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def test_reminders_skip_voters_and_record_the_holdout(session):
    cons, pids = f.consultation(session)
    policy(session, cons, holdout_share=0.5, quiet_start=0, quiet_end=0)
    ids = [person(session, [("email", "reminders")]) for _ in range(30)]
    voters = set(ids[:4])
    for cid in voters:
        vote(session, cons, pids[0], cid)
    public = dict(
        session.execute(select(Citizen.id, Citizen.public_id).where(Citizen.id.in_(ids))).all()
    )
    held = {cid for cid in ids if cid not in voters and _held_out(public[cid], 0.5, cons)}
    assert 0 < len(held) < 26  # the data gives both groups

    first = plan_reminders(session, consultation_id=cons, round=1, actor=f.SYSTEM)

    assert first.counts == {
        "already_voted": 4,
        "pending": 26 - len(held),
        "suppressed:holdout": len(held),
    }
    got = rows(session, "reminder")
    assert {c for c, r in got.items() if r[2] == "holdout"} == held
    assert not voters & set(got)
    # the same citizens are held out in round 2
    plan_reminders(session, consultation_id=cons, round=2, actor=f.SYSTEM)
    round2 = session.execute(
        select(OutboxMessage.citizen_id).where(
            OutboxMessage.idempotency_key.like(f"reminder:{cons}:2:%"),
            OutboxMessage.reason == "holdout",
        )
    ).scalars()
    assert set(round2) == held


def test_cap_stops_messages_beyond_max_messages(session):
    cons, _ = f.consultation(session)
    policy(session, cons, max_messages=2, quiet_start=0, quiet_end=0)
    cid = person(session, [("email", None)])
    assert plan_invitations(session, consultation_id=cons, actor=f.SYSTEM).counts == {"pending": 1}
    assert plan_reminders(session, consultation_id=cons, round=1, actor=f.SYSTEM).counts == {
        "pending": 1
    }
    capped = plan_reminders(session, consultation_id=cons, round=2, actor=f.SYSTEM)
    assert capped.counts == {"suppressed:capped": 1}
    assert rows(session, "reminder")[cid] == ("email", "suppressed", "capped")


def test_quiet_hours_at_planning_time_defer_to_the_local_morning(session):
    cons, _ = f.consultation(session)
    cid = person(
        session,
        [("sms", "invitations")],
        phone=True,
        preferred_channel="sms",
        time_zone="Asia/Tehran",
        locale="fa",
    )
    evening = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 21:30 in Tehran
    clock.set_clock(clock.FrozenClock(evening))
    result = plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    assert result.counts == {"deferred": 1}
    msg = session.execute(select(OutboxMessage).where(OutboxMessage.citizen_id == cid)).scalar_one()
    assert (msg.status, msg.reason, msg.locale) == ("deferred", "quiet_hours", "fa")
    assert msg.not_before == datetime(2026, 3, 3, 4, 30, tzinfo=UTC)  # 08:00 Tehran


def test_reminders_need_an_open_consultation_and_a_known_round(session):
    cons, _ = f.consultation(session, status="published")
    with pytest.raises(NotAllowed) as info:
        plan_reminders(session, consultation_id=cons, round=1, actor=f.SYSTEM)
    assert info.value.field == "consultation"
    cons2, _ = f.consultation(session)
    with pytest.raises(ValidationError) as bad:
        plan_reminders(session, consultation_id=cons2, round=3, actor=f.SYSTEM)
    assert bad.value.field == "round"


def test_citizens_may_not_plan_fan_outs(session):
    cons, _ = f.consultation(session)
    cid = person(session)
    with pytest.raises(NotAllowed):
        plan_invitations(session, consultation_id=cons, actor=Actor(kind="citizen", id=cid))


def test_results_go_to_participants_with_results_consent(session):
    cons, pids = f.consultation(session, status="closed")
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(hours=2)))
    yes = person(session, [("email", "results")])
    no_consent = person(session, [("email", "reminders")])
    bystander = person(session, [("email", "results")])
    c = session.get(Consultation, cons)
    c.status = "open"  # vote inside the window, then close again
    session.flush()
    vote(session, cons, pids[0], yes)
    vote(session, cons, pids[1], no_consent)
    c.status = "closed"
    session.flush()
    transition(session, consultation_id=cons, to="tallied", actor=f.SYSTEM)

    result = enqueue_results(session, consultation_id=cons, actor=f.SYSTEM)

    assert result.counts == {"pending": 1, "suppressed:no_consent": 1}
    assert bystander not in rows(session, "results")
    payload = session.execute(
        select(OutboxMessage.payload).where(OutboxMessage.citizen_id == yes)
    ).scalar_one()
    assert [(p["title"], p["votes"]) for p in payload["proposals"]] == [
        ("A", 1),
        ("B", 1),
        ("C", 0),
    ]


def test_signin_codes_need_no_consent_and_ignore_quiet_hours(session):
    cid = person(session, phone=True, time_zone="Asia/Tehran")
    clock.set_clock(clock.FrozenClock(datetime(2026, 3, 2, 22, 0, tzinfo=UTC)))
    me = Actor(kind="citizen", id=cid)
    out = enqueue_signin_code(
        session,
        citizen_id=cid,
        signin_code_id=7,
        code="123456",
        minutes_valid=10,
        actor=me,
        channel="sms",
    )
    assert (out.channel, out.status, out.created) == ("sms", "pending", True)
    assert out.key == f"signin_code:-:7:{cid}:sms"
    assert not enqueue_signin_code(
        session, citizen_id=cid, signin_code_id=7, code="123456", minutes_valid=10, actor=me
    ).created
    with pytest.raises(ValidationError):
        enqueue_signin_code(
            session, citizen_id=cid, signin_code_id=8, code="12ab", minutes_valid=10, actor=me
        )
    other = person(session)
    with pytest.raises(NotAllowed):
        enqueue_signin_code(
            session, citizen_id=other, signin_code_id=9, code="1", minutes_valid=10, actor=me
        )


def test_list_messages_refuses_an_unknown_status(session):
    cons, _ = f.consultation(session)
    person(session, [("email", "invitations")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    assert [r.status for r in list_messages(session, status="pending")] == ["pending"]
    with pytest.raises(ValidationError) as info:
        list_messages(session, status="lost")
    assert info.value.field == "status"


def test_survey_invitations_go_to_participants_or_to_named_citizens(session):
    cons, pids = f.consultation(session)
    voter = person(session, [("email", "surveys")])
    person(session, [("email", "surveys")])  # did not take part: not invited to the pulse
    vote(session, cons, pids[0], voter)
    pulse = Survey(
        slug="pulse-1", title="How did it go?", kind="pulse", consultation_id=cons, created_at=f.T0
    )
    wave = Survey(slug="wave-2026", title="Resident survey", kind="wave", created_at=f.T0)
    session.add_all([pulse, wave])
    session.flush()
    closes = f.T0 + timedelta(days=30)

    out = enqueue_survey_invitation(session, survey_id=pulse.id, closes_at=closes, actor=f.SYSTEM)
    assert (out.considered, out.counts) == (1, {"pending": 1})
    key = session.execute(
        select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "survey_invitation")
    ).scalar_one()
    assert key == f"survey_invitation:{cons}:{pulse.id}:{voter}:email"

    named = person(session, [("email", "surveys")])
    out = enqueue_survey_invitation(
        session, survey_id=wave.id, closes_at=closes, actor=f.SYSTEM, citizen_ids=[named, voter]
    )
    assert out.counts == {"pending": 2}
    payload = session.execute(
        select(OutboxMessage.payload).where(
            OutboxMessage.idempotency_key == f"survey_invitation:-:{wave.id}:{named}:email"
        )
    ).scalar_one()
    assert payload["survey_url"].endswith("/?survey=wave-2026")
    assert payload["closes_at_utc"] == closes.isoformat()
    with pytest.raises(ValidationError) as info:
        enqueue_survey_invitation(session, survey_id=wave.id, closes_at=closes, actor=f.SYSTEM)
    assert info.value.field == "citizen_ids"


def test_planned_rows_store_times_and_payloads_as_the_orm_does(session):
    cons, _ = f.consultation(session)
    person(session, [("email", "invitations")])
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)
    now = clock.now()
    # equal in SQL to a bound parameter of the same instant (SQLite compares the text)
    assert (
        session.execute(
            select(func.count()).where(
                OutboxMessage.not_before == now, OutboxMessage.created_at == now
            )
        ).scalar_one()
        == 1
    )
    c = session.get(Consultation, cons)
    payload = session.execute(select(OutboxMessage.payload)).scalar_one()
    assert payload == {
        "consultation_title": c.title,
        "consultation_url": f"http://localhost:8501/?consultation={c.slug}",
        "closes_at_utc": c.closes_at.isoformat(),
        "time_zone": "UTC",
    }
