"""Offline entry (organizers): ballots and comments that arrived by phone, letter, fax or
in person, recorded for the citizen under the same one-ballot rule as online."""

from __future__ import annotations

import streamlit as st

from core.errors import CivicFlowError, ValidationError
from models.participation import STANCES
from participation.ballots import cast_ballot
from participation.comments import MAX_COMMENT_CHARS, post_comment
from participation.queries import proposals_by_refs
from participation.queries_citizens import lookup_citizen
from participation.queries_consultations import consultation_options, consultation_view
from participation.schemas import OFFLINE_CHANNELS
from participation_app import state, ui, voting
from participation_app.ballot_entry import parse_paper_ballot
from participation_app.basket import kind_of
from participation_app.ui import tr

who = state.require("organizer")
st.title(tr("off.title"))
ui.show_flash()
st.text(tr("off.intro"))

with state.db() as s:
    options = consultation_options(s, statuses=("published", "open"))
if not options:
    ui.alert("info", tr("off.none"))
    st.stop()
slugs = [slug for _, slug, _ in options]
status_of = {slug: status for _, slug, status in options}
slug = st.selectbox(
    tr("off.consultation"),
    slugs,
    key="off_slug",
    format_func=ui.labels(slugs, lambda v: f"{v} — {tr('status.' + status_of[v])}"),
)
with state.db() as s:
    view = consultation_view(s, ref=slug)
if view is None:
    st.stop()
ui.title(view.title, level=3)

cols = st.columns([3, 2])
query = cols[0].text_input(tr("off.find"), key="off_citizen", max_chars=320)
channels = sorted(OFFLINE_CHANNELS)
channel = cols[1].selectbox(
    tr("off.channel"),
    channels,
    format_func=ui.labels(channels, lambda c: tr(f"channel.{c}")),
    key="off_channel",
)
citizen = None
if query.strip():
    try:
        with state.db() as s:
            citizen = lookup_citizen(s, query=query)
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        if citizen is None:
            ui.alert("warning", tr("off.not_found"))
        else:
            st.text(tr("off.found"))
            ui.text(f"{citizen.display_name} · {citizen.district or ''} · {citizen.public_id}")
if citizen is None:
    st.stop()

kind = kind_of(voting.rules_of(view))
help_key = {
    "approve": "off.help.approval",
    "budget": "off.help.approval",
    "ranking": "off.help.ranked",
    "points": "off.help.cumulative",
    "yes_no": "off.help.single_choice",
    "agree": "off.help.agree_disagree",
}[kind]

ballot_tab, comment_tab = st.tabs([tr("off.ballot"), tr("off.comment")])
with ballot_tab:
    if view.status != "open":
        ui.alert("info", tr("off.not_open"))
    else:
        with st.form("offline-ballot"):
            typed = st.text_input(tr("off.choices"), help=tr(help_key), key="off_choices")
            st.text(tr(help_key))
            if st.form_submit_button(tr("off.record"), type="primary"):
                try:
                    pairs = parse_paper_ballot(kind, typed)
                    with state.db() as s:
                        found = proposals_by_refs(
                            s, consultation_id=view.id, refs=[r for r, _ in pairs]
                        )
                        missing = [r for r, _ in pairs if r not in found]
                        if missing:
                            raise ValidationError(
                                tr("off.unknown_refs", refs=", ".join(missing)), field="choices"
                            )
                        receipt = cast_ballot(
                            s,
                            consultation_id=view.id,
                            citizen_id=citizen.id,
                            choices={found[r].id: v for r, v in pairs},
                            channel=channel,
                            actor=who,
                        )
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    ui.flash("success", tr("off.recorded", code=receipt.receipt_code))
                    st.rerun()

with comment_tab, st.form("offline-comment", clear_on_submit=True):
    ref = st.text_input(tr("off.proposal_ref"), max_chars=120)
    stance = st.radio(
        tr("comments.stance"),
        STANCES,
        index=STANCES.index("neutral"),
        format_func=ui.labels(STANCES, lambda v: tr(f"stance.{v}")),
        horizontal=True,
    )
    body = st.text_area(tr("comments.body"), max_chars=MAX_COMMENT_CHARS)
    if st.form_submit_button(tr("off.post"), type="primary"):
        try:
            with state.db() as s:
                found = proposals_by_refs(
                    s, consultation_id=view.id, refs=[ref.strip().lstrip("#")]
                )
                if not found:
                    raise ValidationError(tr("off.unknown_refs", refs=ref), field="proposal")
                post_comment(
                    s,
                    proposal_id=next(iter(found.values())).id,
                    citizen_id=citizen.id,
                    body=body,
                    stance=str(stance),
                    channel=channel,
                    actor=who,
                )
        except CivicFlowError as exc:
            ui.error(exc)
        else:
            ui.flash("success", tr("off.posted"))
            st.rerun()
