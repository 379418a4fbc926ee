from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.actor import Actor
from core.errors import Conflict, NotAllowed, ValidationError
from models import Citizen, Comment, Consent
from participation.citizens import consents_of, register_citizen, set_consent
from participation.comments import moderate_comment, post_comment, report_comment, visible_comments
from participation.ledger import citizen_ledger
from tests import factories as f


def test_register_normalises_contacts_and_records_consent(session):
    out = register_citizen(
        session,
        actor=f.SYSTEM,
        data={"display_name": "Ann", "email": "Ann@Example.INVALID", "phone": "+1 (202) 555-0143"},
        consents={("email", "reminders"): True, ("sms", "invitations"): False},
    )
    row = session.get(Citizen, out.id)
    assert (row.email, row.phone) == ("ann@example.invalid", "+12025550143")
    assert len(out.public_id) == 16
    assert out.public_id != str(out.id)
    assert consents_of(session, citizen_id=out.id) == {
        ("email", "reminders"): True,
        ("sms", "invitations"): False,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("phone", "12"), ("locale", "xx"), ("birth_year", 1700)],
)
def test_bad_citizen_field_is_named(session, field, value):
    with pytest.raises(ValidationError) as err:
        register_citizen(session, actor=f.SYSTEM, data={"display_name": "X", field: value})
    assert err.value.field == field
    assert session.execute(select(func.count()).select_from(Citizen)).scalar_one() == 0


def test_duplicate_email_conflicts(session):
    f.citizen(session, email="same@example.invalid")
    with pytest.raises(Conflict) as err:
        f.citizen(session, email="SAME@example.invalid")
    assert err.value.field == "email"


def test_a_duplicate_phone_is_named_as_the_phone(session):
    f.citizen(session, email=None, phone="+989123456789")
    with pytest.raises(Conflict, match="this phone already exists") as err:
        f.citizen(session, email="other@example.invalid", phone="0098 912 345 6789")
    assert err.value.field == "phone"


def test_consent_change_is_idempotent_and_own_only(session):
    a, b = f.citizen(session), f.citizen(session)
    me = Actor(kind="citizen", id=a)
    assert (
        set_consent(
            session,
            citizen_id=a,
            channel="sms",
            purpose=None,
            opted_in=False,
            source="sms_stop",
            actor=me,
        )
        == 4
    )
    set_consent(
        session,
        citizen_id=a,
        channel="sms",
        purpose=None,
        opted_in=False,
        source="sms_stop",
        actor=me,
    )
    n = session.execute(select(func.count()).select_from(Consent).where(Consent.citizen_id == a))
    assert n.scalar_one() == 4
    with pytest.raises(NotAllowed):
        set_consent(
            session,
            citizen_id=b,
            channel="sms",
            purpose="reminders",
            opted_in=True,
            source="web",
            actor=me,
        )


def test_threaded_comments_with_stance_and_ledger(session):
    _cons, pids = f.consultation(session)
    a, b = f.citizen(session), f.citizen(session)
    top = post_comment(
        session,
        proposal_id=pids[0],
        citizen_id=a,
        stance="for",
        body="  <script>alert(1)</script> more trees  ",
        actor=Actor("citizen", a),
    )
    reply = post_comment(
        session,
        proposal_id=pids[0],
        citizen_id=b,
        stance="against",
        body="Too costly",
        parent_id=top.id,
        actor=Actor("citizen", b),
    )
    assert reply.parent_id == top.id
    assert reply.stance == "against"
    stored = session.get(Comment, top.id)
    assert stored.body == "<script>alert(1)</script> more trees"  # kept as text, trimmed
    assert [e.kind for e in citizen_ledger(session, citizen_id=b)] == ["comment"]
    with pytest.raises(ValidationError, match="same proposal"):
        post_comment(
            session,
            proposal_id=pids[1],
            citizen_id=b,
            body="x",
            parent_id=top.id,
            actor=Actor("citizen", b),
        )
    with pytest.raises(ValidationError) as err:
        post_comment(
            session,
            proposal_id=pids[0],
            citizen_id=b,
            body="x",
            stance="maybe",
            actor=Actor("citizen", b),
        )
    assert err.value.field == "stance"


def test_reports_auto_hide_at_threshold_and_moderator_restores(session):
    _cons, pids = f.consultation(session, params={"auto_hide_reports": 2})
    author, r1, r2 = f.citizen(session), f.citizen(session), f.citizen(session)
    c = post_comment(
        session,
        proposal_id=pids[0],
        citizen_id=author,
        body="rude words",
        actor=Actor("citizen", author),
    )
    assert (
        report_comment(
            session, comment_id=c.id, citizen_id=r1, reason="insult", actor=Actor("citizen", r1)
        ).moderation_state
        == "visible"
    )
    with pytest.raises(Conflict):
        report_comment(
            session, comment_id=c.id, citizen_id=r1, reason="again", actor=Actor("citizen", r1)
        )
    hidden = report_comment(
        session, comment_id=c.id, citizen_id=r2, reason="insult", actor=Actor("citizen", r2)
    )
    assert (hidden.moderation_state, hidden.report_count) == ("hidden", 2)
    assert visible_comments(session, proposal_id=pids[0]) == []
    with pytest.raises(NotAllowed):
        moderate_comment(
            session, comment_id=c.id, hide=False, reason="fine", actor=Actor("citizen", r1)
        )
    restored = moderate_comment(
        session, comment_id=c.id, hide=False, reason="criticism, not insult", actor=f.ORGANIZER
    )
    assert restored.moderation_state == "visible"
    assert [x.id for x in visible_comments(session, proposal_id=pids[0])] == [c.id]


def test_staff_record_offline_comment(session):
    _cons, pids = f.consultation(session)
    who = f.citizen(session)
    with pytest.raises(NotAllowed):
        post_comment(
            session,
            proposal_id=pids[0],
            citizen_id=who,
            body="by phone",
            channel="phone",
            actor=Actor("citizen", who),
        )
    out = post_comment(
        session,
        proposal_id=pids[0],
        citizen_id=who,
        body="by phone",
        channel="phone",
        actor=f.ORGANIZER,
    )
    assert session.get(Comment, out.id).channel == "phone"
