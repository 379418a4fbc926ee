"""``civicflow import``, ``tally`` and ``export`` through the real entry point: slugs on
stdout, one-line errors with exit code 2, and nothing stored on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import make_engine
from models import AuditEvent, Ballot, BallotChoice, Citizen, Consultation, ImportRecord, Proposal
from participation.importers.pabulib import parse_pb
from tests.conftest import REALDATA

ROOT = Path(__file__).resolve().parents[2]
GDANSK = REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb"
KRAKOW = REALDATA / "pabulib" / "poland_krakow_2018_bienczyce.pb"
GDYNIA = REALDATA / "pabulib-outcomes" / "poland_gdynia_2020_maly-kack-large.pb"


@pytest.fixture(scope="module")
def cli(fresh_db):
    url = fresh_db.url()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "civicflow", *args], capture_output=True,
                              text=True, env={**os.environ, "CIVICFLOW_DB__URL": url},
                              cwd=ROOT, timeout=180, check=False)

    assert run("db", "upgrade").returncode == 0
    run.url = url  # type: ignore[attr-defined]
    return run


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as c:
        out = {m.__tablename__: c.execute(select(func.count()).select_from(m)).scalar_one()
               for m in (Consultation, Proposal, Citizen, Ballot, BallotChoice, ImportRecord,
                         AuditEvent)}
    engine.dispose()
    return out


def test_import_prints_the_slug_and_tally_reproduces_the_city(cli):
    made = cli("import", "pabulib", str(GDYNIA))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "pb-poland-gdynia-2020-maly-kack-large"
    pb = parse_pb(GDYNIA)
    shown = cli("tally", "pb-poland-gdynia-2020-maly-kack-large", "--later-round", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert set(result["selected"]) == {p.project_id for p in pb.projects if p.selected}
    assert result["counts"] == {p.project_id: p.votes for p in pb.projects}
    table = cli("tally", "pb-poland-gdynia-2020-maly-kack-large")
    assert table.returncode == 0
    assert "spent" in table.stdout


def test_reimport_is_refused_with_one_line_and_accepted_with_replace(cli):
    assert cli("import", "pabulib", str(GDANSK)).returncode == 0
    before = _counts(cli.url)
    again = cli("import", "pabulib", str(GDANSK))
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0
    assert again.stderr.startswith("error: file: this pabulib data was already imported")
    assert _counts(cli.url) == before
    replaced = cli("import", "pabulib", str(GDANSK), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.strip() == "pb-poland-gdansk-2020-rudniki"
    after = _counts(cli.url)
    assert after["audit_event"] > before["audit_event"]
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"}


@pytest.mark.parametrize(("content", "expected"), [
    ("not a pabulib file\n", "error: section: "),
    ("META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\n1;-5\n"
     "VOTES\nvoter_id;vote\n1;1\n", "error: cost: "),
])
def test_bad_file_exits_2_and_stores_nothing(cli, tmp_path, content, expected):
    bad = tmp_path / "bad.pb"
    bad.write_text(content, encoding="utf-8")
    before = _counts(cli.url)
    out = cli("import", "pabulib", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith(expected)
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""
    assert _counts(cli.url) == before


def test_missing_path_and_unknown_kind(cli, tmp_path):
    missing = cli("import", "polis", str(tmp_path / "nowhere"))
    assert (missing.returncode, missing.stderr.split(":")[:2]) == (2, ["error", " path"])
    kind = cli("import", "decidim", str(tmp_path))
    assert kind.returncode == 2


def test_export_pb_round_trips_and_open_data_is_written(cli, tmp_path):
    assert cli("import", "pabulib", str(KRAKOW)).returncode == 0
    out = cli("export", "pb-poland-krakow-2018-bienczyce", "--format", "pb", "--out",
              str(tmp_path / "pb") + "/")
    assert out.returncode == 0, out.stderr
    written = Path(out.stdout.strip())
    assert written.name == "pb-poland-krakow-2018-bienczyce.pb"
    assert parse_pb(written) == parse_pb(KRAKOW)  # ordinal: exact, votes in ranking order
    folder = tmp_path / "csv"
    csv_out = cli("export", "pb-poland-krakow-2018-bienczyce", "--format", "csv",
                  "--out", str(folder))
    assert csv_out.returncode == 0, csv_out.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["ballots.csv", "comments.csv",
                                                       "proposals.csv"]
    xlsx = cli("export", "pb-poland-krakow-2018-bienczyce", "--format", "xlsx", "--out",
               str(tmp_path / "xlsx"))
    assert xlsx.returncode == 0, xlsx.stderr
    bad = cli("export", "pb-poland-krakow-2018-bienczyce", "--format", "ods", "--out",
              str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: format: 'ods' is not pb, csv or xlsx"


def test_polis_and_consul_imports(cli):
    polis = cli("import", "polis", str(REALDATA / "polis" / "15-per-hour-seattle"))
    assert (polis.returncode, polis.stdout.strip()) == (0, "polis-15-per-hour-seattle")
    tallied = cli("tally", "polis-15-per-hour-seattle", "--json")
    assert json.loads(tallied.stdout)["counts"]["0"] == {"agree": 47, "disagree": 33, "pass": 23}
    wrong = cli("tally", "polis-15-per-hour-seattle", "--rule", "greedy")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("error: rule: ")
    consul = cli("import", "consul", str(REALDATA / "consul" / "decide-madrid-2019"))
    assert (consul.returncode, consul.stdout.strip()) == (0, "consul-decide-madrid-2019")
    unknown = cli("tally", "no-such-slug")
    assert (unknown.returncode, unknown.stderr.split(":")[1].strip()) == (2, "consultation")
