"""Per-browser-session state of the app: the database, who is signed in, the language.

Everything here lives in ``st.session_state`` (kept on the server, per browser tab), so a
visitor cannot claim a role by editing the page: the :class:`~core.actor.Actor` is put there
only by the sign-in page after :mod:`participation.auth` accepted a code or a password, and
every service call passes it on so the services check again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.actor import Actor
from core.db import make_engine, session_scope
from core.settings import get_settings
from participation_app import calendars

Role = Literal["anonymous", "citizen", "organizer", "council", "admin"]
LANGS = ("en", "fa")
# The language lives in a plain key (``ui_lang``), not in the switch's widget key: Streamlit
# drops a widget's state when a run is cut short by a page switch, and the language must
# survive that.
_KEEP = ("ui_lang", "lang_chosen", "lang_widget", "ui_calendar", "calendar_widget")


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    """One engine per database URL and process (the pool is shared by every session)."""
    settings = get_settings()
    return make_engine(url, busy_timeout_ms=settings.db.busy_timeout_ms, echo=settings.db.echo)


def engine() -> Engine:
    """Return the engine of the configured database (``CIVICFLOW_DB__URL``)."""
    return _engine(get_settings().db.url)


@contextmanager
def db() -> Iterator[Session]:
    """Open one transaction: committed when the block ends, rolled back on any error."""
    with session_scope(engine()) as session:
        yield session


def init() -> None:
    """Set the defaults of a new browser session; apply a language chosen by sign-in.

    ``?lang=fa`` in the first URL picks Persian (the link in a Persian message uses it).
    """
    ss = st.session_state
    if "ui_lang" not in ss:
        wanted = st.query_params.get("lang", get_settings().app.default_locale)
        ss["ui_lang"] = wanted if wanted in LANGS else "en"
    pending = ss.pop("lang_next", None)
    if pending in LANGS:
        ss["ui_lang"] = pending
        ss.pop("lang_widget", None)  # the switch shows the new language when drawn next


def lang() -> str:
    """The interface language: ``en`` or ``fa``."""
    value = st.session_state.get("ui_lang", "en")
    return value if value in LANGS else "en"


def calendar() -> str:
    """The calendar dates are shown in: the one chosen in the sidebar, else the language's.

    Returns:
        a name from :data:`participation_app.calendars.CALENDARS`; until the visitor picks
        one (``ui_calendar``), Solar Hijri for Persian and Gregorian for English, so it
        follows a change of language.
    """
    value = st.session_state.get("ui_calendar")
    return value if value in calendars.CALENDARS else calendars.default_calendar(lang())


def actor() -> Actor | None:
    """The signed-in person, or ``None`` for a visitor."""
    value = st.session_state.get("actor")
    return value if isinstance(value, Actor) else None


def role() -> Role:
    """The role that decides which pages exist for this session."""
    who = actor()
    if who is None:
        return "anonymous"
    if who.kind == "citizen":
        return "citizen"
    if who.role in ("organizer", "council", "admin"):
        return who.role  # type: ignore[return-value]
    return "anonymous"


def display_name() -> str:
    """The signed-in person's name as they gave it (user text: render it as text)."""
    return str(st.session_state.get("display_name", ""))


def sign_in(who: Actor, name: str, locale: str | None = None) -> None:
    """Remember a person the sign-in page has just verified.

    Args:
        who: the actor the services will see.
        name: the display name shown in the sidebar.
        locale: the citizen's language; used unless the visitor picked one already.
    """
    keep = set(_KEEP)
    for key in list(st.session_state.keys()):
        if key not in keep:
            del st.session_state[key]
    st.session_state["actor"] = who
    st.session_state["display_name"] = name
    if locale in LANGS and not st.session_state.get("lang_chosen"):
        st.session_state["lang_next"] = locale


def sign_out() -> None:
    """Forget the signed-in person and everything they had on screen."""
    for key in list(st.session_state.keys()):
        if key not in _KEEP:
            del st.session_state[key]


def require(*roles: Role) -> Actor:
    """Stop the page unless the session has one of ``roles`` (admin passes every staff role).

    The page would not exist for other roles (the navigation only lists allowed pages); this
    is the second lock, and the services check a third time.
    """
    who = actor()
    current = role()
    staff_roles = {"organizer", "council", "admin"}
    ok = current in roles or (current == "admin" and bool(staff_roles & set(roles)))
    if who is None or not ok:
        st.stop()
    return who
