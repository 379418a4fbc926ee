"""Pure rules of the participation core: the consultation state machine, eligibility and
ballot validation. No I/O: every function takes plain values (CONVENTIONS "Pure rules")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import NotAllowed, ValidationError

#: Allowed transitions of a consultation (DESIGN §1). ``archived`` is also reachable from
#: ``draft`` so an abandoned draft can be put away; nothing ever goes backwards.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "archived"}),
    "published": frozenset({"open"}),
    "open": frozenset({"closed"}),
    "closed": frozenset({"tallied"}),
    "tallied": frozenset({"reported"}),
    "reported": frozenset({"archived"}),
    "archived": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    """Raise :class:`NotAllowed` (field ``status``) unless ``current → target`` is allowed."""
    if target not in TRANSITIONS:
        raise ValidationError(f"unknown status {target!r}", field="status")
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none"
        raise NotAllowed(
            f"a consultation that is {current} cannot become {target} (allowed: {allowed})",
            field="status",
        )


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who may take part.

    Attributes:
        districts: allowed districts; empty = everyone.
        minimum_age: minimum age in whole years on the opening day; ``None`` = no limit.
            A citizen with no recorded birth year is not eligible when a limit is set.
    """

    districts: tuple[str, ...] = ()
    minimum_age: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> Eligibility:
        """Build from stored JSON such as ``{"districts": [...], "minimum_age": 16}``."""
        data = data or {}
        districts = data.get("districts") or ()
        age = data.get("minimum_age")
        return cls(
            districts=tuple(str(d) for d in districts),  # type: ignore[attr-defined]
            minimum_age=int(age) if age is not None else None,  # type: ignore[call-overload]
        )


def eligibility_refusal(
    rule: Eligibility, *, district: str | None, birth_year: int | None, on: datetime
) -> str | None:
    """Return why a citizen is not eligible, or ``None`` when they are.

    Age is counted in calendar years (``on.year - birth_year``), the convention of municipal
    registers that hold only a birth year.
    """
    if rule.districts and district not in rule.districts:
        return f"district {district!r} is not among {', '.join(rule.districts)}"
    if rule.minimum_age is not None:
        if birth_year is None:
            return "no birth year is recorded and the consultation has a minimum age"
        if on.year - birth_year < rule.minimum_age:
            return f"younger than the minimum age {rule.minimum_age}"
    return None


@dataclass(frozen=True, slots=True)
class BallotRules:
    """What a valid ballot looks like for a consultation's method and parameters.

    Attributes:
        method: ``single_choice``, ``approval``, ``budget``, ``ranked`` or ``agree_disagree``.
        min_choices / max_choices: bounds on the number of proposals on the ballot.
        vote_type: for ``budget``: ``approval``, ``cumulative`` or ``ordinal``.
        budget: for ``budget`` with approval votes: the basket's cost may not exceed it
            (currency units, integers).
        max_points / min_sum_points / max_sum_points: cumulative-vote limits (Pabulib META).
    """

    method: str
    min_choices: int = 0
    max_choices: int | None = None
    vote_type: str = "approval"
    budget: int | None = None
    max_points: int | None = None
    min_sum_points: int | None = None
    max_sum_points: int | None = None
    enforce_budget: bool = True
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_params(cls, method: str, params: Mapping[str, object]) -> BallotRules:
        """Build from the consultation's method parameters (validated at creation)."""

        def opt_int(key: str) -> int | None:
            value = params.get(key)
            return int(value) if value is not None else None  # type: ignore[call-overload]

        return cls(
            method=method,
            min_choices=opt_int("min_choices") or 0,
            max_choices=opt_int("max_choices"),
            vote_type=str(params.get("vote_type", "approval")),
            budget=opt_int("budget"),
            max_points=opt_int("max_points"),
            min_sum_points=opt_int("min_sum_points"),
            max_sum_points=opt_int("max_sum_points"),
            enforce_budget=bool(params.get("enforce_budget", True)),
        )


SINGLE_CHOICE_VALUES = {1: "yes", -1: "no", 0: "abstain"}
AGREE_VALUES = {1: "agree", -1: "disagree", 0: "pass"}


def validate_ballot(
    rules: BallotRules, choices: Mapping[int, int], costs: Mapping[int, int | None]
) -> None:
    """Check a ballot against its consultation's rules.

    Args:
        rules: the consultation's :class:`BallotRules`.
        choices: proposal id → value (1 for approval; points for cumulative; rank 1..n for
            ranked/ordinal; 1/-1/0 for yes/no/abstain and agree/disagree/pass).
        costs: every open proposal of the consultation → its cost (None when not a budget).
    Raises:
        ValidationError: field ``choices`` — unknown or withdrawn proposal, too many/few
            choices, bad value, ranks not 1..n, points out of bounds, basket over budget.
    """
    unknown = sorted(set(choices) - set(costs))
    if unknown:
        raise ValidationError(
            f"proposal(s) {unknown} are not open proposals of this consultation", field="choices"
        )
    n = len(choices)
    if n < max(rules.min_choices, 1):
        raise ValidationError(
            f"at least {max(rules.min_choices, 1)} proposal(s) must be chosen (got {n})",
            field="choices",
        )
    if rules.max_choices is not None and n > rules.max_choices:
        raise ValidationError(
            f"at most {rules.max_choices} proposal(s) may be chosen (got {n})", field="choices"
        )
    values = list(choices.values())
    method = rules.method
    if method == "single_choice":
        _check_values(values, SINGLE_CHOICE_VALUES, "yes (1), no (-1) or abstain (0)")
    elif method == "agree_disagree":
        _check_values(values, AGREE_VALUES, "agree (1), disagree (-1) or pass (0)")
    elif method == "approval" or (method == "budget" and rules.vote_type == "approval"):
        if any(v != 1 for v in values):
            raise ValidationError("approval ballots carry the value 1 only", field="choices")
    elif method == "ranked" or (method == "budget" and rules.vote_type == "ordinal"):
        if sorted(values) != list(range(1, n + 1)):
            raise ValidationError(
                f"ranks must be 1..{n}, each once (got {sorted(values)})", field="choices"
            )
    elif method == "budget" and rules.vote_type == "cumulative":
        _check_points(rules, values)
    else:
        raise ValidationError(f"unknown method {method!r}", field="method")
    if (
        method == "budget"
        and rules.vote_type == "approval"
        and rules.enforce_budget
        and rules.budget
    ):
        total = sum(costs[p] or 0 for p in choices)
        if total > rules.budget:
            raise ValidationError(
                f"the chosen projects cost {total}, more than the budget {rules.budget}",
                field="choices",
            )


def _check_values(values: list[int], allowed: Mapping[int, str], words: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValidationError(f"each value must be {words} (got {bad[0]})", field="choices")


def _check_points(rules: BallotRules, values: list[int]) -> None:
    if any(v < 1 for v in values):
        raise ValidationError("points must be positive integers", field="choices")
    if rules.max_points is not None and max(values) > rules.max_points:
        raise ValidationError(
            f"at most {rules.max_points} points per project (got {max(values)})", field="choices"
        )
    total = sum(values)
    if rules.max_sum_points is not None and total > rules.max_sum_points:
        raise ValidationError(
            f"at most {rules.max_sum_points} points in all (got {total})", field="choices"
        )
    if rules.min_sum_points is not None and total < rules.min_sum_points:
        raise ValidationError(
            f"at least {rules.min_sum_points} points in all (got {total})", field="choices"
        )
