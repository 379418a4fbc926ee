"""Method of Equal Shares on a real Pabulib file against pabutools (the reference library).

CivicFlow's time includes building its arrays from the parsed file
(``BudgetProblem.from_instance``) and the rule; pabutools' time is its rule call on its own
parsed instance. Parsing is excluded on both sides. The outcome (projects in funding order)
must be identical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import REALDATA, Bench, Case, Target, Trial, timed
from participation.budgeting import BudgetProblem, equal_shares
from participation.importers.pabulib import parse_pb


def pabulib_files() -> list[Path]:
    """The shared Pabulib files, largest (bytes) first."""
    files = [p for p in REALDATA.glob("pabulib*/*.pb") if p.is_file()]
    return sorted(files, key=lambda p: (-p.stat().st_size, p.name))


def pabutools_mes(completion: str) -> Callable[[Any, Any], Any]:
    """The pabutools call equivalent to CivicFlow's ``completion`` (cost utilities)."""
    from pabutools.election import Cost_Sat
    from pabutools.rules import exhaustion_by_budget_increase, method_of_equal_shares

    def run(instance: Any, profile: Any) -> Any:
        if completion == "none":
            return method_of_equal_shares(instance, profile, sat_class=Cost_Sat)
        if completion == "add1_exhaustive":
            return method_of_equal_shares(
                instance, profile, sat_class=Cost_Sat, voter_budget_increment=1
            )
        if completion == "add1":
            return exhaustion_by_budget_increase(
                instance,
                profile,
                method_of_equal_shares,
                {"sat_class": Cost_Sat},
                exhaustive_stop=False,
                budget_step=profile.num_ballots(),
            )
        raise ValueError(completion)

    return run


class MesTrial(Trial):
    """``equal_shares`` on one file with one completion vs pabutools."""

    unit = "voters"

    def __init__(self, path: Path, completion: str = "none") -> None:
        super().__init__()
        from pabutools.election import parse_pabulib

        self.path, self.completion = path, completion
        self.pb = parse_pb(path)
        self.n = len(self.pb.voters)
        self.instance, self.profile = parse_pabulib(str(path))
        self.rule = pabutools_mes(completion)
        self.ours_selected: tuple[str, ...] = ()
        self.facts.update(file=path.name, completion=completion, projects=len(self.instance))

    def ours(self) -> float:
        def run() -> tuple[str, ...]:
            problem = BudgetProblem.from_instance(self.pb)
            out = equal_shares(problem, completion=self.completion)  # type: ignore[arg-type]
            return tuple(out.selected)

        seconds, self.ours_selected = timed(run)
        return seconds

    def baseline(self) -> float:
        seconds, outcome = timed(lambda: self.rule(self.instance, self.profile))
        theirs = tuple(p.name for p in outcome)
        self.check(theirs == self.ours_selected, "MES outcome differs from pabutools")
        self.facts["same_outcome"] = self.ok
        self.facts["selected"] = len(theirs)
        return seconds


def _make(bench: Bench) -> MesTrial:
    files = pabulib_files()
    return MesTrial(files[0] if bench.scale.mes_file == "largest" else files[-1])


CASE = Case(
    name="mes",
    what="participation.budgeting.equal_shares (cost utilities, no completion) on the largest "
    "shared Pabulib file",
    against="pabutools.rules.method_of_equal_shares (Cost_Sat), same outcome",
    target=Target("≥ 10× faster than pabutools, identical outcome", max_ratio=0.1),
    make=_make,
)
