"""Restart safety: a cycle killed mid-way finishes when run again, nothing sent twice.

The cycle runs in a child process (a client of the session's Prefect test server) whose
senders journal every message key they are asked to send *before* sending it. The test
kills the child's process group with SIGKILL after the invitations went out and ballots
began to arrive, then runs the cycle again in a new child, to the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
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
REPO = Path(__file__).resolve().parents[2]

RUNNER = '''
"""Run consultation-cycle (simulated clock) with senders that journal each key first."""
import os
import sys
from pathlib import Path

import notifications.backends.file as fb

journal = Path(os.environ["CF_JOURNAL"])


def _note(keys):
    with journal.open("a", encoding="utf-8") as out:
        out.write("".join(k + "\\n" for k in keys))
        out.flush()
        os.fsync(out.fileno())


_batch, _send = fb.FileEmailSender.send_batch, fb.FileSmsSender.send


def send_batch(self, messages):
    _note([m.key for m in messages])
    return _batch(self, messages)


def send(self, message):
    _note([message.key])
    return _send(self, message)


fb.FileEmailSender.send_batch, fb.FileSmsSender.send = send_batch, send
from flows.cycle import consultation_cycle  # noqa: E402

out = consultation_cycle(int(sys.argv[1]), simulate=True, ballots_source=sys.argv[2])
print("selected", sorted(out["result"]["selected"]))
'''


@pytest.fixture
def staged(prefect_harness, flow_db, realdata, tmp_path, monkeypatch):
    """A draft consultation staged from a real Pabulib file, and the child's environment."""
    from prefect.settings import PREFECT_API_URL

    from core.settings import get_settings

    env = {
        "CIVICFLOW_APP__OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIVICFLOW_APP__REPORT_DIR": str(tmp_path / "reports"),
        "CIVICFLOW_EMAIL__BACKEND": "file",
        "CIVICFLOW_SMS__BACKEND": "file",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    path = realdata / "pabulib-outcomes" / FILE
    opens = datetime(2016, 6, 6, 7, 0, tzinfo=UTC)
    clock.set_clock(clock.FrozenClock(opens.replace(day=1)))
    with session_scope(flow_db) as s:
        out = stage_budget_cycle(s, path=path, actor=Actor("system", name="test"),
                                 turnout=0.5, opens_at=opens)
    clock.set_clock(None)
    child_env = {**os.environ, **env,
                 "CIVICFLOW_DB__URL": flow_db.url.render_as_string(hide_password=False),
                 "PREFECT_API_URL": str(PREFECT_API_URL.value()),
                 "CF_JOURNAL": str(tmp_path / "journal.txt")}
    return out, path, tmp_path, child_env


def _start(tmp: Path, env: dict[str, str], consultation_id: int, path: Path,
           log: str) -> subprocess.Popen[bytes]:
    script = tmp / "run_cycle.py"
    script.write_text(RUNNER, encoding="utf-8")
    with (tmp / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(script), str(consultation_id), str(path)], cwd=REPO, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _state(engine):
    with session_scope(engine) as s:
        ballots = set(s.execute(select(Ballot.id)).scalars())
        rows = s.execute(select(OutboxMessage.idempotency_key, OutboxMessage.kind,
                                OutboxMessage.status)).all()
    return ballots, rows


def test_a_cycle_killed_midway_finishes_on_restart_sending_nothing_twice(staged, flow_db):
    out, path, tmp, env = staged
    child = _start(tmp, env, out.consultation_id, path, "first.log")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and child.poll() is None:
            ballots, rows = _state(flow_db)
            invited = [r for r in rows if r[1] == "invitation"]
            if ballots and invited and all(st not in ("pending", "sending")
                                           for _, _, st in invited):
                break
            time.sleep(0.1)
        assert child.poll() is None, (tmp / "first.log").read_text(errors="replace")[-3000:]
        _kill_group(child)  # SIGKILL: no handler, no cleanup, like a power cut
    finally:
        if child.poll() is None:
            _kill_group(child)
    ballots_at_kill, rows_at_kill = _state(flow_db)
    in_flight = {key for key, _, st in rows_at_kill if st == "sending"}
    with session_scope(flow_db) as s:
        assert s.get(Consultation, out.consultation_id).status == "open"
    assert 0 < len(ballots_at_kill) < 265

    again = _start(tmp, env, out.consultation_id, path, "second.log")
    try:
        assert again.wait(timeout=240) == 0, (tmp / "second.log").read_text(
            errors="replace")[-3000:]
    finally:
        if again.poll() is None:
            _kill_group(again)

    pb = parse_pb(path)
    published = {p.project_id for p in pb.projects if (p.selected or 0) >= 1}
    assert f"selected {sorted(published)}" in (tmp / "second.log").read_text()
    ballots, rows = _state(flow_db)
    assert ballots_at_kill <= ballots  # no ballot lost …
    assert len(ballots) == len(pb.voters) == 265  # … and none twice
    with session_scope(flow_db) as s:
        assert s.get(Consultation, out.consultation_id).status == "reported"
    keys = [key for key, _, _ in rows]
    assert len(keys) == len(set(keys))
    kinds = Counter((kind, st) for _, kind, st in rows)
    for kind in ("invitation", "reminder", "results", "survey_invitation", "report"):
        assert kinds[(kind, "sent")] > 0, kinds
    stuck = {key for key, _, st in rows if st in ("pending", "sending")}
    assert stuck <= in_flight  # only a batch cut by the kill may wait for its lease
    journal = Counter((tmp / "journal.txt").read_text(encoding="utf-8").split())
    twice = {key for key, n in journal.items() if n > 1}
    assert twice <= in_flight  # the documented at-least-once window, and nothing else
    sent = {key for key, _, st in rows if st == "sent"}
    assert set(journal) >= sent
    files = [p for p in (tmp / "outbox").iterdir() if not p.name.startswith(".")]
    assert len(files) == len(sent)  # one file per message sent


def test_a_restart_between_publishing_and_inviting_still_invites(staged, flow_db):
    """A cycle that died after publishing, before queueing invitations, queues them on
    restart (the launch step is not skipped just because the consultation is published)."""
    from flows.cycle import consultation_cycle
    from flows.lifecycle import FLOW_ACTOR
    from participation.consultations import transition

    out, path, _, _ = staged
    clock.set_clock(clock.FrozenClock(datetime(2016, 6, 4, 7, 0, tzinfo=UTC)))
    with session_scope(flow_db) as s:
        transition(s, consultation_id=out.consultation_id, to="published", actor=FLOW_ACTOR)
    clock.set_clock(None)
    consultation_cycle(out.consultation_id, simulate=True, ballots_source=str(path))
    with session_scope(flow_db) as s:
        invited = s.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "invitation", OutboxMessage.status == "sent")).scalar_one()
        status = s.get(Consultation, out.consultation_id).status
    assert invited > 0
    assert status == "reported"
