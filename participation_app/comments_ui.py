"""Threaded comments under a proposal: the form (with stance), replies and reports.

Comment bodies and names are user text: each comment is one ``st.html`` block built from
escaped parts in a ``dir="auto"`` element, so Markdown, HTML and links stay literal text.
"""

from __future__ import annotations

import streamlit as st

from core.actor import Actor
from core.errors import CivicFlowError
from models.participation import STANCES
from participation.comments import MAX_COMMENT_CHARS, post_comment, report_comment
from participation.queries import ProposalItem
from participation.queries_comments import CommentItem, comment_thread, count_top_comments
from participation.queries_consultations import ConsultationView
from participation_app import state, ui
from participation_app.ui import tr


def _stance_word(stance: str) -> str:
    return tr(f"stance.{stance}") if stance in STANCES else stance


def render(view: ConsultationView, item: ProposalItem, who: Actor | None) -> None:
    """Draw the comments of one proposal, a page at a time, with the form to add one."""
    citizen = who is not None and who.kind == "citizen"
    writable = view.status in ("published", "open")
    with st.container(border=True):
        st.subheader(tr("comments.heading"))
        ui.title(f"#{item.ref} {item.title}", level=4)
        if citizen and writable and who is not None:
            _form(view, item, who)
        elif not writable:
            ui.alert("info", tr("comments.closed"))
        elif who is None:
            ui.alert("info", tr("vote.signin"))
        with state.db() as s:
            total_roots = count_top_comments(s, proposal_id=item.id)
        offset, limit = ui.pager(f"cpage:{item.id}", total_roots)
        open_key = f"expanded:{item.id}"
        expanded = frozenset(st.session_state.get(open_key, ()))
        with state.db() as s:
            thread = comment_thread(
                s, proposal_id=item.id, offset=offset, limit=limit, expanded=expanded
            )
        if not thread:
            ui.alert("info", tr("comments.empty"))
        shown_under: dict[int, int] = {}
        for comment in thread:
            if comment.parent_id is not None:
                shown_under[comment.parent_id] = shown_under.get(comment.parent_id, 0) + 1
        for i, comment in enumerate(thread):
            _comment(view, item, comment, who if citizen and writable else None)
            ends_thread = i + 1 == len(thread) or thread[i + 1].depth == 0
            if ends_thread:
                _more_replies(item.id, _root_of(thread, i), shown_under, expanded)


def _root_of(thread: list[CommentItem], i: int) -> CommentItem:
    while thread[i].depth > 0:
        i -= 1
    return thread[i]


def _toggle(key: str, root: int) -> None:
    opened = set(st.session_state.get(key, ()))
    opened.symmetric_difference_update({root})
    st.session_state[key] = opened


def _more_replies(
    proposal_id: int, root: CommentItem, shown: dict[int, int], expanded: frozenset[int]
) -> None:
    """After a thread: "show all N replies" when some are not shown, "hide" when opened."""
    key = f"expanded:{proposal_id}"
    if root.id in expanded:
        st.button(tr("comments.fewer"), key=f"fewer:{root.id}", on_click=_toggle,
                  args=(key, root.id), type="tertiary")  # fmt: skip
    elif root.replies > shown.get(root.id, 0):
        st.button(tr("comments.more", n=root.replies), key=f"more:{root.id}",
                  on_click=_toggle, args=(key, root.id), type="tertiary")  # fmt: skip


def _comment(
    view: ConsultationView,
    item: ProposalItem,
    c: CommentItem,
    who: Actor | None,
) -> None:
    meta = ui.meta_html(
        f"#{c.id}",
        c.author,
        ui.when(c.created_at, view.time_zone),
        _stance_word(c.stance),
        tr("comments.via", channel=tr(f"channel.{c.channel}")) if c.channel != "web" else "",
    )
    depth = min(c.depth, 3)
    st.html(
        f'<div class="cf-comment cf-depth-{depth}" id="comment-{c.id}">'
        f'<div class="cf-meta" dir="{ui.page_dir()}">{meta}</div>'
        f'<div class="cf-text cf-comment-body" dir="auto">{ui.escaped(c.body)}</div></div>'
    )
    if who is None:
        return
    with st.container(horizontal=True):
        reply = st.button(tr("comments.reply"), key=f"reply:{c.id}")
        report = st.button(tr("comments.report"), key=f"report:{c.id}")
    if reply:
        st.session_state[f"reply_to:{item.id}"] = c.id
        st.rerun()
    if report:
        st.session_state["report_target"] = c.id
        st.rerun()
    if st.session_state.get("report_target") == c.id:
        with st.form(f"report-form:{c.id}"):
            reason = st.text_input(tr("comments.report_reason"), max_chars=300)
            if st.form_submit_button(tr("comments.report_send")):
                try:
                    with state.db() as s:
                        report_comment(
                            s,
                            comment_id=c.id,
                            citizen_id=int(who.id or 0),
                            reason=reason,
                            actor=who,
                        )
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    st.session_state.pop("report_target", None)
                    ui.flash("success", tr("comments.reported"))
                    st.rerun()


def _form(view: ConsultationView, item: ProposalItem, who: Actor) -> None:
    reply_key = f"reply_to:{item.id}"
    parent = st.session_state.get(reply_key)
    st.text(tr("comments.new"))
    if parent is not None:
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].text(tr("comments.reply_to", id=parent))
        if cols[1].button(tr("comments.cancel_reply"), key=f"cancel-reply:{item.id}"):
            st.session_state.pop(reply_key, None)
            st.rerun()
    with st.form(f"comment-form:{item.id}", clear_on_submit=True):
        body = st.text_area(tr("comments.body"), max_chars=MAX_COMMENT_CHARS, key="comment_body")
        stance = st.radio(
            tr("comments.stance"),
            STANCES,
            index=STANCES.index("neutral"),
            format_func=ui.labels(STANCES, _stance_word),
            horizontal=True,
            key="comment_stance",
        )
        if st.form_submit_button(tr("comments.post"), type="primary"):
            try:
                with state.db() as s:
                    post_comment(
                        s,
                        proposal_id=item.id,
                        citizen_id=int(who.id or 0),
                        body=body,
                        stance=str(stance),
                        parent_id=parent,
                        channel="web",
                        actor=who,
                    )
            except CivicFlowError as exc:
                ui.error(exc)
            else:
                st.session_state.pop(reply_key, None)
                ui.flash("success", tr("comments.posted"))
                st.rerun()
