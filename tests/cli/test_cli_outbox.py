"""``civicflow outbox list`` and ``civicflow outbox deliver`` through the real entry point,
with the file backends writing into a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.db import make_engine, session_scope
from notifications.planning import plan_invitations
from tests import factories as f
from tests.notifications.test_outbox import person, policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(fresh_db, tmp_path):
    url = fresh_db.url()
    env = {
        **os.environ,
        "CIVICFLOW_DB__URL": url,
        "CIVICFLOW_APP__OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIVICFLOW_EMAIL__BACKEND": "file",
        "CIVICFLOW_SMS__BACKEND": "file",
    }

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civicflow", *args],
            capture_output=True,
            text=True,
            env={**env, **extra_env},
            cwd=ROOT,
            timeout=120,
        )

    run.url = url  # type: ignore[attr-defined]
    run.outbox = tmp_path / "outbox"  # type: ignore[attr-defined]
    return run


def _seed(url: str) -> int:
    """Two email invitations, one SMS invitation and one citizen without consent."""
    engine = make_engine(url)
    with session_scope(engine) as s:
        # closes far in the future: the CLI runs on the real clock
        cons, _ = f.consultation(s, days=40000)
        policy(s, cons, quiet_start=0, quiet_end=0)
        person(s, [("email", "invitations")])
        person(s, [("email", "invitations")], locale="fa")
        person(s, [("sms", "invitations")], phone=True, preferred_channel="sms")
        person(s)
        plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
    engine.dispose()
    return cons


def test_list_then_deliver_in_two_runs_writes_the_files(cli):
    assert cli("db", "upgrade").returncode == 0
    cons = _seed(cli.url)

    listed = cli("outbox", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["status"] for r in rows) == ["pending", "pending", "pending", "suppressed"]
    assert all(r["key"].startswith(f"invitation:{cons}:0:") for r in rows)
    assert "@" not in listed.stdout  # no contact details
    table = cli("outbox", "list", "--status", "suppressed", COLUMNS="200")
    assert "no_consent" in table.stdout

    first = cli("outbox", "deliver", "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("claimed 2 message(s) in 1 batch(es); email: sent 2")
    second = cli("outbox", "deliver")
    assert second.stdout.strip() == "claimed 1 message(s) in 1 batch(es); sms: sent 1"
    assert cli("outbox", "deliver").stdout.strip() == "claimed 0 message(s) in 0 batch(es)"

    assert len(list(cli.outbox.glob("*.eml"))) == 2
    assert len(list(cli.outbox.glob("*.sms.json"))) == 1
    sent = json.loads(cli("outbox", "list", "--status", "sent", "--json").stdout)
    assert len(sent) == 3
    assert all(r["provider_id"] and r["sent_at"] for r in sent)


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["outbox", "list", "--status", "lost"], {}, "error: status: 'lost' is not one of"),
        (["outbox", "list", "--limit", "0"], {}, "error: limit: must be between 1 and 100000"),
        (["outbox", "list", "--limit", "many"], {}, "error: "),
        (["outbox", "deliver", "--limit", "0"], {}, "error: limit: must be at least 1 (got 0)"),
        (["outbox", "deliver", "--batch-size", "0"], {}, "error: batch_size: must be at least 1"),
        (
            ["outbox", "deliver", "--on-stuck", "maybe"],
            {},
            "error: on-stuck: must be resend or fail",
        ),
        (
            ["outbox", "deliver"],
            {"CIVICFLOW_EMAIL__BACKEND": "pigeon"},
            "error: kind: unknown email backend 'pigeon'",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr(cli, args, env, needle):
    assert cli("db", "upgrade").returncode == 0
    out = cli(*args, **env)
    assert out.returncode == 2
    assert out.stderr.startswith(needle), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_commands_need_a_schema(cli):
    out = cli("outbox", "list")
    assert out.returncode == 2
    assert out.stderr.startswith("error: ")
    assert out.stderr.strip().endswith("run `civicflow db upgrade` first")
    assert len(out.stderr.strip().splitlines()) == 1
