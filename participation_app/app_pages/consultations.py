"""Consultations a visitor may see: open and upcoming ones, or those with results;
filtered by district and topic, a page at a time."""

from __future__ import annotations

import streamlit as st

from participation.queries_consultations import CURRENT_STATUSES, consultations_page, filter_values
from participation_app import state, ui
from participation_app.ui import tr

# A link from a message (…/?consultation=<slug>&view=results) opens the consultation itself.
_wanted = st.query_params.get("consultation")
if _wanted:
    st.switch_page("app_pages/consultation.py", query_params={"c": _wanted})

st.title(tr("list.title"))
ui.show_flash()
st.text(tr("list.intro"))

show = st.radio(
    tr("list.status"),
    ("current", "results"),
    format_func=ui.labels(("current", "results"), lambda v: tr(f"list.show.{v}")),
    horizontal=True,
    key="list_show",
)
statuses = CURRENT_STATUSES if show == "current" else ("tallied", "reported")
with state.db() as s:
    districts, topics = filter_values(s, statuses=statuses)
cols = st.columns(2)
district = cols[0].selectbox(
    tr("list.district"),
    [None, *districts],
    format_func=ui.labels([None, *districts], lambda v: v or tr("list.all")),
    key="list_district",
)
topic = cols[1].selectbox(
    tr("list.topic"),
    [None, *topics],
    format_func=ui.labels([None, *topics], lambda v: v or tr("list.all")),
    key="list_topic",
)

with state.db() as s:
    total = consultations_page(s, statuses=statuses, district=district, topic=topic, limit=0)[1]
offset, limit = ui.pager(f"list_page:{show}:{district}:{topic}", total)
with state.db() as s:
    cards, _ = consultations_page(
        s,
        statuses=statuses,
        district=district,
        topic=topic,
        offset=offset,
        limit=limit,
        newest_first=show == "results",
    )

if not cards:
    ui.alert("info", tr("list.empty"))
for card in cards:
    with st.container(border=True):
        ui.title(card.title)
        ui.row(
            ui.badge(tr(f"status.{card.status}"), card.status),
            ui.badge(tr(f"method.{card.method}")),
            *(ui.badge(v) for v in (card.district, card.topic) if v),
        )
        ui.meta(
            tr(
                "list.window",
                start=ui.when(card.opens_at, card.time_zone),
                end=ui.when(card.closes_at, card.time_zone),
            ),
            tr("detail.zone", zone=card.time_zone),
        )
        if st.button(tr("list.open"), key=f"open:{card.id}"):
            st.switch_page("app_pages/consultation.py", query_params={"c": card.slug})
