"""The ballot on the consultation page: the basket panel and one control per proposal.

The basket lives in ``st.session_state`` (``basket:<consultation id>``) so it survives
paging through thousands of proposals; it starts from the citizen's stored ballot, so
"change my ballot" shows what they chose before. Buttons change it through callbacks
(run before the page is drawn again), and the panel's totals are read from the database
for the basket's proposals only.
"""

from __future__ import annotations

import streamlit as st

from core.actor import Actor
from core.errors import CivicFlowError
from participation.ballots import ballot_of, cast_ballot
from participation.queries import ProposalBrief, ProposalItem, proposals_by_ids
from participation.queries_consultations import ConsultationView
from participation.rules import BallotRules
from participation_app import state, ui
from participation_app.basket import Basket, can_add, kind_of
from participation_app.ui import tr

_YES_NO = {
    "yes_no": ((1, "vote.yes"), (-1, "vote.no"), (0, "vote.abstain")),
    "agree": ((1, "vote.agree"), (-1, "vote.disagree"), (0, "vote.pass")),
}
_NONE = 99


def rules_of(view: ConsultationView) -> BallotRules:
    """The consultation's ballot rules (:class:`participation.rules.BallotRules`)."""
    return BallotRules.from_params(view.method, view.params)


def _key(cid: int) -> str:
    return f"basket:{cid}"


def basket(view: ConsultationView, who: Actor) -> Basket:
    """The session's basket for this consultation, loaded from the stored ballot at first."""
    key = _key(view.id)
    found = st.session_state.get(key)
    if not isinstance(found, Basket):
        with state.db() as s:
            stored = ballot_of(s, consultation_id=view.id, citizen_id=int(who.id or 0))
        found = Basket.from_ballot(kind_of(rules_of(view)), stored)
        st.session_state[key] = found
    return found


def _reset(cid: int) -> None:
    st.session_state.pop(_key(cid), None)


def _add(cid: int, pid: int, value: int = 1) -> None:
    st.session_state[_key(cid)].add(pid, value)


def _remove(cid: int, pid: int) -> None:
    st.session_state[_key(cid)].remove(pid)


def _move(cid: int, pid: int, step: int) -> None:
    st.session_state[_key(cid)].move(pid, step)


def _set_from_widget(cid: int, pid: int, widget: str) -> None:
    value = st.session_state.get(widget)
    st.session_state[_key(cid)].set(pid, None if value in (None, _NONE) else int(value))


def panel(view: ConsultationView, who: Actor, has_ballot: bool) -> None:
    """Draw the basket: its contents and totals, the ranking order, and the cast button."""
    rules = rules_of(view)
    bk = basket(view, who)
    with state.db() as s:
        briefs = proposals_by_ids(s, consultation_id=view.id, ids=bk.ids())
    costs = {pid: b.cost for pid, b in briefs.items()}
    currency = str(view.params.get("currency") or "")
    with st.container(border=True):
        st.subheader(tr("vote.heading"))
        if bk.kind == "budget" and rules.budget:
            spent = bk.total_cost(costs)
            st.progress(min(spent / rules.budget, 1.0))
            st.text(
                tr(
                    "vote.budget_total",
                    total=f"{ui.num(spent)} {currency}".strip(),
                    budget=f"{ui.num(rules.budget)} {currency}".strip(),
                    left=f"{ui.num(rules.budget - spent)} {currency}".strip(),
                )
            )
        elif bk.kind == "points":
            total = bk.total_points()
            if rules.max_sum_points:
                st.progress(min(total / rules.max_sum_points, 1.0))
                st.text(tr("vote.points_total_max", total=total, max=rules.max_sum_points))
            else:
                st.text(tr("vote.points_total", total=total))
        elif rules.max_choices:
            st.text(tr("vote.chosen_max", n=len(bk), max=rules.max_choices))
        else:
            st.text(tr("vote.chosen", n=len(bk)))
        if bk.kind in ("budget", "ranking", "approve", "points"):
            _contents(view, bk, briefs, currency)
        cols = st.columns(2)
        label = tr("vote.change") if has_ballot else tr("vote.submit")
        if cols[0].button(label, type="primary", key=f"cast:{view.id}", disabled=not len(bk)):
            _cast(view, who, bk)
        cols[1].button(tr("vote.reset"), key=f"reset:{view.id}", on_click=_reset, args=(view.id,))


def _contents(
    view: ConsultationView,
    bk: Basket,
    briefs: dict[int, ProposalBrief],
    currency: str,
) -> None:
    if not len(bk):
        ui.alert("info", tr("vote.ranking_empty" if bk.kind == "ranking" else "vote.basket_empty"))
        return
    if bk.kind == "ranking":
        st.text(tr("vote.ranking"))
    for position, pid in enumerate(bk.ids(), start=1):
        b = briefs.get(pid)
        if b is None:
            continue
        cols = st.columns([6, 1, 1, 1], vertical_alignment="center")
        with cols[0]:
            cost = f" — {ui.num(b.cost)} {currency}".rstrip() if b.cost is not None else ""
            prefix = f"{ui.num(position)}. " if bk.kind == "ranking" else ""
            value = f" ({ui.num(bk.values[pid])})" if bk.kind == "points" else ""
            ui.text(f"{prefix}#{b.ref} {b.title}{cost}{value}", cls="cf-text cf-basket-item")
        if bk.kind == "ranking":
            cols[1].button(
                "↑",
                key=f"up:{pid}",
                help=tr("vote.up"),
                on_click=_move,
                args=(view.id, pid, -1),
                disabled=position == 1,
            )
            cols[2].button(
                "↓",
                key=f"down:{pid}",
                help=tr("vote.down"),
                on_click=_move,
                args=(view.id, pid, 1),
                disabled=position == len(bk),
            )
        cols[3].button(
            "✕", key=f"rm:{pid}", help=tr("vote.remove"), on_click=_remove, args=(view.id, pid)
        )


def _cast(view: ConsultationView, who: Actor, bk: Basket) -> None:
    try:
        with state.db() as s:
            receipt = cast_ballot(
                s,
                consultation_id=view.id,
                citizen_id=int(who.id or 0),
                choices=bk.choices(),
                channel="web",
                actor=who,
            )
    except CivicFlowError as exc:
        ui.error(exc)
        return
    if receipt.replaced:
        ui.flash(
            "success", tr("vote.changed_ok", revision=receipt.revision, code=receipt.receipt_code)
        )
    else:
        ui.flash("success", tr("vote.cast_ok", code=receipt.receipt_code))
    st.rerun()


def control(view: ConsultationView, who: Actor, item: ProposalItem, spent: int) -> None:
    """Draw the voting control of one proposal (nothing for a withdrawn one).

    Args:
        spent: the basket's cost so far (budget ballots).
    """
    if item.status != "published":
        return
    rules = rules_of(view)
    bk = basket(view, who)
    cid, pid = view.id, item.id
    if bk.kind in ("yes_no", "agree"):
        options = [_NONE] + [v for v, _ in _YES_NO[bk.kind]]
        words = {_NONE: tr("vote.none"), **{v: tr(k) for v, k in _YES_NO[bk.kind]}}
        current = bk.values.get(pid, _NONE)
        widget = f"choice:{cid}:{pid}"
        st.radio(
            tr("vote.choice"),
            options,
            index=options.index(current) if current in options else 0,
            format_func=words.__getitem__,
            horizontal=True,
            key=widget,
            on_change=_set_from_widget,
            args=(cid, pid, widget),
        )
        return
    if bk.kind == "points":
        widget = f"points:{cid}:{pid}"
        st.number_input(
            tr("vote.points"),
            min_value=0,
            max_value=rules.max_points,
            value=int(bk.values.get(pid, 0)),
            step=1,
            key=widget,
            on_change=_set_from_widget,
            args=(cid, pid, widget),
        )
        return
    if bk.has(pid):
        label = tr("vote.remove")
        st.button(label, key=f"toggle:{pid}", on_click=_remove, args=(cid, pid))
        return
    ok, why = can_add(bk, rules, cost=item.cost, spent=spent)
    label = {
        "budget": tr("vote.add"),
        "ranking": tr("vote.rank_add"),
        "approve": tr("vote.support"),
    }[bk.kind]
    help_text = {"budget": tr("vote.too_costly"), "max": tr("vote.max_reached")}.get(why or "")
    st.button(
        label, key=f"toggle:{pid}", on_click=_add, args=(cid, pid), disabled=not ok, help=help_text
    )
