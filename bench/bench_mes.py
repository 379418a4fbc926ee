"""Time CivicFlow's Method of Equal Shares against pabutools on the shared Pabulib files.

Run: ``.venv/bin/python bench/bench_mes.py`` (about 2 minutes on 2 cores).

Default cases (3 repeats each, both sides):
    * the largest shared file (bytes): Warszawa 2023 Bielany, plain MES;
    * the file with most voters: Poznań 2023 city-wide, plain MES;
    * Wieliczka 2023, the file whose META names MES, with pabutools' own completion
      ``voter_budget_increment=1`` (CivicFlow ``add1_exhaustive``).

Options:
    ``--add1``    also Wieliczka with Pabulib's ``add1`` (pabutools
                  ``exhaustion_by_budget_increase``): ~150 s per pabutools run.
    ``--repeats N``

Full pabutools replays of the add1 completions on every shared file are tests:
``CIVICFLOW_PABUTOOLS_REPLAY=1 .venv/bin/python -m pytest tests/participation/test_budgeting.py``.

Timing: CivicFlow's time includes building its arrays from the parsed file
(``BudgetProblem.from_instance``) and the rule; pabutools' time is its rule call on its
parsed instance (parsing excluded on both sides). Medians of wall-clock seconds
(``time.perf_counter``). The outcome (projects, in funding order) must be identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pabutools.election import Cost_Sat, parse_pabulib
from pabutools.rules import (
    exhaustion_by_budget_increase,
    method_of_equal_shares,
)

from participation.budgeting import BudgetProblem, equal_shares
from participation.importers.pabulib import PbInstance, parse_pb

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"
    )
)
LARGEST = REALDATA / "pabulib-outcomes" / "poland_warszawa_2023_bielany.pb"
MOST_VOTERS = REALDATA / "pabulib-outcomes" / "poland_poznan_2023_.pb"
WIELICZKA = REALDATA / "pabulib" / "poland_wieliczka_2023.pb"


@dataclass(frozen=True)
class Row:
    case: str
    voters: int
    ours: float
    baseline: float
    same: bool

    def line(self) -> str:
        ratio = f"{self.baseline / self.ours:8.1f}x"
        same = "yes" if self.same else "NO"
        numbers = f"{self.voters:7d} {self.ours:10.4f} {self.baseline:10.3f} {ratio:>9s} {same:>5s}"
        return f"{self.case:58s} {numbers}"


HEADER = (
    f"{'case':58s} {'voters':>7s} {'median s':>10s} {'pabutools':>10s} {'ratio':>9s} {'same':>5s}"
)


def pabutools_mes(completion: str) -> Callable[[Any, Any], Any]:
    """The pabutools call equivalent to CivicFlow's completion (Cost_Sat utilities)."""

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


def time_ours(pb: PbInstance, completion: str, repeats: int) -> tuple[float, tuple[str, ...]]:
    times = []
    selected: tuple[str, ...] = ()
    for _ in range(repeats):
        start = time.perf_counter()
        problem = BudgetProblem.from_instance(pb)
        selected = equal_shares(problem, completion=completion).selected  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times), selected


def time_pabutools(path: Path, completion: str, repeats: int) -> tuple[float, tuple[str, ...]]:
    instance, profile = parse_pabulib(str(path))
    rule = pabutools_mes(completion)
    times = []
    selected: tuple[str, ...] = ()
    for _ in range(repeats):
        start = time.perf_counter()
        outcome = rule(instance, profile)
        times.append(time.perf_counter() - start)
        selected = tuple(p.name for p in outcome)
    return statistics.median(times), selected


def bench(path: Path, completion: str, repeats: int) -> Row:
    pb = parse_pb(path)
    ours, mine = time_ours(pb, completion, repeats)
    baseline, theirs = time_pabutools(path, completion, repeats)
    case = f"{path.stem[:40]} {completion}"
    return Row(case, len(pb.voters), ours, baseline, mine == theirs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--add1", action="store_true")
    args = parser.parse_args(argv)

    cases = [(LARGEST, "none"), (MOST_VOTERS, "none"), (WIELICZKA, "add1_exhaustive")]
    if args.add1:
        cases.append((WIELICZKA, "add1"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.repeats} repeats")
    print(HEADER)
    ok = True
    for path, completion in cases:
        row = bench(path, completion, args.repeats)
        ok &= row.same
        print(row.line(), flush=True)

    print("identical outcomes" if ok else "OUTCOMES DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
