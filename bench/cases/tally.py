"""Tally the closed consultation's approval ballots against a raw ``GROUP BY``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from bench.harness import SYSTEM, Bench, Case, Target, Trial, timed
from core.db import session_scope
from models import Proposal
from participation.tallying import tally

RAW = text(
    "SELECT proposal_id, count(*) FROM ballot_choice WHERE consultation_id = :c "
    "GROUP BY proposal_id"
)


class TallyTrial(Trial):
    """``tally`` (counts, ballot total, result JSON, status, audit event, commit) vs the
    ``GROUP BY`` that counts the same choices."""

    unit = "ballots"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.engine = bench.engine
        self.closed = bench.data.closed
        self.n = self.closed.ballots
        self.facts.update(choices=self.closed.choices, proposals=len(self.closed.proposal_ids))
        with session_scope(self.engine) as s:
            self.refs = dict(
                s.execute(
                    select(Proposal.id, Proposal.external_ref).where(
                        Proposal.consultation_id == self.closed.id
                    )
                ).all()
            )
        self.counts: dict[str, Any] = {}

    def ours(self) -> float:
        def run() -> dict[str, Any]:
            with session_scope(self.engine) as s:
                out = tally(s, consultation_id=self.closed.id, actor=SYSTEM)
            return dict(out.result["counts"])

        seconds, self.counts = timed(run)
        return seconds

    def baseline(self) -> float:
        def run() -> list[Any]:
            with self.engine.connect() as conn:
                return list(conn.execute(RAW, {"c": self.closed.id}).all())

        seconds, rows = timed(run)
        raw = {self.refs[pid]: int(n) for pid, n in rows}
        ours = {ref: n for ref, n in self.counts.items() if n}
        self.check(raw == ours, "tally counts differ from GROUP BY")
        return seconds


CASE = Case(
    name="tally",
    what="participation.tallying.tally on the closed approval consultation (commit included)",
    against="SELECT proposal_id, count(*) FROM ballot_choice … GROUP BY proposal_id",
    target=Target("≤ 1.2× the raw GROUP BY", max_ratio=1.2),
    make=TallyTrial,
    warmup=True,
)
