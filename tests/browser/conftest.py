"""Browser journeys: the app served by ``streamlit run`` on a free localhost port (started
and stopped here), driven by Playwright with Debian's Chromium (``/usr/bin/chromium``; no
browser is downloaded). Screenshots of each journey's last page go to
``test-output/screenshots/``."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.db import session_scope
from core.settings import get_settings
from models import OutboxMessage
from participation import auth
from participation.ballots import cast_ballot
from participation.citizens import register_citizen
from participation.consultations import add_proposal, create_consultation, transition
from participation.tallying import tally
from tests.app.conftest import drop_now

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SYSTEM = Actor(kind="system", name="browser-test")
PASSWORD = "a long password"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    """What the journeys use: the app's URL, the database and the people in it."""

    url: str
    engine: Engine
    outbox_dir: Path
    slugs: dict[str, str] = field(default_factory=dict)
    citizens: dict[str, str] = field(default_factory=dict)

    def signin_code(self, address: str) -> str:
        """The newest sign-in code sent to ``address``.

        Read from the outbox folder after running delivery (``notifications.delivery``,
        file backend) when it exists; otherwise from the queued outbox payload.
        """
        try:
            from notifications.delivery import deliver_pending, make_senders
        except ImportError:  # pragma: no cover - delivery not there yet
            with Session(self.engine) as s:
                msg = (
                    s.execute(
                        select(OutboxMessage)
                        .where(OutboxMessage.kind == "signin_code")
                        .order_by(OutboxMessage.id.desc())
                    )
                    .scalars()
                    .first()
                )
                assert msg is not None
                return str(msg.payload["code"])
        email_sender, sms_sender = make_senders(outbox_dir=str(self.outbox_dir))
        deliver_pending(self.engine, email_sender=email_sender, sms_sender=sms_sender)
        newest = max(self.outbox_dir.glob("signin_code*.eml"), key=lambda p: p.stat().st_mtime)
        message = email.message_from_bytes(newest.read_bytes(), policy=email.policy.default)
        assert address in str(message["To"])
        text = next(
            part.get_content() for part in message.walk() if part.get_content_type() == "text/plain"
        )
        found = re.search(r"(?<![0-9۰-۹])[0-9۰-۹]{6}(?![0-9۰-۹])", text)
        assert found, text
        return found.group(0).translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))


def _seed(engine: Engine) -> tuple[dict[str, str], dict[str, str]]:
    """An open budget consultation, a counted one, two citizens and one staff user per role."""
    now = clock.now()
    slugs: dict[str, str] = {}
    with session_scope(engine) as s:
        for lang in ("en", "fa"):
            register_citizen(
                s,
                actor=SYSTEM,
                data={
                    "display_name": "Ann Example" if lang == "en" else "آنا نمونه",
                    "email": f"citizen-{lang}@example.invalid",
                    "locale": lang,
                    "district": "North",
                },
            )
        for role in ("organizer", "council"):
            auth.create_staff_user(
                s, username=role, role=role, password=PASSWORD, actor=SYSTEM,
                display_name=f"{role.title()} Example",
            )  # fmt: skip
        budget = create_consultation(
            s,
            actor=SYSTEM,
            data={
                "slug": "park-budget",
                "title": "Park budget 2027",
                "body": "Choose the projects for the park; the budget is 1,000 EUR.",
                "method": "budget",
                "method_params": {"budget": 1000, "currency": "EUR"},
                "opens_at": now - timedelta(hours=1),
                "closes_at": now + timedelta(days=14),
                "district": "North",
                "topic": "parks",
            },
        )
        for title, cost in (("New trees", 600), ("Benches", 300), ("Lights", 500)):
            add_proposal(
                s, consultation_id=budget.id, data={"title": title, "cost": cost}, actor=SYSTEM
            )
        transition(s, consultation_id=budget.id, to="published", actor=SYSTEM)
        transition(s, consultation_id=budget.id, to="open", actor=SYSTEM)
        slugs["budget"] = budget.slug

        opens, closes = now - timedelta(days=10), now - timedelta(days=1)
        counted = create_consultation(
            s,
            actor=SYSTEM,
            data={
                "slug": "library-hours",
                "title": "Library opening hours",
                "method": "approval",
                "opens_at": opens,
                "closes_at": closes,
            },
        )
        pids = [
            add_proposal(s, consultation_id=counted.id, data={"title": t}, actor=SYSTEM)
            for t in ("Open on Sundays", "Open until 22:00")
        ]
        transition(s, consultation_id=counted.id, to="published", actor=SYSTEM, at=opens)
        transition(s, consultation_id=counted.id, to="open", actor=SYSTEM, at=opens)
        with clock.frozen(opens + timedelta(hours=1)):
            voter = register_citizen(
                s, actor=SYSTEM, data={"display_name": "Voter", "email": "v@example.invalid"}
            )
            cast_ballot(
                s,
                consultation_id=counted.id,
                citizen_id=voter.id,
                choices={pids[0]: 1},
                channel="web",
                actor=auth.citizen_actor(voter.id),
            )
        transition(s, consultation_id=counted.id, to="closed", actor=SYSTEM, at=closes)
        tally(s, consultation_id=counted.id, actor=SYSTEM)
        slugs["counted"] = counted.slug
    return slugs, {lang: f"citizen-{lang}@example.invalid" for lang in ("en", "fa")}


@pytest.fixture(scope="module")
def world(fresh_db, tmp_path_factory) -> Iterator[World]:
    """The app, served by ``streamlit run`` against a fresh seeded database."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    engine = fresh_db.engine()
    url = engine.url.render_as_string(hide_password=False)
    outbox = tmp_path_factory.mktemp("outbox")
    env = {
        "CIVICFLOW_DB__URL": url,
        "CIVICFLOW_APP__OUTBOX_DIR": str(outbox),
        "CIVICFLOW_APP__REPORT_DIR": str(tmp_path_factory.mktemp("reports")),
        "CIVICFLOW_EMAIL__BACKEND": "file",
        "CIVICFLOW_SMS__BACKEND": "file",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        slugs, citizens = _seed(engine)
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "participation_app/app.py"),
                "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--global.developmentMode", "false",
                "--client.toolbarMode", "viewer",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.read() == b"ok":
                            break
                except OSError:
                    assert proc.poll() is None, "streamlit exited"
                    assert time.monotonic() < deadline, "streamlit did not start"
                    time.sleep(0.3)
            yield World(base, engine, outbox, slugs, citizens)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            get_settings.cache_clear()
            drop_now(engine)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (its own Streamlit session) and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


def settle(page: Any) -> None:
    """Wait until Streamlit has finished the current run (no running icon, no stale
    elements left from the previous run)."""
    page.wait_for_function(
        """() => !document.querySelector('[data-stale="true"]')
                 && !document.querySelector('[data-testid^="stStatusWidgetRunning"]')"""
    )


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot of the whole of the journey's last page.

    Streamlit scrolls inside its main area, not the document, so the window is made as tall
    as the content first.
    """
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('.stMain'); return m ? m.scrollHeight : 0 }"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 800), 6000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
