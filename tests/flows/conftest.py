from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the whole session (starting one costs ~15 s)."""
    import os

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    import flows  # noqa: F401

    with prefect_test_harness(server_startup_timeout=90):
        yield


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
