"""Participatory-budgeting rules: pure functions over numpy arrays, no database.

A :class:`BudgetProblem` holds the projects (ids, integer costs), the budget and the
ballots in compressed-sparse-row form; the rules return a :class:`BudgetOutcome`.

Rules
    :func:`greedy`
        what most cities run: projects by votes (points for cumulative and ordinal
        ballots) highest first, fund a project if it still fits, otherwise skip it.
    :func:`greedy_until_misfit`
        the same order, but stop at the first project that does not fit (Poznań).
    :func:`greedy_welfare_per_cost`
        pabutools' ``greedy_utilitarian_welfare`` (satisfaction per unit of cost).
    :func:`equal_shares`
        the Method of Equal Shares with the completions pabutools supports.
    :func:`gdynia_2020`, :func:`later_round`
        city variants needed to reproduce published outcomes.
    :func:`published_rule`
        picks the rule (or city variant) a Pabulib file's META names.

Sources: Pabulib format and rules, Faliszewski et al. 2023 (arXiv:2305.11035); Method of
Equal Shares, Peters & Skowron 2020 (EC'20) and Peters, Pierczyński & Skowron 2021
(NeurIPS'21, "Proportional participatory budgeting with additive utilities"); reference
implementation: pabutools 1.2 (``pabutools.rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.errors import ValidationError
from participation.importers.pabulib import PbInstance

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Utility = Literal["cost", "cardinality", "points"]
Completion = Literal["none", "add1", "add1_exhaustive", "greedy", "add1_greedy"]
COMPLETIONS: tuple[Completion, ...] = ("none", "add1", "add1_exhaustive", "greedy", "add1_greedy")

# Relative tolerance under which two floating-point affordabilities count as equal (a tie
# broken by project id, as pabutools does for exactly equal rationals).
_TIE_RTOL = 1e-9
# Relative slack on "the supporters can still afford the project" (sum of budgets >= cost).
_AFFORD_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class BudgetProblem:
    """Projects, budget and ballots of one participatory-budgeting vote, as arrays.

    Ballots are stored in compressed-sparse-row form: voter ``i`` named the projects
    ``indices[indptr[i]:indptr[i + 1]]`` (in ballot order) with ``points[...]`` points.

    Attributes:
        project_ids: ids as in the file, shape (m,).
        costs: project costs in currency units, int64, shape (m,).
        budget: money to spend, currency units.
        vote_type: ``approval``, ``choose-1``, ``cumulative``, ``scoring`` or ``ordinal``.
        indptr: int64, shape (n + 1,), row pointers of the n ballots.
        indices: int64, shape (nnz,), project index of each ballot entry.
        points: int64, shape (nnz,), points of each entry: 1 for approval; the ballot's
            points for cumulative/scoring; for ordinal ballots the file's points if given,
            otherwise positional points ``L - position`` (L = META ``max_length``, or the
            longest ballot), i.e. 3/2/1 for Kraków's three ranked choices.
        meta: the file's META (text), used by :func:`published_rule`.
    """

    project_ids: tuple[str, ...]
    costs: IntArray
    budget: int
    vote_type: str
    indptr: IntArray
    indices: IntArray
    points: IntArray
    meta: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_instance(cls, pb: PbInstance) -> BudgetProblem:
        """Build the arrays of a parsed Pabulib instance.

        Args:
            pb: a parsed file (see :func:`participation.importers.pabulib.parse_pb`).

        Returns:
            The problem; projects keep file order.

        Raises:
            ValidationError: the budget is negative (field ``budget``), or an ordinal
                file without points has a non-numeric META ``max_length``.
        """
        if pb.budget < 0:
            raise ValidationError(f"{pb.source}: budget {pb.budget} is negative", field="budget")
        index = {p.project_id: j for j, p in enumerate(pb.projects)}
        lengths = np.fromiter((len(v.vote) for v in pb.voters), np.int64, len(pb.voters))
        indptr = np.zeros(len(pb.voters) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.fromiter(
            (index[pid] for v in pb.voters for pid in v.vote), np.int64, int(indptr[-1])
        )
        if pb.vote_type in ("approval", "choose-1"):
            points = np.ones(len(indices), np.int64)
        elif pb.vote_type == "ordinal" and any(v.points is None for v in pb.voters):
            top_text = pb.meta.get("max_length", str(int(lengths.max(initial=0))))
            if not top_text.isdigit():
                raise ValidationError(
                    f"{pb.source}: max_length {top_text!r} is not a number", field="max_length"
                )
            top = int(top_text)
            points = np.fromiter(
                (top - k for v in pb.voters for k in range(len(v.vote))), np.int64, len(indices)
            )
        else:
            points = np.fromiter(
                (x for v in pb.voters for x in (v.points or ())), np.int64, len(indices)
            )
        return cls(
            project_ids=tuple(index),
            costs=np.array([p.cost for p in pb.projects], np.int64),
            budget=pb.budget,
            vote_type=pb.vote_type,
            indptr=indptr,
            indices=indices,
            points=points,
            meta=dict(pb.meta),
        )

    @property
    def n_voters(self) -> int:
        """Number of ballots."""
        return len(self.indptr) - 1

    @property
    def n_projects(self) -> int:
        """Number of projects."""
        return len(self.project_ids)

    @cached_property
    def supporters(self) -> IntArray:
        """Number of ballots naming each project, int64, shape (m,)."""
        return np.bincount(self.indices, minlength=self.n_projects).astype(np.int64)

    @cached_property
    def point_totals(self) -> IntArray:
        """Sum of points given to each project, int64, shape (m,)."""
        totals = np.zeros(self.n_projects, np.int64)
        np.add.at(totals, self.indices, self.points)
        return totals

    def default_scores(self) -> IntArray:
        """The tally a city ranks by: supporters for approval, points otherwise, shape (m,)."""
        if self.vote_type in ("approval", "choose-1"):
            return self.supporters
        return self.point_totals

    @cached_property
    def _by_project(self) -> tuple[IntArray, IntArray, IntArray]:
        """(pointer (m+1,), voter index (nnz,), points (nnz,)) of the ballots, by project."""
        order = np.argsort(self.indices, kind="stable")
        voters = np.repeat(np.arange(self.n_voters, dtype=np.int64), np.diff(self.indptr))
        ptr = np.zeros(self.n_projects + 1, np.int64)
        np.cumsum(self.supporters, out=ptr[1:])
        return ptr, voters[order], self.points[order]

    @cached_property
    def _id_rank(self) -> IntArray:
        """Rank of each project id in plain string order (pabutools' lexicographic ties)."""
        rank = np.empty(self.n_projects, np.int64)
        rank[sorted(range(self.n_projects), key=self.project_ids.__getitem__)] = np.arange(
            self.n_projects
        )
        return rank


@dataclass(frozen=True)
class BudgetOutcome:
    """The projects a rule funds.

    Attributes:
        rule: name of the rule and its options, e.g. ``equal_shares/cost/add1``.
        selected: funded project ids, in the order the rule funded them.
        counts: supporters (ballots naming the project) of every project, by id.
        spent: total cost of ``selected``, currency units.
        budget: the money the rule had (the pool, for a rule with separate pools).
        later_round: the ids among ``selected`` funded in a later round from money outside
            the budget (Pabulib ``selected = 2``); such an outcome may spend over budget.
    """

    rule: str
    selected: tuple[str, ...]
    counts: dict[str, int]
    spent: int
    budget: int
    later_round: tuple[str, ...] = ()


def _outcome(
    problem: BudgetProblem, rule: str, chosen: Sequence[int], budget: int | None = None
) -> BudgetOutcome:
    ids = problem.project_ids
    return BudgetOutcome(
        rule=rule,
        selected=tuple(ids[j] for j in chosen),
        counts={pid: int(c) for pid, c in zip(ids, problem.supporters, strict=True)},
        spent=int(problem.costs[list(chosen)].sum()) if len(chosen) else 0,
        budget=problem.budget if budget is None else budget,
    )


def _scores(problem: BudgetProblem, scores: npt.ArrayLike | None) -> IntArray:
    if scores is None:
        return problem.default_scores()
    out = np.asarray(scores, dtype=np.int64)
    if out.shape != (problem.n_projects,):
        raise ValidationError(
            f"expected {problem.n_projects} scores, got shape {out.shape}", field="scores"
        )
    return out


def vote_order(problem: BudgetProblem, scores: npt.ArrayLike | None = None) -> list[int]:
    """Project indices in the order a city ranks them.

    Args:
        problem: the problem.
        scores: one number per project (shape (m,)); default :meth:`BudgetProblem.default_scores`.

    Returns:
        Indices by score, highest first; ties go to the lower cost, then to the smaller
        project id in plain string order (``"10" < "9"``), the order pabutools uses.

    Raises:
        ValidationError: ``scores`` has the wrong shape (field ``scores``).
    """
    s = _scores(problem, scores)
    return [int(j) for j in np.lexsort((problem._id_rank, problem.costs, -s))]


def greedy(
    problem: BudgetProblem, *, scores: npt.ArrayLike | None = None, pool: int | None = None
) -> BudgetOutcome:
    """Fund projects by votes, highest first, skipping any that no longer fits.

    This is the rule most Polish cities (and Pabulib's ``rule = greedy``) use: walk down
    the ranking and fund a project if its cost fits in the money left.

    Args:
        problem: the problem.
        scores: one number per project (shape (m,)); default supporters for approval
            ballots and points for cumulative/scoring/ordinal ballots.
        pool: money available, currency units; default ``problem.budget``.

    Returns:
        The outcome; ``spent <= pool``. Ties: see :func:`vote_order`.

    Raises:
        ValidationError: ``scores`` has the wrong shape (field ``scores``).
    """
    money = problem.budget if pool is None else pool
    chosen: list[int] = []
    left = money
    for j in vote_order(problem, scores):
        if problem.costs[j] <= left:
            chosen.append(j)
            left -= int(problem.costs[j])
    return _outcome(problem, "greedy", chosen, money)


def greedy_until_misfit(
    problem: BudgetProblem,
    *,
    scores: npt.ArrayLike | None = None,
    pool: int | None = None,
    min_covered_share: float | None = None,
) -> BudgetOutcome:
    """Fund projects by votes, highest first, and stop at the first one that does not fit.

    Used by Poznań 2023 (a cheaper project further down the list is not funded) and, with
    ``min_covered_share``, by Gdynia 2020 (see :func:`gdynia_2020`).

    Args:
        problem: the problem.
        scores: one number per project (shape (m,)); default as in :func:`greedy`.
        pool: money available, currency units; default ``problem.budget``.
        min_covered_share: if set (in [0, 1]), the first project that does not fit is still
            funded when the money left covers at least this share of its cost (the
            shortfall is paid from elsewhere), and then the rule stops.

    Returns:
        The outcome; ``spent <= pool`` unless ``min_covered_share`` funded the last project.

    Raises:
        ValidationError: ``scores`` has the wrong shape (field ``scores``).
    """
    money = problem.budget if pool is None else pool
    chosen: list[int] = []
    left = money
    for j in vote_order(problem, scores):
        cost = int(problem.costs[j])
        if cost <= left:
            chosen.append(j)
            left -= cost
            continue
        if min_covered_share is not None and left >= min_covered_share * cost:
            chosen.append(j)
        break
    name = "greedy_until_misfit"
    if min_covered_share is not None:
        name += f"/covered>={min_covered_share:g}"
    return _outcome(problem, name, chosen, money)


UTILITIES: tuple[Utility, ...] = ("cost", "cardinality", "points")


def _check_utility(utility: str) -> None:
    if utility not in UTILITIES:
        raise ValidationError(
            f"unknown utility {utility!r} (expected {', '.join(UTILITIES)})", field="utility"
        )


def _satisfaction_totals(problem: BudgetProblem, utility: Utility) -> list[Fraction]:
    if utility == "cost":
        return [
            Fraction(int(s) * int(c))
            for s, c in zip(problem.supporters, problem.costs, strict=True)
        ]
    if utility == "cardinality":
        return [Fraction(int(s)) for s in problem.supporters]
    return [Fraction(int(p)) for p in problem.point_totals]


def greedy_welfare_per_cost(
    problem: BudgetProblem,
    *,
    utility: Utility = "cost",
    initial: Sequence[str] = (),
) -> BudgetOutcome:
    """Greedy by total satisfaction per unit of cost, as pabutools' greedy_utilitarian_welfare.

    Satisfaction of a voter from a project (additive): ``cost`` = the project's cost if the
    ballot names it (pabutools ``Cost_Sat``), so the order is by supporters; ``cardinality``
    = 1 if named (``Cardinality_Sat``), so the order is supporters / cost; ``points`` = the
    ballot's points (``Additive_Cardinal_Sat``), so points / cost. Projects are taken by
    this density, highest first (a zero-cost project with support first, one without
    support last), ties to the smaller id in string order, and funded if they fit.
    Exact rational arithmetic, like pabutools.

    Args:
        problem: the problem.
        utility: ``cost``, ``cardinality`` or ``points``.
        initial: ids already funded (kept first; their cost is taken from the budget).

    Returns:
        The outcome (``initial`` first), ``spent <= budget`` when ``initial`` fits.

    Raises:
        ValidationError: ``initial`` names an unknown project (field ``initial``), or an
            unknown ``utility`` (field ``utility``).
    """
    _check_utility(utility)
    index = {pid: j for j, pid in enumerate(problem.project_ids)}
    unknown = [pid for pid in initial if pid not in index]
    if unknown:
        raise ValidationError(f"unknown projects {unknown}", field="initial")
    chosen = [index[pid] for pid in initial]
    totals = _satisfaction_totals(problem, utility)

    def density(j: int) -> tuple[int, Fraction]:
        cost = int(problem.costs[j])
        if totals[j] <= 0:
            return (0, Fraction(0))
        if cost == 0:
            return (2, Fraction(0))
        return (1, totals[j] / cost)

    taken = set(chosen)
    rest = [j for j in range(problem.n_projects) if j not in taken]
    rest.sort(key=lambda j: problem._id_rank[j])
    rest.sort(key=density, reverse=True)  # stable: equal densities keep id order
    left = problem.budget - int(problem.costs[chosen].sum()) if chosen else problem.budget
    for j in rest:
        if problem.costs[j] <= left:
            chosen.append(j)
            left -= int(problem.costs[j])
    return _outcome(problem, f"greedy_welfare_per_cost/{utility}", chosen)


def _utilities(problem: BudgetProblem, utility: Utility) -> FloatArray:
    """Utility of each (project, supporter) entry of ``problem._by_project``, float64."""
    ptr, _, pts = problem._by_project
    if utility == "cost":
        return np.repeat(problem.costs.astype(np.float64), np.diff(ptr))
    if utility == "cardinality":
        return np.ones(len(pts), np.float64)
    return pts.astype(np.float64)


def _price(budgets: FloatArray, utils: FloatArray, cost: float, total: float) -> float:
    """Smallest rho with sum_i min(b_i, rho * u_i) = cost (the supporters can afford it).

    Fixed-point iteration over the "poor" supporters (those with b_i < rho * u_i, who pay
    all they have): start at rho = cost / total; each pass charges the poor their whole
    budget and splits the rest over the others. rho and the poor set only grow and stop
    at the unique root, usually after two or three vectorised passes. Falls back to the
    sort of b_i / u_i (pabutools' loop) if it does not settle. Sources: Peters, Pierczyński
    & Skowron 2021, rule MES; pabutools ``affordability_poor_rich`` and ``mes_inner_algo``.
    """
    rho = cost / total
    poor = rho * utils > budgets
    n_poor = int(np.count_nonzero(poor))
    for _ in range(32):
        if n_poor == 0:
            return rho
        rest = total - float(utils[poor].sum())
        if rest <= 0:
            return float(np.max(budgets / utils))  # everyone pays all they have
        rho = (cost - float(budgets[poor].sum())) / rest
        poor = rho * utils > budgets
        count = int(np.count_nonzero(poor))
        if count == n_poor:
            return rho
        n_poor = count
    order = np.argsort(budgets / utils, kind="stable")
    b = budgets[order]
    u = utils[order]
    paid_before = np.concatenate(([0.0], np.cumsum(b)[:-1]))
    util_left = total - np.concatenate(([0.0], np.cumsum(u)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rhos = (cost - paid_before) / util_left
    ok = rhos * u <= b
    k = int(np.argmax(ok)) if bool(ok.any()) else len(b) - 1
    return float(rhos[k])


def _price_uniform(budgets: FloatArray, utility: float, cost: float) -> float:
    """:func:`_price` when every supporter has the same utility (cost or cardinality).

    Then every supporter who is not poor pays the same amount ``rho * utility``: the
    equal-payment form of MES for approval ballots (Peters & Skowron 2020).
    """
    count = len(budgets)
    pay = cost / count
    poor = budgets < pay
    n_poor = int(np.count_nonzero(poor))
    for _ in range(32):
        if n_poor == 0:
            return pay / utility
        if n_poor == count:
            return float(budgets.max()) / utility  # everyone pays all they have
        pay = (cost - float(budgets[poor].sum())) / (count - n_poor)
        poor = budgets < pay
        now = int(np.count_nonzero(poor))
        if now == n_poor:
            return pay / utility
        n_poor = now
    return _price(budgets, np.full(count, utility), cost, count * utility)


class _MesRunner:
    """Runs MES rounds on one problem; arrays shared between runs with different budgets."""

    def __init__(self, problem: BudgetProblem, utility: Utility) -> None:
        self.problem = problem
        self.ptr, self.voters, _ = problem._by_project
        self.utils = _utilities(problem, utility)
        if utility == "points" and bool(np.any(self.utils <= 0)):
            # A voter giving a project 0 points does not support it (pabutools: sat > 0).
            keep = self.utils > 0
            owner = np.repeat(np.arange(problem.n_projects), np.diff(self.ptr))
            self.ptr = np.zeros(problem.n_projects + 1, np.int64)
            np.cumsum(np.bincount(owner[keep], minlength=problem.n_projects), out=self.ptr[1:])
            self.voters, self.utils = self.voters[keep], self.utils[keep]
        # Cost and cardinality utilities are the same for every supporter of a project.
        self.uniform = utility in ("cost", "cardinality")
        self.unit = problem.costs.astype(np.float64) if utility == "cost" else None
        self.costs = problem.costs.astype(np.float64)
        owner = np.repeat(np.arange(problem.n_projects), np.diff(self.ptr))
        self.total = np.bincount(owner, weights=self.utils, minlength=problem.n_projects)
        supported = (np.diff(self.ptr) > 0) & (self.total > 0)
        self.free = [int(j) for j in np.flatnonzero(supported & (problem.costs == 0))]
        self.eligible = [int(j) for j in np.flatnonzero(supported & (problem.costs > 0))]
        self.rank = problem._id_rank

    def run(self, per_voter: float) -> list[int]:
        """Selected project indices, in order, when every voter starts with ``per_voter``."""
        budget = np.full(self.problem.n_voters, per_voter, np.float64)
        total = self.total
        bound = {j: self.costs[j] / total[j] for j in self.eligible}
        active = set(self.eligible)
        chosen = list(self.free)
        while active:
            best = np.inf
            ties: list[int] = []
            for j in sorted(active, key=bound.__getitem__):
                lo, hi = self.ptr[j], self.ptr[j + 1]
                b = budget[self.voters[lo:hi]]
                if b.sum() < self.costs[j] * (1 - _AFFORD_RTOL):
                    active.discard(j)  # budgets only shrink: never affordable again
                    continue
                if bound[j] > best * (1 + _TIE_RTOL):
                    break  # bounds only grow: no later project can beat `best`
                if self.uniform:
                    unit = 1.0 if self.unit is None else float(self.unit[j])
                    rho = _price_uniform(b, unit, self.costs[j])
                else:
                    rho = _price(b, self.utils[lo:hi], self.costs[j], total[j])
                bound[j] = rho
                if rho < best * (1 - _TIE_RTOL):
                    best, ties = rho, [j]
                elif rho <= best * (1 + _TIE_RTOL):
                    ties.append(j)
            if not ties:
                break
            j = min(ties, key=lambda t: self.rank[t])
            lo, hi = self.ptr[j], self.ptr[j + 1]
            who = self.voters[lo:hi]
            if self.uniform:
                unit = 1.0 if self.unit is None else float(self.unit[j])
                budget[who] -= np.minimum(budget[who], bound[j] * unit)
            else:
                budget[who] -= np.minimum(budget[who], bound[j] * self.utils[lo:hi])
            active.discard(j)
            chosen.append(j)
        return chosen


def _fits(problem: BudgetProblem, chosen: Sequence[int]) -> bool:
    return int(problem.costs[list(chosen)].sum()) <= problem.budget if chosen else True


def _exhaustive(problem: BudgetProblem, chosen: Sequence[int], among: Sequence[int]) -> bool:
    """No project of ``among`` outside ``chosen`` fits in the money left (pabutools' test)."""
    left = problem.budget - (int(problem.costs[list(chosen)].sum()) if chosen else 0)
    taken = set(chosen)
    return all(problem.costs[j] > left for j in among if j not in taken)


def _add1(
    problem: BudgetProblem,
    runner: _MesRunner,
    chosen: list[int],
    share: float,
    increment: int,
    stop_when_exhaustive: bool,
) -> tuple[list[int], int]:
    """Raise every voter's share by ``increment`` until the MES outcome exceeds the budget.

    Returns the outcome kept and the total raise of the share it was computed with.
    """
    # pabutools stops at a total budget of budget * (n + 1): a share raised by `budget`.
    last = problem.budget // increment * increment
    if not stop_when_exhaustive and _fits(problem, runner.free + runner.eligible):
        # Every outcome fits, so no raise ever overshoots: the rule runs to its bound.
        return runner.run(share + last), last
    previous, previous_step = list(runner.free), 0
    step = 0
    while True:
        if not _fits(problem, chosen):
            return previous, previous_step
        if stop_when_exhaustive and _exhaustive(problem, chosen, runner.eligible):
            return chosen, step
        if step >= last:
            return chosen, step
        previous, previous_step = chosen, step
        step += increment
        chosen = runner.run(share + step)


def equal_shares(
    problem: BudgetProblem,
    *,
    utility: Utility = "cost",
    completion: Completion = "add1",
    increment: int = 1,
) -> BudgetOutcome:
    """Method of Equal Shares (MES) with the completion the city names.

    Every voter gets an equal share ``budget / n`` of the money. Repeatedly, among the
    projects whose supporters can still pay for them, fund the one with the smallest
    price ``rho`` per unit of utility, where ``rho`` solves
    ``sum_i min(b_i, rho * u_ij) = cost_j`` over its supporters ``i`` (each supporter pays
    ``min(b_i, rho * u_ij)``); ties go to the smaller project id in string order. Stop
    when no project is affordable. Sources: Peters & Skowron 2020; Peters, Pierczyński &
    Skowron 2021 (additive utilities); equalshares.net; pabutools
    ``method_of_equal_shares`` (resolute, lexicographic tie-breaking), which this matches.

    Completions (MES alone usually leaves money unspent):
        ``none``: MES as is.
        ``add1``: Pabulib's ``equalshares/add1`` (equalshares.net): run MES again with each
        voter's share increased by ``increment`` currency units (1, 2, ...) until the
        outcome would cost more than the budget, and keep the last outcome that did not;
        if even all supported projects together fit, no raise overshoots and the share
        is raised by the whole budget (pabutools' bound). pabutools equivalent:
        ``exhaustion_by_budget_increase(MES, budget_step=n_voters * increment,
        exhaustive_stop=False)``. Reproduces Wieliczka 2023.
        ``add1_exhaustive``: pabutools' ``voter_budget_increment``: as ``add1`` but also
        stops at the first outcome in which no further eligible project fits.
        ``greedy``: fill the money left after MES with :func:`greedy_welfare_per_cost`
        under the same utility (pabutools ``completion_by_rule_combination``).
        ``add1_greedy``: ``add1``, then ``greedy``.

    Arithmetic is float64, vectorised with numpy over each project's supporters; prices
    within a relative 1e-9 count as tied (pabutools uses exact rationals).

    Args:
        problem: the problem.
        utility: ``cost`` (u = project cost if named; Pabulib/pabutools' default for
            approval, ``Cost_Sat``), ``cardinality`` (u = 1) or ``points`` (u = points).
        completion: see above.
        increment: per-voter increment for ``add1``, currency units (> 0).

    Returns:
        The outcome, projects in the order funded; ``spent <= budget``. Its ``rule`` is
        ``equal_shares/<utility>/<completion>``; for the add1 completions it ends with
        ``(+k)``: the outcome is MES with every share raised by k currency units.

    Raises:
        ValidationError: ``increment`` is not positive (field ``increment``), an unknown
            ``completion`` (field ``completion``) or ``utility`` (field ``utility``).
    """
    _check_utility(utility)
    if increment <= 0:
        raise ValidationError(f"must be positive, got {increment}", field="increment")
    if completion not in COMPLETIONS:
        raise ValidationError(f"unknown completion {completion!r}", field="completion")
    name = f"equal_shares/{utility}/{completion}"
    if problem.n_voters == 0:
        return _outcome(problem, name, [])
    runner = _MesRunner(problem, utility)
    share = problem.budget / problem.n_voters
    chosen = runner.run(share)
    if completion in ("add1", "add1_greedy", "add1_exhaustive"):
        chosen, raised = _add1(
            problem, runner, chosen, share, increment, completion == "add1_exhaustive"
        )
        name += f"(+{raised})"
    if completion in ("greedy", "add1_greedy") and not _exhaustive(
        problem, chosen, range(problem.n_projects)
    ):
        ids = [problem.project_ids[j] for j in chosen]
        filled = greedy_welfare_per_cost(problem, utility=utility, initial=ids)
        return BudgetOutcome(name, filled.selected, filled.counts, filled.spent, filled.budget)
    return _outcome(problem, name, chosen)


def later_round(
    outcome: BudgetOutcome,
    problem: BudgetProblem,
    *,
    n_projects: int,
    scores: npt.ArrayLike | None = None,
) -> BudgetOutcome:
    """Add a later round funding the next unfunded projects by votes (Pabulib ``selected = 2``).

    Poznań 2023 pools the money districts left unspent and funds the unfunded projects
    with the most votes (META ``comment``); Gdynia 2020 gives the districts with the
    highest turnout one extra project each ("Projekt +1", bo.gdynia.pl). The money and
    the winners come from outside a single district's file, so the number of projects a
    district gets is an argument; this function fixes which ones: the first unfunded
    projects in vote order, whatever their cost.

    Args:
        outcome: the first-round outcome.
        problem: the same problem.
        n_projects: how many projects the later round funds in this district (>= 0).
        scores: ranking scores, as in :func:`greedy`.

    Returns:
        ``outcome`` with the extra projects appended to ``selected`` and listed in
        ``later_round``; ``spent`` includes them and may exceed ``budget``.

    Raises:
        ValidationError: ``n_projects`` is negative (field ``n_projects``).
    """
    if n_projects < 0:
        raise ValidationError(f"must be >= 0, got {n_projects}", field="n_projects")
    done = set(outcome.selected)
    extra = [
        problem.project_ids[j]
        for j in vote_order(problem, scores)
        if problem.project_ids[j] not in done
    ][:n_projects]
    cost = {pid: int(c) for pid, c in zip(problem.project_ids, problem.costs, strict=True)}
    return BudgetOutcome(
        rule=f"{outcome.rule}+later_round",
        selected=outcome.selected + tuple(extra),
        counts=outcome.counts,
        spent=outcome.spent + sum(cost[p] for p in extra),
        budget=outcome.budget,
        later_round=tuple(extra),
    )


GDYNIA_2020_SMALL_SHARE = Fraction(1, 10)
"""Share of a Gdynia 2020 district's money for small projects (the rest, 9/10, is for large)."""

GDYNIA_2020_MIN_COVERED = 0.5
"""Gdynia 2020: the first project under the line is funded if the pool covers half its cost."""


def gdynia_2020(problem: BudgetProblem, *, pool: Literal["small", "large"]) -> BudgetOutcome:
    """Gdynia 2020 district vote: separate pools for small and large projects.

    Pabulib splits each district into a ``| small`` and a ``| large`` file that share the
    district's META ``budget``. Small projects get 1/10 of it and large ones 9/10. Each
    pool funds projects by votes and stops at the first project that does not fit; that
    project is still funded when the pool's remainder covers at least half of its cost.
    The 1/10 : 9/10 split follows Gdynia's rules (large projects up to 90% of the
    district's amount, bo.gdynia.pl); the one-half threshold is inferred from the
    published outcomes of nine Gdynia 2020 pools (funded when 65-96% was covered, not
    funded at 10-42%); bo.gdynia.pl reports district councils co-financing the first
    projects "under the line" that year. ``selected = 2`` projects ("Projekt +1" for the
    highest turnout) are a later round: see :func:`later_round`.

    Args:
        problem: one ``| small`` or ``| large`` file of a Gdynia 2020 district.
        pool: which pool the file is.

    Returns:
        The first-round outcome; ``budget`` is the pool (floor of the share, PLN).
    """
    share = GDYNIA_2020_SMALL_SHARE if pool == "small" else 1 - GDYNIA_2020_SMALL_SHARE
    money = int(problem.budget * share)
    out = greedy_until_misfit(problem, pool=money, min_covered_share=GDYNIA_2020_MIN_COVERED)
    return BudgetOutcome(
        f"gdynia_2020/{pool}", out.selected, out.counts, out.spent, out.budget, out.later_round
    )


def _equal_shares_from_meta(problem: BudgetProblem) -> BudgetOutcome:
    rule = problem.meta.get("rule", "")
    suffix = rule.partition("/")[2]
    completion: Completion = "add1" if suffix == "add1" else "none"
    return equal_shares(problem, completion=completion)


def published_rule(problem: BudgetProblem) -> tuple[str, Callable[[BudgetProblem], BudgetOutcome]]:
    """The rule (or city variant) that produced a Pabulib file's ``selected`` column.

    Chosen from META: ``rule`` starting with ``equalshares`` gives :func:`equal_shares`
    (``/add1`` gives the add1 completion); ``unit`` Poznań gives
    :func:`greedy_until_misfit`; ``unit`` Gdynia, ``instance`` 2020 with a ``| small`` or
    ``| large`` subunit gives :func:`gdynia_2020`; anything else :func:`greedy` over the
    default scores (votes, or points for cumulative and ordinal ballots).

    Args:
        problem: a problem built with :meth:`BudgetProblem.from_instance` (META kept).

    Returns:
        (variant name, function of the problem returning the first-round outcome).
    """
    meta = problem.meta
    if meta.get("rule", "").startswith("equalshares"):
        return f"equal_shares/{meta['rule']}", _equal_shares_from_meta
    if meta.get("unit") == "Poznań":
        return "poznan/greedy_until_misfit", greedy_until_misfit
    subunit = meta.get("subunit", "")
    if meta.get("unit") == "Gdynia" and meta.get("instance") == "2020":
        if subunit.endswith("| small"):
            return "gdynia_2020/small", lambda p: gdynia_2020(p, pool="small")
        if subunit.endswith("| large"):
            return "gdynia_2020/large", lambda p: gdynia_2020(p, pool="large")
    return "greedy", greedy
