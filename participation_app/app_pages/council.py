"""Council answers: the results of a counted consultation and, for each proposal, the
council's decision (accepted or rejected) with its reasons ("you said, we did")."""

from __future__ import annotations

import streamlit as st

from core.errors import CivicFlowError
from participation.consultations import answer_proposal
from participation.queries import answered_count, proposals_page
from participation.queries_consultations import consultation_options, consultation_view
from participation_app import report_view, results, state, ui
from participation_app.ui import tr

who = state.require("council")
st.title(tr("council.title"))
ui.show_flash()
with state.db() as s:
    options = consultation_options(s, statuses=("tallied", "reported"))
if not options:
    ui.alert("info", tr("council.none"))
    st.stop()
slugs = [slug for _, slug, _ in options]
status_of = {slug: status for _, slug, status in options}
slug = st.selectbox(
    tr("council.pick"),
    slugs,
    key="council_slug",
    format_func=ui.labels(slugs, lambda v: f"{v} — {tr('status.' + status_of[v])}"),
)
with state.db() as s:
    view = consultation_view(s, ref=slug)
    done, answerable = answered_count(s, consultation_id=view.id) if view else (0, 0)
if view is None:
    st.stop()
ui.title(view.title, level=2)
st.progress(done / answerable if answerable else 0.0)
st.text(tr("council.progress", done=done, total=answerable))
results.render(view)

st.header(tr("detail.proposals"))
with state.db() as s:
    total = proposals_page(s, consultation_id=view.id, limit=0)[1]
offset, limit = ui.pager(f"cpage:{view.id}", total)
with state.db() as s:
    items, _ = proposals_page(
        s, consultation_id=view.id, offset=offset, limit=limit, with_votes=True
    )
currency = str(view.params.get("currency") or "")
decisions = ("accepted", "rejected")
for item in items:
    with st.container(border=True):
        ui.title(f"#{item.ref} {item.title}", level=4)
        facts = [
            ui.badge(tr(f"pstatus.{item.status}"), item.status),
            ui.badge(tr("detail.votes", n=item.votes or 0)),
        ]
        if item.cost is not None:
            facts.append(ui.badge(tr("detail.cost", cost=f"{ui.num(item.cost)} {currency}")))
        ui.row(*facts)
        ui.text(item.body)
        if item.status == "withdrawn":
            continue
        if item.answer:
            st.text(tr("council.current"))
            ui.text(item.answer, cls="cf-text cf-answer")
        else:
            st.text(tr("council.unanswered"))
        with st.form(f"answer:{item.id}"):
            decision = st.radio(
                tr("council.decision"),
                decisions,
                index=decisions.index(item.status) if item.status in decisions else 0,
                format_func=ui.labels(decisions, lambda d: tr(f"council.{d}")),
                horizontal=True,
            )
            reasons = st.text_area(tr("council.reasons"), value=item.answer or "")
            if st.form_submit_button(tr("council.save"), type="primary"):
                try:
                    with state.db() as s:
                        answer_proposal(
                            s,
                            proposal_id=item.id,
                            decision=str(decision),
                            answer=reasons,
                            actor=who,
                        )
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    ui.flash("success", tr("council.saved"))
                    st.rerun()

report_view.render(view)
report_view.files(view)
