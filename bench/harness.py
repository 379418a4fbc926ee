"""The pieces every benchmark case shares: scales, the run context, cases and their trials.

A :class:`Case` names what is timed and against what; its ``make`` builds a :class:`Trial`
on the run's database. The runner (:mod:`bench.run`) calls ``trial.ours()`` and
``trial.baseline()`` alternately ``repeats`` times — side by side, so load from other
processes hits both sides alike — and reports medians. Each call returns the seconds of its
timed part only (``time.perf_counter``, wall clock); resets and checks around it are not
timed.
"""

from __future__ import annotations

import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from core.actor import Actor
from core.db import make_engine

if TYPE_CHECKING:
    from bench.data import Dataset

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("CIVICFLOW_REALDATA", ROOT.parent / "shared" / "realdata"))
PG_URL = os.environ.get(
    "CIVICFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SYSTEM = Actor(kind="system", name="bench")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
"""The frozen "now" of every case: the open consultations are open at this instant."""


@dataclass(frozen=True)
class Scale:
    """How much synthetic data a run makes.

    Attributes:
        name: ``tiny`` (the smoke test), ``small`` (about a minute) or ``city``.
        citizens: registered citizens (the reminder audience).
        ballots: ballots of the closed consultation (tally, report); ≤ ``citizens``.
        proposals: proposals of that consultation (approval, 1-5 choices, 3 on average).
        comments: comments on it (report).
        survey_answers: answers to its satisfaction pulse (5 questions per response).
        voted_share: share of citizens who already voted in the open consultation
            (reminders skip them).
        page_proposals / page_comments: the open consultation a citizen looks at (page).
        messages: outbox rows delivered by the file backends.
        writers / ballots_per_writer: concurrent ballot casting.
        mes_file: ``largest`` or ``smallest`` shared Pabulib file (by bytes).
        report_formats: formats the report case builds (``None``: all of them; the smoke
            test's scale skips the charts and the PDF, seconds each whatever the data).
    """

    name: str
    citizens: int
    ballots: int
    proposals: int
    comments: int
    survey_answers: int
    voted_share: float
    page_proposals: int
    page_comments: int
    messages: int
    writers: int
    ballots_per_writer: int
    mes_file: str
    report_formats: tuple[str, ...] | None = None


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny",
        citizens=3_000,
        ballots=2_000,
        proposals=20,
        comments=500,
        survey_answers=500,
        voted_share=0.3,
        page_proposals=100,
        page_comments=1_000,
        messages=100,
        writers=8,
        ballots_per_writer=5,
        mes_file="smallest",
        report_formats=("csv", "xlsx", "json"),
    ),
    "small": Scale(
        name="small",
        citizens=50_000,
        ballots=50_000,
        proposals=40,
        comments=5_000,
        survey_answers=2_500,
        voted_share=0.3,
        page_proposals=500,
        page_comments=10_000,
        messages=1_000,
        writers=8,
        ballots_per_writer=25,
        mes_file="largest",
    ),
    "city": Scale(
        name="city",
        citizens=1_000_000,
        ballots=1_000_000,
        proposals=40,
        comments=100_000,
        survey_answers=50_000,
        voted_share=0.3,
        page_proposals=5_000,
        page_comments=100_000,
        messages=100_000,
        writers=8,
        ballots_per_writer=250,
        mes_file="largest",
    ),
}


@dataclass(frozen=True)
class Target:
    """A case's goal: time ratio ours / baseline at most ``max_ratio`` and/or the median at
    most ``max_seconds``; ``text`` says it the way the issue does."""

    text: str
    max_ratio: float | None = None
    max_seconds: float | None = None

    def met(self, median: float, ratio: float | None) -> bool:
        """Whether the median and ratio reach the target."""
        if self.max_ratio is not None and (ratio is None or ratio > self.max_ratio):
            return False
        return self.max_seconds is None or median <= self.max_seconds


class Trial(ABC):
    """One case set up on the run's database; ``ours``/``baseline`` return timed seconds.

    Attributes:
        n: the size the case works on (ballots, voters, citizens, messages, proposals).
        unit: what ``n`` counts.
        facts: extra figures and checks written to the JSON (``ok`` = outcome correct).
    """

    n: int = 0
    unit: str = ""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}
        self.checks: list[bool] = []

    @abstractmethod
    def ours(self) -> float:
        """Run CivicFlow's side once; return its seconds."""

    def baseline(self) -> float | None:
        """Run the baseline once; return its seconds (``None``: the case has none)."""
        return None

    def check(self, ok: bool, what: str) -> None:
        """Record a correctness check (a failed one fails the case and the run)."""
        self.checks.append(ok)
        if not ok:
            self.facts.setdefault("failed_checks", []).append(what)

    @property
    def ok(self) -> bool:
        """All checks passed."""
        return all(self.checks)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what ``make`` set up (files, engines)."""


@dataclass(frozen=True)
class Case:
    """A registered benchmark case.

    Attributes:
        name: short key (``--cases``).
        what: what CivicFlow's side runs.
        against: what the baseline runs (``None``: no baseline).
        target: the goal at city scale, if any.
        make: builds the :class:`Trial` on a :class:`Bench`.
        slow: not run at ``tiny``/``small`` unless named in ``--cases`` (minutes per repeat).
        warmup: run each side once untimed first (first-call imports, caches).
    """

    name: str
    what: str
    against: str | None
    target: Target | None
    make: Callable[[Bench], Trial]
    slow: bool = False
    warmup: bool = False


@dataclass
class Bench:
    """What a run shares between cases: the scale, the database and a scratch folder."""

    scale: Scale
    db: str
    url: str
    engine: Engine
    tmp: Path
    repeats: int
    _dataset: Dataset | None = field(default=None, repr=False)

    @property
    def data(self) -> Dataset:
        """The synthetic data set, generated on first use (see :mod:`bench.data`)."""
        if self._dataset is None:
            from bench.data import Dataset

            self._dataset = Dataset(self)
        return self._dataset

    def folder(self, prefix: str) -> Path:
        """A new empty folder under the scratch folder."""
        path = self.tmp / f"{prefix}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn``; return (wall-clock seconds, its result)."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


@contextmanager
def database(kind: str, tmp: Path, pg_url: str = PG_URL) -> Iterator[str]:
    """Yield the URL of a new empty database: a SQLite file in ``tmp``, or a fresh PostgreSQL
    schema that is dropped (with everything in it) on exit."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    schema = f"cf_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
