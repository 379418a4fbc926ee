"""Alembic environment: runs online against the URL given in the config (batch mode on SQLite)."""

from __future__ import annotations

from alembic import context

from core.db import make_engine
from models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url must be set"

connectable = config.attributes.get("connection")
if connectable is None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
else:
    context.configure(
        connection=connectable,
        target_metadata=Base.metadata,
        render_as_batch=connectable.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
