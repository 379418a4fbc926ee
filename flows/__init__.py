"""Prefect flows: orchestration only. Each task opens a session and calls one service.

Importing this package sets quiet, offline-safe Prefect defaults unless the environment
already says otherwise (STACK-NOTES §1.1): a project-local ``PREFECT_HOME``, no telemetry, a
60-second start-up allowance for the temporary local server, and warnings-only logging.
"""

from __future__ import annotations

import os

from core.settings import get_settings

_settings = get_settings()
os.environ.setdefault("PREFECT_HOME", str(_settings.prefect.home.resolve()))
os.makedirs(os.environ["PREFECT_HOME"], exist_ok=True)  # Prefect creates only the last level
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
if _settings.prefect.api_url:
    os.environ.setdefault("PREFECT_API_URL", _settings.prefect.api_url)
