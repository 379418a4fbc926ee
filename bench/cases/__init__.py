"""The benchmark cases, in the order the runner runs them (see ``docs/performance.md``)."""

from __future__ import annotations

from bench.cases import ballots, demo, mes, outbox, page, report, tally
from bench.harness import Case

CASES: tuple[Case, ...] = (
    tally.CASE,
    mes.CASE,
    ballots.CASE,
    outbox.PLAN,
    outbox.DELIVER,
    report.CASE,
    page.CASE,
    demo.CASE,
)
"""Every registered case; names must be unique."""
