"""Tally a closed consultation from its stored ballots and record the result.

The database counts (``GROUP BY`` over ``ballot_choice``); where a rule needs each voter's
ballot (participatory-budgeting rules, ranked ballots, opinion groups) the
``(ballot, proposal, value)`` columns are fetched in one query and turned into numpy
arrays — never a Python loop over ballot rows. The pure rules then decide:
:mod:`participation.budgeting` for ``budget`` and :mod:`participation.tallies` for the
other methods (DESIGN §5). The result is JSON on ``consultation.result`` and the
consultation moves ``closed → tallied`` through
:func:`participation.consultations.transition`; tallying again (a ``tallied``
consultation, e.g. with another rule) replaces the stored result.

Result JSON per method (proposal keys are their ``external_ref``):

``budget``
    ``{"method", "rule", "variant", "selected": [ids in funding order], "counts": {id:
    ballots naming it}, "points": {id: points}, "spent", "budget", "later_round": [ids],
    "ballots"}``; ``rule`` is the rule as run (e.g. ``equal_shares/cost/add1``),
    ``variant`` the name asked for or picked from the file's META.
``approval``
    ``{"method", "rule": "approval", "counts", "shares": {id: share of ballots},
    "ranking": [{"id", "score", "rank", "share"}], "ballots", "reported_supports"?}``
``single_choice``
    ``{"method", "rule", "counts": {id: yes}, "results": {id: {"yes", "no", "abstain",
    "yes_share", "no_share", "abstain_share", "turnout", "quorum_met", "adopted"}},
    "ballots", "eligible"}``
``ranked``
    ``{"method", "rule": "borda"|"instant_runoff"|"borda+instant_runoff", "counts": {id:
    first preferences}, "borda": {"points", "winners"}, "instant_runoff": {"winner",
    "rounds"}, "ballots"}``
``agree_disagree``
    ``{"method", "rule", "counts": {id: {"agree", "disagree", "pass"}}, "shares": {id:
    {"agree", "disagree", "pass"}}, "consensus": {id: value or null}, "groups", "ballots"}``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.errors import NotAllowed, ValidationError
from models import Ballot, BallotChoice, Citizen, Consultation, Proposal
from participation import budgeting, tallies
from participation.audit import append_event
from participation.consultations import get_consultation, transition

BUDGET_RULES: dict[str, Callable[[budgeting.BudgetProblem], budgeting.BudgetOutcome]] = {
    "greedy": budgeting.greedy,
    "greedy_until_misfit": budgeting.greedy_until_misfit,
    "greedy_welfare_per_cost": budgeting.greedy_welfare_per_cost,
    "greedy_welfare_per_cost/cardinality":
        lambda p: budgeting.greedy_welfare_per_cost(p, utility="cardinality"),
    "greedy_welfare_per_cost/points":
        lambda p: budgeting.greedy_welfare_per_cost(p, utility="points"),
    "equal_shares": lambda p: budgeting.equal_shares(p, completion="add1"),
    **{f"equal_shares/{c}": partial(budgeting.equal_shares, completion=c)
       for c in budgeting.COMPLETIONS},
    "gdynia_2020/small": lambda p: budgeting.gdynia_2020(p, pool="small"),
    "gdynia_2020/large": lambda p: budgeting.gdynia_2020(p, pool="large"),
}
"""Rules ``tally(rule=...)`` accepts for ``budget`` consultations (``None`` or
``"published"``: the rule the file's META names, :func:`budgeting.published_rule`)."""

OTHER_RULES = {
    "approval": ("approval",),
    "single_choice": ("single_choice",),
    "ranked": ("borda", "instant_runoff"),
    "agree_disagree": ("agree_disagree",),
}
"""Rules accepted for the other methods (``None`` = all of them)."""

SYSTEM = Actor(kind="system", name="tally")


@dataclass(frozen=True, slots=True)
class TallyResult:
    """A stored tally.

    Attributes:
        consultation_id: the consultation.
        slug: its slug.
        method: its voting method.
        rule: the rule run (see the module docstring).
        status: the consultation's status afterwards (``tallied``).
        result: the JSON stored on ``consultation.result``.
    """

    consultation_id: int
    slug: str
    method: str
    rule: str
    status: str
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Columns:
    """The ballots of a consultation as arrays: choice ``k`` is on ballot ``ballot[k]``
    (index into the consultation's ballots, ordered by id) for proposal ``proposal[k]``
    (index into ``refs``) with ``value[k]``."""

    refs: tuple[str, ...]
    n_ballots: int
    ballot: np.ndarray[Any, np.dtype[np.int64]]
    proposal: np.ndarray[Any, np.dtype[np.int64]]
    value: np.ndarray[Any, np.dtype[np.int64]]
    citizen: np.ndarray[Any, np.dtype[np.int64]]


ProposalRow = tuple[int, str, int | None]
"""(proposal id, external_ref, cost)."""


def _proposals(session: Session, c: Consultation, *, open_only: bool) -> list[ProposalRow]:
    stmt = (select(Proposal.id, Proposal.external_ref, Proposal.cost)
            .where(Proposal.consultation_id == c.id).order_by(Proposal.id))
    if open_only:
        stmt = stmt.where(Proposal.status != "withdrawn")
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


def _counts(session: Session, c: Consultation) -> dict[int, tuple[int, int]]:
    """``{proposal id: (choices naming it, sum of their values)}`` by ``GROUP BY``."""
    rows = session.execute(
        select(BallotChoice.proposal_id, func.count(),
               func.coalesce(func.sum(BallotChoice.value), 0))
        .where(BallotChoice.consultation_id == c.id).group_by(BallotChoice.proposal_id)
    )
    return {pid: (int(n), int(s)) for pid, n, s in rows}


def _choice_counts(session: Session, c: Consultation) -> dict[int, int]:
    """``{proposal id: choices naming it}`` — a count-only ``GROUP BY`` (approval needs no
    sum of values; dropping it took a 1M-ballot tally from 1.56× to 1.15× a raw GROUP BY)."""
    rows = session.execute(
        select(BallotChoice.proposal_id, func.count())
        .where(BallotChoice.consultation_id == c.id).group_by(BallotChoice.proposal_id)
    )
    return {pid: int(n) for pid, n in rows}


def _value_counts(session: Session, c: Consultation) -> dict[int, dict[int, int]]:
    """``{proposal id: {value: choices}}`` by ``GROUP BY proposal_id, value``."""
    out: dict[int, dict[int, int]] = {}
    rows = session.execute(
        select(BallotChoice.proposal_id, BallotChoice.value, func.count())
        .where(BallotChoice.consultation_id == c.id)
        .group_by(BallotChoice.proposal_id, BallotChoice.value)
    )
    for pid, value, n in rows:
        out.setdefault(pid, {})[int(value)] = int(n)
    return out


def _n_ballots(session: Session, c: Consultation) -> int:
    """The ballot total: recorded when voting closed (or the import stored the ballots), else
    counted (a consultation closed before that was recorded). Counting again costs a second
    scan, a fifth of the ``GROUP BY`` at 1M ballots (docs/performance.md, ``tally``)."""
    if c.ballots_at_close is not None:
        return c.ballots_at_close
    return int(session.execute(
        select(func.count()).select_from(Ballot).where(Ballot.consultation_id == c.id)
    ).scalar_one())


def _int_matrix(rows: Sequence[Sequence[int]], width: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Rows of ints as an (n, width) int64 array (flattened through ``fromiter``: building
    it from SQLAlchemy ``Row`` objects with ``np.array`` is 10x slower)."""
    flat = np.fromiter(chain.from_iterable(rows), np.int64, len(rows) * width)
    return flat.reshape(-1, width)


def _columns(session: Session, c: Consultation, proposals: list[ProposalRow]) -> _Columns:
    """Fetch ``(ballot, proposal, value)`` of every choice in one query, as numpy arrays.

    Choices on proposals outside ``proposals`` (withdrawn ones) are dropped.
    """
    pairs = _int_matrix(session.execute(
        select(Ballot.id, Ballot.citizen_id).where(Ballot.consultation_id == c.id)
        .order_by(Ballot.id)).all(), 2)
    ballots, citizens = pairs[:, 0].copy(), pairs[:, 1].copy()
    rows = session.execute(
        select(BallotChoice.ballot_id, BallotChoice.proposal_id, BallotChoice.value)
        .where(BallotChoice.consultation_id == c.id)
        .order_by(BallotChoice.ballot_id, BallotChoice.value, BallotChoice.proposal_id)
    ).all()
    data = _int_matrix(rows, 3)
    pids = np.array([p[0] for p in proposals], np.int64)
    order = np.argsort(pids)
    where = np.searchsorted(pids[order], data[:, 1])
    where = np.minimum(where, max(len(pids) - 1, 0))
    known = (pids[order][where] == data[:, 1]) if len(pids) else np.zeros(len(data), bool)
    data, where = data[known], where[known]
    return _Columns(
        refs=tuple(p[1] for p in proposals),
        n_ballots=len(ballots),
        ballot=np.searchsorted(ballots, data[:, 0]).astype(np.int64),
        proposal=order[where].astype(np.int64),
        value=data[:, 2].copy(),
        citizen=citizens,
    )


def _budget_problem(c: Consultation, proposals: list[ProposalRow],
                    cols: _Columns) -> budgeting.BudgetProblem:
    """The :class:`budgeting.BudgetProblem` of the stored ballots.

    Points per choice: 1 for approval, the stored points for cumulative, and for ordinal
    ballots (stored as ranks 1..n) the positional ``L - (rank - 1)`` with ``L`` = the
    consultation's ``max_choices`` or the longest ballot — the convention of
    :meth:`budgeting.BudgetProblem.from_instance`.
    """
    params = c.method_params
    meta = dict(params.get("pabulib_meta") or {})
    if not meta and params.get("rule"):
        meta["rule"] = str(params["rule"])
    vote_type = meta.get("vote_type") or str(params.get("vote_type", "approval"))
    lengths = np.bincount(cols.ballot, minlength=cols.n_ballots).astype(np.int64)
    indptr = np.zeros(cols.n_ballots + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    # choices are ordered by ballot (then value) already, so indices are in CSR order
    if vote_type in ("approval", "choose-1"):
        points = np.ones(len(cols.value), np.int64)
    elif vote_type == "ordinal":
        top = int(params.get("max_choices") or int(lengths.max(initial=0)))
        points = top - (cols.value - 1)
    else:
        points = cols.value
    return budgeting.BudgetProblem(
        project_ids=cols.refs,
        costs=np.array([p[2] or 0 for p in proposals], np.int64),
        budget=int(params["budget"]),
        vote_type=vote_type,
        indptr=indptr,
        indices=cols.proposal,
        points=points.astype(np.int64),
        meta=meta,
    )


def _tally_budget(session: Session, c: Consultation, rule: str | None,
                  later_round_projects: int | None) -> tuple[str, dict[str, Any]]:
    proposals = _proposals(session, c, open_only=True)
    cols = _columns(session, c, proposals)
    problem = _budget_problem(c, proposals, cols)
    if rule is None or rule == "published":
        variant, run = budgeting.published_rule(problem)
    elif rule in BUDGET_RULES:
        variant, run = rule, BUDGET_RULES[rule]
    else:
        raise ValidationError(
            f"unknown budget rule {rule!r}; use one of published, {', '.join(BUDGET_RULES)}",
            field="rule")
    outcome = run(problem)
    if later_round_projects:
        outcome = budgeting.later_round(outcome, problem, n_projects=later_round_projects)
    counted = _counts(session, c)
    refs = {pid: ref for pid, ref, _ in _proposals(session, c, open_only=False)}
    result = {
        "method": "budget",
        "rule": outcome.rule,
        "variant": variant,
        "selected": list(outcome.selected),
        "counts": {ref: counted.get(pid, (0, 0))[0] for pid, ref in refs.items()},
        "points": {ref: counted.get(pid, (0, 0))[1] for pid, ref in refs.items()},
        "spent": outcome.spent,
        "budget": outcome.budget,
        "later_round": list(outcome.later_round),
        "ballots": cols.n_ballots,
    }
    return variant, result


def _check_rule(method: str, rule: str | None) -> tuple[str, ...]:
    allowed = OTHER_RULES[method]
    if rule is None:
        return allowed
    if rule not in allowed:
        raise ValidationError(f"{method} consultations are tallied with {', '.join(allowed)}, "
                              f"not {rule!r}", field="rule")
    return (rule,)


def _tally_approval(session: Session, c: Consultation) -> dict[str, Any]:
    proposals = _proposals(session, c, open_only=False)
    counted = _choice_counts(session, c)
    n = _n_ballots(session, c)
    counts = {ref: counted.get(pid, 0) for pid, ref, _ in proposals}
    res = tallies.approval(counts, ballots=n)
    out: dict[str, Any] = {
        "method": "approval", "rule": "approval", "counts": counts,
        "shares": {e.key: e.share for e in res.ranking},
        "ranking": [{"id": e.key, "score": e.score, "rank": e.rank, "share": e.share}
                    for e in res.ranking],
        "ballots": n,
    }
    if "supports" in c.method_params:
        out["reported_supports"] = c.method_params["supports"]
    return out


def _eligible(session: Session, c: Consultation) -> int:
    """Citizens meeting the consultation's eligibility (districts, minimum age)."""
    stmt = select(func.count()).select_from(Citizen)
    districts = (c.eligibility or {}).get("districts") or []
    if districts:
        stmt = stmt.where(Citizen.district.in_([str(d) for d in districts]))
    age = (c.eligibility or {}).get("minimum_age")
    if age is not None:
        stmt = stmt.where(Citizen.birth_year <= c.opens_at.year - int(age))
    return int(session.execute(stmt).scalar_one())


def _tally_single_choice(session: Session, c: Consultation) -> dict[str, Any]:
    proposals = _proposals(session, c, open_only=False)
    by_value = _value_counts(session, c)
    eligible = _eligible(session, c) if c.quorum is not None else None
    results: dict[str, Any] = {}
    for pid, ref, _ in proposals:
        v = by_value.get(pid, {})
        r = tallies.single_choice({"yes": v.get(1, 0), "no": v.get(-1, 0),
                                   "abstain": v.get(0, 0)}, eligible=eligible, quorum=c.quorum)
        results[ref] = {"yes": r.yes, "no": r.no, "abstain": r.abstain, "cast": r.cast,
                        "yes_share": r.yes_share, "no_share": r.no_share,
                        "abstain_share": r.abstain_share, "turnout": r.turnout,
                        "quorum_met": r.quorum_met, "adopted": r.adopted}
    return {"method": "single_choice", "rule": "single_choice",
            "counts": {ref: r["yes"] for ref, r in results.items()}, "results": results,
            "ballots": _n_ballots(session, c), "eligible": eligible}


def _rankings(cols: _Columns) -> dict[tuple[str, ...], int]:
    """Distinct rankings with their number of ballots, via ``numpy.unique`` over a
    (ballots × longest ranking) matrix; ballots without a choice are blank rankings."""
    width = int(np.bincount(cols.ballot, minlength=cols.n_ballots).max(initial=0))
    matrix = np.full((cols.n_ballots, max(width, 1)), -1, np.int64)
    # choices are ordered by (ballot, rank): the position is the rank order on the ballot
    starts = np.searchsorted(cols.ballot, np.arange(cols.n_ballots))
    position = np.arange(len(cols.ballot)) - starts[cols.ballot]
    matrix[cols.ballot, position] = cols.proposal
    distinct, counts = np.unique(matrix, axis=0, return_counts=True)
    return {tuple(cols.refs[j] for j in row if j >= 0): int(n)
            for row, n in zip(distinct, counts, strict=True)}


def _tally_ranked(session: Session, c: Consultation, rules: tuple[str, ...]) -> dict[str, Any]:
    proposals = _proposals(session, c, open_only=True)
    cols = _columns(session, c, proposals)
    ballots = _rankings(cols) if cols.n_ballots else {}
    by_value = _value_counts(session, c)
    out: dict[str, Any] = {
        "method": "ranked", "rule": "+".join(rules),
        "counts": {ref: by_value.get(pid, {}).get(1, 0) for pid, ref, _ in proposals},
        "ballots": cols.n_ballots,
    }
    candidates = list(cols.refs)
    if "borda" in rules:
        b = tallies.borda(ballots, candidates=candidates)
        out["borda"] = {"points": {e.key: e.score for e in b.ranking}, "winners": list(b.winners)}
    if "instant_runoff" in rules:
        irv = tallies.instant_runoff(ballots, candidates=candidates)
        out["instant_runoff"] = {
            "winner": irv.winner,
            "rounds": [{"votes": dict(r.votes), "exhausted": r.exhausted,
                        "eliminated": r.eliminated, "tie_break": r.tie_break}
                       for r in irv.rounds],
        }
    return out


def _tally_agree_disagree(session: Session, c: Consultation) -> dict[str, Any]:
    proposals = _proposals(session, c, open_only=False)
    by_value = _value_counts(session, c)
    counts = {ref: by_value.get(pid, {}) for pid, ref, _ in proposals}
    groups_of = {str(k): int(v) for k, v in
                 ((c.method_params.get("polis") or {}).get("groups") or {}).items()}
    group_counts: dict[str, dict[int, dict[int, int]]] | None = None
    if groups_of:
        cols = _columns(session, c, proposals)
        refs = dict(session.execute(
            select(Ballot.citizen_id, Citizen.external_ref).join(Citizen)
            .where(Ballot.consultation_id == c.id)).all())
        group_of_citizen = {cid: groups_of.get((ref or "").rsplit(":", 1)[-1], -1)
                            for cid, ref in refs.items()}
        ballot_group = np.array([group_of_citizen.get(int(x), -1) for x in cols.citizen],
                                np.int64)
        g = ballot_group[cols.ballot] if len(cols.ballot) else np.zeros(0, np.int64)
        keep = g >= 0
        keys, n = np.unique(np.stack([cols.proposal[keep], g[keep], cols.value[keep]]),
                            axis=1, return_counts=True)
        group_counts = {}
        for (j, grp, val), k in zip(keys.T.tolist(), n.tolist(), strict=True):
            group_counts.setdefault(cols.refs[j], {}).setdefault(grp, {})[val] = k
    res = tallies.agree_disagree(counts, group_counts=group_counts)
    return {
        "method": "agree_disagree", "rule": "agree_disagree",
        "counts": {s.statement: {"agree": s.agree, "disagree": s.disagree, "pass": s.passed}
                   for s in res.statements},
        "shares": {s.statement: {"agree": s.agree_share, "disagree": s.disagree_share,
                                 "pass": s.pass_share} for s in res.statements},
        "consensus": {s.statement: s.consensus for s in res.statements},
        "groups": len(set(groups_of.values())),
        "ballots": _n_ballots(session, c),
    }


def tally(
    session: Session,
    *,
    consultation_id: int,
    rule: str | None = None,
    later_round_projects: int | None = None,
    actor: Actor = SYSTEM,
) -> TallyResult:
    """Count a closed consultation, store the result and mark it ``tallied``.

    Args:
        session: the caller's session (never committed here).
        consultation_id: the consultation's id.
        rule: ``budget``: a key of :data:`BUDGET_RULES` or ``None``/``"published"`` for the
            rule the consultation's (Pabulib) META names; ``ranked``: ``borda`` or
            ``instant_runoff`` (``None``: both); the other methods take ``None`` or their
            own name.
        later_round_projects: ``budget`` only: fund this many further projects, next in
            vote order, in a later round paid from outside the budget (Pabulib
            ``selected = 2``; see :func:`budgeting.later_round`).
        actor: who tallies (an organizer or the system).
    Returns:
        :class:`TallyResult` with the JSON stored on ``consultation.result`` (shapes in
        the module docstring).
    Raises:
        NotFound: no such consultation.
        NotAllowed: the consultation is not ``closed`` or ``tallied`` (voting still open,
            or already reported), or the actor is not an organizer.
        ValidationError: an unknown rule for the method, or ``later_round_projects`` on a
            method other than ``budget``.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id)
    if c.status not in ("closed", "tallied"):
        # once reported, the stored result is what the council was given: not recomputed
        where = ("; its result, stored when it was tallied, is in its governance report"
                 if c.status in ("reported", "archived") else "")
        raise NotAllowed(
            f"only a closed consultation can be tallied (this one is {c.status}{where})",
            field="consultation")
    if later_round_projects is not None and c.method != "budget":
        raise ValidationError("a later round exists only for budgets",
                              field="later_round_projects")
    if c.method == "budget":
        name, result = _tally_budget(session, c, rule, later_round_projects)
    elif c.method == "approval":
        name, result = _check_rule("approval", rule)[0], _tally_approval(session, c)
    elif c.method == "single_choice":
        name, result = _check_rule("single_choice", rule)[0], _tally_single_choice(session, c)
    elif c.method == "ranked":
        rules = _check_rule("ranked", rule)
        name, result = "+".join(rules), _tally_ranked(session, c, rules)
    else:
        name = _check_rule("agree_disagree", rule)[0]
        result = _tally_agree_disagree(session, c)
    c.result = result
    status = transition(session, consultation_id=c.id, to="tallied", actor=actor)
    append_event(session, actor=actor, action="consultation.tally", subject=f"consultation:{c.id}",
                 payload={"rule": name, "result": result})
    return TallyResult(c.id, c.slug, c.method, name, status, result)
