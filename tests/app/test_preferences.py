"""The preferences page: the citizen picks the channel tried first and the language (only
channels they have an address on), besides their consents."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditEvent, Citizen, Consent
from participation.auth import citizen_actor
from tests import factories as f
from tests.app.conftest import alerts, button, open_app

PREFS = "app_pages/preferences.py"


def test_citizen_switches_to_sms_in_persian(app_db):
    with app_db.session() as s:
        ann = f.citizen(s, display_name="Ann", phone="+447911123456")
    at = open_app(citizen_actor(ann), page=PREFS)
    assert at.radio(key="pref_channel").options == ["email", "SMS"]
    assert at.radio(key="pref_channel").value == "email"
    assert at.radio(key="pref_locale").value == "en"

    at.radio(key="pref_channel").set_value("sms")
    at.radio(key="pref_locale").set_value("fa")
    button(at, "Save how you contact me").click().run()
    assert not at.exception

    # the confirmation and the page are in the newly chosen language
    assert (
        "success: ذخیره شد: از این پس نخست از راه پیامک و به زبان فارسی برایتان می‌نویسیم."
        in alerts(at)
    )
    assert at.session_state["ui_lang"] == "fa"
    with app_db.session() as s:
        row = s.get(Citizen, ann)
        assert (row.preferred_channel, row.locale) == ("sms", "fa")
        actions = s.execute(
            select(AuditEvent.action).where(AuditEvent.subject == f"citizen:{ann}")
        ).scalars()
        assert list(actions).count("citizen.preferences") == 1
        # consents were not touched by this form
        assert s.execute(select(Consent).where(Consent.citizen_id == ann)).first() is None


def test_a_channel_without_an_address_is_not_offered(app_db):
    with app_db.session() as s:
        bob = f.citizen(s, display_name="Bob")  # email only
    at = open_app(citizen_actor(bob), page=PREFS)
    assert at.radio(key="pref_channel").options == ["email"]
    at.radio(key="pref_locale").set_value("fa")
    button(at, "Save how you contact me").click().run()
    with app_db.session() as s:
        row = s.get(Citizen, bob)
        assert (row.preferred_channel, row.locale) == ("email", "fa")


def test_saving_unchanged_preferences_writes_no_audit_event(app_db):
    with app_db.session() as s:
        cid = f.citizen(s, locale="fa")
    at = open_app(citizen_actor(cid), lang="fa", page=PREFS)
    button(at, "ذخیرهٔ راه تماس").click().run()
    assert not at.exception
    assert any(a.startswith("success: ذخیره شد") for a in alerts(at))
    with app_db.session() as s:
        actions = s.execute(
            select(AuditEvent.action).where(AuditEvent.subject == f"citizen:{cid}")
        ).scalars()
        assert "citizen.preferences" not in list(actions)
