"""The audit hash chain: every write appends an event whose digest covers the previous one.

``digest_n = SHA-256(prev_digest | seq | at | actor | action | subject | payload_digest)``
(a hash chain as in RFC 6962's Merkle log idea reduced to a list: altering, removing or
reordering any row changes every later digest, so :func:`verify_chain` finds the first
broken link). Appends are serialised by locking the single ``audit_head`` row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises).

The chain is one list, so appends are serialised by construction: on PostgreSQL the head's
row lock is held from the append to the commit, including the commit's WAL flush, and one
chain cannot grow faster than one commit at a time. To keep that critical section short,
PostgreSQL appends in one statement that locks the head, computes the link digest with the
server's ``sha256`` over the same text as :func:`link_digest`, inserts the event and moves
the head (one round trip between taking the lock and the commit, instead of three);
SQLite, where the whole write transaction holds the database lock anyway, uses three small
Core statements. :func:`verify_chain` recomputes every digest in Python either way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.prepared import Prepared
from models import AuditEvent, AuditHead
from models.base import UTCDateTime

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


_EVENT = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
# Core statements built once: the ORM unit of work (objects, flushes) cost more than the
# three statements themselves (docs/performance.md, ``cast``)
# (run on the DBAPI cursor, core.prepared: they hold the head's lock, so their
# SQLAlchemy execution overhead would be part of every writer's wait)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.digest).where(_HEAD.c.id == 1)
_LOCK_HEAD = Prepared(_READ_HEAD.with_for_update(), [])
_SEED_HEAD = insert(_HEAD).values(id=1, seq=0, digest=GENESIS)
_INSERT_EVENT = Prepared(
    insert(_EVENT),
    ["seq", "at", "actor", "action", "subject", "payload_digest", "prev_digest", "digest"],
)
_MOVE_HEAD = Prepared(
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), digest=bindparam("new_digest")),
    ["new_seq", "new_digest"],
)

# PostgreSQL: lock, link, insert and move in one statement. ``FOR UPDATE`` in a READ
# COMMITTED transaction returns the head as last committed once the lock is granted, and the
# outer UPDATE of the row this transaction has locked re-reads that same version, so the
# event links to the head the previous writer committed. ``:rest`` is the text after
# ``prev|seq|`` in :func:`link_digest` (time, actor, action, subject, payload digest).
_APPEND_PG_SQL = text(
    """
    WITH old AS (
        SELECT seq, digest FROM audit_head WHERE id = 1 FOR UPDATE
    ), new AS (
        SELECT seq + 1 AS seq, digest AS prev,
               encode(sha256(convert_to(
                   digest || '|' || (seq + 1)::text || '|' || :rest, 'UTF8')), 'hex') AS digest
        FROM old
    ), event AS (
        INSERT INTO audit_event
            (seq, at, actor, action, subject, payload_digest, prev_digest, digest)
        SELECT seq, :at, :actor, :action, :subject, :pdig, prev, digest FROM new
    )
    UPDATE audit_head SET seq = new.seq, digest = new.digest
    FROM new WHERE audit_head.id = 1
    RETURNING new.seq
    """
).bindparams(bindparam("at", type_=UTCDateTime()))
_APPEND_PG = Prepared(_APPEND_PG_SQL, ["rest", "at", "actor", "action", "subject", "pdig"])


def append_event(
    session: Session, *, actor: Actor, action: str, subject: str, payload: Any = None
) -> int:
    """Append one event to the chain in the caller's transaction.

    The payload digest is computed before the head row is locked; only reading the head,
    the link digest, the event insert and the head update happen under the lock (which the
    caller's commit releases), so callers should append as the last write of a transaction.

    Args:
        session: the open session (the caller commits); its pending ORM changes are flushed
            first, as any query would.
        actor: who did it.
        action: a verb such as ``ballot.cast``.
        subject: what it concerns, e.g. ``consultation:3/citizen:17``.
        payload: JSON-able details; only their digest is kept (no personal data in the log).
    Returns:
        the new event's sequence number (1 for the first event).
    """
    pdig = payload_digest(payload)
    label = actor.label
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        at = clock.now()
        rest = "|".join((at.isoformat(), label, action, subject, pdig))
        params = {
            "rest": rest,
            "at": at,
            "actor": label,
            "action": action,
            "subject": subject,
            "pdig": pdig,
        }
        appended = _APPEND_PG.execute(conn, params).fetchone()
        if appended is not None:
            return int(appended[0])
    row = _LOCK_HEAD.execute(conn, {}).fetchone()
    if row is None:  # a schema created without the migration's seed row
        conn.execute(_SEED_HEAD)
        prev, seq = GENESIS, 1
    else:
        prev, seq = row[1], row[0] + 1
    at = clock.now()
    digest = link_digest(prev, seq, at, label, action, subject, pdig)
    _INSERT_EVENT.execute(
        conn,
        {
            "seq": seq,
            "at": at,
            "actor": label,
            "action": action,
            "subject": subject,
            "payload_digest": pdig,
            "prev_digest": prev,
            "digest": digest,
        },
    )
    _MOVE_HEAD.execute(conn, {"new_seq": seq, "new_digest": digest})
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
        rows = session.execute(
            select(
                _EVENT.c.seq,
                _EVENT.c.at,
                _EVENT.c.actor,
                _EVENT.c.action,
                _EVENT.c.subject,
                _EVENT.c.payload_digest,
                _EVENT.c.prev_digest,
                _EVENT.c.digest,
            )
            .where(_EVENT.c.seq >= expected_seq)
            .order_by(_EVENT.c.seq)
            .limit(batch)
        ).all()
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
    # a Core read: an ``AuditHead`` object loaded earlier in this session would be stale,
    # since :func:`append_event` moves the head with Core statements
    head = session.execute(_READ_HEAD).first()
    if head is None:
        return ChainReport(count, last_id + 1, "the chain's head row is missing (log wiped?)")
    if head.seq != last_id:
        return ChainReport(count, last_id + 1, f"head says {head.seq} events, found {last_id}")
    return ChainReport(count, None, None)
