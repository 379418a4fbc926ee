"""Editing a consultation: everything but slug and method in draft; after publishing only
the wording, the reminders and a later close; the same edit twice is one audit event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.errors import NotAllowed, ValidationError
from models import AuditEvent, Consultation
from participation.consultations import update_consultation
from tests import factories as f


def _updates(session, cid: int) -> int:
    return session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "consultation.update",
        AuditEvent.subject == f"consultation:{cid}")).scalar_one()


def test_a_draft_takes_new_schedule_eligibility_and_reminders_once(session):
    cid, _ = f.consultation(session, status="draft")
    opens = f.T0 + timedelta(days=3)
    changes = {"title": "Park benches 2027", "opens_at": opens,
               "closes_at": opens + timedelta(days=10), "time_zone": "Asia/Tehran",
               "eligibility": {"districts": ["North"]},
               "reminder_policy": {"rounds_hours": [48, 168], "quiet_start": 22,
                                   "quiet_end": 7}}
    changed = update_consultation(session, consultation_id=cid, changes=changes,
                                  actor=f.ORGANIZER)
    assert changed == ["closes_at", "eligibility", "opens_at", "reminder_policy",
                       "time_zone", "title"]
    c = session.get(Consultation, cid)
    assert (c.title, c.time_zone, c.eligibility) == ("Park benches 2027", "Asia/Tehran",
                                                     {"districts": ["North"]})
    assert c.closes_at - c.opens_at == timedelta(days=10)
    assert c.reminder_policy["rounds_hours"] == [48.0, 168.0]
    assert (c.reminder_policy["quiet_start"], c.reminder_policy["max_messages"]) == (22, 4)
    assert _updates(session, cid) == 1
    again = update_consultation(session, consultation_id=cid, changes=changes,
                                actor=f.ORGANIZER)
    assert again == []
    assert _updates(session, cid) == 1  # nothing changed, nothing audited


@pytest.mark.parametrize(("changes", "field"), [
    ({"closes_at": f.T0 - timedelta(days=1)}, "closes_at"),
    ({"reminder_policy": {"quiet_start": 25}}, "reminder_policy.quiet_start"),
    ({"title": "x"}, "title"),
])
def test_bad_edits_name_the_field_and_keep_the_consultation(session, changes, field):
    cid, _ = f.consultation(session, status="draft")
    before = session.get(Consultation, cid).title
    with pytest.raises(ValidationError) as err:
        update_consultation(session, consultation_id=cid, changes=changes, actor=f.ORGANIZER)
    assert err.value.field == field
    assert session.get(Consultation, cid).title == before


def test_after_publishing_only_wording_reminders_and_a_later_close_may_change(session):
    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=1)))
    try:
        cid, _ = f.consultation(session, status="published")
        c = session.get(Consultation, cid)
        later = c.closes_at + timedelta(days=2)
        assert update_consultation(session, consultation_id=cid, actor=f.ORGANIZER,
                                   changes={"closes_at": later, "body": "More time."}) == [
            "body", "closes_at"]
        with pytest.raises(NotAllowed) as err:
            update_consultation(session, consultation_id=cid, actor=f.ORGANIZER,
                                changes={"opens_at": c.opens_at + timedelta(hours=1)})
        assert err.value.field == "opens_at"
        with pytest.raises(NotAllowed) as err:
            update_consultation(session, consultation_id=cid, actor=f.ORGANIZER,
                                changes={"closes_at": later - timedelta(days=1)})
        assert err.value.field == "closes_at"
        with pytest.raises(NotAllowed) as err:
            update_consultation(session, consultation_id=cid, actor=f.ORGANIZER,
                                changes={"slug": "other-slug"})
        assert err.value.field == "slug"
        assert session.get(Consultation, cid).closes_at == later
    finally:
        clock.set_clock(None)


def test_a_closed_consultation_cannot_be_edited_and_a_citizen_cannot_edit(session):
    cid, _ = f.consultation(session, status="closed")
    with pytest.raises(NotAllowed) as err:
        update_consultation(session, consultation_id=cid, changes={"body": "x"},
                            actor=f.ORGANIZER)
    assert err.value.field == "status"
    draft, _ = f.consultation(session, status="draft")
    from participation.auth import citizen_actor

    with pytest.raises(NotAllowed):
        update_consultation(session, consultation_id=draft, changes={"body": "x"},
                            actor=citizen_actor(f.citizen(session)))
