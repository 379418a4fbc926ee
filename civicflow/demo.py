"""``civicflow demo``: a small consultation on a fresh SQLite database, end to end through the
services (register citizens, create, publish, open, vote, close), then printed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core import clock
from core.actor import Actor
from core.db import make_engine, session_scope
from models.migrate import upgrade
from participation.ballots import cast_ballot
from participation.citizens import register_citizen
from participation.consultations import (
    add_proposal,
    create_consultation,
    describe,
    get_consultation,
    transition,
)
from participation.queries import proposal_rows

DEMO_ACTOR = Actor(kind="system", name="demo")
PROPOSALS = [
    ("Shade trees along the school route", 42_000),
    ("Benches and drinking fountain in the park", 18_500),
    ("Protected bike lane on Main Street", 95_000),
    ("Repair the community centre roof", 60_000),
    ("Late bus on weekends", 30_000),
]


def run_demo(workdir: Path, *, citizens: int = 120, seed: int = 7) -> Path:
    """Build ``workdir/civicflow.db`` afresh, run a small consultation, print it.

    Args:
        workdir: folder for the demo database (created; an old demo database is replaced).
        citizens: size of the eligible population.
        seed: random seed of the simulated ballots (the run is reproducible).
    Returns:
        the path of the SQLite database.
    """
    console = Console()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "civicflow.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clk = clock.FrozenClock(start - timedelta(days=7))
    clock.set_clock(clk)
    rng = random.Random(seed)  # noqa: S311 - simulated voters, not security
    try:
        with session_scope(engine) as s:
            out = create_consultation(
                s,
                actor=DEMO_ACTOR,
                data={
                    "slug": "riverside-2026",
                    "title": "Riverside neighbourhood budget 2026",
                    "body": "Choose up to three projects for the Riverside district.",
                    "method": "approval",
                    "method_params": {"max_choices": 3},
                    "opens_at": start,
                    "closes_at": start + timedelta(days=21),
                    "time_zone": "Europe/London",
                },
            )
            for title, cost in PROPOSALS:
                add_proposal(
                    s, consultation_id=out.id, data={"title": title, "cost": cost}, actor=DEMO_ACTOR
                )
            transition(s, consultation_id=out.id, to="published", actor=DEMO_ACTOR)
            people = [
                register_citizen(
                    s,
                    actor=DEMO_ACTOR,
                    data={
                        "display_name": f"Resident {i:03d}",
                        "email": f"resident{i:03d}@example.invalid",
                        "district": "Riverside",
                    },
                ).id
                for i in range(citizens)
            ]
        clk.set(start)
        with session_scope(engine) as s:
            transition(s, consultation_id=out.id, to="open", actor=DEMO_ACTOR)
            pids = [p.id for p in proposal_rows(s, consultation_id=out.id)]
        weights = [5, 3, 4, 2, 1]
        for i, who in enumerate(people):
            if rng.random() > 0.45:  # about 45 % turnout
                continue
            clk.set(start + timedelta(hours=i))
            picks = set(rng.choices(pids, weights=weights, k=rng.randint(1, 3)))
            channel = "letter" if i % 11 == 0 else "web"
            actor = (
                Actor(kind="staff", role="organizer")
                if channel == "letter"
                else Actor(kind="citizen", id=who)
            )
            with session_scope(engine) as s:
                cast_ballot(
                    s,
                    consultation_id=out.id,
                    citizen_id=who,
                    choices=dict.fromkeys(picks, 1),
                    channel=channel,
                    actor=actor,
                )
        clk.set(start + timedelta(days=21))
        with session_scope(engine) as s:
            transition(s, consultation_id=out.id, to="closed", actor=DEMO_ACTOR)
            summary = describe(s, get_consultation(s, ref=out.id))
            rows = proposal_rows(s, consultation_id=out.id)
    finally:
        clock.set_clock(None)
        engine.dispose()
    console.print(f"[bold]{summary.title}[/] ({summary.slug}) is {summary.status}")
    console.print(
        f"turnout: {summary.ballots} of {citizens} eligible ({summary.ballots / citizens:.1%})"
    )
    table = Table("proposal", "cost", "votes")
    for r in sorted(rows, key=lambda r: -r.votes):
        table.add_row(r.title, f"{r.cost:,}", str(r.votes))
    console.print(table)
    console.print(f"database: {db}")
    return db
