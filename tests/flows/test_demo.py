"""``civicflow demo`` end to end on a small real Pabulib instance (265 ballots)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from civicflow.demo import run_demo
from core.db import dispose_engines
from core.settings import get_settings
from participation.importers.pabulib import parse_pb

FILE = "poland_warszawa_2017_marysin-poludniowy.pb"


@pytest.fixture(autouse=True)
def _forget_the_demo_database() -> Iterator[None]:
    yield  # run_demo points the cached settings and engines at its own SQLite file
    get_settings.cache_clear()
    dispose_engines()


def test_demo_runs_the_cycle_and_sends_every_sms_it_may(prefect_harness, realdata, tmp_path,
                                                        monkeypatch):
    for name in ("CIVICFLOW_DB__URL", "CIVICFLOW_APP__OUTBOX_DIR", "CIVICFLOW_APP__REPORT_DIR",
                 "CIVICFLOW_EMAIL__BACKEND", "CIVICFLOW_SMS__BACKEND"):
        monkeypatch.delenv(name, raising=False)  # run_demo sets them; undone after the test
    path = realdata / "pabulib-outcomes" / FILE
    pb = parse_pb(path)
    summary = run_demo(tmp_path / "demo", data=path, turnout=0.5)

    assert summary.ballots == len(pb.voters) == 265
    assert summary.eligible == 530  # 265 voters / 0.5 assumed turnout
    published = sorted(p.project_id for p in pb.projects if (p.selected or 0) >= 1)
    assert sorted(summary.selected) == published == sorted(summary.published)
    assert summary.report is not None
    assert summary.report.is_file()
    assert "Marysin" in summary.report.read_text(encoding="utf-8")

    with sqlite3.connect(summary.database) as con:
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM outbox_message WHERE status = 'suppressed' "
            "GROUP BY reason").fetchall())
        sms_sent = dict(con.execute(
            "SELECT kind, count(*) FROM outbox_message WHERE channel = 'sms' "
            "AND status = 'sent' GROUP BY kind").fetchall())
    # the title has "ł" (UCS-2): long SMS are shortened, never dropped for their length
    assert "segments_exceeded" not in reasons
    assert sms_sent.get("invitation", 0) > 0
    assert sms_sent.get("reminder", 0) > 0
    files = [p for p in summary.outbox.iterdir() if p.name.endswith(".sms.json")]
    assert len(files) == sum(sms_sent.values())  # one file per SMS sent
