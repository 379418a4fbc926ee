"""``stop_leftovers``: what a killed ``civicflow up`` left running is stopped, and only that."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from civicflow.up import _start_ticks, group_alive, stop_leftovers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(SLEEPER, start_new_session=True)


def _write(run_file: Path, rows: list[dict[str, object]], up_pid: int = 0) -> None:
    run_file.parent.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps({"up_pid": up_pid, "children": rows}))


def test_a_listed_group_that_is_still_alive_is_stopped(tmp_path: Path):
    proc = _sleeper()
    run_file = tmp_path / "run" / "up.json"
    _write(run_file, [{"name": "prefect-server", "pgid": proc.pid,
                       "start_ticks": _start_ticks(proc.pid)}])
    said: list[str] = []
    reaper = threading.Thread(target=proc.wait)  # as init would reap an orphan
    reaper.start()
    try:
        assert stop_leftovers(run_file, timeout=5, echo=said.append) == ["prefect-server"]
        reaper.join(timeout=5)
        assert proc.returncode == -15  # SIGTERM was enough
        assert not group_alive(proc.pid)
        assert not run_file.exists()
        assert f"process group {proc.pid}" in said[0]
    finally:
        proc.kill()


def test_a_recycled_pid_is_left_alone(tmp_path: Path):
    proc = _sleeper()
    run_file = tmp_path / "up.json"
    ticks = _start_ticks(proc.pid)
    assert ticks is not None
    _write(run_file, [{"name": "app", "pgid": proc.pid, "start_ticks": ticks - 1}])
    try:
        assert stop_leftovers(run_file, timeout=5, echo=lambda _: None) == []
        assert proc.poll() is None  # another process got that pid: not ours to stop
    finally:
        proc.kill()
        proc.wait()


def test_groups_that_are_gone_and_a_missing_file_are_nothing_to_do(tmp_path: Path):
    proc = _sleeper()
    proc.kill()
    proc.wait()
    run_file = tmp_path / "up.json"
    _write(run_file, [{"name": "deployments", "pgid": proc.pid, "start_ticks": 1}])
    assert stop_leftovers(run_file, timeout=5, echo=lambda _: None) == []
    assert stop_leftovers(tmp_path / "absent.json", timeout=5, echo=lambda _: None) == []


PARENT = """
import sys, time
from pathlib import Path

import pytest
from civicflow.up import Stack
child = Stack().start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"],
                      {}, Path(sys.argv[1]))
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_children_stop_when_up_itself_is_killed(tmp_path: Path, sigint: str):
    """Also when ``up`` starts with SIGINT ignored, as ``civicflow up &`` from a script does
    (a shell without job control ignores SIGINT in background commands)."""
    import os
    import signal
    import time

    def start_with_sigint_ignored() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)],
                              stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve()
                                                                  .parents[2])},
                              preexec_fn=start_with_sigint_ignored if sigint == "ignored" else None)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert group_alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 15
    while group_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(child)  # the kernel's parent-death signal stopped it


def test_a_group_of_unreaped_exited_processes_is_not_alive():
    """An exited child nobody has waited for yet (a zombie, as the children of a killed
    ``up`` are until their new parent reaps them) still answers ``killpg(pgid, 0)``."""
    import os
    import time

    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)
    os.killpg(proc.pid, 0)  # the zombie is still a member of its group: no error
    assert not group_alive(proc.pid)
    proc.wait()
    assert not group_alive(proc.pid)
