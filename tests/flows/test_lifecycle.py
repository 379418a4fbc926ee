from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import get_client
from sqlalchemy import select

from core import clock
from core.db import session_scope
from models import AuditEvent
from participation.audit import verify_chain
from participation.consultations import get_consultation
from tests import factories as f


def _status(engine, cid: int) -> str:
    with session_scope(engine) as s:
        return get_consultation(s, ref=cid).status


def test_advance_consultations_moves_due_ones_and_is_idempotent(prefect_harness, flow_db):
    from flows.lifecycle import advance_consultations, publish_consultation

    with session_scope(flow_db) as s:
        cons, _ = f.consultation(s, status="draft", days=7)
    clk = clock.FrozenClock(f.T0 - timedelta(hours=1))
    clock.set_clock(clk)
    assert publish_consultation(cons) == "published"
    assert publish_consultation(cons) == "published"  # a retry is harmless
    assert advance_consultations() == []
    clk.set(f.T0)
    with session_scope(flow_db) as s:
        slug = get_consultation(s, ref=cons).slug
    moved = advance_consultations()
    assert [(m[1], m[2]) for m in moved] == [("published", "open")]
    assert _status(flow_db, cons) == "open"
    clk.set(f.T0 + timedelta(days=7))
    assert [(m[1], m[2]) for m in advance_consultations()] == [("open", "closed")]
    assert advance_consultations() == []
    assert _status(flow_db, cons) == "closed"
    assert moved[0][0] == slug
    # each run also sealed the audit events committed before it: the chain covers them all
    with session_scope(flow_db) as s:
        report = verify_chain(s)
        closings = s.execute(select(AuditEvent.seq).where(
            AuditEvent.action == "consultation.closed",
            AuditEvent.subject == f"consultation:{cons}")).scalars().all()
    assert report.first_broken is None
    assert report.unsealed == 0
    assert len(closings) == 1
    assert closings[0] is not None


def test_advance_leaves_a_markdown_artifact(prefect_harness, flow_db):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.lifecycle import advance_consultations

    with session_scope(flow_db) as s:
        f.consultation(s, status="published", days=7)
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(minutes=5)))
    advance_consultations()
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["advance-consultations"])))
    assert arts
    newest = max(arts, key=lambda a: a.created)
    assert "Consultations moved: 1" in newest.data
    assert "| published | open |" in newest.data
    assert "Audit events sealed into the chain: " in newest.data
