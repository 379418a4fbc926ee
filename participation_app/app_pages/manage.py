"""Manage consultations (organizers): add and withdraw proposals, launch a consultation
(the ``launch-consultation`` flow: on the Prefect server when there is one, with its run
state and progress on the page), move it along its cycle (publish, open, close, count),
queue invitations and results, and watch turnout by channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st

from core.errors import CivicFlowError
from core.settings import get_settings
from flows.remote import RunProgress, run_progress, server_url, start_flow
from notifications.planning import enqueue_results, plan_invitations
from participation.audit import append_event
from participation.consultations import (
    add_proposal,
    get_consultation,
    transition,
    update_consultation,
    withdraw_proposal,
)
from participation.queries import proposals_page
from participation.queries_consultations import (
    RESULT_STATUSES,
    ConsultationView,
    consultation_options,
    consultation_view,
)
from participation.tallying import tally
from participation_app import i18n, results, state, ui
from participation_app.ui import tr
from reports.render import build_report

who = state.require("organizer")
st.title(tr("manage.title"))
ui.show_flash()

with state.db() as s:
    options = consultation_options(s)
if not options:
    ui.alert("info", tr("manage.none"))
    st.page_link("app_pages/new_consultation.py", label=tr("nav.new"), icon=":material/add_box:")
    st.stop()
slugs = [slug for _, slug, _ in options]
status_of = {slug: status for _, slug, status in options}
wanted = st.session_state.get("manage_slug")
slug = st.selectbox(
    tr("manage.pick"),
    slugs,
    index=slugs.index(wanted) if wanted in slugs else 0,
    format_func=ui.labels(slugs, lambda v: f"{v} — {tr('status.' + status_of[v])}"),
)
st.session_state["manage_slug"] = slug
with state.db() as s:
    found = consultation_view(s, ref=slug)
if found is None:
    st.stop()
view: ConsultationView = found  # narrowed: st.stop() never returns

ui.title(view.title, level=2)
ui.row(ui.badge(tr(f"status.{view.status}"), view.status), ui.badge(tr(f"method.{view.method}")))
ui.meta(
    tr(
        "manage.window",
        start=ui.when(view.opens_at, view.time_zone),
        end=ui.when(view.closes_at, view.time_zone),
    ),
    tr("detail.zone", zone=view.time_zone),
)


def _move(to: str) -> None:
    try:
        with state.db() as s:
            transition(s, consultation_id=view.id, to=to, actor=who)
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        ui.flash("success", tr("manage.moved", status=tr(f"status.{to}")))
        st.rerun()


RUN_KEY = f"launch_run:{view.id}"


def _launch() -> None:
    """Start the launch-consultation flow (publish, invitations, delivery) for this one."""
    from prefect.exceptions import ObjectNotFound

    remote = server_url() is not None
    try:
        who.require_staff("organizer")
        with state.db() as s:
            append_event(s, actor=who, action="consultation.launch",
                         subject=f"consultation:{view.id}", payload={"on_server": remote})
        with st.status(tr("manage.launching_remote" if remote else "manage.launching"),
                       expanded=False) as box:
            progress = start_flow("launch-consultation", {"consultation_id": view.id})
            box.update(state="complete")
    except CivicFlowError as exc:
        ui.error(exc)
    except ObjectNotFound:
        ui.alert("error", tr("manage.no_deployment"))
    else:
        st.session_state[RUN_KEY] = progress.run_id
        st.rerun()


def _show_run(progress: RunProgress) -> None:
    st.progress(progress.fraction)  # its label goes below: the RTL style mirrors the bar
    known = f"run.{progress.state}" in i18n.MESSAGES["en"]
    ui.meta(tr("manage.run_state", state=tr(f"run.{progress.state}") if known
               else progress.state_name, done=ui.num(progress.steps_done),
               total=ui.num(progress.steps_total) if progress.steps_total else "?"))
    where = tr("manage.run_remote" if progress.remote else "manage.run_local")
    st.caption(f"{where} · {progress.run_id}")
    if progress.final:
        if progress.ok:
            ui.alert("success", tr("manage.run_done"))
        else:
            ui.alert("error", tr("manage.run_failed", message=progress.message))
        if progress.report:
            with st.expander(tr("manage.run_report")):
                st.text(progress.report)  # the flow's own markdown artifact, shown as text


def _count() -> None:
    try:
        with st.status(tr("manage.tallying"), expanded=False) as box, state.db() as s:
            outcome = tally(s, consultation_id=view.id, actor=who)
            box.update(state="complete")
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        ui.flash("success", tr("manage.tallied", rule=outcome.rule))
        st.rerun()


def _invite() -> None:
    try:
        with st.status(tr("manage.planning"), expanded=False) as box, state.db() as s:
            plan = plan_invitations(s, consultation_id=view.id, actor=who)
            box.update(state="complete")
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        suppressed = sum(v for k, v in plan.counts.items() if k.startswith("suppressed"))
        queued = sum(v for k, v in plan.counts.items() if k in ("pending", "deferred"))
        ui.flash("success", tr("manage.invited", queued=queued, suppressed=suppressed))
        st.rerun()


def _report() -> None:
    folder = Path(get_settings().app.report_dir) / view.slug
    try:
        with st.status(tr("manage.reporting"), expanded=False) as box, state.db() as s:
            build_report(s, consultation_id=view.id, out_dir=folder, locale=state.lang())
            transition(s, consultation_id=view.id, to="reported", actor=who)
            box.update(state="complete")
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        ui.flash("success", tr("manage.moved", status=tr("status.reported")))
        st.rerun()


def _send_results() -> None:
    try:
        with state.db() as s:
            plan = enqueue_results(s, consultation_id=view.id, actor=who)
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        queued = sum(v for k, v in plan.counts.items() if k in ("pending", "deferred"))
        ui.flash("success", tr("manage.results_queued", queued=queued))
        st.rerun()


def _edit() -> None:
    """The consultation's wording, schedule and reminders (update_consultation's rules)."""
    zone = ZoneInfo(view.time_zone)
    with state.db() as s:
        policy = dict(get_consultation(s, ref=view.id).reminder_policy)
    draft = view.status == "draft"
    opens, closes = view.opens_at.astimezone(zone), view.closes_at.astimezone(zone)
    with st.form(f"edit:{view.id}"):
        title = st.text_input(tr("manage.edit_title"), value=view.title, max_chars=300,
                              key="edit_title")
        body = st.text_area(tr("manage.edit_body"), value=view.body, key="edit_body")
        cols = list(st.columns(4))
        o_day = cols[0].date_input(tr("new.opens"), value=opens.date(), disabled=not draft,
                                   key="edit_opens")
        o_time = cols[1].time_input(tr("new.opens_time"), value=opens.time(), step=900,
                                    disabled=not draft, key="edit_opens_time")
        c_day = cols[2].date_input(tr("new.closes"), value=closes.date(), key="edit_closes")
        c_time = cols[3].time_input(tr("new.closes_time"), value=closes.time(), step=900,
                                    key="edit_closes_time")
        rounds = st.text_input(
            tr("manage.edit_rounds"), key="edit_rounds",
            value=", ".join(f"{h / 24:g}" for h in policy.get("rounds_hours", [])))
        cols = list(st.columns(2))
        quiet_start = cols[0].number_input(tr("manage.edit_quiet_start"), 0, 23,
                                           int(policy.get("quiet_start", 21)),
                                           key="edit_quiet_start")
        quiet_end = cols[1].number_input(tr("manage.edit_quiet_end"), 0, 23,
                                         int(policy.get("quiet_end", 8)), key="edit_quiet_end")
        if not st.form_submit_button(tr("manage.edit_save"), type="primary"):
            return
    try:
        days = [float(x) for x in rounds.replace("،", ",").split(",") if x.strip()]
    except ValueError:
        ui.alert("error", tr("manage.edit_rounds_bad"))
        return
    changes: dict[str, object] = {
        "title": title, "body": body,
        "closes_at": datetime.combine(c_day, c_time, tzinfo=zone),
        "reminder_policy": {**policy, "rounds_hours": [d * 24 for d in days],
                            "quiet_start": int(quiet_start), "quiet_end": int(quiet_end)},
    }
    if draft:
        changes["opens_at"] = datetime.combine(o_day, o_time, tzinfo=zone)
    try:
        with state.db() as s:
            changed = update_consultation(s, consultation_id=view.id, changes=changes,
                                          actor=who)
    except CivicFlowError as exc:
        ui.error(exc)
    else:
        ui.flash("success", tr("manage.edited", n=ui.num(len(changed))))
        st.rerun()


st.subheader(tr("manage.actions"))
steps: dict[str, list[tuple[str, Callable[[], None]]]] = {
    "draft": [
        ("manage.launch", _launch),
        ("manage.publish", lambda: _move("published")),
        ("manage.archive", lambda: _move("archived")),
    ],
    "published": [("manage.open", lambda: _move("open")), ("manage.invite", _invite)],
    "open": [("manage.close", lambda: _move("closed")), ("manage.invite", _invite)],
    "closed": [("manage.tally", _count)],
    "tallied": [("manage.report", _report), ("manage.results_msg", _send_results)],
    "reported": [
        ("manage.results_msg", _send_results),
        ("manage.archive", lambda: _move("archived")),
    ],
}
actions = steps.get(view.status, [])
chosen = None
with st.container(horizontal=True):
    for i, (key, run) in enumerate(actions):
        if st.button(tr(key), key=f"action:{key}", type="primary" if i == 0 else "secondary"):
            chosen = run
if chosen is not None:
    chosen()

if RUN_KEY in st.session_state:
    st.subheader(tr("manage.run_title"))
    first = run_progress(st.session_state[RUN_KEY])

    @st.fragment(run_every=None if first.final else 2)
    def _follow() -> None:
        progress = run_progress(st.session_state[RUN_KEY])
        _show_run(progress)
        if progress.final and not first.final:
            st.rerun()  # the consultation's status changed: redraw the whole page

    _follow()

if view.status in ("open", "closed", *RESULT_STATUSES):
    results.turnout(view)
if view.status in RESULT_STATUSES:
    results.render(view)

if view.status in ("draft", "published"):
    st.subheader(tr("manage.add"))
    with st.form("add-proposal", clear_on_submit=True):
        p_title = st.text_input(tr("manage.ptitle"), max_chars=500)
        p_body = st.text_area(tr("manage.pbody"))
        cols = list(st.columns(3))
        p_cost = (
            cols[0].number_input(tr("manage.pcost"), 0, 10**12, 0, step=100)
            if view.method == "budget"
            else None
        )
        p_category = cols[1].text_input(tr("manage.pcategory"), max_chars=120)
        p_ref = cols[2].text_input(tr("manage.pref"), max_chars=120)
        if st.form_submit_button(tr("manage.padd"), type="primary"):
            data = {
                "title": p_title,
                "body": p_body,
                "cost": int(p_cost) if p_cost is not None else None,
                "category": p_category.strip() or None,
                "external_ref": p_ref.strip() or None,
            }
            try:
                with state.db() as s:
                    add_proposal(s, consultation_id=view.id, data=data, actor=who)
            except CivicFlowError as exc:
                ui.error(exc)
            else:
                ui.flash("success", tr("manage.padded"))
                st.rerun()

st.subheader(tr("detail.proposals"))
with state.db() as s:
    total = proposals_page(s, consultation_id=view.id, limit=0)[1]
offset, limit = ui.pager(f"mpage:{view.id}", total)
with state.db() as s:
    items, _ = proposals_page(
        s, consultation_id=view.id, offset=offset, limit=limit, with_votes=True
    )
if not items:
    ui.alert("info", tr("detail.no_proposals"))
currency = str(view.params.get("currency") or "")
for item in items:
    with st.container(border=True):
        ui.title(f"#{item.ref} {item.title}", level=4)
        facts = [ui.badge(tr(f"pstatus.{item.status}"), item.status)]
        if item.cost is not None:
            facts.append(ui.badge(tr("detail.cost", cost=f"{ui.num(item.cost)} {currency}")))
        if view.status != "draft":
            facts.append(ui.badge(tr("detail.votes", n=item.votes or 0)))
        facts.append(ui.badge(tr("detail.comments_n", n=item.comments)))
        ui.row(*facts)
        if item.status == "published" and view.status in ("draft", "published", "open"):
            with st.form(f"withdraw:{item.id}"):
                cols = list(st.columns([3, 1], vertical_alignment="bottom"))
                reason = cols[0].text_input(tr("manage.withdraw_reason"), max_chars=300)
                if cols[1].form_submit_button(tr("manage.withdraw")):
                    try:
                        with state.db() as s:
                            withdraw_proposal(s, proposal_id=item.id, reason=reason, actor=who)
                    except CivicFlowError as exc:
                        ui.error(exc)
                    else:
                        ui.flash("success", tr("manage.withdrawn"))
                        st.rerun()

if view.status in ("draft", "published", "open"):
    with st.expander(tr("manage.edit")):
        _edit()
