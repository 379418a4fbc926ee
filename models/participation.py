"""Tables of the participation core: citizens, consent, staff, consultations, proposals,
ballots, comments and the contact ledger (DESIGN §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

CHANNELS_OUTBOUND = ("email", "sms")
CHANNELS_ALL = ("web", "email", "sms", "phone", "letter", "fax", "in_person", "import")
PURPOSES = ("invitations", "reminders", "results", "surveys")
CONSULTATION_STATUSES = (
    "draft",
    "published",
    "open",
    "closed",
    "tallied",
    "reported",
    "archived",
)
METHODS = ("single_choice", "approval", "budget", "ranked", "agree_disagree")
PROPOSAL_STATUSES = ("published", "withdrawn", "accepted", "rejected")
STANCES = ("for", "against", "neutral")
MODERATION_STATES = ("visible", "hidden")
ROLES = ("organizer", "council", "admin")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Citizen(Base):
    """A person who may take part; ``public_id`` is random, never sequential."""

    __tablename__ = "citizen"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    preferred_channel: Mapped[str] = mapped_column(String(8), default="email")
    district: Mapped[str | None] = mapped_column(String(120), index=True)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(_in("preferred_channel", CHANNELS_OUTBOUND), name="preferred_channel"),
        CheckConstraint(
            "birth_year IS NULL OR (birth_year BETWEEN 1880 AND 2100)", name="birth_year"
        ),
    )


class Consent(Base):
    """Opt-in or opt-out of one citizen for one channel and purpose."""

    __tablename__ = "consent"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    purpose: Mapped[str] = mapped_column(String(16))
    opted_in: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))
    __table_args__ = (
        UniqueConstraint("citizen_id", "channel", "purpose"),
        CheckConstraint(_in("channel", CHANNELS_OUTBOUND), name="channel"),
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
    )


class StaffUser(Base):
    """An organizer, council member or administrator."""

    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)


class Consultation(Base):
    """One consultation cycle; times are UTC, shown in ``time_zone``."""

    __tablename__ = "consultation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    method: Mapped[str] = mapped_column(String(16))
    method_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reminder_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    quorum: Mapped[float | None] = mapped_column(Float)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    district: Mapped[str | None] = mapped_column(String(120))
    topic: Mapped[str | None] = mapped_column(String(120))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the ballots in the box when voting closed (or when an import stored them): set by
    # ``record_ballots_at_close``; the tally's total, so it needs no second scan
    ballots_at_close: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(_in("status", CONSULTATION_STATUSES), name="status"),
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("quorum IS NULL OR (quorum >= 0 AND quorum <= 1)", name="quorum"),
    )


class Proposal(Base):
    """A proposal (or project, or statement) of a consultation."""

    __tablename__ = "proposal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    external_ref: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[int | None] = mapped_column(BigInteger)
    category: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="published")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("consultation_id", "external_ref"),
        CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
    )


class Ballot(Base):
    """A citizen's one ballot in a consultation, whatever the channel."""

    __tablename__ = "ballot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"))
    channel: Mapped[str] = mapped_column(String(16))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    receipt_code: Mapped[str] = mapped_column(String(32), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (
        UniqueConstraint("consultation_id", "citizen_id"),
        CheckConstraint(_in("channel", CHANNELS_ALL), name="channel"),
        # "my ballots" and erasing a citizen look ballots up by citizen alone
        Index("ix_ballot_citizen", "citizen_id"),
    )


class BallotChoice(Base):
    """One choice on a ballot: approval (1), points, rank, or yes/no/abstain (1/-1/0)."""

    __tablename__ = "ballot_choice"
    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True
    )
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (Index("ix_ballot_choice_tally", "consultation_id", "proposal_id", "value"),)


class Comment(Base):
    """A threaded comment on a proposal, with stance and moderation state."""

    __tablename__ = "comment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposal.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comment.id"))
    body: Mapped[str] = mapped_column(Text)
    stance: Mapped[str] = mapped_column(String(8), default="neutral")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    moderation_state: Mapped[str] = mapped_column(String(8), default="visible")
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    external_ref: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(_in("stance", STANCES), name="stance"),
        CheckConstraint(_in("channel", CHANNELS_ALL), name="channel"),
        CheckConstraint(_in("moderation_state", MODERATION_STATES), name="moderation_state"),
        Index("ix_comment_consultation_created", "consultation_id", "created_at"),
        # a proposal's visible threads, newest first, without a sort
        Index(
            "ix_comment_thread", "proposal_id", "parent_id", "moderation_state", "created_at"
        ),
        Index("ix_comment_citizen", "citizen_id"),
    )


class CommentReport(Base):
    """A citizen's report of a comment (one per citizen and comment)."""

    __tablename__ = "comment_report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("comment_id", "citizen_id"),)


class Contact(Base):
    """The contact ledger: every exchange with a citizen, on any channel (the CiRM core)."""

    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    ref_table: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(_in("direction", ("inbound", "outbound")), name="direction"),
        CheckConstraint(_in("channel", CHANNELS_ALL), name="channel"),
        Index("ix_contact_citizen_at", "citizen_id", "at"),
    )


class ImportRecord(Base):
    """One imported file, by content digest, so a re-import is detected."""

    __tablename__ = "import_record"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE")
    )
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("kind", "digest"),)
