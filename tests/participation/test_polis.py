"""Pol.is open-data importer: the three shared conversations and handmade bad folders."""

from __future__ import annotations

import csv
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ValidationError
from participation.importers.common import content_digest
from participation.importers.polis import (
    Moderation,
    PolisConversation,
    Stance,
    parse_polis,
)
from participation.tallies import agree_disagree

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"
    )
)
POLIS = REALDATA / "polis"
SEATTLE = "15-per-hour-seattle"
VTAIWAN = "vtaiwan.uberx"
AUSTRIA = "austria-climate.5twd2jsnkf.2022-08-08"
# Statements whose cached agrees/disagrees in comments.csv differ from the latest-vote
# recount, as counted in realdata/FORMATS.md §A.2.
CACHED_COUNTER_MISMATCHES = {SEATTLE: 21, VTAIWAN: 96, AUSTRIA: 171}

needs_realdata = pytest.mark.skipif(not POLIS.is_dir(), reason=f"no shared data at {POLIS}")


@pytest.fixture(scope="module", params=sorted(CACHED_COUNTER_MISMATCHES))
def real(request: pytest.FixtureRequest) -> tuple[Path, PolisConversation]:
    if not POLIS.is_dir():
        pytest.skip(f"no shared data at {POLIS}")
    folder = POLIS / request.param
    return folder, parse_polis(folder)


def _raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _recount_from_matrix(folder: Path) -> dict[int, Counter[int]]:
    """Votes per statement from participants-votes.csv, read independently of the parser."""
    with (folder / "participants-votes.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        first = header.index("n-disagree") + 1
        counts: dict[int, Counter[int]] = {int(c): Counter() for c in header[first:]}
        for row in reader:
            for column, cell in zip(header[first:], row[first:], strict=True):
                if cell:
                    counts[int(column)][int(cell)] += 1
    return counts


# --- the real conversations ----------------------------------------------------------------


def test_every_conversation_parses_with_all_rows(real: tuple[Path, PolisConversation]) -> None:
    folder, conversation = real

    assert len(conversation.statements) == len(_raw_rows(folder / "comments.csv"))
    assert conversation.vote_rows == len(_raw_rows(folder / "votes.csv"))
    assert len(conversation.participants) == len(_raw_rows(folder / "participants-votes.csv"))
    assert conversation.summary.counts["comments"] == len(conversation.statements)
    assert conversation.summary.counts["voters"] == len(conversation.participants)


def test_latest_vote_recount_equals_participants_votes_matrix(
    real: tuple[Path, PolisConversation],
) -> None:
    folder, conversation = real
    expected = _recount_from_matrix(folder)

    counts = conversation.vote_counts()

    assert counts.keys() == expected.keys()
    for statement_id, by_value in counts.items():
        assert by_value == {v: expected[statement_id][v] for v in (1, -1, 0)}, statement_id


def test_repeated_votes_are_collapsed_to_one_per_voter_and_statement(
    real: tuple[Path, PolisConversation],
) -> None:
    folder, conversation = real
    raw = _raw_rows(folder / "votes.csv")
    pairs = {(row["voter-id"], row["comment-id"]) for row in raw}

    assert len(conversation.votes) == len(pairs) < len(raw)


def test_cached_counters_are_kept_but_not_trusted(real: tuple[Path, PolisConversation]) -> None:
    folder, conversation = real
    counts = conversation.vote_counts()

    differing = [
        s.statement_id
        for s in conversation.statements
        if (s.reported_agrees, s.reported_disagrees)
        != (counts[s.statement_id][1], counts[s.statement_id][-1])
    ]

    assert len(differing) == CACHED_COUNTER_MISMATCHES[folder.name]


@needs_realdata
def test_seattle_comment_0_cached_54_agrees_but_47_recounted() -> None:
    conversation = parse_polis(POLIS / SEATTLE)
    statement = conversation.statements[0]
    recount = conversation.vote_counts()[0]

    assert statement.statement_id == 0
    assert (statement.reported_agrees, statement.reported_disagrees) == (54, 35)
    assert (recount[1], recount[-1]) == (47, 33)
    assert conversation.vote_rows - len(conversation.votes) == 123  # FORMATS.md: 123 repeats


@needs_realdata
def test_created_at_is_the_epoch_timestamp_in_utc_not_the_datetime_text() -> None:
    # comments.csv line 9: 1403054214174,"Wed Jun 18 08:16:54 WIB 2014" (WIB = UTC+7).
    statement = parse_polis(POLIS / SEATTLE).statements[0]

    assert statement.created_at == datetime(2014, 6, 18, 1, 16, 54, 174000, tzinfo=UTC)
    assert statement.moderation is Moderation.ACCEPTED


@needs_realdata
def test_austria_has_xid_column_and_multiline_description() -> None:
    conversation = parse_polis(POLIS / AUSTRIA)

    assert all(p.xid is None for p in conversation.participants)  # column present, empty
    assert conversation.summary.topic == "Produktion und Konsum"
    assert "\n\nSchlussphase:\n" in conversation.summary.description
    assert 'Wenn nicht "Klimarat" dabei steht' in conversation.summary.description
    assert conversation.summary.url == "https://pol.is/5twd2jsnfk"


@needs_realdata
def test_group_counts_feed_agree_disagree_tally() -> None:
    conversation = parse_polis(POLIS / SEATTLE)
    groups = Counter(p.group_id for p in conversation.participants)

    result = agree_disagree(
        conversation.vote_counts(), group_counts=conversation.group_vote_counts()
    )
    first = result.statements[0]

    assert groups == {None: 201, 0: 99, 1: 39}
    assert (first.agree, first.disagree, first.votes) == (47, 33, 47 + 33 + first.passed)
    assert first.consensus == min(first.group_agree_shares.values())
    assert set(first.group_agree_shares) <= {0, 1}


@needs_realdata
def test_content_digest_identifies_the_same_bytes(tmp_path: Path) -> None:
    source = POLIS / SEATTLE / "summary.csv"
    copy = tmp_path / "summary.csv"
    copy.write_bytes(source.read_bytes())

    assert content_digest(copy) == content_digest(source)
    copy.write_bytes(source.read_bytes() + b"\n")
    assert content_digest(copy) != content_digest(source)


# --- handmade folders ----------------------------------------------------------------------

COMMENTS = (
    "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
    '1000,x,0,7,9,9,1,"Line one\nline two, with comma"\n'
    "2000,x,1,8,0,0,0,Second\n"
)
VOTES = (
    "timestamp,datetime,comment-id,voter-id,vote\n"
    "3000,x,0,7,-1\n"  # later vote written first: the timestamp decides
    "1500,x,0,7,1\n"
    "4000,x,1,7,0\n"
    "4000,x,1,7,1\n"  # same timestamp: the later row wins
    "1600,x,0,8,1\n"
)
PARTICIPANTS = (
    "participant,xid,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n"
    "7,ext-7,0,1,2,1,1,-1,1\n"
    "8,,,1,1,1,0,1,\n"
)
SUMMARY = 'topic,Test\nurl,https://pol.is/x\ncomments,2\nconversation-description,"a\nb"\n'


def _folder(tmp_path: Path, **files: str | bytes) -> Path:
    contents: dict[str, str | bytes] = {
        "comments.csv": COMMENTS,
        "votes.csv": VOTES,
        "participants-votes.csv": PARTICIPANTS,
        "summary.csv": SUMMARY,
    }
    contents.update({name.replace("_", "-") + ".csv": value for name, value in files.items()})
    for name, value in contents.items():
        data = value.encode("utf-8") if isinstance(value, str) else value
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_latest_vote_by_timestamp_then_file_order_wins(tmp_path: Path) -> None:
    conversation = parse_polis(_folder(tmp_path))

    votes = {(v.statement_id, v.voter_id): v.stance for v in conversation.votes}

    assert votes == {(0, 7): Stance.DISAGREE, (0, 8): Stance.AGREE, (1, 7): Stance.AGREE}
    assert conversation.vote_rows == 5
    assert conversation.vote_counts() == {0: {1: 1, -1: 1, 0: 0}, 1: {1: 1, -1: 0, 0: 0}}


def test_handmade_folder_fields(tmp_path: Path) -> None:
    conversation = parse_polis(_folder(tmp_path))
    first, second = conversation.statements
    p7, p8 = conversation.participants

    assert first.body == "Line one\nline two, with comma"
    assert second.moderation is Moderation.UNMODERATED
    assert first.created_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert (p7.xid, p7.group_id, dict(p7.votes)) == ("ext-7", 0, {0: -1, 1: 1})
    assert (p8.xid, p8.group_id, dict(p8.votes)) == (None, None, {0: 1})
    assert conversation.summary.description == "a\nb"
    assert conversation.group_vote_counts() == {
        0: {0: {1: 0, -1: 1, 0: 0}},
        1: {0: {1: 1, -1: 0, 0: 0}},
    }


def test_participants_file_without_xid_column(tmp_path: Path) -> None:
    no_xid = "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n7,1,0,1,1,0,1,\n"

    conversation = parse_polis(_folder(tmp_path, participants_votes=no_xid))

    assert conversation.participants[0].xid is None
    assert conversation.participants[0].group_id == 1


def test_html_page_saved_as_csv_is_refused(tmp_path: Path) -> None:
    page = "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head></html>\n"

    with pytest.raises(ValidationError, match=r"comments\.csv is an HTML page") as caught:
        parse_polis(_folder(tmp_path, comments=page))

    assert caught.value.field == "file"


def test_wrong_encoding_is_refused_with_byte_and_line(tmp_path: Path) -> None:
    cp1252 = COMMENTS.replace("Second", "It’s second").encode("cp1252")
    offset = cp1252.index(b"\x92")

    with pytest.raises(ValidationError) as caught:
        parse_polis(_folder(tmp_path, comments=cp1252))

    assert "comments.csv" in caught.value.message
    assert f"byte {offset} (line 4)" in caught.value.message
    assert caught.value.field == "encoding"


def test_missing_column_is_refused(tmp_path: Path) -> None:
    votes = VOTES.replace(",vote\n", ",stance\n", 1)

    with pytest.raises(
        ValidationError, match=r"votes\.csv line 1: missing column\(s\) 'vote'"
    ) as caught:
        parse_polis(_folder(tmp_path, votes=votes))

    assert caught.value.field == "vote"


def test_bad_number_is_refused_with_file_line_and_column(tmp_path: Path) -> None:
    votes = VOTES.replace("1500,x,0,7,1", "1500,x,0,7,yes")

    with pytest.raises(ValidationError) as caught:
        parse_polis(_folder(tmp_path, votes=votes))

    assert "votes.csv line 3, column 'vote': expected an integer, got 'yes'" in str(caught.value)
    assert caught.value.field == "vote"


def test_bad_line_number_counts_multiline_bodies(tmp_path: Path) -> None:
    comments = COMMENTS.replace("2000,x,1,8", "2000,x,1,eight")

    with pytest.raises(ValidationError, match=r"comments\.csv line 4, column 'author-id'"):
        parse_polis(_folder(tmp_path, comments=comments))


def test_vote_outside_agree_disagree_pass_is_refused(tmp_path: Path) -> None:
    votes = VOTES.replace("1600,x,0,8,1", "1600,x,0,8,2")

    with pytest.raises(
        ValidationError, match=r"line 6, column 'vote': expected one of \[-1, 0, 1\]"
    ):
        parse_polis(_folder(tmp_path, votes=votes))


def test_vote_on_unknown_statement_is_refused(tmp_path: Path) -> None:
    votes = VOTES.replace("1600,x,0,8,1", "1600,x,5,8,1")

    with pytest.raises(ValidationError, match=r"statement 5 is not in comments\.csv") as caught:
        parse_polis(_folder(tmp_path, votes=votes))

    assert caught.value.field == "comment-id"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "summary.csv").unlink()

    with pytest.raises(ValidationError, match=r"summary\.csv: file not found"):
        parse_polis(folder)
