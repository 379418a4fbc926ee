from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def flow_db(fresh_db, monkeypatch) -> Iterator[object]:
    """A committed database that ``core.db.get_engine`` returns inside flows."""
    from core.db import dispose_engines
    from core.settings import get_settings

    engine = fresh_db.engine()
    monkeypatch.setenv("CIVICFLOW_DB__URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    dispose_engines()
    yield engine
    get_settings.cache_clear()
    dispose_engines()
