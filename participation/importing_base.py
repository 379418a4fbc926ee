"""Shared machinery of the importers that write real data into the database.

Used by :mod:`participation.importing` (Pabulib) and :mod:`participation.importing_forums`
(Pol.is, CONSUL). Everything here runs in the caller's transaction and never commits:

- :func:`claim_digest` refuses a file imported before (same kind, same SHA-256 of its
  bytes) unless ``replace`` is set, in which case the earlier consultation is deleted
  first, in the same transaction (its pseudonymous citizens are kept and reused by the new
  import: same bytes, same references);
- :func:`unique_slug` derives a free slug from a file or folder name;
- :func:`insert_rows` inserts rows in bulk (one ``executemany`` per chunk of
  :data:`CHUNK` rows), never one ORM object per row; new ids are read back with one
  ``SELECT`` per chunk on a unique key (``INSERT ... RETURNING`` with ordered results
  degrades to one statement per row on SQLite, measured 3x slower);
- :class:`CitizenPool`, :func:`insert_ballots`, :func:`insert_contacts` build the rows of
  pseudonymous citizens (no contact data), imported ballots and their ledger entries.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from core.errors import Conflict
from models import (
    Ballot,
    BallotChoice,
    Citizen,
    Comment,
    Consultation,
    Contact,
    ImportRecord,
    Proposal,
)
from participation.ballots import new_receipt_code, record_ballots_at_close
from participation.importers.common import content_digest

Progress = Callable[[int, int], None]
"""Progress callback: ``progress(done, total)``, both counts of the same unit (voters,
comments, ...)."""

CHUNK = 2000
"""Rows per bulk INSERT statement group (also the progress step)."""

SLUG_BASE_MAX = 110
"""Longest slug stem kept, leaving room for a ``-NN`` suffix within the 120-character slug."""

T = TypeVar("T")

_TRANSLIT = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d"})


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored.

    Attributes:
        slug: the new consultation's slug.
        consultation_id: its id.
        voters: pseudonymous citizens created (voters, participants or authors).
        ballots: ballots stored.
        proposals: proposals (projects, statements) stored.
        comments: comments stored (CONSUL).
        orphans: comments whose parent was missing from the file, stored as top-level
            comments (CONSUL); included in ``comments``.
        replaced: id of the consultation deleted because ``replace`` was set, if any.
    """

    slug: str
    consultation_id: int
    voters: int
    ballots: int
    proposals: int
    comments: int = 0
    orphans: int = 0
    replaced: int | None = None


def chunks(rows: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of ``rows`` of at most ``size`` items."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def slugify(text: str) -> str:
    """Lower-case ASCII words of ``text`` joined by ``-`` (diacritics dropped, ``ł`` → ``l``)."""
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
        .encode("ascii", "ignore")
        .decode()
    )
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def unique_slug(session: Session, prefix: str, name: str) -> str:
    """Return ``<prefix>-<slugified name>`` cut to :data:`SLUG_BASE_MAX` characters, made
    unique by a ``-2``, ``-3``, ... suffix when taken (``poland_wieliczka_2023`` with prefix
    ``pb`` → ``pb-poland-wieliczka-2023``)."""
    base = f"{prefix}-{slugify(name)}".strip("-")[:SLUG_BASE_MAX].rstrip("-")
    if len(base) < 3:
        base = f"{prefix}-import"
    taken = set(
        session.execute(select(Consultation.slug).where(Consultation.slug.like(f"{base}%")))
        .scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def folder_digest(folder: Path, names: Iterable[str]) -> str:
    """SHA-256 over the named files of a folder: of the lines ``<name> <sha256>`` in order.

    A missing file contributes ``<name> -`` (the parser refuses it anyway).
    """
    lines = []
    for name in names:
        path = folder / name
        lines.append(f"{name} {content_digest(path) if path.is_file() else '-'}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def delete_consultation(session: Session, consultation_id: int) -> None:
    """Delete a consultation and every row that hangs on it, children first.

    Explicit deletes rather than relying on ``ON DELETE CASCADE`` alone, so the order is
    the same on SQLite and PostgreSQL (ballot choices and comments point at proposals
    without a cascade).
    """
    cid = consultation_id
    session.execute(delete(BallotChoice).where(BallotChoice.consultation_id == cid))
    session.execute(delete(Contact).where(Contact.consultation_id == cid))
    session.execute(delete(Ballot).where(Ballot.consultation_id == cid))
    session.execute(delete(Comment).where(Comment.consultation_id == cid))
    session.execute(delete(Proposal).where(Proposal.consultation_id == cid))
    session.execute(delete(ImportRecord).where(ImportRecord.consultation_id == cid))
    session.execute(delete(Consultation).where(Consultation.id == cid))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def claim_digest(session: Session, *, kind: str, digest: str, replace: bool) -> int | None:
    """Refuse a second import of the same content, or clear the way for a replacement.

    Args:
        kind: ``pabulib``, ``polis`` or ``consul``.
        digest: SHA-256 hex of the file (or folder, see :func:`folder_digest`).
        replace: delete the earlier import's consultation instead of refusing (its
            citizens stay, to be reused).
    Returns:
        the id of the deleted consultation, or ``None`` when there was no earlier import.
    Raises:
        Conflict: field ``file``: imported before and ``replace`` is false.
    """
    earlier = session.execute(
        select(ImportRecord).where(ImportRecord.kind == kind, ImportRecord.digest == digest)
    ).scalar_one_or_none()
    if earlier is None:
        return None
    slug = None
    if earlier.consultation_id is not None:
        slug = session.execute(
            select(Consultation.slug).where(Consultation.id == earlier.consultation_id)
        ).scalar_one_or_none()
    if not replace:
        raise Conflict(
            f"this {kind} data was already imported on {earlier.imported_at:%Y-%m-%d %H:%M} UTC"
            f" as {slug or 'a deleted consultation'}; import it with replace (--replace) to "
            "load it again",
            field="file",
        )
    replaced = earlier.consultation_id
    if replaced is not None:
        delete_consultation(session, replaced)
    session.execute(delete(ImportRecord).where(ImportRecord.id == earlier.id))
    return replaced


def record_import(
    session: Session, *, kind: str, digest: str, source_name: str, consultation_id: int,
    at: datetime,
) -> None:
    """Store the :class:`ImportRecord` that makes a second import of the same bytes refused,
    and the imported consultation's ballot total (``ballots_at_close``: its ballots are
    final once imported). Call it after the last ballot is stored."""
    session.flush()
    record_ballots_at_close(session, consultation_id=consultation_id)
    session.add(ImportRecord(kind=kind, digest=digest, source_name=source_name[:500],
                             consultation_id=consultation_id, imported_at=at))
    session.flush()


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in bulk, in the session's transaction.

    SQLite: one ``executemany`` per chunk of :data:`CHUNK` rows. PostgreSQL: one ``COPY ...
    FROM STDIN`` (psycopg 3), about 5x faster than ``executemany`` for 38,000 rows
    (measured: 0.4 s against 1.9 s per table); values must then be plain ``str``, ``int``,
    ``None`` or aware ``datetime`` (no SQLAlchemy type processing happens on that path).
    Every row must have the same keys.
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer.quote
        columns = list(rows[0])
        sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    stmt = insert(table)
    for part in chunks(rows):
        conn.execute(stmt, list(part))


def ids_by_key(session: Session, key: Any, id_column: Any, *where: Any) -> dict[Any, int]:
    """Return ``{key: id}`` of the rows matching ``where`` (one ``SELECT``)."""
    return dict(session.execute(select(key, id_column).where(*where)).all())


@dataclass(frozen=True, slots=True)
class PseudoCitizen:
    """A citizen row to create for imported data: no contact details, only the source's
    pseudonymous reference and the demographics the source gives."""

    external_ref: str
    display_name: str
    district: str | None = None
    birth_year: int | None = None
    gender: str | None = None


class CitizenPool:
    """The pseudonymous citizens of one import, created in bulk on first use.

    Citizens whose reference already exists (left by an earlier import of the same bytes
    that was replaced) are reused as they are.

    Args:
        session: the caller's session.
        ref_prefix: the import's reference prefix, e.g. ``pb:1a2b3c4d:``.
        time_zone: IANA zone given to new citizens.
        at: creation time, UTC.
    """

    def __init__(self, session: Session, *, ref_prefix: str, time_zone: str, at: datetime) -> None:
        self.session, self.time_zone, self.at = session, time_zone, at
        self.known = ids_by_key(session, Citizen.external_ref, Citizen.id,
                                Citizen.external_ref.like(_like_prefix(ref_prefix), escape="\\"))
        self.created = 0

    def ids(self, citizens: Sequence[PseudoCitizen]) -> list[int]:
        """Return the ids of ``citizens`` (in order), inserting the missing ones in bulk."""
        missing = [c for c in citizens if c.external_ref not in self.known]
        rows = [
            {"public_id": secrets.token_hex(8), "display_name": c.display_name[:200],
             "email": None, "phone": None, "locale": "en", "time_zone": self.time_zone,
             "preferred_channel": "email", "district": c.district, "birth_year": c.birth_year,
             "gender": c.gender, "external_ref": c.external_ref, "verified_at": None,
             "created_at": self.at}
            for c in missing
        ]
        insert_rows(self.session, Citizen.__table__, rows)  # type: ignore[arg-type]
        for part in chunks([c.external_ref for c in missing]):
            self.known.update(ids_by_key(self.session, Citizen.external_ref, Citizen.id,
                                         Citizen.external_ref.in_(part)))
        self.created += len(missing)
        return [self.known[c.external_ref] for c in citizens]


def insert_ballots(
    session: Session,
    *,
    consultation_id: int,
    citizen_ids: Sequence[int],
    channels: Sequence[str],
    cast_at: Sequence[datetime],
) -> list[int]:
    """Create one ballot per citizen (random receipt codes) in bulk; return the ids in order."""
    rows = [
        {"consultation_id": consultation_id, "citizen_id": cid, "channel": ch, "cast_at": at,
         "recorded_by": None, "receipt_code": new_receipt_code(), "revision": 1}
        for cid, ch, at in zip(citizen_ids, channels, cast_at, strict=True)
    ]
    insert_rows(session, Ballot.__table__, rows)  # type: ignore[arg-type]
    by_citizen: dict[int, int] = {}
    for part in chunks(list(citizen_ids)):
        by_citizen.update(ids_by_key(session, Ballot.citizen_id, Ballot.id,
                                     Ballot.consultation_id == consultation_id,
                                     Ballot.citizen_id.in_(part)))
    return [by_citizen[c] for c in citizen_ids]


def contact_row(
    *, citizen_id: int, consultation_id: int, channel: str, kind: str, ref_table: str,
    ref_id: int, at: datetime,
) -> dict[str, Any]:
    """One inbound ledger row (see :func:`participation.ledger.record_contact`)."""
    return {"citizen_id": citizen_id, "consultation_id": consultation_id, "channel": channel,
            "direction": "inbound", "kind": kind, "ref_table": ref_table, "ref_id": ref_id,
            "at": at}


def insert_contacts(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ledger rows in bulk (built with :func:`contact_row`)."""
    insert_rows(session, Contact.__table__, rows)  # type: ignore[arg-type]


def report(progress: Progress | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when a callback was given."""
    if progress is not None:
        progress(done, total)
