"""The consultation cycle as Prefect flows (DESIGN §7).

    launch_consultation ─► advance_consultations ─► send_reminders (×rounds) ─►
    close_consultation (close, tally, satisfaction pulse) ─► governance_report

Each task opens a session and calls one service; flow parameters are ids and ISO dates.
Every step is idempotent (outbox keys, state machine no-ops, "arrived" ballots skipped), so
a retried task or a restarted cycle sends nothing twice and loses nothing. Only I/O tasks
(delivery) retry. ``consultation_cycle`` walks a simulated clock through the cycle's
milestones (the demo: a month in seconds); without simulation it does what is due *now*
and returns, because deadlines are database state and a scheduled run picks up the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import select

import flows  # noqa: F401  (Prefect defaults before Prefect is imported)
from core import clock
from core.db import get_engine, session_scope
from core.settings import get_settings
from flows.lifecycle import FLOW_ACTOR, advance_consultations, move_task, seal_task
from flows.throttle import throttled
from models import Consultation, OutboxMessage
from notifications.delivery import deliver_pending, make_senders
from notifications.planning import (
    enqueue_results,
    enqueue_survey_invitation,
    plan_invitations,
    plan_reminders,
)
from participation.consultations import transition
from participation.simulation import arrive_ballots
from participation.tallying import tally
from surveys.service import create_pulse


@task(name="plan-invitations")
def plan_invitations_task(consultation_id: int) -> dict[str, int]:
    """Queue an invitation to every eligible citizen (a retry queues nothing new)."""
    with session_scope() as s:
        return dict(plan_invitations(s, consultation_id=consultation_id, actor=FLOW_ACTOR).counts)


@task(name="plan-reminders")
def plan_reminders_task(consultation_id: int, round_no: int) -> dict[str, int]:
    """Queue reminder ``round_no`` to eligible citizens who have not voted yet."""
    with session_scope() as s:
        return dict(plan_reminders(s, consultation_id=consultation_id, round=round_no,
                                   actor=FLOW_ACTOR).counts)


@task(name="deliver-batch", retries=3, retry_delay_seconds=[2, 5, 15])
def deliver_task() -> dict[str, Any]:
    """Send every due outbox message (claims rows first, so a retry never re-sends)."""
    limits = get_settings().prefect
    email, sms = throttled(*make_senders(), email_limit=limits.email_rate_limit,
                           sms_limit=limits.sms_rate_limit)
    report = deliver_pending(get_engine(), email_sender=email, sms_sender=sms)
    return {"claimed": report.claimed, "counts": {k: dict(v) for k, v in report.counts.items()},
            "reasons": dict(report.reasons)}


@task(name="arrive-ballots")
def arrive_ballots_task(consultation_id: int, source: str, until_iso: str) -> int:
    """Demo only: let the real ballots whose modelled arrival has come be cast."""
    with session_scope() as s:
        return arrive_ballots(s, consultation_id=consultation_id, path=source,
                              until=datetime.fromisoformat(until_iso), actor=FLOW_ACTOR)


@task(name="tally")
def tally_task(consultation_id: int) -> dict[str, Any]:
    """Tally a closed consultation with the rule it names (a no-op once tallied)."""
    with session_scope() as s:
        c = s.get(Consultation, consultation_id)
        if c is not None and c.status in ("tallied", "reported", "archived") and c.result:
            return dict(c.result)
        return tally(s, consultation_id=consultation_id, actor=FLOW_ACTOR).result


@task(name="enqueue-results")
def enqueue_results_task(consultation_id: int) -> dict[str, int]:
    """Queue the results ("you said, we did") to every participant."""
    with session_scope() as s:
        return dict(enqueue_results(s, consultation_id=consultation_id, actor=FLOW_ACTOR).counts)


@task(name="satisfaction-pulse")
def pulse_task(consultation_id: int, days_open: float = 14.0) -> dict[str, int]:
    """Create the consultation's satisfaction pulse and invite its participants."""
    with session_scope() as s:
        pulse = create_pulse(s, consultation_id=consultation_id, actor=FLOW_ACTOR)
        plan = enqueue_survey_invitation(
            s, survey_id=pulse.survey_id, closes_at=clock.now() + timedelta(days=days_open),
            actor=FLOW_ACTOR)
        return dict(plan.counts)


@task(name="build-report", retries=2, retry_delay_seconds=[2, 5])
def build_report_task(consultation_id: int, out_dir: str) -> dict[str, Any]:
    """Write the governance report (HTML, PDF, CSV, XLSX, JSON) and mark it ``reported``."""
    from reports.render import build_report

    with session_scope() as s:
        files = build_report(s, consultation_id=consultation_id, out_dir=out_dir)
        c = s.get(Consultation, consultation_id)
        if c is not None and c.status == "tallied":
            transition(s, consultation_id=consultation_id, to="reported", actor=FLOW_ACTOR)
        return {"report_id": files.report_id, "digest": files.input_digest,
                "files": {k: str(v) for k, v in files.files.items()}}


@task(name="email-council", retries=3, retry_delay_seconds=[2, 5, 15])
def email_council_task(consultation_id: int, report: dict[str, Any]) -> dict[str, int]:
    """Email the report's PDF to the council's members (once each, whatever the retries)."""
    from sqlalchemy import func

    from models import Ballot
    from notifications.council import deliver_report_to_council

    email, _ = make_senders()
    with session_scope() as s:
        ballots = s.execute(select(func.count()).select_from(Ballot).where(
            Ballot.consultation_id == consultation_id)).scalar_one()
        done = deliver_report_to_council(
            s, consultation_id=consultation_id, report_id=int(report["report_id"]),
            pdf_path=report["files"]["pdf"], sender=email,
            summary={"turnout": _turnout_text(report), "ballots": f"{ballots:,}",
                     "digest": str(report["digest"])})
        return {"sent": done.sent, "already_sent": done.already_sent, "members": done.members}


def _turnout_text(report: dict[str, Any]) -> str:
    import json
    from pathlib import Path

    path = report["files"].get("json")
    if not path:
        return "see the report"
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for fig in data.get("report", {}).get("figures", []):
        if isinstance(fig, dict) and fig.get("key") == "turnout":
            value, n = fig.get("value"), fig.get("n")
            if isinstance(value, int | float):
                return f"{value:.1%} (n = {n})"
    return "see the report"


@flow(name="deliver-outbox")
def deliver_outbox() -> dict[str, Any]:
    """Send what is due in the outbox and leave an artifact with the counts."""
    out = deliver_task()
    rows = [f"| {ch} | {st} | {n} |" for ch, by in sorted(out["counts"].items())
            for st, n in sorted(by.items())]
    create_markdown_artifact(
        key="deliver-outbox", description="messages delivered",
        markdown="# Outbox delivery\n\n| channel | status | messages |\n|---|---|---|\n"
        + "\n".join(rows) + f"\n\nclaimed: {out['claimed']}")
    return out


@flow(name="launch-consultation")
def launch_consultation(consultation_id: int) -> dict[str, int]:
    """Publish a drafted consultation, queue its invitations and send them."""
    move_task(consultation_id, "published")
    counts = plan_invitations_task(consultation_id)
    deliver_outbox()
    create_markdown_artifact(
        key="launch-consultation", description="consultation launched",
        markdown=f"# Consultation {consultation_id} launched\n\ninvitations: {counts}")
    return counts


def _due_rounds(c: Consultation, now: datetime) -> list[int]:
    hours = c.reminder_policy.get("rounds_hours") or []
    return [i + 1 for i, h in enumerate(hours) if c.opens_at + timedelta(hours=float(h)) <= now]


@flow(name="send-reminders")
def send_reminders(consultation_id: int | None = None) -> dict[int, dict[str, int]]:
    """Queue every due reminder round of each open consultation (or of one), then send.

    Returns:
        ``{round: counts}`` of the rounds planned now (already-planned rounds add nothing).
    """
    now = clock.now()
    with session_scope() as s:
        stmt = select(Consultation).where(Consultation.status == "open")
        if consultation_id is not None:
            stmt = stmt.where(Consultation.id == consultation_id)
        due = [(c.id, r) for c in s.execute(stmt).scalars() for r in _due_rounds(c, now)]
    planned = {r: plan_reminders_task(cid, r) for cid, r in due}
    deliver_outbox()
    return planned


@flow(name="close-consultation")
def close_consultation(consultation_id: int) -> dict[str, Any]:
    """Close (when due), tally, queue the results and the satisfaction pulse; then send."""
    advance_consultations()
    result = tally_task(consultation_id)
    enqueue_results_task(consultation_id)
    pulse_task(consultation_id)
    deliver_outbox()
    return result


@flow(name="governance-report")
def governance_report(consultation_id: int, out_dir: str | None = None) -> dict[str, Any]:
    """Build the governance report, mark the consultation reported, email the council.

    Args:
        out_dir: folder for the files (default ``<report_dir>/<consultation id>``).
    Returns:
        ``{"report_id", "digest", "files": {format: path}, "council": {...}}``.
    """
    from core.settings import get_settings

    folder = out_dir or str(get_settings().app.report_dir / str(consultation_id))
    report = build_report_task(consultation_id, folder)
    council = email_council_task(consultation_id, report)
    links = "\n".join(f"- {k}: `{v}`" for k, v in sorted(report["files"].items())
                      if not k.startswith("csv:"))
    create_markdown_artifact(
        key="governance-report", description="governance report built and delivered",
        markdown=f"# Governance report\n\ndigest `{report['digest']}`\n\n{links}\n\n"
        f"council emails: {council}")
    return {**report, "council": council}


def _milestones(c: Consultation) -> list[tuple[str, datetime]]:
    hours = c.reminder_policy.get("rounds_hours") or []
    steps = [("launch", c.opens_at - timedelta(days=2)), ("open", c.opens_at)]
    steps += [(f"reminder {i + 1}", c.opens_at + timedelta(hours=float(h)))
              for i, h in enumerate(hours)]
    steps.append(("close", c.closes_at))
    return steps


@flow(name="consultation-cycle")
def consultation_cycle(
    consultation_id: int, simulate: bool = True, ballots_source: str | None = None
) -> dict[str, Any]:
    """Run a consultation's whole cycle: launch, open, reminders, close, tally, results.

    Args:
        consultation_id: a ``draft`` (or later: the cycle resumes) consultation.
        simulate: walk a simulated clock through the milestones (launch two days before
            opening, each reminder round, the close). Without it, do only what is due now.
        ballots_source: demo only — a Pabulib file staged by
            :func:`participation.simulation.stage_budget_cycle`, whose real ballots arrive
            as simulated time passes.
    Returns:
        a summary: ``{"steps": [(name, iso time, detail)], "result": tally JSON}``.
    """
    with session_scope() as s:
        c = s.get(Consultation, consultation_id)
        if c is None:
            raise ValueError(f"no consultation {consultation_id}")
        milestones = _milestones(c)
        status = c.status
        invited = s.execute(select(OutboxMessage.id).where(
            OutboxMessage.consultation_id == consultation_id,
            OutboxMessage.kind == "invitation").limit(1)).first() is not None
    steps: list[tuple[str, str, Any]] = []
    sim = clock.FrozenClock(milestones[0][1]) if simulate else None
    previous = clock.current_source()
    if sim is not None:
        clock.set_clock(sim)
    try:
        for name, at in milestones:
            if sim is not None:
                sim.set(max(at, sim.current))
            elif clock.now() < at:
                break
            if ballots_source and name != "launch":
                n = arrive_ballots_task(consultation_id, ballots_source, clock.now().isoformat())
                steps.append(("ballots arrive", clock.now().isoformat(), n))
            if name == "launch":
                if status == "draft":
                    steps.append((name, clock.now().isoformat(),
                                  launch_consultation(consultation_id)))
                elif status in ("published", "open") and not invited:
                    # a run that died after publishing, before queueing the invitations
                    counts = plan_invitations_task(consultation_id)
                    deliver_outbox()
                    steps.append((name, clock.now().isoformat(), counts))
            elif name == "open":
                steps.append((name, clock.now().isoformat(), advance_consultations()))
            elif name.startswith("reminder"):
                steps.append((name, clock.now().isoformat(), send_reminders(consultation_id)))
            else:
                result = close_consultation(consultation_id)
                steps.append((name, clock.now().isoformat(), result.get("selected")))
                report = governance_report(consultation_id)
                steps.append(("report", clock.now().isoformat(), report["files"].get("html")))
        # the cycle's last events (tally, results, report) go into the chain now, not at the
        # next minute's deadlines run
        seal_task()
        with session_scope() as s:
            final = s.get(Consultation, consultation_id)
            result_json = dict(final.result or {}) if final is not None else {}
        report_files = next((d for n, _, d in steps if n == "report"), None)
    finally:
        if sim is not None:
            clock.set_clock(previous)
    lines = [f"| {n} | {t} | {d} |" for n, t, d in steps]
    create_markdown_artifact(
        key="consultation-cycle", description="the whole consultation cycle",
        markdown="# Consultation cycle\n\n| step | at (UTC) | detail |\n|---|---|---|\n"
        + "\n".join(lines))
    return {"steps": steps, "result": result_json, "report": report_files}
