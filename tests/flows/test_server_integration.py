"""The scale-out path for real: Prefect server on PostgreSQL, a process work pool, the
deployments of ``infra/prefect.yaml``, one ``prefect worker``, and CivicFlow on PostgreSQL.

The module starts ``prefect server start`` on a free port with its database in a PostgreSQL
database created for the run, creates the ``civicflow-process`` pool, runs
``prefect deploy --all --prefect-file infra/prefect.yaml``, starts one worker, and then runs
``advance-consultations`` and ``consultation-cycle`` through that worker with
``run_deployment``. Everything it started is stopped (process groups) and dropped at the end.

The server's scheduler is off (``--no-scheduler``) so that no cron run on the real clock
races the simulated cycle; schedules are checked as stored (``tests/flows/test_up.py`` shows
them firing). Runs on either ``--db``: CivicFlow's database is always PostgreSQL here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from civicflow.up import Stack, prefect_env, wait_healthy
from core import clock
from core.actor import Actor
from core.db import make_engine, session_scope
from models import Ballot, Consultation, OutboxMessage
from participation.importers.pabulib import parse_pb
from participation.simulation import stage_budget_cycle
from tests.conftest import PG_URL, FreshDatabase

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CYCLE_FILE = "poland_warszawa_2017_marysin-poludniowy.pb"  # 265 voters, 2 projects, greedy
POOL = "civicflow-process"
ACTOR = Actor("system", name="test")


@dataclass
class Platform:
    """What the module fixture started."""

    api_url: str
    engine: Engine
    work: Path
    prefect_db: str
    logs: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin() -> Engine:
    from sqlalchemy import create_engine

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _run(argv: list[str], env: dict[str, str], log: Path, timeout: float) -> None:
    with log.open("ab") as out:
        # fixed programs (this Python's prefect) with typed arguments, no shell
        done = subprocess.run(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    assert done.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Prefect server (PostgreSQL) + pool + deployments + one worker, CivicFlow on PostgreSQL."""
    try:
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no PostgreSQL here: say so rather than fail
        pytest.skip(f"needs PostgreSQL at {PG_URL}: {exc}")
    tmp = tmp_path_factory.mktemp("scale-out")
    logs, work, home = tmp / "logs", tmp / "work", tmp / "prefect-home"
    for d in (logs, work, home):
        d.mkdir()
    prefect_db = f"prefect_it_{uuid.uuid4().hex[:10]}"
    fresh = FreshDatabase("postgresql", tmp)
    stack = Stack()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{prefect_db}"'))
        host = make_url_host(PG_URL)
        port = _free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        server_env = {**prefect_env(os.environ, home=home),
                      "PREFECT_API_DATABASE_CONNECTION_URL":
                          f"postgresql+asyncpg://{host}/{prefect_db}",
                      "PREFECT_UI_ENABLED": "false"}
        server = stack.start("prefect-server", [
            sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
            "--port", str(port), "--no-scheduler"], server_env, logs)
        assert wait_healthy(f"{api_url}/health", timeout=120,
                            alive=lambda: server.proc.poll() is None), \
            server.log.read_text(errors="replace")[-3000:]
        engine = fresh.engine()
        client_env = {
            **server_env, "PREFECT_API_URL": api_url, "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "CIVICFLOW_DB__URL": engine.url.render_as_string(hide_password=False),
            "CIVICFLOW_WORKDIR": str(work),
            "CIVICFLOW_APP__OUTBOX_DIR": str(work / "outbox"),
            "CIVICFLOW_APP__REPORT_DIR": str(work / "reports"),
            "CIVICFLOW_EMAIL__BACKEND": "file", "CIVICFLOW_SMS__BACKEND": "file"}
        client_env.pop("PREFECT_API_DATABASE_CONNECTION_URL")
        prefect = [sys.executable, "-m", "prefect"]
        _run([*prefect, "work-pool", "create", POOL, "--type", "process"], client_env,
             logs / "setup.log", 120)
        _run([*prefect, "--no-prompt", "deploy", "--all", "--prefect-file",
              str(REPO / "infra" / "prefect.yaml")], client_env, logs / "setup.log", 240)
        worker = stack.start("worker", [*prefect, "worker", "start", "--pool", POOL],
                             client_env, logs, cwd=work)
        assert worker.proc.poll() is None
        yield Platform(api_url, engine, work, prefect_db, logs)
    finally:
        stack.stop(timeout=20)
        fresh.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)'))
        admin.dispose()


def make_url_host(url: str) -> str:
    """``user@host:port`` of a SQLAlchemy URL (no password in the test database's URL)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return f"{u.username}@{u.host}:{u.port or 5432}"


def _run_deployment(p: Platform, name: str, parameters: dict[str, Any] | None = None,
                    timeout: float = 240) -> Any:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: p.api_url}):
        return run_deployment(name, parameters=parameters or {}, timeout=timeout,
                              poll_interval=1, as_subflow=False)


def _stage(engine: Engine, realdata: Path, name: str, opens: datetime) -> int:
    clock.set_clock(clock.FrozenClock(opens.replace(day=1)))
    try:
        with session_scope(engine) as s:
            return stage_budget_cycle(s, path=realdata / "pabulib-outcomes" / name,
                                      actor=ACTOR, turnout=0.5, opens_at=opens).consultation_id
    finally:
        clock.set_clock(None)


def _worker_log(p: Platform) -> str:
    return (p.logs / "worker.log").read_text(errors="replace")[-4000:]


def test_the_server_keeps_its_state_in_postgresql_and_has_the_deployments(platform):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PG_URL.rsplit("/", 1)[0] + f"/{platform.prefect_db}"
    pg = make_engine(url)
    try:
        with pg.connect() as conn:
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'flow_run'"
            )).scalar_one()
    finally:
        pg.dispose()
    assert tables == 1

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            pool = await client.read_work_pool(POOL)
            deps = await client.read_deployments()
            flows = {f.id: f.name for f in await client.read_flows()}
        return {"pool": pool, "deps": {flows[d.flow_id]: d for d in deps}}

    import asyncio

    with temporary_settings(updates={PREFECT_API_URL: platform.api_url}):
        got = asyncio.run(read())
    assert got["pool"].type == "process"
    deps = got["deps"]
    assert set(deps) == {"advance-consultations", "send-reminders", "deliver-outbox",
                         "run-due-cycles", "launch-consultation", "consultation-cycle",
                         "close-consultation", "governance-report"}
    assert all(d.name == "civicflow" and d.work_pool_name == POOL for d in deps.values())
    crons = {name: [getattr(s.schedule, "cron", None) or getattr(s.schedule, "interval", None)
                    for s in d.schedules] for name, d in deps.items()}
    assert crons["advance-consultations"] == ["* * * * *"]
    assert crons["send-reminders"] == ["0 * * * *"]
    assert crons["run-due-cycles"] == ["*/5 * * * *"]
    assert [i.total_seconds() for i in crons["deliver-outbox"]] == [60]
    assert crons["consultation-cycle"] == []


def test_advance_and_the_whole_cycle_run_through_the_worker(platform, realdata):
    engine = platform.engine
    from tests import factories

    with session_scope(engine) as s:  # published, its voting window long past
        due, _ = factories.consultation(s, status="published")
    clock.set_clock(None)
    cycle_id = _stage(engine, realdata, CYCLE_FILE, datetime(2016, 6, 6, 7, 0, tzinfo=UTC))

    run = _run_deployment(platform, "advance-consultations/civicflow")
    assert run.state.is_completed(), (run.state, _worker_log(platform))
    assert run.work_pool_name == POOL
    with session_scope(engine) as s:
        assert s.get(Consultation, due).status == "closed"  # its whole window had passed
        assert s.get(Consultation, cycle_id).status == "draft"  # drafts are not touched

    path = realdata / "pabulib-outcomes" / CYCLE_FILE
    run = _run_deployment(platform, "consultation-cycle/civicflow", {
        "consultation_id": cycle_id, "simulate": True, "ballots_source": str(path)})
    assert run.state.is_completed(), (run.state, _worker_log(platform))
    pb = parse_pb(path)
    with session_scope(engine) as s:
        c = s.get(Consultation, cycle_id)
        assert c.status == "reported"
        assert set(c.result["selected"]) == {p.project_id for p in pb.projects
                                             if (p.selected or 0) >= 1}
        ballots = s.execute(select(func.count()).select_from(Ballot).where(
            Ballot.consultation_id == cycle_id)).scalar_one()
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.status)).all()
    assert ballots == len(pb.voters) == 265
    counts = Counter(rows)
    for kind in ("invitation", "reminder", "results", "survey_invitation", "report"):
        assert counts[(kind, "sent")] > 0, counts
    assert not any(st in ("pending", "sending") for _, st in counts)
    outbox = platform.work / "outbox"
    files = [p for p in outbox.iterdir() if not p.name.startswith(".")]
    assert len(files) == sum(n for (_, st), n in counts.items() if st == "sent")
    report = platform.work / "reports" / str(cycle_id) / "report.pdf"  # the worker's folder
    assert report.read_bytes().startswith(b"%PDF")
