"""CivicFlow's Prefect deployments and their schedules (DESIGN §7).

Scheduled (server mode only: Prefect's temporary local API never fires schedules):

==========================  =====================  ==========================================
deployment                  schedule               what it does
==========================  =====================  ==========================================
advance-consultations/      every minute           open/close consultations whose time came
send-reminders/             hourly, on the hour    queue due reminder rounds, then send
deliver-outbox/             every 60 seconds       send due and deferred outbox messages
run-due-cycles/             every 5 minutes        ``consultation-cycle`` (simulate=False)
                                                   for each consultation in flight
==========================  =====================  ==========================================

On demand (``run_deployment("<flow>/civicflow", parameters=...)``, e.g. from the app):
``launch-consultation``, ``consultation-cycle``, ``close-consultation``,
``governance-report``. Every deployment is named :data:`DEPLOYMENT`.

The scheduled ones allow one run at a time and cancel a run that would overlap the previous
one (``CANCEL_NEW``): each run does everything that is due, so an overlapping run has nothing
left to do, and after a downtime the backlog of late runs collapses into one.

``serve_all()`` serves them all from one process (``civicflow up`` runs it as a child
process); ``infra/prefect.yaml`` declares the same deployments for a process work pool.
``python -m flows.deployments`` runs :func:`serve_all`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flows  # noqa: F401  (Prefect defaults before Prefect is imported)

#: the name every CivicFlow deployment has (``<flow name>/civicflow``)
DEPLOYMENT = "civicflow"
#: the work pool of the scale-out setup (``infra/prefect.yaml``)
WORK_POOL = "civicflow-process"

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


@dataclass(frozen=True, slots=True)
class Spec:
    """One deployment: the flow's module path and its schedule (none = on demand)."""

    entrypoint: str
    cron: str | None = None
    interval_seconds: int | None = None
    description: str = ""

    @property
    def scheduled(self) -> bool:
        """Whether the deployment has a schedule."""
        return self.cron is not None or self.interval_seconds is not None


SPECS: tuple[Spec, ...] = (
    Spec("flows.lifecycle.advance_consultations", cron="* * * * *",
         description="Open and close every consultation whose time has come."),
    Spec("flows.cycle.send_reminders", cron="0 * * * *",
         description="Queue every due reminder round of the open consultations, then send."),
    Spec("flows.cycle.deliver_outbox", interval_seconds=60,
         description="Send due (and deferred) outbox messages in batches."),
    Spec("flows.schedule.run_due_cycles", cron="*/5 * * * *",
         description="Catch up: do what is due now for every consultation in flight."),
    Spec("flows.cycle.launch_consultation",
         description="Publish a drafted consultation, queue its invitations and send them."),
    Spec("flows.cycle.consultation_cycle",
         description="A consultation's whole cycle (simulate=True walks a simulated clock)."),
    Spec("flows.cycle.close_consultation",
         description="Close (when due), tally, queue the results and the pulse; send."),
    Spec("flows.cycle.governance_report",
         description="Build the governance report and email it to the council."),
)


def load_flow(entrypoint: str) -> Any:
    """Import the flow object at a module path such as ``flows.cycle.send_reminders``."""
    import importlib

    module, _, name = entrypoint.rpartition(".")
    return getattr(importlib.import_module(module), name)


def deployments(*, schedules: bool = True) -> list[RunnerDeployment]:
    """The deployments to serve, as ``RunnerDeployment`` objects.

    Entrypoints are module paths, so the serving process finds the flows wherever CivicFlow
    is installed, whatever its working directory.

    Args:
        schedules: attach the schedules (False: every deployment is on demand only).
    Returns:
        one ``RunnerDeployment`` per :data:`SPECS` entry.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.types.entrypoint import EntrypointType

    out: list[RunnerDeployment] = []
    for spec in SPECS:
        kwargs: dict[str, Any] = {}
        if spec.scheduled:
            kwargs["concurrency_limit"] = ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
            if schedules:
                kwargs["cron" if spec.cron else "interval"] = spec.cron or spec.interval_seconds
        out.append(load_flow(spec.entrypoint).to_deployment(
            name=DEPLOYMENT, description=spec.description, tags=["civicflow"],
            entrypoint_type=EntrypointType.MODULE_PATH, **kwargs))
    return out


def serve_all(*, limit: int | None = None) -> None:
    """Serve every deployment from this process until it is stopped (needs a real server).

    Run it with ``PREFECT_API_URL`` pointing at ``prefect server start``; on Prefect's
    temporary local API the schedules would never fire. Stopping the process pauses the
    schedules (Prefect's default), and serving again resumes them.

    Args:
        limit: most flow runs at once in this process (None: Prefect's default).
    """
    import os

    from prefect import serve

    if not os.environ.get("PREFECT_API_URL"):
        raise RuntimeError("serve_all needs PREFECT_API_URL (a running `prefect server start`);"
                           " schedules never fire on the temporary local API")
    serve(*deployments(), limit=limit, print_starting_message=False)


if __name__ == "__main__":
    serve_all()
