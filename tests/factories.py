"""Small builders of test data through the public services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from participation.citizens import register_citizen
from participation.consultations import add_proposal, create_consultation, transition

SYSTEM = Actor(kind="system", name="test")
ORGANIZER = Actor(kind="staff", id=None, role="organizer", name="org")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_seq = count(1)


def citizen(session: Session, **fields: Any) -> int:
    n = next(_seq)
    data: dict[str, Any] = {"display_name": f"Citizen {n}", "email": f"c{n}@example.invalid"}
    data.update(fields)
    return register_citizen(session, data=data, actor=SYSTEM).id


def consultation(
    session: Session,
    *,
    method: str = "approval",
    params: dict[str, Any] | None = None,
    proposals: list[dict[str, Any]] | None = None,
    status: str = "open",
    eligibility: dict[str, Any] | None = None,
    days: int = 14,
) -> tuple[int, list[int]]:
    """Create a consultation with proposals and move it to ``status`` (clock frozen inside)."""
    n = next(_seq)
    out = create_consultation(
        session,
        actor=SYSTEM,
        data={
            "slug": f"test-{n}",
            "title": f"Consultation {n}",
            "method": method,
            "method_params": params or {},
            "eligibility": eligibility or {},
            "opens_at": T0,
            "closes_at": T0 + timedelta(days=days),
        },
    )
    pids = [
        add_proposal(session, consultation_id=out.id, data=p, actor=SYSTEM)
        for p in (proposals or [{"title": "A"}, {"title": "B"}, {"title": "C"}])
    ]
    path = ["published", "open", "closed"]
    for step in path[: path.index(status) + 1] if status in path else []:
        at = T0 if step != "closed" else T0 + timedelta(days=days)
        transition(session, consultation_id=out.id, to=step, actor=SYSTEM, at=at)
    clock.set_clock(clock.FrozenClock(T0 + timedelta(hours=1)))
    return out.id, pids
