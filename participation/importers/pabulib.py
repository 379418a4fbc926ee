"""Reader and writer of Pabulib ``.pb`` participatory-budgeting files.

The format is described in Faliszewski et al., "Participatory Budgeting: Data, Tools,
and Analysis" (IJCAI 2023, arXiv:2305.11035) and at pabulib.org/format. A file has three
sections, each introduced by a line holding only its name and then a header line:

``META``
    ``key;value`` rows (``budget``, ``vote_type``, ``rule``, ``comment``, ...).
``PROJECTS``
    one row per project; ``project_id`` and ``cost`` are required, ``votes``, ``score``,
    ``selected`` and ``name`` are common, any other column is kept as text.
``VOTES``
    one row per voter; ``voter_id`` and ``vote`` are required. ``vote`` is a comma list of
    project ids (its order matters for ordinal ballots); cumulative and scoring ballots add
    a parallel comma list ``points``. Other columns (``age``, ``sex``, ``voting_method``,
    ``district``, ...) are kept as text per voter.

Cells are ``;``-separated with csv-module quoting (a project name may hold ``""``).
This module is pure: it reads and writes text and never touches a database.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ValidationError

SECTIONS = ("META", "PROJECTS", "VOTES")
"""The three sections of a Pabulib file, in the order they must appear."""

VOTE_TYPES = ("approval", "choose-1", "cumulative", "scoring", "ordinal")
"""Ballot types the Pabulib format defines."""

_POINTS_VOTE_TYPES = ("cumulative", "scoring")
_INT_PROJECT_COLUMNS = ("cost", "votes", "score", "selected")
_SECTION_LIKE = re.compile(r"[A-Z][A-Z_ ]*")
_INT = re.compile(r"[+-]?\d+")
_MISSING = ("", "none")


@dataclass(frozen=True)
class PbProject:
    """One row of the PROJECTS section.

    Attributes:
        project_id: the id as written in the file (kept as text: ``"L17/01/VII"``, ``"I.9"``).
        cost: cost in currency units of the file (PLN, EUR, ...).
        votes: the ``votes`` column (number of supporters the city counted), if present.
        score: the ``score`` column (points or Borda-like score the city counted), if present.
        selected: the ``selected`` column (0 = not funded, 1 = funded, 2 = funded in a later
            round, see META ``comment``), if present.
        name: the ``name`` column, if present.
        extra: every other column, by header name, as text.
    """

    project_id: str
    cost: int
    votes: int | None = None
    score: int | None = None
    selected: int | None = None
    name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PbVoter:
    """One row of the VOTES section.

    Attributes:
        voter_id: the id as written in the file.
        vote: project ids in the order written (the order is the ranking for ordinal votes).
        points: points given to each project of ``vote`` (same length), or ``None`` when the
            file has no ``points`` column.
        extra: every other column (``age``, ``sex``, ``voting_method``, ``district``, ...),
            by header name, as text.
    """

    voter_id: str
    vote: tuple[str, ...]
    points: tuple[int, ...] | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PbInstance:
    """A parsed Pabulib file.

    Attributes:
        meta: the META section, key to value, both text, in file order.
        projects: the PROJECTS rows in file order.
        voters: the VOTES rows in file order.
        project_columns: the PROJECTS header (kept so that a written file has the same columns).
        voter_columns: the VOTES header.
        source: file name used in error messages; not part of equality.
    """

    meta: dict[str, str]
    projects: tuple[PbProject, ...]
    voters: tuple[PbVoter, ...]
    project_columns: tuple[str, ...] = ("project_id", "cost")
    voter_columns: tuple[str, ...] = ("voter_id", "vote")
    source: str = field(default="<string>", compare=False)

    @property
    def budget(self) -> int:
        """The META ``budget``, in currency units."""
        return int(self.meta["budget"])

    @property
    def vote_type(self) -> str:
        """The META ``vote_type`` (one of :data:`VOTE_TYPES`)."""
        return self.meta["vote_type"]

    @property
    def rule(self) -> str:
        """The META ``rule`` the city used (``greedy``, ``equalshares/add1``, ...), or ``""``."""
        return self.meta.get("rule", "")

    def project(self, project_id: str) -> PbProject:
        """Return the project with this id.

        Raises:
            KeyError: no project has this id.
        """
        for p in self.projects:
            if p.project_id == project_id:
                return p
        raise KeyError(project_id)


class _Refusal:
    """Builds ValidationErrors whose message names the file, the line and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, line: int | None, fieldname: str, detail: str) -> ValidationError:
        where = self.source if line is None else f"{self.source} line {line}"
        return ValidationError(f"{where}, field {fieldname}: {detail}", field=fieldname)


def _read_source(path_or_text: str | bytes | os.PathLike[str]) -> tuple[str, bytes | str]:
    """Return (source name, raw content) for a path, a text or bytes."""
    if isinstance(path_or_text, bytes):
        return "<bytes>", path_or_text
    if isinstance(path_or_text, os.PathLike):
        path = Path(path_or_text)
        return path.name, path.read_bytes()
    if "\n" in path_or_text or "\r" in path_or_text:
        return "<string>", path_or_text
    path = Path(path_or_text)
    return path.name, path.read_bytes()


def _decode(source: str, raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _Refusal(source)(
            line,
            "encoding",
            f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8 "
            "(Pabulib files are UTF-8)",
        ) from exc


def _to_int(text: str, refuse: _Refusal, line: int, fieldname: str) -> int:
    if not _INT.fullmatch(text):
        raise refuse(line, fieldname, f"{text!r} is not a number")
    return int(text)


def _optional_int(text: str, refuse: _Refusal, line: int, fieldname: str) -> int | None:
    if text.lower() in _MISSING:
        return None
    return _to_int(text, refuse, line, fieldname)


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number of the row's last physical line, stripped cells), skipping blanks."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        yield reader.line_num, cells


def _check_not_html(text: str, refuse: _Refusal) -> None:
    head = text.lstrip()[:200].lower()
    if head.startswith("<"):
        raise refuse(1, "file", "looks like an HTML page, not a Pabulib file")


def _fit(cells: list[str], header: tuple[str, ...], refuse: _Refusal, line: int) -> list[str]:
    """Check that a row has as many cells as the header (trailing empty cells are tolerated)."""
    while len(cells) > len(header) and cells[-1] == "":
        cells = cells[:-1]
    if len(cells) != len(header):
        missing = header[len(cells)] if len(cells) < len(header) else "row"
        raise refuse(line, missing, f"{len(cells)} cells where the header has {len(header)}")
    return cells


def _parse_project(
    cells: list[str], header: tuple[str, ...], refuse: _Refusal, line: int
) -> PbProject:
    row = dict(zip(header, _fit(cells, header, refuse, line), strict=True))
    pid = row["project_id"]
    if not pid:
        raise refuse(line, "project_id", "empty project id")
    ints = {
        col: _optional_int(row[col], refuse, line, col)
        for col in _INT_PROJECT_COLUMNS
        if col in row
    }
    cost = ints.get("cost")
    if cost is None:
        raise refuse(line, "cost", f"{row['cost']!r} is not a number")
    if cost < 0:
        raise refuse(line, "cost", f"{cost} is negative")
    extra = {k: v for k, v in row.items() if k not in (*_INT_PROJECT_COLUMNS, "project_id", "name")}
    return PbProject(
        project_id=pid,
        cost=cost,
        votes=ints.get("votes"),
        score=ints.get("score"),
        selected=ints.get("selected"),
        name=row.get("name"),
        extra=extra,
    )


def _split_list(text: str) -> list[str]:
    return [] if text.lower() in _MISSING else [x.strip() for x in text.split(",")]


def _parse_voter(
    cells: list[str],
    header: tuple[str, ...],
    project_ids: set[str],
    vote_type: str,
    refuse: _Refusal,
    line: int,
) -> PbVoter:
    row = dict(zip(header, _fit(cells, header, refuse, line), strict=True))
    vid = row["voter_id"]
    vote = _split_list(row["vote"])
    for pid in vote:
        if pid not in project_ids:
            raise refuse(line, "vote", f"project {pid!r} is not in the PROJECTS section")
    if len(set(vote)) != len(vote):
        raise refuse(line, "vote", f"a project is listed twice in {row['vote']!r}")
    points: tuple[int, ...] | None = None
    if "points" in row:
        raw_points = _split_list(row["points"])
        points = tuple(_to_int(p, refuse, line, "points") for p in raw_points)
        if len(points) != len(vote):
            raise refuse(
                line, "points", f"{len(points)} points for {len(vote)} projects in the vote"
            )
    elif vote_type in _POINTS_VOTE_TYPES:
        raise refuse(line, "points", f"a {vote_type} file needs a points column")
    extra = {k: v for k, v in row.items() if k not in ("voter_id", "vote", "points")}
    return PbVoter(voter_id=vid, vote=tuple(vote), points=points, extra=extra)


def _check_meta(meta: dict[str, str], meta_lines: dict[str, int], refuse: _Refusal) -> None:
    for key in ("budget", "vote_type"):
        if key not in meta:
            raise refuse(None, key, f"META has no {key!r} key")
    _to_int(meta["budget"], refuse, meta_lines["budget"], "budget")
    if meta["vote_type"] not in VOTE_TYPES:
        raise refuse(
            meta_lines["vote_type"],
            "vote_type",
            f"{meta['vote_type']!r} is not one of {', '.join(VOTE_TYPES)}",
        )


def _check_header(
    header: tuple[str, ...], required: tuple[str, ...], section: str, refuse: _Refusal, line: int
) -> None:
    for col in required:
        if col not in header:
            raise refuse(line, col, f"the {section} header has no {col!r} column")
    if len(set(header)) != len(header):
        raise refuse(line, section, f"the {section} header repeats a column")


def parse_pb(path_or_text: str | bytes | os.PathLike[str]) -> PbInstance:
    """Parse a Pabulib ``.pb`` file.

    Args:
        path_or_text: a path (``Path``, or a ``str`` without line breaks), the file's text
            (a ``str`` with line breaks) or its raw bytes (UTF-8, a BOM is allowed).

    Returns:
        The parsed instance: META as text, projects and voters in file order, vote lists in
        the order written. Costs, budget, votes, score, selected and points are ``int``.

    Raises:
        ValidationError: malformed input. The message names the file, the line and the
            field, e.g. ``poland_x.pb line 57, field cost: 'abc' is not a number``; ``field``
            is set to the column (or ``encoding``, ``file``, a section name). Refused: bytes
            that are not UTF-8, an HTML page, a missing, repeated, misplaced or unknown
            section, a row whose cell count differs from its header, a missing required
            column (``project_id``, ``cost``, ``voter_id``, ``vote``) or META key
            (``budget``, ``vote_type``), a non-integer number, a negative cost, a duplicate
            project or voter id, a vote naming an unknown project or one project twice,
            points whose count differs from the vote's.
        OSError: the path cannot be read.
    """
    source, raw = _read_source(path_or_text)
    refuse = _Refusal(source)
    text = _decode(source, raw)
    _check_not_html(text, refuse)

    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    projects: list[PbProject] = []
    project_ids: set[str] = set()
    voters: list[PbVoter] = []
    voter_ids: set[str] = set()
    project_columns: tuple[str, ...] = ()
    voter_columns: tuple[str, ...] = ()
    section: str | None = None
    header: tuple[str, ...] | None = None
    seen: list[str] = []
    last_line = 0

    for line, cells in _rows(text):
        last_line = line
        if len(cells) == 1:
            word = cells[0]
            if word.upper() in SECTIONS:
                expected = SECTIONS[len(seen)] if len(seen) < len(SECTIONS) else None
                if word.upper() != expected:
                    raise refuse(
                        line, "section", f"section {word} out of order (expected {expected})"
                    )
                section, header = word.upper(), None
                seen.append(section)
                continue
            if _SECTION_LIKE.fullmatch(word) and (header is None or len(header) != 1):
                raise refuse(
                    line, "section", f"unknown section {word!r} (expected META, PROJECTS, VOTES)"
                )
        if section is None:
            raise refuse(line, "section", f"expected the line META, found {';'.join(cells)!r}")
        if header is None:
            header = tuple(cells)
            if section == "PROJECTS":
                _check_meta(meta, meta_lines, refuse)
                _check_header(header, ("project_id", "cost"), section, refuse, line)
                project_columns = header
            elif section == "VOTES":
                _check_header(header, ("voter_id", "vote"), section, refuse, line)
                voter_columns = header
            continue
        if section == "META":
            key = cells[0]
            if not key:
                raise refuse(line, "key", "empty META key")
            values = cells[1:]
            while values and values[-1] == "":
                values.pop()
            # A value holding an unquoted ';' is split by the reader; join it back.
            meta[key] = ";".join(values)
            meta_lines[key] = line
        elif section == "PROJECTS":
            project = _parse_project(cells, header, refuse, line)
            if project.project_id in project_ids:
                raise refuse(line, "project_id", f"project {project.project_id!r} appears twice")
            project_ids.add(project.project_id)
            projects.append(project)
        else:
            voter = _parse_voter(cells, header, project_ids, meta["vote_type"], refuse, line)
            if voter.voter_id in voter_ids:
                raise refuse(line, "voter_id", f"voter {voter.voter_id!r} appears twice")
            voter_ids.add(voter.voter_id)
            voters.append(voter)

    for name in SECTIONS:
        if name not in seen:
            raise refuse(last_line, name, f"missing section {name} (end of file reached)")
    if header is None:
        raise refuse(last_line, "VOTES", "the VOTES section has no header line")
    # META states the counts (Pabulib format, pabulib.org/format): a file that holds fewer
    # rows was cut short in transit, more rows means a wrong header; either way, refuse
    for key, held in (("num_projects", len(projects)), ("num_votes", len(voters))):
        stated = meta.get(key, "").strip()
        if stated.isdigit() and int(stated) != held:
            raise refuse(meta_lines.get(key, last_line), key,
                         f"META says {stated} but the file holds {held} (cut short?)")
    return PbInstance(
        meta=meta,
        projects=tuple(projects),
        voters=tuple(voters),
        project_columns=project_columns,
        voter_columns=voter_columns,
        source=source,
    )


def _project_cell(project: PbProject, column: str) -> str:
    if column == "project_id":
        return project.project_id
    if column == "name":
        return project.name or ""
    if column in _INT_PROJECT_COLUMNS:
        value: int | None = getattr(project, column)
        return "" if value is None else str(value)
    return project.extra.get(column, "")


def _voter_cell(voter: PbVoter, column: str) -> str:
    if column == "voter_id":
        return voter.voter_id
    if column == "vote":
        return ",".join(voter.vote)
    if column == "points":
        return "" if voter.points is None else ",".join(str(p) for p in voter.points)
    return voter.extra.get(column, "")


def write_pb(instance: PbInstance) -> str:
    """Write an instance as Pabulib text, so that ``parse_pb(write_pb(x)) == x``.

    Args:
        instance: the instance; its ``project_columns`` and ``voter_columns`` give the
            columns written, in that order.

    Returns:
        The file's text: UTF-8-ready, LF line ends, ``;``-separated, csv-module quoting
        (a cell holding ``;``, ``"`` or a line break is quoted, inner quotes doubled).
        Missing optional numbers are written as empty cells.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key, value in instance.meta.items():
        writer.writerow([key, value])
    writer.writerow(["PROJECTS"])
    writer.writerow(instance.project_columns)
    for project in instance.projects:
        writer.writerow([_project_cell(project, c) for c in instance.project_columns])
    writer.writerow(["VOTES"])
    writer.writerow(instance.voter_columns)
    for voter in instance.voters:
        writer.writerow([_voter_cell(voter, c) for c in instance.voter_columns])
    return out.getvalue()
