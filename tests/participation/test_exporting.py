"""Exports: every real Pabulib file survives import → export → parse, and the open-data
tables are pseudonymous, complete and spreadsheet-safe."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.actor import Actor
from core.errors import ValidationError
from models import Ballot, BallotChoice, Citizen, Comment
from participation.ballots import cast_ballot
from participation.comments import moderate_comment
from participation.exporting import (
    BALLOTS_HEADER,
    COMMENTS_HEADER,
    PROPOSALS_HEADER,
    export_open_data,
    export_pb,
)
from participation.importers.pabulib import PbInstance, PbVoter, parse_pb
from participation.importing import import_consul
from participation.tallying import tally
from tests import factories
from tests.conftest import REALDATA
from tests.participation.realdata_db import IMPORTER, PB_FILES, imported_pabulib, rolled_back


@pytest.fixture(scope="module")
def pabulib_db(fresh_db):
    return imported_pabulib(fresh_db)


def _unordered(pb: PbInstance) -> PbInstance:
    """``pb`` with approval/cumulative votes in PROJECTS order (their order means nothing in
    the format; an ordinal vote's order is its ranking and is kept)."""
    if pb.vote_type == "ordinal":
        return pb
    position = {p.project_id: i for i, p in enumerate(pb.projects)}
    voters = []
    for v in pb.voters:
        pairs = sorted(zip(v.vote, v.points or (None,) * len(v.vote), strict=True),
                       key=lambda pair: position[pair[0]])
        points = tuple(x for _, x in pairs) if v.points is not None else None
        voters.append(PbVoter(v.voter_id, tuple(p for p, _ in pairs), points, v.extra))
    return PbInstance(pb.meta, pb.projects, tuple(voters), pb.project_columns, pb.voter_columns)


@pytest.mark.parametrize("path", PB_FILES, ids=lambda p: p.stem)
def test_pb_round_trip_gives_back_the_file(pabulib_db, path: Path):
    original = parse_pb(path)
    with rolled_back(pabulib_db.engine) as s:
        text = export_pb(s, pabulib_db.results[path.name].consultation_id)
    back = parse_pb(text)
    assert back.meta == original.meta
    assert back.project_columns == original.project_columns
    assert back.voter_columns == original.voter_columns
    assert back.projects == original.projects  # votes recounted from the database
    assert _unordered(back).voters == _unordered(original).voters
    if original.vote_type == "ordinal":
        assert back == original


def test_pb_export_of_a_tallied_consultation_made_here(session):
    cid, pids = factories.consultation(
        session, method="budget", params={"budget": 100, "rule": "greedy"},
        proposals=[{"title": "Bench", "cost": 60}, {"title": "Tree", "cost": 50},
                   {"title": "Lamp", "cost": 30}])
    for choice in ({0: 1, 2: 1}, {0: 1}, {1: 1, 2: 1}):
        citizen = factories.citizen(session)
        cast_ballot(session, consultation_id=cid, citizen_id=citizen,
                    choices={pids[i]: v for i, v in choice.items()}, channel="web",
                    actor=Actor(kind="citizen", id=citizen))
    from datetime import timedelta

    from core import clock
    from participation.consultations import transition

    clock.set_clock(clock.FrozenClock(factories.T0 + timedelta(days=15)))
    transition(session, consultation_id=cid, to="closed", actor=factories.SYSTEM)
    tally(session, consultation_id=cid)
    pb = parse_pb(export_pb(session, cid))
    assert pb.budget == 100
    assert pb.rule == "greedy"
    # votes: Bench 2, Lamp 2, Tree 1 -> Bench (60) then Lamp (30, tie on votes, cheaper)
    assert {p.project_id: (p.votes, p.selected) for p in pb.projects} == {
        "1": (2, 1), "2": (1, 0), "3": (2, 1)}
    assert sorted(v.vote for v in pb.voters) == [("1",), ("1", "3"), ("2", "3")]


def test_pb_export_refuses_other_methods(session):
    cid, _ = factories.consultation(session, method="approval")
    with pytest.raises(ValidationError) as err:
        export_pb(session, cid)
    assert err.value.field == "consultation"


def _read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheet users
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_open_data_csv_is_pseudonymous_and_complete(pabulib_db, tmp_path):
    path = REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb"
    cid = pabulib_db.results[path.name].consultation_id
    with rolled_back(pabulib_db.engine) as s:
        tally(s, consultation_id=cid)
        out = export_open_data(s, cid, tmp_path / "open", fmt="csv")
        codes = s.execute(select(Ballot.receipt_code).where(Ballot.consultation_id == cid)
                          ).scalars().all()
        choices = s.execute(select(func.count()).select_from(BallotChoice)
                            .where(BallotChoice.consultation_id == cid)).scalar_one()
        citizen_ids = {str(i) for i in s.execute(
            select(Ballot.citizen_id).where(Ballot.consultation_id == cid)).scalars()}
        public_ids = set(s.execute(select(Citizen.public_id)).scalars())
    pb = parse_pb(path)
    proposals = _read_csv(out.files["proposals"])
    assert tuple(proposals[0]) == PROPOSALS_HEADER
    assert {r[0]: (int(r[6]), r[8]) for r in proposals[1:]} == {
        p.project_id: (p.votes, "true" if p.project_id == "1" else "false") for p in pb.projects}
    ballots = _read_csv(out.files["ballots"])
    assert tuple(ballots[0]) == BALLOTS_HEADER
    assert len(ballots) - 1 == out.rows["ballots"] == choices
    pseudonyms = {r[0] for r in ballots[1:]}
    assert pseudonyms == {hashlib.sha256(c.encode()).hexdigest()[:16] for c in codes}
    assert not pseudonyms & (citizen_ids | public_ids | set(codes))
    assert _read_csv(out.files["comments"]) == [list(COMMENTS_HEADER)]


def test_open_data_comments_hide_moderated_ones_and_neutralise_formulas(session, tmp_path):
    out = import_consul(session, path=REALDATA / "consul" / "decide-madrid-2019",
                        actor=IMPORTER)
    first = session.execute(select(Comment).where(Comment.consultation_id == out.consultation_id)
                            .order_by(Comment.id).limit(2)).scalars().all()
    first[0].body = "=HYPERLINK(\"http://x.invalid\")"
    moderate_comment(session, comment_id=first[1].id, hide=True, reason="spam",
                     actor=factories.SYSTEM)
    session.flush()
    written = export_open_data(session, out.consultation_id, tmp_path, fmt="csv")
    rows = _read_csv(written.files["comments"])
    assert written.rows["comments"] == out.comments - 1
    by_id = {r[0]: r for r in rows[1:]}
    assert str(first[1].id) not in by_id
    assert by_id[str(first[0].id)][-1].startswith("'=HYPERLINK")
    authors = {r[3] for r in rows[1:]}
    assert len(authors) > 100
    assert all(len(a) == 16 for a in authors)


def test_open_data_xlsx_reads_back(pabulib_db, tmp_path):
    path = REALDATA / "pabulib" / "poland_krakow_2018_bienczyce.pb"
    cid = pabulib_db.results[path.name].consultation_id
    with rolled_back(pabulib_db.engine) as s:
        out = export_open_data(s, cid, tmp_path, fmt="xlsx")
    sheet = load_workbook(out.files["ballots"], read_only=True)["ballots"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == BALLOTS_HEADER
    assert len(rows) - 1 == 3 * len(parse_pb(path).voters)  # three ranked choices each
    assert {r[4] for r in rows[1:]} == {1, 2, 3}
    assert {r[1] for r in rows[1:]} == {"web", "letter"}


def test_open_data_refuses_unknown_format(session, tmp_path):
    cid, _ = factories.consultation(session)
    with pytest.raises(ValidationError) as err:
        export_open_data(session, cid, tmp_path, fmt="ods")  # type: ignore[arg-type]
    assert err.value.field == "format"
