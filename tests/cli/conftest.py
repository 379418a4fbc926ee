"""The CLI is tested through its real entry point, in a subprocess, against a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

Runner = Callable[..., subprocess.CompletedProcess[str]]


def make_runner(url: str, **env: str) -> Runner:
    """Return ``run(*args)`` that runs ``python -m civicflow *args`` on the database ``url``.

    The runner has a ``url`` attribute; ``env`` adds environment variables.
    """

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civicflow", *args], capture_output=True, text=True,
            env={**os.environ, "CIVICFLOW_DB__URL": url, **env}, cwd=ROOT, timeout=120)

    run.url = url  # type: ignore[attr-defined]
    return run
