"""Staff passwords and citizen sign-in codes (participation.auth)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, ValidationError
from models import Citizen, OutboxMessage, SigninCode, StaffUser
from participation import auth
from tests import factories as f

T = f.T0


def _code_sent(session, request: auth.CodeRequest) -> str:
    """The code as queued in the outbox payload (delivery removes it once sent)."""
    msg = session.get(OutboxMessage, request.outbox_message_id)
    return str(msg.payload["code"])


@pytest.fixture
def frozen():
    with clock.frozen(T) as c:
        yield c


def test_code_signs_in_once_and_is_stored_only_as_hash(session, frozen):
    cid = f.citizen(session, email="ann@example.invalid")
    req = auth.request_signin_code(session, email="Ann@Example.invalid")
    assert req.sent
    assert req.channel == "email"
    assert req.expires_at == T + timedelta(minutes=auth.CODE_MINUTES)
    code = _code_sent(session, req)
    assert len(code) == 6
    assert code.isdigit()
    stored = session.get(SigninCode, req.signin_code_id)
    assert code not in stored.code_hash
    msg = session.get(OutboxMessage, req.outbox_message_id)
    assert (msg.kind, msg.citizen_id, msg.status) == ("signin_code", cid, "pending")

    ok = auth.verify_signin_code(session, email="ann@example.invalid", code=code)
    assert ok.ok
    assert ok.citizen_id == cid
    assert session.get(Citizen, cid).verified_at == T
    again = auth.verify_signin_code(session, email="ann@example.invalid", code=code)
    assert (again.ok, again.reason) == (False, "no_code")


def test_code_expires_after_ten_minutes(session, frozen):
    f.citizen(session, email="bo@example.invalid")
    code = _code_sent(session, auth.request_signin_code(session, email="bo@example.invalid"))
    frozen.advance(timedelta(minutes=auth.CODE_MINUTES))
    res = auth.verify_signin_code(session, email="bo@example.invalid", code=code)
    assert res.reason == "expired"


def test_five_wrong_guesses_burn_the_code(session, frozen):
    f.citizen(session, email="cy@example.invalid")
    code = _code_sent(session, auth.request_signin_code(session, email="cy@example.invalid"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    left = []
    for _ in range(auth.MAX_ATTEMPTS - 1):
        res = auth.verify_signin_code(session, email="cy@example.invalid", code=wrong)
        left.append(res.attempts_left)
    assert left == [4, 3, 2, 1]
    last = auth.verify_signin_code(session, email="cy@example.invalid", code=wrong)
    assert last.reason == "burnt"
    # the right code no longer works either
    res = auth.verify_signin_code(session, email="cy@example.invalid", code=code)
    assert res.reason == "no_code"


def test_new_code_replaces_the_old_one(session, frozen):
    f.citizen(session, email="di@example.invalid")
    first = _code_sent(session, auth.request_signin_code(session, email="di@example.invalid"))
    second_req = auth.request_signin_code(session, email="di@example.invalid")
    second = _code_sent(session, second_req)
    if first != second:
        assert (
            auth.verify_signin_code(session, email="di@example.invalid", code=first).reason
            == "wrong_code"
        )
    assert auth.verify_signin_code(session, email="di@example.invalid", code=second).ok


def test_requests_are_rate_limited(session, frozen):
    f.citizen(session, email="ed@example.invalid")
    for _ in range(auth.MAX_REQUESTS):
        auth.request_signin_code(session, email="ed@example.invalid")
        frozen.advance(timedelta(minutes=1))
    with pytest.raises(NotAllowed):
        auth.request_signin_code(session, email="ed@example.invalid")
    frozen.advance(timedelta(minutes=auth.REQUEST_WINDOW_MINUTES))
    assert auth.request_signin_code(session, email="ed@example.invalid").sent


def test_sms_code_by_phone(session, frozen):
    cid = f.citizen(session, email=None, phone="+447911123456", preferred_channel="sms")
    req = auth.request_signin_code(session, phone="+44 7911 123456")
    assert (req.sent, req.channel) == (True, "sms")
    res = auth.verify_signin_code(session, phone="07911 123456", code=_code_sent(session, req))
    assert res.citizen_id == cid


def test_unknown_address_sends_nothing(session, frozen):
    req = auth.request_signin_code(session, email="nobody@example.invalid")
    assert not req.sent
    assert session.execute(select(SigninCode)).first() is None
    res = auth.verify_signin_code(session, email="nobody@example.invalid", code="123456")
    assert res.reason == "unknown"


def test_missing_or_bad_address_is_named(session):
    with pytest.raises(ValidationError) as err:
        auth.request_signin_code(session)
    assert err.value.field == "email"
    with pytest.raises(ValidationError):
        auth.request_signin_code(session, email="not an email")


def test_staff_password_round_trip(session):
    out = auth.create_staff_user(
        session, username="Maryam", role="organizer", password="correct horse", actor=f.SYSTEM
    )
    row = session.get(StaffUser, out.id)
    assert row.username == "maryam"
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash
    ok = auth.verify_staff_password(session, username="MARYAM", password="correct horse")
    assert ok.staff == out
    assert auth.staff_actor(out) == Actor(kind="staff", id=out.id, role="organizer", name="maryam")
    bad = auth.verify_staff_password(session, username="maryam", password="wrong horse!")
    assert (bad.staff, bad.reason) == (None, "wrong_credentials")
    nobody = auth.verify_staff_password(session, username="ghost", password="correct horse")
    assert nobody.reason == "wrong_credentials"


def test_outdated_hash_is_upgraded_on_sign_in(session):
    out = auth.create_staff_user(
        session, username="old", role="council", password="long enough pw", actor=f.SYSTEM
    )
    row = session.get(StaffUser, out.id)
    row.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash("long enough pw")
    old = row.password_hash
    assert auth.verify_staff_password(session, username="old", password="long enough pw").staff
    assert row.password_hash != old


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("username", {"username": "a b"}),
        ("role", {"role": "mayor"}),
        ("password", {"password": "short"}),
    ],
)
def test_bad_staff_fields_are_named(session, field, kwargs):
    args = {"username": "valid", "role": "organizer", "password": "long enough pw"} | kwargs
    with pytest.raises(ValidationError) as err:
        auth.create_staff_user(session, actor=f.SYSTEM, **args)
    assert err.value.field == field


def test_only_admins_create_staff_and_usernames_are_unique(session):
    organizer = Actor(kind="staff", id=1, role="organizer")
    with pytest.raises(NotAllowed):
        auth.create_staff_user(
            session, username="x1x", role="admin", password="long enough pw", actor=organizer
        )
    admin = Actor(kind="staff", id=1, role="admin")
    auth.create_staff_user(
        session, username="dup", role="council", password="long enough pw", actor=admin
    )
    with pytest.raises(Conflict):
        auth.create_staff_user(
            session, username="DUP", role="council", password="long enough pw", actor=admin
        )
