"""Sign in: citizens with a one-time code sent by email or SMS, staff with a password."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from core.errors import CivicFlowError
from core.settings import get_settings
from participation import auth
from participation_app import i18n, state, ui
from participation_app.ui import tr


def _send_now(message_id: int) -> None:
    """Send the sign-in code now, not at the next scheduled delivery run (a person is
    waiting for it). If it cannot go now (a provider error), it stays queued and that run
    retries it; the page says the same either way."""
    from notifications.delivery import send_now

    try:
        send_now(state.engine(), [message_id])
    except Exception:  # any provider or network error: the queued row is retried later
        logging.getLogger(__name__).exception("sign-in code %s left for the next run", message_id)


st.title(tr("signin.title"))
ui.show_flash()
citizen_tab, staff_tab = st.tabs([tr("signin.citizen"), tr("signin.staff")])

with citizen_tab:
    pending = st.session_state.get("signin_pending")
    if pending is None:
        by = st.radio(
            tr("signin.by"),
            ("email", "sms"),
            format_func=ui.labels(("email", "sms"), lambda v: tr(f"signin.{v}")),
            horizontal=True,
            key="signin_by",
        )
        with st.form("signin-request"):
            label = tr("signin.email_label") if by == "email" else tr("signin.phone_label")
            address = st.text_input(label, key="signin_address", max_chars=320)
            if st.form_submit_button(tr("signin.send"), type="primary"):
                where = {"email": address} if by == "email" else {"phone": address}
                try:
                    with state.db() as s:
                        asked = auth.request_signin_code(s, channel=by, **where)
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    if asked.outbox_message_id is not None:
                        _send_now(asked.outbox_message_id)
                    st.session_state["signin_pending"] = where
                    st.rerun()
    else:
        ui.alert("info", tr("signin.sent", minutes=auth.CODE_MINUTES))
        with st.form("signin-verify"):
            code = st.text_input(tr("signin.code"), max_chars=8, key="signin_code")
            if st.form_submit_button(tr("signin.verify"), type="primary"):
                try:
                    with state.db() as s:
                        result = auth.verify_signin_code(s, code=code, **pending)
                except CivicFlowError as exc:
                    ui.error(exc)
                else:
                    if result.ok and result.citizen_id is not None:
                        state.sign_in(
                            auth.citizen_actor(result.citizen_id),
                            result.display_name or "",
                            result.locale,
                        )
                        ui.flash("success", tr("signin.welcome"))
                        st.rerun()
                    elif result.reason == "wrong_code":
                        ui.alert(
                            "error", tr("signin.reason.wrong_code", left=result.attempts_left or 0)
                        )
                    else:
                        ui.alert("error", tr(f"signin.reason.{result.reason}"))
        if st.button(tr("signin.other"), key="signin_other"):
            st.session_state.pop("signin_pending", None)
            st.rerun()

with staff_tab, st.form("signin-staff"):
    username = st.text_input(tr("signin.username"), key="staff_username", max_chars=80)
    password = st.text_input(tr("signin.password"), type="password", key="staff_password")
    if st.form_submit_button(tr("signin.staff_go"), type="primary"):
        with state.db() as s:
            outcome = auth.verify_staff_password(s, username=username, password=password)
        if outcome.reason == "locked" and outcome.locked_until is not None:
            zone = get_settings().app.default_time_zone
            try:
                local = outcome.locked_until.astimezone(ZoneInfo(zone))
            except (ZoneInfoNotFoundError, ValueError):
                zone, local = "UTC", outcome.locked_until
            until = i18n.digits(local.strftime("%H:%M"), state.lang())
            ui.alert("error", tr("signin.locked", time=until, zone=zone))
        elif outcome.staff is None:
            ui.alert("error", tr("signin.wrong_password"))
        else:
            state.sign_in(auth.staff_actor(outcome.staff), outcome.staff.display_name)
            ui.flash("success", tr("signin.welcome"))
            st.rerun()
