"""Launching from the Manage page starts the ``launch-consultation`` flow and shows its run.

Without a Prefect server (``civicflow app`` alone) the flow runs in the app's process; the
run on a server (``civicflow up``) is covered by ``tests/flows/test_up.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core import clock
from models import AuditEvent, Consultation, OutboxMessage
from participation.citizens import set_consent
from tests import factories as f
from tests.app.conftest import alerts, button, open_app, page_text

MANAGE = "app_pages/manage.py"


@pytest.fixture(autouse=True)
def _real_clock_after() -> Iterator[None]:
    yield
    clock.set_clock(None)


def test_launch_runs_the_flow_here_without_a_server_and_shows_its_state(
        app_db, prefect_harness, monkeypatch, tmp_path: Path):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("CIVICFLOW_PREFECT__API_URL", raising=False)
    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=3)))
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="draft")
        willing = f.citizen(s)
        set_consent(s, citizen_id=willing, channel="email", purpose="invitations",
                    opted_in=True, source="web", actor=f.SYSTEM)
        silent = f.citizen(s)  # no consent: planned, then suppressed
    organizer = app_db.staff("organizer")

    at = open_app(organizer, page=MANAGE)
    button(at, "Launch").click().run()
    assert not at.exception, at.exception
    text = page_text(at)
    assert "Launch run" in text
    assert "success: Launched: the consultation is published and its invitations sent." in (
        alerts(at))
    assert any("ran in this app's process" in c.value for c in at.caption)

    with app_db.session() as s:
        assert s.get(Consultation, cid).status == "published"
        rows = dict(s.execute(select(OutboxMessage.citizen_id, OutboxMessage.status).where(
            OutboxMessage.consultation_id == cid, OutboxMessage.kind == "invitation")).all())
        launches = s.execute(select(AuditEvent.actor).where(
            AuditEvent.action == "consultation.launch",
            AuditEvent.subject == f"consultation:{cid}")).scalars().all()
    assert rows == {willing: "sent", silent: "suppressed"}
    assert launches == [f"staff:{organizer.id}:organizer"]  # who pressed Launch
    sent = [p for p in (tmp_path / "outbox").iterdir() if p.suffix == ".eml"]
    assert len(sent) == 1
