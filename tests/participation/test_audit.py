from __future__ import annotations

import hashlib
import itertools

from sqlalchemy import delete, func, select, update

from core.actor import Actor
from models import AuditEvent, AuditHead
from participation.audit import (
    GENESIS,
    ChainReport,
    append_event,
    link_digest,
    payload_digest,
    verify_chain,
)
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


def test_appended_digests_match_the_formula_with_non_ascii_text(session):
    before = session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0
    who = Actor(kind="system", name="Zażółć gęślą jaźń")
    seqs = [
        append_event(session, actor=who, action="note", subject=subject, payload={"k": subject})
        for subject in ("consultation:1/ä|ß", "提案:7", "plain")
    ]
    assert seqs == [before + 1, before + 2, before + 3]
    events = (
        session.execute(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq))
        .scalars()
        .all()
    )
    prev = events[0].prev_digest
    for e, subject in zip(events, ("consultation:1/ä|ß", "提案:7", "plain"), strict=True):
        text = "|".join(
            (
                prev,
                str(e.seq),
                e.at.isoformat(),
                who.label,
                "note",
                subject,
                payload_digest({"k": subject}),
            )
        )
        assert e.prev_digest == prev
        assert e.digest == hashlib.sha256(text.encode("utf-8")).hexdigest()
        prev = e.digest
    assert verify_chain(session).first_broken is None


def test_first_append_without_a_head_row_starts_from_genesis(session):
    session.execute(delete(AuditEvent))
    session.execute(delete(AuditHead))
    seq = append_event(session, actor=f.SYSTEM, action="note", subject="x", payload=None)
    assert seq == 1
    event = session.execute(select(AuditEvent)).scalar_one()
    assert event.prev_digest == GENESIS
    assert append_event(session, actor=f.SYSTEM, action="note", subject="y") == 2
    assert verify_chain(session) == ChainReport(2, None, None)
