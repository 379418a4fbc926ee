"""A citizen's ballot while they fill it in: pure logic, no Streamlit (easy to test).

The basket keeps ``values`` (proposal id → value) for methods where each proposal gets its
own value, and ``order`` (proposal ids, first choice first) for rankings. :func:`choices`
turns it into what :func:`participation.ballots.cast_ballot` takes; the service checks the
ballot again (``participation.rules.validate_ballot``), so the basket's limits only keep the
page from offering what would be refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from participation.rules import BallotRules

Kind = Literal["approve", "budget", "points", "ranking", "yes_no", "agree"]


def kind_of(rules: BallotRules) -> Kind:
    """How the page asks for this ballot.

    ``approve`` (approval), ``budget`` (approval within a budget), ``points`` (cumulative
    budget), ``ranking`` (ranked, or ordinal budget), ``yes_no`` (single_choice) or
    ``agree`` (agree_disagree).
    """
    if rules.method == "budget":
        return {"cumulative": "points", "ordinal": "ranking"}.get(rules.vote_type, "budget")  # type: ignore[return-value]
    return {
        "approval": "approve",
        "ranked": "ranking",
        "single_choice": "yes_no",
        "agree_disagree": "agree",
    }.get(rules.method, "approve")  # type: ignore[return-value]


@dataclass
class Basket:
    """The ballot being filled in.

    Attributes:
        kind: see :func:`kind_of`.
        values: proposal id → value (approval 1, points, 1/-1/0).
        order: proposal ids in ranking order (``ranking`` only).
    """

    kind: Kind
    values: dict[int, int] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    @classmethod
    def from_ballot(cls, kind: Kind, ballot: Mapping[int, int] | None) -> Basket:
        """Start from the citizen's stored ballot (``None``: an empty basket)."""
        basket = cls(kind)
        if not ballot:
            return basket
        if kind == "ranking":
            basket.order = [pid for pid, _ in sorted(ballot.items(), key=lambda kv: kv[1])]
        else:
            basket.values = dict(ballot)
        return basket

    def ids(self) -> list[int]:
        """The proposals on the ballot (ranking order for rankings)."""
        return list(self.order) if self.kind == "ranking" else list(self.values)

    def choices(self) -> dict[int, int]:
        """The ballot as ``cast_ballot`` takes it (ranks 1..n for rankings)."""
        if self.kind == "ranking":
            return {pid: rank for rank, pid in enumerate(self.order, start=1)}
        if self.kind == "points":
            return {pid: v for pid, v in self.values.items() if v > 0}
        return dict(self.values)

    def __len__(self) -> int:
        return len(self.ids())

    def has(self, pid: int) -> bool:
        """Whether the proposal is on the ballot."""
        return pid in self.order if self.kind == "ranking" else pid in self.values

    def add(self, pid: int, value: int = 1) -> None:
        """Put a proposal on the ballot (at the end of a ranking)."""
        if self.kind == "ranking":
            if pid not in self.order:
                self.order.append(pid)
        else:
            self.values[pid] = value

    def set(self, pid: int, value: int | None) -> None:
        """Set a proposal's value; ``None`` (or 0 points) takes it off the ballot."""
        if value is None or (self.kind == "points" and value <= 0):
            self.remove(pid)
        else:
            self.add(pid, value)

    def remove(self, pid: int) -> None:
        """Take a proposal off the ballot."""
        if pid in self.order:
            self.order.remove(pid)
        self.values.pop(pid, None)

    def move(self, pid: int, step: int) -> None:
        """Move a proposal up (``step=-1``) or down (``+1``) in a ranking."""
        if pid not in self.order:
            return
        i = self.order.index(pid)
        j = min(max(i + step, 0), len(self.order) - 1)
        self.order[i], self.order[j] = self.order[j], self.order[i]

    def total_cost(self, costs: Mapping[int, int | None]) -> int:
        """The cost of the basket's proposals (unknown costs count 0)."""
        return sum(costs.get(pid) or 0 for pid in self.ids())

    def total_points(self) -> int:
        """Points given in all (``points`` ballots)."""
        return sum(self.values.values()) if self.kind == "points" else 0


def can_add(
    basket: Basket, rules: BallotRules, *, cost: int | None, spent: int
) -> tuple[bool, str | None]:
    """Whether one more proposal may go on the ballot, and if not, why.

    Args:
        basket: the ballot so far.
        rules: the consultation's rules.
        cost: the proposal's cost; spent: the basket's cost so far.
    Returns:
        ``(True, None)``, ``(False, "max")`` (the most proposals allowed are chosen) or
        ``(False, "budget")`` (it would take the basket over the budget).
    """
    if rules.max_choices is not None and len(basket) >= rules.max_choices:
        return False, "max"
    if (
        basket.kind == "budget"
        and rules.enforce_budget
        and rules.budget is not None
        and spent + (cost or 0) > rules.budget
    ):
        return False, "budget"
    return True, None
