"""Signing in: staff passwords (argon2) and one-time codes for citizens (DESIGN §9).

Staff users sign in with a username and a password; only an argon2id hash is stored
(``argon2-cffi``'s ``PasswordHasher`` defaults, RFC 9106), and a hash made with older
parameters is upgraded on the next successful sign-in. After ``settings.auth
.staff_max_failures`` wrong passwords in a row for one username (within
``staff_failure_window_minutes`` of the first), that username is locked for
``staff_lockout_minutes``: every attempt is refused without checking the password, so the
answer says nothing about whether it was right (NIST SP 800-63B §5.2.2, rate limiting).
The count lives in the ``staff_signin_throttle`` table, keyed by an HMAC of the username
as typed, so every app process shares it and unknown usernames are counted and locked
exactly like known ones. Attempts for one username are serialised on that row (``SELECT
… FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so parallel guesses cannot
slip past the limit.

Citizens sign in with a random six-digit code sent by email or SMS through the outbox
(:func:`notifications.outbox.enqueue_signin_code`; delivery sends it after commit). A code

* is stored only as ``salt$HMAC-SHA256(secret_key, salt | citizen | code)`` in the
  ``signin_code`` table — the HMAC key (``settings.app.secret_key``) is what keeps a
  stolen table from being brute-forced over the 10⁶ possible codes;
* expires :data:`CODE_MINUTES` minutes after it was requested and is used once;
* replaces every earlier unused code of the same citizen (only the newest one works);
* is burnt after :data:`MAX_ATTEMPTS` wrong guesses;
* may be requested at most :data:`MAX_REQUESTS` times per :data:`REQUEST_WINDOW_MINUTES`
  minutes per citizen.

:func:`verify_signin_code` and :func:`verify_staff_password` *return* a refusal instead of
raising it, so the caller commits the attempt counter along with the refusal (a service
that raised would have its counter rolled back, and the guess limit would never bite).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.contacts import normalize_email, normalize_phone
from core.errors import Conflict, NotAllowed, ValidationError
from core.settings import get_settings
from models import Citizen, SigninCode, StaffSigninThrottle, StaffUser
from models.participation import ROLES
from participation.audit import append_event

__all__ = [
    "CODE_MINUTES",
    "MAX_ATTEMPTS",
    "MAX_REQUESTS",
    "MIN_PASSWORD_CHARS",
    "REQUEST_WINDOW_MINUTES",
    "CodeRequest",
    "SigninResult",
    "StaffOut",
    "StaffSignin",
    "citizen_actor",
    "create_staff_user",
    "request_signin_code",
    "staff_actor",
    "verify_signin_code",
    "verify_staff_password",
]

CODE_MINUTES: Final = 10
"""Minutes a sign-in code stays valid."""
MAX_ATTEMPTS: Final = 5
"""Wrong guesses after which a code is burnt."""
MAX_REQUESTS: Final = 3
"""Codes a citizen may request per :data:`REQUEST_WINDOW_MINUTES`."""
REQUEST_WINDOW_MINUTES: Final = 15
MIN_PASSWORD_CHARS: Final = 10
"""Shortest staff password accepted (NIST SP 800-63B asks for at least 8)."""

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs the same time
# as a wrong password and does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class StaffOut:
    """A staff user (no password hash).

    Attributes:
        id: row id. username: sign-in name. display_name: shown in the app.
        role: ``organizer``, ``council`` or ``admin``.
    """

    id: int
    username: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class StaffSignin:
    """The outcome of a staff password check.

    Attributes:
        staff: the signed-in user, or ``None`` when refused.
        reason: ``None`` on success, else ``wrong_credentials`` (the same for an unknown
            username and a wrong password) or ``locked`` (too many wrong passwords in a row
            for this username: the password was not checked, or was the last wrong one).
        locked_until: with ``locked``, when attempts are accepted again (aware, UTC).
    """

    staff: StaffOut | None
    reason: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """What :func:`request_signin_code` did.

    The page shows the same words whether or not the address belongs to a citizen, so the
    form does not reveal who is registered.

    Attributes:
        sent: a code was made and queued (False: no citizen has this address).
        channel: ``email`` or ``sms`` the message is queued on (None when not sent).
        expires_at: when the code stops working, UTC (None when not sent).
        signin_code_id: the ``signin_code`` row (tests read the queued message by it).
        outbox_message_id: the queued ``outbox_message`` row.
    """

    sent: bool
    channel: str | None = None
    expires_at: datetime | None = None
    signin_code_id: int | None = None
    outbox_message_id: int | None = None


SigninReason = Literal["unknown", "no_code", "expired", "wrong_code", "burnt"]


@dataclass(frozen=True, slots=True)
class SigninResult:
    """The outcome of a sign-in code check.

    Attributes:
        citizen_id: the signed-in citizen, or ``None`` when refused.
        display_name / locale: the citizen's name and language (on success).
        reason: ``None`` on success; else ``unknown`` (no such citizen), ``no_code``
            (nothing requested or already used), ``expired``, ``wrong_code`` or ``burnt``
            (too many wrong guesses: ask for a new code).
        attempts_left: wrong guesses left on the current code (``wrong_code`` only).
    """

    citizen_id: int | None
    display_name: str | None = None
    locale: str | None = None
    reason: SigninReason | None = None
    attempts_left: int | None = None

    @property
    def ok(self) -> bool:
        """True when the citizen is signed in."""
        return self.citizen_id is not None


def staff_actor(staff: StaffOut) -> Actor:
    """Return the :class:`Actor` a signed-in staff user acts as."""
    return Actor(kind="staff", id=staff.id, role=staff.role, name=staff.username)


def citizen_actor(citizen_id: int) -> Actor:
    """Return the :class:`Actor` a signed-in citizen acts as (no name: the log holds no PII)."""
    return Actor(kind="citizen", id=citizen_id)


def create_staff_user(
    session: Session,
    *,
    username: str,
    role: str,
    password: str,
    actor: Actor,
    display_name: str | None = None,
    email: str | None = None,
) -> StaffOut:
    """Create a staff user with an argon2id password hash.

    Args:
        username: 3-80 characters of letters, digits, ``.``, ``_`` and ``-`` (kept lower-case).
        role: ``organizer``, ``council`` or ``admin``.
        password: at least :data:`MIN_PASSWORD_CHARS` characters; only its hash is stored.
        actor: an admin, or the system (the ``civicflow staff add`` command).
        display_name: shown in the app (default: the username).
        email: optional work address.
    Returns:
        the new :class:`StaffOut`.
    Raises:
        NotAllowed: the actor is not an admin. ValidationError: bad username, role or
        password (named). Conflict: the username is taken.
    """
    actor.require_staff("admin")
    name = username.strip().lower()
    if not (3 <= len(name) <= 80) or not all(
        ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name
    ):
        raise ValidationError(
            "3-80 characters of letters, digits, '.', '_' and '-'", field="username"
        )
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError(
            f"at least {MIN_PASSWORD_CHARS} characters (got {len(password)})", field="password"
        )
    row = StaffUser(
        username=name,
        display_name=(display_name or name).strip() or name,
        email=normalize_email(email) if email else None,
        role=role,
        password_hash=_hasher.hash(password),
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"the username {name!r} is taken", field="username") from None
    append_event(
        session,
        actor=actor,
        action="staff.create",
        subject=f"staff_user:{row.id}",
        payload={"username": name, "role": role},
    )
    return StaffOut(row.id, row.username, row.display_name, row.role)


def _username_digest(name: str) -> str:
    """HMAC-SHA256 (hex) of a lower-cased username under the app's secret key: the key of
    its throttle row, so nothing typed into the username field is stored as such."""
    key = get_settings().app.secret_key.get_secret_value().encode()
    return hmac.new(key, b"staff-signin\x1f" + name.encode(), hashlib.sha256).hexdigest()


def _throttle(session: Session, name: str, now: datetime) -> StaffSigninThrottle:
    """Return the username's throttle row, locked for this transaction (created if missing)."""
    digest = _username_digest(name)
    stmt = (
        select(StaffSigninThrottle)
        .where(StaffSigninThrottle.username_digest == digest)
        .with_for_update()
    )
    row = session.execute(stmt).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = StaffSigninThrottle(
                username_digest=digest, failures=0, first_failure_at=now, locked_until=None
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        # another process made the row meanwhile (and has committed): use and lock theirs
        return session.execute(stmt).scalar_one()
    return row


def verify_staff_password(session: Session, *, username: str, password: str) -> StaffSignin:
    """Check a staff user's password, at most ``settings.auth.staff_max_failures`` wrong
    ones in a row per username; upgrade an outdated hash on success.

    While a username is locked every attempt is refused before the password is looked at
    (no argon2 work, and the answer is the same whether the password was right). A lock
    ends ``staff_lockout_minutes`` after the failure that caused it; failures further apart
    than ``staff_failure_window_minutes`` from the first of a run start a new count; a
    successful sign-in clears the count. Unknown usernames are counted and locked the same
    way, and cost the same argon2 check, so neither the answer nor its timing shows which
    usernames exist. The caller must commit whatever this returns (the count is written
    in the caller's transaction).

    Args:
        username: as typed (case-insensitive; surrounding spaces ignored).
        password: as typed.
    Returns:
        :class:`StaffSignin` with the user; or with ``reason="wrong_credentials"``; or
        with ``reason="locked"`` and ``locked_until`` (UTC) — also on the wrong password
        that reaches the limit.
    """
    policy = get_settings().auth
    now = clock.now()
    name = username.strip().lower()
    throttle = _throttle(session, name, now)
    if throttle.locked_until is not None and now < throttle.locked_until:
        return StaffSignin(None, "locked", throttle.locked_until)
    window = timedelta(minutes=policy.staff_failure_window_minutes)
    if throttle.locked_until is not None or now >= throttle.first_failure_at + window:
        throttle.failures, throttle.locked_until = 0, None  # lock over, or the run too old
    row = session.execute(select(StaffUser).where(StaffUser.username == name)).scalar_one_or_none()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = row is not None and bool(row.password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row.password_hash:
        if throttle.failures == 0:
            throttle.first_failure_at = now
        throttle.failures += 1
        if throttle.failures >= policy.staff_max_failures:
            throttle.locked_until = now + timedelta(minutes=policy.staff_lockout_minutes)
            return StaffSignin(None, "locked", throttle.locked_until)
        return StaffSignin(None, "wrong_credentials")
    session.delete(throttle)
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    staff = StaffOut(row.id, row.username, row.display_name, row.role)
    append_event(
        session, actor=staff_actor(staff), action="staff.signin", subject=f"staff_user:{row.id}"
    )
    return StaffSignin(staff)


def _code_hash(citizen_id: int, code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    key = get_settings().app.secret_key.get_secret_value().encode()
    mac = hmac.new(key, f"{salt}|{citizen_id}|{code}".encode(), hashlib.sha256).hexdigest()
    return f"{salt}${mac}"


def _code_matches(stored: str, citizen_id: int, code: str) -> bool:
    salt, _, _mac = stored.partition("$")
    return hmac.compare_digest(stored, _code_hash(citizen_id, code, salt))


def _find(session: Session, email: str | None, phone: str | None) -> Citizen | None:
    """Return the citizen with this email or phone (normalised first), or None."""
    if email and email.strip():
        address = normalize_email(email).lower()
        return session.execute(select(Citizen).where(Citizen.email == address)).scalar_one_or_none()
    if phone and phone.strip():
        number = normalize_phone(phone, default_region=get_settings().sms.default_region)
        return session.execute(select(Citizen).where(Citizen.phone == number)).scalar_one_or_none()
    raise ValidationError("give an email address or a phone number", field="email")


def request_signin_code(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
) -> CodeRequest:
    """Make a new sign-in code for the citizen with this email or phone and queue it.

    The code goes out through the outbox after the caller commits (email or SMS: ``channel``
    if given, else the citizen's preferred channel, falling back to the one they have an
    address for). Earlier unused codes of the citizen stop working.

    Args:
        email / phone: the address the citizen typed (one of them).
        channel: ``email`` or ``sms`` to choose the channel, or None.
    Returns:
        a :class:`CodeRequest`; ``sent=False`` when no citizen has this address.
    Raises:
        ValidationError: neither address given, a malformed one, or a bad channel.
        NotAllowed: more than :data:`MAX_REQUESTS` codes within
            :data:`REQUEST_WINDOW_MINUTES` minutes (field ``email``).
    """
    from notifications.outbox import enqueue_signin_code

    if channel is not None and channel not in ("email", "sms"):
        raise ValidationError(f"unknown channel {channel!r}", field="channel")
    citizen = _find(session, email, phone)
    if citizen is None:
        return CodeRequest(sent=False)
    now = clock.now()
    recent = session.execute(
        select(func.count())
        .select_from(SigninCode)
        .where(
            SigninCode.citizen_id == citizen.id,
            SigninCode.created_at > now - timedelta(minutes=REQUEST_WINDOW_MINUTES),
        )
    ).scalar_one()
    if recent >= MAX_REQUESTS:
        raise NotAllowed(
            f"too many codes asked for; try again in {REQUEST_WINDOW_MINUTES} minutes",
            field="email",
        )
    session.execute(
        update(SigninCode)
        .where(SigninCode.citizen_id == citizen.id, SigninCode.used_at.is_(None))
        .values(used_at=now, note="superseded")
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    row = SigninCode(
        citizen_id=citizen.id,
        code_hash=_code_hash(citizen.id, code),
        channel=channel or citizen.preferred_channel,
        created_at=now,
        expires_at=now + timedelta(minutes=CODE_MINUTES),
        attempts=0,
    )
    session.add(row)
    session.flush()
    queued = enqueue_signin_code(
        session,
        citizen_id=citizen.id,
        signin_code_id=row.id,
        code=code,
        minutes_valid=CODE_MINUTES,
        actor=citizen_actor(citizen.id),
        channel=channel,
        now=now,
    )
    row.channel = queued.channel
    return CodeRequest(True, queued.channel, row.expires_at, row.id, queued.message_id)


def verify_signin_code(
    session: Session, *, code: str, email: str | None = None, phone: str | None = None
) -> SigninResult:
    """Check a sign-in code; on success use it up and mark the citizen's address verified.

    A wrong code counts against the citizen's newest code; at :data:`MAX_ATTEMPTS` wrong
    guesses the code is burnt. The caller must commit whatever this returns.

    Args:
        code: the six digits as typed (spaces are ignored).
        email / phone: the address the code was asked for.
    Returns:
        a :class:`SigninResult` (``ok`` or a ``reason``).
    Raises:
        ValidationError: neither address given, or a malformed one.
    """
    citizen = _find(session, email, phone)
    if citizen is None:
        return SigninResult(None, reason="unknown")
    now = clock.now()
    row = session.execute(
        select(SigninCode)
        .where(SigninCode.citizen_id == citizen.id, SigninCode.used_at.is_(None))
        .order_by(SigninCode.created_at.desc(), SigninCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        return SigninResult(None, reason="no_code")
    if now >= row.expires_at:
        row.used_at, row.note = now, "expired"
        return SigninResult(None, reason="expired")
    typed = "".join(code.split())
    if not _code_matches(row.code_hash, citizen.id, typed):
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS:
            row.used_at, row.note = now, "too many wrong attempts"
            return SigninResult(None, reason="burnt")
        return SigninResult(None, reason="wrong_code", attempts_left=MAX_ATTEMPTS - row.attempts)
    row.used_at, row.note = now, "used"
    if citizen.verified_at is None:
        citizen.verified_at = now
    append_event(
        session,
        actor=citizen_actor(citizen.id),
        action="citizen.signin",
        subject=f"citizen:{citizen.id}",
        payload={"channel": row.channel},
    )
    return SigninResult(citizen.id, citizen.display_name, citizen.locale)
