"""A citizen's preferred channel and language: validated, audited once per change, and read
by routing for every message planned afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.actor import Actor
from core.errors import NotAllowed, NotFound, ValidationError
from models import AuditEvent, Citizen, OutboxMessage
from notifications.planning import plan_invitations
from participation.citizens import set_consent, set_contact_preferences
from tests import factories as f


def _reachable_both_ways(session, **fields) -> int:
    """A citizen with an email address and a phone, consenting to invitations on both."""
    cid = f.citizen(session, phone=f"+4479111{next(f._seq):05d}", **fields)
    for channel in ("email", "sms"):
        set_consent(
            session,
            citizen_id=cid,
            channel=channel,
            purpose="invitations",
            opted_in=True,
            source="web",
            actor=f.SYSTEM,
        )
    return cid


def _preference_events(session, cid: int) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "citizen.preferences", AuditEvent.subject == f"citizen:{cid}"
            )
        ).scalars()
    )


def test_new_channel_and_language_apply_to_the_next_planned_message(session):
    cons, _ = f.consultation(session, status="published")
    changer = _reachable_both_ways(session)
    keeper = _reachable_both_ways(session)
    me = Actor(kind="citizen", id=changer)

    out = set_contact_preferences(
        session, citizen_id=changer, preferred_channel="sms", locale="fa", actor=me
    )
    plan_invitations(session, consultation_id=cons, actor=f.SYSTEM)

    assert (out.preferred_channel, out.locale, out.changed) == ("sms", "fa", True)
    planned = {
        r.citizen_id: (r.channel, r.locale, r.idempotency_key)
        for r in session.execute(
            select(OutboxMessage).where(OutboxMessage.citizen_id.in_([changer, keeper]))
        ).scalars()
    }
    assert planned[changer] == ("sms", "fa", f"invitation:{cons}:0:{changer}:sms")
    # the same kind of citizen without the change still gets the registration defaults
    assert planned[keeper] == ("email", "en", f"invitation:{cons}:0:{keeper}:email")


def test_the_same_preferences_again_change_nothing_and_audit_once(session):
    cid = _reachable_both_ways(session)
    me = Actor(kind="citizen", id=cid)
    first = set_contact_preferences(
        session, citizen_id=cid, preferred_channel="sms", locale="fa", actor=me
    )
    again = set_contact_preferences(
        session, citizen_id=cid, preferred_channel="sms", locale="fa", actor=me
    )
    assert (first.changed, again.changed) == (True, False)
    row = session.get(Citizen, cid)
    assert (row.preferred_channel, row.locale) == ("sms", "fa")
    events = _preference_events(session, cid)
    assert len(events) == 1
    assert events[0].actor == f"citizen:{cid}"


def test_a_channel_without_an_address_is_refused(session):
    cid = f.citizen(session)  # an email address, no phone
    with pytest.raises(ValidationError) as err:
        set_contact_preferences(
            session,
            citizen_id=cid,
            preferred_channel="sms",
            locale="en",
            actor=Actor(kind="citizen", id=cid),
        )
    assert err.value.field == "preferred_channel"
    assert session.get(Citizen, cid).preferred_channel == "email"
    assert _preference_events(session, cid) == []


@pytest.mark.parametrize(
    ("channel", "locale", "field"),
    [("fax", "en", "preferred_channel"), ("email", "de", "locale"),
     ("", "fa", "preferred_channel")],
)
def test_bad_values_name_their_field(session, channel, locale, field):
    cid = _reachable_both_ways(session)
    with pytest.raises(ValidationError) as err:
        set_contact_preferences(
            session, citizen_id=cid, preferred_channel=channel, locale=locale, actor=f.SYSTEM
        )
    assert err.value.field == field


def test_only_the_citizen_or_organizing_staff_may_change_preferences(session):
    ann = _reachable_both_ways(session)
    bob = _reachable_both_ways(session)
    with pytest.raises(NotAllowed):
        set_contact_preferences(
            session,
            citizen_id=ann,
            preferred_channel="sms",
            locale="en",
            actor=Actor(kind="citizen", id=bob),
        )
    with pytest.raises(NotAllowed):
        set_contact_preferences(
            session,
            citizen_id=ann,
            preferred_channel="sms",
            locale="en",
            actor=Actor(kind="staff", id=1, role="council"),
        )
    organizer = Actor(kind="staff", id=1, role="organizer")
    out = set_contact_preferences(
        session, citizen_id=ann, preferred_channel="sms", locale="en", actor=organizer
    )
    assert out.changed
    assert _preference_events(session, ann)[0].actor == "staff:1:organizer"
    with pytest.raises(NotFound):
        set_contact_preferences(
            session, citizen_id=10**9, preferred_channel="email", locale="en", actor=organizer
        )
