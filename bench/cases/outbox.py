"""The outbox: plan reminders for every eligible citizen, deliver messages with the file
backends; each against the floor of writing the same rows or files without the logic.

* ``plan_reminders``: :func:`notifications.planning.plan_reminders` round 1 of the open
  consultation (routing in SQL: decisions into a temporary table, counts, one
  ``INSERT … SELECT … ON CONFLICT DO NOTHING``; ``voted_share`` of the citizens already voted
  and get nothing) vs one ``INSERT … SELECT`` writing the same rows (same keys, channels,
  payload) with no routing. Both commit. The rows written by the two sides must match
  (count, citizens, channels, statuses).
* ``deliver``: :func:`notifications.delivery.deliver_pending` with the ``file`` backends
  built by :func:`notifications.delivery.make_senders` (claim, re-check, render 4 templates,
  write .eml / .sms.json, record, ledger entry) vs writing the very bytes of those files to a
  new folder with ``Path.write_bytes``. Each repeat starts from ``messages`` pending reminder
  rows (inserted untimed).
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from bench.harness import NOW, SYSTEM, Bench, Case, Target, Trial, timed
from bench.rows import table_of
from core.db import session_scope
from core.settings import get_settings
from models import Ballot, Citizen, Consent, Contact, OutboxMessage
from models.base import UTCDateTime
from notifications.delivery import deliver_pending, make_senders
from notifications.planning import consultation_context, plan_reminders
from participation.consultations import get_consultation

COLUMNS = [
    "idempotency_key", "citizen_id", "consultation_id", "kind", "purpose", "channel",
    "template", "locale", "payload", "status", "attempts", "not_before", "created_at",
]  # fmt: skip


def raw_reminders(session: Session, cons_id: int, *, limit: int | None = None) -> int:
    """Write the rows ``plan_reminders`` writes here (round 1, everyone consents on their
    preferred channel, no quiet hours, no holdout) with one ``INSERT … SELECT``; return the
    row count. ``limit``: only the first citizens (by id) who have not voted."""
    c = get_consultation(session, ref=cons_id)
    key = (
        literal(f"reminder:{cons_id}:1:")
        + cast(Citizen.id, String)
        + literal(":")
        + Citizen.preferred_channel
    )
    body = (
        select(
            key,
            Citizen.id,
            literal(cons_id),
            literal("reminder"),
            literal("reminders"),
            Citizen.preferred_channel,
            literal("reminder"),
            Citizen.locale,
            literal(consultation_context(c), JSON),
            literal("pending"),
            literal(0),
            literal(NOW, UTCDateTime),
            literal(NOW, UTCDateTime),
        )
        .join(
            Consent,
            and_(
                Consent.citizen_id == Citizen.id,
                Consent.channel == Citizen.preferred_channel,
                Consent.purpose == "reminders",
                Consent.opted_in.is_(True),
            ),
        )
        .where(~exists().where(Ballot.consultation_id == cons_id, Ballot.citizen_id == Citizen.id))
    )
    if limit is not None:
        body = body.order_by(Citizen.id).limit(limit)
    table = table_of(OutboxMessage)
    stmt = insert(table).from_select(COLUMNS, body).execution_options(preserve_rowcount=True)
    result = session.connection().execute(stmt)
    return int(result.rowcount)


def clear(engine: Engine, cons_id: int) -> None:
    """Delete the consultation's outbox rows and outbound ledger entries (untimed reset)."""
    with session_scope(engine) as s:
        s.execute(delete(OutboxMessage).where(OutboxMessage.consultation_id == cons_id))
        s.execute(
            delete(Contact).where(
                Contact.consultation_id == cons_id, Contact.direction == "outbound"
            )
        )


def signature(engine: Engine, cons_id: int) -> tuple[Any, ...]:
    """(rows, sum of citizen ids, SMS rows, statuses) of the consultation's outbox rows."""
    m = OutboxMessage
    with session_scope(engine) as s:
        row = s.execute(
            select(
                func.count(),
                func.sum(m.citizen_id),
                func.sum(case((m.channel == "sms", 1), else_=0)),
                func.min(m.status),
                func.max(m.status),
            ).where(m.consultation_id == cons_id)
        ).one()
    return tuple(int(v) if isinstance(v, int) else v for v in row)


class PlanTrial(Trial):
    """``plan_reminders`` vs the raw ``INSERT … SELECT`` of the same rows."""

    unit = "citizens"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.engine = bench.engine
        self.open = bench.data.open
        self.n = self.open.voted + self.open.not_voted
        self.facts.update(already_voted=self.open.voted, rows=self.open.not_voted)
        self.ours_rows: tuple[Any, ...] = ()

    def ours(self) -> float:
        clear(self.engine, self.open.id)

        def run() -> Any:
            with session_scope(self.engine) as s:
                return plan_reminders(s, consultation_id=self.open.id, round=1, actor=SYSTEM)

        seconds, plan = timed(run)
        self.check(plan.created == self.open.not_voted, f"plan created {plan.created}")
        self.ours_rows = signature(self.engine, self.open.id)
        return seconds

    def baseline(self) -> float:
        clear(self.engine, self.open.id)

        def run() -> int:
            with session_scope(self.engine) as s:
                return raw_reminders(s, self.open.id)

        seconds, written = timed(run)
        self.check(written == self.open.not_voted, f"raw insert wrote {written}")
        self.check(
            signature(self.engine, self.open.id) == self.ours_rows,
            "plan and raw insert wrote different rows",
        )
        return seconds


class _Timed:
    """Wraps a sender and adds up the seconds spent inside it (MIME building, file writes)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds = inner, 0.0

    def send_batch(self, messages: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.inner.send_batch(messages)
        finally:
            self.seconds += time.perf_counter() - t

    def send(self, message: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.inner.send(message)
        finally:
            self.seconds += time.perf_counter() - t


class DeliverTrial(Trial):
    """``deliver_pending`` with the file backends vs a raw write of the same files."""

    unit = "messages"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.bench = bench
        self.engine = bench.engine
        self.open = bench.data.open
        self.n = min(bench.scale.messages, self.open.not_voted)
        st = get_settings()
        self.settings = st.model_copy(
            update={
                "email": st.email.model_copy(update={"backend": "file"}),
                "sms": st.sms.model_copy(update={"backend": "file"}),
            }
        )
        self.files: list[tuple[str, bytes]] = []
        self.facts["in_backends_s"] = []

    def ours(self) -> float:
        clear(self.engine, self.open.id)
        with session_scope(self.engine) as s:
            raw_reminders(s, self.open.id, limit=self.n)
        folder = self.bench.folder("outbox")
        email, sms = make_senders(self.settings, outbox_dir=str(folder))
        email, sms = _Timed(email), _Timed(sms)
        seconds, report = timed(
            lambda: deliver_pending(
                self.engine, email_sender=email, sms_sender=sms, settings=self.settings
            )
        )
        self.check(report.total("sent") == self.n, f"delivered {report.total('sent')}")
        self.facts["in_backends_s"].append(round(email.seconds + sms.seconds, 3))
        self.files = [(p.name, p.read_bytes()) for p in folder.iterdir()]
        self.check(len(self.files) == self.n, f"{len(self.files)} files for {self.n} messages")
        shutil.rmtree(folder)
        return seconds

    def baseline(self) -> float:
        folder = self.bench.folder("raw")

        def run() -> None:
            for name, data in self.files:
                (folder / name).write_bytes(data)

        seconds, _ = timed(run)
        shutil.rmtree(folder)
        return seconds


PLAN = Case(
    name="plan_reminders",
    what="notifications.planning.plan_reminders round 1 for every citizen "
    "(30 % already voted; commit included)",
    against="one INSERT … SELECT of the same outbox rows",
    target=Target("≤ 2× the raw INSERT … SELECT", max_ratio=2.0),
    make=PlanTrial,
)

DELIVER = Case(
    name="deliver",
    what="notifications.delivery.deliver_pending with the file backends (make_senders)",
    against="Path.write_bytes of the same files",
    target=None,
    make=DeliverTrial,
)
