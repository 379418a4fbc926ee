"""Messages and consent: which purposes the citizen agrees to receive, on which channel."""

from __future__ import annotations

import streamlit as st

from core.errors import CivicFlowError
from models.participation import CHANNELS_OUTBOUND, PURPOSES
from participation.citizens import consents_of, set_consent
from participation_app import queries, state, ui
from participation_app.ui import tr

who = state.require("citizen")
cid = int(who.id or 0)
st.title(tr("prefs.title"))
ui.show_flash()
st.text(tr("prefs.intro"))
with state.db() as s:
    profile = queries.citizen_profile(s, citizen_id=cid)
    current = consents_of(s, citizen_id=cid)
if profile is None:
    st.stop()

has = {"email": profile.has_email, "sms": profile.has_phone}
with st.form("consents"):
    cols = st.columns(len(CHANNELS_OUTBOUND))
    wanted: dict[tuple[str, str], bool] = {}
    for col, channel in zip(cols, CHANNELS_OUTBOUND, strict=True):
        with col:
            st.subheader(tr(f"channel.{channel}"))
            if not has[channel]:
                ui.alert("info", tr("prefs.no_address", channel=tr(f"channel.{channel}")))
                continue
            for purpose in PURPOSES:
                wanted[(channel, purpose)] = st.checkbox(
                    tr(f"prefs.purpose.{purpose}"),
                    value=current.get((channel, purpose), False),
                    key=f"consent:{channel}:{purpose}",
                )
    if st.form_submit_button(tr("prefs.save"), type="primary"):
        try:
            with state.db() as s:
                for (channel, purpose), opted_in in wanted.items():
                    if current.get((channel, purpose), False) != opted_in:
                        set_consent(
                            s,
                            citizen_id=cid,
                            channel=channel,
                            purpose=purpose,
                            opted_in=opted_in,
                            source="web",
                            actor=who,
                        )
        except CivicFlowError as exc:
            ui.error(exc)
        else:
            ui.flash("success", tr("prefs.saved"))
            st.rerun()
