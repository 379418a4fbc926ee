"""Import Pol.is conversations and CONSUL (Decide Madrid) exports into the database.

Same contract as :func:`participation.importing.import_pabulib`: keyword-only, session
first, one transaction owned by the caller, the whole source parsed before any write,
bulk inserts, one audit event, an :class:`ImportRecord` against a second import.

Pol.is (``compdemocracy/openData`` folder, see ``participation.importers.polis``)
    one consultation, method ``agree_disagree``, status ``closed``, window from the first
    to the last epoch timestamp (+1 s); each statement a proposal (``external_ref`` =
    comment-id, ``title`` = the text cut to 500 characters, ``body`` = the full text;
    statements moderated out (``-1``) are ``withdrawn``); every participant, voter and
    author a pseudonymous citizen (``polis:<digest8>:<participant id>``); each voter's
    latest votes one ballot (channel ``import``, cast at their last vote) with values
    1 / -1 / 0; a statement's author is kept in the contact ledger (kind ``proposal``,
    ``ref_table`` ``proposal``, at the statement's time). ``method_params["polis"]`` keeps
    the conversation name, url, summary counts, the opinion group of each participant
    (``groups``: participant id → group id, used by the tally's group-aware consensus),
    the unmoderated statement ids and the number of vote rows.
CONSUL proposals CSV (a file, ``proposals_latest.csv`` layout)
    one consultation, method ``approval``, status ``closed``, time zone Europe/Madrid,
    window from the first creation day to the day after the last; each row a proposal
    (``body`` = the description, HTML kept raw as text; withdrawn when ``retired_at`` is
    set); no ballots (the export has only counts): CONSUL's cached supports are kept as
    ``method_params["supports"]`` (proposal id → count).
CONSUL decide-madrid-2019 (a folder)
    as above, plus: proposal authors and commenters as pseudonymous citizens
    (``consul:<digest8>:<userId>``, authorship in the ledger as for Pol.is); every
    comment a ``comment`` row on its proposal (``external_ref`` = its id, body raw,
    stance ``neutral``, channel ``import``) with its parent mapped to the new row; a reply
    whose parent is not in the file is stored top-level and listed in
    ``method_params["consul"]["orphans"]`` (comment id → missing parent id).
    ``method_params["supports"]`` holds ``numSupports``; ``["consul"]`` the codes, urls
    and statuses of the proposals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import ValidationError
from models import BallotChoice, Comment, Consultation, Proposal
from participation.audit import append_event
from participation.importers.common import content_digest
from participation.importers.consul import (
    MADRID,
    ConsulProposal,
    DecideMadridDataset,
    parse_consul_proposals,
    parse_decide_madrid,
)
from participation.importers.polis import Moderation, parse_polis
from participation.importing_base import (
    CitizenPool,
    ImportResult,
    Progress,
    PseudoCitizen,
    chunks,
    claim_digest,
    contact_row,
    folder_digest,
    ids_by_key,
    insert_ballots,
    insert_contacts,
    insert_rows,
    record_import,
    report,
    unique_slug,
)
from participation.schemas import MethodParams, ReminderPolicy

POLIS_FILES = ("comments.csv", "votes.csv", "participants-votes.csv", "summary.csv")
MADRID_FILES = ("proposals.csv", "comments.csv")
MADRID_ZONE = "Europe/Madrid"


def _new_consultation(
    session: Session, *, slug_prefix: str, name: str, title: str, body: str, method: str,
    params: dict[str, Any], opens_at: datetime, closes_at: datetime, time_zone: str,
    actor: Actor, now: datetime,
) -> Consultation:
    if closes_at <= opens_at:
        closes_at = opens_at + timedelta(seconds=1)
    row = Consultation(
        slug=unique_slug(session, slug_prefix, name), title=(title.strip() or name)[:300],
        body=body, status="closed", method=method,
        method_params={**MethodParams().model_dump(exclude_none=True), **params},
        eligibility={}, reminder_policy=ReminderPolicy().model_dump(), quorum=None,
        opens_at=opens_at, closes_at=closes_at, time_zone=time_zone,
        created_by=actor.id if actor.kind == "staff" else None, created_at=now,
        status_changed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _title(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 500 else one[:499] + "…"


def import_polis(
    session: Session,
    *,
    folder: Path | str,
    actor: Actor,
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a Pol.is open-data conversation folder (mapping in the module docstring).

    Args:
        session: the caller's session (never committed here).
        folder: the conversation folder (``comments.csv``, ``votes.csv``,
            ``participants-votes.csv``, ``summary.csv``).
        actor: an organizer, admin or the system.
        replace: delete an earlier import of the same files first instead of refusing.
        progress: optional ``progress(done, total)`` per chunk of ballots.
    Returns:
        :class:`ImportResult` (slug ``polis-<folder name>``; ``voters`` = citizens created).
    Raises:
        ValidationError: not a folder, or a malformed file (named with line and column).
        Conflict: the same files were imported before and ``replace`` is false.
    """
    actor.require_staff("organizer")
    path = Path(folder)
    if not path.is_dir():
        raise ValidationError(f"{path}: not a folder", field="path")
    conv = parse_polis(path)
    digest = folder_digest(path, POLIS_FILES)
    prefix = f"polis:{digest[:8]}:"
    now = clock.now()
    votes_by_voter: dict[int, list[Any]] = {}
    for vote in conv.votes:
        votes_by_voter.setdefault(vote.voter_id, []).append(vote)
    people = sorted({p.participant_id for p in conv.participants} | set(votes_by_voter)
                    | {s.author_id for s in conv.statements})
    times = [s.created_at for s in conv.statements] + [v.cast_at for v in conv.votes]
    opens_at = min(times, default=now - timedelta(days=1))
    closes_at = max(times, default=now) + timedelta(seconds=1)
    params = {"polis": {
        "conversation": conv.name, "url": conv.summary.url, "counts": dict(conv.summary.counts),
        "groups": {str(p.participant_id): p.group_id for p in conv.participants
                   if p.group_id is not None},
        "unmoderated": [s.statement_id for s in conv.statements
                        if s.moderation == Moderation.UNMODERATED],
        "vote_rows": conv.vote_rows,
    }}

    replaced = claim_digest(session, kind="polis", digest=digest, replace=replace)
    c = _new_consultation(session, slug_prefix="polis", name=conv.name,
                          title=conv.summary.topic, body=conv.summary.description,
                          method="agree_disagree", params=params, opens_at=opens_at,
                          closes_at=closes_at, time_zone="UTC", actor=actor, now=now)
    insert_rows(session, Proposal.__table__, [  # type: ignore[arg-type]
        {"consultation_id": c.id, "external_ref": str(s.statement_id), "title": _title(s.body),
         "body": s.body, "cost": None, "category": None,
         "status": "withdrawn" if s.moderation == Moderation.REJECTED else "published",
         "created_at": s.created_at}
        for s in conv.statements
    ])
    pid_of = {int(k): v for k, v in ids_by_key(session, Proposal.external_ref, Proposal.id,
                                                 Proposal.consultation_id == c.id).items()}
    pool = CitizenPool(session, ref_prefix=prefix, time_zone="UTC", at=now)
    citizen_ids = pool.ids([PseudoCitizen(f"{prefix}{p}", f"Pol.is participant {p}")
                            for p in people])
    cid_of = dict(zip(people, citizen_ids, strict=True))
    insert_contacts(session, [
        contact_row(citizen_id=cid_of[s.author_id], consultation_id=c.id, channel="import",
                    kind="proposal", ref_table="proposal", ref_id=pid_of[s.statement_id],
                    at=s.created_at)
        for s in conv.statements
    ])

    voters = sorted(votes_by_voter)
    report(progress, 0, len(voters))
    done = 0
    for part in chunks(voters):
        last = [max(v.cast_at for v in votes_by_voter[p]) for p in part]
        ballot_ids = insert_ballots(session, consultation_id=c.id,
                                    citizen_ids=[cid_of[p] for p in part],
                                    channels=["import"] * len(part), cast_at=last)
        insert_rows(session, BallotChoice.__table__, [  # type: ignore[arg-type]
            {"ballot_id": b, "proposal_id": pid_of[v.statement_id], "consultation_id": c.id,
             "value": int(v.stance)}
            for p, b in zip(part, ballot_ids, strict=True) for v in votes_by_voter[p]
        ])
        insert_contacts(session, [
            contact_row(citizen_id=cid_of[p], consultation_id=c.id, channel="import",
                        kind="ballot", ref_table="ballot", ref_id=b, at=at)
            for p, b, at in zip(part, ballot_ids, last, strict=True)
        ])
        done += len(part)
        report(progress, done, len(voters))

    record_import(session, kind="polis", digest=digest, source_name=conv.name,
                  consultation_id=c.id, at=now)
    append_event(session, actor=actor, action="consultation.import", subject=f"consultation:{c.id}",
                 payload={"kind": "polis", "source": conv.name, "digest": digest,
                          "statements": len(conv.statements), "participants": len(people),
                          "ballots": len(voters), "votes": len(conv.votes),
                          "replaced": replaced})
    return ImportResult(slug=c.slug, consultation_id=c.id, voters=len(people),
                        ballots=len(voters), proposals=len(conv.statements), replaced=replaced)


def _madrid_midnight(day: Any) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=MADRID).astimezone(UTC)


def import_consul(
    session: Session,
    *,
    path: Path | str,
    actor: Actor,
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import CONSUL data: a proposals CSV file, or a decide-madrid-2019 folder with threaded
    comments (mapping in the module docstring).

    Args:
        session: the caller's session (never committed here).
        path: ``proposals_latest.csv``-style file, or a folder with ``proposals.csv`` and
            ``comments.csv``.
        actor: an organizer, admin or the system.
        replace: delete an earlier import of the same data first instead of refusing.
        progress: optional ``progress(done, total)`` per chunk of comments (or proposals).
    Returns:
        :class:`ImportResult` (slug ``consul-<name>``); ``comments`` counts every comment
        stored, ``orphans`` those stored top-level because their parent is missing.
    Raises:
        ValidationError: no such file or folder, or malformed data (line and column named).
        Conflict: the same data was imported before and ``replace`` is false.
    """
    actor.require_staff("organizer")
    source = Path(path)
    if source.is_dir():
        return _import_madrid(session, source, actor, replace, progress)
    if not source.is_file():
        raise ValidationError(f"{source}: no such file or folder", field="path")
    return _import_consul_csv(session, source, actor, replace, progress)


def _consul_proposal_rows(cid: int, rows: list[ConsulProposal]) -> list[dict[str, Any]]:
    return [
        {"consultation_id": cid, "external_ref": str(p.proposal_id), "title": _title(p.title),
         "body": p.description, "cost": None, "category": None,
         "status": "withdrawn" if p.withdrawn else "published",
         "created_at": _madrid_midnight(p.created_on)}
        for p in rows
    ]


def _import_consul_csv(
    session: Session, file: Path, actor: Actor, replace: bool, progress: Progress | None
) -> ImportResult:
    proposals = list(parse_consul_proposals(file))
    digest = content_digest(file)
    now = clock.now()
    days = [p.created_on for p in proposals]
    opens_at = _madrid_midnight(min(days)) if days else now - timedelta(days=1)
    closes_at = _madrid_midnight(max(days) + timedelta(days=1)) if days else now
    params = {"supports": {str(p.proposal_id): p.cached_votes_up for p in proposals},
              "consul": {"source": file.name,
                         "withdrawn_at": {str(p.proposal_id): p.retired_at.isoformat()
                                          for p in proposals if p.retired_at is not None}}}
    replaced = claim_digest(session, kind="consul", digest=digest, replace=replace)
    c = _new_consultation(session, slug_prefix="consul", name=file.stem,
                          title=f"CONSUL proposals ({file.stem})", body="", method="approval",
                          params=params, opens_at=opens_at, closes_at=closes_at,
                          time_zone=MADRID_ZONE, actor=actor, now=now)
    report(progress, 0, len(proposals))
    insert_rows(session, Proposal.__table__, _consul_proposal_rows(c.id, proposals))  # type: ignore[arg-type]
    report(progress, len(proposals), len(proposals))
    record_import(session, kind="consul", digest=digest, source_name=file.name,
                  consultation_id=c.id, at=now)
    append_event(session, actor=actor, action="consultation.import", subject=f"consultation:{c.id}",
                 payload={"kind": "consul", "source": file.name, "digest": digest,
                          "proposals": len(proposals), "replaced": replaced})
    return ImportResult(slug=c.slug, consultation_id=c.id, voters=0, ballots=0,
                        proposals=len(proposals), replaced=replaced)


def _import_madrid(
    session: Session, folder: Path, actor: Actor, replace: bool, progress: Progress | None
) -> ImportResult:
    data: DecideMadridDataset = parse_decide_madrid(folder)
    digest = folder_digest(folder, MADRID_FILES)
    prefix = f"consul:{digest[:8]}:"
    now = clock.now()
    orphan_set = set(data.orphan_ids)
    times = ([_madrid_midnight(p.created_on) for p in data.proposals]
             + [m.created_at for m in data.comments])
    opens_at = min(times, default=now - timedelta(days=1))
    closes_at = max(times, default=now) + timedelta(seconds=1)
    params = {
        "supports": {str(p.proposal_id): p.supports for p in data.proposals},
        "consul": {
            "source": folder.name,
            "codes": {str(p.proposal_id): p.code for p in data.proposals},
            "urls": {str(p.proposal_id): p.url for p in data.proposals},
            "status": {str(p.proposal_id): p.status for p in data.proposals},
            "orphans": {str(m.comment_id): m.parent_id for m in data.comments
                        if m.comment_id in orphan_set},
        },
    }
    people = sorted({p.author_id for p in data.proposals} | {m.author_id for m in data.comments})

    replaced = claim_digest(session, kind="consul", digest=digest, replace=replace)
    c = _new_consultation(session, slug_prefix="consul", name=folder.name,
                          title=f"CONSUL proposals ({folder.name})", body="", method="approval",
                          params=params, opens_at=opens_at, closes_at=closes_at,
                          time_zone=MADRID_ZONE, actor=actor, now=now)
    insert_rows(session, Proposal.__table__, [  # type: ignore[arg-type]
        {"consultation_id": c.id, "external_ref": str(p.proposal_id), "title": _title(p.title),
         "body": p.text or p.summary, "cost": None, "category": None, "status": "published",
         "created_at": _madrid_midnight(p.created_on)}
        for p in data.proposals
    ])
    pid_of = {int(k): v for k, v in ids_by_key(session, Proposal.external_ref, Proposal.id,
                                                 Proposal.consultation_id == c.id).items()}
    pool = CitizenPool(session, ref_prefix=prefix, time_zone=MADRID_ZONE, at=now)
    citizen_ids = pool.ids([PseudoCitizen(f"{prefix}{u}", f"CONSUL user {u}") for u in people])
    cid_of = dict(zip(people, citizen_ids, strict=True))
    insert_contacts(session, [
        contact_row(citizen_id=cid_of[p.author_id], consultation_id=c.id, channel="import",
                    kind="proposal", ref_table="proposal", ref_id=pid_of[p.proposal_id],
                    at=_madrid_midnight(p.created_on))
        for p in data.proposals
    ])

    comments = list(data.comments)
    report(progress, 0, len(comments))
    done = 0
    for part in chunks(comments):
        insert_rows(session, Comment.__table__, [  # type: ignore[arg-type]
            {"consultation_id": c.id, "proposal_id": pid_of[m.proposal_id],
             "citizen_id": cid_of[m.author_id], "parent_id": None, "body": m.text,
             "stance": "neutral", "channel": "import", "moderation_state": "visible",
             "moderation_reason": None, "report_count": 0, "recorded_by": None,
             "external_ref": str(m.comment_id), "created_at": m.created_at}
            for m in part
        ])
        done += len(part)
        report(progress, done, len(comments))
    new_id = {int(k): v for k, v in ids_by_key(session, Comment.external_ref, Comment.id,
                                               Comment.consultation_id == c.id).items()}
    insert_contacts(session, [
        contact_row(citizen_id=cid_of[m.author_id], consultation_id=c.id, channel="import",
                    kind="comment", ref_table="comment", ref_id=new_id[m.comment_id],
                    at=m.created_at)
        for m in comments
    ])
    # Parents are linked after every comment exists, so the file order does not matter.
    links = [{"cid": new_id[m.comment_id], "pid": new_id[m.parent_id]}
             for m in comments if m.parent_id is not None and m.comment_id not in orphan_set]
    table: Any = Comment.__table__
    stmt = update(table).where(table.c.id == bindparam("cid")).values(parent_id=bindparam("pid"))
    for link_part in chunks(links):
        session.connection().execute(stmt, list(link_part))

    record_import(session, kind="consul", digest=digest, source_name=folder.name,
                  consultation_id=c.id, at=now)
    append_event(session, actor=actor, action="consultation.import", subject=f"consultation:{c.id}",
                 payload={"kind": "consul", "source": folder.name, "digest": digest,
                          "proposals": len(data.proposals), "comments": len(comments),
                          "orphans": len(orphan_set), "citizens": len(people),
                          "replaced": replaced})
    return ImportResult(slug=c.slug, consultation_id=c.id, voters=len(people), ballots=0,
                        proposals=len(data.proposals), comments=len(comments),
                        orphans=len(orphan_set), replaced=replaced)
