"""``civicflow up``: the whole platform on one machine, with schedules that fire.

Prefect's temporary local API (what one-off flow calls use) never fires schedules, so ``up``
starts, as child processes of itself:

1. ``prefect server start`` on ``127.0.0.1:<prefect port>`` — its database is SQLite in
   ``PREFECT_HOME`` (``var/prefect`` by default, the ``CIVICFLOW_PREFECT__HOME`` setting);
2. once the server answers its health check, a process serving the scheduled deployments
   (``python -m flows.deployments``, see :mod:`flows.deployments`) with ``PREFECT_API_URL``
   pointing at that server;
3. the participation app (``streamlit run participation_app/app.py``), if it is installed;
4. the webhook server (``civicflow hooks``, :mod:`notifications.http`) that receives one-click
   unsubscribe POSTs, SendGrid events and Twilio callbacks (``/health`` answers 200).

CivicFlow's own database is migrated first (``civicflow db upgrade``). Each child runs in
its own process group and writes its output to ``var/log/<name>.log``. Ctrl-C (SIGINT) or
SIGTERM stops them all in reverse start order (webhook server first, the Prefect server
last): each group gets SIGINT, then SIGTERM, then SIGKILL after ``stop_timeout`` seconds.
If a child dies on its own, the others are stopped too and ``up`` exits with status 1.

If ``up`` itself is killed (SIGKILL, a crash, a closed terminal), its children are told by
the kernel (``PR_SET_PDEATHSIG``: SIGINT when their parent dies), and the process groups it
started are listed in ``var/run/up.json``: the next ``civicflow up`` stops whatever is left of
them before it starts, so a restart never finds its ports taken by orphans. Every flow step
is idempotent, so the restarted schedules finish a cycle that was cut mid-way.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

APP_SCRIPT = Path(__file__).resolve().parents[1] / "participation_app" / "app.py"


@dataclass
class Child:
    """A child process in its own process group, with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The child's pid (also its process group id)."""
        return self.proc.pid


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGINT when the parent dies (Linux).

    SIGINT, what Ctrl-C sends, because every child stops on it (Prefect's ``serve`` carries
    on after a SIGTERM). Its disposition is reset to the default first: a shell without job
    control starts ``civicflow up &`` with SIGINT ignored, children inherit that, and an
    ignored SIGINT would neither deliver the parent-death signal nor stop them on shutdown
    (Python installs its Ctrl-C handler only over the default disposition).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGINT))  # 1 = PR_SET_PDEATHSIG


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class Stack:
    """The running children, in start order; listed in ``run_file`` while they run."""

    children: list[Child] = field(default_factory=list)
    run_file: Path | None = None

    def _record(self) -> None:
        if self.run_file is None:
            return
        self.run_file.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"name": c.name, "pgid": c.pid, "start_ticks": _start_ticks(c.pid)}
                for c in self.children]
        tmp = self.run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"up_pid": os.getpid(), "children": rows}))
        tmp.replace(self.run_file)

    def start(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path,
              cwd: Path | None = None) -> Child:
        """Start ``argv`` in a new session (its own process group), output to a log file."""
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{name}.log"
        with log.open("ab") as out:
            # a fixed program (this Python, Prefect, Streamlit) with typed arguments, no shell
            proc = subprocess.Popen(  # noqa: S603
                argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)
        child = Child(name, proc, log)
        self.children.append(child)
        self._record()
        return child

    def exited(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every child, last started first: SIGINT, then SIGTERM, then SIGKILL.

        Each signal goes to the child's whole process group (Prefect's server and
        Streamlit start processes of their own).
        """
        for child in reversed(self.children):
            stop_group(child.proc, timeout=timeout)
        self.children.clear()
        if self.run_file is not None:
            self.run_file.unlink(missing_ok=True)


def stop_leftovers(run_file: Path, *, timeout: float = 15.0,
                   echo: Callable[[str], None] = print) -> list[str]:
    """Stop the process groups an earlier ``up`` started and did not stop (it was killed).

    A group is stopped only if it is still alive and its leader is either gone or is the
    process that was started (same start time), so a recycled pid is never signalled —
    Linux does not hand out a pid that is still some group's id.

    Args:
        run_file: the list an earlier ``up`` wrote (``var/run/up.json``); absent = nothing.
        timeout: seconds each group gets for SIGTERM before SIGKILL.
        echo: where to print what was stopped.
    Returns:
        the names of the children that were found alive and stopped (``[]`` if none).
    """
    try:
        listed = json.loads(run_file.read_text())
    except (OSError, ValueError):
        return []
    up_pid = listed.get("up_pid")
    if isinstance(up_pid, int) and up_pid != os.getpid() and _up_alive(up_pid):
        raise RuntimeError(f"another `civicflow up` (pid {up_pid}) is running; "
                           f"stop it first (Ctrl-C in its terminal)")
    stopped: list[str] = []
    for row in reversed(listed.get("children", [])):
        pgid, ticks = int(row["pgid"]), row.get("start_ticks")
        if not group_alive(pgid):
            continue
        now_ticks = _start_ticks(pgid)
        if now_ticks is not None and ticks is not None and now_ticks != ticks:
            continue  # the leader's pid belongs to another process now
        echo(f"stopping {row['name']} (process group {pgid}) left by an earlier `civicflow up`")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            _signal_group(pgid, sig)
            deadline = time.monotonic() + timeout
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not group_alive(pgid):
                break
        stopped.append(str(row["name"]))
    run_file.unlink(missing_ok=True)
    return stopped


def _up_alive(pid: int) -> bool:
    """Whether ``pid`` is a live ``civicflow up`` (not a recycled pid, not a zombie)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"up" in cmdline and any(b"civicflow" in a for a in cmdline)


def stop_group(proc: subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    """Stop ``proc``'s process group: SIGINT, SIGTERM, then SIGKILL, ``timeout`` s apart.

    Waits for the group leader to exit, then makes sure no process is left in the group.
    """
    pgid = proc.pid
    for sig in (signal.SIGINT, signal.SIGTERM):
        if proc.poll() is not None:
            break
        _signal_group(pgid, sig)
        try:
            proc.wait(timeout=timeout / 2)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        _signal_group(pgid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    # the leader is gone; its group may still hold grandchildren
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        _signal_group(pgid, signal.SIGTERM)
        time.sleep(0.2)
    if group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether any live process is left in process group ``pgid``.

    A group whose members have all exited but are not yet reaped (zombies: their parent
    was killed, and whoever adopted them has not waited for them yet) is not alive; on
    Linux the members' states are read from ``/proc/<pid>/stat`` (field 3, state ``Z``).
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` yet."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_healthy(url: str, *, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll ``url`` until it answers 200, ``timeout`` passes or ``alive()`` turns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            # the URL is our own child's loopback address
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _Stop(Exception):
    """Raised by the signal handler to leave the wait loop."""


def prefect_env(base: Mapping[str, str], *, home: Path) -> dict[str, str]:
    """The environment of the Prefect server child: quiet, offline, its own home."""
    env = dict(base)
    env.pop("PREFECT_API_URL", None)
    env.update({
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": env.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    })
    return env


def link_urls(settings_app: object, *, host: str, app_port: int, hooks_port: int
              ) -> dict[str, str]:
    """The link settings the children need when ``up`` listens on other than default ports.

    Messages carry links to the app (``app.base_url``) and to the webhook server
    (``app.hooks_base_url``). Left at their defaults (ports 8501 and 8502), they would point
    at nothing when ``up`` runs on other ports, so they follow the ports; a value the
    operator set (environment or ``.env``) is kept.

    Args:
        settings_app: the loaded ``settings.app`` (with ``base_url`` and ``hooks_base_url``).
        host: the address ``up`` listens on (loopback and 0.0.0.0 become ``localhost``).
        app_port / hooks_port: the app's and the webhook server's ports.
    Returns:
        environment variables to add, e.g. ``{"CIVICFLOW_APP__BASE_URL":
        "http://localhost:8600"}``; empty when nothing needs to change.
    """
    from core.settings import AppSettings

    defaults = AppSettings()
    name = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "localhost") else host  # noqa: S104
    out: dict[str, str] = {}
    for attr, env, port in (("base_url", "CIVICFLOW_APP__BASE_URL", app_port),
                            ("hooks_base_url", "CIVICFLOW_APP__HOOKS_BASE_URL", hooks_port)):
        current, wanted = getattr(settings_app, attr), f"http://{name}:{port}"
        if current == getattr(defaults, attr) and current != wanted:
            out[env] = wanted
    return out


def run_up(*, host: str = "127.0.0.1", prefect_port: int = 4200, app_port: int = 8501,
           hooks_port: int = 8502, app: bool = True, hooks: bool = True,
           startup_timeout: float = 120.0, stop_timeout: float = 15.0,
           echo: Callable[[str], None] = print) -> int:
    """Start the Prefect server, the scheduled deployments, the app and the webhook server;
    wait for a signal.

    Args:
        host: address the server, the app and the webhook server listen on (loopback by
            default).
        prefect_port / app_port / hooks_port: their TCP ports.
        app: also start the participation app (when ``participation_app/app.py`` exists).
        hooks: also start the webhook server (``civicflow hooks``); providers reach it at
            ``app.hooks_base_url``, which a reverse proxy maps to ``host:hooks_port``.
        startup_timeout: seconds to wait for the Prefect server's health check.
        stop_timeout: seconds each child gets to stop before it is killed.
        echo: where to print progress.
    Returns:
        0 after a clean stop (Ctrl-C, SIGTERM), 1 if a child failed or never came up.
    """
    from core.settings import get_settings
    from models.migrate import upgrade

    settings = get_settings()
    home = settings.prefect.home.resolve()
    run_file = home.parent / "run" / "up.json"
    try:
        stop_leftovers(run_file, timeout=stop_timeout, echo=echo)
    except RuntimeError as exc:
        echo(f"error: {exc}")
        return 1
    wanted = {"Prefect server": True, "app": app, "webhook server": hooks}
    for port, what in ((prefect_port, "Prefect server"), (app_port, "app"),
                       (hooks_port, "webhook server")):
        if wanted[what] and not port_free(host, port):
            echo(f"error: port {port} for the {what} is already in use")
            return 1
    home.mkdir(parents=True, exist_ok=True)
    log_dir = home.parent / "log"
    _ensure_sqlite_folder(settings.db.url)
    upgrade(settings.db.url)

    api_url = f"http://{host}:{prefect_port}/api"
    server_env = prefect_env(os.environ, home=home)
    client_env = {**server_env, "PREFECT_API_URL": api_url,
                  "CIVICFLOW_PREFECT__API_URL": api_url,
                  **link_urls(settings.app, host=host, app_port=app_port,
                              hooks_port=hooks_port)}
    stack = Stack(run_file=run_file)
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = signum
        raise _Stop

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = stack.start("prefect-server", [
            sys.executable, "-m", "prefect", "server", "start", "--host", host,
            "--port", str(prefect_port)], server_env, log_dir)
        echo(f"Prefect server starting (pid {server.pid}, log {server.log})…")
        if not wait_healthy(f"{api_url}/health", timeout=startup_timeout,
                            alive=lambda: server.proc.poll() is None):
            echo(f"error: the Prefect server did not come up in {startup_timeout:.0f} s:\n"
                 + _tail(server.log))
            return 1
        served = stack.start("deployments", [sys.executable, "-m", "flows.deployments"],
                             client_env, log_dir)
        echo(f"serving the scheduled deployments (pid {served.pid}, log {served.log})")
        if app and APP_SCRIPT.is_file():
            web = stack.start("app", [
                sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
                "--server.port", str(app_port), "--server.address", host,
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--client.toolbarMode", "viewer"], client_env, log_dir)  # fmt: skip
            echo(f"participation app starting (pid {web.pid}, log {web.log})")
            echo(f"app:        http://{host}:{app_port}")
        if hooks:
            hook = stack.start("hooks", [
                sys.executable, "-m", "civicflow", "hooks", "--host", host,
                "--port", str(hooks_port)], client_env, log_dir)  # fmt: skip
            echo(f"webhook server starting (pid {hook.pid}, log {hook.log})")
            echo(f"webhooks:   http://{host}:{hooks_port}   (health /health)")
        echo(f"Prefect UI: http://{host}:{prefect_port}   (API {api_url})")
        echo("press Ctrl-C to stop")
        while True:
            dead = stack.exited()
            if dead is not None:
                echo(f"error: {dead.name} exited with status {dead.proc.returncode}:\n"
                     + _tail(dead.log))
                return 1
            time.sleep(0.5)
    except _Stop:
        echo(f"stopping ({signal.Signals(stopping['signal']).name})…")
        return 0
    finally:
        # a second Ctrl-C while stopping must not leave children behind
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        try:
            stack.stop(timeout=stop_timeout)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        echo("stopped")


def _ensure_sqlite_folder(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).resolve().parent.mkdir(parents=True, exist_ok=True)
