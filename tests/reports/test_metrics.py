"""Report metrics of a small handmade consultation (tests/reports/handmade.py), each figure
worked out by hand in the test, plus the real survey waves and the population import."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from core.errors import ValidationError
from models import Consultation, OutboxMessage, Population
from reports.metrics import consultation_metrics, survey_wave_metrics
from reports.service import import_population_csv
from surveys.service import import_survey_wave
from tests import factories as f
from tests.reports.handmade import SCRIPT_TITLE, build


@pytest.fixture
def handmade(session, tmp_path):
    return build(session, tmp_path)


def test_turnout_and_channel_mix_by_hand(session, handmade):
    data = consultation_metrics(session, consultation_id=handmade.consultation_id)
    # eligible: 10 north + 6 south (the 3 in east and the 15-year-old are not)
    assert data.figure("eligible").value == 16
    assert data.figure("participants").n == 10
    turnout = data.figure("turnout")
    assert (turnout.value, turnout.n) == (pytest.approx(10 / 16), 16)
    rows = {r["district"]: r for r in data.table("turnout").records()}
    assert rows["north"] == {"district": "north", "eligible": 10, "participants": 7,
                             "turnout": pytest.approx(0.7)}  # fmt: skip
    # south: 3 voters < 5 → suppressed, and its turnout with it
    assert (rows["south"]["participants"], rows["south"]["turnout"]) == (None, None)
    mix = {r["channel"]: (r["ballots"], r["share"]) for r in data.table("channel_mix").records()}
    assert mix == {"web": (6, pytest.approx(0.6)), "sms": (None, None), "letter": (None, None)}
    # 4 ballots off the web is a small cell: the share is suppressed too
    assert data.figure("off_web_share").suppressed


def test_representativeness_by_hand(session, handmade):
    data = consultation_metrics(session, consultation_id=handmade.consultation_id)
    # participants: north/16-39/female 4, north/40+/male 3, south/40+/female 3 (of 10)
    # population: each north cell 100/600 = 1/6, each south cell 50/600 = 1/12
    p = {("n", "y", "f"): Fraction(4, 10), ("n", "o", "m"): Fraction(3, 10),
         ("s", "o", "f"): Fraction(3, 10)}  # fmt: skip
    q = {(d, a, g): Fraction(1, 6) if d == "n" else Fraction(1, 12)
         for d in "ns" for a in "yo" for g in "fm"}  # fmt: skip
    d = sum(abs(p.get(k, 0) - q[k]) for k in q) / 2
    assert d == Fraction(7, 12)
    fig = data.figure("representativeness")
    assert (fig.value, fig.n) == (pytest.approx(float(d)), 10)
    # district alone: p = (.7, .3), q = (2/3, 1/3) → D = 1/30
    dims = {
        r["dimension"]: r["dissimilarity_d"] for r in data.table("representativeness").records()
    }
    assert dims["district"] == pytest.approx(1 / 30)
    # gender alone: p = (.7 f, .3 m), q = (.5, .5) → D = .2
    assert dims["gender"] == pytest.approx(0.2)
    # every cell has fewer than 5 participants: all suppressed, population shown
    cells = data.table("representativeness_cells").records()
    assert all(c["participants"] is None and c["gap"] is None for c in cells)
    assert [c["population"] for c in cells] == [100] * 4 + [50] * 4


def test_results_comments_and_responsiveness_by_hand(session, handmade):
    data = consultation_metrics(session, consultation_id=handmade.consultation_id)
    results = data.table("results").records()
    assert [(r["proposal"], r["votes"]) for r in results] == [
        (SCRIPT_TITLE, 8),
        ("Trees", 5),
        ("Lights", None),  # 2 votes → suppressed
    ]
    assert results[0]["share_of_ballots"] == pytest.approx(0.8)
    # visible comments: 6 for, 2 against, 3 neutral → balance (6 − 2)/(6 + 2)
    bal = data.figure("stance_balance")
    assert (bal.value, bal.n) == (pytest.approx(0.5), 8)
    stance = {r["stance"]: r["comments"] for r in data.table("comments").records()}
    assert stance == {"for": 6, "against": None, "neutral": None}
    assert data.figure("comments").n == 12
    assert data.figure("moderation_health").value == pytest.approx(11 / 12)
    # answered 2 of 3 proposals, after 2 and 5 days → median 3.5
    assert data.figure("share_answered").value == pytest.approx(2 / 3)
    med = data.figure("median_days_to_answer")
    assert (med.value, med.n) == (pytest.approx(3.5), 2)


def test_pulse_satisfaction_by_hand(session, handmade):
    data = consultation_metrics(session, consultation_id=handmade.consultation_id)
    # csat 5, 4, 4, 3, 2 (+ one don't know) → 3/5; nps 10 9 9 7 5 3 → (3 − 2)/6
    assert (data.figure("pulse_csat").value, data.figure("pulse_csat").n) == (0.6, 5)
    assert data.figure("pulse_nps").value == pytest.approx(100 / 6)
    # fairness 5 4 4 3 2 1 → mean of (x − 1)/4·100 = (4+3+3+2+1+0)/6·25
    assert data.figure("pulse_driver_fairness").value == pytest.approx(13 / 6 * 25)
    card = {(r["characteristic"], r["metric"]): r for r in data.table("scorecard").records()}
    assert card[("Participation", "turnout")]["figure"] == "62.5 %"
    assert card[("Effectiveness and efficiency", "nps")]["n"] == 6
    assert card[("Responsiveness", "driver timeliness")]["figure"] == "—"


def test_stored_tally_is_the_result_source(session, handmade):
    row = session.get(Consultation, handmade.consultation_id)
    row.result = {"method": "approval", "counts": {"1": 8, "2": 5, "3": 2}, "ballots": 10,
                  "ranking": [{"id": "1", "rank": 1}, {"id": "2", "rank": 2},
                              {"id": "3", "rank": 3}]}  # fmt: skip
    session.flush()
    data = consultation_metrics(session, consultation_id=handmade.consultation_id)
    outcomes = [r["outcome"] for r in data.table("results").records()]
    assert outcomes == ["rank 1", "rank 2", "rank 3"]
    assert "stored tally" in data.table("results").note


def test_reminder_uplift_from_outbox_holdout_rows(session):
    cid, pids = f.consultation(session, days=14)
    from core.actor import Actor
    from participation.ballots import cast_ballot

    def outbox(citizen: int, status: str, reason: str | None) -> None:
        session.add(OutboxMessage(
            idempotency_key=f"reminder:{cid}:1:{citizen}:email", citizen_id=citizen,
            consultation_id=cid, kind="reminder", purpose="reminders", channel="email",
            template="reminder", locale="en", payload={}, status=status, reason=reason,
            not_before=f.T0, created_at=f.T0,
            sent_at=f.T0 + timedelta(hours=2) if status == "sent" else None,
        ))  # fmt: skip

    # 20 reminded of whom 12 vote; 10 held out of whom 5 vote → uplift .6 − .5 = .1
    for i in range(30):
        c = f.citizen(session)
        outbox(c, "sent" if i < 20 else "suppressed", None if i < 20 else "holdout")
        if i < 12 or 20 <= i < 25:
            cast_ballot(session, consultation_id=cid, citizen_id=c, choices={pids[0]: 1},
                        channel="web", actor=Actor(kind="citizen", id=c))  # fmt: skip
    session.flush()
    data = consultation_metrics(session, consultation_id=cid)
    up = data.figure("reminder_uplift")
    assert (up.value, up.n) == (pytest.approx(0.1), 30)
    assert up.ci is not None
    assert up.ci[0] < 0.1 < up.ci[1]
    groups = {r["group"]: r for r in data.table("reminder_uplift").records()}
    assert groups["holdout"]["turnout"] == pytest.approx(0.5)


def test_no_holdout_rows_no_uplift_and_empty_population_noted(session):
    cid, _ = f.consultation(session)
    data = consultation_metrics(session, consultation_id=cid)
    with pytest.raises(KeyError):
        data.figure("reminder_uplift")
    assert any("population table is empty" in n for n in data.notes)
    assert data.figure("turnout").suppressed  # nobody voted


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("district,age,gender,count\nn,16-24,female,1\n", "header"),
        ("district,age_band,gender,count\nn,sixteen,female,1\n", "age_band"),
        ("district,age_band,gender,count\nn,16-24,woman,1\n", "gender"),
        ("district,age_band,gender,count\nn,16-24,female,-3\n", "count"),
        ("district,age_band,gender,count\nn,16-24,female,1\nn,16-24,female,2\n", "row"),
    ],
)
def test_bad_population_file_is_refused_whole(session, tmp_path, text, field):
    path = tmp_path / "pop.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        import_population_csv(session, path)
    assert err.value.field == field
    assert session.execute(select(func.count()).select_from(Population)).scalar_one() == 0


def test_kansas_wave_report_data(session, realdata):
    out = import_survey_wave(
        session, path=realdata / "resident_survey/FY2022_RS_Cleaned_safe.csv",
        mapping="kansas_city_fy2022", actor=f.SYSTEM,
    )  # fmt: skip
    data = survey_wave_metrics(session, survey_id=out.survey_id)
    assert data.subject == "survey"
    assert data.figure("respondents").n == 1033
    by_channel = {
        r["channel"]: r["respondents"] for r in data.table("respondents_by_channel").records()
    }
    assert by_channel == {"letter": 392, "phone": 17, "web": 624}
    districts = {r["district"] for r in data.table("csat_by_district").records()}
    assert districts == {"1", "2", "3", "4", "5", "6"}
    # no cell under 5 answers anywhere in the district table
    assert all(r["n"] >= 5 for r in data.table("scores_by_district").records())


def test_toronto_wave_report_shows_no_channel_breakdown(session, realdata):
    out = import_survey_wave(
        session, path=realdata / "resident_survey/survey_data.csv",
        mapping="toronto_public_engagement", actor=f.SYSTEM,
    )  # fmt: skip
    data = survey_wave_metrics(session, survey_id=out.survey_id)
    keys = {t.key for t in data.tables}
    assert "scores_by_channel" not in keys
    assert any("one channel (web)" in n for n in data.notes)
    assert any("agreement" in n for n in data.notes)
    rows = data.table("scores_by_district").records()
    assert rows
    assert all(r["n"] >= 5 for r in rows)
