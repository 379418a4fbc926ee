"""16 writers casting for the same citizen at once leave exactly one ballot row."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.db import session_scope
from models import AuditEvent, Ballot, BallotChoice
from participation.audit import verify_chain
from participation.ballots import cast_ballot
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
        assert verify_chain(s).first_broken is None
    engine.dispose()
