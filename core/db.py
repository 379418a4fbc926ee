"""Database engine and transactions.

SQLite (the embedded default) gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``
write transactions: a deferred transaction that reads first cannot be upgraded to a writer
once another writer has committed, which shows up as "database is locked" under load
(measured in STACK-NOTES §4.1; recipe from SQLAlchemy's SQLite dialect docs).
PostgreSQL is used as is (psycopg 3, READ COMMITTED).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
# one sessionmaker for every engine (bound per call): a sessionmaker made per transaction is
# a new Session subclass whose event dispatch SQLAlchemy sets up on first use, about 0.5 ms
# each time (docs/performance.md, ``cast``)
_Session = sessionmaker(expire_on_commit=False)


def make_engine(url: str, *, busy_timeout_ms: int = 15000, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with CivicFlow's connection settings.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        busy_timeout_ms: SQLite only: how long a writer waits for the lock, milliseconds.
        echo: log SQL.
    Returns:
        a new :class:`sqlalchemy.Engine`; the SQLite file's folder is created if missing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # one missing folder level (the default ``var/``) is created; a path whose parent
            # is missing too is more likely a typo, and fails with FileNotFoundError
            Path(parsed.database).parent.mkdir(exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
            dbapi_con.isolation_level = None  # SQLAlchemy emits BEGIN itself
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for ``url`` (default: the settings' database URL)."""
    settings = get_settings()
    key = url or settings.db.url
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = make_engine(
                key, busy_timeout_ms=settings.db.busy_timeout_ms, echo=settings.db.echo
            )
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, forked workers)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Open a session in one transaction: commit on success, roll back on any error.

    Args:
        engine: the engine to use (default: :func:`get_engine`).
    Yields:
        a :class:`Session`; services called with it never commit themselves.
    """
    session = _Session(bind=engine or get_engine())
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
