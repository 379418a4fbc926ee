"""The audit log: append-only events, sealed into a hash chain once they are committed.

``digest_n = SHA-256(prev_digest | seq | at | actor | action | subject | payload_digest)``
(a hash chain as in RFC 6962's Merkle log idea reduced to a list: once sealed, altering,
removing or reordering any event changes every later digest, so :func:`verify_chain` finds
the first broken link).

Writers and the chain are decoupled, as a Certificate Transparency log incorporates a
submitted entry within its maximum merge delay (RFC 6962, section 3):

* :func:`append_event` is a plain ``INSERT`` in the writer's own transaction, with ``seq``,
  ``prev_digest`` and ``digest`` empty. It locks nothing shared, so concurrent write
  transactions (eight citizens casting at once) commit in parallel.
* :func:`seal_chain` links every committed, unsealed event to the chain, in ``id`` order:
  it locks the single ``audit_head`` row (so one sealer runs at a time), numbers the
  events, computes their digests and moves the head. It runs in its own short transaction:
  every minute in ``advance-consultations`` (the deadlines flow), after each cycle step of
  the demo, and first thing in ``civicflow audit verify``.

An event is protected from the moment it is sealed; until then (normally under a minute) it
is an ordinary row, and :func:`verify_chain` reports how many events wait to be sealed.
Chaining on write — DESIGN.md's "previous digest" written by the writer itself — made every
write transaction queue on the head row from its append to its commit, including the
commit's WAL flush: one chain grew one commit at a time (docs/performance.md, ``cast``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict
from core.prepared import Prepared
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


_EVENT = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
EVENT_KEYS = ("at", "actor", "action", "subject", "payload_digest")
"""The columns an appended event sets, as :func:`event_values` gives them."""
# run on the DBAPI cursor (core.prepared): on the casting path SQLAlchemy's execution
# overhead per statement was a large part of each ballot (docs/performance.md, ``cast``)
_INSERT_EVENT = Prepared(insert(_EVENT), EVENT_KEYS)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.digest).where(_HEAD.c.id == 1)
_SEED_HEAD = insert(_HEAD).values(id=1, seq=0, digest=GENESIS)
_UNSEALED = (
    select(
        _EVENT.c.id,
        _EVENT.c.at,
        _EVENT.c.actor,
        _EVENT.c.action,
        _EVENT.c.subject,
        _EVENT.c.payload_digest,
    )
    .where(_EVENT.c.seq.is_(None))
    .order_by(_EVENT.c.id)
)
_SEAL = (
    update(_EVENT)
    .where(_EVENT.c.id == bindparam("e_id"))
    .values(seq=bindparam("e_seq"), prev_digest=bindparam("e_prev"), digest=bindparam("e_digest"))
)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), digest=bindparam("new_digest"))
)


def event_values(*, actor: Actor, action: str, subject: str, payload: Any) -> dict[str, Any]:
    """The row of one event to append: ``{at, actor, action, subject, payload_digest}``
    (``at`` is ``clock.now()``, a UTC datetime), for :func:`append_event` or a caller that
    inserts it within a statement of its own (:func:`participation.ballots.cast_ballot`)."""
    return {
        "at": clock.now(),
        "actor": actor.label,
        "action": action,
        "subject": subject,
        "payload_digest": payload_digest(payload),
    }


def append_event(
    session: Session, *, actor: Actor, action: str, subject: str, payload: Any = None
) -> None:
    """Append one event to the log in the caller's transaction (sealed later, see the module
    docstring; the caller commits).

    Args:
        session: the open session; its pending ORM changes are flushed first, as any query
            would.
        actor: who did it.
        action: a verb such as ``ballot.cast``.
        subject: what it concerns, e.g. ``consultation:3/citizen:17``.
        payload: JSON-able details; only their digest is kept (no personal data in the log).
    """
    values = event_values(actor=actor, action=action, subject=subject, payload=payload)
    session.flush()
    _INSERT_EVENT.execute(session.connection(), values).close()


def seal_chain(session: Session, *, batch: int = 5000) -> int:
    """Link every committed, unsealed event to the chain, in ``id`` order (the caller
    commits; until then the head row stays locked, so concurrent sealers wait and then find
    nothing left to seal).

    Args:
        batch: events read and updated per round trip.
    Returns:
        the number of events sealed (0 when there were none).
    Raises:
        Conflict: (field ``audit_head``) the head row is gone while sealed events exist,
            or an event is numbered beyond the head — tampering, which :func:`verify_chain`
            names; nothing is sealed then.
    """
    session.flush()
    conn = session.connection()
    head = conn.execute(_READ_HEAD.with_for_update()).first()
    if head is None:
        sealed_before = conn.execute(select(func.count()).where(_EVENT.c.seq.is_not(None)))
        if sealed_before.scalar_one():
            # starting again from the genesis would overwrite the evidence (and collide
            # with the sealed sequence numbers): leave it for verify_chain to report
            raise Conflict(
                "the audit chain's head row is missing while sealed events exist; "
                "the log has been tampered with (`civicflow audit verify` reports it)",
                field="audit_head",
            )
        conn.execute(_SEED_HEAD)  # a schema created without the migration's seed row
        seq, prev = 0, GENESIS
    else:
        seq, prev = int(head[0]), str(head[1])
    beyond = conn.execute(select(_EVENT.c.seq).where(_EVENT.c.seq > seq).limit(1)).first()
    if beyond is not None:  # only this function numbers events, and it moves the head too
        raise Conflict(
            f"event {beyond[0]} is sealed beyond the chain's head ({seq}); the log has been "
            "tampered with (`civicflow audit verify` reports it)",
            field="audit_head",
        )
    sealed = 0
    while True:
        rows = conn.execute(_UNSEALED.limit(batch)).all()
        if not rows:
            break
        links = []
        for ev in rows:
            seq += 1
            digest = link_digest(
                prev, seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload_digest
            )
            links.append({"e_id": ev.id, "e_seq": seq, "e_prev": prev, "e_digest": digest})
            prev = digest
        conn.execute(_SEAL, links)
        sealed += len(rows)
    if sealed:
        conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_digest": prev})
    return sealed


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`: ``first_broken`` is ``None`` when the sealed chain is
    intact; ``unsealed`` counts the events not yet linked (not covered by the check)."""

    events: int
    first_broken: int | None
    reason: str | None
    unsealed: int = 0


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Recompute every sealed link in order and report the first that does not match.

    Every sealed event is walked, and the head must name the last one. The head is read
    before the walk: on PostgreSQL each statement of a READ COMMITTED transaction sees the
    newest commits, so a sealer may commit mid-walk, moving the head and adding the events
    beyond it together. Events found beyond the head read first are therefore checked
    against the head read again: if it has moved, the walk goes on to it; if it has not,
    those events were not sealed by a sealer (forged) and the chain is reported broken.

    Returns:
        the number of sealed events checked, the sequence number of the first broken link
        (``None`` if intact) with the reason, and the number of events not yet sealed.
    """
    # Core reads: an ``AuditHead`` object loaded earlier in this session would be stale,
    # since :func:`seal_chain` moves the head with Core statements
    head = session.execute(_READ_HEAD).first()
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_id = 0
    unsealed = int(
        session.execute(
            select(func.count()).select_from(_EVENT).where(_EVENT.c.seq.is_(None))
        ).scalar_one()
    )
    while True:
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
                    return ChainReport(
                        count, expected_seq, f"event {expected_seq} is missing", unsealed
                    )
                if ev.prev_digest != prev:
                    return ChainReport(
                        count, ev.seq, "previous-digest field does not match", unsealed
                    )
                again = link_digest(
                    prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload_digest
                )
                if again != ev.digest:
                    return ChainReport(
                        count, ev.seq, "contents do not match the stored digest", unsealed
                    )
                prev = ev.digest
                expected_seq += 1
                last_id = ev.seq
        if head is None:
            return ChainReport(
                count, last_id + 1, "the chain's head row is missing (log wiped?)", unsealed
            )
        if head.seq == last_id:
            break
        moved = session.execute(_READ_HEAD).first() if last_id > head.seq else None
        if moved is None or moved.seq == head.seq:
            # fewer events than the head names (they were all committed when it was read),
            # or more that no sealer's commit accounts for
            return ChainReport(
                count, min(last_id, head.seq) + 1,
                f"head says {head.seq} events, found {last_id}", unsealed,
            )
        head = moved  # a sealer committed during the walk: go on up to its head
    if head.digest != prev:
        return ChainReport(
            count, last_id, "the head's digest is not the last event's", unsealed
        )
    return ChainReport(count, None, None, unsealed)
