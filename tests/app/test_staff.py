"""Organizer and council pages: creating and launching a consultation, counting, offline
ballots and comments (the one-ballot rule and its Conflict message), council answers."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select

from models import Ballot, Comment, Consultation, Proposal
from participation.auth import citizen_actor
from participation.ballots import cast_ballot
from participation.tallying import tally
from tests import factories as f
from tests.app.conftest import SYSTEM, alerts, button, open_app, page_text, slug_of

MANAGE = "app_pages/manage.py"
OFFLINE = "app_pages/offline_entry.py"


def test_organizer_creates_adds_proposals_publishes_and_opens(app_db):
    organizer = app_db.staff("organizer")
    from core import clock

    clock.set_clock(clock.FrozenClock(f.T0))
    at = open_app(organizer, page="app_pages/new_consultation.py")
    at.selectbox(key="new_method").set_value("budget").run()
    at.selectbox(key="new_tz").set_value("Asia/Tehran").run()
    at.text_input(key="new_title").input("Park budget 2027")
    at.text_input(key="new_slug").input("park-2027")
    at.text_area(key="new_body").input("Choose projects for the park.")
    at.date_input(key="new_opens").set_value(date(2026, 3, 2))
    at.time_input(key="new_opens_time").set_value(time(9, 0))
    at.date_input(key="new_closes").set_value(date(2026, 3, 20))
    at.number_input(key="new_budget").set_value(50_000)
    at.text_input(key="new_elig").input("North, South")
    at.number_input(key="new_min_age").set_value(16)
    button(at, "Create draft").click().run()
    assert not at.exception

    with app_db.session() as s:
        c = s.execute(select(Consultation).where(Consultation.slug == "park-2027")).scalar_one()
        assert (c.method, c.status, c.time_zone) == ("budget", "draft", "Asia/Tehran")
        assert c.method_params["budget"] == 50_000
        assert c.eligibility == {"districts": ["North", "South"], "minimum_age": 16}
        # 09:00 in Tehran (UTC+03:30) is 05:30 UTC
        assert (c.opens_at.hour, c.opens_at.minute) == (5, 30)
    assert "success: Draft park-2027 created. Add proposals, then publish it." in alerts(at)

    # the page switched to Manage with the new draft selected (AppTest keeps its own idea of
    # the current page for the next run, so switch there too)
    at.switch_page(MANAGE).run()
    assert "Park budget 2027" in page_text(at)
    at.text_input[0].input("New trees")
    at.number_input[0].set_value(20_000)
    button(at, "Add proposal").click().run()
    assert "success: Proposal added." in alerts(at)
    button(at, "Publish").click().run()
    assert "success: The consultation is now published." in alerts(at)
    button(at, "Open voting").click().run()
    assert "success: The consultation is now open for voting." in alerts(at)
    with app_db.session() as s:
        c = s.execute(select(Consultation).where(Consultation.slug == "park-2027")).scalar_one()
        assert c.status == "open"
        titles = s.execute(select(Proposal.title, Proposal.cost)).all()
    assert titles == [("New trees", 20_000)]


def test_bad_input_is_refused_with_the_field_named(app_db):
    organizer = app_db.staff("organizer")
    at = open_app(organizer, page="app_pages/new_consultation.py")
    at.text_input(key="new_title").input("A title")
    at.text_input(key="new_slug").input("Not A Slug!")
    button(at, "Create draft").click().run()
    assert any(a.startswith("error: Please check: slug:") for a in alerts(at))


def test_opening_before_the_start_time_is_refused(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="published")
    from core import clock

    clock.set_clock(clock.FrozenClock(f.T0.replace(hour=8)))
    at = open_app(organizer, page=MANAGE)
    at.selectbox[0].set_value(slug_of(app_db, cid)).run()
    button(at, "Open voting").click().run()
    assert any(a.startswith("error: Not allowed: opens_at: voting opens at") for a in alerts(at))


def test_counting_a_closed_consultation(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="closed")
    at = open_app(organizer, page=MANAGE)
    at.selectbox[0].set_value(slug_of(app_db, cid)).run()
    button(at, "Count the ballots").click().run()
    assert "success: Counted with the rule approval." in alerts(at)
    with app_db.session() as s:
        assert s.get(Consultation, cid).status == "tallied"


def test_withdrawing_a_proposal_needs_a_reason(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        cid, pids = f.consultation(s, status="open")
    at = open_app(organizer, page=MANAGE)
    at.selectbox[0].set_value(slug_of(app_db, cid)).run()
    at.text_input[0].input("merged with B")
    button(at, "Withdraw").click().run()
    assert "success: Proposal withdrawn." in alerts(at)
    with app_db.session() as s:
        assert s.get(Proposal, pids[0]).status == "withdrawn"


def _offline(app_db, organizer, cid, email):
    at = open_app(organizer, page=OFFLINE)
    at.selectbox(key="off_slug").set_value(slug_of(app_db, cid)).run()
    at.text_input(key="off_citizen").input(email).run()
    at.selectbox(key="off_channel").set_value("letter").run()
    return at


def test_staff_record_a_paper_ballot_once(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        ann = f.citizen(s, display_name="Ann", email="ann@example.invalid")
        cid, pids = f.consultation(s, method="ranked")
    at = _offline(app_db, organizer, cid, "ann@example.invalid")
    assert "Ann" in page_text(at)
    at.text_input(key="off_choices").input("3, 1")
    button(at, "Record ballot").click().run()
    with app_db.session() as s:
        row = s.execute(select(Ballot)).scalar_one()
        assert (row.citizen_id, row.channel, row.recorded_by) == (ann, "letter", organizer.id)
    assert any(a.startswith("success: Ballot recorded. Receipt code:") for a in alerts(at))
    from participation.ballots import ballot_of

    with app_db.session() as s:
        assert ballot_of(s, consultation_id=cid, citizen_id=ann) == {pids[2]: 1, pids[0]: 2}

    # a second paper ballot for the same citizen: the one-ballot rule, shown as a Conflict
    at.text_input(key="off_choices").input("2")
    button(at, "Record ballot").click().run()
    assert any(
        a.startswith("error: Conflict: citizen_id: this citizen already has a ballot")
        for a in alerts(at)
    )


def test_paper_ballot_after_a_web_ballot_is_a_conflict(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        ann = f.citizen(s, email="web@example.invalid")
        cid, pids = f.consultation(s)
        cast_ballot(
            s,
            consultation_id=cid,
            citizen_id=ann,
            choices={pids[0]: 1},
            channel="web",
            actor=citizen_actor(ann),
        )
    at = _offline(app_db, organizer, cid, "web@example.invalid")
    at.text_input(key="off_choices").input("2")
    button(at, "Record ballot").click().run()
    assert (
        "error: Conflict: citizen_id: this citizen already has a ballot (received by web)"
        in alerts(at)
    )


def test_unknown_proposal_number_on_paper_is_named(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        f.citizen(s, email="x@example.invalid")
        cid, _ = f.consultation(s)
    at = _offline(app_db, organizer, cid, "x@example.invalid")
    at.text_input(key="off_choices").input("1, 99")
    button(at, "Record ballot").click().run()
    assert any("Unknown proposal number(s): 99" in a for a in alerts(at))


def test_staff_record_a_letter_comment(app_db):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        ann = f.citizen(s, email="letter@example.invalid")
        cid, pids = f.consultation(s)
    at = _offline(app_db, organizer, cid, "letter@example.invalid")
    form_inputs = [t for t in at.text_input if t.label == "Proposal number"]
    form_inputs[0].input("2")
    next(t for t in at.text_area if t.label == "Comment").input("Sent by post")
    button(at, "Record comment").click().run()
    assert "success: Comment recorded." in alerts(at)
    with app_db.session() as s:
        row = s.execute(select(Comment)).scalar_one()
    assert (row.proposal_id, row.citizen_id, row.channel, row.recorded_by, row.body) == (
        pids[1],
        ann,
        "letter",
        organizer.id,
        "Sent by post",
    )


def test_council_answers_a_proposal(app_db):
    council = app_db.staff("council")
    with app_db.session() as s:
        ann = f.citizen(s)
        cid, pids = f.consultation(s, status="closed")
        tally(s, consultation_id=cid, actor=SYSTEM)
    at = open_app(council, page="app_pages/council.py")
    assert "0 of 3 proposals answered" in page_text(at)
    at.radio[0].set_value("rejected")
    at.text_area[0].input("Too expensive this year")
    button(at, "Save answer").click().run()
    assert "success: Answer saved." in alerts(at)
    assert "1 of 3 proposals answered" in page_text(at)
    with app_db.session() as s:
        p = s.get(Proposal, pids[0])
        assert (p.status, p.answer, p.answered_by) == (
            "rejected",
            "Too expensive this year",
            council.id,
        )
    assert ann


def test_council_answer_needs_reasons(app_db):
    council = app_db.staff("council")
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="closed")
        tally(s, consultation_id=cid, actor=SYSTEM)
    at = open_app(council, page="app_pages/council.py")
    button(at, "Save answer").click().run()
    assert any("the answer must give reasons" in a for a in alerts(at))


def test_organizer_builds_the_governance_report(app_db, tmp_path):
    organizer = app_db.staff("organizer")
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="closed")
        tally(s, consultation_id=cid, actor=SYSTEM)
    at = open_app(organizer, page=MANAGE)
    at.selectbox[0].set_value(slug_of(app_db, cid)).run()
    button(at, "Build the governance report").click().run()
    assert "success: The consultation is now reported." in alerts(at)
    slug = slug_of(app_db, cid)
    assert (tmp_path / "reports" / slug / "report.html").is_file()
    with app_db.session() as s:
        assert s.get(Consultation, cid).status == "reported"


def test_council_sees_the_report_and_gets_its_files(app_db):
    council = app_db.staff("council")
    with app_db.session() as s:
        cid, _ = f.consultation(s, status="closed")
        tally(s, consultation_id=cid, actor=SYSTEM)
    at = open_app(council, page="app_pages/council.py")
    text = page_text(at)
    assert "Governance report" in text
    assert "Proposals answered" in text
    assert "Scorecard: UNDP characteristics of good governance" in text
    assert at.dataframe
    button(at, "Prepare the report files (HTML, PDF, spreadsheet)").click().run()
    assert not at.exception
    labels = [el.proto.label for el in at.get("download_button")]
    assert labels == ["Download HTML", "Download PDF", "Download spreadsheet"]


def test_organizer_edits_a_draft_schedule_and_reminders(app_db):
    from datetime import timedelta

    from core import clock

    clock.set_clock(clock.FrozenClock(f.T0 - timedelta(days=5)))
    try:
        with app_db.session() as s:
            cid, _ = f.consultation(s, status="draft")
        organizer = app_db.staff("organizer")
        at = open_app(organizer, page=MANAGE)
        at.text_input(key="edit_title").input("Benches for the river park")
        at.date_input(key="edit_closes").set_value(date(2026, 3, 30))
        at.time_input(key="edit_closes_time").set_value(time(20, 0))
        at.text_input(key="edit_rounds").input("۲, 9.5")  # Persian digits are numbers too
        at.number_input(key="edit_quiet_start").set_value(22)
        button(at, "Save changes").click().run()
        assert not at.exception, at.exception
        assert "success: Saved (3 fields changed)." in alerts(at)  # title, close, reminders
        with app_db.session() as s:
            c = s.get(Consultation, cid)
            assert c.title == "Benches for the river park"
            assert (c.closes_at.month, c.closes_at.day, c.closes_at.hour) == (3, 30, 20)  # UTC
            assert c.reminder_policy["rounds_hours"] == [48.0, 228.0]
            assert c.reminder_policy["quiet_start"] == 22

        at.text_input(key="edit_rounds").input("soon")
        button(at, "Save changes").click().run()
        assert "error: Reminder rounds: write numbers of days, e.g. 7, 14." in alerts(at)
    finally:
        clock.set_clock(None)
