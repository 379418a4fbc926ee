from __future__ import annotations

from datetime import timedelta

import pytest

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, ValidationError
from models import Consultation
from participation.consultations import (
    add_proposal,
    advance_due,
    answer_proposal,
    create_consultation,
    get_consultation,
    transition,
)
from participation.rules import TRANSITIONS, check_transition
from tests import factories as f


def _data(**over):
    data = {
        "slug": "park-2027",
        "title": "Park renewal",
        "method": "approval",
        "opens_at": f.T0,
        "closes_at": f.T0 + timedelta(days=7),
    }
    data.update(over)
    return data


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"slug": "Bad Slug"}, "slug", "a-z"),
        ({"title": "x"}, "title", "at least 3"),
        ({"method": "lottery"}, "method", "single_choice"),
        ({"closes_at": f.T0}, "closes_at", "must be after opens_at"),
        ({"time_zone": "Mars/Base"}, "time_zone", "IANA"),
        ({"method": "budget"}, "method_params.budget", "needs a budget"),
        ({"method_params": {"budget": 10}}, "method_params.budget", "only budget"),
        ({"title": "Park\x1b[31m"}, "title", r"control character U\+001B"),
        ({"title": "Park\u202eevil"}, "title", r"control character U\+202E"),
        ({"title": "Park\u200bhidden"}, "title", r"control character U\+200B"),
        ({"opens_at": f.T0.replace(year=1999)}, "opens_at", "outside the years"),
        ({"method_params": {"max_choices": 0}}, "method_params.max_choices", "greater than"),
        ({"eligibility": {"age": 3}}, "", "unknown key"),
    ],
)
def test_bad_consultation_input_names_the_field(session, over, field, text):
    with pytest.raises(ValidationError, match=text) as err:
        create_consultation(session, data=_data(**over), actor=f.SYSTEM)
    if field:
        assert err.value.field == field


@pytest.mark.parametrize("title", [
    "نوسازی پارک\u200cها",  # zero-width non-joiner, as Persian writes "پارک‌ها"
    "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 picnic",  # zero-width joiners
    "\u200fپارک (Park)",  # right-to-left mark
])
def test_the_joiners_and_marks_of_ordinary_writing_are_kept(session, title):
    out = create_consultation(session, data=_data(title=title), actor=f.SYSTEM)
    assert session.get(Consultation, out.id).title == title


def test_duplicate_slug_conflicts_and_keeps_the_first(session):
    create_consultation(session, data=_data(), actor=f.SYSTEM)
    with pytest.raises(Conflict, match="already used"):
        create_consultation(session, data=_data(title="Other title"), actor=f.SYSTEM)
    assert get_consultation(session, ref="park-2027").title == "Park renewal"


def test_citizen_cannot_create(session):
    with pytest.raises(NotAllowed, match="organizer"):
        create_consultation(session, data=_data(), actor=Actor(kind="citizen", id=1))


def test_state_machine_allows_only_forward_steps():
    order = ["draft", "published", "open", "closed", "tallied", "reported", "archived"]
    for i, status in enumerate(order[:-1]):
        check_transition(status, order[i + 1])
        for other in order:
            if other not in TRANSITIONS[status]:
                with pytest.raises(NotAllowed):
                    check_transition(status, other)


def test_publish_needs_proposals_and_timing_is_enforced(session):
    out = create_consultation(session, data=_data(), actor=f.SYSTEM)
    with pytest.raises(NotAllowed, match="at least one proposal"):
        transition(session, consultation_id=out.id, to="published", actor=f.SYSTEM)
    add_proposal(session, consultation_id=out.id, data={"title": "Benches"}, actor=f.SYSTEM)
    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=1)))
    assert (
        transition(session, consultation_id=out.id, to="published", actor=f.SYSTEM) == "published"
    )
    with pytest.raises(NotAllowed, match="opens at"):
        transition(session, consultation_id=out.id, to="open", actor=f.SYSTEM)
    with pytest.raises(NotAllowed, match="cannot become closed"):
        transition(session, consultation_id=out.id, to="closed", actor=f.SYSTEM)
    # idempotent: a retried step is harmless
    assert (
        transition(session, consultation_id=out.id, to="published", actor=f.SYSTEM) == "published"
    )


def test_advance_due_opens_and_closes_on_time(session):
    out = create_consultation(session, data=_data(), actor=f.SYSTEM)
    add_proposal(session, consultation_id=out.id, data={"title": "Benches"}, actor=f.SYSTEM)
    transition(session, consultation_id=out.id, to="published", actor=f.SYSTEM)
    c = clock.FrozenClock(f.T0 - timedelta(minutes=1))
    clock.set_clock(c)
    assert advance_due(session, actor=f.SYSTEM) == []
    c.set(f.T0)
    assert advance_due(session, actor=f.SYSTEM) == [("park-2027", "published", "open")]
    c.set(f.T0 + timedelta(days=7))
    assert advance_due(session, actor=f.SYSTEM) == [("park-2027", "open", "closed")]
    assert advance_due(session, actor=f.SYSTEM) == []


def test_answers_only_by_council_after_tally(session):
    cons, pids = f.consultation(session, status="closed")
    council = Actor(kind="staff", id=None, role="council")
    with pytest.raises(NotAllowed, match="after the tally"):
        answer_proposal(
            session, proposal_id=pids[0], decision="accepted", answer="Funded", actor=council
        )
    transition(session, consultation_id=cons, to="tallied", actor=f.SYSTEM)
    with pytest.raises(NotAllowed, match="council"):
        answer_proposal(
            session, proposal_id=pids[0], decision="accepted", answer="ok", actor=f.ORGANIZER
        )
    with pytest.raises(ValidationError, match="reasons"):
        answer_proposal(
            session, proposal_id=pids[0], decision="rejected", answer="  ", actor=council
        )
    answer_proposal(
        session, proposal_id=pids[0], decision="accepted", answer="Funded in 2027", actor=council
    )
    from models import Proposal

    p = session.get(Proposal, pids[0])
    assert (p.status, p.answer) == ("accepted", "Funded in 2027")
    assert p.answered_at is not None
