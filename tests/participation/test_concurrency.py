"""Concurrent casting: 16 writers for the same citizen leave exactly one ballot row; eight
writers racing on some citizens leave one ballot each, with its last choices."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.db import session_scope
from core.errors import NotAllowed
from models import AuditEvent, Ballot, BallotChoice, Consultation, Contact
from participation.audit import seal_chain, verify_chain
from participation.ballots import ballot_of, cast_ballot
from tests import factories as f


def test_sixteen_concurrent_casts_for_one_citizen_make_one_ballot(fresh_db):
    engine = fresh_db.engine()
    with session_scope(engine) as s:
        cons, pids = f.consultation(s, params={"max_choices": 1})
        voter = f.citizen(s)
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(hours=2)))
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []
    receipts = []

    def cast(i: int) -> None:
        try:
            barrier.wait()
            with session_scope(engine) as s:
                receipts.append(
                    cast_ballot(
                        s,
                        consultation_id=cons,
                        citizen_id=voter,
                        choices={pids[i % 3]: 1},
                        channel="web",
                        actor=Actor(kind="citizen", id=voter),
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cast, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Ballot)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(BallotChoice)).scalar_one() == 1
        ballot = s.execute(select(Ballot)).scalar_one()
        assert ballot.revision == 16
        assert sorted(r.revision for r in receipts) == list(range(1, 17))
        assert (
            s.execute(select(func.count()).where(AuditEvent.action.like("ballot.%"))).scalar_one()
            == 16
        )
        seal_chain(s)
        report = verify_chain(s)
        assert report.first_broken is None
        assert report.unsealed == 0
    engine.dispose()


def test_eight_writers_leave_one_ballot_per_citizen_with_its_last_choices(fresh_db):
    """Eight threads cast 12 ballots each; every third ballot is for a citizen another
    thread also votes for. Each citizen ends with one ballot whose choices are those of the
    receipt with the highest revision, and the audit chain holds every cast in order."""
    engine = fresh_db.engine()
    writers, per_writer = 8, 12
    with session_scope(engine) as s:
        cons, pids = f.consultation(
            s, params={"max_choices": 3}, proposals=[{"title": f"P{k}"} for k in range(6)]
        )
        voters = [f.citizen(s) for _ in range(writers * per_writer)]
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(hours=2)))
    rng = random.Random(7)

    def voter(w: int, j: int) -> int:
        """Writer ``w``'s ``j``-th citizen; when ``j % 3 == 0`` the one the next writer
        votes for at ``j + 1``, so the two threads race on that citizen."""
        if j % 3 == 0:
            return voters[(w + 1) % writers * per_writer + j + 1]
        return voters[w * per_writer + j]

    plans = [
        [(voter(w, j), dict.fromkeys(rng.sample(pids, 3), 1)) for j in range(per_writer)]
        for w in range(writers)
    ]
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    receipts: list[tuple[int, dict[int, int], int]] = []

    def work(w: int) -> None:
        try:
            barrier.wait()
            for citizen, choices in plans[w]:
                with session_scope(engine) as s:
                    r = cast_ballot(
                        s,
                        consultation_id=cons,
                        citizen_id=citizen,
                        choices=choices,
                        channel="web",
                        actor=Actor(kind="citizen", id=citizen),
                    )
                receipts.append((citizen, choices, r.revision))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    casts = Counter(c for plan in plans for c, _ in plan)
    assert sum(n == 2 for n in casts.values()) == writers * per_writer // 3  # the races
    last: dict[int, tuple[int, dict[int, int]]] = {}
    for citizen, choices, revision in receipts:
        if revision > last.get(citizen, (0, {}))[0]:
            last[citizen] = (revision, choices)
    with session_scope(engine) as s:
        stored = s.execute(
            select(Ballot.citizen_id, Ballot.revision).where(Ballot.consultation_id == cons)
        ).all()
        assert sorted(c for c, _ in stored) == sorted(casts)
        assert dict(stored) == dict(casts)  # revision = casts for that citizen
        for citizen, (_, choices) in last.items():
            assert ballot_of(s, consultation_id=cons, citizen_id=citizen) == choices
        actions = Counter(
            s.execute(select(AuditEvent.action).where(AuditEvent.action.like("ballot.%")))
            .scalars()
            .all()
        )
        assert actions == {
            "ballot.cast": len(casts),
            "ballot.replace": sum(casts.values()) - len(casts),
        }
        ledger = s.execute(
            select(func.count()).select_from(Contact).where(Contact.kind == "ballot")
        ).scalar_one()
        assert ledger == sum(casts.values())
        seal_chain(s)
        report = verify_chain(s)
        assert report.first_broken is None
        assert report.unsealed == 0
    engine.dispose()


def test_a_cast_racing_the_close_is_counted_or_refused_never_lost(fresh_db, monkeypatch):
    """The deadline run closes the consultation while a last-second cast is between its
    read of the consultation (open) and its ballot insert. Closing must wait for that cast
    and count it; otherwise the recorded total (the tally's denominator) misses a stored
    ballot. A cast that starts after the close has begun is refused instead."""
    import participation.ballots as ballots
    from participation.consultations import transition

    engine = fresh_db.engine()
    with session_scope(engine) as s:
        cons, pids = f.consultation(s)
        voters = [f.citizen(s) for _ in range(3)]
    closes = f.T0 + timedelta(days=14)
    clock.set_clock(clock.FrozenClock(closes - timedelta(milliseconds=5)))
    for v in voters[:2]:
        with session_scope(engine) as s:
            cast_ballot(s, consultation_id=cons, citizen_id=v, choices={pids[0]: 1},
                        channel="web", actor=Actor(kind="citizen", id=v))

    closing_started = threading.Event()
    outcome: dict[str, object] = {}

    def close() -> None:
        try:
            with session_scope(engine) as s:
                closing_started.set()
                transition(s, consultation_id=cons, to="closed", actor=f.SYSTEM, at=closes)
            outcome["closed"] = True
        except BaseException as exc:
            outcome["close_error"] = exc

    real_validate = ballots.validate_ballot

    def validate_while_closing(*args, **kwargs):
        # the cast has read the consultation as open; now the close starts and runs as far
        # as it can before this cast commits
        closer = threading.Thread(target=close)
        closer.start()
        closing_started.wait(10)
        closer.join(1.0)  # it must still be waiting for this cast, not done
        outcome["closed_before_cast_committed"] = not closer.is_alive()
        outcome["closer"] = closer
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(ballots, "validate_ballot", validate_while_closing)
    v = voters[2]
    with session_scope(engine) as s:
        receipt = cast_ballot(s, consultation_id=cons, citizen_id=v, choices={pids[1]: 1},
                              channel="web", actor=Actor(kind="citizen", id=v))
    outcome["closer"].join(30)  # type: ignore[attr-defined]
    assert "close_error" not in outcome
    assert outcome["closed"] is True
    assert outcome["closed_before_cast_committed"] is False
    assert receipt.revision == 1
    with session_scope(engine) as s:
        stored = s.execute(
            select(func.count()).select_from(Ballot).where(Ballot.consultation_id == cons)
        ).scalar_one()
        recorded = s.execute(
            select(Consultation.ballots_at_close).where(Consultation.id == cons)
        ).scalar_one()
    assert (stored, recorded) == (3, 3)

    # a cast that starts once the close is under way (or done) is refused, and nothing is
    # stored for it
    monkeypatch.setattr(ballots, "validate_ballot", real_validate)
    with session_scope(engine) as s:
        fourth = f.citizen(s)
    with pytest.raises(NotAllowed, match="voting is not open"), session_scope(engine) as s:
        cast_ballot(s, consultation_id=cons, citizen_id=fourth, choices={pids[0]: 1},
                    channel="web", actor=Actor(kind="citizen", id=fourth))
    engine.dispose()
