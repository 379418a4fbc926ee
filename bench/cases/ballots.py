"""Cast ballots concurrently through the service layer against raw single-row inserts.

Both sides run ``writers`` threads (8), each with its own connection from the engine's pool,
started together on a barrier; the time is from the start to the last commit. Every
repeat uses a new open approval consultation with 10 proposals.

* CivicFlow: each thread casts its ballots with
  :func:`participation.ballots.cast_ballot` (validation, eligibility, ballot + 3 choices,
  contact-ledger row, audit-chain event), one transaction per ballot. One ballot in ten is
  for a citizen another thread also casts for (a changed mind on the web), so two threads
  race on the same citizen: afterwards each citizen must have exactly one ballot with
  exactly 3 choices (0 duplicates, no mixed choices).
* Baseline: each thread inserts its ballots as single ``ballot`` rows, one ``INSERT`` and
  one commit each, for distinct citizens.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, insert, select, text

from bench.harness import NOW, SYSTEM, Bench, Case, Target, Trial
from bench.rows import table_of
from core.db import session_scope
from models import Ballot, BallotChoice
from participation.audit import seal_chain
from participation.auth import citizen_actor
from participation.ballots import cast_ballot, new_receipt_code
from participation.consultations import add_proposal, create_consultation, transition


def _race(writers: int, work: Callable[[int], None]) -> tuple[float, list[BaseException]]:
    """Run ``work(w)`` in ``writers`` threads started together; return (seconds, errors)."""
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def body(w: int) -> None:
        barrier.wait()
        try:
            work(w)
        except BaseException as exc:  # reported by the case, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, errors


class CastTrial(Trial):
    """8 writers casting through ``cast_ballot`` vs 8 writers inserting ballot rows."""

    unit = "ballots"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.engine = bench.engine
        self.writers = bench.scale.writers
        self.per_writer = bench.scale.ballots_per_writer
        self.n = self.writers * self.per_writer
        citizens = bench.data.citizens
        if citizens < self.n:
            raise ValueError(f"{self.n} ballots need as many citizens (have {citizens})")
        self.rounds = 0
        self.facts.update(writers=self.writers, duplicates=[], errors=[], throughput=[])

    def _consultation(self) -> tuple[int, list[int]]:
        self.rounds += 1
        with session_scope(self.engine) as s:
            cid = create_consultation(
                s,
                actor=SYSTEM,
                data={
                    "slug": f"bench-cast-{self.rounds}",
                    "title": f"Cast round {self.rounds}",
                    "method": "approval",
                    "opens_at": NOW - timedelta(hours=1),
                    "closes_at": NOW + timedelta(days=7),
                },
            ).id
            pids = [
                add_proposal(s, consultation_id=cid, data={"title": f"Project {k}"}, actor=SYSTEM)
                for k in range(10)
            ]
            transition(s, consultation_id=cid, to="published", actor=SYSTEM)
            transition(s, consultation_id=cid, to="open", actor=SYSTEM)
        return cid, pids

    def _citizen(self, w: int, j: int) -> int:
        """Citizen of writer ``w``'s ``j``-th ballot; every tenth is the one the next writer
        casts for as its ``j + 1``-th, so two threads race on that citizen."""
        if j % 10 == 0 and j + 1 < self.per_writer:
            return (w + 1) % self.writers * self.per_writer + j + 2
        return w * self.per_writer + j + 1

    def ours(self) -> float:
        cid, pids = self._consultation()
        rng = random.Random(self.rounds)
        plans = [
            [
                (self._citizen(w, j), dict.fromkeys(rng.sample(pids, 3), 1))
                for j in range(self.per_writer)
            ]
            for w in range(self.writers)
        ]

        def work(w: int) -> None:
            for citizen, choices in plans[w]:
                with session_scope(self.engine) as s:
                    cast_ballot(
                        s,
                        consultation_id=cid,
                        citizen_id=citizen,
                        choices=choices,
                        channel="web",
                        actor=citizen_actor(citizen),
                    )

        seconds, errors = _race(self.writers, work)
        expected = len({c for plan in plans for c, _ in plan})
        with session_scope(self.engine) as s:
            ballots, people = s.execute(
                select(func.count(), func.count(func.distinct(Ballot.citizen_id))).where(
                    Ballot.consultation_id == cid
                )
            ).one()
            per_ballot = (
                select(BallotChoice.ballot_id)
                .where(BallotChoice.consultation_id == cid)
                .group_by(BallotChoice.ballot_id)
                .having(func.count() != 3)
                .subquery()
            )
            mixed = s.execute(select(func.count()).select_from(per_ballot)).scalar_one()
        duplicates = int(ballots) - int(people)
        self.facts["duplicates"].append(duplicates)
        self.facts["errors"].append(len(errors))
        self.facts["throughput"].append(round(self.n / seconds, 1))
        # sealing is not part of casting (it runs after the commits, once a minute in the
        # deadlines flow); timed here to show one sealer keeps up with the writers
        with session_scope(self.engine) as s:
            started = time.perf_counter()
            n_sealed = seal_chain(s)
        self.facts.setdefault("sealed_per_s", []).append(
            round(n_sealed / (time.perf_counter() - started))
        )
        self.check(not errors, f"cast_ballot raised: {errors[:1]!r}")
        self.check(duplicates == 0 and int(people) == expected, "duplicate or missing ballots")
        self.check(mixed == 0, "a ballot with other than 3 choices")
        return seconds

    def baseline(self) -> float:
        cid, _ = self._consultation()
        table = table_of(Ballot)

        def work(w: int) -> None:
            for j in range(self.per_writer):
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(table).values(
                            consultation_id=cid,
                            citizen_id=w * self.per_writer + j + 1,
                            channel="web",
                            cast_at=NOW,
                            receipt_code=new_receipt_code(),
                            revision=1,
                        )
                    )

        seconds, errors = _race(self.writers, work)
        self.check(not errors, f"raw insert raised: {errors[:1]!r}")
        self.facts.setdefault("baseline_throughput", []).append(round(self.n / seconds, 1))
        self._same_rows_raw()
        return seconds

    def _same_rows_raw(self) -> None:
        """Diagnostic (not the baseline): the rows one ``cast_ballot`` writes — ballot, 3
        choices, ledger entry and an unsealed audit event — as plain SQL statements in one
        transaction per ballot, same writers. The gap between this and ``cast_ballot`` is
        the service's Python cost; the gap between this and the single-row baseline is the
        database work the service cannot skip."""
        cid, pids = self._consultation()
        statements = [
            text(
                "INSERT INTO ballot (consultation_id, citizen_id, channel, cast_at, "
                "receipt_code, revision) VALUES (:c, :z, 'web', :t, :r, 1) RETURNING id"
            ),
            text(
                "INSERT INTO ballot_choice (ballot_id, proposal_id, consultation_id, value) "
                "VALUES (:b, :p, :c, 1)"
            ),
            text(
                "INSERT INTO contact (citizen_id, consultation_id, channel, direction, kind, "
                "ref_table, ref_id, at) VALUES (:z, :c, 'web', 'inbound', 'ballot', 'ballot', "
                ":b, :t)"
            ),
            text(
                "INSERT INTO audit_event (at, actor, action, subject, payload_digest) "
                "VALUES (:t, 'bench', 'ballot.cast', 'x', :d)"
            ),
        ]
        at = NOW if self.engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)

        def work(w: int) -> None:
            ins, choice, contact, event = statements
            for j in range(self.per_writer):
                z = w * self.per_writer + j + 1
                with self.engine.begin() as conn:
                    b = conn.execute(
                        ins, {"c": cid, "z": z, "t": at, "r": new_receipt_code()}
                    ).scalar_one()
                    conn.execute(choice, [{"b": b, "p": p, "c": cid} for p in pids[:3]])
                    conn.execute(contact, {"z": z, "c": cid, "b": b, "t": at})
                    digest = hashlib.sha256(f"{z}".encode()).hexdigest()
                    conn.execute(event, {"t": at, "d": digest})

        seconds, errors = _race(self.writers, work)
        self.check(not errors, f"raw same-rows transaction raised: {errors[:1]!r}")
        self.facts.setdefault("same_rows_raw_s", []).append(round(seconds, 4))


CASE = Case(
    name="cast",
    what="participation.ballots.cast_ballot, 8 concurrent writers, one commit per ballot, "
    "10 % racing on the same citizen",
    against="8 writers, single-row INSERT INTO ballot + commit",
    target=Target("≥ 0.5× the raw throughput (time ratio ≤ 2), 0 duplicates", max_ratio=2.0),
    make=CastTrial,
)
