"""`civicflow staff add` and `civicflow app`, through the real command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy.orm import Session

from civicflow.up import port_free
from participation.auth import verify_staff_password

ROOT = Path(__file__).resolve().parents[2]


def _run(app_db, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "civicflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "CIVICFLOW_DB__URL": app_db.url},
        cwd=ROOT,
        timeout=120,
    )


def test_staff_add_reads_the_password_from_stdin(app_db):
    done = _run(
        app_db, "staff", "add", "--username", "Maryam", "--role", "council",
        "--password-stdin", stdin="correct horse battery\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "staff user maryam (council) created"
    with Session(app_db.engine) as s:
        signed = verify_staff_password(s, username="maryam", password="correct horse battery")
    assert signed.staff is not None
    assert signed.staff.role == "council"


def test_staff_add_without_password_stdin_is_refused(app_db):
    done = _run(app_db, "staff", "add", "--username", "x1x", "--role", "organizer")
    assert done.returncode == 2
    assert done.stderr.startswith("error: password: pass --password-stdin"), done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_civicflow_app_serves_the_app(app_db):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "civicflow", "app", "--port", str(port)],
        env={**os.environ, "CIVICFLOW_DB__URL": app_db.url},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None, "the app exited"
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.3)
        # SIGTERM to the command's own pid (as a service manager sends it) stops the app:
        # Streamlit runs in that very process, nothing is left holding the port
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert port_free("127.0.0.1", port)  # nothing listens there any more
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
