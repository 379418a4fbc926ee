"""Journeys in a real browser, in English and in Persian: a citizen signs in with an emailed
code, fills a budget basket, votes and comments (hostile text stays literal text); an
organizer creates, launches and opens a consultation; a council member answers a proposal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from participation_app import i18n
from tests.browser.conftest import PASSWORD, World, screenshot, settle

# A real browser against a real Streamlit server: a re-render can detach an element between
# Playwright's lookup and its click on a loaded machine. Such a journey is run again (up
# to twice); a real fault fails every time.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=2, reruns_delay=2)]

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> ![x](http://e/x.png) "
    "[link](javascript:alert(1))"
)


def _card(page: Any, text: str) -> Any:
    """The bordered container (a proposal or consultation card) that shows ``text``."""
    return (
        page.locator('[data-testid="stVerticalBlock"]')
        .filter(has=page.locator(".cf-title", has_text=text))
        .last
    )


def _staff_sign_in(page: Any, world: World, lang: str, username: str) -> None:
    page.goto(f"{world.url}/signin?lang={lang}")
    page.get_by_role("tab", name=i18n.t(lang, "signin.staff")).click()
    page.get_by_label(i18n.t(lang, "signin.username")).fill(username)
    page.get_by_label(i18n.t(lang, "signin.password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=i18n.t(lang, "signin.staff_go")).click()
    expect(page.get_by_text(i18n.t(lang, "signin.welcome"))).to_be_visible()


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_citizen_signs_in_votes_in_a_budget_and_comments(page, world: World, lang):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    address = world.citizens[lang]
    page.goto(f"{world.url}/signin?lang={lang}")
    page.get_by_label(i18n.t(lang, "signin.email_label")).fill(address)
    page.get_by_role("button", name=i18n.t(lang, "signin.send")).click()
    expect(page.get_by_text(i18n.t(lang, "signin.sent", minutes=10))).to_be_visible()
    code = world.signin_code(address)
    page.get_by_label(i18n.t(lang, "signin.code")).fill(code)
    page.get_by_role("button", name=i18n.t(lang, "signin.verify"), exact=True).click()
    expect(page.get_by_text(i18n.t(lang, "signin.welcome"))).to_be_visible()

    # the budget consultation, from the list
    _card(page, "Park budget 2027").get_by_role("button", name=i18n.t(lang, "list.open")).click()
    expect(page.locator("h2.cf-title", has_text="Park budget 2027")).to_be_visible()
    add = i18n.t(lang, "vote.add")
    _card(page, "#1 New trees").get_by_role("button", name=add).click()

    def eur(n: int) -> str:
        return f"{i18n.num(n, lang)} EUR"

    left = i18n.t(lang, "vote.budget_total", total=eur(600), budget=eur(1000), left=eur(400))
    expect(page.get_by_text(left)).to_be_visible()
    # 600 + 500 would exceed the budget of 1,000: the Lights button is disabled
    expect(_card(page, "#3 Lights").get_by_role("button", name=add)).to_be_disabled()
    _card(page, "#2 Benches").get_by_role("button", name=add).click()
    expect(
        page.get_by_text(
            i18n.t(lang, "vote.budget_total", total=eur(900), budget=eur(1000), left=eur(100))
        )
    ).to_be_visible()
    page.get_by_role("button", name=i18n.t(lang, "vote.submit")).click()
    receipt = i18n.t(lang, "vote.cast_ok", code="XXXX").split("XXXX")[0]
    expect(page.get_by_text(receipt)).to_be_visible()

    # a hostile comment stays literal text
    comments = re.compile(re.escape(i18n.t(lang, "detail.comments_n", n=99)).replace("۹۹", ".+")
                          .replace("99", ".+"))  # fmt: skip
    _card(page, "#1 New trees").get_by_role("button", name=comments).click()
    page.get_by_label(i18n.t(lang, "comments.body"), exact=True).fill(HOSTILE)
    page.get_by_role("button", name=i18n.t(lang, "comments.post")).click()
    expect(page.get_by_text(i18n.t(lang, "comments.posted"))).to_be_visible()
    body = page.locator(".cf-comment-body", has_text="<script>alert(1)</script>").first
    expect(body).to_be_visible()
    assert body.inner_text().strip() == HOSTILE
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("img[src='http://e/x.png']").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert not page.evaluate(
        "Array.from(document.scripts).some(s => s.textContent.includes('alert(1)'))"
    )
    assert dialogs == []
    if lang == "fa":
        assert page.evaluate("getComputedStyle(document.querySelector('.stMain')).direction") \
            == "rtl"  # fmt: skip
    body.scroll_into_view_if_needed()
    screenshot(page, f"citizen-{lang}")


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_organizer_creates_launches_and_opens_a_consultation(page, world: World, lang):
    _staff_sign_in(page, world, lang, "organizer")
    page.get_by_role("link", name=i18n.t(lang, "nav.new")).click()
    expect(page.get_by_label(i18n.t(lang, "new.ctitle"), exact=True)).to_be_visible()
    settle(page)  # typed text in a form is lost if the page is still being redrawn
    slug = f"cycle-paths-{lang}"
    title = "Cycle paths" if lang == "en" else "مسیرهای دوچرخه"
    page.get_by_label(i18n.t(lang, "new.ctitle"), exact=True).fill(title)
    page.get_by_label(i18n.t(lang, "new.slug")).fill(slug)
    page.get_by_label(i18n.t(lang, "new.body")).fill("Where should new cycle paths go?")
    page.get_by_role("button", name=i18n.t(lang, "new.create")).click()
    expect(page.get_by_text(i18n.t(lang, "new.created", slug=slug))).to_be_visible()

    page.get_by_label(i18n.t(lang, "manage.ptitle"), exact=True).fill("Riverside path")
    page.get_by_role("button", name=i18n.t(lang, "manage.padd"), exact=True).click()
    expect(page.get_by_text(i18n.t(lang, "manage.padded"))).to_be_visible()
    # Launch runs the launch-consultation flow (here in the app's process: no Prefect
    # server), which publishes and sends the invitations; the page follows the run
    page.get_by_role("button", name=i18n.t(lang, "manage.launch")).click()
    expect(page.get_by_text(i18n.t(lang, "manage.run_done"))).to_be_visible(timeout=120_000)
    expect(page.locator(".cf-badge-published",
                        has_text=i18n.t(lang, "status.published"))).to_be_visible()
    page.get_by_role("button", name=i18n.t(lang, "manage.open")).click()
    opened = i18n.t(lang, "manage.moved", status=i18n.t(lang, "status.open"))
    expect(page.get_by_text(opened)).to_be_visible()
    expect(page.locator(".cf-badge-open")).to_be_visible()
    screenshot(page, f"organizer-{lang}")


@pytest.mark.parametrize(("lang", "ref"), [("en", "#1"), ("fa", "#2")])
def test_council_member_answers_a_proposal(page, world: World, lang, ref):
    _staff_sign_in(page, world, lang, "council")
    expect(page.locator("h2.cf-title", has_text="Library opening hours")).to_be_visible()
    card = _card(page, ref)
    card.get_by_text(i18n.t(lang, "council.rejected"), exact=True).click()
    reasons = "Not in this year's budget." if lang == "en" else "در بودجهٔ امسال نمی‌گنجد."
    card.get_by_label(i18n.t(lang, "council.reasons")).fill(reasons)
    card.get_by_role("button", name=i18n.t(lang, "council.save")).click()
    expect(page.get_by_text(i18n.t(lang, "council.saved"))).to_be_visible()
    expect(page.get_by_text(reasons).first).to_be_visible()
    expect(page.get_by_text(i18n.t(lang, "report.title"))).to_be_visible()
    screenshot(page, f"council-{lang}")


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_unsubscribe_link_from_an_email_opens_the_page_and_withdraws(page, world: World, locale):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core.actor import Actor
    from core.db import session_scope
    from core.settings import get_settings
    from models import Citizen, Consent
    from notifications.unsubscribe import make_token, unsubscribe_url
    from participation.citizens import register_citizen

    system = Actor(kind="system", name="browser-test")
    with session_scope(world.engine) as s:
        out = register_citizen(
            s,
            data={"display_name": "Unsub", "email": f"unsub-{locale}@example.invalid",
                  "locale": locale},
            actor=system,
            consents={("email", "results"): True, ("email", "reminders"): True},
        )  # fmt: skip
        public_id = s.get(Citizen, out.id).public_id
    secret = get_settings().app.secret_key.get_secret_value()
    token = make_token(
        citizen_public_id=public_id, channel="email", purpose="results", secret=secret
    )
    # the link as delivery builds it, on this server's address
    page.goto(unsubscribe_url(f"{world.url}/unsubscribe", token))
    done = i18n.t(
        locale,
        "unsub.done",
        channel=i18n.t(locale, "channel.email"),
        what=i18n.t(locale, "prefs.purpose.results"),
    )
    expect(page.get_by_text(done)).to_be_visible()
    with Session(world.engine) as s:
        rows = s.execute(select(Consent).where(Consent.citizen_id == out.id)).scalars()
        assert {r.purpose: r.opted_in for r in rows} == {"results": False, "reminders": True}
    screenshot(page, f"unsubscribe-{locale}")
