from __future__ import annotations

import itertools

from sqlalchemy import select, update

from models import AuditEvent
from participation.audit import GENESIS, link_digest, verify_chain
from tests import factories as f


def test_chain_links_each_event_to_the_previous(session):
    f.consultation(session)
    events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_digest == GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_digest == before.digest
    e = events[-1]
    assert e.digest == link_digest(
        e.prev_digest, e.seq, e.at, e.actor, e.action, e.subject, e.payload_digest
    )
    assert verify_chain(session).first_broken is None


def test_tampering_is_reported_at_the_first_broken_link(session):
    f.consultation(session)
    report = verify_chain(session)
    assert report.first_broken is None
    assert report.events >= 6
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(subject="proposal:999"))
    broken = verify_chain(session)
    assert broken.first_broken == 3
    assert "contents" in (broken.reason or "")


def test_deleted_event_is_reported(session):
    f.consultation(session)
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 2))
    assert verify_chain(session).first_broken == 2
