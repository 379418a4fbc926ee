"""CivicFlow's participation app: ``streamlit run participation_app/app.py`` (or
``civicflow app``).

The entry script sets up the session (language, style sheet), builds the navigation for
the signed-in role (:mod:`participation_app.nav`) and runs the chosen page from
``app_pages/``. Pages only lay out widgets, read through the read models of
:mod:`participation` (``participation.queries*``) and write through the services, passing
the session's :class:`~core.actor.Actor`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # `streamlit run` puts only this folder on the path
    sys.path.insert(0, _ROOT)

from participation_app import calendars, nav, state, ui  # noqa: E402
from participation_app.ui import tr  # noqa: E402

st.set_page_config(page_title="CivicFlow", page_icon=":material/how_to_vote:", layout="wide")
state.init()
ui.inject_css()


def _chose_language() -> None:
    st.session_state["ui_lang"] = st.session_state["lang_widget"]
    st.session_state["lang_chosen"] = True


def _chose_calendar() -> None:
    st.session_state["ui_calendar"] = st.session_state["calendar_widget"]


if "ui_calendar" not in st.session_state:
    # not chosen yet: the switch shows the language's calendar (it follows a language change)
    st.session_state.pop("calendar_widget", None)

with st.sidebar:
    st.radio(
        tr("lang.label"),
        state.LANGS,
        index=state.LANGS.index(state.lang()),
        format_func={"en": "English", "fa": "فارسی"}.__getitem__,
        horizontal=True,
        key="lang_widget",
        on_change=_chose_language,
    )
    st.radio(
        tr("calendar.label"),
        calendars.CALENDARS,
        index=calendars.CALENDARS.index(state.calendar()),
        format_func=ui.labels(calendars.CALENDARS, lambda c: tr(f"calendar.{c}")),
        horizontal=True,
        key="calendar_widget",
        on_change=_chose_calendar,
    )
    who = state.actor()
    if who is not None:
        st.text(tr("side.signed_in_as"))
        ui.text(state.display_name(), cls="cf-text cf-who")
        st.text(f"{tr('side.role')}: {tr('role.' + state.role())}")
        if st.button(tr("side.signout"), key="signout"):
            state.sign_out()
            st.rerun()

page = nav.navigation(state.role())
page.run()
