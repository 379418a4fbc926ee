"""CONSUL importers: Decide Madrid proposals CSV, the 2019 scrape, html_to_text."""

from __future__ import annotations

import csv
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.errors import ValidationError
from participation.importers.consul import (
    ConsulProposal,
    DecideMadridDataset,
    html_to_text,
    parse_consul_proposals,
    parse_decide_madrid,
)

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"
    )
)
CONSUL = REALDATA / "consul"
PROPOSALS_LATEST = CONSUL / "proposals_latest.csv"
MADRID_2019 = CONSUL / "decide-madrid-2019"


def _raw(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


@pytest.fixture(scope="module")
def latest() -> tuple[ConsulProposal, ...]:
    if not PROPOSALS_LATEST.is_file():
        pytest.skip(f"no shared data at {PROPOSALS_LATEST}")
    return parse_consul_proposals(PROPOSALS_LATEST)


@pytest.fixture(scope="module")
def madrid() -> DecideMadridDataset:
    if not MADRID_2019.is_dir():
        pytest.skip(f"no shared data at {MADRID_2019}")
    return parse_decide_madrid(MADRID_2019)


# --- proposals_latest.csv ------------------------------------------------------------------


def test_latest_has_2738_proposals_30_withdrawn(latest: tuple[ConsulProposal, ...]) -> None:
    raw = _raw(PROPOSALS_LATEST, delimiter=";")

    assert len(latest) == len(raw) == 2738
    assert sum(p.withdrawn for p in latest) == sum(1 for r in raw if r["retired_at"]) == 30


def test_latest_dates_are_day_first_and_retired_at_is_utc(
    latest: tuple[ConsulProposal, ...],
) -> None:
    first_withdrawn = next(p for p in latest if p.withdrawn)

    assert latest[0].created_on == date(2024, 1, 1)
    assert latest[-1].created_on == date(2025, 11, 8)  # "08/11/2025"
    # "2024-01-03 20:05:12 +0100"
    assert first_withdrawn.retired_at == datetime(2024, 1, 3, 19, 5, 12, tzinfo=UTC)


def test_latest_descriptions_stay_raw_html_with_a_plain_text_view(
    latest: tuple[ConsulProposal, ...],
) -> None:
    raw = {int(r["id"]): r["description"] for r in _raw(PROPOSALS_LATEST, delimiter=";")}

    assert all(p.description == raw[p.proposal_id] for p in latest)
    with_html = [p for p in latest if "<p>" in p.description]
    assert len(with_html) > 2000
    assert not any("<p>" in p.description_text or "\r" in p.description for p in latest)
    assert latest[0].cached_votes_up == 15


def test_html_to_text_keeps_structure_and_drops_markup() -> None:
    html = (
        "<p>Uno &amp; dos&nbsp; tres</p><ol><li><strong>a</strong> b</li><li>c</li></ol>"
        "<h3>Fin</h3><script>alert(1)</script><img src=x onerror=alert(2)>x<br>y"
    )

    assert html_to_text(html) == "Uno & dos tres\n\n- a b\n- c\n\nFin\n\nx\ny"
    assert html_to_text("plain  text\nsecond line") == "plain text\nsecond line"
    assert html_to_text("") == ""


# --- decide-madrid-2019 --------------------------------------------------------------------


def test_madrid_counts_match_the_raw_files(madrid: DecideMadridDataset) -> None:
    raw_proposals = _raw(MADRID_2019 / "proposals.csv")
    raw_comments = _raw(MADRID_2019 / "comments.csv")
    ids = {row["id"] for row in raw_comments}
    raw_orphans = [
        int(row["id"])
        for row in raw_comments
        if row["parentId"] != "-1" and row["parentId"] not in ids
    ]

    assert len(madrid.proposals) == len(raw_proposals) == 80
    assert len(madrid.comments) == len(raw_comments) == 5633
    assert sum(c.parent_id is None for c in madrid.comments) == 2663
    assert list(madrid.orphan_ids) == raw_orphans
    assert len(raw_orphans) == 268


def test_every_madrid_comment_is_attached_or_listed_as_orphan(madrid: DecideMadridDataset) -> None:
    by_id = {c.comment_id: c for c in madrid.comments}
    orphans = set(madrid.orphan_ids)
    by_proposal = madrid.comments_by_proposal()

    assert sum(len(comments) for comments in by_proposal.values()) == len(madrid.comments)
    for comment in madrid.comments:
        assert comment in by_proposal[comment.proposal_id]
        if comment.parent_id is not None:
            parent = by_id.get(comment.parent_id)
            assert (parent is None) == (comment.comment_id in orphans)
            assert parent is None or parent.proposal_id == comment.proposal_id


def test_madrid_cached_comment_count_differs_from_rows(madrid: DecideMadridDataset) -> None:
    proposal = next(p for p in madrid.proposals if p.proposal_id == 1419)

    assert proposal.reported_comments == 639
    assert len(madrid.comments_by_proposal()[1419]) == 592


def test_madrid_comment_time_is_madrid_local_converted_to_utc(
    madrid: DecideMadridDataset,
) -> None:
    # First row: 2015-09-15, "0 days 10:50:19"; Madrid is UTC+2 (CEST) in September.
    first = madrid.comments[0]

    assert (first.comment_id, first.parent_id, first.proposal_id) == (17092, None, 7)
    assert first.created_at == datetime(2015, 9, 15, 8, 50, 19, tzinfo=UTC)
    assert {c.author_type for c in madrid.comments} == {
        None,
        "Autor",
        "Colectivo",
        "Empleados públicos",
    }


def test_madrid_proposal_fields(madrid: DecideMadridDataset) -> None:
    first = madrid.proposals[0]

    assert (first.proposal_id, first.code, first.title) == (
        7,
        "MAD-2015-09-7",
        "Limpiar las calles",
    )
    assert (first.created_on, first.reported_comments, first.supports) == (
        date(2015, 9, 15),
        188,
        6560,
    )
    assert (first.status, first.is_association) == ("archived", False)
    assert sum(p.is_association for p in madrid.proposals) == 1


# --- refusals on handmade files ------------------------------------------------------------

LATEST_HEADER = '"id";"title";"description";"cached_votes_up";"created_at";"retired_at"\r\n'
LATEST_ROW = '"1";"Title";"<p>Body</p>";"3";"01/02/2024";""\r\n'


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_handmade_latest_parses(tmp_path: Path) -> None:
    path = _write(tmp_path / "proposals.csv", LATEST_HEADER + LATEST_ROW)

    (proposal,) = parse_consul_proposals(path)

    assert proposal == ConsulProposal(1, "Title", "<p>Body</p>", 3, date(2024, 2, 1), None)
    assert proposal.description_text == "Body"


def test_access_denied_page_saved_as_csv_is_refused(tmp_path: Path) -> None:
    page = (
        '\n  <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 2.0//EN">\n<html><title>Access Denied</title>'
    )
    path = _write(tmp_path / "proposals_latest.csv", page)

    with pytest.raises(ValidationError, match=r"proposals_latest\.csv is an HTML page"):
        parse_consul_proposals(path)


def test_latest_in_wrong_encoding_is_refused(tmp_path: Path) -> None:
    content = (LATEST_HEADER + LATEST_ROW.replace("Title", "Creación")).encode("latin-1")
    path = _write(tmp_path / "proposals_latest.csv", content)

    with pytest.raises(
        ValidationError, match=r"proposals_latest\.csv: not valid utf-8 at byte \d+ \(line 2\)"
    ):
        parse_consul_proposals(path)


def test_latest_with_comma_delimiter_reports_missing_columns(tmp_path: Path) -> None:
    comma_separated = "id,title,description,cached_votes_up,created_at,retired_at\r\n1,T,,0,,\r\n"
    path = _write(tmp_path / "p.csv", comma_separated)

    with pytest.raises(ValidationError, match=r"p\.csv line 1: missing column\(s\) 'id'") as caught:
        parse_consul_proposals(path)

    assert caught.value.field == "id"
    assert "delimiter expected: ';'" in caught.value.message


def test_latest_with_broken_quoting_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.csv", LATEST_HEADER + '"1";"Ti"tle";"";"0";"01/01/2024";""\r\n')

    with pytest.raises(ValidationError, match=r"p\.csv line 2: malformed CSV"):
        parse_consul_proposals(path)


@pytest.mark.parametrize(
    ("bad_row", "column", "problem"),
    [
        (LATEST_ROW.replace('"3"', '"3a"'), "cached_votes_up", "expected an integer, got '3a'"),
        (
            LATEST_ROW.replace("01/02/2024", "2024-02-01"),
            "created_at",
            "expected a date DD/MM/YYYY",
        ),
        (LATEST_ROW.replace("01/02/2024", "31/02/2024"), "created_at", "not a calendar date"),
        (
            LATEST_ROW.replace(';""', ';"yesterday"'),
            "retired_at",
            "expected 'YYYY-MM-DD HH:MM:SS +HHMM'",
        ),
    ],
)
def test_latest_bad_cell_is_refused_with_line_and_column(
    tmp_path: Path, bad_row: str, column: str, problem: str
) -> None:
    path = _write(tmp_path / "p.csv", LATEST_HEADER + LATEST_ROW.replace('"1"', '"2"') + bad_row)

    with pytest.raises(ValidationError) as caught:
        parse_consul_proposals(path)

    assert f"p.csv line 3, column {column!r}: {problem}" in caught.value.message
    assert caught.value.field == column


def test_latest_duplicate_id_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.csv", LATEST_HEADER + LATEST_ROW + LATEST_ROW)

    with pytest.raises(ValidationError, match=r"line 3, column 'id': proposal 1 appears twice"):
        parse_consul_proposals(path)


MADRID_PROPOSALS = (
    ",id,url,code,title,userId,date,summary,text,numComments,status,numSupports,isAssociation\n"
    "0,7,/proposals/7,MAD-2015-09-7,T,1,2015-09-15,S,,2,archived,10,0\n"
)
MADRID_COMMENTS = (
    ",id,parentId,proposalId,page,userId,userType,date,time,text,numVotes,"
    "numPositiveVotes,numNegativeVotes\n"
    "0,100,-1,7,1,5,,2015-01-15,0 days 23:30:00,Top,1,1,0\n"
    "1,101,100,7,1,6,Autor,2015-01-16,0 days 00:10:00,Reply,0,0,0\n"
    "2,102,99,7,1,6,,2015-01-16,0 days 00:11:00,Orphan,0,0,0\n"
)


def _madrid(
    tmp_path: Path, proposals: str = MADRID_PROPOSALS, comments: str = MADRID_COMMENTS
) -> Path:
    _write(tmp_path / "proposals.csv", proposals)
    _write(tmp_path / "comments.csv", comments)
    return tmp_path


def test_handmade_madrid_threads_and_orphans(tmp_path: Path) -> None:
    dataset = parse_decide_madrid(_madrid(tmp_path))
    top, reply, orphan = dataset.comments

    assert dataset.orphan_ids == (102,)
    assert (top.parent_id, reply.parent_id, orphan.parent_id) == (None, 100, 99)
    assert top.created_at == datetime(2015, 1, 15, 22, 30, tzinfo=UTC)  # CET, UTC+1
    assert reply.author_type == "Autor"


def test_madrid_comment_on_unknown_proposal_is_refused(tmp_path: Path) -> None:
    comments = MADRID_COMMENTS.replace("0,100,-1,7,", "0,100,-1,8,")

    with pytest.raises(ValidationError, match=r"comments\.csv line 2, column 'proposalId'"):
        parse_decide_madrid(_madrid(tmp_path, comments=comments))


def test_madrid_bad_time_is_refused(tmp_path: Path) -> None:
    comments = MADRID_COMMENTS.replace("0 days 00:10:00", "00:10")

    with pytest.raises(ValidationError, match=r"comments\.csv line 3, column 'time'") as caught:
        parse_decide_madrid(_madrid(tmp_path, comments=comments))

    assert caught.value.field == "time"


def test_madrid_missing_column_is_refused(tmp_path: Path) -> None:
    proposals = MADRID_PROPOSALS.replace("numSupports", "supports")

    with pytest.raises(
        ValidationError, match=r"proposals\.csv line 1: missing column\(s\) 'numSupports'"
    ):
        parse_decide_madrid(_madrid(tmp_path, proposals=proposals))


def test_madrid_row_with_extra_cells_is_refused(tmp_path: Path) -> None:
    comments = MADRID_COMMENTS.replace("Orphan,0,0,0", "Orphan,0,0,0,0")

    with pytest.raises(ValidationError, match=r"comments\.csv line 4: 14 cells, the header has 13"):
        parse_decide_madrid(_madrid(tmp_path, comments=comments))
