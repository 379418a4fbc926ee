"""Readers of CONSUL Democracy data (Decide Madrid) and a plain-text view of its HTML.

Two layouts are read (``realdata/FORMATS.md`` §A.3):

``proposals_latest.csv`` (:func:`parse_consul_proposals`)
    The public CONSUL proposals CSV reduced to
    ``id;title;description;cached_votes_up;created_at;retired_at``: ``;``-separated, every
    field quoted, UTF-8, CRLF. ``description`` is HTML in most rows; ``created_at`` is
    ``DD/MM/YYYY``; ``retired_at`` (``YYYY-MM-DD HH:MM:SS +HHMM``) is set on withdrawn
    proposals.
``decide-madrid-2019/`` (:func:`parse_decide_madrid`)
    A research scrape: ``proposals.csv`` and ``comments.csv``, ``,``-separated, each with
    an unnamed pandas index as first column. Comments form threads through ``parentId``
    (``-1`` = top level); some replies point to a parent missing from the file
    ("orphans"): they are kept and listed.

Descriptions and comments are user text: they are kept raw and must be shown as text,
never rendered as HTML. :func:`html_to_text` gives a plain-text version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from core.errors import ValidationError
from participation.importers.common import CsvRecord, read_csv, shown

MADRID = ZoneInfo("Europe/Madrid")
"""Zone of the Decide Madrid times: CONSUL sets ``config.time_zone = "Madrid"`` (Rails)."""

_DMY = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PANDAS_TIMEDELTA = re.compile(r"(\d+) days (\d{2}):(\d{2}):(\d{2})")
_RETIRED_AT_FORMAT = "%Y-%m-%d %H:%M:%S %z"

# Tags after which html_to_text starts a new paragraph or a new line.
_PARAGRAPH_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "table", "pre"}
)
_LINE_TAGS = frozenset({"br", "li", "tr"})
_SKIPPED_TAGS = frozenset({"script", "style"})


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, marking block boundaries with newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _LINE_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Turn an HTML fragment (a CONSUL description) into plain text.

    Uses the standard library's :class:`html.parser.HTMLParser`; nothing is rendered or
    fetched. Tags are dropped, character references decoded (``&amp;`` → ``&``),
    ``script``/``style`` content removed; paragraphs and headings become blank-line
    separated blocks, ``<br>`` a line break, ``<li>`` a line starting with ``- ``.
    Runs of white space (including no-break spaces) inside a line become one space.
    Plain text passes through with only that white-space clean-up.

    Args:
        html: the fragment.

    Returns:
        The text, without leading or trailing white space.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    blocks: list[str] = []
    blank = False
    for line in lines:
        if line:
            if blank and blocks:
                blocks.append("")
            blocks.append(line)
            blank = False
        else:
            blank = True
    return "\n".join(blocks)


@dataclass(frozen=True)
class ConsulProposal:
    """One row of the CONSUL proposals CSV.

    Attributes:
        proposal_id: ``id``.
        title: ``title`` as written.
        description: ``description`` as written: HTML or plain text, possibly empty. Never
            render it; see :attr:`description_text`.
        cached_votes_up: ``cached_votes_up``, CONSUL's cached count of supports.
        created_on: ``created_at`` (a calendar date in Madrid, no time given).
        retired_at: ``retired_at`` converted to UTC, ``None`` when not withdrawn.
    """

    proposal_id: int
    title: str
    description: str
    cached_votes_up: int
    created_on: date
    retired_at: datetime | None

    @property
    def withdrawn(self) -> bool:
        """Whether the author withdrew ("retired") the proposal."""
        return self.retired_at is not None

    @property
    def description_text(self) -> str:
        """The description as plain text (see :func:`html_to_text`)."""
        return html_to_text(self.description)


def _date_dmy(record: CsvRecord, column: str) -> date:
    raw = record.text(column)
    match = _DMY.fullmatch(raw.strip())
    if match is None:
        raise record.error(column, f"expected a date DD/MM/YYYY, got {shown(raw)}")
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise record.error(column, f"not a calendar date: {shown(raw)} ({exc})") from None


def _date_iso(record: CsvRecord, column: str) -> date:
    raw = record.text(column)
    try:
        if _ISO_DATE.fullmatch(raw.strip()):
            return date.fromisoformat(raw.strip())
    except ValueError:
        pass  # reported below, as for any other malformed date
    raise record.error(column, f"expected a date YYYY-MM-DD, got {shown(raw)}")


def _retired_at(record: CsvRecord, column: str) -> datetime | None:
    raw = record.text(column).strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, _RETIRED_AT_FORMAT).astimezone(UTC)
    except ValueError:
        raise record.error(
            column, f"expected 'YYYY-MM-DD HH:MM:SS +HHMM' or empty, got {shown(raw)}"
        ) from None


def parse_consul_proposals(path: Path) -> tuple[ConsulProposal, ...]:
    """Parse a CONSUL proposals CSV (``proposals_latest.csv`` layout).

    Args:
        path: the file; UTF-8, ``;``-separated, quoted fields, CRLF or LF line ends.
            Columns beyond the six read here are ignored.

    Returns:
        The proposals in file order.

    Raises:
        ValidationError: the file is missing, not UTF-8 or an HTML page; a column is
            missing; an ``id`` repeats; a number or date is malformed. The message names
            the file, line and column; ``field`` is the column.
    """
    table = read_csv(
        Path(path),
        delimiter=";",
        required=("id", "title", "description", "cached_votes_up", "created_at", "retired_at"),
    )
    proposals: dict[int, ConsulProposal] = {}
    for record in table.records:
        proposal_id = record.integer("id")
        if proposal_id in proposals:
            raise record.error("id", f"proposal {proposal_id} appears twice")
        proposals[proposal_id] = ConsulProposal(
            proposal_id=proposal_id,
            title=record.text("title"),
            description=record.text("description"),
            cached_votes_up=record.integer("cached_votes_up"),
            created_on=_date_dmy(record, "created_at"),
            retired_at=_retired_at(record, "retired_at"),
        )
    return tuple(proposals.values())


@dataclass(frozen=True)
class DecideMadridProposal:
    """One row of ``decide-madrid-2019/proposals.csv``.

    Attributes:
        proposal_id: ``id``.
        url: ``url`` path on decide.madrid.es.
        code: ``code`` such as ``MAD-2015-09-7``.
        title: ``title``.
        author_id: ``userId``.
        created_on: ``date``.
        summary: ``summary``.
        text: ``text`` (may be empty).
        reported_comments: ``numComments``, the site's cached count (differs from the rows
            of ``comments.csv``).
        status: ``status`` as written (``archived``, ``open``).
        supports: ``numSupports``.
        is_association: ``isAssociation`` (``1`` = proposed by an association).
    """

    proposal_id: int
    url: str
    code: str
    title: str
    author_id: int
    created_on: date
    summary: str
    text: str
    reported_comments: int
    status: str
    supports: int
    is_association: bool


@dataclass(frozen=True)
class DecideMadridComment:
    """One row of ``decide-madrid-2019/comments.csv``.

    Attributes:
        comment_id: ``id``.
        proposal_id: ``proposalId`` (always a proposal of ``proposals.csv``).
        parent_id: ``parentId``, ``None`` for a top-level comment (``-1``). For an orphan
            it names a comment that is not in the file.
        page: ``page`` of the proposal's comment list it was scraped from.
        author_id: ``userId``.
        author_type: ``userType`` (``Autor``, ``Colectivo``, ``Empleados públicos``) or
            ``None``.
        created_at: ``date`` + ``time`` read as Madrid local time, converted to UTC.
        text: ``text`` as written (may be empty).
        votes, positive_votes, negative_votes: ``numVotes``, ``numPositiveVotes``,
            ``numNegativeVotes`` as scraped.
    """

    comment_id: int
    proposal_id: int
    parent_id: int | None
    page: int
    author_id: int
    author_type: str | None
    created_at: datetime
    text: str
    votes: int
    positive_votes: int
    negative_votes: int


@dataclass(frozen=True)
class DecideMadridDataset:
    """The decide-madrid-2019 scrape.

    Attributes:
        proposals: in file order.
        comments: in file order (in the shared file a reply always comes after its parent).
        orphan_ids: ids of replies whose parent is not in ``comments.csv``, in file order.
    """

    proposals: tuple[DecideMadridProposal, ...]
    comments: tuple[DecideMadridComment, ...]
    orphan_ids: tuple[int, ...]

    def comments_by_proposal(self) -> Mapping[int, tuple[DecideMadridComment, ...]]:
        """Return each proposal's comments in file order (every proposal id is a key)."""
        grouped: dict[int, list[DecideMadridComment]] = {p.proposal_id: [] for p in self.proposals}
        for comment in self.comments:
            grouped[comment.proposal_id].append(comment)
        return MappingProxyType({key: tuple(value) for key, value in grouped.items()})


def _madrid_datetime(record: CsvRecord) -> datetime:
    day = _date_iso(record, "date")
    raw = record.text("time")
    match = _PANDAS_TIMEDELTA.fullmatch(raw.strip())
    if match is None:
        raise record.error("time", f"expected a time like '0 days 10:50:19', got {shown(raw)}")
    days, hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise record.error("time", f"not a time of day: {shown(raw)}")
    offset = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    local = datetime.combine(day, datetime.min.time(), tzinfo=MADRID) + offset
    return local.astimezone(UTC)


def _flag(record: CsvRecord, column: str) -> bool:
    return record.integer(column, allowed=(0, 1)) == 1


def _parse_madrid_proposals(path: Path) -> dict[int, DecideMadridProposal]:
    table = read_csv(
        path,
        required=(
            "id",
            "url",
            "code",
            "title",
            "userId",
            "date",
            "summary",
            "text",
            "numComments",
            "status",
            "numSupports",
            "isAssociation",
        ),
    )
    proposals: dict[int, DecideMadridProposal] = {}
    for record in table.records:
        proposal_id = record.integer("id")
        if proposal_id in proposals:
            raise record.error("id", f"proposal {proposal_id} appears twice")
        proposals[proposal_id] = DecideMadridProposal(
            proposal_id=proposal_id,
            url=record.text("url"),
            code=record.text("code"),
            title=record.text("title"),
            author_id=record.integer("userId"),
            created_on=_date_iso(record, "date"),
            summary=record.text("summary"),
            text=record.text("text"),
            reported_comments=record.integer("numComments"),
            status=record.text("status"),
            supports=record.integer("numSupports"),
            is_association=_flag(record, "isAssociation"),
        )
    return proposals


def _parse_madrid_comments(
    path: Path, proposals: Mapping[int, DecideMadridProposal]
) -> tuple[tuple[DecideMadridComment, ...], tuple[int, ...]]:
    table = read_csv(
        path,
        required=(
            "id",
            "parentId",
            "proposalId",
            "page",
            "userId",
            "userType",
            "date",
            "time",
            "text",
            "numVotes",
            "numPositiveVotes",
            "numNegativeVotes",
        ),
    )
    comments: dict[int, DecideMadridComment] = {}
    lines: dict[int, CsvRecord] = {}
    for record in table.records:
        comment_id = record.integer("id")
        if comment_id in comments:
            raise record.error("id", f"comment {comment_id} appears twice")
        proposal_id = record.integer("proposalId")
        if proposal_id not in proposals:
            raise record.error("proposalId", f"proposal {proposal_id} is not in proposals.csv")
        parent = record.integer("parentId")
        comments[comment_id] = DecideMadridComment(
            comment_id=comment_id,
            proposal_id=proposal_id,
            parent_id=None if parent == -1 else parent,
            page=record.integer("page"),
            author_id=record.integer("userId"),
            author_type=record.optional_text("userType"),
            created_at=_madrid_datetime(record),
            text=record.text("text"),
            votes=record.integer("numVotes"),
            positive_votes=record.integer("numPositiveVotes"),
            negative_votes=record.integer("numNegativeVotes"),
        )
        lines[comment_id] = record
    orphans: list[int] = []
    for comment in comments.values():
        if comment.parent_id is None:
            continue
        parent_comment = comments.get(comment.parent_id)
        if parent_comment is None:
            orphans.append(comment.comment_id)
        elif parent_comment.proposal_id != comment.proposal_id:
            raise lines[comment.comment_id].error(
                "parentId",
                f"parent comment {comment.parent_id} belongs to proposal "
                f"{parent_comment.proposal_id}, not {comment.proposal_id}",
            )
    return tuple(comments.values()), tuple(orphans)


def parse_decide_madrid(folder: Path) -> DecideMadridDataset:
    """Parse the decide-madrid-2019 scrape (``proposals.csv`` + ``comments.csv``).

    Args:
        folder: the folder holding both files (UTF-8, ``,``-separated; the unnamed first
            column, a pandas index, is ignored).

    Returns:
        Proposals, comments and the ids of orphan replies (kept, with their ``parent_id``
        as written).

    Raises:
        ValidationError: a file is missing, not UTF-8 or an HTML page; a column is
            missing; an id repeats; a number, date or time is malformed; a comment names a
            proposal not in ``proposals.csv``, or a parent comment of another proposal.
            The message names the file, line and column; ``field`` is the column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"{folder}: not a folder", field="folder")
    proposals = _parse_madrid_proposals(folder / "proposals.csv")
    comments, orphans = _parse_madrid_comments(folder / "comments.csv", proposals)
    return DecideMadridDataset(
        proposals=tuple(proposals.values()), comments=comments, orphan_ids=orphans
    )


__all__ = [
    "MADRID",
    "ConsulProposal",
    "DecideMadridComment",
    "DecideMadridDataset",
    "DecideMadridProposal",
    "html_to_text",
    "parse_consul_proposals",
    "parse_decide_madrid",
]
