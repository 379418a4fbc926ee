"""``civicflow demo``: a full consultation cycle on a real participatory budget.

On a fresh SQLite database and Prefect's temporary local API (no server to start), it
stages a real Pabulib instance (bundled: Warsaw 2018, Nowe Włochy; or Wieliczka's 2023
Green Budget, funded by the Method of Equal Shares, with ``--data``) as a live
consultation with its eligible population, then runs the ``consultation-cycle`` flow with a
simulated clock: publish → invitations → reminder rounds to those who have not voted (the
real ballots arrive over the simulated weeks) → close → tally with the rule the city used →
results to participants. It prints turnout, messages by channel and status, and the
selected projects against the city's published result.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from core import clock
from core.actor import Actor

DEMO_ACTOR = Actor(kind="system", name="demo")
_NEAR = Path(__file__).resolve().parents[1] / "examples" / "data" / "pabulib"
#: bundled data: beside the source tree (a checkout) or in the working directory (an image)
EXAMPLES = _NEAR if _NEAR.is_dir() else Path.cwd() / "examples" / "data" / "pabulib"
#: the default instance: Warsaw 2018, Nowe Włochy (1,067 real ballots, 23 projects, greedy)
BUNDLED = EXAMPLES / "poland_warszawa_2018_nowe-wlochy.pb"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What the demo measured (seconds are wall-clock)."""

    slug: str
    eligible: int
    ballots: int
    selected: tuple[str, ...]
    published: tuple[str, ...]
    messages: dict[tuple[str, str, str], int]
    report: Path | None
    cycle_seconds: float
    prefect_startup_seconds: float
    database: Path
    outbox: Path


def _opening(meta_date: str | None, zone: str) -> datetime:
    """Opening time: the file's ``date_begin`` (DD.MM.YYYY) at 09:00 local, as UTC."""
    if meta_date:
        day, month, year = (int(x) for x in meta_date.split("."))
        local = datetime(year, month, day, 9, 0, tzinfo=ZoneInfo(zone))
        return local.astimezone(UTC)
    return datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def run_demo(workdir: Path, *, data: Path | None = None, turnout: float = 0.3,
             console: Console | None = None) -> DemoSummary:
    """Run the demo cycle in ``workdir`` (its database and outbox are replaced).

    Args:
        workdir: folder for ``civicflow.db``, ``outbox/`` (messages as .eml/.sms.json files).
        data: a Pabulib ``.pb`` file (default: the bundled Warsaw 2018 Nowe Włochy instance).
        turnout: assumed share of the eligible population that voted — Pabulib files do not
            give the eligible population, so ``eligible = voters / turnout``.
    Returns:
        :class:`DemoSummary`.
    """
    console = console or Console()
    source = (data or BUNDLED).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "civicflow.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    outbox = workdir / "outbox"
    if outbox.exists():
        for f in outbox.iterdir():
            f.unlink()
    os.environ["CIVICFLOW_DB__URL"] = f"sqlite:///{db}"
    os.environ["CIVICFLOW_APP__OUTBOX_DIR"] = str(outbox)
    os.environ["CIVICFLOW_APP__REPORT_DIR"] = str(workdir / "reports")
    os.environ.setdefault("CIVICFLOW_EMAIL__BACKEND", "file")
    os.environ.setdefault("CIVICFLOW_SMS__BACKEND", "file")
    os.environ.setdefault("PREFECT_HOME", str((workdir.parent / "prefect").resolve()))
    from core.db import dispose_engines, get_engine, session_scope
    from core.settings import get_settings

    get_settings.cache_clear()
    dispose_engines()
    from models.migrate import upgrade
    from participation.importers.pabulib import parse_pb
    from participation.importing import COUNTRY_ZONES
    from participation.simulation import stage_budget_cycle

    upgrade(get_settings().db.url)
    pb = parse_pb(source)
    zone = COUNTRY_ZONES.get(pb.meta.get("country", ""), "UTC")
    opens_at = _opening(pb.meta.get("date_begin"), zone)
    with console.status("staging the consultation and its eligible population…"):
        clock.set_clock(clock.FrozenClock(opens_at - timedelta_days(3)))
        with session_scope() as s:
            staged = stage_budget_cycle(s, path=source, actor=DEMO_ACTOR, turnout=turnout,
                                        opens_at=opens_at)
        clock.set_clock(None)
    console.print(f"staged [bold]{staged.slug}[/]: {staged.voters:,} real ballots, "
                  f"{staged.eligible:,} eligible citizens (assumed turnout {turnout:.0%})")

    t0 = time.perf_counter()
    with console.status("starting Prefect's temporary local API…"):
        from flows.cycle import consultation_cycle
        from flows.lifecycle import ping

        ping()
    startup = time.perf_counter() - t0
    with console.status("running the consultation cycle (simulated weeks)…"):
        out = consultation_cycle(staged.consultation_id, simulate=True,
                                 ballots_source=str(source))
    cycle = time.perf_counter() - t0
    summary = _summarise(session_scope, staged, out, cycle, startup, db, outbox)
    get_engine().dispose()
    _print(console, summary, staged.rule)
    return summary


def timedelta_days(days: float):  # type: ignore[no-untyped-def]
    """``timedelta(days=days)`` (kept here so the demo reads top to bottom)."""
    from datetime import timedelta

    return timedelta(days=days)


def _summarise(session_scope, staged, out, cycle, startup, db, outbox) -> DemoSummary:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from models import Ballot, OutboxMessage

    with session_scope() as s:
        ballots = s.execute(select(func.count()).select_from(Ballot).where(
            Ballot.consultation_id == staged.consultation_id)).scalar_one()
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.status,
                                func.count())
                         .group_by(OutboxMessage.kind, OutboxMessage.channel,
                                   OutboxMessage.status)).all()
    return DemoSummary(
        slug=staged.slug, eligible=staged.eligible, ballots=int(ballots),
        selected=tuple(out["result"].get("selected", ())), published=staged.published_selected,
        messages={(r[0], r[1], r[2]): int(r[3]) for r in rows}, cycle_seconds=cycle,
        report=Path(out["report"]) if out.get("report") else None,
        prefect_startup_seconds=startup, database=db, outbox=outbox)


def _print(console: Console, d: DemoSummary, rule: str) -> None:
    console.print(f"\n[bold]Turnout[/]: {d.ballots:,} of {d.eligible:,} eligible "
                  f"({d.ballots / d.eligible:.1%})")
    t = Table("message", "channel", "status", "count", title="Messages by channel and status")
    for (kind, ch, st), n in sorted(d.messages.items()):
        t.add_row(kind, ch, st, f"{n:,}")
    console.print(t)
    same = set(d.selected) == set(d.published)
    console.print(f"[bold]Selected projects[/] ({rule}): {len(d.selected)}; city published "
                  f"{len(d.published)}; {'identical' if same else 'DIFFERENT'}")
    if not same:
        console.print(f"  only CivicFlow: {sorted(set(d.selected) - set(d.published))}; "
                      f"only the city: {sorted(set(d.published) - set(d.selected))}")
    console.print(f"cycle took {d.cycle_seconds:.1f} s, of which Prefect start-up "
                  f"{d.prefect_startup_seconds:.1f} s")
    console.print(f"database: {d.database}\noutbox:   {d.outbox}\nreport:   {d.report}")
