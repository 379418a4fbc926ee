"""Results of a counted consultation, read from the tally stored on the consultation
(:mod:`participation.tallying`): the headline (funded projects, winner, adopted) and a bar
chart of the proposals with the most votes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from participation.queries import proposals_by_refs
from participation.queries_consultations import ConsultationView, ballots_by_channel
from participation_app import state, ui
from participation_app.ui import tr

TOP = 20
"""Proposals drawn in the chart (the rest are in the proposal list with their votes)."""


def _score(method: str, value: Any) -> int:
    if method == "agree_disagree" and isinstance(value, dict):
        return int(value.get("agree", 0))
    return int(value or 0)


def render(view: ConsultationView) -> None:
    """Draw the results section, or say that there are none yet."""
    result = view.result or {}
    if not result:
        ui.alert("info", tr("results.none"))
        return
    method = str(result.get("method", view.method))
    counts: dict[str, Any] = dict(result.get("counts") or {})
    top = sorted(counts, key=lambda ref: (-_score(method, counts[ref]), ref))[:TOP]
    wanted = set(top) | set(result.get("selected") or [])
    irv = (result.get("instant_runoff") or {}).get("winner")
    if irv:
        wanted.add(str(irv))
    with state.db() as s:
        briefs = proposals_by_refs(s, consultation_id=view.id, refs=sorted(wanted))
    currency = str(view.params.get("currency") or "")

    def label(ref: str) -> str:
        b = briefs.get(ref)
        name = b.title if b else ""
        return f"#{ref} {name[:40]}".strip()

    st.text(tr("results.ballots", n=int(result.get("ballots") or 0)))
    if method == "budget":
        st.subheader(tr("results.selected"))
        for ref in result.get("selected") or []:
            b = briefs.get(str(ref))
            cost = f" — {ui.num(b.cost)} {currency}".rstrip() if b and b.cost is not None else ""
            ui.text(f"✓ {label(str(ref))}{cost}")
        st.text(
            tr(
                "results.spent",
                spent=f"{ui.num(int(result.get('spent') or 0))} {currency}".strip(),
                budget=f"{ui.num(int(result.get('budget') or 0))} {currency}".strip(),
            )
        )
    elif method == "ranked" and irv:
        ui.text(tr("results.winner", title=label(str(irv))))
    if not top:
        return
    st.text(tr("results.chart", n=len(top)))
    if method == "agree_disagree":
        frame = pd.DataFrame(
            {
                "proposal": [label(r) for r in top],
                tr("vote.agree"): [int(counts[r].get("agree", 0)) for r in top],
                tr("vote.disagree"): [int(counts[r].get("disagree", 0)) for r in top],
                tr("vote.pass"): [int(counts[r].get("pass", 0)) for r in top],
            }
        )
        st.bar_chart(frame, x="proposal", horizontal=True, sort=False, x_label="", y_label="")
        return
    frame = pd.DataFrame(
        {
            "proposal": [label(r) for r in top],
            tr("results.votes"): [_score(method, counts[r]) for r in top],
        }
    )
    st.bar_chart(
        frame,
        x="proposal",
        y=tr("results.votes"),
        horizontal=True,
        sort=False,
        x_label="",
        y_label="",
    )


def turnout(view: ConsultationView) -> None:
    """Draw the number of ballots per channel (web, phone, letter, …) as a bar chart."""
    with state.db() as s:
        by_channel = ballots_by_channel(s, consultation_id=view.id)
    st.text(tr("manage.ballots", n=sum(by_channel.values())))
    if by_channel:
        frame = pd.DataFrame(
            {
                "channel": [tr(f"channel.{ch}") for ch in by_channel],
                tr("results.votes"): list(by_channel.values()),
            }
        )
        st.bar_chart(frame, x="channel", y=tr("results.votes"), x_label="", y_label="")
