"""Reader of Pol.is open-data conversation exports (``compdemocracy/openData`` layout).

A conversation folder holds four files (UTF-8, ``,``-separated, RFC 4180 quoting; see
``realdata/FORMATS.md`` §A.2):

``comments.csv``
    ``timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body``.
    ``timestamp`` is epoch milliseconds (UTC). ``datetime`` is ignored: it carries the
    zone abbreviation of the exporting machine (``WIB``, ``PDT``), not of the conversation.
    ``agrees``/``disagrees`` are cached counters known to disagree with the votes; they are
    kept only as ``reported_*``.
``votes.csv``
    ``timestamp,datetime,comment-id,voter-id,vote`` with vote 1 = agree, -1 = disagree,
    0 = pass. A voter may vote on a statement more than once: the latest vote counts (by
    ``timestamp``; equal timestamps: the later row in the file).
``participants-votes.csv``
    ``participant,[xid,]group-id,n-comments,n-votes,n-agree,n-disagree,<comment ids...>``:
    one row per participant with their opinion group (empty = not in a group) and their
    vote per statement (empty = none). ``xid`` exists only in newer exports.
``summary.csv``
    ``key,value`` lines (``topic``, ``url``, ``views``, ..., ``conversation-description``);
    a value can span lines.

Data published this way is CC BY 4.0 with attribution to The Computational Democracy
Project (see ``realdata/SOURCES.md``). This module is pure: it reads files, never a
database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

from core.errors import ValidationError
from participation.importers.common import CsvRecord, read_csv, read_rows

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VOTE_VALUES = frozenset({-1, 0, 1})
_PARTICIPANT_FIXED = ("participant", "group-id", "n-comments", "n-votes", "n-agree", "n-disagree")
_SUMMARY_COUNTS = ("views", "voters", "voters-in-conv", "commenters", "comments", "groups")


class Stance(IntEnum):
    """A Pol.is vote, with the values the exports use."""

    AGREE = 1
    DISAGREE = -1
    PASS = 0


class Moderation(IntEnum):
    """Moderation state of a statement in the exports (``moderated`` column)."""

    REJECTED = -1
    UNMODERATED = 0
    ACCEPTED = 1


@dataclass(frozen=True)
class PolisStatement:
    """One statement (``comments.csv`` row).

    Attributes:
        statement_id: ``comment-id``.
        author_id: participant id of the author.
        body: the text as written (user text: show as text, never as HTML/Markdown).
        moderation: the ``moderated`` column.
        created_at: from the epoch-ms ``timestamp``, timezone-aware UTC.
        reported_agrees: the cached ``agrees`` counter of the export (not trusted).
        reported_disagrees: the cached ``disagrees`` counter of the export (not trusted).
    """

    statement_id: int
    author_id: int
    body: str
    moderation: Moderation
    created_at: datetime
    reported_agrees: int
    reported_disagrees: int


@dataclass(frozen=True)
class PolisVote:
    """The vote that counts for one (voter, statement): the latest in ``votes.csv``.

    Attributes:
        statement_id: ``comment-id``.
        voter_id: ``voter-id`` (same ids as ``participant``).
        stance: agree / disagree / pass.
        cast_at: from the epoch-ms ``timestamp``, timezone-aware UTC.
    """

    statement_id: int
    voter_id: int
    stance: Stance
    cast_at: datetime


@dataclass(frozen=True)
class PolisParticipant:
    """One row of ``participants-votes.csv``.

    Attributes:
        participant_id: ``participant``.
        xid: external id given by the embedding site, or ``None`` (column absent or empty).
        group_id: opinion group Pol.is placed them in, or ``None`` (not clustered).
        n_comments, n_votes, n_agree, n_disagree: the export's own per-participant counters.
        votes: their vote per statement id, as exported (statements not voted on are absent).
    """

    participant_id: int
    xid: str | None
    group_id: int | None
    n_comments: int
    n_votes: int
    n_agree: int
    n_disagree: int
    votes: Mapping[int, Stance]


@dataclass(frozen=True)
class PolisSummary:
    """``summary.csv``.

    Attributes:
        topic: ``topic``.
        url: ``url`` or ``None``.
        description: ``conversation-description`` (Markdown source, may span lines; show
            as text), ``""`` when absent.
        counts: the numeric keys present (``views``, ``voters``, ``voters-in-conv``,
            ``commenters``, ``comments``, ``groups``).
        items: every key with its value as written, in file order.
    """

    topic: str
    url: str | None
    description: str
    counts: Mapping[str, int]
    items: Mapping[str, str]


@dataclass(frozen=True)
class PolisConversation:
    """A parsed Pol.is conversation export.

    Attributes:
        name: the folder name (e.g. ``15-per-hour-seattle``).
        summary: ``summary.csv``.
        statements: ``comments.csv`` rows ordered by statement id.
        votes: the latest vote per (voter, statement), ordered by (statement id, voter id).
        vote_rows: number of rows in ``votes.csv`` (so ``vote_rows - len(votes)`` votes were
            replaced by a later one).
        participants: ``participants-votes.csv`` rows ordered by participant id.
    """

    name: str
    summary: PolisSummary
    statements: tuple[PolisStatement, ...]
    votes: tuple[PolisVote, ...]
    vote_rows: int
    participants: tuple[PolisParticipant, ...]

    def vote_counts(self) -> dict[int, dict[int, int]]:
        """Count the latest votes per statement.

        Returns:
            ``{statement_id: {1: agrees, -1: disagrees, 0: passes}}`` for every statement
            (zeros included): the shape :func:`participation.tallies.agree_disagree` takes.
        """
        counts = {s.statement_id: {1: 0, -1: 0, 0: 0} for s in self.statements}
        for vote in self.votes:
            counts[vote.statement_id][int(vote.stance)] += 1
        return counts

    def group_vote_counts(self) -> dict[int, dict[int, dict[int, int]]]:
        """Count the latest votes per statement and opinion group.

        Participants without a group (empty ``group-id``) are left out.

        Returns:
            ``{statement_id: {group_id: {1: agrees, -1: disagrees, 0: passes}}}``, only
            groups with at least one vote on the statement.
        """
        group_of = {p.participant_id: p.group_id for p in self.participants}
        counts: dict[int, dict[int, dict[int, int]]] = {s.statement_id: {} for s in self.statements}
        for vote in self.votes:
            group = group_of.get(vote.voter_id)
            if group is not None:
                by_value = counts[vote.statement_id].setdefault(group, {1: 0, -1: 0, 0: 0})
                by_value[int(vote.stance)] += 1
        return counts


def _from_epoch_ms(record: CsvRecord, column: str) -> datetime:
    return _EPOCH + timedelta(milliseconds=record.integer(column))


def _parse_statements(path: Path) -> dict[int, PolisStatement]:
    table = read_csv(
        path,
        required=(
            "timestamp",
            "comment-id",
            "author-id",
            "agrees",
            "disagrees",
            "moderated",
            "comment-body",
        ),
    )
    statements: dict[int, PolisStatement] = {}
    for record in table.records:
        statement_id = record.integer("comment-id")
        if statement_id in statements:
            raise record.error("comment-id", f"statement {statement_id} appears twice")
        statements[statement_id] = PolisStatement(
            statement_id=statement_id,
            author_id=record.integer("author-id"),
            body=record.text("comment-body"),
            moderation=Moderation(record.integer("moderated", allowed=_VOTE_VALUES)),
            created_at=_from_epoch_ms(record, "timestamp"),
            reported_agrees=record.integer("agrees"),
            reported_disagrees=record.integer("disagrees"),
        )
    return dict(sorted(statements.items()))


def _parse_votes(
    path: Path, statements: Mapping[int, PolisStatement]
) -> tuple[tuple[PolisVote, ...], int]:
    table = read_csv(path, required=("timestamp", "comment-id", "voter-id", "vote"))
    latest: dict[tuple[int, int], PolisVote] = {}
    for record in table.records:
        statement_id = record.integer("comment-id")
        if statement_id not in statements:
            raise record.error("comment-id", f"statement {statement_id} is not in comments.csv")
        vote = PolisVote(
            statement_id=statement_id,
            voter_id=record.integer("voter-id"),
            stance=Stance(record.integer("vote", allowed=_VOTE_VALUES)),
            cast_at=_from_epoch_ms(record, "timestamp"),
        )
        key = (statement_id, vote.voter_id)
        previous = latest.get(key)
        # ">=": of two votes with the same timestamp the later row wins.
        if previous is None or vote.cast_at >= previous.cast_at:
            latest[key] = vote
    return tuple(latest[key] for key in sorted(latest)), len(table.records)


def _parse_participants(
    path: Path, statements: Mapping[int, PolisStatement]
) -> tuple[PolisParticipant, ...]:
    table = read_csv(path, required=_PARTICIPANT_FIXED)
    first_vote_column = table.header.index("n-disagree") + 1
    vote_columns: list[tuple[str, int]] = []
    for column in table.header[first_vote_column:]:
        if not column.isdigit() or int(column) not in statements:
            raise table.header_error(column, "expected the id of a statement in comments.csv")
        vote_columns.append((column, int(column)))
    participants: dict[int, PolisParticipant] = {}
    for record in table.records:
        participant_id = record.integer("participant")
        if participant_id in participants:
            raise record.error("participant", f"participant {participant_id} appears twice")
        votes = {
            statement_id: Stance(record.integer(column, allowed=_VOTE_VALUES))
            for column, statement_id in vote_columns
            if record.values[column]
        }
        participants[participant_id] = PolisParticipant(
            participant_id=participant_id,
            xid=record.optional_text("xid"),
            group_id=record.optional_integer("group-id"),
            n_comments=record.integer("n-comments"),
            n_votes=record.integer("n-votes"),
            n_agree=record.integer("n-agree"),
            n_disagree=record.integer("n-disagree"),
            votes=MappingProxyType(votes),
        )
    return tuple(participants[key] for key in sorted(participants))


def _parse_summary(path: Path) -> PolisSummary:
    items: dict[str, str] = {}
    for line, cells in read_rows(path):
        if len(cells) != 2:
            raise ValidationError(
                f"{path} line {line}: expected 'key,value', got {len(cells)} cells", field="file"
            )
        key, value = cells
        if key in items:
            raise ValidationError(f"{path} line {line}: key {key!r} appears twice", field=key)
        items[key] = value
    counts: dict[str, int] = {}
    for key in _SUMMARY_COUNTS:
        if key in items:
            if not items[key].strip().isdigit():
                raise ValidationError(
                    f"{path}: {key!r} should be a whole number, got {items[key]!r}", field=key
                )
            counts[key] = int(items[key])
    if "topic" not in items:
        raise ValidationError(f"{path}: missing key 'topic'", field="topic")
    return PolisSummary(
        topic=items["topic"],
        url=items.get("url") or None,
        description=items.get("conversation-description", ""),
        counts=MappingProxyType(counts),
        items=MappingProxyType(items),
    )


def parse_polis(folder: Path) -> PolisConversation:
    """Parse one Pol.is open-data conversation folder.

    Args:
        folder: a folder holding ``comments.csv``, ``votes.csv``,
            ``participants-votes.csv`` and ``summary.csv`` (UTF-8).

    Returns:
        The conversation; votes are the latest per (voter, statement).

    Raises:
        ValidationError: a file is missing, not UTF-8, an HTML page, or malformed; a
            column is missing; a number is not an integer; a vote is not -1/0/1; an id
            appears twice; a vote or matrix column names a statement not in
            ``comments.csv``. The message names the file, line and column; ``field`` is
            the column (or ``"file"`` / ``"encoding"``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder}: not a folder", field="folder")
    statements = _parse_statements(folder / "comments.csv")
    votes, vote_rows = _parse_votes(folder / "votes.csv", statements)
    participants = _parse_participants(folder / "participants-votes.csv", statements)
    return PolisConversation(
        name=folder.name,
        summary=_parse_summary(folder / "summary.csv"),
        statements=tuple(statements.values()),
        votes=votes,
        vote_rows=vote_rows,
        participants=participants,
    )


__all__ = [
    "Moderation",
    "PolisConversation",
    "PolisParticipant",
    "PolisStatement",
    "PolisSummary",
    "PolisVote",
    "Stance",
    "parse_polis",
]
