"""Result values of the outbox, routing and delivery services (frozen dataclasses).

Every datetime here is timezone-aware UTC. Counts are plain ``int`` numbers of outbox rows
(one row = one message to one citizen on one channel).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

__all__ = [
    "KIND_PURPOSE",
    "LEDGER_KIND",
    "SKIP_PARTICIPANTS",
    "DeliveryReport",
    "EmailEventsReport",
    "EnqueueResult",
    "OutboxRow",
    "PlanResult",
    "SmsReply",
    "SmsStatusOutcome",
    "StuckPolicy",
    "UnsubscribeOutcome",
]

KIND_PURPOSE: Final[Mapping[str, str | None]] = {
    "invitation": "invitations",
    "reminder": "reminders",
    "results": "results",
    "survey_invitation": "surveys",
    "signin_code": None,
}
"""The consent purpose each message kind needs; ``None`` = transactional, always allowed."""

SKIP_PARTICIPANTS: Final[frozenset[str]] = frozenset({"invitation", "reminder"})
"""Kinds that are not sent to a citizen who already has a ballot in the consultation."""

LEDGER_KIND: Final[Mapping[str, str]] = {
    "invitation": "invitation",
    "reminder": "reminder",
    "results": "report",
    "survey_invitation": "survey",
    "signin_code": "signin",
}
"""The contact-ledger ``kind`` written for each sent message kind (DESIGN §4 ``contact``)."""

StuckPolicy = Literal["resend", "fail"]
"""What delivery does with a row left in ``sending`` past its lease with no provider id:
``resend`` (at-least-once, the default) or ``fail`` (at-most-once, reason ``lease_expired``)."""


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """What :func:`notifications.outbox.enqueue` did for one citizen.

    Attributes:
        key: the idempotency key ``{kind}:{consultation}:{round}:{citizen}:{channel}``.
        message_id: the ``outbox_message`` row id (new or existing).
        created: a row was written now; False when an earlier call already wrote one
            (a retry adds nothing).
        channel: ``email`` or ``sms`` (for a suppressed row with no usable channel, the
            citizen's preferred one).
        status: ``pending``, ``deferred`` (quiet hours) or ``suppressed``.
        reason: why it is suppressed, deferred or sent by a fallback channel, else None.
        not_before: earliest send time, UTC.
    """

    key: str
    message_id: int
    created: bool
    channel: str
    status: str
    reason: str | None
    not_before: datetime


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What a fan-out (invitations, reminders, results, survey invitations) did.

    Attributes:
        kind: the message kind planned.
        round: the round number in the keys.
        considered: citizens looked at (the eligible population or the audience).
        created: rows written now.
        counts: citizens by outcome: ``pending``, ``deferred``, ``suppressed:<reason>``
            (reasons ``no_consent``, ``no_address``, ``capped``, ``holdout``, ...),
            ``already_voted`` (skipped: no row) and ``existing`` (a row for this kind, round
            and citizen was already there: a retry). Sums to ``considered``.
    """

    kind: str
    round: int
    considered: int
    created: int
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What :func:`notifications.delivery.deliver_pending` did.

    Attributes:
        claimed: rows claimed (moved to ``sending``), over all batches.
        batches: batches processed.
        recovered: rows found stuck in ``sending`` past the lease (see the stuck-row rule
            in :mod:`notifications.delivery`): re-queued (``resend``) or failed (``fail``).
        counts: ``{channel: {status: rows}}`` for the rows this run finished, e.g.
            ``{"email": {"sent": 10, "suppressed": 2}, "sms": {"deferred": 1}}``.
        reasons: ``{reason: rows}`` for the suppressed, deferred and failed ones.
    """

    claimed: int = 0
    batches: int = 0
    recovered: int = 0
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)

    def total(self, status: str) -> int:
        """Rows that ended in ``status`` on any channel."""
        return sum(by_status.get(status, 0) for by_status in self.counts.values())


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox message as the CLI lists it (no contact details).

    Attributes:
        id / key / kind / channel / status / reason / attempts / provider_id: the row's columns.
        not_before / created_at / sent_at: UTC.
    """

    id: int
    key: str
    kind: str
    channel: str
    status: str
    reason: str | None
    attempts: int
    provider_id: str | None
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class SmsReply:
    """What an inbound SMS was taken to mean.

    Attributes:
        kind: ``stop`` (an opt-out keyword: SMS consent withdrawn for every purpose),
            ``digit`` (a number 0-10, e.g. a survey answer; nothing stored yet), ``other``,
            or ``unknown_sender`` (no citizen has this number; nothing changed).
        citizen_id: the sender, when known.
        digit: the number for ``digit`` (Persian and Arabic-Indic digits accepted), else None.
        suppressed: queued SMS rows suppressed because of a ``stop``.
    """

    kind: Literal["stop", "digit", "other", "unknown_sender"]
    citizen_id: int | None = None
    digit: int | None = None
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class UnsubscribeOutcome:
    """What an unsubscribe link did.

    Attributes:
        citizen_id: whose consent was withdrawn.
        channel: ``email`` or ``sms``.
        purposes: the purposes withdrawn (all of them for a token with purpose ``all``).
        suppressed: queued rows for that channel and those purposes now suppressed.
    """

    citizen_id: int
    channel: str
    purposes: tuple[str, ...]
    suppressed: int


@dataclass(frozen=True, slots=True)
class EmailEventsReport:
    """What one batch of SendGrid events did.

    Attributes:
        received: events in the batch.
        applied: events that changed something (a message failed, consent withdrawn).
        duplicates: events whose ``sg_event_id`` was applied before (provider retries).
        ignored: events with nothing to do (``delivered``, ``open`` …, or naming no message
            and no citizen of ours).
        failed_messages: outbox rows marked ``failed`` by a bounce or a drop.
        opted_out: citizens whose email consent was withdrawn.
    """

    received: int
    applied: int
    duplicates: int
    ignored: int
    failed_messages: int
    opted_out: int


@dataclass(frozen=True, slots=True)
class SmsStatusOutcome:
    """What one Twilio status callback did.

    Attributes:
        kind: ``failed`` (the message is now ``failed``), ``opted_out`` (error 21610: SMS
            consent withdrawn), ``duplicate`` (this sid and status were applied before) or
            ``ignored`` (a status that changes nothing, or no message of ours).
        outbox_id: the outbox row the callback is about, when found.
    """

    kind: Literal["failed", "opted_out", "duplicate", "ignored"]
    outbox_id: int | None = None
