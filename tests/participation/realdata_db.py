"""Every real Pabulib file imported once per test run into its own committed database.

Importing all 43 files takes tens of seconds, so the importing, tallying and exporting
tests share one database: each module asks for it through a module-scoped fixture and
this module caches it for the whole run. Tests that change it (a tally) do so in a
transaction they roll back (:func:`rolled_back`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.actor import Actor
from core.db import session_scope
from participation.importing import ImportResult, import_pabulib
from tests.conftest import REALDATA

IMPORTER = Actor(kind="system", name="test-import")
PB_FILES: list[Path] = sorted(
    [*(REALDATA / "pabulib").glob("*.pb"), *(REALDATA / "pabulib-outcomes").glob("*.pb")],
    key=lambda p: p.name,
)
"""Every Pabulib file of the shared real data (5 in pabulib/, 38 in pabulib-outcomes/)."""


@dataclass
class ImportedPabulib:
    """The shared database and what was imported into it, by file name."""

    engine: Engine
    results: dict[str, ImportResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


_CACHE: dict[int, ImportedPabulib] = {}


def imported_pabulib(fresh_db: object) -> ImportedPabulib:
    """Import every file of :data:`PB_FILES` into a new database (once per test run)."""
    key = id(fresh_db)
    if key not in _CACHE:
        engine = fresh_db.engine()  # type: ignore[attr-defined]
        done = ImportedPabulib(engine)
        for path in PB_FILES:
            start = time.perf_counter()
            with session_scope(engine) as s:
                done.results[path.name] = import_pabulib(s, path=path, actor=IMPORTER)
            done.seconds[path.name] = time.perf_counter() - start
        _CACHE[key] = done
    return _CACHE[key]


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose changes are rolled back at the end."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()
