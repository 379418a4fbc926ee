"""Tables for messages, surveys, audit, population and reports (DESIGN §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "suppressed", "deferred")


class OutboxMessage(Base):
    """One message to send, written in the same transaction as the change that causes it.

    ``idempotency_key`` is ``{kind}:{consultation}:{round}:{citizen}:{channel}``: a retried
    task inserting the same key adds nothing.
    """

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in OUTBOX_STATUSES) + ")", name="status"
        ),
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        Index("ix_outbox_message_status_not_before", "status", "not_before"),
        Index("ix_outbox_message_consultation_citizen", "consultation_id", "citizen_id"),
    )


class Survey(Base):
    """A survey: a post-cycle satisfaction pulse or an imported resident-survey wave."""

    __tablename__ = "survey"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("kind IN ('pulse', 'wave')", name="kind"),)


class SurveyQuestion(Base):
    """A question of a survey, with the instrument it feeds (csat, nps, cmt:<driver>, ...)."""

    __tablename__ = "survey_question"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    instrument: Mapped[str] = mapped_column(String(32))
    scale_min: Mapped[float | None] = mapped_column(Float)
    scale_max: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("survey_id", "key"),)


class SurveyResponse(Base):
    """One respondent's answers to a survey (one per citizen when the citizen is known)."""

    __tablename__ = "survey_response"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"))
    channel: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(120))
    external_ref: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("survey_id", "citizen_id"),)


class SurveyAnswer(Base):
    """One answer: a number on the question's scale (None = don't know) or free text."""

    __tablename__ = "survey_answer"
    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_response.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_question.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only audit log; once sealed, each row's digest covers the previous one (a hash
    chain). ``seq``, ``prev_digest`` and ``digest`` are empty until ``seal_chain`` links the
    event (``participation.audit``)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_digest: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        # the sealer's work list: only unsealed events are in it
        Index("ix_audit_event_unsealed", "id", postgresql_where=text("seq IS NULL"),
              sqlite_where=text("seq IS NULL")),
    )


class AuditHead(Base):
    """A single row holding the chain's last sealed digest; locked by the sealer."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))


class Population(Base):
    """Census counts per district × age band × gender: denominators for representativeness."""

    __tablename__ = "population"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district: Mapped[str] = mapped_column(String(120))
    age_band: Mapped[str] = mapped_column(String(16))
    gender: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), default="")
    __table_args__ = (
        UniqueConstraint("district", "age_band", "gender"),
        CheckConstraint("count >= 0", name="count"),
    )


class Report(Base):
    """A generated governance report: metrics, the digest of its inputs and its files."""

    __tablename__ = "report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE")
    )
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_digest: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SigninCode(Base):
    """A one-time sign-in code, stored only as a hash; short-lived and single-use."""

    __tablename__ = "signin_code"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_signin_code_citizen_created", "citizen_id", "created_at"),)


class StaffSigninThrottle(Base):
    """Wrong staff passwords in a row for one username, and the lock they caused.

    Keyed by an HMAC of the username as typed (lower-cased), not by ``staff_user``, so an
    unknown username is counted and locked exactly like a known one, and a password typed
    into the username field is never stored. Shared by every app process.
    """

    __tablename__ = "staff_signin_throttle"
    username_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderEvent(Base):
    """A provider webhook event already applied, so a delivery the provider retries is
    applied once.

    ``provider`` is ``sendgrid`` (``event_id`` = the event's ``sg_event_id``),
    ``twilio_status`` (``MessageSid:MessageStatus``) or ``twilio_inbound`` (``MessageSid``).
    The row is written in the same transaction as the event's effects: a request that fails
    leaves no row, and the provider's retry applies it.
    """

    __tablename__ = "provider_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("provider", "event_id"),)
