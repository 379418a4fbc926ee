"""The demo cycle after install: ``civicflow demo`` in a subprocess, in a new folder.

The demo stages a real Pabulib instance into its own SQLite database (whatever ``--db``
says) and runs the consultation-cycle flow with Prefect on a simulated clock. Its last lines
say ``cycle took X s, of which Prefect start-up Y s``: X is the median reported, Y and Y / X
are kept as ``prefect_startup_s`` and ``prefect_share``; ``process_s`` is the whole
subprocess (imports and staging included). Each repeat uses a new folder and a new
``PREFECT_HOME``, as right after install. No baseline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bench.harness import ROOT, Bench, Case, Trial, timed

CYCLE = re.compile(r"cycle took ([\d.]+) s, of which Prefect start-up ([\d.]+) s")
STAGED = re.compile(r"([\d,]+) real ballots")


class DemoTrial(Trial):
    """One ``civicflow demo`` run."""

    unit = "ballots"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.bench = bench
        self.facts.update(prefect_startup_s=[], prefect_share=[], process_s=[])

    def ours(self) -> float:
        folder = self.bench.folder("demo")
        env = {**os.environ, "COLUMNS": "200", "PREFECT_HOME": str(folder / "prefect")}
        env.pop("CIVICFLOW_DB__URL", None)
        command = [sys.executable, "-m", "civicflow", "demo", "--workdir", str(folder / "demo")]
        # a fixed program with fixed arguments, no shell
        wall, done = timed(
            lambda: subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
        )
        out = done.stdout
        found = CYCLE.search(out)
        if done.returncode != 0 or found is None:
            tail = (done.stderr or out).strip().splitlines()[-3:]
            raise RuntimeError(f"civicflow demo failed ({done.returncode}): {tail}")
        cycle, startup = float(found.group(1)), float(found.group(2))
        staged = STAGED.search(out)
        self.n = int(staged.group(1).replace(",", "")) if staged else 0
        self.check("identical" in out, "demo selection differs from the city's")
        self.facts["prefect_startup_s"].append(startup)
        self.facts["prefect_share"].append(round(startup / cycle, 3))
        self.facts["process_s"].append(round(wall, 1))
        return cycle


CASE = Case(
    name="demo",
    what="civicflow demo (subprocess): consultation-cycle wall time as it reports it",
    against=None,
    target=None,
    make=DemoTrial,
    slow=True,
)
