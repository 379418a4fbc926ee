"""Fan-outs routed in SQL give, row for row, what :func:`notifications.routing.route` gives
each citizen: random populations (consents, addresses, preferences, locales, time zones,
ballots, messages already queued, rows of an earlier attempt) and random policies (quiet
hours, cap, holdout), planned through the public planners and compared with ``route``
called here on the same facts."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import Ballot, Citizen, Consent, Consultation, OutboxMessage, Survey
from notifications.outbox import LIVE_STATUSES, message_key
from notifications.planning import enqueue_survey_invitation, plan_invitations, plan_reminders
from notifications.routing import CAPPED_KINDS, CitizenFacts, RoutingPolicy, route
from tests import factories as f

_seq = count(1)
# tags resolve_locale reads in every way: plain, region, case, Unicode whitespace to strip,
# characters that lower-case or look alike, empty (all at most 8 characters, the column)
LOCALES = ["en", "fa", "FA-IR", "fa_AF", "en-GB", "de", "", " fa", "fa\u00a0", "fa\t", "fA", "fa-"]
LOCALES += ["faX", "\u0130fa", "\ufb00", "fa\u2003"]
# zones with whole and half-hour offsets, DST, and names zoneinfo does not know (read as UTC)
ZONES = ["UTC", "Asia/Tehran", "Europe/Warsaw", "America/New_York", "Asia/Kolkata", "Mars/Base"]
ZONES += ["utc", "Pacific/Chatham"]
PRIOR = [("reminder", 7), ("reminder", 8), ("survey_invitation", 99), ("results", 0)]
STATUSES = ["pending", "deferred", "sending", "sent", "failed", "suppressed"]

citizens = st.lists(
    st.fixed_dictionaries(
        {
            "email": st.booleans(),
            "phone": st.booleans(),
            "preferred": st.sampled_from(["email", "sms"]),
            "locale": st.sampled_from(LOCALES),
            "tz": st.sampled_from(ZONES),
            "consent": st.tuples(*[st.sampled_from([None, True, False])] * 2),
            "voted": st.booleans(),
            "existing": st.sampled_from([None, None, None, "email", "sms"]),
            "prior": st.lists(
                st.tuples(st.sampled_from(PRIOR), st.sampled_from(STATUSES)),
                max_size=4,
                unique_by=lambda p: p[0],
            ),
            "public_id": st.text("0123456789abcdef\u00fc", min_size=1, max_size=12),
        }
    ),
    max_size=16,
)
policies = st.fixed_dictionaries(
    {
        "quiet_start": st.integers(0, 23),
        "quiet_end": st.integers(0, 23),
        "max_messages": st.integers(0, 4),
        "holdout_share": st.sampled_from([0.0, 0.25, 0.5, 0.999, 1.0, 1.5]),
    }
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
SLOW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _populate(
    session: Any,
    people: list[dict[str, Any]],
    *,
    cid: int | None,
    kind: str,
    round: int,
    purpose: str,
    now: datetime,
) -> list[tuple[int, dict[str, Any]]]:
    """Write the population with ORM rows (imports can store any locale); return
    ``[(citizen id, spec)]``."""
    made = []
    for i, p in enumerate(people):
        n = next(_seq)
        c = Citizen(
            public_id=f"{p['public_id']}{i}",
            display_name=f"P{n}",
            email=f"p{n}@example.invalid" if p["email"] else None,
            phone=f"+4479{n:08d}" if p["phone"] else None,
            locale=p["locale"],
            time_zone=p["tz"],
            preferred_channel=p["preferred"],
            created_at=now,
        )
        session.add(c)
        session.flush()
        for channel, opted in zip(("email", "sms"), p["consent"], strict=True):
            if opted is not None:
                session.add(
                    Consent(
                        citizen_id=c.id,
                        channel=channel,
                        purpose=purpose,
                        opted_in=opted,
                        changed_at=now,
                        source="web",
                    )
                )
        if p["voted"] and cid is not None:
            session.add(
                Ballot(
                    consultation_id=cid,
                    citizen_id=c.id,
                    channel="web",
                    cast_at=now,
                    receipt_code=f"r{n}",
                )
            )
        rows = [((k, r), status, "email") for (k, r), status in p["prior"]]
        if p["existing"]:
            rows.append(((kind, round), "pending", p["existing"]))
        for (k, r), status, channel in rows:
            session.add(
                OutboxMessage(
                    idempotency_key=message_key(k, cid, r, c.id, channel),
                    citizen_id=c.id,
                    consultation_id=cid,
                    kind=k,
                    purpose=None,
                    channel=channel,
                    template=k,
                    locale="en",
                    payload={},
                    status=status,
                    attempts=0,
                    not_before=now,
                    created_at=now,
                )
            )
        made.append((c.id, {**p, "public_id": c.public_id}))
    session.flush()
    return made


def _expected(
    made: list[tuple[int, dict[str, Any]]],
    *,
    policy: RoutingPolicy,
    cid: int | None,
    kind: str,
    round: int,
    purpose: str,
    now: datetime,
) -> tuple[dict[int, tuple[Any, ...]], Counter[str]]:
    """What ``route`` decides for each citizen, as the planner should write and count it."""
    rows: dict[int, tuple[Any, ...]] = {}
    counts: Counter[str] = Counter()
    for citizen_id, p in made:
        if p["existing"]:
            counts["existing"] += 1
            continue
        facts = CitizenFacts(
            public_id=p["public_id"],
            has_email=p["email"],
            has_phone=p["phone"],
            preferred_channel=p["preferred"],
            locale=p["locale"],
            time_zone=p["tz"],
            took_part=p["voted"] and cid is not None,
        )
        consents = {
            (channel, purpose): opted
            for channel, opted in zip(("email", "sms"), p["consent"], strict=True)
            if opted is not None
        }
        sent = sum(
            1
            for (k, _), status in p["prior"]
            if cid is not None and k in CAPPED_KINDS and status in LIVE_STATUSES
        )
        d = route(facts, consents, policy, now, sent, kind=kind, purpose=purpose)
        if d.reason == "already_voted":
            counts["already_voted"] += 1
            continue
        counts[d.status if d.status != "suppressed" else f"suppressed:{d.reason}"] += 1
        channel = d.channel or p["preferred"]
        key = message_key(kind, cid, round, citizen_id, channel)
        rows[citizen_id] = (channel, d.locale, d.status, d.reason, key, d.not_before)
    return rows, counts


def _written(session: Any, kind: str, since: int) -> dict[int, tuple[Any, ...]]:
    m = OutboxMessage
    got = session.execute(
        select(
            m.citizen_id, m.channel, m.locale, m.status, m.reason, m.idempotency_key, m.not_before
        )
        .where(m.kind == kind, m.id > since)
        .order_by(m.id)
    ).all()
    out = {r[0]: tuple(r[1:]) for r in got}
    assert len(out) == len(got), "two rows for one citizen"
    return out


def _last_id(session: Any) -> int:
    return int(session.execute(select(func.coalesce(func.max(OutboxMessage.id), 0))).scalar_one())


def _check_plan(session, people, policy_json, now, kind, record_suppressed):
    cid, _ = f.consultation(session)
    c = session.get(Consultation, cid)
    c.reminder_policy = policy_json
    session.flush()
    purpose = {"reminder": "reminders", "invitation": "invitations"}[kind]
    round = 1 if kind == "reminder" else 0
    made = _populate(session, people, cid=cid, kind=kind, round=round, purpose=purpose, now=now)
    since = _last_id(session)
    planner = plan_reminders if kind == "reminder" else plan_invitations
    extra = {"round": 1} if kind == "reminder" else {}

    result = planner(
        session,
        consultation_id=cid,
        actor=f.SYSTEM,
        now=now,
        record_suppressed=record_suppressed,
        **extra,
    )

    rows, counts = _expected(
        made,
        policy=RoutingPolicy.from_reminder_policy(policy_json, salt=str(cid)),
        cid=cid,
        kind=kind,
        round=round,
        purpose=purpose,
        now=now,
    )
    if not record_suppressed:
        rows = {k: v for k, v in rows.items() if v[2] != "suppressed" or v[3] == "holdout"}
    assert _written(session, kind, since) == rows
    assert result.counts == dict(counts)
    assert result.considered == len(people)
    assert result.created == len(rows)
    again = planner(
        session,
        consultation_id=cid,
        actor=f.SYSTEM,
        now=now,
        record_suppressed=record_suppressed,
        **extra,
    )
    assert again.created == 0
    assert _written(session, kind, since) == rows


@SLOW
@given(people=citizens, policy_json=policies, now=instants, record_suppressed=st.booleans())
def test_reminder_rows_are_what_route_decides(session, people, policy_json, now, record_suppressed):
    savepoint = session.begin_nested()
    try:
        _check_plan(session, people, policy_json, now, "reminder", record_suppressed)
    finally:
        savepoint.rollback()


@SLOW
@given(people=citizens, policy_json=policies, now=instants)
def test_invitation_rows_are_what_route_decides(session, people, policy_json, now):
    savepoint = session.begin_nested()
    try:
        _check_plan(session, people, policy_json, now, "invitation", True)
    finally:
        savepoint.rollback()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=citizens, now=instants, chunk=st.integers(1, 6))
def test_survey_wave_rows_are_what_route_decides(session, people, now, chunk):
    """No consultation (no cap, default quiet hours), named citizens in chunks."""
    savepoint = session.begin_nested()
    try:
        survey = Survey(slug=f"wave-{next(_seq)}", title="Wave", kind="wave", created_at=now)
        session.add(survey)
        session.flush()
        for p in people:
            p["existing"] = None  # rows of an earlier attempt are covered above
        made = _populate(
            session, people, cid=None, kind="survey_invitation", round=survey.id,
            purpose="surveys", now=now,
        )  # fmt: skip
        since = _last_id(session)
        ids = [citizen_id for citizen_id, _ in made]

        result = enqueue_survey_invitation(
            session,
            survey_id=survey.id,
            closes_at=now + timedelta(days=7),
            actor=f.SYSTEM,
            citizen_ids=ids,
            now=now,
            chunk_size=chunk,
        )

        rows, counts = _expected(
            made,
            policy=RoutingPolicy(),
            cid=None,
            kind="survey_invitation",
            round=survey.id,
            purpose="surveys",
            now=now,
        )
        assert _written(session, "survey_invitation", since) == rows
        assert result.counts == dict(counts)
        assert result.created == len(rows)
    finally:
        savepoint.rollback()


def test_hash_prefix_rule_matches_in_holdout():
    """The bound SQL compares hash prefixes with flips exactly where in_holdout does."""
    from notifications.routing import holdout_cut, in_holdout

    for share in (0.0, 1e-18, 0.25, 0.5, 0.999, 1.0, 1.5):
        cut = holdout_cut(share)
        for k in range(200):
            public_id = f"p{k}"
            prefix = int(hashlib.sha256(f"7\x1f{public_id}".encode()).hexdigest()[:16], 16)
            assert (prefix < cut) == in_holdout(public_id, share, "7")
        if 0 < cut < 2**64:
            assert cut / 2**64 >= share > (cut - 1) / 2**64


def test_plain_population_is_routed_in_sql_alone(session, monkeypatch):
    """Plain locales and known zones leave nobody to the per-citizen Python routing."""
    import notifications.planning as planning

    seen = []

    def spy(*args, **kwargs):
        out = plan_in_sql(*args, **kwargs)
        seen.append(out)
        return out

    from notifications.planning_sql import plan_in_sql

    monkeypatch.setattr(planning, "plan_in_sql", spy)
    now = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 22:30 in Tehran (quiet), 20:00 in Warsaw
    people = [
        {**base, "locale": loc, "tz": tz}
        for base in (
            {"email": True, "phone": True, "preferred": "sms", "consent": (True, True)},
            {"email": True, "phone": False, "preferred": "email", "consent": (None, True)},
        )
        for loc in ("fa-IR", "en", "de")
        for tz in ("Asia/Tehran", "Europe/Warsaw")
    ]
    for p in people:
        p.update(voted=False, existing=None, prior=[], public_id="x")
    policy_json = {"quiet_start": 21, "quiet_end": 8, "max_messages": 4, "holdout_share": 0.0}

    _check_plan(session, people, policy_json, now, "reminder", True)

    assert [s.leftover for s in seen] == [[], []]  # the plan and its retry
    assert seen[0].created == len(people)
    assert {"deferred", "pending", "suppressed:no_address"} <= set(seen[0].counts)
