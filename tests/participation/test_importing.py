"""Importing real Pabulib, Pol.is and CONSUL data: what lands in the database, checked
against the files themselves (read again here with the csv module or the pure parser),
refusals of duplicates and bad files, and all-or-nothing transactions."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.errors import Conflict, ValidationError
from models import (
    AuditEvent,
    Ballot,
    BallotChoice,
    Citizen,
    Comment,
    Consultation,
    Contact,
    ImportRecord,
    Proposal,
)
from participation.importers.pabulib import parse_pb
from participation.importing import import_consul, import_pabulib, import_polis
from participation.tallying import tally
from tests.conftest import REALDATA
from tests.participation.realdata_db import IMPORTER, PB_FILES, imported_pabulib, rolled_back

SMALL = REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb"
TABLES = (Consultation, Proposal, Citizen, Ballot, BallotChoice, Contact, Comment, ImportRecord,
          AuditEvent)


@pytest.fixture(scope="module")
def pabulib_db(fresh_db):
    return imported_pabulib(fresh_db)


def _count(session: Session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _all_counts(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {m.__tablename__: _count(s, m) for m in TABLES}


def test_every_shared_pabulib_file_is_covered():
    assert len(PB_FILES) == 43


@pytest.mark.parametrize("path", PB_FILES, ids=lambda p: p.stem)
def test_pabulib_file_is_stored_whole(pabulib_db, path: Path):
    pb = parse_pb(path)
    result = pabulib_db.results[path.name]
    assert (result.voters, result.ballots, result.proposals) == (
        len(pb.voters), len(pb.voters), len(pb.projects))
    with rolled_back(pabulib_db.engine) as s:
        c = s.get(Consultation, result.consultation_id)
        slug = ("pb-" + path.stem.replace("_", "-").strip("-"))[:110].rstrip("-")
        assert c.slug == slug
        assert (c.status, c.method) == ("closed", "budget")
        assert c.ballots_at_close == len(pb.voters)  # the tally's ballot total
        params = c.method_params
        assert params["pabulib_meta"] == pb.meta
        assert params["budget"] == pb.budget
        assert params["enforce_budget"] is False
        assert params["vote_type"] == pb.vote_type
        assert params.get("rule") == pb.meta.get("rule")
        assert params.get("max_choices") == (int(pb.meta["max_length"])
                                             if "max_length" in pb.meta else None)
        assert params.get("max_sum_points") == (int(pb.meta["max_sum_points"])
                                                if "max_sum_points" in pb.meta else None)
        # the voting window: from 00:00 on date_begin to the end of date_end, Warsaw time
        day, month, year = (int(x) for x in pb.meta["date_begin"].split("."))
        zone = ZoneInfo("Europe/Paris" if pb.meta["country"] == "France" else "Europe/Warsaw")
        assert c.opens_at == datetime(year, month, day, tzinfo=zone).astimezone(UTC)
        day, month, year = (int(x) for x in pb.meta["date_end"].split("."))
        assert c.closes_at == (datetime(year, month, day, tzinfo=zone)
                               + timedelta(days=1)).astimezone(UTC)

        projects = s.execute(
            select(Proposal.external_ref, Proposal.cost, Proposal.title)
            .where(Proposal.consultation_id == c.id).order_by(Proposal.id)).all()
        assert projects == [(p.project_id, p.cost, p.name) for p in pb.projects]
        assert _count(s, BallotChoice, BallotChoice.consultation_id == c.id) == sum(
            len(v.vote) for v in pb.voters)
        assert _count(s, Contact, Contact.consultation_id == c.id) == len(pb.voters)

        citizens = s.execute(
            select(Citizen.external_ref, Citizen.gender, Citizen.birth_year, Citizen.email,
                   Citizen.phone, Ballot.channel)
            .join(Ballot, Ballot.citizen_id == Citizen.id)
            .where(Ballot.consultation_id == c.id)).all()
        assert all(email is None and phone is None for _, _, _, email, phone, _ in citizens)
        refs = {ref.rsplit(":", 1)[1] for ref, *_ in citizens}
        assert refs == {v.voter_id for v in pb.voters}
        sexes = Counter(v.extra.get("sex") for v in pb.voters if v.extra.get("sex"))
        genders = Counter(g for _, g, *_ in citizens if g)
        assert genders == Counter({"female": sexes["F"] + sexes["K"], "male": sexes["M"]})
        year = int(pb.meta["date_begin"].rsplit(".", 1)[1])
        ages = Counter(year - int(v.extra["age"]) for v in pb.voters if v.extra.get("age"))
        assert Counter(b for _, _, b, *_ in citizens if b) == ages
        methods = Counter(v.extra.get("voting_method", "") for v in pb.voters)
        channels = Counter(ch for *_, ch in citizens)
        assert channels == Counter({"web": methods["internet"], "letter": methods["paper"],
                                    "import": methods[""]}) - Counter()


def test_reimport_is_refused_without_replace_and_accepted_with_it(session):
    first = import_pabulib(session, path=SMALL, actor=IMPORTER)
    before = {m.__tablename__: _count(session, m) for m in TABLES[:-1]}
    with pytest.raises(Conflict, match=r"already imported .* as pb-poland-gdansk-2020-rudniki"):
        import_pabulib(session, path=SMALL, actor=IMPORTER)
    again = import_pabulib(session, path=SMALL, actor=IMPORTER, replace=True)
    assert again.replaced == first.consultation_id
    assert session.get(Consultation, again.consultation_id).ballots_at_close == len(
        parse_pb(SMALL).voters)
    assert again.slug == first.slug
    assert _count(session, Consultation, Consultation.slug.like("pb-poland-gdansk%")) == 1
    # same rows as before (the pseudonymous citizens are reused, not duplicated)
    assert {m.__tablename__: _count(session, m) for m in TABLES[:-1]} == before


def test_same_name_with_other_content_gets_its_own_slug(session, tmp_path):
    copy = tmp_path / SMALL.name
    copy.write_bytes(SMALL.read_bytes() + b"\n")
    first = import_pabulib(session, path=SMALL, actor=IMPORTER)
    second = import_pabulib(session, path=copy, actor=IMPORTER)
    assert (first.slug, second.slug) == ("pb-poland-gdansk-2020-rudniki",
                                         "pb-poland-gdansk-2020-rudniki-2")


def test_one_audit_event_and_one_import_record_per_import(session):
    events = _count(session, AuditEvent)
    out = import_pabulib(session, path=SMALL, actor=IMPORTER)
    assert _count(session, AuditEvent) == events + 1
    action = session.execute(select(AuditEvent.action).order_by(AuditEvent.id.desc())
                             .limit(1)).scalar_one()
    assert action == "consultation.import"
    record = session.execute(select(ImportRecord).where(
        ImportRecord.consultation_id == out.consultation_id)).scalar_one()
    assert record.kind == "pabulib"
    assert len(record.digest) == 64


def test_progress_reports_every_voter(session):
    calls: list[tuple[int, int]] = []
    path = REALDATA / "pabulib" / "poland_wieliczka_2023.pb"
    import_pabulib(session, path=path, actor=IMPORTER, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 6586)
    assert calls[-1] == (6586, 6586)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


BAD_FILES = {
    "not_pabulib": ("hello\n", "section"),
    "bad_cost": ("META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\n"
                 "1;abc\nVOTES\nvoter_id;vote\n1;1\n", "cost"),
    "unknown_project": ("META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\n"
                        "project_id;cost\n1;50\nVOTES\nvoter_id;vote\n1;1\n2;1,7\n", "vote"),
    "scoring": ("META\nkey;value\nbudget;100\nvote_type;scoring\nPROJECTS\nproject_id;cost\n"
                "1;50\nVOTES\nvoter_id;vote;points\n1;1;4\n", "vote_type"),
    "zero_budget": ("META\nkey;value\nbudget;0\nvote_type;approval\nPROJECTS\nproject_id;cost\n"
                    "1;50\nVOTES\nvoter_id;vote\n1;1\n", "budget"),
    "ordinal_free_points": ("META\nkey;value\nbudget;100\nvote_type;ordinal\nmax_length;2\n"
                            "PROJECTS\nproject_id;cost\n1;50\n2;50\nVOTES\n"
                            "voter_id;vote;points\n1;1,2;5,1\n", "points"),
}


@pytest.fixture(scope="module")
def committed_engine(fresh_db):
    return fresh_db.engine()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_leaves_the_database_unchanged(committed_engine, tmp_path, name):
    text, field = BAD_FILES[name]
    path = tmp_path / f"{name}.pb"
    path.write_text(text, encoding="utf-8")
    before = _all_counts(committed_engine)
    with pytest.raises(ValidationError) as err, session_scope(committed_engine) as s:
        import_pabulib(s, path=path, actor=IMPORTER)
    assert err.value.field == field
    assert _all_counts(committed_engine) == before


def test_failure_after_rows_were_written_leaves_nothing(committed_engine):
    """The import is one transaction: a failure after the first chunk of 2000 voters was
    inserted rolls everything back."""
    path = REALDATA / "pabulib" / "poland_wieliczka_2023.pb"
    before = _all_counts(committed_engine)

    def stop(done: int, total: int) -> None:
        if done >= 4000:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError), session_scope(committed_engine) as s:
        import_pabulib(s, path=path, actor=IMPORTER, progress=stop)
    assert _all_counts(committed_engine) == before


def test_missing_file_is_a_validation_error(session, tmp_path):
    with pytest.raises(ValidationError) as err:
        import_pabulib(session, path=tmp_path / "nope.pb", actor=IMPORTER)
    assert err.value.field == "path"


# --- Pol.is ------------------------------------------------------------------------------

POLIS = sorted((REALDATA / "polis").iterdir())


def _recount_participants_votes(folder: Path) -> dict[str, Counter[str]]:
    """{statement id: Counter of '1'/'-1'/'0'} read with the csv module alone."""
    with (folder / "participants-votes.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    first = header.index("n-disagree") + 1
    counts: dict[str, Counter[str]] = {sid: Counter() for sid in header[first:]}
    for row in rows[1:]:
        for sid, cell in zip(header[first:], row[first:], strict=True):
            if cell != "":
                counts[sid][cell] += 1
    return counts


@pytest.mark.parametrize("folder", POLIS, ids=lambda p: p.name)
def test_polis_counts_equal_an_independent_recount(session, folder: Path):
    out = import_polis(session, folder=folder, actor=IMPORTER)
    expected = _recount_participants_votes(folder)
    result = tally(session, consultation_id=out.consultation_id).result
    for sid, counter in expected.items():
        got = result["counts"][sid]
        assert (got["agree"], got["disagree"], got["pass"]) == (
            counter["1"], counter["-1"], counter["0"]), sid
    with (folder / "comments.csv").open(encoding="utf-8", newline="") as fh:
        statements = list(csv.DictReader(fh))
    assert out.proposals == len(statements)
    # every statement's author is in the contact ledger, as the citizen of that participant
    authors = session.execute(
        select(Proposal.external_ref, Citizen.external_ref)
        .join(Contact, (Contact.ref_id == Proposal.id) & (Contact.ref_table == "proposal"))
        .join(Citizen, Citizen.id == Contact.citizen_id)
        .where(Proposal.consultation_id == out.consultation_id)).all()
    assert len(authors) == len(statements)
    assert {(sid, ref.rsplit(":", 1)[1]) for sid, ref in authors} == {
        (row["comment-id"], row["author-id"]) for row in statements}
    withdrawn = _count(session, Proposal, Proposal.consultation_id == out.consultation_id,
                       Proposal.status == "withdrawn")
    assert withdrawn == sum(row["moderated"] == "-1" for row in statements)


def test_polis_reimport_needs_replace(session):
    folder = REALDATA / "polis" / "15-per-hour-seattle"
    first = import_polis(session, folder=folder, actor=IMPORTER)
    with pytest.raises(Conflict):
        import_polis(session, folder=folder, actor=IMPORTER)
    again = import_polis(session, folder=folder, actor=IMPORTER, replace=True)
    assert again.replaced == first.consultation_id
    assert again.slug == first.slug


def test_polis_folder_with_a_broken_file_stores_nothing(committed_engine, tmp_path):
    folder = tmp_path / "conv"
    shutil.copytree(REALDATA / "polis" / "15-per-hour-seattle", folder)
    with (folder / "votes.csv").open("a", encoding="utf-8") as fh:
        fh.write("1403104614000,x,0,5,7\n")
    before = _all_counts(committed_engine)
    with pytest.raises(ValidationError) as err, session_scope(committed_engine) as s:
        import_polis(s, folder=folder, actor=IMPORTER)
    assert err.value.field == "vote"
    assert _all_counts(committed_engine) == before


# --- CONSUL ------------------------------------------------------------------------------


def test_consul_proposals_csv_keeps_every_proposal_and_its_supports(session):
    path = REALDATA / "consul" / "proposals_latest.csv"
    out = import_consul(session, path=path, actor=IMPORTER)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert out.proposals == len(rows) == 2738
    c = session.get(Consultation, out.consultation_id)
    assert (c.status, c.method, c.time_zone) == ("closed", "approval", "Europe/Madrid")
    assert c.method_params["supports"] == {r["id"]: int(r["cached_votes_up"]) for r in rows}
    stored = dict(session.execute(
        select(Proposal.external_ref, Proposal.body).where(
            Proposal.consultation_id == c.id)).all())
    assert stored == {r["id"]: r["description"] for r in rows}  # HTML kept raw, as text
    assert sum("<p>" in body for body in stored.values()) > 1000
    assert _count(session, Proposal, Proposal.consultation_id == c.id,
                  Proposal.status == "withdrawn") == sum(bool(r["retired_at"]) for r in rows)


def test_decide_madrid_comments_are_attached_or_listed_as_orphans(session):
    folder = REALDATA / "consul" / "decide-madrid-2019"
    with (folder / "comments.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["id"] for r in rows}
    top = [r for r in rows if r["parentId"] == "-1"]
    orphans = {r["id"]: r["parentId"] for r in rows if r["parentId"] != "-1"
               and r["parentId"] not in ids}
    replies = {r["id"]: r["parentId"] for r in rows if r["parentId"] in ids}
    assert (len(rows), len(top), len(orphans)) == (5633, 2663, 268)

    out = import_consul(session, path=folder, actor=IMPORTER)
    assert (out.comments, out.orphans, out.proposals) == (5633, 268, 80)
    cid = out.consultation_id
    assert _count(session, Comment, Comment.consultation_id == cid) == len(rows)
    assert _count(session, Comment, Comment.consultation_id == cid,
                  Comment.parent_id.is_(None)) == len(top) + len(orphans)
    parent = Comment.__table__.alias("parent")
    linked = dict(session.execute(
        select(Comment.external_ref, parent.c.external_ref)
        .join(parent, parent.c.id == Comment.parent_id)
        .where(Comment.consultation_id == cid)).all())
    assert linked == replies
    same_proposal = session.execute(
        select(func.count()).select_from(Comment)
        .join(parent, parent.c.id == Comment.parent_id)
        .where(Comment.consultation_id == cid, parent.c.proposal_id != Comment.proposal_id)
    ).scalar_one()
    assert same_proposal == 0
    noted = session.get(Consultation, cid).method_params["consul"]["orphans"]
    assert {k: str(v) for k, v in noted.items()} == orphans
    by_proposal = Counter(r["proposalId"] for r in rows)
    stored = dict(session.execute(
        select(Proposal.external_ref, func.count(Comment.id))
        .join(Comment, Comment.proposal_id == Proposal.id)
        .where(Proposal.consultation_id == cid).group_by(Proposal.external_ref)).all())
    assert stored == dict(by_proposal)


def test_consul_missing_path_is_refused(session, tmp_path):
    with pytest.raises(ValidationError) as err:
        import_consul(session, path=tmp_path / "none.csv", actor=IMPORTER)
    assert err.value.field == "path"
