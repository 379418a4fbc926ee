"""Shared fixtures: one migrated schema per test session, each test in a rolled-back
transaction. The database is chosen by ``--db sqlite|postgresql`` or ``CIVICFLOW_TEST_DB``;
PostgreSQL's URL comes from ``CIVICFLOW_TEST_PG_URL`` (default 127.0.0.1:5432/test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core import clock
from core.db import make_engine
from models.migrate import upgrade

PG_URL = os.environ.get(
    "CIVICFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"
    )
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("CIVICFLOW_TEST_DB", "sqlite"),
        choices=("sqlite", "postgresql"),
        help="database to run the suite on",
    )


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


class FreshDatabase:
    """Creates migrated, empty databases (a file on SQLite, a schema on PostgreSQL)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp = kind, tmp
        self._schemas: list[str] = []
        self._engines: list[Engine] = []

    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'cf-{uuid.uuid4().hex[:8]}.db'}"
        schema = f"cf_test_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        self._schemas.append(schema)
        return f"{PG_URL}?options=-csearch_path%3D{schema}"

    def engine(self) -> Engine:
        url = self.url()
        upgrade(url)
        engine = make_engine(url)
        self._engines.append(engine)
        return engine

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
        if self._schemas:
            admin = make_engine(PG_URL)
            # one transaction per schema: dropping hundreds of schemas in one transaction
            # runs out of lock slots (max_locks_per_transaction)
            for schema in self._schemas:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="session")
def fresh_db(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshDatabase]:
    """A factory of new migrated databases, for tests that need real commits."""
    factory = FreshDatabase(db_kind, tmp_path_factory.mktemp("db"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def engine(fresh_db: FreshDatabase) -> Engine:
    """The session's shared migrated database."""
    return fresh_db.engine()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        trans.rollback()
        conn.close()


@pytest.fixture(autouse=True)
def _system_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


@pytest.fixture
def realdata() -> Path:
    """The folder of real public data files (skips nothing: a missing folder fails)."""
    assert REALDATA.is_dir(), f"real data folder not found at {REALDATA}"
    return REALDATA


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the whole session (starting one costs ~15 s)."""
    import os

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    import flows  # noqa: F401

    with prefect_test_harness(server_startup_timeout=90):
        yield
