from __future__ import annotations

from sqlalchemy import inspect

from core.db import make_engine
from models import Base
from models.migrate import downgrade, upgrade


def test_migration_builds_every_table_and_downgrades(fresh_db):
    url = fresh_db.url()
    upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    uniques = {u["name"] for u in inspect(engine).get_unique_constraints("ballot")}
    assert "uq_ballot_consultation_id_citizen_id" in uniques
    engine.dispose()
    downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    engine.dispose()


def test_migrations_match_the_models(fresh_db):
    """Alembic's autogenerate finds nothing to add: the migrations build exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = fresh_db.url()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
    indexes = {i["name"] for i in inspect(make_engine(url)).get_indexes("comment")}
    assert {"ix_comment_thread", "ix_comment_citizen"} <= indexes
