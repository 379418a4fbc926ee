"""``run-due-cycles``: the five-minute catch-up finishes what is due and leaves drafts alone."""

from __future__ import annotations

from sqlalchemy import func, select

from core import clock
from core.db import session_scope
from models import Consultation, OutboxMessage
from tests import factories


def test_catch_up_finishes_due_cycles_once_and_leaves_drafts(prefect_harness, flow_db,
                                                              tmp_path, monkeypatch):
    from core.settings import get_settings
    from flows.schedule import run_due_cycles

    monkeypatch.setenv("CIVICFLOW_APP__OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("CIVICFLOW_APP__REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CIVICFLOW_EMAIL__BACKEND", "file")
    monkeypatch.setenv("CIVICFLOW_SMS__BACKEND", "file")
    get_settings.cache_clear()
    with session_scope(flow_db) as s:  # both windows ended long ago (real clock)
        due, _ = factories.consultation(s, status="published")
        draft, _ = factories.consultation(s, status="draft")
    clock.set_clock(None)

    done = run_due_cycles()
    assert set(done) == {due}
    assert done[due][:2] == ["launch", "open"]
    assert done[due][-2:] == ["close", "report"]
    with session_scope(flow_db) as s:
        assert s.get(Consultation, due).status == "reported"
        assert s.get(Consultation, draft).status == "draft"
        messages = s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()

    assert run_due_cycles() == {}  # nothing in flight any more: nothing done, nothing sent
    with session_scope(flow_db) as s:
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() \
            == messages
