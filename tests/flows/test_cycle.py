"""The whole consultation cycle through Prefect, on a real Pabulib file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.db import session_scope
from models import Ballot, Consultation, OutboxMessage
from participation.importers.pabulib import parse_pb
from participation.simulation import stage_budget_cycle

FILE = "poland_warszawa_2017_marysin-poludniowy.pb"  # 265 voters, 2 projects, greedy


@pytest.fixture
def staged(prefect_harness, flow_db, realdata, tmp_path, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("CIVICFLOW_APP__OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("CIVICFLOW_APP__REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CIVICFLOW_EMAIL__BACKEND", "file")
    monkeypatch.setenv("CIVICFLOW_SMS__BACKEND", "file")
    get_settings.cache_clear()
    path = realdata / "pabulib-outcomes" / FILE
    opens = datetime(2016, 6, 6, 7, 0, tzinfo=UTC)
    clock.set_clock(clock.FrozenClock(opens.replace(day=1)))
    with session_scope(flow_db) as s:
        out = stage_budget_cycle(s, path=path, actor=Actor("system", name="test"),
                                 turnout=0.5, opens_at=opens)
    clock.set_clock(None)
    return out, path, tmp_path / "outbox"


def _outbox(engine) -> dict[tuple[str, str, str], int]:
    with session_scope(engine) as s:
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.status,
                                func.count()).group_by(OutboxMessage.kind, OutboxMessage.channel,
                                                       OutboxMessage.status)).all()
    return {(k, c, st): n for k, c, st, n in rows}


def test_cycle_tallies_like_the_city_and_never_sends_twice(staged, flow_db):
    from flows.cycle import consultation_cycle

    out, path, outbox = staged
    pb = parse_pb(path)
    published = {p.project_id for p in pb.projects if (p.selected or 0) >= 1}
    result = consultation_cycle(out.consultation_id, simulate=True, ballots_source=str(path))
    assert set(result["result"]["selected"]) == published
    with session_scope(flow_db) as s:
        c = s.get(Consultation, out.consultation_id)
        assert c.status == "reported"
        ballots = s.execute(select(func.count()).select_from(Ballot)).scalar_one()
    assert ballots == len(pb.voters) == 265
    counts = _outbox(flow_db)
    assert counts[("invitation", "email", "sent")] > 0
    assert counts[("reminder", "email", "sent")] > 0
    assert counts[("results", "email", "sent")] > 0
    assert counts[("survey_invitation", "email", "sent")] > 0
    assert counts[("report", "email", "sent")] == 1  # the one council member
    report = result["report"]
    assert report is not None
    assert Path(report).is_file()
    assert Path(report).with_name("report.pdf").read_bytes().startswith(b"%PDF")
    council_mail = [p for p in outbox.iterdir() if p.name.startswith("report")]
    assert len(council_mail) == 1
    assert b"application/pdf" in council_mail[0].read_bytes()
    assert not any(st in ("pending", "sending") for (_, _, st) in counts)
    files = sorted(p.name for p in outbox.iterdir())
    sent = sum(n for (_, _, st), n in counts.items() if st == "sent")
    assert len(files) == sent

    again = consultation_cycle(out.consultation_id, simulate=True, ballots_source=str(path))
    assert again["result"]["selected"] == result["result"]["selected"]
    assert _outbox(flow_db) == counts
    assert sorted(p.name for p in outbox.iterdir()) == files


def test_no_reminder_reaches_someone_who_had_voted(staged, flow_db):
    from flows.cycle import consultation_cycle

    out, path, _ = staged
    consultation_cycle(out.consultation_id, simulate=True, ballots_source=str(path))
    with session_scope(flow_db) as s:
        late = s.execute(
            select(func.count()).select_from(OutboxMessage).join(
                Ballot, (Ballot.citizen_id == OutboxMessage.citizen_id)
                & (Ballot.consultation_id == OutboxMessage.consultation_id))
            .where(OutboxMessage.kind == "reminder", OutboxMessage.status == "sent",
                   Ballot.cast_at <= OutboxMessage.sent_at)).scalar_one()
        reminded = s.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "reminder", OutboxMessage.status == "sent")).scalar_one()
    assert reminded > 0
    assert late == 0


def test_a_delivery_that_fails_once_is_retried_without_duplicates(staged, flow_db, monkeypatch):
    import notifications.backends.file as file_backend
    from flows.cycle import launch_consultation

    out, _, outbox = staged
    real = file_backend.FileEmailSender.send_batch
    calls = {"n": 0}

    def flaky(self, messages):
        calls["n"] += 1
        if calls["n"] == 1:
            real(self, messages[: len(messages) // 2])  # half written, then the process "dies"
            raise OSError("disk went away")
        return real(self, messages)

    from flows.cycle import deliver_outbox

    monkeypatch.setattr(file_backend.FileEmailSender, "send_batch", flaky)
    sim = clock.FrozenClock(datetime(2016, 6, 4, 8, 0, tzinfo=UTC))
    clock.set_clock(sim)
    launch_consultation(out.consultation_id)
    # the crashed batch's rows stay claimed ("sending"); the task's retries claim nothing
    stuck = _outbox(flow_db).get(("invitation", "email", "sending"), 0)
    assert stuck > 0
    written_before = {p.name for p in Path(outbox).iterdir() if p.suffix == ".eml"}
    sim.advance(timedelta(minutes=11))  # past the lease: the documented rule re-sends them
    deliver_outbox()
    counts = _outbox(flow_db)
    emails = [p for p in Path(outbox).iterdir() if p.suffix == ".eml"]
    assert calls["n"] >= 2
    assert ("invitation", "email", "sending") not in counts
    assert counts[("invitation", "email", "sent")] == len(emails)
    assert written_before <= {p.name for p in emails}  # the file backend wrote each key once
