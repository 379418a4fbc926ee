"""Budgeting rules against the cities' published outcomes and against pabutools.

Expected values come from independent sources: each file's own ``selected``, ``votes`` and
``score`` columns (what the city published), and pabutools 1.2 (exact rational
arithmetic) for the Method of Equal Shares and the greedy welfare rule. Real files:
``shared/realdata/pabulib`` and ``pabulib-outcomes``; ``CIVICFLOW_REALDATA`` moves them.
Parsed files and pabutools' slower results are cached per module.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pabutools.election import (
    Additive_Cardinal_Sat,
    Cardinality_Sat,
    Cost_Sat,
    parse_pabulib,
)
from pabutools.election.pabulib import parse_pabulib_from_string
from pabutools.rules import (
    exhaustion_by_budget_increase,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)

from core.errors import ValidationError
from participation.budgeting import (
    BudgetOutcome,
    BudgetProblem,
    equal_shares,
    gdynia_2020,
    greedy,
    greedy_until_misfit,
    greedy_welfare_per_cost,
    later_round,
    published_rule,
    vote_order,
)
from participation.importers.pabulib import PbInstance, PbProject, PbVoter, parse_pb, write_pb

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"
    )
)
PB_FILES = sorted(
    [*REALDATA.glob("pabulib/*.pb"), *REALDATA.glob("pabulib-outcomes/*.pb")],
    key=lambda p: p.name,
)


def _name(path: Path) -> str:
    return path.name.removesuffix(".pb")


@cache
def load(path: Path) -> tuple[PbInstance, BudgetProblem]:
    pb = parse_pb(path)
    return pb, BudgetProblem.from_instance(pb)


@cache
def pabu(path: Path) -> tuple[Any, Any]:
    """pabutools' instance and profile of a file.

    Where at least half the ballots are repeats (Poznań's one-choice votes, Wieliczka), the
    profile is pabutools' multiprofile: the same election with identical ballots merged and
    counted, which pabutools' rules handle exactly and 5-10 times faster.
    """
    instance, profile = parse_pabulib(str(path))
    merged = profile.as_multiprofile()
    if len(merged) * 2 <= profile.num_ballots():
        return instance, merged
    return instance, profile


@cache
def pabu_mes(path: Path) -> tuple[str, ...]:
    instance, profile = pabu(path)
    return names(method_of_equal_shares(instance, profile, sat_class=Cost_Sat))


@cache
def pabu_greedy(path: Path, utility: str) -> tuple[str, ...]:
    instance, profile = pabu(path)
    sat_class = {"cost": Cost_Sat, "cardinality": Cardinality_Sat, "points": Additive_Cardinal_Sat}
    return names(greedy_utilitarian_welfare(instance, profile, sat_class=sat_class[utility]))


def names(allocation: Any) -> tuple[str, ...]:
    return tuple(p.name for p in allocation)


@cache
def ours(path: Path, completion: str) -> BudgetOutcome:
    return equal_shares(load(path)[1], completion=completion)  # type: ignore[arg-type]


def selected(path: Path, *marks: int) -> set[str]:
    return {p.project_id for p in load(path)[0].projects if p.selected in marks}


HAS_SELECTED = [p for p in PB_FILES if any(x.selected is not None for x in load(p)[0].projects)]
HAS_LATER_ROUND = [p for p in HAS_SELECTED if selected(p, 2)]
APPROVAL = [p for p in PB_FILES if load(p)[0].vote_type == "approval"]

# The city variant each file needs; every other file with a `selected` column is `greedy`.
VARIANTS = {
    "poland_gdynia_2020_chwarzno-wiczlino-small": "gdynia_2020/small",
    "poland_gdynia_2020_dabrowa-small": "gdynia_2020/small",
    "poland_gdynia_2020_maly-kack-large": "gdynia_2020/large",
    "poland_gdynia_2020_oksywie-small": "gdynia_2020/small",
    "poland_gdynia_2020_wzgorze-sw-maksymiliana-small": "gdynia_2020/small",
    "poland_poznan_2023_": "poznan/greedy_until_misfit",
    "poland_poznan_2023_1-nowe-winogrady-polnoc-nowe-winogrady-poludnie-nowe-winogrady-"
    "wschod-stare-winogrady": "poznan/greedy_until_misfit",
    "poland_poznan_2023_2-kiekrz-krzyzowniki-smochowice-podolany-strzeszyn": (
        "poznan/greedy_until_misfit"
    ),
    "poland_poznan_2023_4-gluszyna-krzesiny-pokrzywno-garaszewo-staroleka-minikowo-"
    "szczepankowo-splawie-krzesinki": "poznan/greedy_until_misfit",
    "poland_poznan_2023_5-grunwald-polnoc-grunwald-poludnie-stary-grunwald": (
        "poznan/greedy_until_misfit"
    ),
    "poland_poznan_2023_10-swierczewo-wilda-zielony-debiec": "poznan/greedy_until_misfit",
    "poland_wieliczka_2023": "equal_shares/equalshares/add1",
}


# --- the cities' published outcomes -----------------------------------------------------


@pytest.mark.parametrize("path", HAS_SELECTED, ids=_name)
def test_published_rule_reproduces_the_first_round(path: Path) -> None:
    _, problem = load(path)

    variant, rule = published_rule(problem)
    outcome = rule(problem)

    assert variant == VARIANTS.get(_name(path), "greedy")
    assert set(outcome.selected) == selected(path, 1)


@pytest.mark.parametrize("path", HAS_LATER_ROUND, ids=_name)
def test_later_round_funds_the_next_projects_by_votes(path: Path) -> None:
    _, problem = load(path)
    first = published_rule(problem)[1](problem)

    outcome = later_round(first, problem, n_projects=len(selected(path, 2)))

    assert set(outcome.later_round) == selected(path, 2)
    assert set(outcome.selected) == selected(path, 1, 2)


def test_plain_greedy_misses_only_the_files_that_need_a_city_variant() -> None:
    misses = {
        _name(p) for p in HAS_SELECTED if set(greedy(load(p)[1]).selected) != selected(p, 1, 2)
    }

    # Poznań's city-wide vote is the one variant file where skipping and stopping agree.
    assert misses == set(VARIANTS) - {"poland_poznan_2023_"}
    assert len(HAS_SELECTED) - len(misses) == 29


@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_default_scores_equal_the_files_own_tally(path: Path) -> None:
    pb, problem = load(path)
    scores = dict(zip(problem.project_ids, problem.default_scores().tolist(), strict=True))
    supporters = dict(zip(problem.project_ids, problem.supporters.tolist(), strict=True))

    for project in pb.projects:
        if project.votes is not None:
            assert supporters[project.project_id] == project.votes
        if project.score is not None:  # points (cumulative) or 3/2/1 (Kraków ordinal)
            assert scores[project.project_id] == project.score


def test_gdynia_small_pool_funds_the_first_project_under_the_line_when_half_covered() -> None:
    # Oksywie: pool 45 693 = 456 930 / 10; 39 196 spent, next project costs 10 000 and the
    # 6 497 left cover 65% of it, so it is funded (and the rule stops there).
    _, problem = load(REALDATA / "pabulib-outcomes" / "poland_gdynia_2020_oksywie-small.pb")

    outcome = gdynia_2020(problem, pool="small")

    assert outcome.budget == 45_693
    assert outcome.selected == ("2", "5", "3", "1", "4")
    assert outcome.spent == 49_196


def test_poznan_stops_at_the_first_project_that_does_not_fit() -> None:
    path = REALDATA / "pabulib" / "poland_poznan_2023_10-swierczewo-wilda-zielony-debiec.pb"
    _, problem = load(path)

    stopping = greedy_until_misfit(problem)
    skipping = greedy(problem)

    assert stopping.selected == ("X.3", "X.5")  # X.6 (800 000) no longer fits: stop
    assert skipping.selected == ("X.3", "X.5", "X.4")  # a city that skips funds X.4 too


@pytest.mark.parametrize("path", [p for p in PB_FILES if p not in HAS_SELECTED], ids=_name)
def test_files_without_outcome_run_their_meta_rule_within_budget(path: Path) -> None:
    _, problem = load(path)

    variant, rule = published_rule(problem)
    outcome = rule(problem)

    assert variant == "greedy"
    assert outcome.spent <= problem.budget
    assert outcome.selected[0] == problem.project_ids[vote_order(problem)[0]]


# --- Method of Equal Shares against pabutools --------------------------------------------


@contextmanager
def raised_budget(instance: Any, amount: int) -> Iterator[Any]:
    """pabutools' instance with ``amount`` more money (MES shares rise by amount / n)."""
    original = instance.budget_limit
    instance.budget_limit = original + amount
    try:
        yield instance
    finally:
        instance.budget_limit = original


@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_equal_shares_equals_pabutools_mes(path: Path) -> None:
    assert ours(path, "none").selected == pabu_mes(path)


@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_equal_shares_add1_equals_pabutools_mes_at_its_final_share(path: Path) -> None:
    # add1 keeps the MES outcome at the last raised share that stays within budget; the
    # rule name says by how much the share was raised. pabutools' MES at that share must
    # give the same outcome. (The full replays, which also check every earlier step and
    # the overshoot one step later, take minutes: see the slow tests below.)
    _, problem = load(path)
    instance, profile = pabu(path)
    outcome = ours(path, "add1")
    match = re.search(r"\(\+(\d+)\)$", outcome.rule)
    assert match is not None
    raise_by = int(match.group(1))

    if raise_by == 0:
        expected = pabu_mes(path)
    else:
        with raised_budget(instance, raise_by * problem.n_voters) as richer:
            expected = names(method_of_equal_shares(richer, profile, sat_class=Cost_Sat))

    assert outcome.selected == expected
    assert outcome.spent <= problem.budget


# Files whose full pabutools replay of add1_exhaustive takes about a second or less.
QUICK_REPLAY = [
    p
    for p in PB_FILES
    if p.name.startswith(("poland_gdynia", "poland_gdansk", "poland_krakow_2018"))
    or p.name
    in (
        "poland_katowice_2021_osiedle-witosa.pb",
        "poland_poznan_2023_2-kiekrz-krzyzowniki-smochowice-podolany-strzeszyn.pb",
        "poland_warszawa_2017_marysin-poludniowy.pb",
    )
]


@pytest.mark.parametrize("path", QUICK_REPLAY, ids=_name)
def test_equal_shares_add1_exhaustive_equals_pabutools_voter_budget_increment(
    path: Path,
) -> None:
    instance, profile = pabu(path)

    expected = method_of_equal_shares(
        instance, profile, sat_class=Cost_Sat, voter_budget_increment=1
    )

    assert ours(path, "add1_exhaustive").selected == names(expected)


# Full pabutools replays of the add1 completions on every file. Opt-in: together they take
# tens of minutes, because pabutools reruns MES from scratch at each of up to ~1 600 steps.
FULL_REPLAY = os.environ.get("CIVICFLOW_PABUTOOLS_REPLAY") == "1"
REPLAY_LIMIT = 60  # seconds of pabutools per file; over it the file is skipped, saying so
needs_replay_opt_in = pytest.mark.skipif(
    not FULL_REPLAY, reason="set CIVICFLOW_PABUTOOLS_REPLAY=1 (pabutools takes minutes)"
)


class _TooSlow(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def stop(_signum: int, _frame: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def everything_fits(problem: BudgetProblem) -> bool:
    supported = problem.costs[(problem.supporters > 0) & (problem.costs > 0)]
    return int(supported.sum()) <= problem.budget


@pytest.mark.slow
@needs_replay_opt_in
@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_equal_shares_add1_equals_pabutools_full_replay(path: Path) -> None:
    _, problem = load(path)
    if everything_fits(problem):
        pytest.skip(
            "every supported project fits: pabutools raises the budget one step at a time "
            f"up to budget * (n + 1), {problem.budget} MES runs"
        )
    instance, profile = pabu(path)
    try:
        with time_limit(REPLAY_LIMIT):
            expected = exhaustion_by_budget_increase(
                instance,
                profile,
                method_of_equal_shares,
                {"sat_class": Cost_Sat},
                exhaustive_stop=False,
                budget_step=profile.num_ballots(),
            )
    except _TooSlow:
        pytest.skip(f"pabutools' add1 replay takes over {REPLAY_LIMIT} s here")

    assert ours(path, "add1").selected == names(expected)


@pytest.mark.slow
@needs_replay_opt_in
@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_equal_shares_add1_exhaustive_equals_pabutools_full_replay(path: Path) -> None:
    instance, profile = pabu(path)
    try:
        with time_limit(REPLAY_LIMIT):
            expected = method_of_equal_shares(
                instance, profile, sat_class=Cost_Sat, voter_budget_increment=1
            )
    except _TooSlow:
        pytest.skip(f"pabutools' voter_budget_increment replay takes over {REPLAY_LIMIT} s here")

    assert ours(path, "add1_exhaustive").selected == names(expected)


@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_equal_shares_greedy_completion_equals_pabutools_rule_combination(path: Path) -> None:
    # completion_by_rule_combination([MES, greedy]) = MES, then (unless exhaustive) greedy
    # from MES's outcome; MES's outcome is checked above, so start greedy from it here.
    _, problem = load(path)
    instance, profile = pabu(path)
    mes = [p for p in instance if p.name in set(pabu_mes(path))]
    mes.sort(key=pabu_mes(path).index)

    if instance.is_exhaustive(mes):
        expected = pabu_mes(path)
    else:
        expected = names(
            greedy_utilitarian_welfare(
                instance, profile, sat_class=Cost_Sat, initial_budget_allocation=mes
            )
        )

    assert equal_shares(problem, completion="greedy").selected == expected


# --- greedy welfare against pabutools ----------------------------------------------------


@pytest.mark.parametrize("path", PB_FILES, ids=_name)
def test_greedy_welfare_per_cost_equals_pabutools(path: Path) -> None:
    _, problem = load(path)
    utilities = ["cost", "cardinality"]
    if problem.vote_type == "cumulative":
        utilities.append("points")

    for utility in utilities:
        actual = greedy_welfare_per_cost(problem, utility=utility)  # type: ignore[arg-type]
        assert actual.selected == pabu_greedy(path, utility), utility


@pytest.mark.parametrize("path", APPROVAL, ids=_name)
def test_city_greedy_funds_what_pabutools_cost_greedy_funds(path: Path) -> None:
    # For approval ballots pabutools' Cost_Sat greedy ranks by supporters, like a city;
    # only the tie-break differs (pabutools: id; city: lower cost, then id).
    _, problem = load(path)

    assert set(greedy(problem).selected) == set(pabu_greedy(path, "cost"))


# --- small cases by hand -----------------------------------------------------------------


def tiny(
    costs: dict[str, int], budget: int, ballots: list[tuple[str, ...]], vote_type: str = "approval"
) -> BudgetProblem:
    pb = PbInstance(
        meta={"budget": str(budget), "vote_type": vote_type},
        projects=tuple(PbProject(pid, cost) for pid, cost in costs.items()),
        voters=tuple(PbVoter(str(i), vote) for i, vote in enumerate(ballots)),
    )
    return BudgetProblem.from_instance(pb)


def test_greedy_ties_go_to_the_cheaper_project_then_the_smaller_id() -> None:
    problem = tiny({"b": 40, "a": 40, "c": 30}, 70, [("a", "b", "c")] * 2)

    assert greedy(problem).selected == ("c", "a")


def test_equal_shares_by_hand() -> None:
    # 4 voters, 100 each. p (cost 300) has 3 supporters: price 100 each -> funded.
    # q (cost 200) is backed by voter 3 (100 left) and voter 0 (0 left): unaffordable.
    problem = tiny({"p": 300, "q": 200}, 400, [("p", "q"), ("p",), ("p",), ("q",)])

    outcome = equal_shares(problem, completion="none")

    assert outcome.selected == ("p",)
    assert outcome.spent == 300
    assert outcome.counts == {"p": 3, "q": 2}


def test_equal_shares_add1_raises_the_shares_until_over_budget() -> None:
    # Shares 100 + k. p (cost 300, price 1/3 per unit of cost utility) comes first and
    # charges its 3 supporters 100 each, leaving voter 0 with k; q (cost 200) then has
    # k + (100 + k) from voters 0 and 3, enough once k >= 50. p + q = 500 > 400, so the
    # outcome kept is the one at k = 49: only p.
    problem = tiny({"p": 300, "q": 200}, 400, [("p", "q"), ("p",), ("p",), ("q",)])

    outcome = equal_shares(problem, completion="add1")

    assert outcome.selected == ("p",)
    assert outcome.rule == "equal_shares/cost/add1(+49)"


def test_bad_arguments_are_refused() -> None:
    problem = tiny({"p": 10}, 10, [("p",)])

    with pytest.raises(ValidationError) as increment:
        equal_shares(problem, increment=0)
    with pytest.raises(ValidationError) as scores:
        greedy(problem, scores=[1, 2])
    with pytest.raises(ValidationError) as rounds:
        later_round(greedy(problem), problem, n_projects=-1)
    with pytest.raises(ValidationError) as utility:
        equal_shares(problem, utility="quadratic")  # type: ignore[arg-type]

    assert increment.value.field == "increment"
    assert scores.value.field == "scores"
    assert rounds.value.field == "n_projects"
    assert utility.value.field == "utility"


# --- properties --------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn, vote_type: str = "approval") -> PbInstance:
    n_projects = draw(st.integers(1, 6))
    ids = [f"p{j}" for j in range(n_projects)]
    costs = {pid: draw(st.integers(0, 60)) for pid in ids}
    # pabutools' parser cannot read an empty cumulative ballot; real files have none.
    min_votes = 1 if vote_type == "cumulative" else 0
    ballot = st.lists(st.sampled_from(ids), unique=True, min_size=min_votes)
    ballots = draw(st.lists(ballot, max_size=12))
    voters = tuple(
        PbVoter(
            str(i),
            tuple(b),
            tuple(draw(st.integers(0, 4)) for _ in b) if vote_type == "cumulative" else None,
        )
        for i, b in enumerate(ballots)
    )
    return PbInstance(
        meta={"budget": str(draw(st.integers(0, 150))), "vote_type": vote_type},
        projects=tuple(PbProject(pid, cost) for pid, cost in costs.items()),
        voters=voters,
        voter_columns=("voter_id", "vote", "points")
        if vote_type == "cumulative"
        else ("voter_id", "vote"),
    )


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["approval", "cumulative"]).flatmap(problems))
def test_no_rule_spends_more_than_the_budget(pb: PbInstance) -> None:
    problem = BudgetProblem.from_instance(pb)

    outcomes = [greedy(problem), greedy_until_misfit(problem), greedy_welfare_per_cost(problem)]
    outcomes += [
        equal_shares(problem, completion=c)
        for c in ("none", "add1", "add1_exhaustive", "greedy", "add1_greedy")
    ]

    for outcome in outcomes:
        assert outcome.spent <= problem.budget, outcome.rule
        assert len(set(outcome.selected)) == len(outcome.selected)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [("approval", "cost"), ("approval", "cardinality"), ("cumulative", "points")]
    ).flatmap(lambda case: st.tuples(problems(case[0]), st.just(case[1])))
)
def test_equal_shares_equals_pabutools_on_small_instances_full_of_ties(
    case: tuple[PbInstance, str],
) -> None:
    # Tiny instances tie all the time (same costs, same supporters), which pabutools
    # settles with exact rationals: the float tolerance must agree with it.
    pb, utility = case
    problem = BudgetProblem.from_instance(pb)
    instance, profile = parse_pabulib_from_string(write_pb(pb))
    sat_class = {"cost": Cost_Sat, "cardinality": Cardinality_Sat, "points": Additive_Cardinal_Sat}

    expected = method_of_equal_shares(instance, profile, sat_class=sat_class[utility])
    actual = equal_shares(problem, utility=utility, completion="none")  # type: ignore[arg-type]

    # pabutools funds zero-cost projects first, in set order: compare those as a set.
    free = {pid for pid, c in zip(problem.project_ids, problem.costs, strict=True) if c == 0}
    assert set(actual.selected) & free == set(names(expected)) & free
    assert [p for p in actual.selected if p not in free] == [
        p for p in names(expected) if p not in free
    ]
