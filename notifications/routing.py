"""Routing: which channel a message goes by, when, or why it is not sent (pure, no I/O).

:func:`route` decides once, when a message is queued; :func:`recheck` decides again just
before sending, on fresh facts, for the channel already chosen. Both take plain values and
return a :class:`Decision`; nothing here touches the database or the clock.

Rules, in the order they are applied by :func:`route`:

1. Transactional messages (``purpose=None``, e.g. sign-in codes) need no consent, are never
   capped, held out or deferred: the preferred channel if it has an address, else the other.
2. ``already_voted``: invitations and reminders are not sent to a citizen who already has a
   ballot in the consultation (the "already took part" rule, DESIGN §6).
3. Consent per channel *and* purpose: the preferred channel when it has consent and an
   address, else the other channel (fallback email → SMS or SMS → email, reason
   ``fallback_from_<preferred>``); neither → ``no_consent`` (no consent on any channel) or
   ``no_address`` (consent somewhere, but no address where consent is).
4. ``capped``: at most ``max_messages`` invitations, reminders and survey invitations per
   citizen per consultation (results are never capped: every participant hears back).
5. ``holdout``: reminders only; a deterministic share of citizens is kept out to measure
   reminder uplift (:func:`in_holdout`).
6. Quiet hours in the citizen's time zone → ``deferred`` with ``not_before`` = the end of
   the quiet hours (in UTC), never dropped.

Locale: the citizen's locale if the templates have it, else English
(:func:`notifications.templating.resolve_locale`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notifications.schemas import SKIP_PARTICIPANTS
from notifications.templating import resolve_locale

__all__ = [
    "CAPPED_KINDS",
    "CHANNELS",
    "CitizenFacts",
    "Consents",
    "Decision",
    "RoutingPolicy",
    "choose_channel",
    "holdout_cut",
    "in_holdout",
    "quiet_hours_apply",
    "quiet_until",
    "recheck",
    "route",
]

CHANNELS: Final = ("email", "sms")
CAPPED_KINDS: Final[frozenset[str]] = frozenset({"invitation", "reminder", "survey_invitation"})
"""Kinds counted against, and stopped by, the per-citizen cap of a consultation."""

Consents = Mapping[tuple[str, str], bool]
"""``{(channel, purpose): opted_in}``; a missing pair means no consent (never asked)."""

Status = Literal["pending", "deferred", "suppressed"]


@dataclass(frozen=True, slots=True)
class CitizenFacts:
    """What routing needs to know about one citizen (no contact details, only whether
    they exist).

    Attributes:
        public_id: the citizen's random public id (used for the holdout hash).
        has_email / has_phone: an email address / E.164 number is on record.
        preferred_channel: ``email`` or ``sms``.
        locale: the citizen's locale tag, e.g. ``fa`` or ``en-GB``.
        time_zone: IANA zone name; an unknown name is read as UTC.
        took_part: the citizen already has a ballot in the consultation.
    """

    public_id: str
    has_email: bool
    has_phone: bool
    preferred_channel: str = "email"
    locale: str = "en"
    time_zone: str = "UTC"
    took_part: bool = False


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The consultation's messaging policy (its ``reminder_policy`` JSON).

    Attributes:
        quiet_start / quiet_end: local hours 0-23; quiet from ``quiet_start:00`` up to
            ``quiet_end:00`` (wrapping over midnight when start > end). Equal or ``None``:
            no quiet hours.
        max_messages: per-citizen cap for the consultation (:data:`CAPPED_KINDS`); ``None``:
            no cap.
        holdout_share: share in [0, 1) of citizens held out of reminders.
        holdout_salt: mixed into the holdout hash (the consultation id), so each
            consultation holds out a different, but for all its rounds the same, group.
    """

    quiet_start: int | None = 21
    quiet_end: int | None = 8
    max_messages: int | None = None
    holdout_share: float = 0.0
    holdout_salt: str = ""

    @classmethod
    def from_reminder_policy(cls, policy: Mapping[str, Any] | None, *, salt: str) -> RoutingPolicy:
        """Build from a consultation's stored ``reminder_policy`` (see
        :class:`participation.schemas.ReminderPolicy`; missing keys take its defaults:
        quiet 21-8, cap 4, no holdout)."""
        p = dict(policy or {})
        return cls(
            quiet_start=int(p.get("quiet_start", 21)),
            quiet_end=int(p.get("quiet_end", 8)),
            max_messages=int(p.get("max_messages", 4)),
            holdout_share=float(p.get("holdout_share", 0.0)),
            holdout_salt=salt,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The routing outcome for one message.

    Attributes:
        channel: ``email`` or ``sms``; ``None`` when no channel could be used
            (``no_consent``, ``no_address``, ``already_voted``).
        status: ``pending`` (send from ``not_before``), ``deferred`` (quiet hours: send from
            ``not_before``) or ``suppressed`` (never send).
        reason: ``None`` for a plain pending message; ``fallback_from_email`` /
            ``fallback_from_sms`` when the other channel is used; ``quiet_hours`` when
            deferred; for suppressed: ``already_voted``, ``no_consent``, ``no_address``,
            ``capped``, ``holdout`` or ``consultation_closed``.
        not_before: earliest send time, UTC (``now`` unless deferred).
        locale: the template locale to render in (``en`` or ``fa``).
    """

    channel: str | None
    status: Status
    reason: str | None
    not_before: datetime
    locale: str


def in_holdout(public_id: str, share: float, salt: str = "") -> bool:
    """Tell whether a citizen falls in the reminder holdout group.

    Deterministic: the first 8 bytes of ``SHA-256(salt 0x1F public_id)`` read as an unsigned
    integer and divided by 2**64 give a number u in [0, 1) that is uniform over random
    public ids; the citizen is held out when ``u < share``. The same citizen stays in (or
    out of) the group for every round of a consultation.

    Args:
        public_id: the citizen's public id.
        share: holdout share in [0, 1); 0 holds out nobody.
        salt: e.g. the consultation id.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{salt}\x1f{public_id}".encode()).digest()
    return _held(int.from_bytes(digest[:8], "big"), share)


def _held(prefix: int, share: float) -> bool:
    # the rule of in_holdout on the hash prefix (Python's int / int is correctly rounded)
    return prefix / 2**64 < share


@functools.lru_cache(maxsize=64)
def holdout_cut(share: float) -> int:
    """Return the number of hash prefixes :func:`in_holdout` holds out at ``share``.

    A citizen is held out exactly when the unsigned 64-bit integer read from the first 8
    bytes of their ``SHA-256(salt 0x1F public_id)`` is below the returned bound, so a database
    can apply :func:`in_holdout` by comparing the first 16 hex digits of the digest with the
    bound written as 16 hex digits. Found by bisection on the same float comparison that
    :func:`in_holdout` makes (it is monotone in the prefix), so the two never disagree.

    Args:
        share: holdout share, as for :func:`in_holdout`.
    Returns:
        an integer in [0, 2**64]: 0 holds out nobody, 2**64 everybody.
    """
    if share <= 0:
        return 0
    lo, hi = 0, 2**64  # every prefix below lo is held out, none from hi up
    while lo < hi:
        mid = (lo + hi) // 2
        if _held(mid, share):
            lo = mid + 1
        else:
            hi = mid
    return lo


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_hours_apply(start: int | None, end: int | None) -> bool:
    """Tell whether a policy with local quiet hours ``start``-``end`` (0-23, see
    :class:`RoutingPolicy`) has any: ``False`` when either is ``None`` or they are equal, and
    then :func:`quiet_until` is ``None`` in every time zone at every instant."""
    return start is not None and end is not None and start != end


@functools.lru_cache(maxsize=4096)
def quiet_until(
    now: datetime, time_zone: str, start: int | None, end: int | None
) -> datetime | None:
    """Return when the quiet hours in force at ``now`` end, or ``None`` if it is not quiet.

    Args:
        now: the instant to judge (aware).
        time_zone: the citizen's IANA zone (unknown → UTC).
        start / end: local hours 0-23 (see :class:`RoutingPolicy`).
    Returns:
        the next local ``end:00`` after ``now``, in UTC (DST-aware through zoneinfo; a wall
        time that a DST jump skips is read with the offset before the jump), or ``None``.
    """
    if start is None or end is None or not quiet_hours_apply(start, end):
        return None
    tz = _zone(time_zone)
    local = now.astimezone(tz)
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    until = datetime.combine(day, time(end), tzinfo=tz).astimezone(UTC)
    return until if until > now else now + timedelta(hours=1)


def _has_address(facts: CitizenFacts, channel: str) -> bool:
    return facts.has_email if channel == "email" else facts.has_phone


def choose_channel(
    facts: CitizenFacts, consents: Consents, purpose: str | None
) -> tuple[str | None, str | None]:
    """Pick the channel: preferred first, then the other (rule 3 of the module docstring).

    Returns:
        ``(channel, reason)``: ``(preferred, None)``, ``(other, "fallback_from_<preferred>")``
        or ``(None, "no_consent" | "no_address")``.
    """
    preferred = facts.preferred_channel if facts.preferred_channel in CHANNELS else "email"
    other = "sms" if preferred == "email" else "email"
    for channel in (preferred, other):
        allowed = purpose is None or consents.get((channel, purpose), False)
        if allowed and _has_address(facts, channel):
            return channel, None if channel == preferred else f"fallback_from_{preferred}"
    if purpose is None or any(consents.get((ch, purpose), False) for ch in CHANNELS):
        return None, "no_address"
    return None, "no_consent"


def route(
    facts: CitizenFacts,
    consents: Consents,
    policy: RoutingPolicy,
    now: datetime,
    sent_count: int,
    *,
    kind: str,
    purpose: str | None,
) -> Decision:
    """Decide how (or whether) to send one message of ``kind`` to one citizen.

    Args:
        facts: the citizen (:class:`CitizenFacts`).
        consents: ``{(channel, purpose): opted_in}``.
        policy: the consultation's :class:`RoutingPolicy`.
        now: the current instant, UTC.
        sent_count: messages of :data:`CAPPED_KINDS` already queued or sent to this citizen
            for this consultation (pending, deferred, sending or sent).
        kind: ``invitation``, ``reminder``, ``results``, ``survey_invitation``,
            ``signin_code``.
        purpose: the consent purpose (``invitations``, ``reminders``, ``results``,
            ``surveys``) or ``None`` for a transactional message.
    Returns:
        a :class:`Decision` (rules and reasons in the module docstring).
    """
    locale = resolve_locale(facts.locale)

    def suppressed(reason: str, channel: str | None = None) -> Decision:
        return Decision(channel, "suppressed", reason, now, locale)

    if purpose is None:
        channel, reason = choose_channel(facts, consents, None)
        if channel is None:
            return suppressed(reason or "no_address")
        return Decision(channel, "pending", reason, now, locale)
    if facts.took_part and kind in SKIP_PARTICIPANTS:
        return suppressed("already_voted")
    channel, reason = choose_channel(facts, consents, purpose)
    if channel is None:
        return suppressed(reason or "no_consent")
    if (
        kind in CAPPED_KINDS
        and policy.max_messages is not None
        and sent_count >= policy.max_messages
    ):
        return suppressed("capped", channel)
    if kind == "reminder" and in_holdout(
        facts.public_id, policy.holdout_share, policy.holdout_salt
    ):
        return suppressed("holdout", channel)
    until = quiet_until(now, facts.time_zone, policy.quiet_start, policy.quiet_end)
    if until is not None:
        return Decision(channel, "deferred", "quiet_hours", until, locale)
    return Decision(channel, "pending", reason, now, locale)


def recheck(
    facts: CitizenFacts,
    consents: Consents,
    policy: RoutingPolicy,
    now: datetime,
    *,
    kind: str,
    purpose: str | None,
    channel: str,
    consultation_open: bool = True,
) -> Decision:
    """Decide again, just before sending, for the channel already in the message's key.

    The channel is not switched here (the idempotency key names it); cap and holdout were
    settled when the message was queued and are not re-counted.

    Args:
        facts / consents / policy / now / kind / purpose: as for :func:`route`, read afresh.
        channel: the channel the message was queued for.
        consultation_open: the consultation still takes votes (invitations and reminders
            after closing are suppressed as ``consultation_closed``).
    Returns:
        ``pending`` (send now), ``deferred`` (``quiet_hours``) or ``suppressed`` with
        ``consultation_closed``, ``already_voted``, ``no_consent`` or ``no_address``.
    """
    locale = resolve_locale(facts.locale)
    reason: str | None = None
    if kind in SKIP_PARTICIPANTS and not consultation_open:
        reason = "consultation_closed"
    elif kind in SKIP_PARTICIPANTS and facts.took_part:
        reason = "already_voted"
    elif purpose is not None and not consents.get((channel, purpose), False):
        reason = "no_consent"
    elif not _has_address(facts, channel):
        reason = "no_address"
    if reason is not None:
        return Decision(channel, "suppressed", reason, now, locale)
    if purpose is not None:
        until = quiet_until(now, facts.time_zone, policy.quiet_start, policy.quiet_end)
        if until is not None:
            return Decision(channel, "deferred", "quiet_hours", until, locale)
    return Decision(channel, "pending", None, now, locale)
