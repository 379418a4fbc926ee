"""Deliver a governance report to the council's members, by email with the PDF attached.

Each member's message is an ``outbox_message`` row keyed
``report:{consultation}:{report}:staff{member}:email``: the row is claimed (``sending``)
before the provider is called and marked ``sent`` with the provider id after, so a retried
flow sends each member each report once. A row left in ``sending`` by a crash is sent again
on the next call (at-least-once, the outbox's documented rule; the file backend writes a
key once, so its copy is not duplicated).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import clock
from core.errors import NotFound
from models import Consultation, OutboxMessage, StaffUser
from notifications.backends.base import Attachment, EmailMessageSpec, EmailSender

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    autoescape=False)  # noqa: S701 - plain-text email parts only, never HTML


@dataclass(frozen=True, slots=True)
class CouncilDelivery:
    """What :func:`deliver_report_to_council` did: members written to now, and before."""

    sent: int
    already_sent: int
    members: int


def deliver_report_to_council(
    session: Session,
    *,
    consultation_id: int,
    report_id: int,
    pdf_path: Path | str,
    summary: dict[str, str],
    sender: EmailSender,
    organization: str = "CivicFlow",
) -> CouncilDelivery:
    """Email the report's PDF to every council member who has an email address.

    Args:
        session: an open session; the caller commits (rows are flushed before sending).
        consultation_id / report_id: the consultation and its ``report`` row.
        pdf_path: the PDF file to attach.
        summary: ``{"turnout": "...", "ballots": "..." , "digest": "..."}`` for the body.
        sender: the email backend.
    Returns:
        :class:`CouncilDelivery`.
    Raises:
        NotFound: no such consultation, or the PDF is missing.
    """
    c = session.get(Consultation, consultation_id)
    if c is None:
        raise NotFound(f"no consultation {consultation_id}", field="consultation_id")
    pdf = Path(pdf_path)
    if not pdf.is_file():
        raise NotFound(f"{pdf}: no such report file", field="pdf_path")
    members = session.execute(select(StaffUser).where(
        StaffUser.role == "council", StaffUser.email.is_not(None)).order_by(StaffUser.id)
    ).scalars().all()
    now = clock.now()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    todo: list[tuple[OutboxMessage, StaffUser]] = []
    already = 0
    for m in members:
        key = f"report:{consultation_id}:{report_id}:staff{m.id}:email"
        session.execute(insert(OutboxMessage).values(
            idempotency_key=key, staff_user_id=m.id, consultation_id=consultation_id,
            kind="report", purpose=None, channel="email", template="council_report",
            locale="en", payload={"report_id": report_id}, status="sending", attempts=0,
            not_before=now, created_at=now).on_conflict_do_nothing(
            index_elements=["idempotency_key"]))
        row = session.execute(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == key).with_for_update()).scalar_one()
        if row.status == "sent":
            already += 1
            continue
        row.status, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
        todo.append((row, m))
    session.flush()
    if not todo:
        return CouncilDelivery(0, already, len(members))
    attachment = Attachment(filename=f"report-{c.slug}.pdf", content=pdf.read_bytes(),
                            mime="application/pdf")
    specs = []
    for row, m in todo:
        ctx = {"member": m.display_name, "title": c.title, "organization": organization,
               **summary}
        specs.append(EmailMessageSpec(
            key=row.idempotency_key, to=str(m.email), to_name=m.display_name,
            subject=_TEMPLATES.get_template("council_report/en/subject.txt").render(ctx),
            text=_TEMPLATES.get_template("council_report/en/body.txt").render(ctx),
            attachments=(attachment,)))
    results = sender.send_batch(specs)
    sent = 0
    for (row, _), res in zip(todo, results, strict=True):
        if res.ok:
            row.status, row.provider_id, row.sent_at = "sent", res.provider_id, clock.now()
            sent += 1
        else:
            # "failed" either way: the citizen delivery loop must not pick up a staff row;
            # the next call of this function tries again (only "sent" rows are skipped)
            row.status, row.reason = "failed", res.error_code
    session.flush()
    return CouncilDelivery(sent, already, len(members))
