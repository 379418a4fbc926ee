"""AppTest fixtures: a committed, migrated database per test (``fresh_db``), the app
pointed at it through ``CIVICFLOW_DB__URL``, and ``st.cache_resource`` cleared so the app's
cached engine is the test's."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from core.actor import Actor
from core.db import make_engine, session_scope
from core.settings import get_settings
from participation import auth
from tests import factories as f
from tests.conftest import PG_URL

APP = Path(__file__).resolve().parents[2] / "participation_app" / "app.py"
SYSTEM = Actor(kind="system", name="test")


@dataclass
class AppDb:
    """The test's database: its engine and URL, and a way to write committed data."""

    engine: Engine
    url: str

    def session(self) -> Any:
        """A committed transaction (``with db.session() as s:``)."""
        return session_scope(self.engine)

    def staff(self, role: str, username: str | None = None) -> Actor:
        """Create a staff user with ``role`` and return the actor the app would hold."""
        name = username or f"{role}{next(f._seq)}"
        with self.session() as s:
            out = auth.create_staff_user(
                s, username=name, role=role, password="a long password", actor=SYSTEM
            )
        return auth.staff_actor(out)


@pytest.fixture(scope="session", autouse=True)
def _scan_components_once() -> Iterator[None]:
    """AppTest scans every installed distribution for Streamlit components before each new
    app (about 0.6 s here); the app has none, so the scan runs once per test session."""
    from streamlit.components.v2 import manifest_scanner

    original = manifest_scanner.scan_component_manifests
    manifest_scanner.scan_component_manifests = functools.cache(original)
    yield
    manifest_scanner.scan_component_manifests = original


def _point_app_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_DB__URL", url)
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_db(fresh_db, monkeypatch, tmp_path) -> Iterator[AppDb]:
    """A new migrated database the app uses (SQLite file or PostgreSQL schema); reports and
    outbox files go into the test's temporary folder."""
    engine = fresh_db.engine()
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("CIVICFLOW_APP__REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CIVICFLOW_APP__OUTBOX_DIR", str(tmp_path / "outbox"))
    _point_app_at(url, monkeypatch)
    yield AppDb(engine, url)
    st.cache_resource.clear()
    get_settings.cache_clear()
    drop_now(engine)


def drop_now(engine: Engine) -> None:
    """Close ``engine`` and, on PostgreSQL, drop its schema at once.

    The shared ``fresh_db`` drops every schema it made in one transaction at the end of the
    session; with one schema per app test that runs out of lock slots
    (``max_locks_per_transaction``), so app tests drop theirs one by one.
    """
    engine.dispose()
    if engine.dialect.name != "postgresql":
        return
    options = str(engine.url.query.get("options", ""))
    schema = options.partition("search_path=")[2]
    if not schema.startswith("cf_test_"):
        return
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def open_app(
    actor: Actor | None = None,
    *,
    name: str = "",
    lang: str | None = None,
    page: str | None = None,
    query: dict[str, str] | None = None,
) -> AppTest:
    """Run the app as ``actor`` (None = a visitor), then switch to ``page`` if given."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    if actor is not None:
        at.session_state["actor"] = actor
        at.session_state["display_name"] = name or actor.name or "someone"
    if lang is not None:
        at.session_state["ui_lang"] = lang
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def html_bodies(at: AppTest) -> list[str]:
    """The raw bodies of every ``st.html`` element on the page."""
    return [el.proto.body for el in at.get("html")]


def page_text(at: AppTest) -> str:
    """What a reader sees: the text of ``st.html`` blocks (tags removed, entities decoded),
    ``st.text``, titles and headers, one item per line."""
    parts = [
        html.unescape(re.sub(r"<[^>]+>", " ", b))
        for b in html_bodies(at)
        if not b.lstrip().startswith("<style")
    ]
    parts += [t.value for t in at.text]
    parts += [t.value for t in at.title] + [h.value for h in at.header]
    parts += [h.value for h in at.subheader]
    return "\n".join(parts)


def alerts(at: AppTest) -> list[str]:
    """The texts of the app's message boxes (``ui.alert``), kind first: ``success: …``."""
    out = []
    for body in html_bodies(at):
        m = re.match(r'<div class="cf-alert cf-alert-(\w+)"[^>]*>(.*)</div>$', body, re.S)
        if m:
            out.append(f"{m.group(1)}: {html.unescape(m.group(2))}")
    return out


def button(at: AppTest, label: str, nth: int = 0) -> Any:
    """The ``nth`` button whose label is ``label``."""
    found = [b for b in at.button if b.label == label]
    assert len(found) > nth, f"no button {label!r} (have {[b.label for b in at.button]})"
    return found[nth]


def db_session(app_db: AppDb) -> Session:
    """A plain session for reading back what the app wrote."""
    return Session(app_db.engine)


def slug_of(app_db: AppDb, consultation_id: int) -> str:
    """The slug of a consultation the factories made."""
    from models import Consultation

    with app_db.session() as s:
        return str(s.get(Consultation, consultation_id).slug)


CONSULTATION = "app_pages/consultation.py"
