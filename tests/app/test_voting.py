"""Voting on the consultation page: every method, the budget basket, changing a ballot,
eligibility and the receipt code."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Ballot
from participation.auth import citizen_actor
from participation.ballots import ballot_of, cast_ballot
from tests import factories as f
from tests.app.conftest import CONSULTATION, alerts, open_app, page_text, slug_of

BUDGET = {"budget": 1000, "currency": "EUR"}
PROJECTS = [
    {"title": "Trees", "cost": 600},
    {"title": "Benches", "cost": 300},
    {"title": "Lights", "cost": 500},
]


def _setup(app_db, **kwargs):
    with app_db.session() as s:
        ann = f.citizen(s, display_name="Ann", district="North")
        cid, pids = f.consultation(s, **kwargs)
    return ann, cid, pids, slug_of(app_db, cid)


def _ballot(app_db, cid, citizen):
    with app_db.session() as s:
        return ballot_of(s, consultation_id=cid, citizen_id=citizen)


def test_budget_basket_keeps_within_budget_and_casts_with_receipt(app_db):
    ann, cid, pids, slug = _setup(app_db, method="budget", params=BUDGET, proposals=PROJECTS)
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    assert at.button(key="cast:" + str(cid)).disabled  # nothing chosen yet

    at.button(key=f"toggle:{pids[0]}").click().run()  # Trees, 600
    assert "Basket: 600 EUR of 1,000 EUR (400 EUR left)" in page_text(at)
    assert at.progress[0].value == 60
    assert not at.button(key=f"toggle:{pids[1]}").disabled  # Benches 300 still fits
    assert at.button(key=f"toggle:{pids[2]}").disabled  # Lights 500 would exceed 1,000

    at.button(key=f"toggle:{pids[1]}").click().run()
    assert "Basket: 900 EUR of 1,000 EUR (100 EUR left)" in page_text(at)
    at.button(key=f"cast:{cid}").click().run()

    assert _ballot(app_db, cid, ann) == {pids[0]: 1, pids[1]: 1}
    with app_db.session() as s:
        code = s.execute(select(Ballot.receipt_code).where(Ballot.citizen_id == ann)).scalar_one()
    assert f"success: Your ballot is recorded. Receipt code: {code}" in alerts(at)
    assert at.button(key=f"cast:{cid}").label == "Change my ballot"


def test_changing_a_ballot_while_open_replaces_it(app_db):
    ann, cid, pids, slug = _setup(app_db, method="budget", params=BUDGET, proposals=PROJECTS)
    with app_db.session() as s:
        first = cast_ballot(
            s,
            consultation_id=cid,
            citizen_id=ann,
            choices={pids[0]: 1},
            channel="web",
            actor=citizen_actor(ann),
        )
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    assert "info: You have voted. You can change your ballot until voting closes." in alerts(at)
    # the stored ballot is in the basket: Trees can be removed, the cast button changes it
    assert at.button(key=f"toggle:{pids[0]}").label == "Remove"
    at.button(key=f"toggle:{pids[0]}").click().run()
    at.button(key=f"toggle:{pids[2]}").click().run()
    at.button(key=f"toggle:{pids[1]}").click().run()
    at.button(key=f"cast:{cid}").click().run()

    assert _ballot(app_db, cid, ann) == {pids[1]: 1, pids[2]: 1}
    with app_db.session() as s:
        row = s.execute(select(Ballot).where(Ballot.citizen_id == ann)).scalar_one()
    assert row.revision == 2
    assert row.receipt_code != first.receipt_code
    assert (
        f"success: Your ballot is changed (version 2). New receipt code: {row.receipt_code}"
        in alerts(at)
    )


def test_ranking_can_be_reordered_before_casting(app_db):
    ann, cid, pids, slug = _setup(app_db, method="ranked")
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    for pid in pids:
        at.button(key=f"toggle:{pid}").click().run()
    at.button(key=f"up:{pids[2]}").click().run()  # C moves above B
    assert at.button(key=f"up:{pids[0]}").disabled
    at.button(key=f"cast:{cid}").click().run()
    assert _ballot(app_db, cid, ann) == {pids[0]: 1, pids[2]: 2, pids[1]: 3}


@pytest.mark.parametrize("method", ["single_choice", "agree_disagree"])
def test_yes_no_and_agree_disagree_ballots(app_db, method):
    ann, cid, pids, slug = _setup(app_db, method=method)
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    at.radio(key=f"choice:{cid}:{pids[0]}").set_value(1).run()
    at.radio(key=f"choice:{cid}:{pids[1]}").set_value(-1).run()
    at.radio(key=f"choice:{cid}:{pids[2]}").set_value(0).run()
    at.button(key=f"cast:{cid}").click().run()
    assert _ballot(app_db, cid, ann) == {pids[0]: 1, pids[1]: -1, pids[2]: 0}


def test_points_ballot(app_db):
    params = {**BUDGET, "vote_type": "cumulative", "max_sum_points": 10}
    ann, cid, pids, slug = _setup(app_db, method="budget", params=params, proposals=PROJECTS)
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    at.number_input(key=f"points:{cid}:{pids[0]}").set_value(7).run()
    at.number_input(key=f"points:{cid}:{pids[2]}").set_value(3).run()
    assert "Points given: 10 of 10" in page_text(at)
    at.button(key=f"cast:{cid}").click().run()
    assert _ballot(app_db, cid, ann) == {pids[0]: 7, pids[2]: 3}


def test_approval_stops_at_the_most_choices(app_db):
    ann, cid, pids, slug = _setup(app_db, method="approval", params={"max_choices": 1})
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    at.button(key=f"toggle:{pids[1]}").click().run()
    assert "Chosen: 1 of at most 1" in page_text(at)
    assert at.button(key=f"toggle:{pids[0]}").disabled
    at.button(key=f"cast:{cid}").click().run()
    assert _ballot(app_db, cid, ann) == {pids[1]: 1}


def test_citizen_outside_the_districts_is_told_and_gets_no_ballot(app_db):
    ann, _cid, _pids, slug = _setup(app_db, eligibility={"districts": ["South"]})
    at = open_app(citizen_actor(ann), page=CONSULTATION, query={"c": slug})
    assert any(a.startswith("warning: You cannot vote in this consultation") for a in alerts(at))
    assert not [b for b in at.button if (b.key or "").startswith(("cast:", "toggle:"))]


def test_visitor_is_asked_to_sign_in_and_sees_no_ballot(app_db):
    _, _cid, _pids, slug = _setup(app_db, method="budget", params=BUDGET, proposals=PROJECTS)
    at = open_app(None, page=CONSULTATION, query={"c": slug})
    assert "info: Sign in to vote and comment." in alerts(at)
    assert not [b for b in at.button if (b.key or "").startswith(("cast:", "toggle:"))]
    assert "#1 Trees" in page_text(at)


def test_staff_see_no_online_ballot(app_db):
    _, _cid, _, slug = _setup(app_db)
    organizer = app_db.staff("organizer")
    at = open_app(organizer, page=CONSULTATION, query={"c": slug})
    assert any("Offline entry page" in a for a in alerts(at))
    assert not [b for b in at.button if (b.key or "").startswith("cast:")]
