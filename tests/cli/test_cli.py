"""The command line, through its real entry point: exit codes, one-line errors, no changes
to the database on bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from core.db import dispose_engines, make_engine
from core.settings import get_settings
from models import AuditEvent, Citizen, Consultation
from tests.cli.conftest import make_runner

GOOD = [
    "consultations",
    "create",
    "--slug",
    "park-2027",
    "--title",
    "Park renewal",
    "--method",
    "approval",
    "--opens-at",
    "2027-01-10T09:00",
    "--closes-at",
    "2027-01-31T18:00",
    "--params",
    '{"max_choices": 2}',
    "--proposal",
    "Benches",
    "--proposal",
    "Trees",
]

OTHER = [*GOOD[:3], "other-1", *GOOD[4:]]


@pytest.fixture
def cli(fresh_db, monkeypatch):
    url = fresh_db.url()
    monkeypatch.setenv("CIVICFLOW_DB__URL", url)
    get_settings.cache_clear()
    dispose_engines()
    yield make_runner(url)
    get_settings.cache_clear()
    dispose_engines()


def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with engine.connect() as c:
        out = tuple(
            c.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Consultation, Citizen, AuditEvent)
        )
    engine.dispose()
    return out  # type: ignore[return-value]


def test_commands_work_end_to_end(cli):
    assert cli("db", "upgrade").returncode == 0
    made = cli(*GOOD)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "park-2027"
    shown = cli("consultations", "show", "park-2027", "--json")
    data = json.loads(shown.stdout)
    assert data["status"] == "draft"
    assert [p["title"] for p in data["proposals"]] == ["Benches", "Trees"]
    assert data["opens_at"] == "2027-01-10T09:00:00+00:00"
    listed = cli("consultations", "list")
    assert "park-2027" in listed.stdout
    added = cli(
        "citizens",
        "add",
        "--name",
        "Ann",
        "--email",
        "ann@example.invalid",
        "--opt-in",
        "email:reminders",
    )
    assert added.returncode == 0
    assert "registered" in added.stdout
    assert cli("audit", "verify").stdout.startswith("audit chain intact: 4 event(s)")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["citizens", "add", "--name", "X", "--email", "nope"], "error: email:"),
        (["citizens", "add", "--name", "X", "--phone", "12"], "error: phone:"),
        (["citizens", "add", "--name", "X", "--birth-year", "abc"], "--birth-year"),
        (["citizens", "add", "--name", "X", "--opt-in", "email"], "error: opt-in:"),
        (["citizens", "add", "--name", "X", "--opt-in", "pigeon:reminders"], "error: channel:"),
        ([*GOOD[:3], "Bad Slug", *GOOD[4:]], "error: slug:"),
        ([*GOOD[:7], "lottery", *GOOD[8:]], "error: method:"),
        ([*GOOD[:9], "2027-13-01", *GOOD[10:]], "error: opens-at:"),
        ([*GOOD[:13], "{oops", *GOOD[14:]], "error: params:"),
        (GOOD, "error: slug: the slug 'park-2027' is already used"),
        (["consultations", "show", "nope"], "error: consultation: no consultation 'nope'"),
        (["consultations", "frobnicate"], "No such command"),
        (["citizens", "add", "--name", "X", "--district", "x" * 200], "error: district:"),
        (["citizens", "add", "--name", "X", "--opt-in", "email:reminders"],
         "error: opt-in: consent to email needs an email address"),
        (["citizens", "add", "--name", "X\x1b[31mred"], "error: name: must not contain"),
        ([*OTHER[:11], "2027-01-01T00:00", *OTHER[12:]], "error: closes-at: must be after"),
        ([*OTHER[:9], "9999-12-31T23:00", *OTHER[10:]], "error: opens-at:"),
        ([*OTHER[:13], '{"budget": 100}', *OTHER[14:]], "error: params.budget: only budget"),
        ([*OTHER[:5], "Title\u202eevil", *OTHER[6:]], "error: title: must not contain"),
        ([*OTHER[:-1], "Benches"], "error: proposal 2 title: this consultation already has"),
        ([*OTHER[:7], "budget", *OTHER[8:13], '{"budget": 100}', "--proposal", "Big=500"],
         "error: proposal 1 cost: 500 is more than the whole budget 100"),
        ([*OTHER[:7], "budget", *OTHER[8:13], '{"budget": 100}', "--proposal", "Big=abc"],
         "error: proposal 1: 'Big=abc': a budget project is written TITLE=COST"),
        (["consultations", "list", "--status", "bogus"], "error: status: 'bogus' is not one of"),
    ],
)
def test_bad_input_gives_one_line_and_changes_nothing(cli, args, needle):
    cli("db", "upgrade")
    cli(*GOOD)
    before = _counts(cli.url)
    done = cli(*args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert _counts(cli.url) == before


def test_commands_before_upgrade_say_what_to_do(cli):
    done = cli("consultations", "list")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("run `civicflow db upgrade` first")
    assert len(done.stderr.strip().splitlines()) == 1


def test_audit_verify_exits_1_on_a_tampered_chain(cli):
    cli("db", "upgrade")
    cli(*GOOD)
    first = cli("audit", "verify")  # seals what the command above appended
    assert first.returncode == 0
    assert re.fullmatch(r"audit chain intact: (\d+) event\(s\), \1 sealed now\n", first.stdout)
    engine = make_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(AuditEvent.__table__.update().where(AuditEvent.seq == 2)
                     .values(actor="someone-else"))
    engine.dispose()
    done = cli("audit", "verify")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "audit chain broken at event 2: contents do not match the stored digest")


def test_bad_database_url_is_one_line(cli):
    env = {**os.environ, "CIVICFLOW_DB__URL": "notaurl"}
    done = subprocess.run([sys.executable, "-m", "civicflow", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: database URL:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_every_command_has_help(cli):
    for args in (
        ["--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["citizens", "add", "--help"],
        ["consultations", "create", "--help"],
        ["consultations", "show", "--help"],
        ["consultations", "list", "--help"],
        ["audit", "verify", "--help"],
    ):
        done = cli(*args)
        assert done.returncode == 0, args
        assert "Usage:" in done.stdout, args
