"""How long the citizen's consultation page takes with 5,000 proposals and 100,000 comments.

Builds a budget consultation with ``--proposals`` proposals and ``--comments`` comments (a
fifth of them on the first proposal, a tenth of those as replies; the rest spread over the
others) in a fresh database, then runs the consultation page with Streamlit's ``AppTest`` as
a signed-in citizen and prints the median of ``--runs`` timed runs (target: under 300 ms):

* ``first view``  — a new session opening the page (a new ``AppTest``, first run);
* ``rerun``       — the same session drawing the page again (what every click costs);
* ``with thread`` — a rerun with the comments of the busiest proposal open.

The data is written with bulk ``INSERT``s (the services would take minutes for 100,000
comments and are not what is measured); the consultation itself goes through the services.

Usage::

    .venv/bin/python bench/bench_page.py [--proposals 5000] [--comments 100000] [--runs 5]
        [--db-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(url: str, n_proposals: int, n_comments: int) -> tuple[str, int, int]:
    """Create the schema and the data; return (slug, citizen id, busiest proposal id)."""
    from sqlalchemy import insert, select

    from core import clock
    from core.actor import Actor
    from core.db import make_engine, session_scope
    from models import Citizen, Comment, Proposal
    from models.migrate import upgrade
    from participation.consultations import add_proposal, create_consultation, transition

    upgrade(url)
    engine = make_engine(url)
    system = Actor(kind="system", name="bench")
    now = clock.now()
    rng = random.Random(7)
    with session_scope(engine) as s:
        c = create_consultation(
            s,
            actor=system,
            data={
                "slug": "bench-budget",
                "title": "Participatory budget (bench)",
                "body": "Thousands of projects.",
                "method": "budget",
                "method_params": {"budget": 5_000_000, "currency": "EUR"},
                "opens_at": now - timedelta(hours=1),
                "closes_at": now + timedelta(days=30),
            },
        )
        add_proposal(s, consultation_id=c.id, data={"title": "Project 1", "cost": 1000},
                     actor=system)  # fmt: skip
        s.execute(
            insert(Proposal),
            [
                {
                    "consultation_id": c.id,
                    "external_ref": str(i),
                    "title": f"Project {i}: a proposal with a realistic title",
                    "body": "A description of the project. " * 8,
                    "cost": rng.randrange(1_000, 400_000),
                    "status": "published",
                    "created_at": now,
                }
                for i in range(2, n_proposals + 1)
            ],
        )
        transition(s, consultation_id=c.id, to="published", actor=system)
        transition(s, consultation_id=c.id, to="open", actor=system)
        s.execute(
            insert(Citizen),
            [
                {
                    "public_id": f"bench{i:08d}",
                    "display_name": f"Citizen {i}",
                    "email": f"bench{i}@example.invalid",
                    "locale": "en",
                    "time_zone": "UTC",
                    "preferred_channel": "email",
                    "created_at": now,
                }
                for i in range(1, 2001)
            ],
        )
        citizens = list(s.execute(select(Citizen.id)).scalars())
        pids = list(
            s.execute(
                select(Proposal.id).where(Proposal.consultation_id == c.id).order_by(Proposal.id)
            ).scalars()
        )
    busy = pids[0]
    on_busy = n_comments // 5
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(engine) as s:
        rows = []
        for k in range(n_comments):
            pid = busy if k < on_busy else pids[1 + k % (len(pids) - 1)]
            rows.append(
                {
                    "consultation_id": c.id,
                    "proposal_id": pid,
                    "citizen_id": citizens[k % len(citizens)],
                    "body": f"Comment {k}: " + "words " * rng.randrange(5, 60),
                    "stance": ("for", "against", "neutral")[k % 3],
                    "channel": "web",
                    "moderation_state": "visible",
                    "report_count": 0,
                    "created_at": stamp + timedelta(seconds=k),
                }
            )
        for i in range(0, len(rows), 10_000):
            s.execute(insert(Comment), rows[i : i + 10_000])
        roots = list(
            s.execute(
                select(Comment.id).where(Comment.proposal_id == busy).order_by(Comment.id).limit(50)
            ).scalars()
        )
        replies = [
            {
                "consultation_id": c.id,
                "proposal_id": busy,
                "citizen_id": citizens[j % len(citizens)],
                "parent_id": roots[j % len(roots)],
                "body": f"Reply {j}",
                "stance": "neutral",
                "channel": "web",
                "moderation_state": "visible",
                "report_count": 0,
                "created_at": stamp + timedelta(days=2, seconds=j),
            }
            for j in range(on_busy // 10)
        ]
        s.execute(insert(Comment), replies)
    engine.dispose()
    return "bench-budget", citizens[0], busy


def main() -> None:
    """Build the data, time the page, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=5000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="cf-pagebench-")
    url = args.db_url or f"sqlite:///{tmp}/bench.db"
    if args.db_url and args.db_url.startswith("postgresql"):
        from sqlalchemy import text

        from core.db import make_engine

        schema = f"cf_bench_{os.getpid()}"
        admin = make_engine(args.db_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{args.db_url}?options=-csearch_path%3D{schema}"
    os.environ["CIVICFLOW_DB__URL"] = url
    os.environ["CIVICFLOW_APP__REPORT_DIR"] = f"{tmp}/reports"

    t0 = time.perf_counter()
    slug, citizen, busy = build(url, args.proposals, args.comments)
    took = time.perf_counter() - t0
    print(
        f"built {args.proposals:,} proposals and {args.comments:,} comments "
        f"(+{args.comments // 50:,} replies) in {took:.1f} s on {url.split(':')[0]}"
    )

    from streamlit.components.v2 import manifest_scanner
    from streamlit.testing.v1 import AppTest

    from participation.auth import citizen_actor

    # AppTest scans every installed package for components before each new app; the app
    # has none, and a browser session never pays this, so it is scanned once.
    manifest_scanner.scan_component_manifests = functools.cache(
        manifest_scanner.scan_component_manifests
    )
    app = str(ROOT / "participation_app" / "app.py")

    def new_app() -> AppTest:
        at = AppTest.from_file(app, default_timeout=60)
        at.session_state["actor"] = citizen_actor(citizen)
        at.session_state["display_name"] = "Bench"
        at.query_params["c"] = slug
        return at

    warm = new_app()
    warm.run()
    warm.switch_page("app_pages/consultation.py").run()
    assert not warm.exception, warm.exception

    def timed(run) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) * 1000

    first: list[float] = []
    for _ in range(args.runs):
        at = new_app()
        at.run()  # registers the pages (navigation depends on the signed-in role)
        at.switch_page("app_pages/consultation.py")
        first.append(timed(at.run))
        assert not at.exception, at.exception
    rerun = [timed(at.run) for _ in range(args.runs)]
    at.session_state[f"comments_of:{_consultation_id(url, slug)}"] = busy
    at.run()
    thread = [timed(at.run) for _ in range(args.runs)]
    assert not at.exception, at.exception
    shown = sum(1 for el in at.get("html") if "cf-comment " in el.proto.body)
    print(f"page: {len(at.button)} buttons, {shown} comments drawn of the busiest proposal")
    for name, values in (("first view", first), ("rerun", rerun), ("with thread", thread)):
        med = statistics.median(values)
        verdict = "ok" if med < 300 else "OVER the 300 ms target"
        print(f"{name:12s} median {med:6.1f} ms  (runs: {', '.join(f'{v:.0f}' for v in values)})"
              f"  {verdict}")  # fmt: skip
    if not args.db_url:
        shutil.rmtree(tmp, ignore_errors=True)


def _consultation_id(url: str, slug: str) -> int:
    from sqlalchemy import select

    from core.db import make_engine
    from models import Consultation

    engine = make_engine(url)
    with engine.connect() as conn:
        cid = conn.execute(select(Consultation.id).where(Consultation.slug == slug)).scalar_one()
    engine.dispose()
    return int(cid)


if __name__ == "__main__":
    main()
