"""Smoke test of the benchmark runner: ``civicflow bench`` at the hidden ``tiny`` scale runs
every case on the test database and writes the JSON table (no timing is asserted)."""

from __future__ import annotations

import json
import numbers

from civicflow.cli import main

CASES = ("tally", "mes", "cast", "plan_reminders", "deliver", "report", "page", "demo")
WITH_BASELINE = ("tally", "mes", "cast", "plan_reminders", "deliver", "report")


def test_bench_writes_every_case_with_medians_and_numeric_ratios(db_kind, tmp_path):
    out = tmp_path / "bench.json"

    code = main(["bench", "--scale", "tiny", "--db", db_kind, "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    assert (report["scale"], report["db"], report["repeats"]) == ("tiny", db_kind, 3)
    rows = {row["case"]: row for row in report["cases"]}
    assert tuple(rows) == CASES
    assert rows["demo"]["skipped"]  # minutes per run: only at city scale or when named
    for name in CASES[:-1]:
        row = rows[name]
        assert row["error"] is None, (name, row["error"])
        assert row["ok"], (name, row["facts"])
        assert len(row["runs_s"]) == 3
        assert row["median_s"] > 0
        assert row["n"] > 0
        if name in WITH_BASELINE:
            assert isinstance(row["ratio"], numbers.Real), name
            assert len(row["baseline_runs_s"]) == 3
        else:
            assert row["ratio"] is None
            assert row["baseline_median_s"] is None
