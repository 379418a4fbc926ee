"""``civicflow up``: a real Prefect server whose schedules fire, the served deployments, the
app and the webhook server as child processes, all gone after Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from civicflow.up import group_alive, port_free, stop_group
from core import clock
from core.db import session_scope
from models import Consultation

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(every)
    return None


def _flow_runs(api_url: str, flow_name: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return asyncio.run(read())


def test_up_serves_scheduled_flows_and_stops_everything_on_ctrl_c(fresh_db, tmp_path: Path,
                                                                  monkeypatch):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests import factories

    engine = fresh_db.engine()
    with session_scope(engine) as s:  # published, its voting window long past
        due, _ = factories.consultation(s, status="published")
    clock.set_clock(None)
    prefect_port, app_port, hooks_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "CIVICFLOW_DB__URL": engine.url.render_as_string(hide_password=False),
        "CIVICFLOW_APP__OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIVICFLOW_EMAIL__BACKEND": "file", "CIVICFLOW_SMS__BACKEND": "file",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    })
    out = tmp_path / "up.out"
    with out.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "civicflow", "up", "--prefect-port", str(prefect_port),
             "--app-port", str(app_port), "--hooks-port", str(hooks_port)], cwd=tmp_path,
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pids: list[int] = []
    try:
        ready = _wait_for(lambda: up.poll() is not None or "Ctrl-C" in out.read_text(), 180)
        text = out.read_text()
        assert ready, text
        assert up.poll() is None, text
        pids = [int(p) for p in re.findall(r"pid (\d+)", text)]
        assert len(pids) == 4, text  # server, served deployments, app, webhook server
        api_url = f"http://127.0.0.1:{prefect_port}/api"
        assert f"http://127.0.0.1:{prefect_port}" in text
        assert f"http://127.0.0.1:{app_port}" in text
        assert f"http://127.0.0.1:{hooks_port}" in text
        assert (tmp_path / "var" / "prefect" / "prefect.db").is_file()

        # the server's scheduler creates the runs of the cron schedule (never on the
        # temporary API) …
        scheduled = _wait_for(lambda: [r for r in _flow_runs(api_url, "advance-consultations")
                                       if r.auto_scheduled], 60, every=2)
        assert scheduled, (tmp_path / "var" / "log" / "deployments.log").read_text()
        # … and the serving process runs what is submitted to it
        # a scheduled run may hold the deployment's one slot (collision: cancel new), in
        # which case our run is cancelled as designed; try again once that run is over
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            for _ in range(6):
                run = run_deployment("advance-consultations/civicflow", timeout=120,
                                     poll_interval=1, as_subflow=False)
                if not (run.state.is_cancelled()
                        and "concurrency" in (run.state.message or "")):
                    break
                time.sleep(3)
        assert run.state.is_completed(), (tmp_path / "var" / "log" / "deployments.log"
                                          ).read_text()[-3000:]
        with session_scope(engine) as s:
            assert s.get(Consultation, due).status == "closed"
        _launch_from_the_page(engine, api_url, monkeypatch)
        health = _wait_for(lambda: _ok(f"http://127.0.0.1:{app_port}/_stcore/health"), 60)
        assert health, (tmp_path / "var" / "log" / "app.log").read_text()[-3000:]
        hooks_health = _wait_for(lambda: _ok(f"http://127.0.0.1:{hooks_port}/health"), 60)
        assert hooks_health, (tmp_path / "var" / "log" / "hooks.log").read_text()[-3000:]

        os.kill(up.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        assert up.wait(timeout=90) == 0, out.read_text()
        assert "stopped" in out.read_text()
        assert not [p for p in pids if group_alive(p)]
        assert port_free("127.0.0.1", prefect_port)
        assert port_free("127.0.0.1", hooks_port)
    finally:
        if up.poll() is None:
            stop_group(up, timeout=20)
        for pid in pids:
            if group_alive(pid):
                os.killpg(pid, signal.SIGKILL)


def _launch_from_the_page(engine: Any, api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An organizer presses Launch on the Manage page of an app that has ``up``'s server:
    the run is submitted to the served deployment and the page follows its state."""
    from datetime import UTC, datetime, timedelta

    import streamlit as st
    from sqlalchemy import select

    from core.settings import get_settings
    from models import OutboxMessage
    from participation import auth
    from participation.citizens import set_consent
    from participation.consultations import add_proposal, create_consultation
    from tests import factories
    from tests.app.conftest import alerts, button, open_app

    opens = datetime.now(UTC) + timedelta(days=7)
    with session_scope(engine) as s:
        draft = create_consultation(s, actor=factories.SYSTEM, data={
            "slug": "launched-from-the-page", "title": "Launched from the page",
            "method": "approval", "opens_at": opens, "closes_at": opens + timedelta(days=14),
            # no quiet hours: the invitation goes now, whatever the hour this test runs at
            "reminder_policy": {"quiet_start": 0, "quiet_end": 0}})
        add_proposal(s, consultation_id=draft.id, data={"title": "Benches"},
                     actor=factories.SYSTEM)
        willing = factories.citizen(s)
        set_consent(s, citizen_id=willing, channel="email", purpose="invitations",
                    opted_in=True, source="web", actor=factories.SYSTEM)
        organizer = auth.staff_actor(auth.create_staff_user(
            s, username="launcher", role="organizer", password="a long password",
            actor=factories.SYSTEM))
    monkeypatch.setenv("PREFECT_API_URL", api_url)
    monkeypatch.setenv("CIVICFLOW_DB__URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    st.cache_resource.clear()
    at = open_app(organizer, page="app_pages/manage.py")
    at.selectbox[0].set_value("launched-from-the-page").run()
    button(at, "Launch").click().run()
    assert not at.exception, at.exception
    assert any("running on the Prefect server" in c.value for c in at.caption), alerts(at)

    def launched() -> bool:
        at.run()  # what the page's fragment does every 2 s
        return any("Launched:" in a for a in alerts(at))

    assert _wait_for(launched, 120, every=2), alerts(at)
    with session_scope(engine) as s:
        assert s.execute(select(Consultation.status).where(
            Consultation.id == draft.id)).scalar_one() == "published"
        sent = s.execute(select(OutboxMessage.status).where(
            OutboxMessage.consultation_id == draft.id,
            OutboxMessage.citizen_id == willing)).scalars().all()
    assert sent == ["sent"]
    get_settings.cache_clear()
    st.cache_resource.clear()


def _ok(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
