"""The audit hash chain: every write appends an event whose digest covers the previous one.

``digest_n = SHA-256(prev_digest | seq | at | actor | action | subject | payload_digest)``
(a hash chain as in RFC 6962's Merkle log idea reduced to a list: altering, removing or
reordering any row changes every later digest, so :func:`verify_chain` finds the first
broken link). Appends are serialised by locking the single ``audit_head`` row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from models import AuditEvent, AuditHead

GENESIS = "0" * 64


def payload_digest(payload: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``payload`` (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def link_digest(
    prev: str, seq: int, at: datetime, actor: str, action: str, subject: str, pdigest: str
) -> str:
    """The digest of one chain link (see the module docstring for the formula)."""
    text = "|".join((prev, str(seq), at.isoformat(), actor, action, subject, pdigest))
    return hashlib.sha256(text.encode()).hexdigest()


def append_event(
    session: Session, *, actor: Actor, action: str, subject: str, payload: Any = None
) -> int:
    """Append one event to the chain in the caller's transaction.

    Args:
        session: the open session (the caller commits).
        actor: who did it.
        action: a verb such as ``ballot.cast``.
        subject: what it concerns, e.g. ``consultation:3/citizen:17``.
        payload: JSON-able details; only their digest is kept (no personal data in the log).
    Returns:
        the new event's sequence number.
    """
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:  # a schema created without the migration's seed row
        head = AuditHead(id=1, seq=0, digest=GENESIS)
        session.add(head)
        session.flush()
    at = clock.now()
    seq = head.seq + 1
    pdig = payload_digest(payload)
    digest = link_digest(head.digest, seq, at, actor.label, action, subject, pdig)
    session.add(
        AuditEvent(
            seq=seq,
            at=at,
            actor=actor.label,
            action=action,
            subject=subject,
            payload_digest=pdig,
            prev_digest=head.digest,
            digest=digest,
        )
    )
    head.seq = seq
    head.digest = digest
    session.flush()
    return seq


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`: ``first_broken`` is ``None`` when the chain is intact."""

    events: int
    first_broken: int | None
    reason: str | None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Recompute every link in order and report the first that does not match.

    Returns:
        the number of events checked and the sequence number of the first broken link.
    """
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.seq >= expected_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for ev in rows:
            count += 1
            if ev.seq != expected_seq:
                return ChainReport(count, expected_seq, f"event {expected_seq} is missing")
            if ev.prev_digest != prev:
                return ChainReport(count, ev.seq, "previous-digest field does not match")
            again = link_digest(
                prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload_digest
            )
            if again != ev.digest:
                return ChainReport(count, ev.seq, "contents do not match the stored digest")
            prev = ev.digest
            expected_seq += 1
            last_id = ev.seq
    head = session.get(AuditHead, 1)
    if head is None:
        return ChainReport(count, last_id + 1, "the chain's head row is missing (log wiped?)")
    if head.seq != last_id:
        return ChainReport(count, last_id + 1, f"head says {head.seq} events, found {last_id}")
    return ChainReport(count, None, None)
