"""A small handmade consultation whose report figures are worked out by hand in
``tests/reports/test_metrics.py``. Built only through the public services (and
tests/factories.py); the population table is loaded from a CSV with the report service.

Eligible: districts north and south, aged 16 or more on 2026-03-02 (birth year ≤ 2010).

=========  =====  =====================  ======================================
district   who    ballots (channel)      demographics of the voters
=========  =====  =====================  ======================================
north      10     7 (web 6, sms 1)       4 female born 1995, 3 male born 1970
south       6     3 (letter, by staff)   3 female born 1960
east        3     — (not eligible)
north       1     — (born 2011: too young)
=========  =====  =====================  ======================================

Proposals: A (title with a ``<script>`` tag), B, C. Approval ballots: A on 8, B on 5,
C on 2. Comments (12): 6 for, 2 against, 3 neutral visible; 1 "for" hidden by a moderator.
After the close: tallied (no stored result), A answered 2 days and B 5 days after the
close, C never. Pulse: 6 answers (see ``PULSE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from models import Consultation
from participation.ballots import cast_ballot
from participation.comments import moderate_comment, post_comment
from participation.consultations import answer_proposal, transition
from reports.service import import_population_csv
from surveys.service import create_pulse, record_response
from tests import factories as f

SCRIPT_TITLE = "Benches <script>alert('x')</script> & seats"
COUNCIL = Actor(kind="staff", id=None, role="council", name="council")
POPULATION_CSV = """district,age_band,gender,count
north,16-39,female,100
north,16-39,male,100
north,40+,female,100
north,40+,male,100
south,16-39,female,50
south,16-39,male,50
south,40+,female,50
south,40+,male,50
"""
# (csat, nps, fairness, outcome); csat None = "don't know"
PULSE = [(5, 10, 5, 4), (4, 9, 4, 4), (4, 9, 4, 3), (3, 7, 3, 3), (2, 5, 2, 1), (None, 3, 1, 1)]


@dataclass(frozen=True)
class Handmade:
    consultation_id: int
    slug: str
    proposals: list[int]
    pulse_id: int


def build(session: Session, tmp: Path) -> Handmade:
    """Create the consultation of the module docstring; leaves the clock frozen."""
    cid, pids = f.consultation(
        session,
        proposals=[{"title": SCRIPT_TITLE}, {"title": "Trees"}, {"title": "Lights"}],
        eligibility={"districts": ["north", "south"], "minimum_age": 16},
    )
    a, b, c = pids
    north_f = [f.citizen(session, district="north", birth_year=1995, gender="female")
               for _ in range(4)]  # fmt: skip
    north_m = [f.citizen(session, district="north", birth_year=1970, gender="male")
               for _ in range(3)]  # fmt: skip
    north_rest = [f.citizen(session, district="north", birth_year=1990, gender="male")
                  for _ in range(3)]  # fmt: skip
    south_f = [f.citizen(session, district="south", birth_year=1960, gender="female")
               for _ in range(3)]  # fmt: skip
    south_rest = [f.citizen(session, district="south", birth_year=1990, gender="male")
                  for _ in range(3)]  # fmt: skip
    for _ in range(3):
        f.citizen(session, district="east", birth_year=1980)
    f.citizen(session, district="north", birth_year=2011)

    north = north_f + north_m
    # A on 8 ballots, B on 5, C on 2
    choices = [{a, b}, {a, b}, {a, b}, {a, c}, {a, c}, {a}, {b}, {a}, {a}, {b}]
    voters = [*north, *south_f]
    for i, (voter, chosen) in enumerate(zip(voters, choices, strict=True)):
        if i < 7:
            cast_ballot(
                session, consultation_id=cid, citizen_id=voter,
                choices=dict.fromkeys(chosen, 1), channel="sms" if i == 6 else "web",
                actor=Actor(kind="citizen", id=voter),
            )  # fmt: skip
        else:
            cast_ballot(
                session, consultation_id=cid, citizen_id=voter,
                choices=dict.fromkeys(chosen, 1), channel="letter", actor=f.ORGANIZER,
            )  # fmt: skip
    stances = ["for"] * 6 + ["against"] * 2 + ["neutral"] * 3
    for i, stance in enumerate(stances):
        who = (north + north_rest + south_f)[i]
        post_comment(
            session, proposal_id=a if i % 2 else b, citizen_id=who,
            body=f"<b>comment {i}</b> <script>alert({i})</script>", stance=stance,
            actor=Actor(kind="citizen", id=who),
        )  # fmt: skip
    hidden = post_comment(
        session, proposal_id=a, citizen_id=south_rest[0], body="spam", stance="for",
        actor=Actor(kind="citizen", id=south_rest[0]),
    )  # fmt: skip
    moderate_comment(session, comment_id=hidden.id, hide=True, reason="spam", actor=f.ORGANIZER)

    close = f.T0 + timedelta(days=14)
    transition(session, consultation_id=cid, to="closed", actor=f.SYSTEM, at=close)
    transition(session, consultation_id=cid, to="tallied", actor=f.SYSTEM, at=close)
    for pid, days in ((a, 2), (b, 5)):
        clock.set_clock(clock.FrozenClock(close + timedelta(days=days)))
        answer_proposal(session, proposal_id=pid, decision="accepted", answer="Yes.",
                        actor=COUNCIL)  # fmt: skip

    csv_path = tmp / "population.csv"
    csv_path.write_text(POPULATION_CSV, encoding="utf-8")
    import_population_csv(session, csv_path)

    pulse = create_pulse(session, consultation_id=cid, actor=f.SYSTEM)
    clock.set_clock(clock.FrozenClock(close + timedelta(days=6)))
    for voter, (csat, nps, fair, outcome) in zip(voters, PULSE, strict=False):
        record_response(
            session, survey_id=pulse.survey_id, citizen_id=voter,
            answers={"csat": csat, "nps": nps, "driver_fairness": fair, "driver_outcome": outcome},
            channel="web", actor=Actor(kind="citizen", id=voter),
        )  # fmt: skip
    row = session.get(Consultation, cid)
    assert row is not None
    return Handmade(cid, row.slug, pids, pulse.survey_id)
