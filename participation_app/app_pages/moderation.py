"""Moderation queue (organizers): reported comments, most reports first, and hidden ones;
hide or restore each with a reason (kept in the audit log)."""

from __future__ import annotations

import streamlit as st

from core.errors import CivicFlowError
from participation.comments import moderate_comment
from participation.queries_comments import moderation_queue
from participation_app import state, ui
from participation_app.ui import tr

who = state.require("organizer")
st.title(tr("mod.title"))
ui.show_flash()
queue = st.radio(
    tr("mod.title"),
    ("reported", "hidden"),
    format_func=ui.labels(("reported", "hidden"), lambda v: tr(f"mod.{v}")),
    horizontal=True,
    key="mod_queue",
    label_visibility="collapsed",
)
hidden = queue == "hidden"
with state.db() as s:
    total = moderation_queue(s, hidden=hidden, limit=0)[1]
offset, limit = ui.pager(f"modpage:{queue}", total)
with state.db() as s:
    items, _ = moderation_queue(s, hidden=hidden, offset=offset, limit=limit)
if not items:
    ui.alert("info", tr("mod.empty"))
for item in items:
    with st.container(border=True):
        ui.meta(
            tr(
                "mod.meta",
                id=item.id,
                consultation=item.consultation,
                reports=item.reports,
                stance=tr(f"stance.{item.stance}"),
                state=tr(f"mod.{'hidden' if item.state == 'hidden' else 'reported'}"),
            ),
            ui.when(item.created_at, "UTC"),
            tr("detail.zone", zone="UTC"),
        )
        st.text(tr("mod.on"))
        ui.text(item.proposal_title, cls="cf-text cf-meta")
        ui.text(item.body, cls="cf-text cf-comment-body")
        if item.reason:
            ui.text(tr("mod.why", reason=item.reason), cls="cf-text cf-meta")
        with st.form(f"moderate:{item.id}"):
            cols = st.columns([3, 1], vertical_alignment="bottom")
            reason = cols[0].text_input(tr("mod.reason"), max_chars=300)
            label = tr("mod.restore") if hidden else tr("mod.hide")
            if cols[1].form_submit_button(label, type="primary"):
                try:
                    with state.db() as s:
                        moderate_comment(
                            s, comment_id=item.id, hide=not hidden, reason=reason, actor=who
                        )
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    ui.flash("success", tr("mod.done"))
                    st.rerun()
