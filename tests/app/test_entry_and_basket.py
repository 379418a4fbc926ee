"""Pure helpers of the app: reading a paper ballot, the basket."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from participation.rules import BallotRules
from participation_app.ballot_entry import parse_paper_ballot
from participation_app.basket import Basket, can_add, kind_of


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("approve", "3, 7 12", [("3", 1), ("7", 1), ("12", 1)]),
        ("budget", "#3،۷", [("3", 1), ("7", 1)]),
        ("ranking", "7, 3, 12", [("7", 1), ("3", 2), ("12", 3)]),
        ("points", "3:5, 7:2", [("3", 5), ("7", 2)]),
        ("yes_no", "3:yes, 7:No, 9:abstain", [("3", 1), ("7", -1), ("9", 0)]),
        ("agree", "1:agree 2:d 3:pass", [("1", 1), ("2", -1), ("3", 0)]),
    ],
)
def test_paper_ballots_are_read(kind, text, expected):
    assert parse_paper_ballot(kind, text) == expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("approve", ""),
        ("approve", "3:yes"),
        ("points", "3:x"),
        ("yes_no", "3:maybe"),
        ("approve", "3, 3"),
    ],
)
def test_bad_paper_ballots_are_refused(kind, text):
    with pytest.raises(ValidationError) as err:
        parse_paper_ballot(kind, text)
    assert err.value.field == "choices"


def test_kinds():
    assert kind_of(BallotRules.from_params("budget", {"budget": 5})) == "budget"
    assert kind_of(BallotRules.from_params("budget", {"vote_type": "ordinal"})) == "ranking"
    assert kind_of(BallotRules.from_params("budget", {"vote_type": "cumulative"})) == "points"
    assert kind_of(BallotRules.from_params("ranked", {})) == "ranking"
    assert kind_of(BallotRules.from_params("single_choice", {})) == "yes_no"
    assert kind_of(BallotRules.from_params("agree_disagree", {})) == "agree"
    assert kind_of(BallotRules.from_params("approval", {})) == "approve"


def test_ranking_basket_moves_and_numbers():
    b = Basket.from_ballot("ranking", {10: 2, 11: 1, 12: 3})
    assert b.ids() == [11, 10, 12]
    b.move(12, -1)
    b.move(11, -1)  # already first: stays
    assert b.choices() == {11: 1, 12: 2, 10: 3}
    b.remove(12)
    assert b.choices() == {11: 1, 10: 2}


def test_budget_basket_refuses_what_does_not_fit():
    rules = BallotRules.from_params("budget", {"budget": 1000, "max_choices": 3})
    b = Basket("budget")
    b.add(1)
    assert can_add(b, rules, cost=500, spent=600) == (False, "budget")
    assert can_add(b, rules, cost=400, spent=600) == (True, None)
    b.add(2)
    b.add(3)
    assert can_add(b, rules, cost=0, spent=0) == (False, "max")


def test_points_basket_drops_zero():
    b = Basket("points")
    b.set(1, 3)
    b.set(2, 0)
    b.set(1, 0)
    assert b.choices() == {}
