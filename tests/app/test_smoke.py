"""Every page opens without an error for every role that has it, in English and Persian;
pages a role may not use do not exist for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from sqlalchemy import select

from core.actor import Actor
from core.settings import get_settings
from models import Consultation
from participation import auth
from participation.ballots import cast_ballot
from participation.comments import post_comment, report_comment
from participation.tallying import tally
from participation_app import nav
from tests import factories as f
from tests.app.conftest import SYSTEM, AppDb, drop_now, open_app

ROLES = ("anonymous", "citizen", "organizer", "council", "admin")


@pytest.fixture(scope="module")
def world(fresh_db) -> Iterator[dict[str, object]]:
    """One database with something on every page: an open budget, a counted approval
    consultation, a ballot, comments (one reported), and a user of each role."""
    engine = fresh_db.engine()
    url = engine.url.render_as_string(hide_password=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIVICFLOW_DB__URL", url)
        get_settings.cache_clear()
        st.cache_resource.clear()
        db = AppDb(engine, url)
        with db.session() as s:
            ann = f.citizen(s, display_name="Ann", district="North")
            bob = f.citizen(s, display_name="Bob")
            counted, _ = f.consultation(s, status="closed")
            budget, pids = f.consultation(
                s,
                method="budget",
                params={"budget": 1000, "currency": "EUR"},
                proposals=[{"title": "Trees", "cost": 600}, {"title": "Benches", "cost": 300}],
            )
            cast_ballot(
                s,
                consultation_id=budget,
                citizen_id=ann,
                choices={pids[1]: 1},
                channel="web",
                actor=auth.citizen_actor(ann),
            )
            first = post_comment(
                s,
                proposal_id=pids[0],
                citizen_id=ann,
                body="Good idea",
                stance="for",
                actor=auth.citizen_actor(ann),
            )
            post_comment(
                s,
                proposal_id=pids[0],
                citizen_id=bob,
                body="Why?",
                parent_id=first.id,
                actor=auth.citizen_actor(bob),
            )
            report_comment(
                s,
                comment_id=first.id,
                citizen_id=bob,
                reason="spam",
                actor=auth.citizen_actor(bob),
            )
            tally(s, consultation_id=counted, actor=SYSTEM)
            slugs = {
                name: s.execute(
                    select(Consultation.slug).where(Consultation.id == cid)
                ).scalar_one()
                for name, cid in (("budget", budget), ("counted", counted))
            }
        actors: dict[str, Actor | None] = {
            "anonymous": None,
            "citizen": auth.citizen_actor(ann),
            "organizer": db.staff("organizer"),
            "council": db.staff("council"),
            "admin": db.staff("admin"),
        }
        yield {"actors": actors, "slugs": slugs}
        get_settings.cache_clear()
        st.cache_resource.clear()
        drop_now(engine)


CASES = [(role, name) for role in ROLES for name in nav.page_names(role)]


@pytest.mark.parametrize("lang", ["en", "fa"])
@pytest.mark.parametrize(("role", "name"), CASES)
def test_page_opens_for_role(world, role, name, lang):
    actor = world["actors"][role]
    slugs = world["slugs"]
    query = {"c": slugs["budget"]} if name == "consultation" else None
    at = open_app(actor, lang=lang, page=nav.PAGES[name].path, query=query)
    assert not at.exception
    if lang == "fa":
        styles = [b for b in (el.proto.body for el in at.get("html")) if b.startswith("<style")]
        assert any("direction: rtl" in css for css in styles)


@pytest.mark.parametrize("role", ROLES)
def test_pages_of_other_roles_do_not_exist(world, role):
    at = open_app(world["actors"][role])
    allowed = set(nav.page_names(role))
    for name, spec in nav.PAGES.items():
        if name in allowed:
            continue
        with pytest.raises(ValueError, match=r"navigation page|registered"):
            at.switch_page(spec.path)


def test_counted_consultation_page_shows_results(world):
    at = open_app(None, page=nav.PAGES["consultation"].path, query={"c": world["slugs"]["counted"]})
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
