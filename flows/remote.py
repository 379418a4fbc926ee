"""Start a flow from the app and follow it: on the Prefect server when there is one.

``civicflow up`` (and the scale-out setup) give the app ``PREFECT_API_URL``: the app then
submits a run of a deployment (``run_deployment(..., timeout=0)``) and returns at once; the
served process (or a worker) runs it, and the page polls :func:`run_progress`. Without a
server (``civicflow app`` alone) there is nothing to submit to, and :func:`start_flow` runs
the flow in the app's own process on Prefect's temporary local API, which takes the
process's time until it ends.

Both ways the same flow runs, so the same idempotent steps, the same artifact and the same
state are what the organizer sees.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import flows  # noqa: F401  (Prefect defaults before Prefect is imported)
from core.settings import get_settings
from flows.deployments import DEPLOYMENT, SPECS, load_flow

#: steps (task runs, a subflow counting as one) each on-demand flow takes, for progress
STEPS: dict[str, int] = {"launch-consultation": 3}


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Where a flow run is.

    Attributes:
        run_id: the flow run's id (UUID text).
        flow: the flow's name, e.g. ``launch-consultation``.
        state: Prefect's state type, e.g. ``SCHEDULED``, ``PENDING``, ``RUNNING``,
            ``COMPLETED``, ``FAILED``, ``CRASHED``, ``CANCELLED``.
        state_name: the state's display name (``Late``, ``Running``, …).
        message: the state's message ("" when none).
        steps_done / steps_total: finished steps and the steps the flow takes (0 if unknown).
        report: the run's markdown artifact once it has one ("" before).
        remote: True when a Prefect server runs it, False when it ran in this process.
    """

    run_id: str
    flow: str
    state: str
    state_name: str
    message: str
    steps_done: int
    steps_total: int
    report: str
    remote: bool

    @property
    def final(self) -> bool:
        """Whether the run has ended (completed, failed, crashed or cancelled)."""
        return self.state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

    @property
    def ok(self) -> bool:
        """Whether the run completed."""
        return self.state == "COMPLETED"

    @property
    def fraction(self) -> float:
        """Progress in [0, 1] for a progress bar (1.0 once the run has ended)."""
        if self.final:
            return 1.0
        return min(1.0, self.steps_done / self.steps_total) if self.steps_total else 0.0


def server_url() -> str | None:
    """The Prefect server's API URL the app should submit to, or None (no server)."""
    return os.environ.get("PREFECT_API_URL") or get_settings().prefect.api_url or None


@contextmanager
def _api(url: str | None) -> Iterator[None]:
    if url is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def _known(flow_name: str) -> str:
    names = {spec.entrypoint: spec for spec in SPECS}
    for entrypoint in names:
        if load_flow(entrypoint).name == flow_name:
            return entrypoint
    raise ValueError(f"no CivicFlow flow is called {flow_name!r}")


def start_flow(flow_name: str, parameters: Mapping[str, Any]) -> RunProgress:
    """Start an on-demand flow: submit it to the server, or run it here without one.

    Args:
        flow_name: a flow of :data:`flows.deployments.SPECS`, e.g. ``launch-consultation``.
        parameters: the flow's parameters (ids and dates only).
    Returns:
        the run's :class:`RunProgress` — just submitted (remote) or ended (in-process).
    Raises:
        ValueError: ``flow_name`` is not one of CivicFlow's flows.
        prefect.exceptions.ObjectNotFound: the server has no such deployment (nothing serves
            it: start ``civicflow up`` or a worker).
    """
    entrypoint = _known(flow_name)
    url = server_url()
    if url is not None:
        from prefect.deployments import run_deployment

        with _api(url):
            run = run_deployment(f"{flow_name}/{DEPLOYMENT}", parameters=dict(parameters),
                                 timeout=0, as_subflow=False)
        return run_progress(str(getattr(run, "id")))  # noqa: B009 (sync call: a FlowRun)
    state = load_flow(entrypoint)(**dict(parameters), return_state=True)
    return run_progress(str(state.state_details.flow_run_id), remote=False)


def run_progress(run_id: str, *, remote: bool | None = None) -> RunProgress:
    """Read a flow run's state, its finished steps and its artifact.

    Args:
        run_id: the flow run's UUID text (from :func:`start_flow`).
        remote: whether a server runs it (default: whether :func:`server_url` is set).
    Returns:
        :class:`RunProgress`.
    Raises:
        prefect.exceptions.ObjectNotFound: no such run.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    url = server_url()
    ident = UUID(run_id)
    with _api(url), get_client(sync_client=True) as client:
        run = client.read_flow_run(ident)
        flow = client.read_flow(run.flow_id).name
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[ident])))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[ident])))
    done = sum(1 for t in tasks if t.state is not None and t.state.is_completed())
    report = next((str(a.data) for a in artifacts if a.type == "markdown" and a.data), "")
    state = run.state
    if state is None:
        kind, name, message = "PENDING", "Pending", ""
    else:
        kind, name, message = state.type.value, state.name or state.type.value.title(), (
            state.message or "")
    return RunProgress(
        run_id=run_id, flow=flow, state=kind, state_name=name, message=message,
        steps_done=done, steps_total=STEPS.get(flow, 0), report=report,
        remote=url is not None if remote is None else remote)
