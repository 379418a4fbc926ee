"""The consultation list: filters by district and topic, pages, and links from messages."""

from __future__ import annotations

from datetime import timedelta

from core.actor import Actor
from participation.consultations import create_consultation, transition
from tests import factories as f
from tests.app.conftest import open_app, page_text

SYSTEM = Actor(kind="system", name="test")


def _consultation(s, slug: str, district: str | None, topic: str | None, status: str = "open"):
    from participation.consultations import add_proposal

    out = create_consultation(
        s,
        actor=SYSTEM,
        data={
            "slug": slug,
            "title": f"Title {slug}",
            "method": "approval",
            "opens_at": f.T0,
            "closes_at": f.T0 + timedelta(days=7),
            "district": district,
            "topic": topic,
        },
    )
    add_proposal(s, consultation_id=out.id, data={"title": "A"}, actor=SYSTEM)
    steps = {"draft": (), "published": ("published",), "open": ("published", "open")}
    for step in steps[status]:
        transition(s, consultation_id=out.id, to=step, actor=SYSTEM, at=f.T0)


def test_filters_and_pages(app_db):
    with app_db.session() as s:
        for i in range(12):
            _consultation(s, f"north-{i:02d}", "North", "parks" if i % 2 else "roads")
        _consultation(s, "south-00", "South", "parks")
        _consultation(s, "draft-is-hidden", "South", "parks", status="draft")
    at = open_app(None)
    text = page_text(at)
    assert "Page 1 of 2 · 13 in all" in text
    at.selectbox(key="list_district").set_value("South").run()
    text = page_text(at)
    assert "Title south-00" in text
    assert "Title north-00" not in text
    assert "Title draft-is-hidden" not in text
    at.selectbox(key="list_district").set_value("North").run()
    at.selectbox(key="list_topic").set_value("parks").run()
    text = page_text(at)
    assert text.count("Title north-") == 6
    assert "Title north-01" in text
    assert "Title north-00" not in text


def test_open_button_and_message_links_reach_the_consultation(app_db):
    with app_db.session() as s:
        _consultation(s, "park-2027", None, None)
    at = open_app(None)
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception
    at = open_app(None, query={"consultation": "park-2027", "view": "results"})
    assert not at.exception


def test_unknown_consultation_says_so(app_db):
    at = open_app(None, page="app_pages/consultation.py", query={"c": "nope"})
    assert "This consultation does not exist or is not public." in page_text(at)
