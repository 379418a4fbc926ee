"""Routing decisions: consent per channel and purpose, fallback, locale, quiet hours, cap,
holdout and "already took part" (pure; expected values worked out by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.routing import (
    CitizenFacts,
    RoutingPolicy,
    in_holdout,
    quiet_until,
    recheck,
    route,
)

NOON = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
NO_QUIET = RoutingPolicy(quiet_start=None, quiet_end=None, max_messages=4)


def facts(**kw: object) -> CitizenFacts:
    base: dict[str, object] = {"public_id": "p1", "has_email": True, "has_phone": True}
    base.update(kw)
    return CitizenFacts(**base)  # type: ignore[arg-type]


def test_preferred_channel_with_consent_is_used() -> None:
    d = route(
        facts(),
        {("email", "reminders"): True},
        NO_QUIET,
        NOON,
        0,
        kind="reminder",
        purpose="reminders",
    )
    assert (d.channel, d.status, d.reason, d.not_before) == ("email", "pending", None, NOON)


def test_email_falls_back_to_sms_without_email_consent() -> None:
    consents = {("email", "reminders"): False, ("sms", "reminders"): True}
    d = route(facts(), consents, NO_QUIET, NOON, 0, kind="reminder", purpose="reminders")
    assert (d.channel, d.status, d.reason) == ("sms", "pending", "fallback_from_email")


def test_sms_falls_back_to_email_without_a_phone() -> None:
    consents = {("email", "invitations"): True, ("sms", "invitations"): True}
    d = route(
        facts(preferred_channel="sms", has_phone=False),
        consents,
        NO_QUIET,
        NOON,
        0,
        kind="invitation",
        purpose="invitations",
    )
    assert (d.channel, d.reason) == ("email", "fallback_from_sms")


def test_consent_for_another_purpose_does_not_count() -> None:
    d = route(
        facts(),
        {("email", "results"): True, ("sms", "surveys"): True},
        NO_QUIET,
        NOON,
        0,
        kind="reminder",
        purpose="reminders",
    )
    assert (d.channel, d.status, d.reason) == (None, "suppressed", "no_consent")


def test_consent_without_an_address_is_no_address() -> None:
    d = route(
        facts(has_phone=False),
        {("sms", "reminders"): True},
        NO_QUIET,
        NOON,
        0,
        kind="reminder",
        purpose="reminders",
    )
    assert (d.status, d.reason) == ("suppressed", "no_address")


def test_opted_out_on_both_channels_is_no_consent() -> None:
    consents = {("email", "reminders"): False, ("sms", "reminders"): False}
    d = route(facts(), consents, NO_QUIET, NOON, 0, kind="reminder", purpose="reminders")
    assert d.reason == "no_consent"


@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_no_invitation_or_reminder_to_someone_who_voted(kind: str) -> None:
    purpose = {"invitation": "invitations", "reminder": "reminders"}[kind]
    d = route(
        facts(took_part=True),
        {("email", purpose): True},
        NO_QUIET,
        NOON,
        0,
        kind=kind,
        purpose=purpose,
    )
    assert (d.status, d.reason) == ("suppressed", "already_voted")


def test_results_do_go_to_someone_who_voted() -> None:
    d = route(
        facts(took_part=True),
        {("email", "results"): True},
        NO_QUIET,
        NOON,
        9,
        kind="results",
        purpose="results",
    )
    assert d.status == "pending"  # and results are never capped


def test_cap_counts_messages_already_queued_or_sent() -> None:
    c = {("email", "reminders"): True}
    assert route(facts(), c, NO_QUIET, NOON, 3, kind="reminder", purpose="reminders").status == (
        "pending"
    )
    d = route(facts(), c, NO_QUIET, NOON, 4, kind="reminder", purpose="reminders")
    assert (d.channel, d.status, d.reason) == ("email", "suppressed", "capped")


def test_unsupported_locale_falls_back_to_english_and_persian_is_kept() -> None:
    c = {("email", "reminders"): True}
    assert (
        route(facts(locale="de"), c, NO_QUIET, NOON, 0, kind="reminder", purpose="reminders").locale
        == "en"
    )
    assert (
        route(
            facts(locale="fa-IR"), c, NO_QUIET, NOON, 0, kind="reminder", purpose="reminders"
        ).locale
        == "fa"
    )


def test_quiet_hours_in_tehran_defer_to_eight_local() -> None:
    # 18:00 UTC = 21:30 in Tehran (UTC+3:30, no DST since 2022): quiet until 08:00 local
    # the next morning = 04:30 UTC.
    evening = datetime(2026, 7, 10, 18, 0, tzinfo=UTC)
    policy = RoutingPolicy(quiet_start=21, quiet_end=8)
    d = route(
        facts(time_zone="Asia/Tehran"),
        {("sms", "reminders"): True},
        policy,
        evening,
        0,
        kind="reminder",
        purpose="reminders",
    )
    assert (d.channel, d.status, d.reason) == ("sms", "deferred", "quiet_hours")
    assert d.not_before == datetime(2026, 7, 11, 4, 30, tzinfo=UTC)


def test_quiet_hours_after_midnight_end_the_same_day() -> None:
    # 02:00 UTC in London in July = 03:00 BST: quiet until 08:00 BST = 07:00 UTC.
    night = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
    assert quiet_until(night, "Europe/London", 21, 8) == datetime(2026, 7, 10, 7, 0, tzinfo=UTC)


def test_quiet_hours_follow_daylight_saving_time() -> None:
    # London clocks go forward on 29 March 2026 at 01:00 UTC. At 22:00 UTC on the 28th it is
    # 22:00 GMT; 08:00 the next morning is BST, i.e. 07:00 UTC.
    assert quiet_until(datetime(2026, 3, 28, 22, 0, tzinfo=UTC), "Europe/London", 21, 8) == (
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    )


def test_daytime_quiet_window_and_no_window() -> None:
    assert quiet_until(NOON, "UTC", 12, 14) == NOON + timedelta(hours=2)
    assert quiet_until(NOON, "UTC", 13, 14) is None
    assert quiet_until(NOON, "UTC", 8, 8) is None  # equal hours: no quiet hours


def test_sign_in_codes_ignore_consent_cap_and_quiet_hours() -> None:
    night = datetime(2026, 7, 10, 23, 0, tzinfo=UTC)
    d = route(
        facts(preferred_channel="sms"),
        {},
        RoutingPolicy(max_messages=1),
        night,
        99,
        kind="signin_code",
        purpose=None,
    )
    assert (d.channel, d.status, d.not_before) == ("sms", "pending", night)
    assert (
        route(
            facts(has_email=False, has_phone=False),
            {},
            NO_QUIET,
            night,
            0,
            kind="signin_code",
            purpose=None,
        ).reason
        == "no_address"
    )


def test_holdout_is_deterministic_and_about_the_share() -> None:
    ids = [f"{i:016x}" for i in range(4000)]
    held = [p for p in ids if in_holdout(p, 0.25, "7")]
    assert held == [p for p in ids if in_holdout(p, 0.25, "7")]
    # binomial(4000, 0.25): mean 1000, sd ~27; 5 sd either side
    assert 865 < len(held) < 1135
    assert not any(in_holdout(p, 0.0, "7") for p in ids)
    # another consultation (salt) holds out another group
    assert held != [p for p in ids if in_holdout(p, 0.25, "8")]


def test_holdout_applies_to_reminders_only() -> None:
    policy = RoutingPolicy(
        quiet_start=None, quiet_end=None, holdout_share=0.999999, holdout_salt="1"
    )
    c = {("email", "reminders"): True, ("email", "invitations"): True}
    assert route(facts(), c, policy, NOON, 0, kind="reminder", purpose="reminders").reason == (
        "holdout"
    )
    assert (
        route(facts(), c, policy, NOON, 0, kind="invitation", purpose="invitations").status
        == "pending"
    )


def test_policy_from_stored_reminder_policy_takes_defaults() -> None:
    p = RoutingPolicy.from_reminder_policy({"holdout_share": 0.1}, salt="3")
    assert (p.quiet_start, p.quiet_end, p.max_messages, p.holdout_share, p.holdout_salt) == (
        21,
        8,
        4,
        0.1,
        "3",
    )


def test_recheck_keeps_the_channel_and_reports_the_first_reason() -> None:
    c = {("sms", "reminders"): True}
    assert (
        recheck(
            facts(), c, NO_QUIET, NOON, kind="reminder", purpose="reminders", channel="sms"
        ).status
        == "pending"
    )
    assert (
        recheck(
            facts(took_part=True),
            c,
            NO_QUIET,
            NOON,
            kind="reminder",
            purpose="reminders",
            channel="sms",
        ).reason
        == "already_voted"
    )
    assert (
        recheck(
            facts(),
            {("sms", "reminders"): False},
            NO_QUIET,
            NOON,
            kind="reminder",
            purpose="reminders",
            channel="sms",
        ).reason
        == "no_consent"
    )
    assert (
        recheck(
            facts(has_phone=False),
            c,
            NO_QUIET,
            NOON,
            kind="reminder",
            purpose="reminders",
            channel="sms",
        ).reason
        == "no_address"
    )
    assert (
        recheck(
            facts(),
            c,
            NO_QUIET,
            NOON,
            kind="reminder",
            purpose="reminders",
            channel="sms",
            consultation_open=False,
        ).reason
        == "consultation_closed"
    )


@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    start=st.integers(0, 23),
    end=st.integers(0, 23),
    zone=st.sampled_from(["UTC", "Asia/Tehran", "Europe/London", "America/New_York"]),
)
def test_deferred_messages_are_released_outside_quiet_hours(
    hour: int, minute: int, start: int, end: int, zone: str
) -> None:
    now = datetime(2026, 10, 24, hour, minute, tzinfo=UTC)
    until = quiet_until(now, zone, start, end)
    if until is None:
        return
    assert now < until <= now + timedelta(hours=25)
    assert quiet_until(until, zone, start, end) is None


@given(
    has_email=st.booleans(),
    has_phone=st.booleans(),
    took_part=st.booleans(),
    email_ok=st.sampled_from([None, True, False]),
    sms_ok=st.sampled_from([None, True, False]),
    sent=st.integers(0, 6),
    pref=st.sampled_from(["email", "sms"]),
)
def test_every_suppression_has_a_reason_and_every_send_has_consent_and_address(
    has_email: bool,
    has_phone: bool,
    took_part: bool,
    email_ok: bool | None,
    sms_ok: bool | None,
    sent: int,
    pref: str,
) -> None:
    consents = {
        k: v
        for k, v in {("email", "reminders"): email_ok, ("sms", "reminders"): sms_ok}.items()
        if v is not None
    }
    f = facts(has_email=has_email, has_phone=has_phone, took_part=took_part, preferred_channel=pref)
    d = route(f, consents, NO_QUIET, NOON, sent, kind="reminder", purpose="reminders")
    if d.status == "suppressed":
        assert d.reason
    else:
        assert d.channel is not None
        assert consents.get((d.channel, "reminders")) is True
        assert has_email if d.channel == "email" else has_phone
        assert not took_part
        assert sent < 4
