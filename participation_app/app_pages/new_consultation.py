"""New consultation (organizers): method and its parameters, eligibility, the voting
window in the consultation's own time zone. It is created as a draft."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import streamlit as st

from core import clock
from core.errors import CivicFlowError
from core.settings import get_settings
from models.participation import METHODS
from participation.consultations import create_consultation
from participation_app import calendars, state, ui
from participation_app.ui import tr

who = state.require("organizer")
VOTE_TYPES = ("approval", "cumulative", "ordinal")
st.title(tr("new.title"))
ui.show_flash()


@st.cache_data(show_spinner=False)
def _zones() -> list[str]:
    return sorted(available_timezones())


method = st.selectbox(
    tr("new.method"),
    METHODS,
    format_func=ui.labels(METHODS, lambda m: tr(f"method.{m}")),
    key="new_method",
    index=METHODS.index("approval"),
)
zones = _zones()
default_zone = get_settings().app.default_time_zone
zone_name = st.selectbox(
    tr("new.tz"),
    zones,
    index=zones.index(default_zone) if default_zone in zones else 0,
    key="new_tz",
)
zone = ZoneInfo(zone_name)
today = clock.now().astimezone(zone)

# The voting window sits outside the form so that, with the Solar Hijri calendar chosen,
# the date under each (Gregorian) date picker follows the picker at once.
cols = list(st.columns(4))
opens_day = cols[0].date_input(tr("new.opens"), value=today.date(), key="new_opens")
opens_time = cols[1].time_input(
    tr("new.opens_time"), value=time(today.hour, 0), key="new_opens_time", step=900
)
closes_day = cols[2].date_input(
    tr("new.closes"), value=(today + timedelta(days=14)).date(), key="new_closes"
)
closes_time = cols[3].time_input(
    tr("new.closes_time"), value=time(18, 0), key="new_closes_time", step=900
)
if state.calendar() == calendars.SOLAR_HIJRI:
    for col, picked in ((cols[0], opens_day), (cols[2], closes_day)):
        if isinstance(picked, date):
            with col:
                ui.meta(tr("calendar.in_solar_hijri", date=ui.day(picked)))

with st.form("new-consultation"):
    title = st.text_input(tr("new.ctitle"), max_chars=300, key="new_title")
    slug = st.text_input(tr("new.slug"), max_chars=120, key="new_slug")
    body = st.text_area(tr("new.body"), key="new_body")
    cols = list(st.columns(2))
    district = cols[0].text_input(tr("new.district"), max_chars=120, key="new_district")
    topic = cols[1].text_input(tr("new.topic"), max_chars=120, key="new_topic")
    cols = list(st.columns(2))
    elig = cols[0].text_input(tr("new.elig_districts"), key="new_elig")
    min_age = cols[1].number_input(tr("new.min_age"), 0, 120, 0, key="new_min_age")
    params: dict[str, Any] = {}
    cols = list(st.columns(2))
    min_choices = cols[0].number_input(tr("new.min_choices"), 0, 10_000, 0, key="new_min")
    max_choices = cols[1].number_input(tr("new.max_choices"), 0, 10_000, 0, key="new_max")
    quorum = 0.0
    if method == "budget":
        cols = list(st.columns(3))
        budget = cols[0].number_input(
            tr("new.budget"), 0, 10**12, 100_000, step=1000, key="new_budget"
        )
        currency = cols[1].text_input(tr("new.currency"), "EUR", max_chars=8, key="new_cur")
        vote_type = cols[2].selectbox(
            tr("new.vote_type"),
            VOTE_TYPES,
            format_func=ui.labels(VOTE_TYPES, lambda v: tr(f"new.vote_type.{v}")),
            key="new_vote_type",
        )
        cols = list(st.columns(2))
        max_points = cols[0].number_input(tr("new.max_points"), 0, 10**6, 0, key="new_mp")
        max_sum = cols[1].number_input(tr("new.max_sum_points"), 0, 10**7, 0, key="new_msp")
        params.update(
            budget=int(budget) or None,
            currency=currency.strip() or None,
            vote_type=vote_type,
            max_points=int(max_points) or None,
            max_sum_points=int(max_sum) or None,
        )
    if method == "single_choice":
        quorum = st.number_input(tr("new.quorum"), 0.0, 1.0, 0.0, step=0.05, key="new_quorum")
    submitted = st.form_submit_button(tr("new.create"), type="primary")

if submitted:
    params.update(min_choices=int(min_choices), max_choices=int(max_choices) or None)
    eligibility: dict[str, Any] = {}
    districts = [d.strip() for d in elig.split(",") if d.strip()]
    if districts:
        eligibility["districts"] = districts
    if min_age:
        eligibility["minimum_age"] = int(min_age)
    data = {
        "slug": slug.strip(),
        "title": title,
        "body": body,
        "method": method,
        "method_params": {k: v for k, v in params.items() if v is not None},
        "eligibility": eligibility,
        "quorum": float(quorum) or None,
        "opens_at": datetime.combine(opens_day, opens_time, tzinfo=zone),
        "closes_at": datetime.combine(closes_day, closes_time, tzinfo=zone),
        "time_zone": zone_name,
        "district": district.strip() or None,
        "topic": topic.strip() or None,
    }
    try:
        with state.db() as s:
            out = create_consultation(s, data=data, actor=who)
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        st.session_state["manage_slug"] = out.slug
        ui.flash("success", tr("new.created", slug=out.slug))
        st.switch_page("app_pages/manage.py")
