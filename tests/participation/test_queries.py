"""The read models of participation (queries, queries_consultations, queries_comments,
queries_citizens): what the pages read, checked against data written through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.actor import Actor
from core.errors import ValidationError
from participation.auth import citizen_actor
from participation.ballots import cast_ballot
from participation.comments import moderate_comment, post_comment, report_comment
from participation.consultations import answer_proposal, transition, withdraw_proposal
from participation.queries import (
    answered_count,
    proposal_rows,
    proposals_by_ids,
    proposals_by_refs,
    proposals_page,
)
from participation.queries_citizens import ballot_info, citizen_profile, lookup_citizen
from participation.queries_comments import comment_thread, count_top_comments, moderation_queue
from participation.queries_consultations import (
    CURRENT_STATUSES,
    ballots_by_channel,
    consultation_options,
    consultation_view,
    consultations_page,
    filter_values,
)
from participation.tallying import tally
from tests import factories as f


def _vote(session, cid, citizen, choices, channel="web"):
    actor = citizen_actor(citizen) if channel == "web" else f.ORGANIZER
    cast_ballot(
        session,
        consultation_id=cid,
        citizen_id=citizen,
        choices=dict.fromkeys(choices, 1),
        channel=channel,
        actor=actor,
    )


def test_consultation_pages_are_ordered_by_closing_time_and_counted(session):
    later, _ = f.consultation(session, days=20)
    sooner, _ = f.consultation(session, days=5)
    f.consultation(session, status="closed")
    cards, total = consultations_page(session, statuses=CURRENT_STATUSES)
    assert total == 2
    assert [c.id for c in cards] == [sooner, later]
    assert cards[0].closes_at - cards[0].opens_at == timedelta(days=5)
    newest, _ = consultations_page(session, statuses=CURRENT_STATUSES, newest_first=True)
    assert [c.id for c in newest] == [later, sooner]
    second, total = consultations_page(session, statuses=CURRENT_STATUSES, offset=1, limit=1)
    assert ([c.id for c in second], total) == ([later], 2)
    assert filter_values(session, statuses=CURRENT_STATUSES) == ([], [])


def test_one_consultation_by_id_or_slug(session):
    cid, _ = f.consultation(
        session, method="budget", params={"budget": 1000}, proposals=[{"title": "T", "cost": 5}]
    )
    by_id = consultation_view(session, ref=cid)
    assert by_id is not None
    assert consultation_view(session, ref=by_id.slug) == by_id
    assert (by_id.method, by_id.params["budget"], by_id.status) == ("budget", 1000, "open")
    assert consultation_view(session, ref="no-such-slug") is None
    assert (cid, by_id.slug, "open") in consultation_options(session, statuses=("open",))


def test_proposal_page_counts_visible_comments_and_votes_only_when_asked(session):
    cid, (a, b, c) = f.consultation(session)
    ann, bob, cy = f.citizen(session), f.citizen(session), f.citizen(session)
    _vote(session, cid, ann, [a, b])
    _vote(session, cid, bob, [a])
    _vote(session, cid, cy, [a], channel="phone")
    shown = post_comment(
        session, proposal_id=a, citizen_id=ann, body="yes", actor=citizen_actor(ann)
    )
    post_comment(
        session,
        proposal_id=a,
        citizen_id=bob,
        body="why",
        parent_id=shown.id,
        actor=citizen_actor(bob),
    )
    hidden = post_comment(session, proposal_id=a, citizen_id=cy, body="x", actor=citizen_actor(cy))
    moderate_comment(session, comment_id=hidden.id, hide=True, reason="spam", actor=f.ORGANIZER)

    items, total = proposals_page(session, consultation_id=cid)
    assert total == 3
    assert [(i.id, i.votes, i.comments) for i in items] == [
        (a, None, 2),
        (b, None, 0),
        (c, None, 0),
    ]
    counted, _ = proposals_page(session, consultation_id=cid, with_votes=True, offset=1, limit=1)
    assert [(i.id, i.votes) for i in counted] == [(b, 1)]
    rows = proposal_rows(session, consultation_id=cid)
    assert [(r.id, r.votes) for r in rows] == [(a, 3), (b, 1), (c, 0)]
    assert ballots_by_channel(session, consultation_id=cid) == {"phone": 1, "web": 2}
    info = ballot_info(session, consultation_id=cid, citizen_id=cy)
    assert info is not None
    assert (info.channel, info.revision) == ("phone", 1)
    assert ballot_info(session, consultation_id=cid, citizen_id=f.citizen(session)) is None


def test_briefs_by_id_and_by_paper_reference_stay_in_their_consultation(session):
    cid, (a, b, _) = f.consultation(session)
    other, (x, _, _) = f.consultation(session)
    briefs = proposals_by_ids(session, consultation_id=cid, ids=[a, b, x])
    assert sorted(briefs) == [a, b]
    ref = briefs[a].ref
    assert proposals_by_refs(session, consultation_id=cid, refs=[ref, "nope"])[ref].id == a
    assert proposals_by_ids(session, consultation_id=other, ids=[]) == {}


def test_answered_count_leaves_withdrawn_proposals_out(session):
    cid, (a, _, c) = f.consultation(session, days=14)
    withdraw_proposal(session, proposal_id=c, reason="merged", actor=f.ORGANIZER)
    transition(session, consultation_id=cid, to="closed", actor=f.SYSTEM,
               at=f.T0 + timedelta(days=14))  # fmt: skip
    tally(session, consultation_id=cid, actor=f.SYSTEM)
    assert answered_count(session, consultation_id=cid) == (0, 2)
    council = Actor(kind="staff", id=None, role="council", name="council")
    answer_proposal(session, proposal_id=a, decision="accepted", answer="Done.", actor=council)
    assert answered_count(session, consultation_id=cid) == (1, 2)


def test_thread_shows_first_replies_and_whole_expanded_subtrees(session):
    _, (pid, _, _) = f.consultation(session)
    ann = f.citizen(session)
    me = citizen_actor(ann)

    def say(body, parent=None):
        return post_comment(
            session, proposal_id=pid, citizen_id=ann, body=body, parent_id=parent, actor=me
        ).id

    root = say("root")
    r1, r2, r3 = say("r1", root), say("r2", root), say("r3", root)
    deep = say("deep", r1)
    other = say("other")
    assert count_top_comments(session, proposal_id=pid) == 2

    thread = comment_thread(session, proposal_id=pid, replies_shown=2)
    assert [(c.id, c.depth, c.replies) for c in thread] == [
        (root, 0, 3),
        (r1, 1, 1),
        (r2, 1, 0),
        (other, 0, 0),
    ]
    opened = comment_thread(session, proposal_id=pid, expanded=frozenset({root}), limit=1)
    assert [(c.id, c.depth) for c in opened] == [(root, 0), (r1, 1), (deep, 2), (r2, 1), (r3, 1)]
    assert comment_thread(session, proposal_id=pid, offset=2) == []


def test_moderation_queues_order_reported_by_reports_and_list_hidden(session):
    cid, (pid, _, _) = f.consultation(session)
    people = [f.citizen(session) for _ in range(3)]
    one = post_comment(session, proposal_id=pid, citizen_id=people[0], body="a",
                       actor=citizen_actor(people[0]))  # fmt: skip
    two = post_comment(session, proposal_id=pid, citizen_id=people[0], body="b",
                       actor=citizen_actor(people[0]))  # fmt: skip
    report_comment(session, comment_id=one.id, citizen_id=people[1], reason="r",
                   actor=citizen_actor(people[1]))  # fmt: skip
    for who in people[1:]:
        report_comment(session, comment_id=two.id, citizen_id=who, reason="r",
                       actor=citizen_actor(who))  # fmt: skip
    items, total = moderation_queue(session, hidden=False)
    assert total == 2
    assert [(i.id, i.reports) for i in items] == [(two.id, 2), (one.id, 1)]
    assert items[0].consultation == consultation_view(session, ref=cid).slug
    moderate_comment(session, comment_id=one.id, hide=True, reason="rude", actor=f.ORGANIZER)
    hidden, total = moderation_queue(session, hidden=True)
    assert (total, [(i.id, i.reason) for i in hidden]) == (1, [(one.id, "rude")])


def test_staff_find_a_citizen_by_email_phone_or_public_id(session):
    cid = f.citizen(session, display_name="Ann", email="ann@example.invalid",
                    phone="+12025550143")  # fmt: skip
    profile = citizen_profile(session, citizen_id=cid)
    assert profile is not None
    assert (profile.display_name, profile.has_email, profile.has_phone) == ("Ann", True, True)
    assert lookup_citizen(session, query=" ANN@example.invalid ") == profile
    assert lookup_citizen(session, query="+1 202 555 0143") == profile
    assert lookup_citizen(session, query=profile.public_id) == profile
    assert lookup_citizen(session, query="   ") is None
    assert lookup_citizen(session, query="nobody@example.invalid") is None
    assert citizen_profile(session, citizen_id=cid + 1000) is None
    with pytest.raises(ValidationError):
        lookup_citizen(session, query="+12")
