"""The scheduled catch-up: do what is due *now* for every consultation in flight.

``run_due_cycles`` runs every five minutes in server mode (``flows/deployments.py``). It calls
``consultation_cycle(simulate=False)`` for each consultation that is published, open, closed
or tallied: the cycle does only the steps whose time has come (open, due reminder rounds,
close, tally, results, pulse, report) and every step is idempotent, so running it again —
after a restart, or while another run is still going — sends nothing twice.

Drafts are left alone: launching is an organizer's decision (the ``launch-consultation``
deployment). Reported and archived consultations have finished their cycle.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import select

import flows  # noqa: F401  (Prefect defaults before Prefect is imported)
from core.db import session_scope
from flows.cycle import consultation_cycle
from models import Consultation

#: statuses whose cycle still has something to do
IN_FLIGHT = ("published", "open", "closed", "tallied")


@task(name="consultations-in-flight")
def in_flight_task() -> list[int]:
    """Ids of the consultations whose cycle has not finished (oldest first)."""
    with session_scope() as s:
        return list(s.execute(select(Consultation.id).where(
            Consultation.status.in_(IN_FLIGHT)).order_by(Consultation.id)).scalars())


@flow(name="run-due-cycles")
def run_due_cycles() -> dict[int, list[str]]:
    """Run ``consultation-cycle`` (simulate=False) for every consultation in flight.

    One consultation's failure does not stop the others; the run fails at the end if any
    failed, so the failure shows in the Prefect UI and the next run tries again.

    Returns:
        ``{consultation_id: [names of the steps done now]}``.
    """
    done: dict[int, list[str]] = {}
    failed: list[int] = []
    for cid in in_flight_task():
        state = consultation_cycle(cid, simulate=False, return_state=True)
        if not state.is_completed():
            failed.append(cid)
            continue
        out: dict[str, Any] = state.result()
        done[cid] = [name for name, _, _ in out["steps"]]
    if failed:
        get_run_logger().error("consultation cycles failed: %s", failed)
        raise RuntimeError(f"the cycle failed for consultations {failed}")
    return done
