"""One consultation: its description, the ballot (while open), the proposals a page at a
time with their comments, and the results once counted."""

from __future__ import annotations

import streamlit as st

from participation.queries import proposals_by_ids, proposals_page
from participation.queries_citizens import ballot_info, citizen_profile
from participation.queries_consultations import PUBLIC_STATUSES, RESULT_STATUSES, consultation_view
from participation.rules import Eligibility, eligibility_refusal
from participation_app import comments_ui, results, state, ui, voting
from participation_app.ui import tr

slug = st.query_params.get("c") or st.session_state.get("consultation_slug")
with state.db() as s:
    view = consultation_view(s, ref=str(slug)) if slug else None
if view is None or view.status not in (*PUBLIC_STATUSES, "archived"):
    ui.alert("warning", tr("detail.missing"))
    st.page_link("app_pages/consultations.py", label=tr("detail.back"), icon=":material/list:")
    st.stop()
st.session_state["consultation_slug"] = view.slug
st.query_params["c"] = view.slug

who = state.actor()
st.page_link("app_pages/consultations.py", label=tr("detail.back"), icon=":material/arrow_back:")
ui.show_flash()
ui.title(view.title, level=2)
ui.row(
    ui.badge(tr(f"status.{view.status}"), view.status),
    ui.badge(tr(f"method.{view.method}")),
)
ui.meta(
    tr(
        "list.window",
        start=ui.when(view.opens_at, view.time_zone),
        end=ui.when(view.closes_at, view.time_zone),
    ),
    tr("detail.zone", zone=view.time_zone),
    tr("detail.district", district=view.district) if view.district else "",
    tr("detail.topic", topic=view.topic) if view.topic else "",
)
ui.text(view.body)

counted = view.status in RESULT_STATUSES
if counted:
    st.header(tr("detail.results"))
    results.render(view)

# --- the ballot -------------------------------------------------------------------------
can_vote = False
if view.status == "open":
    if who is None:
        ui.alert("info", tr("vote.signin"))
        st.page_link("app_pages/signin.py", label=tr("nav.signin"), icon=":material/login:")
    elif who.kind != "citizen":
        ui.alert("info", tr("vote.staff"))
    else:
        with state.db() as s:
            profile = citizen_profile(s, citizen_id=int(who.id or 0))
            mine = ballot_info(s, consultation_id=view.id, citizen_id=int(who.id or 0))
        why = (
            eligibility_refusal(
                Eligibility.from_json(view.eligibility),
                district=profile.district,
                birth_year=profile.birth_year,
                on=view.opens_at,
            )
            if profile is not None
            else "unknown citizen"
        )
        if why:
            ui.alert("warning", tr("vote.not_eligible", why=why))
        else:
            can_vote = True
            if mine is not None:
                ui.alert("info", tr("vote.has_ballot"))
            voting.panel(view, who, has_ballot=mine is not None)

# --- proposals --------------------------------------------------------------------------
st.header(tr("detail.proposals"))
with state.db() as s:
    total = proposals_page(s, consultation_id=view.id, limit=0)[1]
offset, limit = ui.pager(f"ppage:{view.id}", total)
with state.db() as s:
    items, _ = proposals_page(
        s, consultation_id=view.id, offset=offset, limit=limit, with_votes=counted
    )
spent = 0
if can_vote and who is not None:
    bk = voting.basket(view, who)
    if bk.kind == "budget":
        with state.db() as s:
            briefs = proposals_by_ids(s, consultation_id=view.id, ids=bk.ids())
        spent = bk.total_cost({pid: b.cost for pid, b in briefs.items()})
if not items:
    ui.alert("info", tr("detail.no_proposals"))
currency = str(view.params.get("currency") or "")
open_comments = st.session_state.get(f"comments_of:{view.id}")
for item in items:
    with st.container(border=True):
        ui.title(f"#{item.ref} {item.title}", level=4)
        facts = [ui.badge(tr(f"pstatus.{item.status}"), item.status)]
        if item.cost is not None:
            facts.append(ui.badge(tr("detail.cost", cost=f"{ui.num(item.cost)} {currency}")))
        if item.category:
            facts.append(ui.badge(tr("detail.category", category=item.category)))
        if item.votes is not None:
            facts.append(ui.badge(tr("detail.votes", n=item.votes)))
        ui.row(*facts)
        ui.text(item.body)
        if item.answer:
            st.text(tr("detail.answer", status=tr(f"pstatus.{item.status}")))
            ui.text(item.answer, cls="cf-text cf-answer")
        cols = st.columns([2, 3])
        if can_vote and who is not None:
            with cols[0]:
                voting.control(view, who, item, spent)
        showing = open_comments == item.id
        label = tr("detail.hide_comments") if showing else tr("detail.comments_n", n=item.comments)
        if cols[1].button(label, key=f"comments:{item.id}"):
            st.session_state[f"comments_of:{view.id}"] = None if showing else item.id
            st.rerun()
        if showing:
            comments_ui.render(view, item, who)
