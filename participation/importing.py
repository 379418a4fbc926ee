"""Import real participation data into the database: Pabulib files (here), Pol.is and CONSUL
exports (:mod:`participation.importing_forums`, re-exported).

Each import is one transaction owned by the caller (``with session_scope() as s:``): the
file is parsed completely before anything is written, rows are inserted in bulk, and any
error leaves nothing behind once the caller rolls back. A second import of the same bytes
is refused (:class:`core.errors.Conflict`) unless ``replace=True``.

Pabulib → CivicFlow (format: Faliszewski et al. 2023, arXiv:2305.11035, pabulib.org/format)

============================  ===============================================================
Pabulib                        stored as
============================  ===============================================================
the file                       one consultation, method ``budget``, status ``closed``
META ``budget``, ``vote_type`` ``method_params`` ``budget``, ``vote_type`` (``choose-1`` is
                               approval with ``max_choices`` 1; ``scoring`` is refused)
META ``rule``                  ``method_params.rule``
META ``min_length``/``max_…``  ``min_choices`` / ``max_choices``
META points limits             ``max_points``, ``min_sum_points``, ``max_sum_points``
the whole META                 ``method_params["pabulib_meta"]`` (text, as written)
date_begin / date_end          ``opens_at`` = 00:00 local time on date_begin; ``closes_at`` =
                               00:00 local time the day after date_end (the whole last day
                               counts); local time = the country's zone (Poland
                               Europe/Warsaw, France Europe/Paris, else UTC). Fallback when
                               absent or unreadable: 1 January of META ``instance`` to 1
                               January of the next year; with no year either, the 24 hours
                               before the import.
a project                      a proposal: ``external_ref`` = project_id, ``title`` = name
                               (``Project <id>`` when unnamed), ``cost``, ``category`` =
                               ``category``/``categories`` (cut to 120 characters)
a voter                        a pseudonymous citizen, ``external_ref`` =
                               ``pb:<first 8 hex of the file's SHA-256>:<voter_id>``, no
                               contact data; ``sex`` F/K → female, M → male; ``age`` →
                               ``birth_year`` = year voting began (date_begin; else
                               ``instance``) − age; ``district`` column → district
a vote                         one ballot (channel from ``voting_method``: internet → web,
                               paper → letter, else ``import``), cast at closes_at − 1 s
                               (the file gives no times), one ``ballot_choice`` per project
                               with value 1 (approval), the points (cumulative), or the
                               rank 1..n (ordinal, in the order written)
============================  ===============================================================

Everything else a file holds (column order, ``votes``/``score``/``selected``, other project
columns, the original sex codes, values that do not fit a citizen field) is kept in
``method_params["pabulib_file"]`` so that :func:`participation.exporting.export_pb` writes
the file back. Ballots are not checked against the stored limits (``enforce_budget`` is
false): they were cast under the city's own rules and are history, not input.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import ValidationError
from models import BallotChoice, Consultation, Proposal
from participation.audit import append_event
from participation.importers.common import content_digest
from participation.importers.pabulib import PbInstance, PbVoter, parse_pb
from participation.importing_base import (
    CitizenPool,
    ImportResult,
    Progress,
    PseudoCitizen,
    chunks,
    claim_digest,
    contact_row,
    ids_by_key,
    insert_ballots,
    insert_contacts,
    insert_rows,
    record_import,
    report,
    unique_slug,
)
from participation.importing_forums import import_consul, import_polis
from participation.schemas import MethodParams, ReminderPolicy, parse_input

COUNTRY_ZONES = {"Poland": "Europe/Warsaw", "France": "Europe/Paris",
                 "Netherlands": "Europe/Amsterdam", "Switzerland": "Europe/Zurich"}
"""Time zone of a Pabulib file by META ``country`` (others: UTC)."""

SEX_CODES = {"F": "female", "K": "female", "M": "male"}
"""Pabulib ``sex`` codes (K = kobieta, Polish for woman) → :attr:`Citizen.gender`."""

VOTING_METHOD_CHANNELS = {"internet": "web", "paper": "letter"}
"""Pabulib ``voting_method`` → ballot channel; any other value → ``import``."""

_MAPPED_VOTER_COLUMNS = ("sex", "age", "voting_method", "district")
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2})")
_INT = re.compile(r"\d+")

__all__ = ["ImportResult", "import_consul", "import_pabulib", "import_polis"]


def _meta_int(meta: dict[str, str], key: str) -> int | None:
    raw = meta.get(key, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if value.is_integer():
            return int(value)
        raise ValidationError(f"META {key} {raw!r} is not a whole number", field=key) from None


def _meta_date(meta: dict[str, str], key: str) -> date | None:
    m = _DATE.fullmatch(meta.get(key, "").strip())
    if m is None:
        return None
    d, mo, y = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(6), m.group(5),
                                                                       m.group(4))
    try:
        return date(int(y), int(mo), int(d))
    except ValueError:
        return None


def _window(meta: dict[str, str], zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """(opens_at, closes_at) in UTC, see the module docstring for the rule and fallbacks."""
    begin, end = _meta_date(meta, "date_begin"), _meta_date(meta, "date_end")
    if begin is not None and end is not None and end >= begin:
        opens = datetime.combine(begin, datetime.min.time(), tzinfo=zone)
        closes = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return opens.astimezone(UTC), closes.astimezone(UTC)
    year = _meta_int(meta, "instance") if (meta.get("instance") or "").isdigit() else None
    if year is not None and 1900 <= year <= 2100:
        return (datetime(year, 1, 1, tzinfo=zone).astimezone(UTC),
                datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC))
    return now - timedelta(days=1), now


def _method_params(pb: PbInstance) -> dict[str, Any]:
    """The validated ``method_params`` of a Pabulib file (without the kept extras)."""
    meta = pb.meta
    vote_type = pb.vote_type
    known: dict[str, Any] = {
        "budget": pb.budget,
        "rule": meta.get("rule") or None,
        "min_choices": _meta_int(meta, "min_length") or 0,
        "max_choices": _meta_int(meta, "max_length"),
        "max_points": _meta_int(meta, "max_points"),
        "min_sum_points": _meta_int(meta, "min_sum_points"),
        "max_sum_points": _meta_int(meta, "max_sum_points"),
        "enforce_budget": False,
        "currency": meta.get("currency") or None,
    }
    if vote_type == "choose-1":
        vote_type, known["max_choices"] = "approval", 1
    elif vote_type == "scoring":
        raise ValidationError(
            "scoring ballots (independent scores per project) are not a CivicFlow voting "
            "method; approval, choose-1, cumulative and ordinal files can be imported",
            field="vote_type",
        )
    known["vote_type"] = vote_type
    params = parse_input(MethodParams, {k: v for k, v in known.items() if v is not None})
    return params.model_dump(exclude_none=True)


class _VoterMapper:
    """Turns Pabulib voter columns into citizen fields and remembers what does not fit, so
    the export can write every cell back as it was."""

    def __init__(self, pb: PbInstance, age_year: int | None) -> None:
        self.age_year = age_year
        self.columns = [c for c in pb.voter_columns if c not in ("voter_id", "vote", "points")]
        # The first code seen for each gender is the one written back (F or K for women).
        self.sex_codes: dict[str, str] = {}
        self.leftover: dict[str, dict[str, str]] = {}

    def citizen(self, voter: PbVoter, ref: str) -> PseudoCitizen:
        extra = voter.extra
        left: dict[str, str] = {}
        gender = birth_year = district = None
        for column in self.columns:
            value = extra.get(column, "")
            if column == "sex" and value:
                gender = SEX_CODES.get(value.upper())
                # unknown codes, and a second code for the same gender, are kept verbatim
                if gender is None or self.sex_codes.setdefault(gender, value) != value:
                    left[column] = value
            elif column == "age" and value:
                birth_year = self._birth_year(value)
                if birth_year is None:
                    left[column] = value
            elif column == "district" and value:
                district = value if len(value) <= 120 else None
                if district is None:
                    left[column] = value
            elif column == "voting_method" and value:
                if value not in VOTING_METHOD_CHANNELS:
                    left[column] = value
            elif column not in _MAPPED_VOTER_COLUMNS and value:
                left[column] = value
        if left:
            self.leftover[voter.voter_id] = left
        return PseudoCitizen(external_ref=ref, display_name=f"Pabulib voter {voter.voter_id}",
                             district=district, birth_year=birth_year, gender=gender)

    def _birth_year(self, value: str) -> int | None:
        if self.age_year is None or not _INT.fullmatch(value) or str(int(value)) != value:
            return None
        year = self.age_year - int(value)
        return year if 1880 <= year <= 2100 else None

    @staticmethod
    def channel(voter: PbVoter) -> str:
        return VOTING_METHOD_CHANNELS.get(voter.extra.get("voting_method", ""), "import")


def _ordinal_points_positional(pb: PbInstance) -> bool:
    """Whether an ordinal file's ``points`` are the positional ``L - position`` (L = META
    ``max_length`` or the longest ballot), which the ranks stored in the database rebuild."""
    longest = max((len(v.vote) for v in pb.voters), default=0)
    top = _meta_int(pb.meta, "max_length") or longest
    return all(v.points == tuple(top - k for k in range(len(v.vote))) for v in pb.voters)


def _file_spec(pb: PbInstance, mapper: _VoterMapper, ordinal_points: bool) -> dict[str, Any]:
    """What ``method_params["pabulib_file"]`` keeps for the export (see the module doc)."""
    projects: dict[str, dict[str, Any]] = {}
    for p in pb.projects:
        entry: dict[str, Any] = {"votes": p.votes, "score": p.score, "selected": p.selected}
        if p.extra:
            entry["extra"] = dict(p.extra)
        if p.name is not None and len(p.name) > 500:
            entry["name"] = p.name
        projects[p.project_id] = entry
    return {
        "source": pb.source,
        "project_columns": list(pb.project_columns),
        "voter_columns": list(pb.voter_columns),
        "projects": projects,
        "age_year": mapper.age_year,
        "sex_codes": mapper.sex_codes,
        "voting_method_codes": {v: k for k, v in VOTING_METHOD_CHANNELS.items()},
        "ordinal_points": ordinal_points,
        "voter_extra": mapper.leftover,
    }


def import_pabulib(
    session: Session,
    *,
    path: Path | str,
    actor: Actor,
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one Pabulib ``.pb`` file as a closed budget consultation with its ballots.

    The mapping is described in the module docstring. Citizens, ballots, choices and
    ledger entries are inserted in bulk (chunks of 2000 voters); one audit event
    (``consultation.import``) covers the whole import, and an :class:`ImportRecord` keeps
    the file's SHA-256 so a second import of the same bytes is refused.

    Args:
        session: the caller's session (the caller commits or rolls back).
        path: the ``.pb`` file.
        actor: an organizer, admin or the system.
        replace: if the same bytes were imported before, delete that consultation (and
            its pseudonymous citizens) first, in this transaction, instead of refusing.
        progress: optional ``progress(done, total)`` called after each chunk of voters.
    Returns:
        :class:`ImportResult` (slug ``pb-<file name>``, e.g. ``pb-poland-wieliczka-2023``,
        with ``-2``, ``-3``, ... when taken).
    Raises:
        ValidationError: no such file; the file is not valid Pabulib (message names the
            line and field); a META number is not whole; ``scoring`` ballots; an ordinal
            file whose points are not positional; a budget not above 0.
        Conflict: the same bytes were imported before and ``replace`` is false.
        NotAllowed: the actor is not an organizer.
    """
    actor.require_staff("organizer")
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"{file}: no such file", field="path")
    pb = parse_pb(file)
    params = _method_params(pb)
    ordinal = pb.vote_type == "ordinal"
    ordinal_points = ordinal and "points" in pb.voter_columns
    if ordinal_points and not _ordinal_points_positional(pb):
        raise ValidationError(
            f"{pb.source}: ordinal points that are not positional (max_length − position) "
            "cannot be stored as ranks", field="points")
    digest = content_digest(file)
    prefix = f"pb:{digest[:8]}:"
    now = clock.now()
    meta = pb.meta
    zone_name = COUNTRY_ZONES.get(meta.get("country", ""), "UTC")
    opens_at, closes_at = _window(meta, ZoneInfo(zone_name), now)
    begin = _meta_date(meta, "date_begin")
    instance = meta.get("instance", "")
    age_year = begin.year if begin else (int(instance) if instance.isdigit() else None)
    mapper = _VoterMapper(pb, age_year)
    citizens = [mapper.citizen(v, f"{prefix}{v.voter_id}") for v in pb.voters]
    params["pabulib_meta"] = dict(meta)
    params["pabulib_file"] = _file_spec(pb, mapper, ordinal_points)

    replaced = claim_digest(session, kind="pabulib", digest=digest, replace=replace)
    title = (meta.get("description") or file.stem).strip()
    consultation = Consultation(
        slug=unique_slug(session, "pb", file.stem), title=title[:300] or file.stem,
        body=meta.get("comment", ""), status="closed", method="budget", method_params=params,
        eligibility={}, reminder_policy=ReminderPolicy().model_dump(), quorum=None,
        opens_at=opens_at, closes_at=closes_at, time_zone=zone_name,
        district=meta.get("district", "")[:120] or None,
        created_by=actor.id if actor.kind == "staff" else None, created_at=now,
        status_changed_at=now,
    )
    session.add(consultation)
    session.flush()
    cid = consultation.id

    insert_rows(session, Proposal.__table__, [  # type: ignore[arg-type]
        {"consultation_id": cid, "external_ref": p.project_id,
         "title": (p.name or f"Project {p.project_id}")[:500], "body": "", "cost": p.cost,
         "category": (p.extra.get("category") or p.extra.get("categories") or "")[:120] or None,
         "status": "published", "created_at": now}
        for p in pb.projects
    ])
    pid_of = ids_by_key(session, Proposal.external_ref, Proposal.id,
                        Proposal.consultation_id == cid)
    pool = CitizenPool(session, ref_prefix=prefix, time_zone=zone_name, at=now)

    cast_at = closes_at - timedelta(seconds=1)
    total = len(pb.voters)
    done = 0
    report(progress, 0, total)
    for part in chunks(range(total)):
        voters = [pb.voters[i] for i in part]
        citizen_ids = pool.ids([citizens[i] for i in part])
        channels = [mapper.channel(v) for v in voters]
        ballot_ids = insert_ballots(session, consultation_id=cid, citizen_ids=citizen_ids,
                                    channels=channels, cast_at=[cast_at] * len(voters))
        choices: list[dict[str, int]] = []
        for voter, bid in zip(voters, ballot_ids, strict=True):
            if ordinal:
                values: tuple[int, ...] = tuple(range(1, len(voter.vote) + 1))
            elif voter.points is not None:
                values = voter.points
            else:
                values = (1,) * len(voter.vote)
            choices.extend(
                {"ballot_id": bid, "proposal_id": pid_of[p], "consultation_id": cid, "value": v}
                for p, v in zip(voter.vote, values, strict=True)
            )
        insert_rows(session, BallotChoice.__table__, choices)  # type: ignore[arg-type]
        insert_contacts(session, [
            contact_row(citizen_id=c, consultation_id=cid, channel=ch, kind="ballot",
                        ref_table="ballot", ref_id=b, at=cast_at)
            for c, b, ch in zip(citizen_ids, ballot_ids, channels, strict=True)
        ])
        done += len(voters)
        report(progress, done, total)

    record_import(session, kind="pabulib", digest=digest, source_name=pb.source,
                  consultation_id=cid, at=now)
    channels_used = Counter(mapper.channel(v) for v in pb.voters)
    append_event(session, actor=actor, action="consultation.import",
                 subject=f"consultation:{cid}",
                 payload={"kind": "pabulib", "source": pb.source, "digest": digest,
                          "projects": len(pb.projects), "voters": total,
                          "channels": dict(sorted(channels_used.items())),
                          "replaced": replaced})
    return ImportResult(slug=consultation.slug, consultation_id=cid, voters=total,
                        ballots=total, proposals=len(pb.projects), replaced=replaced)
