"""The survey and report commands through the real entry point: exit codes, one-line
errors and nothing stored on bad input."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import clock
from core.db import dispose_engines, make_engine
from core.settings import get_settings
from models import Report, Survey
from models.migrate import upgrade
from tests.cli.conftest import make_runner
from tests.reports.handmade import build

KANSAS = "resident_survey/FY2022_RS_Cleaned_safe.csv"


@pytest.fixture
def cli(fresh_db, monkeypatch):
    url = fresh_db.url()
    upgrade(url)
    monkeypatch.setenv("CIVICFLOW_DB__URL", url)
    get_settings.cache_clear()
    dispose_engines()
    yield make_runner(url)
    get_settings.cache_clear()
    dispose_engines()


def count(url: str, model: type) -> int:
    engine = make_engine(url)
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(n)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_import_results_and_report_of_a_survey(cli, realdata, tmp_path):
    made = cli("import", "survey", str(realdata / KANSAS), "--mapping", "kansas_city_fy2022")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("imported survey kansas-city-fy2022: 1033 respondents")
    again = one_line_error(
        cli("import", "survey", str(realdata / KANSAS), "--mapping", "kansas_city_fy2022")
    )
    assert "already imported" in again
    assert count(cli.url, Survey) == 1

    shown = cli("survey", "results", "kansas-city-fy2022", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    with (realdata / KANSAS).open(encoding="utf-8", newline="") as fh:
        q2 = [r["q2_01"] for r in csv.DictReader(fh)]
    valid = [int(v) for v in q2 if v in {"1", "2", "3", "4", "5"}]
    assert doc["csat"]["n"] == len(valid)
    assert doc["csat"]["value"] == pytest.approx(sum(v >= 4 for v in valid) / len(valid))
    assert doc["respondents_by_channel"] == {"letter": 392, "phone": 17, "web": 624}

    out = tmp_path / "kc"
    built = cli("report", "kansas-city-fy2022", "--format", "html,json", "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "report.html"]
    assert count(cli.url, Report) == 1


def test_bad_report_requests_store_nothing(cli, realdata, tmp_path):
    assert cli("import", "survey", str(realdata / KANSAS), "--mapping",
               "kansas_city_fy2022").returncode == 0  # fmt: skip
    out = tmp_path / "none"
    assert "formats" in one_line_error(
        cli("report", "kansas-city-fy2022", "--format", "docx", "--out", str(out))
    )
    assert "no consultation or survey" in one_line_error(cli("report", "nope", "--out", str(out)))
    assert "mapping" in one_line_error(
        cli("import", "survey", str(realdata / KANSAS), "--mapping", "no_such_mapping")
    )
    assert not out.exists()
    assert count(cli.url, Report) == 0
    assert count(cli.url, Survey) == 1


def test_report_of_a_consultation(cli, tmp_path):
    engine = make_engine(cli.url)
    with Session(engine) as s:
        made = build(s, tmp_path)
        s.commit()
    engine.dispose()
    clock.set_clock(None)
    out = tmp_path / "report"
    built = cli("report", made.slug, "--format", "csv", "--out", str(out))
    assert built.returncode == 0, built.stderr
    rows = list(csv.DictReader((out / "turnout.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["turnout"] == "0.625"
    assert (out / "scorecard.csv").exists()
