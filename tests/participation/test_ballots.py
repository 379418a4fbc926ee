from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import AuditEvent, Ballot, BallotChoice, Contact
from participation.ballots import ballot_of, cast_ballot
from participation.consultations import transition
from tests import factories as f


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _me(cid: int) -> Actor:
    return Actor(kind="citizen", id=cid)


def test_approval_ballot_is_stored_with_ledger_and_audit(session):
    cons, pids = f.consultation(session, params={"max_choices": 2})
    voter = f.citizen(session)
    receipt = cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1, pids[2]: 1},
        channel="web",
        actor=_me(voter),
    )
    assert receipt.revision == 1
    assert not receipt.replaced
    assert len(receipt.receipt_code) == 16
    assert ballot_of(session, consultation_id=cons, citizen_id=voter) == {pids[0]: 1, pids[2]: 1}
    kinds = session.execute(
        select(Contact.kind, Contact.direction, Contact.channel).where(Contact.citizen_id == voter)
    ).all()
    assert kinds == [("ballot", "inbound", "web")]
    assert (
        session.execute(
            select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)
        ).scalar_one()
        == "ballot.cast"
    )


def test_second_web_ballot_replaces_first_while_open(session):
    cons, pids = f.consultation(session, params={"max_choices": 2})
    voter = f.citizen(session)
    first = cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1},
        channel="web",
        actor=_me(voter),
    )
    second = cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[1]: 1, pids[2]: 1},
        channel="web",
        actor=_me(voter),
    )
    assert second.replaced
    assert second.revision == 2
    assert second.ballot_id == first.ballot_id
    assert second.receipt_code != first.receipt_code
    assert ballot_of(session, consultation_id=cons, citizen_id=voter) == {pids[1]: 1, pids[2]: 1}
    assert _count(session, Ballot) == 1
    assert _count(session, BallotChoice) == 2


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({}, "at least 1"),
        ("too_many", "at most 2"),
        ("unknown", "not open proposals"),
        ("value", "value 1 only"),
    ],
)
def test_bad_ballot_is_refused_and_nothing_stored(session, choices, message):
    cons, pids = f.consultation(session, params={"max_choices": 2})
    voter = f.citizen(session)
    audit_before = _count(session, AuditEvent)
    bad = (
        {
            "too_many": dict.fromkeys(pids, 1),
            "unknown": {pids[0]: 1, 999_999: 1},
            "value": {pids[0]: 5},
        }.get(choices, choices)
        if isinstance(choices, str)
        else choices
    )
    with pytest.raises(ValidationError, match=message) as err:
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices=bad,
            channel="web",
            actor=_me(voter),
        )
    assert err.value.field == "choices"
    assert _count(session, Ballot) == 0
    assert _count(session, BallotChoice) == 0
    assert _count(session, AuditEvent) == audit_before


def test_ballot_outside_window_is_refused(session):
    cons, pids = f.consultation(session, status="published")
    voter = f.citizen(session)
    with pytest.raises(NotAllowed, match="voting is not open"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[0]: 1},
            channel="web",
            actor=_me(voter),
        )
    transition(session, consultation_id=cons, to="open", actor=f.SYSTEM)
    clock.set_clock(clock.FrozenClock(f.T0 + timedelta(days=14, seconds=1)))
    with pytest.raises(NotAllowed, match="voting is not open"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[0]: 1},
            channel="web",
            actor=_me(voter),
        )
    assert _count(session, Ballot) == 0


def test_ineligible_citizen_is_refused(session):
    cons, pids = f.consultation(session, eligibility={"districts": ["North"], "minimum_age": 16})
    south = f.citizen(session, district="South", birth_year=1980)
    young = f.citizen(session, district="North", birth_year=2015)
    unknown_age = f.citizen(session, district="North")
    for who, why in ((south, "district"), (young, "minimum age"), (unknown_age, "birth year")):
        with pytest.raises(NotAllowed, match=why):
            cast_ballot(
                session,
                consultation_id=cons,
                citizen_id=who,
                choices={pids[0]: 1},
                channel="web",
                actor=_me(who),
            )
    ok = f.citizen(session, district="North", birth_year=2010)  # 16 in 2026
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=ok,
        choices={pids[0]: 1},
        channel="web",
        actor=_me(ok),
    )
    assert _count(session, Ballot) == 1


def test_offline_ballot_needs_staff_and_blocks_a_second_ballot(session):
    cons, pids = f.consultation(session)
    voter = f.citizen(session)
    with pytest.raises(NotAllowed, match="organizer"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[0]: 1},
            channel="letter",
            actor=_me(voter),
        )
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1},
        channel="letter",
        actor=f.ORGANIZER,
    )
    with pytest.raises(Conflict, match="letter"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[1]: 1},
            channel="web",
            actor=_me(voter),
        )
    with pytest.raises(Conflict):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[1]: 1},
            channel="phone",
            actor=f.ORGANIZER,
        )
    assert ballot_of(session, consultation_id=cons, citizen_id=voter) == {pids[0]: 1}
    channel = session.execute(
        select(Contact.channel).where(Contact.citizen_id == voter)
    ).scalar_one()
    assert channel == "letter"


def test_citizen_cannot_vote_for_someone_else(session):
    cons, pids = f.consultation(session)
    a, b = f.citizen(session), f.citizen(session)
    with pytest.raises(NotAllowed, match="own ballot"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=b,
            choices={pids[0]: 1},
            channel="web",
            actor=_me(a),
        )


def test_single_choice_yes_no_abstain(session):
    cons, pids = f.consultation(session, method="single_choice")
    voter = f.citizen(session)
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1, pids[1]: -1, pids[2]: 0},
        channel="web",
        actor=_me(voter),
    )
    with pytest.raises(ValidationError, match="yes"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[0]: 2},
            channel="web",
            actor=_me(voter),
        )
    assert ballot_of(session, consultation_id=cons, citizen_id=voter) == {
        pids[0]: 1,
        pids[1]: -1,
        pids[2]: 0,
    }


def test_budget_basket_over_budget_is_refused(session):
    cons, pids = f.consultation(
        session,
        method="budget",
        params={"budget": 100},
        proposals=[
            {"title": "A", "cost": 60},
            {"title": "B", "cost": 50},
            {"title": "C", "cost": 40},
        ],
    )
    voter = f.citizen(session)
    with pytest.raises(ValidationError, match="cost 110, more than the budget 100"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[0]: 1, pids[1]: 1},
            channel="web",
            actor=_me(voter),
        )
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1, pids[2]: 1},
        channel="web",
        actor=_me(voter),
    )
    assert _count(session, BallotChoice) == 2


def test_withdrawn_proposal_cannot_be_chosen(session):
    from participation.consultations import withdraw_proposal

    cons, pids = f.consultation(session)
    withdraw_proposal(session, proposal_id=pids[1], reason="duplicate of A", actor=f.ORGANIZER)
    voter = f.citizen(session)
    with pytest.raises(ValidationError, match="not open proposals"):
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter,
            choices={pids[1]: 1},
            channel="web",
            actor=_me(voter),
        )


def test_unknown_consultation_or_citizen_is_not_found_naming_the_field(session):
    cons, pids = f.consultation(session)
    voter = f.citizen(session)
    with pytest.raises(NotFound) as no_consultation:
        cast_ballot(
            session,
            consultation_id=cons + 1000,
            citizen_id=voter,
            choices={pids[0]: 1},
            channel="web",
            actor=_me(voter),
        )
    assert no_consultation.value.field == "consultation"
    with pytest.raises(NotFound) as no_citizen:
        cast_ballot(
            session,
            consultation_id=cons,
            citizen_id=voter + 1000,
            choices={pids[0]: 1},
            channel="web",
            actor=_me(voter + 1000),
        )
    assert no_citizen.value.field == "citizen_id"
    assert _count(session, Ballot) == 0


def test_proposal_of_another_consultation_or_not_an_id_is_refused(session):
    cons, pids = f.consultation(session)
    _other, other_pids = f.consultation(session)
    voter = f.citizen(session)
    for bad in ({pids[0]: 1, other_pids[0]: 1}, {pids[0]: 1, "first": 1}):
        with pytest.raises(ValidationError, match="not open proposals") as err:
            cast_ballot(
                session,
                consultation_id=cons,
                citizen_id=voter,
                choices=bad,
                channel="web",
                actor=_me(voter),
            )
        assert err.value.field == "choices"
    assert _count(session, Ballot) == 0


def test_ballot_loaded_before_a_replacement_shows_the_new_revision(session):
    cons, pids = f.consultation(session)
    voter = f.citizen(session)
    first = cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[0]: 1},
        channel="web",
        actor=_me(voter),
    )
    loaded = session.get(Ballot, first.ballot_id)
    assert (loaded.revision, loaded.receipt_code) == (1, first.receipt_code)
    second = cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices={pids[1]: 1},
        channel="sms",
        actor=_me(voter),
    )
    assert (loaded.revision, loaded.receipt_code, loaded.channel) == (
        2,
        second.receipt_code,
        "sms",
    )
    assert loaded.cast_at == clock.now()


def test_long_ranked_ballot_is_checked_against_every_open_proposal(session):
    from participation.consultations import withdraw_proposal

    cons, pids = f.consultation(
        session, method="ranked", proposals=[{"title": f"P{k}"} for k in range(40)]
    )
    _other, other_pids = f.consultation(session)
    withdraw_proposal(session, proposal_id=pids[-1], reason="merged", actor=f.ORGANIZER)
    voter = f.citizen(session)
    ranking = {p: rank for rank, p in enumerate(pids[:39], start=1)}
    for bad, why in (
        ({**ranking, pids[-1]: 40}, "not open proposals"),  # withdrawn
        ({**ranking, other_pids[0]: 40}, "not open proposals"),  # another consultation
        ({**ranking, pids[0]: 40}, "ranks must be"),
    ):
        with pytest.raises(ValidationError, match=why):
            cast_ballot(
                session,
                consultation_id=cons,
                citizen_id=voter,
                choices=bad,
                channel="web",
                actor=_me(voter),
            )
    cast_ballot(
        session,
        consultation_id=cons,
        citizen_id=voter,
        choices=ranking,
        channel="web",
        actor=_me(voter),
    )
    assert ballot_of(session, consultation_id=cons, citizen_id=voter) == ranking
