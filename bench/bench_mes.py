"""Time CivicFlow's Method of Equal Shares against pabutools on several shared Pabulib files.

The suite's ``mes`` case (``bench/cases/mes.py``, run by ``bench/run.py``) covers the largest
file; this script runs the same trial on more files and completions:

    * the largest shared file (bytes): Warszawa 2023 Bielany, plain MES;
    * the file with most voters: Poznań 2023 city-wide, plain MES;
    * Wieliczka 2023, the file whose META names MES, with pabutools' own completion
      ``voter_budget_increment=1`` (CivicFlow ``add1_exhaustive``);
    * with ``--add1`` also Wieliczka with Pabulib's ``add1`` (pabutools
      ``exhaustion_by_budget_increase``): ~150 s per pabutools run.

Run: ``.venv/bin/python bench/bench_mes.py [--add1] [--repeats N]`` (about 2 minutes).
Full pabutools replays of the add1 completions on every shared file are tests:
``CIVICFLOW_PABUTOOLS_REPLAY=1 .venv/bin/python -m pytest tests/participation/test_budgeting.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases.mes import MesTrial
from bench.harness import REALDATA
from bench.run import measure

FILES = [
    (REALDATA / "pabulib-outcomes" / "poland_warszawa_2023_bielany.pb", "none"),
    (REALDATA / "pabulib-outcomes" / "poland_poznan_2023_.pb", "none"),
    (REALDATA / "pabulib" / "poland_wieliczka_2023.pb", "add1_exhaustive"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--add1", action="store_true")
    args = parser.parse_args(argv)
    files = FILES + ([(FILES[2][0], "add1")] if args.add1 else [])
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.repeats} repeats")
    print(
        f"{'case':58s} {'voters':>7s} {'median s':>10s} {'pabutools':>10s} {'ratio':>9s} "
        f"{'same':>5s}"
    )
    ok = True
    for path, completion in files:
        trial = MesTrial(path, completion)
        ours, theirs = measure(trial, args.repeats)
        mine, base = statistics.median(ours), statistics.median(theirs)
        ok &= trial.ok
        print(
            f"{path.stem[:40] + ' ' + completion:58s} {trial.n:7d} {mine:10.4f} {base:10.3f} "
            f"{base / mine:8.1f}x {'yes' if trial.ok else 'NO':>5s}",
            flush=True,
        )
    print("identical outcomes" if ok else "OUTCOMES DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
