"""Tallies checked against hand computations and textbook examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationError
from participation.tallies import (
    agree_disagree,
    approval,
    borda,
    instant_runoff,
    single_choice,
)

# Tennessee capital example (Wikipedia, "Borda count" and "Instant-runoff voting"): 100
# voters, 42 % Memphis > Nashville > Chattanooga > Knoxville, 26 % Nashville > Chattanooga >
# Knoxville > Memphis, 15 % Chattanooga > Knoxville > Nashville > Memphis, 17 % Knoxville >
# Chattanooga > Nashville > Memphis.
M, N, C, K = "Memphis", "Nashville", "Chattanooga", "Knoxville"
TENNESSEE = {(M, N, C, K): 42, (N, C, K, M): 26, (C, K, N, M): 15, (K, C, N, M): 17}
CITIES = [M, N, C, K]


# --- single choice -------------------------------------------------------------------------


def test_single_choice_counts_shares_and_quorum_met_exactly() -> None:
    result = single_choice({"yes": 30, "no": 20, "abstain": 10}, eligible=200, quorum=0.3)

    assert (result.cast, result.turnout) == (60, 60 / 200)
    assert (result.yes_share, result.no_share, result.abstain_share) == (0.5, 20 / 60, 10 / 60)
    assert result.quorum_met is True
    assert result.majority
    assert result.adopted


def test_single_choice_majority_without_quorum_is_not_adopted() -> None:
    result = single_choice({"yes": 30, "no": 20, "abstain": 10}, eligible=201, quorum=0.3)

    assert result.majority
    assert result.quorum_met is False
    assert not result.adopted


def test_single_choice_tie_is_no_majority_and_abstentions_do_not_count() -> None:
    result = single_choice({"yes": 5, "no": 5, "abstain": 90})

    assert not result.majority
    assert not result.adopted
    assert result.quorum_met is None
    assert result.turnout is None


def test_single_choice_without_ballots_has_no_shares() -> None:
    result = single_choice({}, eligible=10, quorum=0.0)

    assert (result.cast, result.yes_share, result.turnout, result.quorum_met) == (
        0,
        None,
        0.0,
        True,
    )
    assert not result.adopted


@pytest.mark.parametrize(
    ("counts", "kwargs", "field"),
    [
        ({"maybe": 1}, {}, "counts"),
        ({"yes": -1}, {}, "yes"),
        ({"yes": 1.5}, {}, "yes"),
        ({"yes": 1}, {"quorum": 0.5}, "eligible"),
        ({"yes": 1}, {"eligible": 10, "quorum": 1.5}, "quorum"),
        ({"yes": 11}, {"eligible": 10}, "eligible"),
    ],
)
def test_single_choice_refuses_bad_input(counts: dict, kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        single_choice(counts, **kwargs)

    assert caught.value.field == field


# --- approval ------------------------------------------------------------------------------


def test_approval_ranks_with_shared_ranks_and_input_order_on_ties() -> None:
    result = approval({"a": 3, "b": 5, "c": 3, "d": 1}, ballots=6)

    assert [(e.key, e.score, e.rank) for e in result.ranking] == [
        ("b", 5, 1),
        ("a", 3, 2),
        ("c", 3, 2),
        ("d", 1, 4),
    ]
    assert result.ranking[0].share == 5 / 6
    assert result.winners(1) == ("b",)
    assert result.winners(2) == ("b", "a", "c")  # the second seat is tied
    assert result.winners(0) == ()


def test_approval_refuses_more_approvals_than_ballots() -> None:
    with pytest.raises(ValidationError, match="7 approvals but only 6 ballots"):
        approval({"a": 7}, ballots=6)


# --- Borda ---------------------------------------------------------------------------------


def test_borda_tennessee_full_rankings() -> None:
    # Points 3, 2, 1, 0. Nashville: 42*2 + 26*3 + 15*1 + 17*1 = 194;
    # Chattanooga: 42*1 + 26*2 + 15*3 + 17*2 = 173; Memphis: 42*3 = 126;
    # Knoxville: 26*1 + 15*2 + 17*3 = 107.
    result = borda(TENNESSEE, candidates=CITIES)

    assert [(e.key, e.score, e.rank) for e in result.ranking] == [
        (N, 194, 1),
        (C, 173, 2),
        (M, 126, 3),
        (K, 107, 4),
    ]
    assert result.ballots == 100
    assert result.winners == (N,)


def test_borda_partial_rankings_use_the_modified_borda_count() -> None:
    # n = 4. (A, B) x2 -> m = 2: A 2, B 1. (C,) -> C 1. (B, C, A, D) full -> 3, 2, 1, 0.
    # (D, C, B) -> m = 3 = n - 1: 3, 2, 1.
    # A = 2*2 + 1 = 5; B = 2*1 + 3 + 1 = 6; C = 1 + 2 + 2 = 5; D = 0 + 3 = 3.
    ballots = {("A", "B"): 2, ("C",): 1, ("B", "C", "A", "D"): 1, ("D", "C", "B"): 1}

    result = borda(ballots, candidates=["A", "B", "C", "D"])

    assert [(e.key, e.score, e.rank) for e in result.ranking] == [
        ("B", 6, 1),
        ("A", 5, 2),
        ("C", 5, 2),
        ("D", 3, 4),
    ]


def test_borda_ranking_of_n_minus_1_scores_as_its_completed_ranking() -> None:
    partial = borda({("D", "C", "B"): 1}, candidates=["A", "B", "C", "D"])
    full = borda({("D", "C", "B", "A"): 1}, candidates=["A", "B", "C", "D"])

    assert partial == full


def test_borda_blank_ballot_gives_no_points() -> None:
    result = borda({(): 3}, candidates=["A", "B"])

    assert [e.score for e in result.ranking] == [0, 0]
    assert result.winners == ("A", "B")


@pytest.mark.parametrize(
    ("ballots", "message"),
    [
        ({("A", "A"): 1}, "names a candidate twice"),
        ({("A", "Z"): 1}, "unknown candidate"),
        ({("A",): -1}, "whole number"),
    ],
)
def test_ranked_ballots_are_checked(ballots: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        borda(ballots, candidates=["A", "B"])
    with pytest.raises(ValidationError, match=message):
        instant_runoff(ballots, candidates=["A", "B"])


@given(
    st.dictionaries(
        st.permutations(["A", "B", "C", "D"]).map(tuple), st.integers(0, 50), max_size=24
    )
)
def test_borda_full_rankings_hand_out_n_choose_2_points_per_ballot(ballots: dict) -> None:
    result = borda(ballots, candidates=["A", "B", "C", "D"])

    assert sum(e.score for e in result.ranking) == 6 * sum(ballots.values())


# --- instant runoff ------------------------------------------------------------------------


def test_instant_runoff_tennessee_elects_knoxville() -> None:
    # Round 1: M 42, N 26, C 15, K 17 -> C out (its 15 go to K).
    # Round 2: M 42, N 26, K 32 -> N out (its 26 go to C, gone, then K).
    # Round 3: M 42, K 58 -> Knoxville has a majority.
    result = instant_runoff(TENNESSEE, candidates=CITIES)

    assert result.winner == K
    assert [dict(r.votes) for r in result.rounds] == [
        {M: 42, N: 26, C: 15, K: 17},
        {M: 42, N: 26, K: 32},
        {M: 42, K: 58},
    ]
    assert [r.eliminated for r in result.rounds] == [C, N, None]
    assert all(r.tie_break is None and r.exhausted == 0 for r in result.rounds)


def test_instant_runoff_ties_use_earlier_rounds_then_candidate_order() -> None:
    # Round 1: A 2, B 1, C 1 (4 ballots, no majority); B and C tied with no earlier round:
    # C is listed last -> out; its ballot goes to B.
    # Round 2: A 2, B 2, no majority; tied, but in round 1 B had fewer -> B out.
    # Round 3: A 2 of 2 counted (B's first ballot exhausts) -> A.
    ballots = {("A",): 2, ("B",): 1, ("C", "B"): 1}

    result = instant_runoff(ballots, candidates=["A", "B", "C"])

    assert [(r.eliminated, r.tie_break) for r in result.rounds] == [
        ("C", "candidate order"),
        ("B", "earlier rounds"),
        (None, None),
    ]
    assert [r.exhausted for r in result.rounds] == [0, 0, 2]
    assert result.winner == "A"


def test_instant_runoff_exhausted_ballots_do_not_count_toward_majority() -> None:
    # Round 1: A 4, B 3, C 3 -> tie B/C, candidate order removes C; C ballots exhaust.
    # Round 2: A 4, B 3 of 7 counted -> A has 4 > 3.5.
    result = instant_runoff({("A",): 4, ("B",): 3, ("C",): 3}, candidates=["A", "B", "C"])

    assert result.winner == "A"
    assert result.rounds[-1].exhausted == 3


def test_instant_runoff_without_any_ranking_has_no_winner() -> None:
    result = instant_runoff({(): 5}, candidates=["A", "B"])

    assert result.winner is None
    assert result.rounds[0].exhausted == 5


@given(
    st.dictionaries(
        st.lists(st.sampled_from("ABCD"), unique=True, max_size=4).map(tuple),
        st.integers(0, 20),
        max_size=12,
    )
)
def test_instant_runoff_winner_has_a_majority_of_the_last_round(ballots: dict) -> None:
    result = instant_runoff(ballots, candidates=list("ABCD"))
    last = result.rounds[-1]

    if result.winner is None:
        assert sum(last.votes.values()) == 0
    else:
        assert 2 * last.votes[result.winner] > sum(last.votes.values())
    assert last.exhausted + sum(last.votes.values()) == sum(ballots.values())


# --- agree / disagree ----------------------------------------------------------------------


def test_agree_disagree_shares_and_group_consensus_by_hand() -> None:
    # Statement 1: 3 agree, 1 disagree, 1 pass. Group A: 2 of 2 agree (1.0);
    # group B: 1 agree of 2 (0.5) -> consensus min = 0.5.
    # Statement 2: 1 disagree; group A: 1 disagree (agree share 0.0).
    # Statement 3: no votes.
    result = agree_disagree(
        {1: {1: 3, -1: 1, 0: 1}, 2: {-1: 1}, 3: {}},
        group_counts={1: {"A": {1: 2}, "B": {1: 1, -1: 1}}, 2: {"A": {-1: 1}}},
    )
    one, two, three = result.statements

    assert (one.agree, one.disagree, one.passed, one.votes) == (3, 1, 1, 5)
    assert (one.agree_share, one.disagree_share, one.pass_share) == (0.6, 0.2, 0.2)
    assert dict(one.group_agree_shares) == {"A": 1.0, "B": 0.5}
    assert one.consensus == 0.5
    assert two.consensus == 0.0
    assert (three.votes, three.agree_share, three.consensus) == (0, None, None)
    assert [s.statement for s in result.by_consensus()] == [1, 2]


def test_agree_disagree_without_groups_has_no_consensus() -> None:
    result = agree_disagree({"s": {1: 1}})

    assert result.statements[0].consensus is None
    assert result.by_consensus() == ()


@pytest.mark.parametrize(
    ("counts", "group_counts", "message"),
    [
        ({1: {2: 1}}, None, "unknown vote value"),
        ({1: {1: -3}}, None, "whole number"),
        ({1: {1: 1}}, {1: {"A": {1: 2}}}, "exceed"),
        ({1: {1: 1}}, {9: {"A": {1: 1}}}, "no counts"),
    ],
)
def test_agree_disagree_refuses_bad_counts(
    counts: dict, group_counts: dict | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        agree_disagree(counts, group_counts=group_counts)
