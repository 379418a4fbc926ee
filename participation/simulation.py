"""Stage a real participatory budget as a live consultation, for the demo cycle.

A Pabulib file records who voted for which projects but not *when*, nor who did not vote.
The demo therefore

* registers one citizen per real voter plus enough non-voters that the real ballots make
  the chosen turnout (``eligible = round(voters / turnout)``), with placeholder contact
  details only (``*@example.invalid`` addresses and numbers from the NANP fiction range
  555-0100…0199, which no phone reaches);
* lets the real ballots *arrive* over the voting window by a documented model: a voter's
  arrival day is fixed by a hash of their Pabulib voter id, 55 % in the first week, 30 % in
  the second and 15 % in the third (the shape of the turnout curve Pabulib cities report,
  with bumps after reminders). Arrival does not depend on whether a reminder reached the
  voter, so the demo's reminder uplift is not a finding about reminders.

Everything here is idempotent: staging a second time reuses what exists; ballots that have
already arrived are never inserted twice.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import ValidationError
from models import (
    Ballot,
    BallotChoice,
    Citizen,
    Consent,
    Consultation,
    Contact,
    Proposal,
    StaffUser,
)
from participation.audit import append_event
from participation.importers.common import content_digest
from participation.importers.pabulib import PbInstance, parse_pb
from participation.importing import COUNTRY_ZONES, _method_params
from participation.importing_base import chunks, ids_by_key, insert_ballots, insert_rows
from participation.schemas import ReminderPolicy

ARRIVAL_SHARES = ((0.55, 0, 7), (0.30, 7, 14), (0.15, 14, 21))
"""(share of voters, first day, last day) of the arrival model, for a 21-day window."""

PURPOSES = ("invitations", "reminders", "results", "surveys")


@dataclass(frozen=True, slots=True)
class StagedCycle:
    """A consultation staged from a real file.

    Attributes:
        consultation_id / slug: the new ``draft`` consultation.
        voters: real ballots in the file. eligible: citizens registered (voters + others).
        published_selected: project ids the city published as funded (``selected`` ≥ 1).
        rule: the rule the file's META names (``equalshares/add1``, ``greedy``, ...).
    """

    consultation_id: int
    slug: str
    voters: int
    eligible: int
    published_selected: tuple[str, ...]
    rule: str


def _fraction(text: str) -> float:
    """A stable number in [0, 1) from ``text`` (first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def arrival_offset(voter_id: str, *, days: float) -> timedelta:
    """When a voter's ballot arrives, counted from the opening, by the model above.

    Args:
        voter_id: the Pabulib voter id. days: the length of the voting window, days.
    Returns:
        an offset in [0, days) (scaled from the 21-day model).
    """
    u = _fraction(f"arrival:{voter_id}")
    acc = 0.0
    for share, first, last in ARRIVAL_SHARES:
        if u < acc + share:
            within = (u - acc) / share
            day = first + within * (last - first)
            return timedelta(days=day * days / 21.0)
        acc += share
    return timedelta(days=days * 0.999)


def _fiction_numbers(count: int) -> list[str]:
    """``count`` valid NANP numbers of the 555-0100…0199 fiction range, in E.164."""
    out: list[str] = []
    for npa in range(201, 990):
        for line in range(100, 200):
            number = f"+1{npa}5550{line:03d}"
            if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
                break
            out.append(number)
            if len(out) == count:
                return out
    raise ValidationError(f"only {len(out)} fiction phone numbers exist", field="eligible")


def stage_budget_cycle(
    session: Session,
    *,
    path: Path | str,
    actor: Actor,
    turnout: float,
    opens_at: datetime,
    days: int = 21,
    sms_share: float = 0.15,
    persian_share: float = 0.05,
    no_consent_share: float = 0.12,
) -> StagedCycle:
    """Create a draft budget consultation from a Pabulib file with its eligible population.

    Args:
        path: a ``.pb`` file (approval, cumulative or ordinal).
        actor: organizer or system.
        turnout: the share in (0, 1] of the eligible population that voted; the number of
            registered citizens is ``round(voters / turnout)``.
        opens_at: opening time, UTC; ``closes_at = opens_at + days``.
        sms_share / persian_share / no_consent_share: shares of citizens who prefer SMS,
            read Persian, or gave no consent to messages (deterministic by hash).
    Returns:
        :class:`StagedCycle`.
    Raises:
        ValidationError: an unreadable file, a turnout outside (0, 1], too few days.
    """
    if not 0 < turnout <= 1:
        raise ValidationError(f"must be in (0, 1], got {turnout}", field="turnout")
    if days < 3:
        raise ValidationError("the voting window needs at least 3 days", field="days")
    actor.require_staff("organizer")
    file = Path(path)
    pb: PbInstance = parse_pb(file)
    digest = content_digest(file)[:8]
    params = _method_params(pb)
    params["pabulib_meta"] = dict(pb.meta)
    now = clock.now()
    zone = COUNTRY_ZONES.get(pb.meta.get("country", ""), "UTC")
    slug = f"demo-{file.stem.replace('_', '-').strip('-')}"[:120].lower()
    existing = session.execute(select(Consultation).where(Consultation.slug == slug)
                               ).scalar_one_or_none()
    voters = len(pb.voters)
    eligible = max(voters, round(voters / turnout))
    selected = tuple(p.project_id for p in pb.projects if (p.selected or 0) >= 1)
    rule = pb.meta.get("rule", "greedy")
    if existing is not None:
        return StagedCycle(existing.id, slug, voters, eligible, selected, rule)

    title = (pb.meta.get("description") or file.stem).strip()[:300]
    c = Consultation(
        slug=slug, title=title, body=pb.meta.get("comment", ""), status="draft",
        method="budget", method_params=params, eligibility={},
        reminder_policy=ReminderPolicy(rounds_hours=[7 * 24 * days / 21, 14 * 24 * days / 21],
                                       quiet_start=21, quiet_end=8, max_messages=6).model_dump(),
        quorum=None, opens_at=opens_at, closes_at=opens_at + timedelta(days=days),
        time_zone=zone, district=pb.meta.get("district"), created_at=now, status_changed_at=now)
    session.add(c)
    session.flush()
    insert_rows(session, Proposal.__table__, [  # type: ignore[arg-type]
        {"consultation_id": c.id, "external_ref": p.project_id,
         "title": (p.name or f"Project {p.project_id}")[:500], "body": "", "cost": p.cost,
         "category": None, "status": "published", "created_at": now} for p in pb.projects])

    refs = [f"demo:{digest}:{v.voter_id}" for v in pb.voters]
    refs += [f"demo:{digest}:resident-{i}" for i in range(eligible - voters)]
    sms_refs = [r for r in refs if _fraction(f"sms:{r}") < sms_share]
    phones = dict(zip(sms_refs, _fiction_numbers(len(sms_refs)), strict=True))
    rows: list[dict[str, Any]] = []
    for i, ref in enumerate(refs):
        sms = ref in phones
        rows.append({
            "public_id": secrets.token_hex(8), "display_name": f"Resident {i + 1}",
            "email": None if sms else f"resident{i + 1}.{digest}@example.invalid",
            "phone": phones.get(ref), "locale": "fa" if _fraction(f"fa:{ref}") < persian_share
            else "en", "time_zone": zone, "preferred_channel": "sms" if sms else "email",
            "district": pb.meta.get("district"), "birth_year": None, "gender": None,
            "external_ref": ref, "verified_at": None, "created_at": now})
    insert_rows(session, Citizen.__table__, rows)  # type: ignore[arg-type]
    ids = ids_by_key(session, Citizen.external_ref, Citizen.id,
                     Citizen.external_ref.like(f"demo:{digest}:%"))
    consents = [
        {"citizen_id": ids[ref], "channel": "sms" if ref in phones else "email",
         "purpose": purpose, "opted_in": True, "changed_at": now, "source": "web"}
        for ref in refs if _fraction(f"consent:{ref}") >= no_consent_share
        for purpose in PURPOSES]
    insert_rows(session, Consent.__table__, consents)  # type: ignore[arg-type]
    if session.execute(select(StaffUser).where(StaffUser.username == "council-demo")
                       ).scalar_one_or_none() is None:
        session.add(StaffUser(username="council-demo", display_name="Council clerk",
                              email="council@example.invalid", role="council", created_at=now))
    append_event(session, actor=actor, action="consultation.stage",
                 subject=f"consultation:{c.id}",
                 payload={"file": file.name, "digest": digest, "eligible": eligible})
    return StagedCycle(c.id, slug, voters, eligible, selected, rule)


def arrive_ballots(
    session: Session, *, consultation_id: int, path: Path | str, until: datetime, actor: Actor
) -> int:
    """Insert the real ballots whose modelled arrival time is at or before ``until``.

    Each ballot is cast at its arrival time on the web channel and adds a ledger entry;
    ballots that arrived earlier are left alone, so calling this again is harmless. Once
    voting has closed nothing arrives (the consultation row is locked while ballots are
    added, so a close waits for them and counts them).

    Returns:
        the number of ballots inserted now.
    """
    actor.require_staff("organizer")
    c = session.get(Consultation, consultation_id, with_for_update=True)
    if c is None:
        raise ValidationError(f"no consultation {consultation_id}", field="consultation_id")
    if c.status in ("closed", "tallied", "reported", "archived"):
        return 0  # voting is over and its total recorded: a resumed cycle adds nothing
    file = Path(path)
    pb = parse_pb(file)
    digest = content_digest(file)[:8]
    days = (c.closes_at - c.opens_at).total_seconds() / 86400
    ids = ids_by_key(session, Citizen.external_ref, Citizen.id,
                     Citizen.external_ref.like(f"demo:{digest}:%"))
    voted = set(session.execute(select(Ballot.citizen_id).where(
        Ballot.consultation_id == consultation_id)).scalars())
    pid_of = ids_by_key(session, Proposal.external_ref, Proposal.id,
                        Proposal.consultation_id == consultation_id)
    due = []
    for v in pb.voters:
        at = c.opens_at + arrival_offset(v.voter_id, days=days)
        cid = ids[f"demo:{digest}:{v.voter_id}"]
        if at <= until and cid not in voted:
            due.append((v, cid, min(at, c.closes_at - timedelta(seconds=1))))
    ordinal = pb.vote_type == "ordinal"
    for part in chunks(due):
        ballot_ids = insert_ballots(session, consultation_id=consultation_id,
                                    citizen_ids=[d[1] for d in part],
                                    channels=["web"] * len(part), cast_at=[d[2] for d in part])
        choices: list[dict[str, Any]] = []
        for (voter, _, _), bid in zip(part, ballot_ids, strict=True):
            if ordinal:
                values: tuple[int, ...] = tuple(range(1, len(voter.vote) + 1))
            else:
                values = voter.points if voter.points is not None else (1,) * len(voter.vote)
            choices.extend({"ballot_id": bid, "proposal_id": pid_of[p],
                            "consultation_id": consultation_id, "value": val}
                           for p, val in zip(voter.vote, values, strict=True))
        insert_rows(session, BallotChoice.__table__, choices)  # type: ignore[arg-type]
        insert_rows(session, Contact.__table__, [  # type: ignore[arg-type]
            {"citizen_id": cid, "consultation_id": consultation_id, "channel": "web",
             "direction": "inbound", "kind": "ballot", "ref_table": "ballot", "ref_id": bid,
             "at": at} for (_, cid, at), bid in zip(part, ballot_ids, strict=True)])
    if due:
        append_event(session, actor=actor, action="ballot.arrive",
                     subject=f"consultation:{consultation_id}",
                     payload={"until": until.isoformat(), "ballots": len(due)})
    return len(due)
