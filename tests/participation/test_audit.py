from __future__ import annotations

import hashlib
import itertools
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select, update

from core.actor import Actor
from core.db import session_scope
from core.errors import Conflict
from models import AuditEvent, AuditHead
from participation.audit import (
    GENESIS,
    ChainReport,
    append_event,
    link_digest,
    payload_digest,
    seal_chain,
    verify_chain,
)
from tests import factories as f


def test_chain_links_each_event_to_the_previous(session):
    f.consultation(session)
    seal_chain(session)
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
    seal_chain(session)
    report = verify_chain(session)
    assert report.first_broken is None
    assert report.events >= 6
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(subject="proposal:999"))
    broken = verify_chain(session)
    assert broken.first_broken == 3
    assert "contents" in (broken.reason or "")


def test_deleted_event_is_reported(session):
    f.consultation(session)
    seal_chain(session)
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 2))
    assert verify_chain(session).first_broken == 2


def test_appended_digests_match_the_formula_with_non_ascii_text(session):
    seal_chain(session)
    before = session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0
    who = Actor(kind="system", name="Zażółć gęślą jaźń")
    subjects = ("consultation:1/ä|ß", "提案:7", "plain")
    for subject in subjects:
        append_event(session, actor=who, action="note", subject=subject, payload={"k": subject})
    # appended, not yet in the chain
    assert verify_chain(session).unsealed == 3
    assert session.execute(
        select(func.count()).where(AuditEvent.seq.is_(None), AuditEvent.digest.is_(None))
    ).scalar_one() == 3
    assert seal_chain(session) == 3
    events = (
        session.execute(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq))
        .scalars()
        .all()
    )
    assert [e.seq for e in events] == [before + 1, before + 2, before + 3]
    prev = events[0].prev_digest
    for e, subject in zip(events, subjects, strict=True):
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
    assert verify_chain(session) == ChainReport(before + 3, None, None, 0)
    assert seal_chain(session) == 0  # nothing left: sealing again changes nothing
    assert verify_chain(session) == ChainReport(before + 3, None, None, 0)


def test_first_seal_without_a_head_row_starts_from_genesis(session):
    session.execute(delete(AuditEvent))
    session.execute(delete(AuditHead))
    append_event(session, actor=f.SYSTEM, action="note", subject="x", payload=None)
    assert seal_chain(session) == 1
    event = session.execute(select(AuditEvent)).scalar_one()
    assert (event.seq, event.prev_digest) == (1, GENESIS)
    append_event(session, actor=f.SYSTEM, action="note", subject="y")
    assert seal_chain(session) == 1
    assert verify_chain(session) == ChainReport(2, None, None, 0)


def test_events_appended_while_sealers_run_are_each_sealed_once(fresh_db):
    """Eight writers append 40 events each in their own transactions while two sealers seal
    over and over: afterwards every event has one place in one unbroken chain."""
    engine = fresh_db.engine()
    stop = threading.Event()
    errors: list[BaseException] = []
    sealed: list[int] = []

    def write(w: int) -> None:
        try:
            for k in range(40):
                with session_scope(engine) as s:
                    append_event(s, actor=f.SYSTEM, action="note", subject=f"w{w}/{k}",
                                 payload={"w": w, "k": k})
        except BaseException as exc:
            errors.append(exc)

    def seal() -> None:
        try:
            while not stop.is_set():
                with session_scope(engine) as s:
                    sealed.append(seal_chain(s, batch=7))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    sealers = [threading.Thread(target=seal) for _ in range(2)]
    for t in writers + sealers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    with session_scope(engine) as s:
        sealed.append(seal_chain(s))
    assert errors == []
    with session_scope(engine) as s:
        report = verify_chain(s)
        notes = s.execute(
            select(AuditEvent.subject, AuditEvent.seq).where(AuditEvent.action == "note")
        ).all()
    assert report.first_broken is None
    assert report.unsealed == 0
    assert sorted(subject for subject, _ in notes) == sorted(
        f"w{w}/{k}" for w in range(8) for k in range(40))
    assert sum(sealed) == report.events  # each event sealed by exactly one sealer
    assert len({seq for _, seq in notes}) == 320
    engine.dispose()


def test_a_wiped_head_is_reported_not_papered_over(session):
    """Deleting the head row once events are sealed is tampering: sealing refuses (it would
    start again from the genesis over the evidence) and verification names it."""
    f.consultation(session)
    sealed = seal_chain(session)
    assert sealed > 0
    session.execute(delete(AuditHead))
    append_event(session, actor=f.SYSTEM, action="note", subject="after the wipe")
    with pytest.raises(Conflict, match="head row is missing") as refused:
        seal_chain(session)
    assert refused.value.field == "audit_head"
    report = verify_chain(session)
    assert report.reason == "the chain's head row is missing (log wiped?)"
    assert report.unsealed == 1
    assert session.execute(
        select(func.count()).where(AuditEvent.seq.is_not(None))
    ).scalar_one() == sealed  # nothing renumbered


def test_verifying_while_sealers_commit_reports_no_false_break(fresh_db):
    """``verify_chain`` against writers and a sealer committing throughout (on PostgreSQL
    each statement sees the newest commits): every check that runs says intact."""
    engine = fresh_db.engine()
    stop = threading.Event()
    errors: list[BaseException] = []

    def write_and_seal() -> None:
        try:
            k = 0
            while not stop.is_set():
                with session_scope(engine) as s:
                    append_event(s, actor=f.SYSTEM, action="note", subject=f"n{k}")
                if k % 3 == 0:
                    with session_scope(engine) as s:
                        seal_chain(s)
                k += 1
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=write_and_seal) for _ in range(2)]
    for t in workers:
        t.start()
    reports = []
    try:
        for _ in range(60):
            with session_scope(engine) as s:
                reports.append(verify_chain(s, batch=50))
            time.sleep(0.005)  # SQLite: let the writers take the write lock between checks
    finally:
        stop.set()
        for t in workers:
            t.join()
    assert errors == []
    assert [r for r in reports if r.first_broken is not None] == []
    assert [r.events for r in reports] == sorted(r.events for r in reports)
    with session_scope(engine) as s:
        seal_chain(s)
        final = verify_chain(s)
    assert final.first_broken is None
    assert final.events > reports[0].events  # the writers and sealers did work meanwhile
    engine.dispose()


@pytest.mark.parametrize("gap", [1, 50])
def test_an_event_forged_beyond_the_head_is_reported_and_blocks_sealing(session, gap):
    """A row numbered after the head, linked correctly to it (as a forger would), is not
    what any sealer wrote: verification names it, sealing refuses to go on past it."""
    f.consultation(session)
    seal_chain(session)
    head = session.get(AuditHead, 1)
    session.refresh(head)
    seq = head.seq + gap
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    pdig = payload_digest({"choices": [[1, 1]]})
    session.add(AuditEvent(
        seq=seq, at=at, actor="citizen:1", action="ballot.cast", subject="consultation:1",
        payload_digest=pdig, prev_digest=head.digest,
        digest=link_digest(head.digest, seq, at, "citizen:1", "ballot.cast", "consultation:1",
                           pdig),
    ))
    session.flush()
    report = verify_chain(session)
    assert report.first_broken == head.seq + 1
    assert report.reason == (
        f"head says {head.seq} events, found {seq}" if gap == 1
        else f"event {head.seq + 1} is missing")
    append_event(session, actor=f.SYSTEM, action="note", subject="next")
    with pytest.raises(Conflict, match=f"event {seq} is sealed beyond the chain's head"):
        seal_chain(session)
