"""Comments on the consultation page: posting with a stance, replies, hostile text shown as
text, reporting; and the organizers' moderation queue."""

from __future__ import annotations

from sqlalchemy import select

from models import Comment, CommentReport
from participation.auth import citizen_actor
from participation.comments import post_comment, report_comment
from tests import factories as f
from tests.app.conftest import (
    CONSULTATION,
    alerts,
    button,
    html_bodies,
    open_app,
    page_text,
    slug_of,
)

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> "
    "![x](http://e/x.png) [link](javascript:alert(1)) # not a heading"
)


def _setup(app_db):
    with app_db.session() as s:
        ann = f.citizen(s, display_name="Ann")
        bob = f.citizen(s, display_name="Bob <b>")
        cid, pids = f.consultation(s)
    return ann, bob, cid, pids, slug_of(app_db, cid)


def _open_comments(app_db, actor, slug, pid):
    at = open_app(actor, page=CONSULTATION, query={"c": slug})
    at.button(key=f"comments:{pid}").click().run()
    return at


def test_hostile_comment_is_stored_as_written_and_shown_as_text(app_db):
    ann, _, _, pids, slug = _setup(app_db)
    at = _open_comments(app_db, citizen_actor(ann), slug, pids[0])
    at.text_area(key="comment_body").input(HOSTILE)
    at.radio(key="comment_stance").set_value("against")
    button(at, "Post comment").click().run()

    with app_db.session() as s:
        row = s.execute(select(Comment)).scalar_one()
    assert (row.body, row.stance, row.citizen_id) == (HOSTILE, "against", ann)
    assert "success: Your comment is posted." in alerts(at)
    assert HOSTILE in page_text(at)
    bodies = [b for b in html_bodies(at) if not b.startswith("<style")]
    assert not any("<script" in b or "<img" in b or "<a " in b for b in bodies)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in b for b in bodies)
    assert not at.markdown  # no user text goes through Markdown
    assert "Ann" in page_text(at)
    assert "against" in page_text(at)


def test_reply_is_threaded_under_its_parent(app_db):
    ann, bob, _, pids, slug = _setup(app_db)
    with app_db.session() as s:
        first = post_comment(
            s, proposal_id=pids[0], citizen_id=bob, body="First!", actor=citizen_actor(bob)
        )
    at = _open_comments(app_db, citizen_actor(ann), slug, pids[0])
    at.button(key=f"reply:{first.id}").click().run()
    assert f"Replying to comment #{first.id}" in page_text(at)
    at.text_area(key="comment_body").input("I agree with you")
    button(at, "Post comment").click().run()

    with app_db.session() as s:
        reply = s.execute(select(Comment).where(Comment.citizen_id == ann)).scalar_one()
    assert reply.parent_id == first.id
    bodies = [b for b in html_bodies(at) if "cf-comment " in b]
    assert "cf-depth-0" in bodies[0]
    assert "First!" in bodies[0]
    assert "cf-depth-1" in bodies[1]
    assert "I agree with you" in bodies[1]
    assert "Bob &lt;b&gt;" in bodies[0]  # the author's name is escaped too


def test_reporting_a_comment_once(app_db):
    ann, bob, _, pids, slug = _setup(app_db)
    with app_db.session() as s:
        c = post_comment(
            s, proposal_id=pids[0], citizen_id=bob, body="Rude words", actor=citizen_actor(bob)
        )
    at = _open_comments(app_db, citizen_actor(ann), slug, pids[0])
    at.button(key=f"report:{c.id}").click().run()
    at.text_input[-1].input("insulting")
    button(at, "Send report").click().run()
    assert "success: Thank you: a moderator will look at this comment." in alerts(at)
    with app_db.session() as s:
        report = s.execute(select(CommentReport)).scalar_one()
        assert (report.comment_id, report.citizen_id, report.reason) == (c.id, ann, "insulting")

    at.button(key=f"report:{c.id}").click().run()
    at.text_input[-1].input("again")
    button(at, "Send report").click().run()
    assert any(a.startswith("error: Conflict") and "already reported" in a for a in alerts(at))


def test_comments_are_paginated(app_db):
    _ann, bob, _, pids, slug = _setup(app_db)
    with app_db.session() as s:
        for i in range(12):
            post_comment(
                s,
                proposal_id=pids[0],
                citizen_id=bob,
                body=f"comment {i:02d}",
                actor=citizen_actor(bob),
            )
    at = _open_comments(app_db, None, slug, pids[0])
    text = page_text(at)
    assert "comment 00" in text
    assert "comment 09" in text
    assert "comment 10" not in text
    assert "Page 1 of 2 · 12 in all" in text
    at.button(key=f"cpage:{pids[0]}:next").click().run()
    text = page_text(at)
    assert "comment 10" in text
    assert "comment 00" not in text


def test_moderator_hides_and_restores_with_a_reason(app_db):
    ann, bob, _, pids, _ = _setup(app_db)
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        c = post_comment(
            s, proposal_id=pids[0], citizen_id=bob, body="<i>spam</i>", actor=citizen_actor(bob)
        )
        report_comment(s, comment_id=c.id, citizen_id=ann, reason="spam", actor=citizen_actor(ann))
    at = open_app(organizer, page="app_pages/moderation.py")
    assert "<i>spam</i>" in page_text(at)
    button(at, "Hide").click().run()  # no reason: refused
    assert any(a.startswith("error: Please check") for a in alerts(at))
    at.text_input[0].input("advertising")
    button(at, "Hide").click().run()
    with app_db.session() as s:
        row = s.get(Comment, c.id)
        assert (row.moderation_state, row.moderation_reason) == ("hidden", "advertising")
    assert "info: Nothing to review." in alerts(at)

    at.radio(key="mod_queue").set_value("hidden").run()
    at.text_input[0].input("not spam after all")
    button(at, "Restore").click().run()
    with app_db.session() as s:
        assert s.get(Comment, c.id).moderation_state == "visible"


def test_hidden_comment_and_its_replies_disappear_from_the_thread(app_db):
    ann, bob, _, pids, slug = _setup(app_db)
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        c = post_comment(
            s, proposal_id=pids[0], citizen_id=bob, body="bad one", actor=citizen_actor(bob)
        )
        post_comment(
            s,
            proposal_id=pids[0],
            citizen_id=ann,
            body="reply to bad",
            parent_id=c.id,
            actor=citizen_actor(ann),
        )
        post_comment(
            s, proposal_id=pids[0], citizen_id=ann, body="fine one", actor=citizen_actor(ann)
        )
        from participation.comments import moderate_comment

        moderate_comment(s, comment_id=c.id, hide=True, reason="abuse", actor=organizer)
    at = _open_comments(app_db, None, slug, pids[0])
    text = page_text(at)
    assert "fine one" in text
    assert "bad one" not in text
    assert "reply to bad" not in text


def test_long_threads_show_two_replies_until_opened(app_db):
    ann, bob, _, pids, slug = _setup(app_db)
    with app_db.session() as s:
        root = post_comment(
            s, proposal_id=pids[0], citizen_id=bob, body="root", actor=citizen_actor(bob)
        )
        for i in range(3):
            post_comment(
                s, proposal_id=pids[0], citizen_id=ann, body=f"reply {i}", parent_id=root.id,
                actor=citizen_actor(ann),
            )  # fmt: skip
    at = _open_comments(app_db, None, slug, pids[0])
    text = page_text(at)
    assert "reply 1" in text
    assert "reply 2" not in text
    assert at.button(key=f"more:{root.id}").label == "Show all 3 replies"
    at.button(key=f"more:{root.id}").click().run()
    assert "reply 2" in page_text(at)
    at.button(key=f"fewer:{root.id}").click().run()
    assert "reply 2" not in page_text(at)
