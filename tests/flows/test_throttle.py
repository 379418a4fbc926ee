"""Provider rate limits as Prefect global concurrency limits (on the session's test server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import clock
from core.db import session_scope
from core.settings import get_settings
from flows.throttle import UNAVAILABLE, ThrottledSmsSender, throttled
from models import OutboxMessage
from notifications.backends import make_sms_sender
from notifications.backends.base import SmsMessageSpec
from notifications.planning import plan_invitations
from participation.citizens import set_consent
from tests import factories as f


@pytest.fixture
def gcl(prefect_harness) -> Iterator[object]:
    """Make a global concurrency limit with almost no decay; delete it afterwards."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    made: list[str] = []

    def make(limit: int) -> str:
        name = f"cf-test-{uuid.uuid4().hex[:8]}"
        with get_client(sync_client=True) as client:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                name=name, limit=limit, slot_decay_per_second=0.001, active=True))
        made.append(name)
        return name

    yield make
    with get_client(sync_client=True) as client:
        for name in made:
            client.delete_global_concurrency_limit_by_name(name)


def _active_slots(name: str) -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return int(client.read_global_concurrency_limit_by_name(name).active_slots)


def _sms(n: int) -> SmsMessageSpec:
    return SmsMessageSpec(key=f"test:{n}", to=f"+44791110000{n}", body="hello")


def test_each_sms_takes_one_slot_and_none_is_sent_without_one(gcl):
    name = gcl(2)
    inner = make_sms_sender("memory")
    sender = ThrottledSmsSender(inner, name, timeout_seconds=1.0)
    first, second, third = (sender.send(_sms(i)) for i in range(3))
    assert first.ok
    assert second.ok
    assert _active_slots(name) == 2  # the bucket is full: 0.001 slot/s decays nothing yet
    assert (third.ok, third.error_code, third.permanent) == (False, UNAVAILABLE, False)
    assert [m.key for m in inner.sent] == ["test:0", "test:1"]  # the third never left


def test_delivery_takes_a_slot_per_sms_from_the_named_limit(gcl, flow_db, monkeypatch,
                                                           tmp_path):
    from flows.cycle import deliver_outbox

    name = gcl(10)
    monkeypatch.setenv("CIVICFLOW_PREFECT__SMS_RATE_LIMIT", name)
    monkeypatch.setenv("CIVICFLOW_SMS__BACKEND", "file")
    monkeypatch.setenv("CIVICFLOW_EMAIL__BACKEND", "file")
    monkeypatch.setenv("CIVICFLOW_APP__OUTBOX_DIR", str(tmp_path))
    get_settings.cache_clear()
    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=1)))
    try:
        with session_scope(flow_db) as s:
            cons, _ = f.consultation(s, status="published")
            for i in range(3):
                cid = f.citizen(s, phone=f"+4479112000{i:02d}", preferred_channel="sms",
                                email=None)
                set_consent(s, citizen_id=cid, channel="sms", purpose="invitations",
                            opted_in=True, source="web", actor=f.SYSTEM)
            plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
        out = deliver_outbox()
    finally:
        clock.set_clock(None)
    assert out["counts"] == {"sms": {"sent": 3}}
    assert _active_slots(name) == 3
    assert len(list(tmp_path.glob("*.sms.json"))) == 3


def test_a_named_limit_that_does_not_exist_stops_delivery_before_any_claim(
        prefect_harness, flow_db, monkeypatch):
    from flows.cycle import deliver_task

    monkeypatch.setenv("CIVICFLOW_PREFECT__EMAIL_RATE_LIMIT", "no-such-limit")
    get_settings.cache_clear()
    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=1)))
    try:
        with session_scope(flow_db) as s:
            cons, _ = f.consultation(s, status="published")
            cid = f.citizen(s)
            set_consent(s, citizen_id=cid, channel="email", purpose="invitations",
                        opted_in=True, source="web", actor=f.SYSTEM)
            plan_invitations(s, consultation_id=cons, actor=f.SYSTEM)
        with pytest.raises(RuntimeError, match="'no-such-limit'"):
            deliver_task.fn()
    finally:
        clock.set_clock(None)
    with session_scope(flow_db) as s:
        statuses = s.execute(select(OutboxMessage.status)).scalars().all()
    assert statuses == ["pending"]  # nothing claimed, nothing sent unthrottled


def test_without_limits_the_senders_are_left_as_they_are():
    email, sms = make_sms_sender("memory"), make_sms_sender("memory")
    assert throttled(email, sms, email_limit=None, sms_limit="") == (email, sms)  # type: ignore[arg-type]
