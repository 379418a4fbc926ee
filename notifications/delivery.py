"""Delivery: send due outbox rows in batches, after commit, and record what happened.

One batch of :func:`deliver_pending` runs in three short steps, none of which holds a
database transaction open while a provider is called (on SQLite a write transaction would
block every ballot for the length of the call):

1. **Claim** (own transaction, committed): due rows — ``pending`` or ``deferred`` with
   ``not_before <= now`` — oldest first, up to ``batch_size``; on PostgreSQL with
   ``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent workers take disjoint rows (SQLite's
   ``BEGIN IMMEDIATE`` serialises claimers). They become ``sending`` with ``claimed_at = now``
   and ``attempts + 1`` (a claim that ends deferred for quiet hours, or is handed back
   untried, gives its attempt back, so ``attempts`` counts tries that may have reached a
   provider).
2. **Re-check, render, send**: the facts are read again just before sending
   (:func:`notifications.routing.recheck`): a citizen who has voted meanwhile, withdrawn
   consent, lost the address, or whose consultation has closed is not sent the message
   (``suppressed`` with the reason); quiet hours in the citizen's time zone defer it to their
   end. The rest are rendered in the citizen's current locale (subject, text, HTML, SMS), with
   a signed single-purpose unsubscribe link and, for email, ``List-Unsubscribe`` +
   ``List-Unsubscribe-Post`` headers (RFC 2369, RFC 8058); an SMS longer than
   ``settings.sms.max_segments`` parts is rendered again with a shorter title
   (:func:`fit_sms`) and suppressed (``segments_exceeded``) only if it still does not fit.
   Emails go as one ``send_batch`` call, SMS one ``send`` call each.
3. **Record** (second transaction): ``sent`` with the provider id, ``sent_at`` and an
   outbound contact-ledger entry; a permanent refusal → ``failed`` (reason = the provider's
   error code); ``opted_out`` → the channel's consent is withdrawn for every purpose (source
   ``provider_opt_out``), the row and the citizen's other queued rows on that channel are
   ``suppressed``/``opted_out``; a transient refusal → ``deferred`` with exponential backoff
   (60 s · 2^(attempts−1), at most 1 h), or ``failed`` after ``max_attempts`` tries. A row is
   recorded only if it is still ``sending`` with the ``attempts`` value this worker set (its
   claim token), so a worker whose lease expired never overwrites a later claim.

**Stuck rows (the crash rule).** A process can die after the provider accepted a batch and
before step 3 commits. Its rows stay ``sending`` with no provider id and nothing can tell
whether the provider has them. At the start of each run, rows in ``sending`` whose
``claimed_at`` is older than the lease (``lease_seconds``, default 600 s = 10 min) and that
have no provider id are handled by ``on_stuck``:

* ``"resend"`` (the default: **at-least-once**): back to ``pending`` with reason
  ``lease_expired``; they are claimed and sent again, so a message the provider had already
  accepted may arrive twice. Once a row has used ``max_attempts`` tries it is
  ``failed``/``lease_expired`` instead, so a message that crashes its worker cannot loop.
* ``"fail"`` (**at-most-once**): ``failed`` with reason ``lease_expired``; never sent again,
  so a message the provider never received is lost.

Why at-least-once by default: the crash window covers the whole batch (rendering and up to
``batch_size`` provider calls), so at-most-once would silently drop every unsent invitation
in it, and a citizen who never hears of a vote is worse for participation than one who gets a
reminder twice. Duplicates are also limited in practice: the file backend writes each key
once, SMTP messages carry a ``Message-ID`` derived from the key, and SendGrid/Twilio events
carry the key back. Rows in ``sending`` *with* a provider id are never re-sent. The lease must
exceed the longest batch (SendGrid 429 back-off included). A worker that fails with an
exception it can catch (not a kill) records what it learnt before re-raising: messages the
provider answered are recorded, SMS it had not reached yet go back to ``pending`` (reason
``requeued``), and only the message(s) in flight stay ``sending`` for the rule above.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import clock
from core.actor import Actor
from core.contacts import normalize_phone
from core.errors import NotFound, ValidationError
from core.settings import Settings, get_settings
from models import Ballot, Citizen, Consent, Consultation, OutboxMessage
from models.participation import PURPOSES
from notifications.backends import (
    EmailMessageSpec,
    EmailSender,
    SendResult,
    SmsMessageSpec,
    SmsSender,
    make_email_sender,
    make_sms_sender,
)
from notifications.outbox import QUEUED_STATUSES, policy_for, suppress_queued
from notifications.routing import CitizenFacts, Decision, recheck
from notifications.schemas import (
    LEDGER_KIND,
    DeliveryReport,
    SmsReply,
    StuckPolicy,
    UnsubscribeOutcome,
)
from notifications.sms import check_sms_length
from notifications.templating import fa_digits, render_message
from notifications.unsubscribe import (
    is_stop_keyword,
    list_unsubscribe_headers,
    make_token,
    unsubscribe_url,
    verify_token,
)
from participation.citizens import find_citizen, set_consent
from participation.ledger import record_contact
from surveys.rules import parse_sms_answer

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_ORGANIZATION",
    "SECRET_PAYLOAD_KEYS",
    "deliver_pending",
    "handle_sms_reply",
    "handle_unsubscribe",
    "make_senders",
]

DEFAULT_LEASE_SECONDS: Final = 600.0
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_ORGANIZATION: Final = "CivicFlow"
"""Sender name shown in messages when the payload has no ``organization``."""
SECRET_PAYLOAD_KEYS: Final = frozenset({"code"})
"""Payload values removed once a message is sent or has failed (sign-in codes)."""
BACKOFF_BASE_SECONDS: Final = 60
BACKOFF_MAX_SECONDS: Final = 3600
WHEN_FORMAT: Final = "EEEE d MMMM, HH:mm"
#: Persian writes the Arabic comma "،" (U+060C), not the Latin one
WHEN_FORMAT_FA: Final = "EEEE d MMMM، HH:mm"
SYSTEM: Final = Actor(kind="system", name="delivery")

SessionFactory = sessionmaker[Session]


@contextmanager
def _tx(factory: SessionFactory) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass(slots=True)
class _Claimed:
    id: int
    key: str
    citizen_id: int
    consultation_id: int | None
    kind: str
    purpose: str | None
    channel: str
    template: str
    payload: dict[str, Any]
    attempts: int
    not_before: datetime


@dataclass(slots=True)
class _Outcome:
    status: str
    reason: str | None = None
    provider_id: str | None = None
    not_before: datetime | None = None
    opted_out: bool = False


@dataclass(slots=True)
class _Tally:
    claimed: int = 0
    batches: int = 0
    recovered: int = 0
    counts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, channel: str, outcome: _Outcome) -> None:
        self.counts[channel][outcome.status] += 1
        if outcome.reason and outcome.status != "sent":
            self.reasons[outcome.reason] += 1

    def report(self) -> DeliveryReport:
        return DeliveryReport(
            self.claimed,
            self.batches,
            self.recovered,
            {ch: dict(sorted(c.items())) for ch, c in sorted(self.counts.items())},
            dict(sorted(self.reasons.items())),
        )


def make_senders(
    settings: Settings | None = None, *, outbox_dir: str | None = None
) -> tuple[EmailSender, SmsSender]:
    """Build the email and SMS senders the settings name (``email.backend``, ``sms.backend``).

    Args:
        settings: default :func:`core.settings.get_settings`.
        outbox_dir: override ``app.outbox_dir`` for the ``file`` backends.
    Raises:
        ValidationError: (field ``kind``) an unknown backend name.
    """
    st = settings or get_settings()
    folder = outbox_dir or str(st.app.outbox_dir)
    em, sm = st.email, st.sms
    email_configs: dict[str, dict[str, Any]] = {
        "file": {"outbox_dir": folder, "from_email": em.from_address},
        "memory": {},
        "smtp": {
            "host": em.smtp_host,
            "port": em.smtp_port,
            "from_email": em.from_address,
            "starttls": em.smtp_starttls,
            "username": em.smtp_username,
            "password": em.smtp_password.get_secret_value() if em.smtp_password else None,
        },
        "sendgrid": {
            "api_key": em.sendgrid_api_key.get_secret_value() if em.sendgrid_api_key else "",
            "from_email": em.from_address,
            "host": em.sendgrid_host,
        },
    }
    email_config = email_configs.get(em.backend, {})
    sms_configs: dict[str, dict[str, Any]] = {
        "file": {"outbox_dir": folder},
        "memory": {},
        "twilio": {
            "account_sid": sm.twilio_account_sid,
            "auth_token": sm.twilio_auth_token.get_secret_value() if sm.twilio_auth_token else None,
            "messaging_service_sid": sm.twilio_messaging_service_sid,
            "status_callback": sm.status_callback_url,
        },
    }
    sms_config = sms_configs.get(sm.backend, {})
    return make_email_sender(em.backend, **email_config), make_sms_sender(sm.backend, **sms_config)


def deliver_pending(
    bind: Engine | SessionFactory,
    *,
    email_sender: EmailSender,
    sms_sender: SmsSender,
    batch_size: int = 500,
    now: datetime | None = None,
    limit: int | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    on_stuck: StuckPolicy = "resend",
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    settings: Settings | None = None,
    only: Sequence[int] | None = None,
) -> DeliveryReport:
    """Send every due outbox row, batch by batch, until none is due (or ``limit`` is reached).

    Args:
        bind: an engine, or a session factory (each step opens and commits its own session).
        email_sender / sms_sender: the backends (:func:`make_senders`).
        batch_size: rows claimed per batch (≤ 1000 keeps one SendGrid request per batch).
        now: the instant to deliver at, UTC; default :func:`core.clock.now` per batch.
        limit: claim at most this many rows in this run.
        lease_seconds: age of a ``sending`` claim after which the row counts as stuck.
        on_stuck: ``"resend"`` (at-least-once, default) or ``"fail"`` (at-most-once) — see
            the module docstring.
        max_attempts: tries after which a transiently failing or stuck row is ``failed``.
        settings: for the app URL, signing secret and SMS segment limit.
        only: send only these outbox rows (ids), if still due and queued, and skip the
            recovery of stuck rows — e.g. a sign-in code the app sends at once instead of
            waiting for the next scheduled run. The claim is the same as every run's, so
            a scheduled run at the same moment cannot send the row a second time.
    Returns:
        a :class:`~notifications.schemas.DeliveryReport`.
    Raises:
        ValidationError: bad ``batch_size``, ``limit``, ``on_stuck`` or ``max_attempts``.
        Any exception a sender raises is re-raised after what is known has been recorded.
    """
    if batch_size < 1:
        raise ValidationError(f"must be at least 1 (got {batch_size})", field="batch_size")
    if limit is not None and limit < 1:
        raise ValidationError(f"must be at least 1 (got {limit})", field="limit")
    if on_stuck not in ("resend", "fail"):
        raise ValidationError(f"must be resend or fail (got {on_stuck!r})", field="on_stuck")
    if max_attempts < 1:
        raise ValidationError(f"must be at least 1 (got {max_attempts})", field="max_attempts")
    factory = (
        bind if isinstance(bind, sessionmaker) else sessionmaker(bind=bind, expire_on_commit=False)
    )
    st = settings or get_settings()
    tally = _Tally()
    if only is None:
        with _tx(factory) as s:
            tally.recovered = _recover_stuck(
                s, now or clock.now(), lease_seconds, on_stuck, max_attempts
            )
    while limit is None or tally.claimed < limit:
        at = now or clock.now()
        size = batch_size if limit is None else min(batch_size, limit - tally.claimed)
        with _tx(factory) as s:
            batch = _claim(s, at, size, only)
        if not batch:
            break
        tally.claimed += len(batch)
        tally.batches += 1
        _process(factory, batch, at, email_sender, sms_sender, max_attempts, st, tally)
    return tally.report()


def send_now(
    bind: Engine | SessionFactory, message_ids: Sequence[int], *, settings: Settings | None = None
) -> DeliveryReport:
    """Send these outbox rows at once, through the backends the settings name — for messages
    a person is waiting for (a sign-in code), instead of at the next scheduled run (every
    minute under ``civicflow up``; never when only the app runs).

    Args:
        bind: an engine or a session factory.
        message_ids: outbox row ids; rows already sent, or not due yet, are left alone.
        settings: default :func:`core.settings.get_settings`.
    Returns:
        the :class:`~notifications.schemas.DeliveryReport` of those rows.
    Raises:
        whatever building the senders or sending raises. A row this call claimed and could
        not finish is put back as ``pending``, due now, for the next scheduled run — not
        left ``sending`` until its lease runs out (10 minutes: as long as a sign-in code
        lives). At least once: if the provider took it before failing, it goes twice.
    """
    email_sender, sms_sender = make_senders(settings)
    at = clock.now()
    try:
        return deliver_pending(
            bind, email_sender=email_sender, sms_sender=sms_sender, settings=settings,
            only=message_ids, now=at,
        )
    except Exception:
        factory = (
            bind if isinstance(bind, sessionmaker)
            else sessionmaker(bind=bind, expire_on_commit=False)
        )
        with _tx(factory) as s:
            s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(list(message_ids)),
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_at == at,  # claimed by this call, no other
                )
                .values(status="pending", claimed_at=None, not_before=at)
            )
        raise


def _recover_stuck(
    session: Session, now: datetime, lease_seconds: float, on_stuck: str, max_attempts: int
) -> int:
    cutoff = now - timedelta(seconds=lease_seconds)
    stuck = (
        (OutboxMessage.status == "sending")
        & (OutboxMessage.claimed_at < cutoff)
        & OutboxMessage.provider_id.is_(None)
    )
    total = 0
    if on_stuck == "resend":
        total += _rowcount(
            session.execute(
                update(OutboxMessage)
                .where(stuck, OutboxMessage.attempts < max_attempts)
                .values(status="pending", reason="lease_expired")
                .execution_options(synchronize_session=False)
            )
        )
    total += _rowcount(
        session.execute(
            update(OutboxMessage)
            .where(stuck)
            .values(status="failed", reason="lease_expired")
            .execution_options(synchronize_session=False)
        )
    )
    return total


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _claim(
    session: Session, now: datetime, size: int, only: Sequence[int] | None = None
) -> list[_Claimed]:
    table = cast(Table, OutboxMessage.__table__)
    due = (
        select(table.c.id)
        .where(table.c.status.in_(QUEUED_STATUSES), table.c.not_before <= now)
        .order_by(table.c.not_before, table.c.id)
        .limit(size)
    )
    if only is not None:
        due = due.where(table.c.id.in_(list(only)))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    session.execute(
        table.update()
        .where(table.c.id.in_(ids))
        .values(status="sending", claimed_at=now, attempts=table.c.attempts + 1)
    )
    rows = session.execute(
        select(
            table.c.id,
            table.c.idempotency_key,
            table.c.citizen_id,
            table.c.consultation_id,
            table.c.kind,
            table.c.purpose,
            table.c.channel,
            table.c.template,
            table.c.payload,
            table.c.attempts,
            table.c.not_before,
        )
        .where(table.c.id.in_(ids))
        .order_by(table.c.id)
    ).all()
    return [
        _Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], dict(r[8] or {}), r[9], r[10])
        for r in rows
    ]


@dataclass(slots=True)
class _Person:
    public_id: str
    email: str | None
    phone: str | None
    name: str
    facts: CitizenFacts


def _read_facts(
    session: Session, batch: Sequence[_Claimed]
) -> tuple[
    dict[int, _Person],
    dict[int, dict[tuple[str, str], bool]],
    set[tuple[int, int]],
    dict[int, Consultation],
]:
    citizen_ids = sorted({m.citizen_id for m in batch})
    cons_ids = sorted({m.consultation_id for m in batch if m.consultation_id is not None})
    ballots: set[tuple[int, int]] = set()
    if cons_ids:
        ballots = {
            (r[0], r[1])
            for r in session.execute(
                select(Ballot.consultation_id, Ballot.citizen_id).where(
                    Ballot.consultation_id.in_(cons_ids), Ballot.citizen_id.in_(citizen_ids)
                )
            )
        }
    people: dict[int, _Person] = {}
    for r in session.execute(
        select(
            Citizen.id,
            Citizen.public_id,
            Citizen.email,
            Citizen.phone,
            Citizen.display_name,
            Citizen.preferred_channel,
            Citizen.locale,
            Citizen.time_zone,
        ).where(Citizen.id.in_(citizen_ids))
    ):
        people[r[0]] = _Person(
            r[1],
            r[2],
            r[3],
            r[4],
            CitizenFacts(
                public_id=r[1],
                has_email=r[2] is not None,
                has_phone=r[3] is not None,
                preferred_channel=r[5],
                locale=r[6],
                time_zone=r[7],
            ),
        )
    consents: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    for k in session.execute(
        select(Consent.citizen_id, Consent.channel, Consent.purpose, Consent.opted_in).where(
            Consent.citizen_id.in_(citizen_ids)
        )
    ):
        consents[k[0]][(k[1], k[2])] = bool(k[3])
    consultations = (
        {
            c.id: c
            for c in session.execute(
                select(Consultation).where(Consultation.id.in_(cons_ids))
            ).scalars()
        }
        if cons_ids
        else {}
    )
    return people, consents, ballots, consultations


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@functools.lru_cache(maxsize=1024)
def format_when(iso: str, locale: str, time_zone: str) -> str:
    """Format an ISO 8601 UTC instant for a message: ``Friday 10 July, 17:00`` in the given
    zone (Babel, CLDR month and day names); Persian gets Persian digits."""
    when = clock.ensure_utc(datetime.fromisoformat(iso))
    pattern = WHEN_FORMAT_FA if locale == "fa" else WHEN_FORMAT
    text = str(format_datetime(when, pattern, tzinfo=_zone(time_zone), locale=locale))
    return fa_digits(text) if locale == "fa" else text


def _votes(votes: int, locale: str) -> str:
    if locale == "fa":
        return f"{fa_digits(votes)} رأی"
    return f"{votes} vote" if votes == 1 else f"{votes} votes"


def _context(
    msg: _Claimed, person: _Person, locale: str, st: Settings
) -> tuple[dict[str, Any], str]:
    ctx: dict[str, Any] = dict(msg.payload)
    tz = str(ctx.get("time_zone") or person.facts.time_zone or "UTC")
    for key, value in msg.payload.items():
        if key.endswith("_utc") and isinstance(value, str):
            ctx[key.removesuffix("_utc")] = format_when(value, locale, tz)
    if isinstance(ctx.get("proposals"), list):
        ctx["proposals"] = [
            {**p, "result": p.get("result") or _votes(int(p.get("votes", 0)), locale)}
            for p in ctx["proposals"]
            if isinstance(p, Mapping)
        ]
    ctx.setdefault("organization", DEFAULT_ORGANIZATION)
    ctx["citizen_name"] = " ".join(person.name.split())
    secret = st.app.secret_key.get_secret_value()
    token = make_token(
        citizen_public_id=person.public_id,
        channel=msg.channel,
        purpose=msg.purpose or "all",
        secret=secret,
    )
    # the link in the text goes to the app's page; the List-Unsubscribe header goes to the
    # webhook server, which takes RFC 8058 one-click POSTs and sends a GET on to that page
    ctx["unsubscribe_url"] = unsubscribe_url(f"{st.app.base_url.rstrip('/')}/unsubscribe", token)
    return ctx, unsubscribe_url(f"{st.app.hooks_base_url.rstrip('/')}/unsubscribe", token)


def _prepare(
    batch: Sequence[_Claimed],
    facts: tuple[Any, ...],
    now: datetime,
    st: Settings,
) -> tuple[
    dict[int, _Outcome],
    list[tuple[_Claimed, EmailMessageSpec]],
    list[tuple[_Claimed, SmsMessageSpec]],
]:
    people, consents, ballots, consultations = facts
    policies = {cid: policy_for(c) for cid, c in consultations.items()}
    default_policy = policy_for(None)
    outcomes: dict[int, _Outcome] = {}
    emails: list[tuple[_Claimed, EmailMessageSpec]] = []
    sms: list[tuple[_Claimed, SmsMessageSpec]] = []
    for msg in batch:
        person = people.get(msg.citizen_id)
        if person is None:
            outcomes[msg.id] = _Outcome("suppressed", "no_citizen")
            continue
        cons = consultations.get(msg.consultation_id) if msg.consultation_id else None
        running = cons is None or (cons.status in ("published", "open") and now < cons.closes_at)
        took_part = (msg.consultation_id, msg.citizen_id) in ballots
        decision: Decision = recheck(
            CitizenFacts(
                person.facts.public_id,
                person.facts.has_email,
                person.facts.has_phone,
                person.facts.preferred_channel,
                person.facts.locale,
                person.facts.time_zone,
                took_part,
            ),
            consents.get(msg.citizen_id, {}),
            policies[cons.id] if cons is not None else default_policy,
            now,
            kind=msg.kind,
            purpose=msg.purpose,
            channel=msg.channel,
            consultation_open=running,
        )
        if decision.status != "pending":
            outcomes[msg.id] = _Outcome(
                decision.status, decision.reason, not_before=decision.not_before
            )
            continue
        try:
            ctx, url = _context(msg, person, decision.locale, st)
            rendered = render_message(msg.template, decision.locale, ctx)
            if msg.channel == "email":
                headers = list_unsubscribe_headers(url) if msg.purpose else {}
                emails.append(
                    (
                        msg,
                        EmailMessageSpec(
                            key=msg.key,
                            to=person.email or "",
                            subject=rendered.subject,
                            text=rendered.text,
                            html=rendered.html,
                            headers=headers,
                            to_name=ctx["citizen_name"] or None,
                        ),
                    )
                )
            else:
                body = fit_sms(msg.template, decision.locale, ctx, st.sms.max_segments,
                               first=rendered.sms)
                if body is None:
                    outcomes[msg.id] = _Outcome("suppressed", "segments_exceeded")
                    continue
                sms.append((msg, SmsMessageSpec(key=msg.key, to=person.phone or "", body=body)))
        except ValidationError as exc:
            outcomes[msg.id] = _Outcome("failed", f"invalid:{exc.field or 'message'}")
    return outcomes, emails, sms


#: the title lengths (characters) an SMS template is tried with, longest first
SMS_TITLE_STEPS: Final = (40, 24, 12, 1)


def fit_sms(
    template: str,
    locale: str,
    ctx: Mapping[str, Any],
    max_segments: int,
    *,
    first: str | None = None,
) -> str | None:
    """Render an SMS that fits ``max_segments`` parts, shortening the title if it must.

    The SMS templates cut the consultation or survey title to ``title_chars`` characters
    (40 by default, ending in "…"). A title with one non-GSM-7 letter (Polish "ł", any
    Persian text) makes the whole SMS UCS-2, 67 units per part, so a long link and a
    40-character title can need four parts. The link, the deadline and the opt-out line
    matter more than the title's tail: the title is tried at :data:`SMS_TITLE_STEPS`
    characters until the text fits.

    Args:
        template / locale / ctx: as for :func:`notifications.templating.render_message`.
        max_segments: the most SMS parts allowed (``settings.sms.max_segments``).
        first: the SMS already rendered with the default title length, if the caller has it.
    Returns:
        The SMS text, or None when even a one-character title does not fit (the caller
        suppresses the message as ``segments_exceeded``).
    Raises:
        ValidationError: the template is unknown or misses a variable (from rendering).
    """
    for chars in SMS_TITLE_STEPS:
        if first is not None and chars == SMS_TITLE_STEPS[0]:
            text = first
        else:
            text = render_message(template, locale, {**ctx, "title_chars": chars}).sms
        try:
            check_sms_length(text, max_segments=max_segments)
        except ValidationError:
            continue
        return text
    return None


def _backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    )


def _from_result(result: SendResult, msg: _Claimed, now: datetime, max_attempts: int) -> _Outcome:
    if result.ok:
        return _Outcome("sent", None, result.provider_id)
    if result.opted_out:
        return _Outcome("suppressed", "opted_out", opted_out=True)
    code = result.error_code or "unknown"
    if result.permanent or msg.attempts >= max_attempts:
        return _Outcome("failed", code)
    return _Outcome("deferred", code, not_before=now + _backoff(msg.attempts))


def _process(
    factory: SessionFactory,
    batch: list[_Claimed],
    now: datetime,
    email_sender: EmailSender,
    sms_sender: SmsSender,
    max_attempts: int,
    st: Settings,
    tally: _Tally,
) -> None:
    with _tx(factory) as s:
        facts = _read_facts(s, batch)
    outcomes, emails, sms = _prepare(batch, facts, now, st)
    requeue: list[int] = []
    error: BaseException | None = None
    sms_started = False
    try:
        if emails:
            by_key = {r.key: r for r in email_sender.send_batch([spec for _, spec in emails])}
            for msg, _spec in emails:
                if msg.key in by_key:  # a key the backend did not answer for stays "sending"
                    outcomes[msg.id] = _from_result(by_key[msg.key], msg, now, max_attempts)
        sms_started = True
        for i, (msg, spec) in enumerate(sms):
            try:
                result = sms_sender.send(spec)
            except BaseException:
                requeue = [m.id for m, _ in sms[i + 1 :]]
                raise
            outcomes[msg.id] = _from_result(result, msg, now, max_attempts)
    except BaseException as exc:
        error = exc
        if not sms_started:  # the email batch failed: no SMS was tried
            requeue = [m.id for m, _ in sms]
    _record(factory, batch, outcomes, requeue, now, tally)
    if error is not None:
        raise error


def _record(
    factory: SessionFactory,
    batch: Sequence[_Claimed],
    outcomes: Mapping[int, _Outcome],
    requeue: Sequence[int],
    now: datetime,
    tally: _Tally,
) -> None:
    table = cast(Table, OutboxMessage.__table__)
    by_id = {m.id: m for m in batch}
    with _tx(factory) as s:
        mine_q = select(table.c.id, table.c.attempts).where(
            table.c.id.in_(list(by_id)), table.c.status == "sending"
        )
        if s.get_bind().dialect.name == "postgresql":
            mine_q = mine_q.with_for_update()
        mine = {r[0] for r in s.execute(mine_q) if r[1] == by_id[r[0]].attempts}
        params: list[dict[str, Any]] = []
        scrub: list[dict[str, Any]] = []
        for msg_id, outcome in outcomes.items():
            if msg_id not in mine:
                continue
            msg = by_id[msg_id]
            params.append(
                {
                    "b_id": msg_id,
                    "b_status": outcome.status,
                    "b_reason": outcome.reason,
                    "b_provider_id": outcome.provider_id,
                    "b_sent_at": now if outcome.status == "sent" else None,
                    "b_not_before": outcome.not_before or msg.not_before,
                    # a quiet-hours deferral reached no provider: it is not an attempt
                    "b_attempts": msg.attempts - (outcome.reason == "quiet_hours"),
                }
            )
            if outcome.status in ("sent", "failed", "suppressed") and (
                SECRET_PAYLOAD_KEYS & msg.payload.keys()
            ):
                scrub.append(
                    {
                        "b_id": msg_id,
                        "b_payload": {
                            k: v for k, v in msg.payload.items() if k not in SECRET_PAYLOAD_KEYS
                        },
                    }
                )
            tally.add(msg.channel, outcome)
            if outcome.status == "sent":
                record_contact(
                    s,
                    citizen_id=msg.citizen_id,
                    channel=msg.channel,
                    direction="outbound",
                    kind=LEDGER_KIND.get(msg.kind, msg.kind),
                    ref_table="outbox_message",
                    ref_id=msg.id,
                    consultation_id=msg.consultation_id,
                    at=now,
                )
        for msg_id in requeue:
            if msg_id in mine and msg_id not in outcomes:
                params.append(
                    {
                        "b_id": msg_id,
                        "b_status": "pending",
                        "b_reason": "requeued",
                        "b_provider_id": None,
                        "b_sent_at": None,
                        "b_not_before": by_id[msg_id].not_before,
                        "b_attempts": by_id[msg_id].attempts - 1,
                    }
                )
                tally.add(by_id[msg_id].channel, _Outcome("pending", "requeued"))
        if params:
            s.execute(
                table.update()
                .where(table.c.id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    reason=bindparam("b_reason"),
                    provider_id=bindparam("b_provider_id"),
                    sent_at=bindparam("b_sent_at"),
                    not_before=bindparam("b_not_before"),
                    attempts=bindparam("b_attempts"),
                ),
                params,
            )
        if scrub:
            s.execute(
                table.update()
                .where(table.c.id == bindparam("b_id"))
                .values(payload=bindparam("b_payload")),
                scrub,
            )
        for msg_id, outcome in outcomes.items():
            if outcome.opted_out and msg_id in mine:
                msg = by_id[msg_id]
                set_consent(
                    s,
                    citizen_id=msg.citizen_id,
                    channel=msg.channel,
                    purpose=None,
                    opted_in=False,
                    source="provider_opt_out",
                    actor=SYSTEM,
                )
                suppress_queued(
                    s,
                    citizen_id=msg.citizen_id,
                    channel=msg.channel,
                    purposes=PURPOSES,
                    reason="opted_out",
                )


def _parse_digit(text: str) -> int | None:
    try:
        return parse_sms_answer(text, scale_min=0, scale_max=10)
    except ValidationError:
        return None


def handle_sms_reply(session: Session, *, phone: str, text: str) -> SmsReply:
    """Act on an inbound SMS (Twilio's ``From`` and ``Body``), in the caller's transaction.

    A stop keyword (:func:`notifications.unsubscribe.is_stop_keyword`: STOP, UNSUBSCRIBE,
    END, … and the Persian لغو / توقف) withdraws the citizen's SMS consent for every purpose
    (source ``sms_stop``), suppresses their queued SMS (reason ``opted_out``) and adds an
    inbound ``request`` to the contact ledger. A number 0-10 (Latin, Persian or Arabic-Indic
    digits) is returned as ``digit`` for a survey to use; nothing is stored for it yet.

    Args:
        phone: the sender's number (E.164, or national in ``settings.sms.default_region``).
        text: the message body.
    Returns:
        an :class:`~notifications.schemas.SmsReply`; ``unknown_sender`` when no citizen has
        the number (nothing is changed).
    """
    try:
        e164 = normalize_phone(phone.strip(), default_region=get_settings().sms.default_region)
    except ValidationError:
        return SmsReply("unknown_sender")
    citizen = find_citizen(session, phone=e164)
    if citizen is None:
        return SmsReply("unknown_sender")
    if is_stop_keyword(text):
        set_consent(
            session,
            citizen_id=citizen.id,
            channel="sms",
            purpose=None,
            opted_in=False,
            source="sms_stop",
            actor=Actor(kind="citizen", id=citizen.id),
        )
        n = suppress_queued(
            session, citizen_id=citizen.id, channel="sms", purposes=PURPOSES, reason="opted_out"
        )
        record_contact(
            session, citizen_id=citizen.id, channel="sms", direction="inbound", kind="request"
        )
        return SmsReply("stop", citizen.id, None, n)
    digit = _parse_digit(text)
    if digit is not None:
        return SmsReply("digit", citizen.id, digit)
    return SmsReply("other", citizen.id)


def handle_unsubscribe(
    session: Session, *, token: str, secret: str | None = None
) -> UnsubscribeOutcome:
    """Withdraw the consent an unsubscribe link names, in the caller's transaction.

    The token (:func:`notifications.unsubscribe.make_token`) names one citizen, channel and
    purpose; purpose ``all`` (links in transactional messages) withdraws every purpose on the
    channel. Queued messages it covers are suppressed (reason ``opted_out``). Idempotent.

    Args:
        token: from the link's ``token`` query parameter.
        secret: the signing secret (default ``settings.app.secret_key``).
    Returns:
        an :class:`~notifications.schemas.UnsubscribeOutcome`.
    Raises:
        ValidationError: (field ``token``) forged, altered or malformed token.
        NotFound: (field ``token``) the citizen no longer exists.
    """
    key = secret or get_settings().app.secret_key.get_secret_value()
    claim = verify_token(token, secret=key)
    if claim.purpose != "all" and claim.purpose not in PURPOSES:
        raise ValidationError("this unsubscribe link is not valid", field="token")
    citizen = find_citizen(session, public_id=claim.citizen_public_id)
    if citizen is None:
        raise NotFound("this unsubscribe link names no citizen", field="token")
    purposes = tuple(PURPOSES) if claim.purpose == "all" else (claim.purpose,)
    set_consent(
        session,
        citizen_id=citizen.id,
        channel=claim.channel,
        purpose=None if claim.purpose == "all" else claim.purpose,
        opted_in=False,
        source="unsubscribe_link",
        actor=Actor(kind="citizen", id=citizen.id),
    )
    n = suppress_queued(
        session, citizen_id=citizen.id, channel=claim.channel, purposes=purposes, reason="opted_out"
    )
    return UnsubscribeOutcome(citizen.id, claim.channel, purposes, n)
