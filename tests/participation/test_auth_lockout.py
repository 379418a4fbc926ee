"""Staff password lockout: a limit on wrong passwords in a row per username, counted in the
database, that neither checks the password while locked nor tells known usernames from
unknown ones."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import clock
from core.db import session_scope
from core.settings import get_settings
from models import StaffSigninThrottle
from participation import auth
from tests import factories as f

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RIGHT = "correct horse battery"
WRONG = "wrong horse battery"


@pytest.fixture
def frozen():
    c = clock.FrozenClock(T)
    clock.set_clock(c)
    return c


@pytest.fixture
def verify_calls(monkeypatch):
    """Count the argon2 checks (the slow part) that sign-in attempts make."""
    calls: list[str] = []
    real = auth._hasher

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name: str):
            return getattr(real, name)

    monkeypatch.setattr(auth, "_hasher", Counting())
    return calls


@pytest.fixture
def limits(monkeypatch):
    """Set the lockout settings through the environment, as an operator would."""

    def apply(**values: int) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"CIVICFLOW_AUTH__{key.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def _staff(session, username: str = "maryam") -> auth.StaffOut:
    return auth.create_staff_user(
        session, username=username, role="organizer", password=RIGHT, actor=f.SYSTEM
    )


def _try(session, password: str, username: str = "maryam") -> tuple[str | None, datetime | None]:
    out = auth.verify_staff_password(session, username=username, password=password)
    return out.reason, out.locked_until


def test_defaults_are_five_failures_in_fifteen_minutes():
    policy = get_settings().auth
    assert (policy.staff_max_failures, policy.staff_failure_window_minutes) == (5, 15)
    assert policy.staff_lockout_minutes == 15


def test_the_fifth_wrong_password_locks_until_the_lockout_ends(session, frozen):
    _staff(session)
    for _ in range(4):
        assert _try(session, WRONG) == ("wrong_credentials", None)
        frozen.advance(timedelta(minutes=1))
    # 09:04: the fifth wrong password in a row; locked for 15 minutes from now
    until = T + timedelta(minutes=4 + 15)
    assert _try(session, WRONG) == ("locked", until)
    frozen.set(until - timedelta(seconds=1))
    assert _try(session, RIGHT) == ("locked", until)  # even the right password is refused
    frozen.set(until)
    out = auth.verify_staff_password(session, username="maryam", password=RIGHT)
    assert out.staff is not None
    assert out.staff.username == "maryam"
    assert session.execute(select(func.count()).select_from(StaffSigninThrottle)).scalar() == 0


def test_no_password_is_checked_while_locked(session, frozen, verify_calls):
    _staff(session)
    for _ in range(5):
        _try(session, WRONG)
    assert len(verify_calls) == 5
    right = auth.verify_staff_password(session, username="maryam", password=RIGHT)
    wrong = auth.verify_staff_password(session, username="maryam", password=WRONG)
    assert right == wrong == auth.StaffSignin(None, "locked", T + timedelta(minutes=15))
    assert len(verify_calls) == 5


def test_a_success_clears_the_count(session, frozen):
    _staff(session)
    for _ in range(4):
        _try(session, WRONG)
    assert auth.verify_staff_password(session, username="maryam", password=RIGHT).staff
    outcomes = [_try(session, WRONG) for _ in range(4)]
    assert outcomes == [("wrong_credentials", None)] * 4
    assert _try(session, WRONG)[0] == "locked"


def test_failures_further_apart_than_the_window_start_a_new_count(session, frozen):
    _staff(session)
    for _ in range(4):
        _try(session, WRONG)
    frozen.advance(timedelta(minutes=15))  # the first failure is now 15 minutes old
    assert _try(session, WRONG) == ("wrong_credentials", None)
    for _ in range(3):
        frozen.advance(timedelta(minutes=1))
        assert _try(session, WRONG) == ("wrong_credentials", None)
    assert _try(session, WRONG) == ("locked", T + timedelta(minutes=15 + 3 + 15))


def test_after_a_lock_ends_the_count_starts_again(session, frozen):
    _staff(session)
    for _ in range(5):
        _try(session, WRONG)
    frozen.advance(timedelta(minutes=15))
    assert [_try(session, WRONG) for _ in range(4)] == [("wrong_credentials", None)] * 4
    assert _try(session, WRONG) == ("locked", T + timedelta(minutes=30))


def test_unknown_usernames_look_the_same_as_known_ones(session, frozen, verify_calls):
    _staff(session)

    def run(username: str) -> tuple[list[tuple[str | None, datetime | None]], int]:
        frozen.set(T)
        before = len(verify_calls)
        seen = []
        for _ in range(7):
            seen.append(_try(session, WRONG, username=username))
            frozen.advance(timedelta(minutes=1))
        return seen, len(verify_calls) - before

    known, known_checks = run("maryam")
    unknown, unknown_checks = run("ghost")
    assert known == unknown
    assert known[4] == ("locked", T + timedelta(minutes=4 + 15))
    # one argon2 check per attempt until the lock, for both: the same work, the same time
    assert known_checks == unknown_checks == 5
    assert verify_calls[-1] == auth._DUMMY_HASH  # the unknown name was checked against a hash


def test_usernames_are_counted_as_typed_case_and_spaces_aside(session, frozen):
    _staff(session)
    for typed in ("Maryam", " maryam", "MARYAM ", "maryam"):
        _try(session, WRONG, username=typed)
    assert _try(session, WRONG, username="mAryam")[0] == "locked"
    assert _try(session, WRONG, username="other")[0] == "wrong_credentials"
    # no username or password is stored, only keyed digests
    stored = session.execute(select(StaffSigninThrottle.username_digest)).scalars().all()
    assert len(stored) == 2
    assert all(len(d) == 64 and "maryam" not in d for d in stored)


def test_the_limits_come_from_the_settings(session, frozen, limits):
    limits(staff_max_failures=2, staff_failure_window_minutes=5, staff_lockout_minutes=60)
    _staff(session)
    assert _try(session, WRONG) == ("wrong_credentials", None)
    assert _try(session, WRONG) == ("locked", T + timedelta(minutes=60))
    frozen.advance(timedelta(minutes=59))
    assert _try(session, RIGHT)[0] == "locked"


def test_the_count_is_shared_by_separate_connections(fresh_db, frozen):
    """Two engines on one database stand for two app processes."""
    url = fresh_db.engine().url.render_as_string(hide_password=False)
    from core.db import make_engine

    first, second = make_engine(url), make_engine(url)
    try:
        with session_scope(first) as s:
            _staff(s)
        for i in range(5):
            with session_scope(first if i % 2 else second) as s:
                outcome = _try(s, WRONG)
        assert outcome == ("locked", T + timedelta(minutes=15))
        with session_scope(first) as s:
            assert _try(s, RIGHT) == ("locked", T + timedelta(minutes=15))
    finally:
        first.dispose()
        second.dispose()


def test_parallel_guesses_do_not_slip_past_the_limit(fresh_db, frozen, verify_calls, limits):
    limits(staff_max_failures=3)
    engine = fresh_db.engine()
    with session_scope(engine) as s:
        _staff(s)
    outcomes: list[str | None] = []
    start = threading.Barrier(6)

    def guess() -> None:
        start.wait()
        with Session(engine) as s, s.begin():
            outcomes.append(_try(s, WRONG)[0])

    threads = [threading.Thread(target=guess) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    # three wrong guesses were checked (the third locked); the other three were refused
    assert sorted(outcomes, key=str) == sorted(
        ["wrong_credentials", "wrong_credentials", "locked", "locked", "locked", "locked"],
        key=str,
    )
    assert len(verify_calls) == 3
