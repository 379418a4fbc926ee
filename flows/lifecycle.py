"""Flows that move consultations through their states on time.

Deadlines are database state: ``advance_consultations`` runs every minute (a schedule in
server mode, a loop in embedded mode) and moves each consultation whose time has come, so a
restart loses nothing. Tasks are thin and idempotent: a retried task finds the work done.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

import flows  # noqa: F401  (Prefect defaults before Prefect is imported)
from core.actor import Actor
from core.db import session_scope
from participation.audit import seal_chain
from participation.consultations import advance_due, transition

FLOW_ACTOR = Actor(kind="system", name="flow")


@task(name="advance-due-consultations")
def advance_due_task() -> list[tuple[str, str, str]]:
    """Open and close every consultation whose time has come; return ``(slug, from, to)``."""
    with session_scope() as s:
        return advance_due(s, actor=FLOW_ACTOR)


@task(name="seal-audit-chain")
def seal_task() -> int:
    """Seal the audit events committed since the last run into the hash chain; return how
    many (``participation.audit.seal_chain``)."""
    with session_scope() as s:
        return seal_chain(s)


@task(name="move-consultation")
def move_task(consultation_id: int, to: str) -> str:
    """Move one consultation to status ``to`` (a no-op when it is already there)."""
    with session_scope() as s:
        return transition(s, consultation_id=consultation_id, to=to, actor=FLOW_ACTOR)


@flow(name="advance-consultations")
def advance_consultations() -> list[tuple[str, str, str]]:
    """Move every due consultation (published → open at ``opens_at``, open → closed at
    ``closes_at``), seal the audit events committed since the last run, and leave a markdown
    artifact listing what moved.

    Returns:
        ``[(slug, from_status, to_status), ...]``.
    """
    moved = advance_due_task()
    sealed = seal_task()
    lines = ["| consultation | from | to |", "|---|---|---|"]
    lines += [f"| {slug} | {a} | {b} |" for slug, a, b in moved]
    create_markdown_artifact(
        key="advance-consultations",
        markdown=f"# Consultations moved: {len(moved)}\n\n" + "\n".join(lines)
        + f"\n\nAudit events sealed into the chain: {sealed}",
        description="consultations opened or closed on time",
    )
    return moved


@flow(name="publish-consultation")
def publish_consultation(consultation_id: int) -> str:
    """Publish a drafted consultation (the first step of ``launch_consultation``).

    Returns:
        the new status, ``published``.
    """
    return move_task(consultation_id, "published")


@flow(name="ping")
def ping() -> bool:
    """An empty flow: calling it starts (and so times) Prefect's temporary local API."""
    return True
