"""Messages and consent: the channel tried first, the language, and which purposes the
citizen agrees to receive on which channel."""

from __future__ import annotations

import streamlit as st

from core.errors import CivicFlowError
from models.participation import CHANNELS_OUTBOUND, PURPOSES
from participation.citizens import consents_of, set_consent, set_contact_preferences
from participation.queries_citizens import citizen_profile
from participation_app import i18n, state, ui
from participation_app.ui import tr

who = state.require("citizen")
cid = int(who.id or 0)
st.title(tr("prefs.title"))
ui.show_flash()
st.text(tr("prefs.intro"))
with state.db() as s:
    profile = citizen_profile(s, citizen_id=cid)
    current = consents_of(s, citizen_id=cid)
if profile is None:
    st.stop()

has = {"email": profile.has_email, "sms": profile.has_phone}
st.subheader(tr("prefs.contact_title"))
with st.form("contact"):
    # only channels the citizen has an address on; the current one stays listed regardless
    channels = [ch for ch in CHANNELS_OUTBOUND if has[ch] or ch == profile.preferred_channel]
    channel = st.radio(
        tr("prefs.channel_label"),
        channels,
        index=channels.index(profile.preferred_channel),
        format_func=ui.labels(channels, lambda v: tr(f"channel.{v}")),
        horizontal=True,
        key="pref_channel",
    )
    locales = list(state.LANGS)
    locale = st.radio(
        tr("prefs.locale_label"),
        locales,
        index=locales.index(profile.locale) if profile.locale in locales else 0,
        format_func=ui.labels(locales, lambda v: tr(f"locale.{v}")),
        horizontal=True,
        key="pref_locale",
    )
    if st.form_submit_button(tr("prefs.contact_save"), type="primary"):
        try:
            with state.db() as s:
                out = set_contact_preferences(
                    s,
                    citizen_id=cid,
                    preferred_channel=str(channel),
                    locale=str(locale),
                    actor=who,
                )
        except CivicFlowError as exc:
            ui.error(exc)
        else:
            lang = out.locale
            words = {
                "channel": i18n.t(lang, f"channel.{out.preferred_channel}"),
                "language": i18n.t(lang, f"locale.{lang}"),
            }
            ui.flash("success", i18n.t(lang, "prefs.contact_saved", **words))
            # the language of messages is the language of the app too
            st.session_state["lang_next"] = lang
            st.session_state["lang_chosen"] = True
            st.rerun()

st.subheader(tr("prefs.consent_title"))
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
