"""The ``civicflow`` command line (Typer).

Bad input ends with a one-line ``error: <field>: <message>`` on stderr and exit code 2;
nothing is written to the database in that case (each command is one transaction).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from core.actor import Actor
from core.db import get_engine, session_scope
from core.errors import CivicFlowError, Conflict, ValidationError
from core.settings import get_settings

try:  # recent Typer releases vendor Click as typer._click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older Typer on plain Click
    from click import exceptions as click_exc  # type: ignore[no-redef]

app = typer.Typer(
    help="CivicFlow: consultations, ballots, reminders and governance reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
citizens_app = typer.Typer(help="Citizens and their consent.", no_args_is_help=True)
consultations_app = typer.Typer(help="Consultations.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="Messages waiting to be sent, and sending them.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(citizens_app, name="citizens")
app.add_typer(consultations_app, name="consultations")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")

OPERATOR = Actor(kind="system", name="cli")
console = Console()


def _safe(text: str) -> str:
    """User text for the terminal: Rich markup escaped, control characters made visible."""
    shown = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return escape(shown)


#: service field names → the CLI options that carry them, for error messages
OPTION_NAMES = {
    "display_name": "name", "time_zone": "time-zone", "birth_year": "birth-year",
    "opens_at": "opens-at", "closes_at": "closes-at", "method_params": "params",
    "consents": "opt-in",
}
for _key in ("min_choices", "max_choices", "budget", "max_points", "min_sum_points",
             "max_sum_points", "vote_type", "rule", "auto_hide_reports", "currency"):
    OPTION_NAMES[f"method_params.{_key}"] = f"params.{_key}"


def _require_schema() -> None:
    url = make_url(get_settings().db.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        raise CivicFlowError(
            f"no database at {url.database}: run `civicflow db upgrade` first")
    engine = get_engine()
    if not inspect(engine).has_table("consultation"):
        raise CivicFlowError("the database has no schema yet: run `civicflow db upgrade` first")


def _parse_when(value: str, field: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{value!r} is not an ISO date-time such as 2026-12-01T09:00", field=field
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from alembic.runtime.migration import MigrationContext

    from models.migrate import upgrade

    url = get_settings().db.url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).resolve().parent
        if not folder.parent.is_dir():
            raise ValidationError(f"folder {folder.parent} does not exist",
                                  field="CIVICFLOW_DB__URL")
    with get_engine().connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
    upgrade(url)
    with get_engine().connect() as conn:
        after = MigrationContext.configure(conn).get_current_revision()
    dialect = get_engine().dialect.name
    if before is None:
        typer.echo(f"schema created at revision {after} ({dialect})")
    elif before != after:
        typer.echo(f"schema migrated from {before} to {after} ({dialect})")
    else:
        typer.echo(f"schema is up to date at revision {after} ({dialect})")


@citizens_app.command("add")
def citizens_add(
    name: Annotated[str, typer.Option(help="Display name.")],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (E.164 or national).")] = None,
    district: Annotated[str | None, typer.Option(help="District of residence.")] = None,
    birth_year: Annotated[int | None, typer.Option(help="Year of birth.")] = None,
    gender: Annotated[str | None, typer.Option(help="female, male or other.")] = None,
    locale: Annotated[str, typer.Option(help="en or fa.")] = "en",
    opt_in: Annotated[
        list[str] | None,
        typer.Option(help="Consent as CHANNEL:PURPOSE, e.g. email:reminders (repeatable)."),
    ] = None,
) -> None:
    """Register a citizen (contact details are validated and normalised)."""
    from participation.citizens import register_citizen

    _require_schema()
    consents: dict[tuple[str, str], bool] = {}
    for item in opt_in or []:
        channel, _, purpose = item.partition(":")
        if not purpose:
            raise ValidationError(f"{item!r} must look like email:reminders", field="opt-in")
        consents[(channel, purpose)] = True
    data: dict[str, Any] = {
        "display_name": name,
        "email": email,
        "phone": phone,
        "district": district,
        "birth_year": birth_year,
        "gender": gender,
        "locale": locale,
    }
    with session_scope() as s:
        out = register_citizen(
            s,
            data={k: v for k, v in data.items() if v is not None},
            actor=OPERATOR,
            consents=consents,
            consent_source="staff",
        )
    typer.echo(f"citizen {out.id} registered (public id {out.public_id})")


@consultations_app.command("create")
def consultations_create(
    slug: Annotated[str, typer.Option(help="Short name used in links, e.g. park-2027.")],
    title: Annotated[str, typer.Option(help="Title shown to citizens.")],
    method: Annotated[
        str, typer.Option(help="single_choice, approval, budget, ranked or agree_disagree.")
    ],
    opens_at: Annotated[str, typer.Option(help="Opening time, ISO 8601 (UTC if no zone).")],
    closes_at: Annotated[str, typer.Option(help="Closing time, ISO 8601 (UTC if no zone).")],
    body: Annotated[str, typer.Option(help="Description.")] = "",
    time_zone: Annotated[str, typer.Option(help="IANA zone for display.")] = "UTC",
    params: Annotated[
        str,
        typer.Option(
            help='Method parameters as JSON, e.g. {"max_choices": 3} or {"budget": 100000}.'
        ),
    ] = "{}",
    proposal: Annotated[
        list[str] | None, typer.Option(help="A proposal title, optionally TITLE=COST (repeatable).")
    ] = None,
) -> None:
    """Create a consultation in draft, with its proposals."""
    from participation.consultations import add_proposal, create_consultation

    _require_schema()
    try:
        method_params = json.loads(params)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON ({exc.msg})", field="params") from None
    data = {
        "slug": slug,
        "title": title,
        "body": body,
        "method": method,
        "method_params": method_params,
        "time_zone": time_zone,
        "opens_at": _parse_when(opens_at, "opens-at"),
        "closes_at": _parse_when(closes_at, "closes-at"),
    }
    with session_scope() as s:
        out = create_consultation(s, data=data, actor=OPERATOR)
        for n, item in enumerate(proposal or [], start=1):
            pdata: dict[str, Any] = {"title": item}
            if method == "budget":
                ptitle, sep, cost = item.rpartition("=")
                if not sep or not cost.strip().isdigit():
                    raise ValidationError(
                        f"{item!r}: a budget project is written TITLE=COST with a whole "
                        "non-negative cost", field=f"proposal {n}")
                pdata = {"title": ptitle, "cost": int(cost)}
            try:
                add_proposal(s, consultation_id=out.id, data=pdata, actor=OPERATOR)
            except CivicFlowError as exc:
                raise type(exc)(exc.message, field=f"proposal {n} {exc.field or ''}".strip()
                                ) from None
    typer.echo(out.slug)


@consultations_app.command("show")
def consultations_show(
    slug: Annotated[str, typer.Argument(help="The consultation's slug.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one consultation with its proposals."""
    from participation.consultations import describe, get_consultation
    from participation.queries import proposal_rows

    _require_schema()
    with session_scope() as s:
        c = get_consultation(s, ref=slug)
        out = describe(s, c)
        rows = proposal_rows(s, consultation_id=c.id)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "slug": out.slug,
                    "title": out.title,
                    "status": out.status,
                    "method": out.method,
                    "opens_at": out.opens_at.isoformat(),
                    "closes_at": out.closes_at.isoformat(),
                    "time_zone": out.time_zone,
                    "method_params": {k: v for k, v in c.method_params.items()
                                      if not k.startswith("pabulib_")},
                    "eligibility": c.eligibility,
                    "ballots": out.ballots,
                    "proposals": [asdict(r) for r in rows],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    zone = ZoneInfo(out.time_zone)
    console.print(
        f"[bold]{_safe(out.title)}[/] ({out.slug}) — {out.status}, {out.method}",
        highlight=False,
    )
    console.print(
        f"voting {out.opens_at.astimezone(zone):%Y-%m-%d %H:%M} to "
        f"{out.closes_at.astimezone(zone):%Y-%m-%d %H:%M} {out.time_zone}; "
        f"{out.ballots} ballot(s)",
        highlight=False, markup=False,
    )
    table = Table("ref", "title", "cost", "status", "votes")
    for r in rows:
        table.add_row(_safe(r.external_ref), _safe(r.title),
                      "" if r.cost is None else f"{r.cost:,}", r.status, str(r.votes))
    console.print(table)


@consultations_app.command("list")
def consultations_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List consultations, newest first."""
    from models.participation import CONSULTATION_STATUSES
    from participation.consultations import list_consultations

    if status is not None and status not in CONSULTATION_STATUSES:
        raise ValidationError(f"{status!r} is not one of {', '.join(CONSULTATION_STATUSES)}",
                              field="status")
    _require_schema()
    with session_scope() as s:
        rows = list_consultations(s, status=status)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        **asdict(r),
                        "opens_at": r.opens_at.isoformat(),
                        "closes_at": r.closes_at.isoformat(),
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table("title", "status", "method", "opens", "closes", "proposals", "ballots")
    table.columns.insert(0, Column("slug", no_wrap=True))
    for r in rows:
        table.add_row(
            r.slug,
            _safe(r.title),
            r.status,
            r.method,
            f"{r.opens_at:%Y-%m-%d}",
            f"{r.closes_at:%Y-%m-%d}",
            str(r.proposals),
            str(r.ballots),
        )
    console.print(table)


@app.command("demo")
def demo(
    workdir: Annotated[
        str, typer.Option(help="Folder for the demo's database and files.")
    ] = "var/demo",
    data: Annotated[str | None, typer.Option(help="Another Pabulib .pb file to run.")] = None,
    turnout: Annotated[
        float, typer.Option(help="Assumed turnout: eligible population = real voters / turnout.")
    ] = 0.3,
) -> None:
    """Run a full consultation cycle on a real participatory budget (simulated clock)."""
    from pathlib import Path

    from civicflow.demo import run_demo

    if data is not None and not Path(data).is_file():
        raise ValidationError(f"{data}: no such file", field="data")
    if not 0 < turnout <= 1:
        raise ValidationError(f"must be in (0, 1], got {turnout}", field="turnout")
    run_demo(Path(workdir), data=Path(data) if data else None, turnout=turnout)


@audit_app.command("verify")
def audit_verify() -> None:
    """Seal the events not yet in the audit hash chain, then recompute the whole chain and
    report the first broken link (exit 1 if broken)."""
    from participation.audit import seal_chain, verify_chain

    _require_schema()
    sealed = 0
    with contextlib.suppress(Conflict), session_scope() as s:  # a wiped head: reported below
        sealed = seal_chain(s)
    with session_scope() as s:
        report = verify_chain(s)
    if report.first_broken is None:
        waiting = f"; {report.unsealed} appended since, not yet sealed" if report.unsealed else ""
        typer.echo(f"audit chain intact: {report.events} event(s), {sealed} sealed now{waiting}")
        return
    typer.echo(f"audit chain broken at event {report.first_broken}: {report.reason}", err=True)
    raise typer.Exit(1)


# --- real data in, results out: import, tally, export ---------------------------------------

import_app = typer.Typer(
    help="Import real participation data (one closed consultation per file or folder).",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
PROGRESS_AFTER_SECONDS = 1.0


class _ImportProgress:
    """A progress callback that shows a rich bar on stderr once an import runs over a second."""

    def __init__(self, label: str) -> None:
        from time import monotonic

        self.label, self.clock, self.started = label, monotonic, monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if self.clock() - self.started < PROGRESS_AFTER_SECONDS:
                return
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __enter__(self) -> _ImportProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _import(kind: str, path: str, replace: bool) -> None:
    from participation import importing

    _require_schema()
    with _ImportProgress(f"importing {kind}") as progress, session_scope() as s:
        if kind == "pabulib":
            out = importing.import_pabulib(
                s, path=path, actor=OPERATOR, replace=replace, progress=progress
            )
        elif kind == "polis":
            out = importing.import_polis(
                s, folder=path, actor=OPERATOR, replace=replace, progress=progress
            )
        else:
            out = importing.import_consul(
                s, path=path, actor=OPERATOR, replace=replace, progress=progress
            )
    typer.echo(out.slug)


_PATH_HELP = "The file or folder to import."
_REPLACE_HELP = "Replace an earlier import of the same data instead of refusing it."


@import_app.command("pabulib")
def import_pabulib_cmd(
    path: Annotated[str, typer.Argument(help="A Pabulib .pb file.")],
    replace: Annotated[bool, typer.Option("--replace", help=_REPLACE_HELP)] = False,
) -> None:
    """Import a Pabulib participatory-budgeting file; print the new consultation's slug."""
    _import("pabulib", path, replace)


@import_app.command("polis")
def import_polis_cmd(
    path: Annotated[str, typer.Argument(help="A Pol.is open-data conversation folder.")],
    replace: Annotated[bool, typer.Option("--replace", help=_REPLACE_HELP)] = False,
) -> None:
    """Import a Pol.is conversation export; print the new consultation's slug."""
    _import("polis", path, replace)


@import_app.command("consul")
def import_consul_cmd(
    path: Annotated[str, typer.Argument(help="A CONSUL proposals CSV or comments folder.")],
    replace: Annotated[bool, typer.Option("--replace", help=_REPLACE_HELP)] = False,
) -> None:
    """Import CONSUL proposals (and threaded comments); print the new consultation's slug."""
    _import("consul", path, replace)


@app.command("tally")
def tally_cmd(
    slug: Annotated[str, typer.Argument(help="The consultation's slug.")],
    rule: Annotated[
        str | None,
        typer.Option(help="greedy, equal_shares, equal_shares/add1, ... (default: the city's)."),
    ] = None,
    later_round: Annotated[
        int | None, typer.Option(help="Budgets: projects funded in a later round.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Tally a closed consultation from its ballots and store the result."""
    from participation.consultations import get_consultation
    from participation.tallying import tally

    _require_schema()
    with session_scope() as s:
        c = get_consultation(s, ref=slug)
        out = tally(
            s, consultation_id=c.id, rule=rule, later_round_projects=later_round, actor=OPERATOR
        )
    if as_json:
        typer.echo(json.dumps(out.result, ensure_ascii=False, indent=2))
        return
    res = out.result
    console.print(f"{out.slug}: {out.method}, rule {out.rule} — {out.status}", highlight=False)
    if out.method == "budget":
        chosen = set(res["selected"])
        table = Table("project", "ballots", "points", "selected")
        for ref, n in sorted(res["counts"].items(), key=lambda kv: -res["points"][kv[0]]):
            table.add_row(ref, str(n), str(res["points"][ref]), "yes" if ref in chosen else "")
        console.print(table)
        console.print(f"spent {res['spent']:,} of {res['budget']:,}", highlight=False)
        return
    table = Table("proposal", "count")
    for ref, n in res["counts"].items():
        table.add_row(ref, json.dumps(n) if isinstance(n, dict) else str(n))
    console.print(table)


@app.command("export")
def export_cmd(
    slug: Annotated[str, typer.Argument(help="The consultation's slug.")],
    fmt: Annotated[str, typer.Option("--format", help="pb, csv or xlsx.")],
    out: Annotated[str, typer.Option("--out", help="A .pb file, or a folder for csv/xlsx.")],
) -> None:
    """Export a consultation as a Pabulib file or as open data (proposals, ballots, comments)."""
    from pathlib import Path

    from participation.consultations import get_consultation
    from participation.exporting import export_open_data, export_pb

    if fmt not in ("pb", "csv", "xlsx"):
        raise ValidationError(f"{fmt!r} is not pb, csv or xlsx", field="format")
    _require_schema()
    target = Path(out)
    with session_scope() as s:
        c = get_consultation(s, ref=slug)
        if fmt == "pb":
            text = export_pb(s, c.id)
            if target.is_dir() or out.endswith(("/", "\\")):
                target = target / f"{c.slug}.pb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            typer.echo(str(target))
            return
        written = export_open_data(s, c.id, target, fmt="csv" if fmt == "csv" else "xlsx")
    for name, path in written.files.items():
        typer.echo(f"{path} ({written.rows[name]} rows)")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None,
        typer.Option(
            help="Only this status: pending, sending, sent, failed, suppressed, deferred."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List outbox messages, newest first (keys and statuses; no contact details)."""
    from notifications.outbox import list_messages

    _require_schema()
    with session_scope() as s:
        rows = list_messages(s, status=status, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        **asdict(r),
                        "not_before": r.not_before.isoformat(),
                        "created_at": r.created_at.isoformat(),
                        "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table("id", "channel", "status", "reason", "attempts", "not before (UTC)")
    table.columns.insert(1, Column("key", no_wrap=True))
    for r in rows:
        table.add_row(
            str(r.id),
            r.key,
            r.channel,
            r.status,
            r.reason or "",
            str(r.attempts),
            f"{r.not_before:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@outbox_app.command("deliver")
def outbox_deliver(
    limit: Annotated[int | None, typer.Option(help="Send at most this many messages.")] = None,
    batch_size: Annotated[int, typer.Option(help="Messages claimed per batch.")] = 500,
    on_stuck: Annotated[
        str,
        typer.Option(
            help="Rows left 'sending' by a crashed run: resend (at-least-once) or fail "
            "(at-most-once)."
        ),
    ] = "resend",
) -> None:
    """Send every due message with the backends the settings name (file by default)."""
    from notifications.delivery import deliver_pending, make_senders

    _require_schema()
    if on_stuck not in ("resend", "fail"):
        raise ValidationError(f"must be resend or fail (got {on_stuck!r})", field="on-stuck")
    email, sms = make_senders()
    report = deliver_pending(
        get_engine(),
        email_sender=email,
        sms_sender=sms,
        batch_size=batch_size,
        limit=limit,
        on_stuck="resend" if on_stuck == "resend" else "fail",
    )
    per_channel = "; ".join(
        f"{channel}: " + ", ".join(f"{status} {n}" for status, n in counts.items())
        for channel, counts in report.counts.items()
    )
    typer.echo(
        f"claimed {report.claimed} message(s) in {report.batches} batch(es)"
        + (f"; {per_channel}" if per_channel else "")
        + (f"; {report.recovered} stuck row(s) recovered" if report.recovered else "")
    )
    if report.reasons:
        typer.echo("reasons: " + ", ".join(f"{k} {v}" for k, v in report.reasons.items()))


# --- the participation app and its staff users ----------------------------------------------

staff_app = typer.Typer(
    help="Staff users: organizers, council members, administrators.", no_args_is_help=True
)
app.add_typer(staff_app, name="staff")


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Option(help="Sign-in name (letters, digits, . _ -).")],
    role: Annotated[str, typer.Option(help="organizer, council or admin.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
    email: Annotated[str | None, typer.Option(help="Work email address.")] = None,
) -> None:
    """Create a staff user; the password comes on standard input, never on the command line
    (where shell history and process lists would keep it)."""
    from participation.auth import create_staff_user

    if not password_stdin:
        raise ValidationError(
            "pass --password-stdin and type the password on standard input", field="password"
        )
    password = sys.stdin.readline().rstrip("\r\n")
    _require_schema()
    with session_scope() as s:
        out = create_staff_user(
            s,
            username=username,
            role=role,
            password=password,
            actor=OPERATOR,
            display_name=name,
            email=email,
        )
    typer.echo(f"staff user {_safe(out.username)} ({out.role}) created")


@app.command("app")
def app_cmd(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the participation app (`streamlit run participation_app/app.py`).

    Streamlit replaces this process (exec), so a signal sent to it — Ctrl-C, SIGTERM from a
    service manager — reaches Streamlit itself and no server is left behind.
    """
    script = Path(__file__).resolve().parents[1] / "participation_app" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)  # noqa: S606 (a fixed program with typed arguments)


@app.command("up")
def up_cmd(
    prefect_port: Annotated[int, typer.Option(help="Port of the Prefect server and UI.")] = 4200,
    app_port: Annotated[int, typer.Option(help="Port of the participation app.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    no_app: Annotated[bool, typer.Option("--no-app", help="Do not start the app.")] = False,
    hooks_port: Annotated[int, typer.Option(help="Port of the webhook server.")] = 8502,
    no_hooks: Annotated[
        bool, typer.Option("--no-hooks", help="Do not start the webhook server.")
    ] = False,
) -> None:
    """Run everything on this machine: a Prefect server, the scheduled flows, the app and
    the webhook server."""
    from civicflow.up import run_up

    raise typer.Exit(run_up(host=address, prefect_port=prefect_port, app_port=app_port,
                            hooks_port=hooks_port, app=not no_app, hooks=not no_hooks,
                            echo=typer.echo))


@app.command("hooks")
def hooks_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8502,
) -> None:
    """Run the webhook server: one-click unsubscribe, SendGrid events, Twilio callbacks.

    Providers must reach it at ``app.hooks_base_url`` (put it behind an HTTPS reverse
    proxy); see docs/architecture.md.
    """
    import uvicorn

    from notifications.http import create_app

    # uvicorn stops cleanly on SIGINT/SIGTERM, which is what `civicflow up` sends
    uvicorn.run(create_app(), host=host, port=port, log_level="info", access_log=True)


@app.command("bench")
def bench_cmd(
    scale: Annotated[
        str, typer.Option(help="Data size: small (about a minute) or city (1M ballots).")
    ] = "small",
    db: Annotated[str, typer.Option(help="Database: sqlite or postgresql.")] = "sqlite",
    out: Annotated[str, typer.Option(help="JSON file for the results.")] = "bench-results.json",
    repeats: Annotated[int, typer.Option(help="Runs of each case and baseline (at least 3).")] = 3,
    cases: Annotated[
        str | None, typer.Option(help="Comma-separated cases (default: all).")
    ] = None,
) -> None:
    """Run the benchmark suite (bench/run.py) and print its table; see docs/performance.md."""
    import subprocess

    runner = Path(__file__).resolve().parents[1] / "bench" / "run.py"
    if not runner.is_file():
        raise ValidationError(f"{runner}: the bench folder is in the source tree only",
                              field="bench")
    if scale not in ("small", "city", "tiny"):  # tiny: the smoke test's hidden scale
        raise ValidationError(f"must be small or city, got {scale!r}", field="scale")
    if db not in ("sqlite", "postgresql"):
        raise ValidationError(f"must be sqlite or postgresql, got {db!r}", field="db")
    if repeats < 3:
        raise ValidationError(f"must be at least 3, got {repeats}", field="repeats")
    command = [sys.executable, str(runner), "--scale", scale, "--db", db, "--out", out,
               "--repeats", str(repeats), *(["--cases", cases] if cases else [])]
    # a fixed program with typed arguments, no shell
    raise typer.Exit(subprocess.call(command))  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 on bad input, with one line on stderr)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except CivicFlowError as exc:
        field = OPTION_NAMES.get(exc.field or "", exc.field)
        typer.echo(f"error: {field}: {exc.message}" if field else f"error: {exc.message}",
                   err=True)
        return 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except click_exc.NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            typer.echo(exc.ctx.get_help())
        return 0
    except click_exc.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        return 2
    except (OperationalError, ProgrammingError, DataError, IntegrityError) as exc:
        typer.echo(f"error: database: {str(exc.orig).splitlines()[0]}", err=True)
        return 2
    except (ArgumentError, NoSuchModuleError) as exc:
        typer.echo(f"error: database URL: {str(exc).splitlines()[0]}", err=True)
        return 2
    except ModuleNotFoundError as exc:
        typer.echo(f"error: database URL: no driver installed ({exc.name})", err=True)
        return 2
    except OSError as exc:
        where = exc.filename or ""
        typer.echo(f"error: {where}: {exc.strerror or exc}" if where else f"error: {exc}",
                   err=True)
        return 2
    except (OverflowError, ValueError) as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        return 2
    return rv if isinstance(rv, int) else 0


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


# Survey and report commands live in their own module; importing it registers them.
from civicflow import cli_reports  # noqa: E402, F401
