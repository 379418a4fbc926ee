"""Killing ``civicflow up`` mid-cycle and starting it again finishes the cycle: every real
ballot counted once, no message sent twice (DESIGN §7, restart safety).

A real-time cycle on a real Pabulib instance (Warsaw 2017, Marysin Południowy, 265 ballots)
with a window of about two minutes. Email goes through the real SendGrid client to a
loopback HTTP server that records every request (each personalization carries its outbox
idempotency key); SMS go to the file backend (one file per send). Citizens keep voting
while ``up`` is down: the ballots go to the database, as offline entry would.

1. ``up`` #1 starts; the organizer launches the cycle (``consultation-cycle`` deployment):
   publish, invitations, delivery; the minute schedule opens the consultation.
2. Once invitations went out and ballots are arriving, ``up`` is killed with SIGKILL — only
   the ``up`` process, as a crash or a closed terminal would, leaving its children to the
   kernel's parent-death signal.
3. ``up`` #2 starts (it stops whatever the first left behind); the catch-up deployment
   (``run-due-cycles``, every five minutes on its schedule, run here on demand once each
   milestone is due) sends the reminder round, closes, tallies, sends results and the
   pulse and emails the report to the council.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from civicflow.up import group_alive, stop_leftovers
from core import clock
from core.actor import Actor
from core.db import session_scope
from models import Ballot, Consultation, OutboxMessage
from participation.importers.pabulib import parse_pb
from participation.simulation import arrive_ballots, stage_budget_cycle
from tests.flows.test_up import _free_port, _wait_for
from tests.notifications.conftest import RecordingHttpServer

pytestmark = pytest.mark.integration

FILE = "poland_warszawa_2017_marysin-poludniowy.pb"
ORGANIZER = Actor("system", name="test")
WINDOW = timedelta(seconds=110)  # opening → closing
REMINDER_AFTER = timedelta(seconds=50)  # the one reminder round, after opening


def _up(tmp: Path, env: dict[str, str], ports: tuple[int, int, int], log: str
        ) -> subprocess.Popen[bytes]:
    with (tmp / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "civicflow", "up", "--prefect-port", str(ports[0]),
             "--app-port", str(ports[1]), "--hooks-port", str(ports[2])], cwd=tmp, env=env,
            stdout=out, stderr=subprocess.STDOUT)


def _ready(proc: subprocess.Popen[bytes], log: Path) -> None:
    ok = _wait_for(lambda: proc.poll() is not None or "Ctrl-C" in log.read_text(), 180)
    assert ok, log.read_text()
    assert proc.poll() is None, log.read_text()


def _run(api_url: str, name: str, **parameters: Any) -> Any:
    """Run a deployment on ``up``'s server and wait; retry if a scheduled run held its slot."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        for _ in range(60):
            try:
                run = run_deployment(f"{name}/civicflow", parameters=parameters, timeout=180,
                                     poll_interval=1, as_subflow=False)
            except ObjectNotFound:  # the serving process has not registered it yet
                time.sleep(1)
                continue
            if not (run.state.is_cancelled() and "concurrency" in (run.state.message or "")):
                return run
            time.sleep(3)
    return run


class Voters(threading.Thread):
    """Citizens voting in real time: each real ballot arrives at its modelled time."""

    def __init__(self, engine: Any, consultation_id: int, path: Path, until: datetime) -> None:
        super().__init__(daemon=True)
        self.engine, self.cid, self.path, self.until = engine, consultation_id, path, until
        self.cast = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                now = datetime.now(UTC)
                with session_scope(self.engine) as s:
                    self.cast += arrive_ballots(s, consultation_id=self.cid, path=self.path,
                                                until=now, actor=ORGANIZER)
                if now >= self.until:
                    return
                time.sleep(1)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _status(engine: Any, cid: int) -> str:
    with session_scope(engine) as s:
        return str(s.get(Consultation, cid).status)


def _outbox(engine: Any) -> list[tuple[str, str, str, str]]:
    with session_scope(engine) as s:
        return [tuple(r) for r in s.execute(select(
            OutboxMessage.idempotency_key, OutboxMessage.kind, OutboxMessage.channel,
            OutboxMessage.status))]


def test_killing_up_mid_cycle_and_starting_it_again_finishes_the_cycle(
        fresh_db, realdata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    recorder = RecordingHttpServer()
    recorder.start()
    engine = fresh_db.engine()
    path = realdata / "pabulib-outcomes" / FILE
    pb = parse_pb(path)
    published = sorted(p.project_id for p in pb.projects if (p.selected or 0) >= 1)
    ports = (_free_port(), _free_port(), _free_port())
    api_url = f"http://127.0.0.1:{ports[0]}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "CIVICFLOW_DB__URL": engine.url.render_as_string(hide_password=False),
        "CIVICFLOW_APP__OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIVICFLOW_APP__REPORT_DIR": str(tmp_path / "reports"),
        "CIVICFLOW_EMAIL__BACKEND": "sendgrid",
        "CIVICFLOW_EMAIL__SENDGRID_API_KEY": "SG.test-key",
        "CIVICFLOW_EMAIL__SENDGRID_HOST": recorder.url,
        "CIVICFLOW_SMS__BACKEND": "file",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    })
    first = second = None
    voters: Voters | None = None
    try:
        first = _up(tmp_path, env, ports, "up1.out")
        _ready(first, tmp_path / "up1.out")

        clock.set_clock(None)
        opens = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        with session_scope(engine) as s:
            staged = stage_budget_cycle(s, path=path, actor=ORGANIZER, turnout=0.5,
                                        opens_at=opens)
            s.execute(update(Consultation).where(Consultation.id == staged.consultation_id)
                      .values(closes_at=opens + WINDOW, reminder_policy={
                          "rounds_hours": [REMINDER_AFTER.total_seconds() / 3600],
                          "quiet_start": 0, "quiet_end": 0, "max_messages": 6,
                          "holdout_share": 0.0}))
        cid = staged.consultation_id

        launched = _run(api_url, "consultation-cycle", consultation_id=cid, simulate=False)
        assert launched.state.is_completed(), (tmp_path / "var/log/deployments.log").read_text()
        voters = Voters(engine, cid, path, opens + WINDOW + timedelta(seconds=2))
        voters.start()

        def mid_cycle() -> bool:
            rows = _outbox(engine)
            invited = [r for r in rows if r[1] == "invitation"]
            return bool(voters.cast and invited and _status(engine, cid) == "open"
                        and all(r[3] not in ("pending", "sending") for r in invited))

        assert _wait_for(mid_cycle, 90, every=1), (_status(engine, cid), voters.cast)
        run_file = tmp_path / "var" / "run" / "up.json"
        groups = [c["pgid"] for c in json.loads(run_file.read_text())["children"]]
        assert len(groups) == 4  # server, served deployments, app, webhook server
        first.kill()  # SIGKILL to `up` alone
        first.wait(timeout=10)
        cast_at_kill = voters.cast
        assert 0 < cast_at_kill < len(pb.voters)

        second = _up(tmp_path, env, ports, "up2.out")
        _ready(second, tmp_path / "up2.out")
        text = (tmp_path / "up2.out").read_text()
        # the first's children died with it or were stopped by the second
        assert "address already in use" not in text.lower(), text
        assert not [g for g in groups if group_alive(g)], text

        _wait_for(lambda: datetime.now(UTC) > opens + REMINDER_AFTER + timedelta(seconds=2),
                  120)
        assert _run(api_url, "run-due-cycles").state.is_completed()
        _wait_for(lambda: datetime.now(UTC) > opens + WINDOW + timedelta(seconds=3), 180)
        voters.join(timeout=30)
        assert voters.error is None, voters.error
        finished = _run(api_url, "run-due-cycles")
        assert finished.state.is_completed(), (tmp_path / "var/log/deployments.log"
                                               ).read_text()[-3000:]
        assert _status(engine, cid) == "reported"

        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=90) == 0, (tmp_path / "up2.out").read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        # whatever either left behind (the run file lists the process groups)
        stop_leftovers(tmp_path / "var" / "run" / "up.json", timeout=5, echo=lambda _: None)
        recorder.stop()

    # no ballot lost, none twice
    with session_scope(engine) as s:
        ballots = s.execute(select(func.count()).select_from(Ballot).where(
            Ballot.consultation_id == cid)).scalar_one()
        result = s.get(Consultation, cid).result
    assert ballots == len(pb.voters) == 265
    assert sorted(result["selected"]) == published

    rows = _outbox(engine)
    assert len({r[0] for r in rows}) == len(rows)
    kinds = Counter((kind, st) for _, kind, _, st in rows)
    for kind in ("invitation", "reminder", "results", "survey_invitation", "report"):
        assert kinds[(kind, "sent")] > 0, kinds
    # no email sent twice: each idempotency key reached the provider once (a batch cut by
    # the kill would wait out its 10-minute lease before being sent again: not in this test)
    keys = Counter(p["custom_args"]["idempotency_key"]
                   for req in recorder.requests for p in req.json()["personalizations"])
    assert [k for k, n in keys.items() if n > 1] == []
    sent_email = {r[0] for r in rows if r[2] == "email" and r[3] == "sent"}
    assert sent_email <= set(keys)
    # no SMS sent twice: one file per SMS, and as many files as SMS marked sent
    sent_sms = [r for r in rows if r[2] == "sms" and r[3] == "sent"]
    files = [p for p in (tmp_path / "outbox").iterdir() if p.name.endswith(".sms.json")]
    assert len(files) == len(sent_sms)
    with contextlib.suppress(FileNotFoundError):
        assert not (tmp_path / "var" / "run" / "up.json").exists()
