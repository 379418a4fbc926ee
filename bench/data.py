"""Synthetic data for the benchmark, generated in the run's database at the chosen scale.

Consultations are created and moved through their states by the services; the bulk rows
(citizens, ballots, choices, comments, survey answers) go in with
:func:`participation.importing_base.insert_rows` (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) with explicit ids, in chunks, so memory stays flat at 1M ballots. Every part is
made on first use and only once per run; ``Dataset.seconds`` keeps how long each took.
Random choices come from fixed seeds, so two runs at one scale hold the same data.

Parts:

* ``citizens``: N citizens (80 % prefer email, 20 % SMS with a phone, 10 % Persian) in 12
  districts, each with consent for reminders on their preferred channel; a population table.
* ``closed``: a closed approval consultation (40 proposals, half answered) with one ballot
  per citizen (1-5 choices, 3 on average, popular proposals more often), comments (30 %
  replies, 3 % hidden) and a satisfaction pulse with its answers.
* ``open``: an open consultation without quiet hours in which ``voted_share`` of the citizens
  already voted (the reminder audience is the rest).
* ``page``: an open participatory budget with many proposals and comments (a fifth of the
  top-level comments on the first proposal), looked at by a citizen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import literal, select, text

from core import clock
from core.db import session_scope
from models import (
    Citizen,
    Consent,
    Population,
    Proposal,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from models.base import Base
from participation.consultations import create_consultation, transition
from surveys.service import create_pulse

if TYPE_CHECKING:
    from bench.harness import Bench

from bench.harness import NOW, SYSTEM
from bench.rows import (
    AGE_BANDS,
    CHUNK,
    DISTRICTS,
    SEQUENCED,
    WORDS,
    chunked,
    citizen_row,
    insert,
    insert_ballots,
    insert_comments,
    next_id,
    sentence,
    table_of,
)


@dataclass(frozen=True)
class Closed:
    """The closed consultation: its id, slug, proposal ids and ballot count."""

    id: int
    slug: str
    proposal_ids: tuple[int, ...]
    ballots: int
    choices: int
    comments: int
    survey_answers: int


@dataclass(frozen=True)
class Open:
    """The open consultation of the reminder and delivery cases."""

    id: int
    slug: str
    voted: int
    not_voted: int


@dataclass(frozen=True)
class Page:
    """The consultation a citizen looks at: its first proposal carries the most comments."""

    id: int
    slug: str
    proposals: int
    comments: int
    first_proposal_id: int
    citizen_id: int


class Dataset:
    """The run's synthetic data, made part by part on first use."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.scale = bench.scale
        self.seconds: dict[str, float] = {}

    def _make(self, part: str, build: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            out = build()
        finally:
            clock.set_clock(clock.FrozenClock(NOW))
        if self.bench.db == "postgresql":
            with self.bench.engine.begin() as conn:
                for t in SEQUENCED:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {t}), false)"
                        )
                    )
                # what autovacuum would do shortly after a bulk load (this schema's tables
                # only: a bare ANALYZE would visit every schema of the database)
                for table in Base.metadata.sorted_tables:
                    conn.execute(text(f'ANALYZE "{table.name}"'))
        self.seconds[part] = round(time.perf_counter() - start, 2)
        print(f"  data: {part} in {self.seconds[part]:.1f} s", flush=True)
        return out

    # --- citizens ---------------------------------------------------------------------------

    @cached_property
    def citizens(self) -> int:
        """Number of citizens (ids 1..N)."""
        return int(self._make("citizens", self._citizens))

    def _citizens(self) -> int:
        n, rng, at = self.scale.citizens, random.Random(1), NOW - timedelta(days=400)
        engine = self.bench.engine
        for part in chunked(n):
            with session_scope(engine) as s:
                insert(s, Citizen, [citizen_row(i + 1, rng, at) for i in part])
        with session_scope(engine) as s:
            s.execute(
                table_of(Consent)
                .insert()
                .from_select(
                    ["citizen_id", "channel", "purpose", "opted_in", "changed_at", "source"],
                    select(
                        Citizen.id,
                        Citizen.preferred_channel,
                        literal("reminders"),
                        literal(True),
                        Citizen.created_at,
                        literal("import"),
                    ),
                )
            )
            people = n / 0.8
            cells = [(d, b, g) for d in DISTRICTS for b in AGE_BANDS for g in ("f", "m")]
            insert(
                s,
                Population,
                [
                    {
                        "district": d,
                        "age_band": f"{lo}-{hi}" if hi else f"{lo}+",
                        "gender": g,
                        "count": int(people / len(cells) * (0.7 + 0.6 * (k % 5) / 4)),
                        "source": "synthetic",
                    }
                    for k, (d, (lo, hi), g) in enumerate(cells)
                ],
            )
        return n

    # --- consultations ----------------------------------------------------------------------

    def _consultation(
        self,
        slug: str,
        title: str,
        *,
        opens_at: datetime,
        closes_at: datetime,
        proposals: int,
        answered: bool,
        policy: dict[str, Any] | None = None,
        budget: int | None = None,
    ) -> tuple[int, list[int]]:
        """Create a consultation through the services, its proposals in bulk, and open it."""
        rng = random.Random(slug)
        clock.set_clock(clock.FrozenClock(opens_at - timedelta(days=7)))
        with session_scope(self.bench.engine) as s:
            cid = create_consultation(
                s,
                actor=SYSTEM,
                data={
                    "slug": slug,
                    "title": title,
                    "method": "budget" if budget else "approval",
                    "method_params": {"budget": budget, "currency": "EUR"} if budget else {},
                    "body": sentence(rng, 60),
                    "opens_at": opens_at,
                    "closes_at": closes_at,
                    "time_zone": "Europe/Warsaw",
                    "reminder_policy": policy or {},
                },
            ).id
            rows = []
            for k in range(proposals):
                said = answered and k % 2 == 0
                rows.append(
                    {
                        "consultation_id": cid,
                        "external_ref": str(k + 1),
                        "title": f"{k + 1}. {sentence(rng, 5)}"[:500],
                        "body": sentence(rng, 60),
                        "cost": rng.randrange(1_000, 400_000) if budget else None,
                        "category": rng.choice(WORDS),
                        "status": "published",
                        "answer": sentence(rng, 30) if said else None,
                        "answered_at": closes_at + timedelta(days=3 + k % 20) if said else None,
                        "answered_by": None,
                        "created_at": clock.now(),
                    }
                )
            insert(s, Proposal, rows)
            transition(s, consultation_id=cid, to="published", actor=SYSTEM)
            pids = list(
                s.execute(
                    select(Proposal.id).where(Proposal.consultation_id == cid).order_by(Proposal.id)
                ).scalars()
            )
        clock.set_clock(clock.FrozenClock(opens_at))
        with session_scope(self.bench.engine) as s:
            transition(s, consultation_id=cid, to="open", actor=SYSTEM)
        return cid, pids

    @cached_property
    def closed(self) -> Closed:
        """The closed consultation with ballots, comments and a pulse (tally, report)."""
        return self._make("closed consultation", self._closed)  # type: ignore[no-any-return]

    def _closed(self) -> Closed:
        sc, n_citizens = self.scale, self.citizens
        opens_at, closes_at = NOW - timedelta(days=60), NOW - timedelta(days=30)
        cid, pids = self._consultation(
            "bench-closed",
            "Neighbourhood fund 2026",
            opens_at=opens_at,
            closes_at=closes_at,
            proposals=sc.proposals,
            answered=True,
        )
        rng = np.random.default_rng(4)
        voters = rng.permutation(np.arange(1, n_citizens + 1))[: sc.ballots]
        choices = insert_ballots(self.bench.engine, cid, voters, opens_at, 29 * 24, pids=pids)
        insert_comments(self.bench.engine, cid, pids, sc.comments, self.citizens, opens_at, 29 * 24)
        clock.set_clock(clock.FrozenClock(closes_at))
        with session_scope(self.bench.engine) as s:
            transition(s, consultation_id=cid, to="closed", actor=SYSTEM)
            survey = create_pulse(s, consultation_id=cid, actor=SYSTEM).survey_id
            questions = s.execute(
                select(
                    SurveyQuestion.id,
                    SurveyQuestion.instrument,
                    SurveyQuestion.scale_min,
                    SurveyQuestion.scale_max,
                )
                .where(SurveyQuestion.survey_id == survey)
                .order_by(SurveyQuestion.position)
            ).all()
            first = next_id(s, SurveyResponse)
        responses = sc.survey_answers // len(questions)
        r = random.Random(5)
        for part in chunked(responses, CHUNK // len(questions)):
            resp, answers = [], []
            for k in part:
                voter = int(voters[k])
                rid = first + k
                resp.append(
                    {
                        "id": rid,
                        "survey_id": survey,
                        "citizen_id": voter,
                        "channel": r.choice(("web", "web", "sms", "email")),
                        "district": DISTRICTS[voter % len(DISTRICTS)],
                        "external_ref": None,
                        "submitted_at": closes_at + timedelta(hours=r.uniform(1, 240)),
                    }
                )
                for qid, _inst, lo, hi in questions:
                    value = None if lo is None or hi is None else r.randint(int(lo), int(hi))
                    answers.append(
                        {
                            "response_id": rid,
                            "question_id": qid,
                            "value": None if value is None else float(value),
                            "text": sentence(r, 8) if value is None else None,
                        }
                    )
            with session_scope(self.bench.engine) as s:
                insert(s, SurveyResponse, resp)
                insert(s, SurveyAnswer, answers)
        return Closed(
            cid,
            "bench-closed",
            tuple(pids),
            len(voters),
            choices,
            sc.comments,
            responses * len(questions),
        )

    @cached_property
    def open(self) -> Open:
        """The open consultation in which ``voted_share`` of the citizens already voted."""
        return self._make("open consultation", self._open)  # type: ignore[no-any-return]

    def _open(self) -> Open:
        n = self.citizens
        opens_at = NOW - timedelta(days=7)
        cid, _ = self._consultation(
            "bench-open",
            "Riverside park renewal",
            opens_at=opens_at,
            closes_at=NOW + timedelta(days=23),
            proposals=10,
            answered=False,
            policy={"quiet_start": 0, "quiet_end": 0, "rounds_hours": [24, 96, 168]},
        )
        voted = int(n * self.scale.voted_share)
        voters = np.random.default_rng(6).permutation(np.arange(1, n + 1))[:voted]
        insert_ballots(self.bench.engine, cid, voters, opens_at, 7 * 24 - 1)
        return Open(cid, "bench-open", voted, n - voted)

    @cached_property
    def page(self) -> Page:
        """The open budget with many proposals and comments (the citizen page)."""
        return self._make("page consultation", self._page)  # type: ignore[no-any-return]

    def _page(self) -> Page:
        sc = self.scale
        _ = self.citizens
        opens_at = NOW - timedelta(days=3)
        cid, pids = self._consultation(
            "bench-page",
            "Green city ideas",
            opens_at=opens_at,
            closes_at=NOW + timedelta(days=20),
            proposals=sc.page_proposals,
            answered=False,
            budget=5_000_000,
        )
        insert_comments(
            self.bench.engine,
            cid,
            pids,
            sc.page_comments,
            self.citizens,
            opens_at,
            3 * 24 - 1,
            first_share=0.2,
            seed=7,
        )
        return Page(cid, "bench-page", len(pids), sc.page_comments, pids[0], 1)
