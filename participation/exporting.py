"""Export a consultation: as a Pabulib file, or as open data (CSV / XLSX).

:func:`export_pb` writes a ``budget`` consultation in the Pabulib format
(:func:`participation.importers.pabulib.write_pb`). For a consultation imported from a
Pabulib file it writes that file back: META, column order, project columns, voter ids and
voter columns as imported (``method_params["pabulib_meta"]`` and ``["pabulib_file"]``,
see :mod:`participation.importing`), with ``votes`` recounted from the stored ballots.
Approval and cumulative votes are written in PROJECTS order (their order carries no
meaning in the format; ordinal votes keep the ranking order), so ``parse_pb`` of the
export equals the original instance up to that order. For a consultation created in
CivicFlow it writes a fresh file (``voter_id`` = ballot id, ``selected`` from the tally).

:func:`export_open_data` writes ``proposals``, ``ballots`` and ``comments`` tables with
:mod:`participation.exports` (CSV: UTF-8 with BOM, formula neutralisation; or XLSX).
They are pseudonymous and carry no contact data: a ballot is named by
``SHA-256(receipt code)`` cut to 16 hex digits (its voter, who holds the receipt code, can
find it; nobody else can link it to a person), a comment's author by ``SHA-256(slug :
citizen public id)`` cut to 16 hex digits (stable within one consultation, unlinkable
across consultations). Hidden (moderated) comments are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from models import Ballot, BallotChoice, Citizen, Comment, Consultation, Proposal
from participation.consultations import get_consultation
from participation.exports import Cell, write_csv, write_xlsx
from participation.importers.pabulib import PbInstance, PbProject, PbVoter, write_pb
from participation.importing import VOTING_METHOD_CHANNELS

OpenDataFormat = Literal["csv", "xlsx"]

PROPOSALS_HEADER = ("proposal", "title", "body", "cost", "category", "status", "ballots",
                    "points", "selected", "answer", "answered_at", "created_at")
BALLOTS_HEADER = ("ballot", "channel", "cast_at", "proposal", "value")
COMMENTS_HEADER = ("comment", "proposal", "parent", "author", "created_at", "stance",
                   "channel", "body")
_STREAM = 5000
VOTING_METHOD_CHANNELS_BACK = {v: k for k, v in VOTING_METHOD_CHANNELS.items()}
"""Ballot channel → Pabulib ``voting_method`` (web → internet, letter → paper)."""


def _pseudonym(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _proposal_rows(session: Session, c: Consultation) -> list[Any]:
    counts = (select(BallotChoice.proposal_id, func.count().label("n"),
                     func.sum(BallotChoice.value).label("s"))
              .where(BallotChoice.consultation_id == c.id)
              .group_by(BallotChoice.proposal_id).subquery())
    return list(session.execute(
        select(Proposal.id, Proposal.external_ref, Proposal.title, Proposal.body, Proposal.cost,
               Proposal.category, Proposal.status, Proposal.answer, Proposal.answered_at,
               Proposal.created_at, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.s, 0))
        .outerjoin(counts, counts.c.proposal_id == Proposal.id)
        .where(Proposal.consultation_id == c.id).order_by(Proposal.id)
    ))


# --- Pabulib ------------------------------------------------------------------------------


def _generated_meta(c: Consultation, n_projects: int, n_voters: int) -> dict[str, str]:
    params = c.method_params
    zone = ZoneInfo(c.time_zone)
    last_day = (c.closes_at - timedelta(seconds=1)).astimezone(zone).date()
    meta = {"description": c.title, "num_projects": str(n_projects), "num_votes": str(n_voters),
            "budget": str(params["budget"]), "vote_type": str(params.get("vote_type", "approval")),
            "rule": str(params.get("rule") or "greedy"),
            "date_begin": f"{c.opens_at.astimezone(zone):%d.%m.%Y}",
            "date_end": f"{last_day:%d.%m.%Y}"}
    for key, param in (("min_length", "min_choices"), ("max_length", "max_choices"),
                       ("max_points", "max_points"), ("min_sum_points", "min_sum_points"),
                       ("max_sum_points", "max_sum_points")):
        if params.get(param):
            meta[key] = str(params[param])
    if c.district:
        meta["district"] = c.district
    return meta


def _voter_rows(session: Session, c: Consultation) -> list[Any]:
    return list(session.execute(
        select(Ballot.id, Citizen.external_ref, Citizen.birth_year, Citizen.gender,
               Citizen.district, Ballot.channel)
        .join(Citizen, Citizen.id == Ballot.citizen_id)
        .where(Ballot.consultation_id == c.id).order_by(Ballot.id)
    ))


def _choices_by_ballot(session: Session, c: Consultation, ordinal: bool,
                       ref_of: dict[int, str]) -> dict[int, list[tuple[str, int]]]:
    order = (BallotChoice.ballot_id, BallotChoice.value if ordinal else BallotChoice.proposal_id)
    out: dict[int, list[tuple[str, int]]] = {}
    rows = session.execute(
        select(BallotChoice.ballot_id, BallotChoice.proposal_id, BallotChoice.value)
        .where(BallotChoice.consultation_id == c.id).order_by(*order)
    )
    for bid, pid, value in rows:
        out.setdefault(bid, []).append((ref_of[pid], int(value)))
    return out


def export_pb(session: Session, consultation_id: int) -> str:
    """Write a ``budget`` consultation as Pabulib text (see the module docstring).

    Args:
        session: a session (read only).
        consultation_id: the consultation's id.
    Returns:
        the file's text (UTF-8-ready, LF, ``;``-separated), to write with
        ``Path.write_text(text, encoding="utf-8")``.
    Raises:
        NotFound: no such consultation. ValidationError: field ``consultation``: its
        method is not ``budget``.
    """
    c = get_consultation(session, ref=consultation_id)
    if c.method != "budget":
        raise ValidationError(f"only budget consultations can be written as Pabulib (this one "
                              f"is {c.method})", field="consultation")
    params = c.method_params
    spec: dict[str, Any] = params.get("pabulib_file") or {}
    proposals = _proposal_rows(session, c)
    ref_of = {r[0]: r[1] for r in proposals}
    voters_db = _voter_rows(session, c)
    meta = dict(params.get("pabulib_meta") or _generated_meta(c, len(proposals), len(voters_db)))
    vote_type = meta.get("vote_type", "approval")
    ordinal = vote_type == "ordinal"
    result = c.result or {}
    selected = dict.fromkeys(result.get("selected", []), 1)
    selected.update(dict.fromkeys(result.get("later_round", []), 2))

    if spec:
        project_columns = tuple(spec["project_columns"])
        voter_columns = tuple(spec["voter_columns"])
    else:
        project_columns = ("project_id", "cost", "votes", "name")
        if any(r[5] for r in proposals):
            project_columns += ("category",)
        if result:
            project_columns += ("selected",)
        voter_columns = ("voter_id", "vote") + (("points",) if vote_type == "cumulative" else ())
    projects = []
    for _pid, ref, title, _body, cost, category, *_rest, n, _points in proposals:
        kept = (spec.get("projects") or {}).get(ref, {})
        extra = dict(kept.get("extra") or {})
        if not spec and category:
            extra["category"] = category
        projects.append(PbProject(
            project_id=ref, cost=int(cost or 0),
            votes=int(n) if "votes" in project_columns else None,
            score=kept.get("score"),
            selected=kept.get("selected") if spec else selected.get(ref, 0) if result else None,
            name=(kept.get("name") or title) if "name" in project_columns else None,
            extra=extra,
        ))

    choices = _choices_by_ballot(session, c, ordinal, ref_of)
    lengths = [len(choices.get(row[0], ())) for row in voters_db]
    top = int(meta.get("max_length") or max(lengths, default=0))
    age_year = spec.get("age_year")
    sex_codes: dict[str, str] = spec.get("sex_codes") or {}
    leftover: dict[str, dict[str, str]] = spec.get("voter_extra") or {}
    columns = [col for col in voter_columns if col not in ("voter_id", "vote", "points")]
    voters = []
    for bid, ext_ref, birth_year, gender, district, channel in voters_db:
        parts = (ext_ref or "").split(":", 2)
        voter_id = parts[2] if spec and len(parts) == 3 else str(bid)
        chosen = choices.get(bid, [])
        points: tuple[int, ...] | None = None
        if "points" in voter_columns:
            points = (tuple(top - (v - 1) for _, v in chosen) if ordinal
                      else tuple(v for _, v in chosen))
        kept_cells = leftover.get(voter_id, {})
        cells: dict[str, str] = {}
        for col in columns:
            if col in kept_cells:
                cells[col] = kept_cells[col]
            elif col == "sex":
                cells[col] = sex_codes.get(gender or "", "")
            elif col == "age":
                cells[col] = str(age_year - birth_year) if age_year and birth_year else ""
            elif col == "voting_method":
                cells[col] = VOTING_METHOD_CHANNELS_BACK.get(channel, "")
            elif col == "district":
                cells[col] = district or ""
            else:
                cells[col] = ""
        voters.append(PbVoter(voter_id=voter_id, vote=tuple(r for r, _ in chosen), points=points,
                              extra=cells))
    return write_pb(PbInstance(meta=meta, projects=tuple(projects), voters=tuple(voters),
                               project_columns=project_columns, voter_columns=voter_columns))


# --- open data ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenDataExport:
    """Files written by :func:`export_open_data`.

    Attributes:
        files: table name (``proposals``, ``ballots``, ``comments``) → path written.
        rows: table name → data rows written (``ballots`` has one row per choice, plus one
            per ballot without any choice).
    """

    files: dict[str, Path]
    rows: dict[str, int]


def _ballot_cells(session: Session, c: Consultation) -> Iterator[list[Cell]]:
    refs = dict(session.execute(
        select(Proposal.id, Proposal.external_ref).where(Proposal.consultation_id == c.id)
    ).all())
    rows = session.execute(
        select(Ballot.receipt_code, Ballot.channel, Ballot.cast_at, BallotChoice.proposal_id,
               BallotChoice.value)
        .outerjoin(BallotChoice, BallotChoice.ballot_id == Ballot.id)
        .where(Ballot.consultation_id == c.id)
        .order_by(Ballot.id, BallotChoice.value, BallotChoice.proposal_id)
        .execution_options(yield_per=_STREAM)
    )
    for code, channel, cast_at, pid, value in rows:
        yield [_pseudonym(code), channel, cast_at, refs.get(pid) if pid is not None else None,
               value]


def _comment_cells(session: Session, c: Consultation) -> Iterator[list[Cell]]:
    refs = dict(session.execute(
        select(Proposal.id, Proposal.external_ref).where(Proposal.consultation_id == c.id)
    ).all())
    rows = session.execute(
        select(Comment.id, Comment.proposal_id, Comment.parent_id, Citizen.public_id,
               Comment.created_at, Comment.stance, Comment.channel, Comment.body)
        .outerjoin(Citizen, Citizen.id == Comment.citizen_id)
        .where(Comment.consultation_id == c.id, Comment.moderation_state == "visible")
        .order_by(Comment.id).execution_options(yield_per=_STREAM)
    )
    for cid, pid, parent, public_id, created_at, stance, channel, body in rows:
        author = _pseudonym(f"{c.slug}:{public_id}") if public_id else None
        yield [cid, refs.get(pid) if pid is not None else None, parent, author, created_at,
               stance, channel, body]


def export_open_data(
    session: Session, consultation_id: int, out_dir: Path | str, fmt: OpenDataFormat = "csv"
) -> OpenDataExport:
    """Write a consultation's open data: ``proposals``, ``ballots`` and ``comments`` tables.

    Columns: ``proposals`` — :data:`PROPOSALS_HEADER` (``ballots`` = ballots naming the
    proposal, ``points`` = sum of their values, ``selected`` from the stored tally, empty
    before it); ``ballots`` — :data:`BALLOTS_HEADER` (pseudonymous ballot id, channel,
    cast_at UTC, proposal external ref, value); ``comments`` — :data:`COMMENTS_HEADER`
    (visible comments only, pseudonymous author). Pseudonyms: see the module docstring.

    Args:
        session: a session (read only).
        consultation_id: the consultation's id.
        out_dir: folder to write into (created if missing); files ``<table>.csv`` or
            ``<table>.xlsx`` are replaced.
        fmt: ``csv`` (UTF-8 with BOM, CRLF) or ``xlsx``.
    Returns:
        :class:`OpenDataExport` with the paths and row counts.
    Raises:
        NotFound: no such consultation. ValidationError: field ``format``: not csv/xlsx;
        or a cell the writers refuse.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValidationError(f"{fmt!r} is not csv or xlsx", field="format")
    c = get_consultation(session, ref=consultation_id)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    result = c.result or {}
    chosen = set(result.get("selected", [])) if "selected" in result else None

    proposal_cells: list[list[Cell]] = []
    for (_pid, ref, title, body, cost, category, status, answer, answered_at, created_at, n,
         points) in _proposal_rows(session, c):
        proposal_cells.append([ref, title, body, cost, category, status, int(n), int(points),
                               (ref in chosen) if chosen is not None else None, answer,
                               answered_at, created_at])
    tables: dict[str, tuple[tuple[str, ...], Any]] = {
        "proposals": (PROPOSALS_HEADER, proposal_cells),
        "ballots": (BALLOTS_HEADER, _ballot_cells(session, c)),
        "comments": (COMMENTS_HEADER, _comment_cells(session, c)),
    }
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    for name, (header, cells) in tables.items():
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            rows[name] = write_csv(path, header, cells)
        else:
            rows[name] = write_xlsx(path, header, cells, sheet_name=name)
        files[name] = path
    return OpenDataExport(files=files, rows=rows)


__all__ = ["OpenDataExport", "export_open_data", "export_pb"]
