"""Time the outbox: plan invitations for N citizens, then deliver them with the file backends.

Run: ``.venv/bin/python bench/bench_outbox.py`` (SQLite) or ``… --db postgresql``
(``CIVICFLOW_TEST_PG_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``;
each run uses a new schema that is dropped afterwards). ``--n`` (default 100000), ``--runs``
(default 3).

Each run starts from a new, migrated database holding N citizens (80 % preferring email,
20 % SMS with a phone, 10 % Persian), each with consent for invitations on their preferred
channel, and one open consultation without quiet hours, so every citizen gets one message.
Four timings, wall clock (``time.perf_counter``), commit included:

* ``plan``: :func:`notifications.outbox.plan_invitations` (SQL facts per page + routing in
  Python + multi-row ``INSERT … ON CONFLICT DO NOTHING``);
* ``raw insert``: one ``INSERT … SELECT`` writing the same N rows (same keys, channels,
  payload) with no routing — the floor for writing them;
* ``deliver``: :func:`notifications.delivery.deliver_pending` with the file backends
  (claim, re-check, render 4 templates, write .eml / .sms.json, record, ledger entry);
* ``in backends``: the part of ``deliver`` spent inside the file senders (building MIME
  messages, writing files), measured by a timing wrapper;
* ``raw write``: writing the very bytes of those N files to a new folder with
  ``Path.write_bytes`` — the floor for the file backend.

Printed: the median of the runs for each, as messages per second, and the ratios
plan / raw insert and deliver / raw write (how many times slower than the floor).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import JSON, String, and_, cast, delete, insert, literal, select, text
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.db import make_engine, session_scope
from models import Citizen, Consent, OutboxMessage
from models.base import UTCDateTime
from models.migrate import upgrade
from notifications.backends import make_email_sender, make_sms_sender
from notifications.delivery import deliver_pending
from notifications.outbox import consultation_context, plan_invitations
from participation.consultations import (
    add_proposal,
    create_consultation,
    get_consultation,
    transition,
)

PG_URL = os.environ.get(
    "CIVICFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SYSTEM = Actor(kind="system", name="bench")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
CHUNK = 10_000


def new_database(kind: str, folder: Path) -> tuple[str, str | None]:
    """Return a URL of a new empty database (SQLite file or PostgreSQL schema)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}", None
    schema = f"cf_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str | None) -> None:
    if schema is None:
        return
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def seed(session: Session, n: int) -> int:
    """N citizens with consent on their preferred channel; one open consultation."""
    out = create_consultation(
        session,
        actor=SYSTEM,
        data={
            "slug": "bench-consultation",
            "title": "Riverside park renewal",
            "method": "approval",
            "opens_at": NOW - timedelta(hours=1),
            "closes_at": NOW + timedelta(days=30),
            "reminder_policy": {"quiet_start": 0, "quiet_end": 0},
        },
    )
    add_proposal(session, consultation_id=out.id, data={"title": "Benches"}, actor=SYSTEM)
    transition(session, consultation_id=out.id, to="published", actor=SYSTEM)
    transition(session, consultation_id=out.id, to="open", actor=SYSTEM)
    for start in range(0, n, CHUNK):
        people = []
        for i in range(start, min(n, start + CHUNK)):
            sms = i % 5 == 4
            people.append(
                {
                    "public_id": secrets.token_hex(8),
                    "display_name": f"Resident {i}",
                    "email": None if sms else f"resident{i:07d}@example.invalid",
                    "phone": f"+4479{i:08d}" if sms else None,
                    "locale": "fa" if i % 10 == 3 else "en",
                    "time_zone": "UTC",
                    "preferred_channel": "sms" if sms else "email",
                    "created_at": NOW,
                }
            )
        session.execute(insert(Citizen), people)
    session.execute(
        insert(Consent).from_select(
            ["citizen_id", "channel", "purpose", "opted_in", "changed_at", "source"],
            select(
                Citizen.id,
                Citizen.preferred_channel,
                literal("invitations"),
                literal(True),
                literal(NOW, UTCDateTime),
                literal("import"),
            ),
        )
    )
    return out.id


def raw_insert(session: Session, cons_id: int) -> int:
    """The same rows as the plan, written by one INSERT … SELECT without routing."""
    c = get_consultation(session, ref=cons_id)
    key = (
        literal(f"invitation:{cons_id}:0:")
        + cast(Citizen.id, String)
        + literal(":")
        + Citizen.preferred_channel
    )
    cols = [
        "idempotency_key",
        "citizen_id",
        "consultation_id",
        "kind",
        "purpose",
        "channel",
        "template",
        "locale",
        "payload",
        "status",
        "attempts",
        "not_before",
        "created_at",
    ]
    body = select(
        key,
        Citizen.id,
        literal(cons_id),
        literal("invitation"),
        literal("invitations"),
        Citizen.preferred_channel,
        literal("invitation"),
        Citizen.locale,
        literal(consultation_context(c), JSON),
        literal("pending"),
        literal(0),
        literal(NOW, UTCDateTime),
        literal(NOW, UTCDateTime),
    ).join(
        Consent,
        and_(
            Consent.citizen_id == Citizen.id,
            Consent.channel == Citizen.preferred_channel,
            Consent.purpose == "invitations",
            Consent.opted_in.is_(True),
        ),
    )
    result = session.execute(insert(OutboxMessage).from_select(cols, body))
    return int(getattr(result, "rowcount", 0) or 0)


class Timed:
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


def one_run(kind: str, n: int, folder: Path) -> dict[str, float]:
    url, schema = new_database(kind, folder)
    try:
        upgrade(url)
        engine = make_engine(url)
        clock.set_clock(clock.FrozenClock(NOW))
        with session_scope(engine) as s:
            cons = seed(s, n)

        t = time.perf_counter()
        with session_scope(engine) as s:
            written = raw_insert(s, cons)
        t_raw = time.perf_counter() - t
        assert written == n, written
        with session_scope(engine) as s:
            s.execute(delete(OutboxMessage))

        t = time.perf_counter()
        with session_scope(engine) as s:
            plan = plan_invitations(s, consultation_id=cons, actor=SYSTEM)
        t_plan = time.perf_counter() - t
        assert plan.created == n, plan

        out = folder / f"outbox-{uuid.uuid4().hex[:6]}"
        email = Timed(make_email_sender("file", outbox_dir=out, from_email="council@city.test"))
        sms = Timed(make_sms_sender("file", outbox_dir=out))
        t = time.perf_counter()
        report = deliver_pending(engine, email_sender=email, sms_sender=sms)
        t_deliver = time.perf_counter() - t
        assert report.total("sent") == n, report

        files = [(p.name, p.read_bytes()) for p in out.iterdir()]
        copy = folder / f"raw-{uuid.uuid4().hex[:6]}"
        copy.mkdir()
        t = time.perf_counter()
        for name, data in files:
            (copy / name).write_bytes(data)
        t_write = time.perf_counter() - t
        shutil.rmtree(out)
        shutil.rmtree(copy)
        engine.dispose()
        return {
            "plan": t_plan,
            "raw insert": t_raw,
            "deliver": t_deliver,
            "in backends": email.seconds + sms.seconds,
            "raw write": t_write,
        }
    finally:
        clock.set_clock(None)
        drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        for i in range(args.runs):
            runs.append(one_run(args.db, args.n, Path(tmp)))
            print(
                f"run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()),
                flush=True,
            )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"\n{args.db}, {args.n:,} messages, median of {args.runs} run(s):")
    for k, v in med.items():
        print(f"  {k:<11} {v:8.2f} s  {args.n / v:>10,.0f} messages/s")
    print(f"  plan / raw INSERT … SELECT   = {med['plan'] / med['raw insert']:.1f}x")
    print(f"  deliver / raw file write     = {med['deliver'] / med['raw write']:.1f}x")
    outside = med["deliver"] - med["in backends"]
    print(
        f"  deliver outside the backends = {outside:.2f} s ({args.n / outside:,.0f} messages/s);"
        f" the file backends take {med['in backends'] / med['deliver']:.0%} of deliver"
    )


if __name__ == "__main__":
    main()
