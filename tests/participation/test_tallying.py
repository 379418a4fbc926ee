"""Tallies from stored ballots: every real Pabulib file's published outcome (``selected``
and ``votes`` columns) reproduced from the database, the same answer as the budgeting
rules give on the parsed file, and the other voting methods against hand counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.actor import Actor
from core.errors import NotAllowed, ValidationError
from models import AuditEvent, Consultation
from participation.audit import payload_digest
from participation.ballots import cast_ballot
from participation.budgeting import BudgetProblem, published_rule
from participation.importers.pabulib import parse_pb
from participation.importers.polis import parse_polis
from participation.importing import import_pabulib, import_polis
from participation.tallies import agree_disagree
from participation.tallying import BUDGET_RULES, tally
from tests import factories
from tests.conftest import REALDATA
from tests.participation.realdata_db import IMPORTER, PB_FILES, imported_pabulib, rolled_back

WITH_OUTCOME = [p for p in PB_FILES if any(x.selected is not None for x in parse_pb(p).projects)]


@pytest.fixture(scope="module")
def pabulib_db(fresh_db):
    return imported_pabulib(fresh_db)


def _later_round(path: Path) -> int | None:
    """Projects the city funded in a later round (``selected = 2``), from the file."""
    return sum(p.selected == 2 for p in parse_pb(path).projects) or None


def test_most_files_carry_a_published_outcome():
    assert len(WITH_OUTCOME) == 40  # Toulouse 2019, Gdańsk 2020, Kraków 2018 have none


@pytest.mark.parametrize("path", WITH_OUTCOME, ids=lambda p: p.stem)
def test_tally_reproduces_the_published_outcome(pabulib_db, path: Path):
    pb = parse_pb(path)
    result = pabulib_db.results[path.name]
    with rolled_back(pabulib_db.engine) as s:
        out = tally(s, consultation_id=result.consultation_id,
                    later_round_projects=_later_round(path))
        assert s.get(Consultation, result.consultation_id).result == out.result
    funded = {p.project_id for p in pb.projects if p.selected in (1, 2)}
    assert set(out.result["selected"]) == funded
    assert set(out.result["later_round"]) == {p.project_id for p in pb.projects
                                              if p.selected == 2}
    assert out.status == "tallied"
    assert out.result["variant"] == published_rule(BudgetProblem.from_instance(pb))[0]


@pytest.mark.parametrize("path", PB_FILES, ids=lambda p: p.stem)
def test_tally_counts_equal_the_files_votes_and_the_rule_on_the_parsed_file(pabulib_db, path):
    pb = parse_pb(path)
    with rolled_back(pabulib_db.engine) as s:
        res = tally(s, consultation_id=pabulib_db.results[path.name].consultation_id).result
    assert res["counts"] == {p.project_id: p.votes for p in pb.projects}
    if pb.vote_type == "cumulative" and "score" in pb.project_columns:
        assert res["points"] == {p.project_id: p.score for p in pb.projects}  # sum of points
    problem = BudgetProblem.from_instance(pb)
    name, run = published_rule(problem)
    expected = run(problem)
    assert (res["variant"], res["selected"], res["spent"], res["budget"]) == (
        name, list(expected.selected), expected.spent, expected.budget)
    assert res["ballots"] == len(pb.voters)


def test_other_rules_can_be_asked_for(pabulib_db):
    path = REALDATA / "pabulib" / "poland_wieliczka_2023.pb"
    cid = pabulib_db.results[path.name].consultation_id
    with rolled_back(pabulib_db.engine) as s:
        mes = tally(s, consultation_id=cid).result
        greedy = tally(s, consultation_id=cid, rule="greedy").result  # re-tally replaces
        stored = s.get(Consultation, cid).result
    assert mes["rule"].startswith("equal_shares/cost/add1")
    assert greedy["rule"] == "greedy"
    assert stored == greedy
    assert mes["selected"] != greedy["selected"]
    assert greedy["spent"] <= greedy["budget"]
    assert mes["spent"] <= mes["budget"]
    assert set(BUDGET_RULES) >= {"greedy", "equal_shares", "equal_shares/add1"}


def test_unknown_rule_is_refused(pabulib_db):
    cid = pabulib_db.results["poland_gdansk_2020_rudniki.pb"].consultation_id
    with rolled_back(pabulib_db.engine) as s, pytest.raises(ValidationError) as err:
        tally(s, consultation_id=cid, rule="coin_toss")
    assert err.value.field == "rule"


def test_tally_is_idempotent_and_audited(session):
    out = import_pabulib(session, path=REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb",
                         actor=IMPORTER)
    first = tally(session, consultation_id=out.consultation_id)
    second = tally(session, consultation_id=out.consultation_id)
    assert first == second
    actions = session.execute(select(AuditEvent.action).order_by(AuditEvent.id.desc())
                              .limit(3)).scalars().all()
    assert actions == ["consultation.tally", "consultation.tally", "consultation.tallied"]


# --- other methods, on consultations run through the services -----------------------------


def _vote(session, cid, choices_per_voter, pids, channel="web"):
    for choices in choices_per_voter:
        citizen = factories.citizen(session)
        cast_ballot(session, consultation_id=cid, citizen_id=citizen,
                    choices={pids[i]: v for i, v in choices.items()}, channel=channel,
                    actor=Actor(kind="citizen", id=citizen))


def _close(session, cid):
    from datetime import timedelta

    from core import clock
    from participation.consultations import transition

    clock.set_clock(clock.FrozenClock(factories.T0 + timedelta(days=15)))
    transition(session, consultation_id=cid, to="closed", actor=factories.SYSTEM)


def test_open_consultation_cannot_be_tallied(session):
    cid, _ = factories.consultation(session)
    with pytest.raises(NotAllowed):
        tally(session, consultation_id=cid)


def test_a_reported_consultation_is_not_tallied_again_and_says_where_its_result_is(session):
    from participation.consultations import transition

    cid, pids = factories.consultation(session, method="approval")
    _vote(session, cid, [{0: 1}], pids)
    _close(session, cid)
    first = tally(session, consultation_id=cid).result
    transition(session, consultation_id=cid, to="reported", actor=factories.SYSTEM)
    with pytest.raises(NotAllowed, match=r"this one is reported; its result, stored when it "
                                         r"was tallied, is in its governance report"):
        tally(session, consultation_id=cid)
    assert session.get(Consultation, cid).result == first


def test_approval_counts_and_shares(session):
    cid, pids = factories.consultation(session, method="approval")
    _vote(session, cid, [{0: 1, 1: 1}, {0: 1}, {2: 1}, {0: 1, 2: 1}], pids)
    _close(session, cid)
    res = tally(session, consultation_id=cid).result
    assert res["counts"] == {"1": 3, "2": 1, "3": 2}
    assert res["shares"] == {"1": 0.75, "2": 0.25, "3": 0.5}
    assert [e["id"] for e in res["ranking"]] == ["1", "3", "2"]


def test_closing_records_the_ballot_total_that_the_tally_uses(session):
    cid, pids = factories.consultation(session, method="approval")
    _vote(session, cid, [{0: 1, 1: 1}, {1: 1}, {2: 1}], pids)
    _close(session, cid)
    c = session.get(Consultation, cid)
    assert c.ballots_at_close == 3
    event = session.execute(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one()
    assert (event.action, event.payload_digest) == (
        "consultation.closed", payload_digest({"from": "open", "to": "closed", "ballots": 3}))
    # the tally's total is the one recorded at close (shares = counts / 3), not a recount
    res = tally(session, consultation_id=cid).result
    assert (res["ballots"], res["shares"]) == (3, {"1": 1 / 3, "2": 2 / 3, "3": 1 / 3})
    c.ballots_at_close = None  # a consultation closed before the total was recorded
    session.flush()
    assert tally(session, consultation_id=cid).result["ballots"] == 3


def test_single_choice_per_proposal(session):
    cid, pids = factories.consultation(session, method="single_choice",
                                       proposals=[{"title": "Park"}])
    _vote(session, cid, [{0: 1}, {0: 1}, {0: -1}, {0: 0}], pids)
    _close(session, cid)
    res = tally(session, consultation_id=cid).result
    park = res["results"]["1"]
    assert (park["yes"], park["no"], park["abstain"], park["adopted"]) == (2, 1, 1, True)


def test_ranked_borda_and_instant_runoff(session):
    # 3 candidates; ballots A>B>C x2, B>C>A x2, C>A x1 (hand count below)
    cid, pids = factories.consultation(session, method="ranked")
    _vote(session, cid, [{0: 1, 1: 2, 2: 3}] * 2 + [{1: 1, 2: 2, 0: 3}] * 2 + [{2: 1, 0: 2}],
          pids)
    _close(session, cid)
    res = tally(session, consultation_id=cid).result
    # Borda: full rankings give 2/1/0; the partial C>A (m = 2 = n - 1) gives 2/1.
    assert res["borda"]["points"] == {"1": 2 * 2 + 0 * 2 + 1, "2": 1 * 2 + 2 * 2,
                                      "3": 0 * 2 + 1 * 2 + 2}
    # IRV: first preferences A2 B2 C1 -> C out, its ballot goes to A: A3 B2.
    assert res["instant_runoff"]["winner"] == "1"
    assert res["counts"] == {"1": 2, "2": 2, "3": 1}
    only = tally(session, consultation_id=cid, rule="borda").result
    assert "instant_runoff" not in only


def test_agree_disagree_with_opinion_groups_matches_the_parsed_conversation(session):
    folder = REALDATA / "polis" / "15-per-hour-seattle"
    out = import_polis(session, folder=folder, actor=IMPORTER)
    res = tally(session, consultation_id=out.consultation_id).result
    conv = parse_polis(folder)
    expected = agree_disagree(conv.vote_counts(), group_counts=conv.group_vote_counts())
    assert res["consensus"] == {str(s.statement): s.consensus for s in expected.statements}
    assert res["groups"] == len({p.group_id for p in conv.participants if p.group_id is not None})
    with pytest.raises(ValidationError):
        tally(session, consultation_id=out.consultation_id, rule="borda")
