"""Unsubscribe landing page: ``{app.base_url}/unsubscribe?token=…``, the link in every email.

The signed token (:mod:`notifications.unsubscribe`) names one citizen, one channel and one
purpose, so the page withdraws exactly that consent without signing in
(:func:`notifications.delivery.handle_unsubscribe`) and says so in the citizen's language.
Opening the link again is harmless: the consent stays withdrawn and the same words are
shown. Within one browser session the withdrawal runs once per token; reruns (a language
switch) show the stored outcome.
"""

from __future__ import annotations

import streamlit as st

from core.errors import NotFound, ValidationError
from notifications.delivery import handle_unsubscribe
from participation.citizens import citizen_locale
from participation_app import state, ui
from participation_app.ui import tr

st.title(tr("unsub.title"))
token = st.query_params.get("token", "").strip()
if not token:
    ui.alert("error", tr("unsub.missing"))
    st.stop()

done: dict[str, tuple[str, tuple[str, ...], str]] = st.session_state.setdefault("_unsub", {})
if token not in done:
    try:
        with state.db() as s:
            out = handle_unsubscribe(s, token=token)
            locale = citizen_locale(s, citizen_id=out.citizen_id)
    except ValidationError:
        ui.alert("error", tr("unsub.invalid"))
        st.stop()
    except NotFound:
        ui.alert("error", tr("unsub.gone"))
        st.stop()
    done[token] = (out.channel, tuple(out.purposes), locale)
    # speak the citizen's language unless the visitor chose one (switch or ?lang=)
    chosen = st.session_state.get("lang_chosen") or "lang" in st.query_params
    if not chosen and locale in state.LANGS and locale != state.lang():
        st.session_state["lang_next"] = locale
        st.rerun()

channel, purposes, _ = done[token]
where = tr(f"channel.{channel}")
if len(purposes) == 1:
    ui.alert(
        "success",
        tr("unsub.done", what=tr(f"prefs.purpose.{purposes[0]}"), channel=where),
    )
else:
    ui.alert("success", tr("unsub.done_all", channel=where))
st.text(tr("unsub.again"))
