"""Survey services through the database: importing the two real resident surveys, the
satisfaction pulse, answers on the web and by SMS, and scoring with SQL aggregation.

Expected values come from the raw CSV files read here with the csv module and plain loops
(nothing of surveys.importer or surveys.mapping), or from hand arithmetic in comments.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, ValidationError
from models import Contact, ImportRecord, Survey, SurveyAnswer, SurveyResponse
from surveys.rules import GroupScore
from surveys.service import (
    create_pulse,
    import_survey_wave,
    record_response,
    record_sms_answer,
    survey_results,
)
from tests import factories as f

KANSAS = "resident_survey/FY2022_RS_Cleaned_safe.csv"
TORONTO = "resident_survey/survey_data.csv"
T_DISTRICT = "12. Please provide the first three characters of your postal code (e.g. M5H) - other"
T_RELEVANT = (
    "3.9. The City's engagement activities are relevant to me, my family and/or my community"
)
T_IDEAS = "3.1. The City considers my ideas"
T_DIFFERENCE = "3.11. I can't see how my participation made a difference"
AGREE = {"strongly disagree": 1, "disagree": 2, "neither agree nor disagree": 3, "agree": 4,
         "strongly agree": 5}  # fmt: skip
KC_CHANNEL = {"Web": "web", "Mail": "letter", "Phone": "phone"}

Row = dict[str, str]


def raw(path: Path, encoding: str) -> list[Row]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def kc(column: str) -> Callable[[Row], list[int]]:
    return lambda r: [int(r[column])] if r[column] in {"1", "2", "3", "4", "5"} else []


def top2(values: list[int]) -> float:
    return sum(v >= 4 for v in values) / len(values)


def driver(values: list[int]) -> float:
    return sum((v - 1) / 4 * 100 for v in values) / len(values)


def grouped(
    rows: list[Row],
    group: Callable[[Row], str | None],
    answers: Callable[[Row], list[int]],
    score: Callable[[list[int]], float],
) -> dict[str, GroupScore]:
    members: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        g = group(r)
        if g is not None:
            members[g].extend(answers(r))
    out = {}
    for g, vals in members.items():
        out[g] = (
            GroupScore(None, len(vals), True)
            if len(vals) < 5
            else GroupScore(score(vals), len(vals), False)
        )
    return out


def same_groups(actual: dict[str, GroupScore], expected: dict[str, GroupScore]) -> None:
    expected = {k: v for k, v in expected.items() if v.n > 0}
    assert set(actual) == set(expected)
    for key, exp in expected.items():
        assert (actual[key].n, actual[key].suppressed) == (exp.n, exp.suppressed), key
        assert actual[key].value == pytest.approx(exp.value), key


# --- real survey files ---------------------------------------------------------------


def test_kansas_wave_scores_match_the_raw_file(session, realdata):
    rows = raw(realdata / KANSAS, "utf-8")
    out = import_survey_wave(
        session, path=realdata / KANSAS, mapping="kansas_city_fy2022", actor=f.SYSTEM
    )
    assert (out.slug, out.respondents, out.questions) == ("kansas-city-fy2022", len(rows), 10)
    res = survey_results(session, survey_id=out.survey_id)
    assert res.respondents == 1033
    assert res.respondents_by_channel == {"letter": 392, "phone": 17, "web": 624}

    overall = [v for r in rows for v in kc("q2_01")(r)]
    assert res.csat is not None
    assert res.csat.n == len(overall)
    assert res.csat.value == pytest.approx(top2(overall))
    dont_know = sum(r["q2_01"] == "9" for r in rows)
    assert res.question("csat_city_services").dont_know == dont_know

    # courtesy pools q17_03 (311 call takers) and q15_03 (court staff)
    def courtesy(r: Row) -> list[int]:
        return kc("q17_03")(r) + kc("q15_03")(r)

    d = res.driver("courtesy")
    assert set(d.questions) == {"driver_courtesy_311", "driver_courtesy_court"}
    everyone = [v for r in rows for v in courtesy(r)]
    assert d.score.n == len(everyone)
    assert d.score.value == pytest.approx(driver(everyone))
    same_groups(d.by_channel, grouped(rows, lambda r: KC_CHANNEL[r["method"]], courtesy, driver))
    same_groups(d.by_district, grouped(rows, lambda r: r["counci"] or None, courtesy, driver))
    # a single-item driver per district, straight from one column
    same_groups(
        res.driver("fairness").by_district,
        grouped(rows, lambda r: r["counci"] or None, kc("q15_04"), driver),
    )


def toronto_fsa(r: Row) -> str | None:
    fsa = r[T_DISTRICT].strip().upper()
    return fsa if re.fullmatch(r"[ABCEGHJKLMNPRSTVXY][0-9][A-Z]", fsa) else None


def agree(column: str, *, reverse: bool = False) -> Callable[[Row], list[int]]:
    def answer(r: Row) -> list[int]:
        cell = r[column].strip().lower()
        if not cell:
            return []
        return [6 - AGREE[cell] if reverse else AGREE[cell]]

    return answer


def test_toronto_wave_scores_match_the_raw_file(session, realdata):
    rows = raw(realdata / TORONTO, "cp1252")
    out = import_survey_wave(
        session, path=realdata / TORONTO, mapping="toronto_public_engagement", actor=f.SYSTEM
    )
    assert out.respondents == len(rows) == 962
    res = survey_results(session, survey_id=out.survey_id)
    assert res.respondents_by_channel == {"web": 962}

    relevant = [v for r in rows for v in agree(T_RELEVANT)(r)]
    assert res.csat is not None
    assert (res.csat.n, res.csat.value) == (len(relevant), pytest.approx(top2(relevant)))

    def outcome(r: Row) -> list[int]:
        return agree(T_IDEAS)(r) + agree(T_DIFFERENCE, reverse=True)(r)

    d = res.driver("outcome")
    everyone = [v for r in rows for v in outcome(r)]
    assert (d.score.n, d.score.value) == (len(everyone), pytest.approx(driver(everyone)))
    same_groups(d.by_district, grouped(rows, toronto_fsa, outcome, driver))
    texts = sum(
        bool(r[c].strip())
        for r in rows
        for c in r
        if c.startswith(("8. What do you think", "9. What do you think"))
    )
    assert sum(q.texts for q in res.questions) == texts


def test_same_file_twice_is_refused_unless_replaced(session, realdata):
    path = realdata / KANSAS
    first = import_survey_wave(session, path=path, mapping="kansas_city_fy2022", actor=f.SYSTEM)
    with pytest.raises(Conflict) as err:
        import_survey_wave(session, path=path, mapping="kansas_city_fy2022", actor=f.SYSTEM)
    assert err.value.field == "file"
    again = import_survey_wave(
        session, path=path, mapping="kansas_city_fy2022", actor=f.SYSTEM, replace=True
    )
    assert again.replaced
    assert again.slug == first.slug
    assert session.execute(select(func.count()).select_from(Survey)).scalar_one() == 1
    n = session.execute(select(func.count()).select_from(SurveyResponse)).scalar_one()
    assert n == 1033
    kinds = session.execute(select(ImportRecord.kind, ImportRecord.source_name)).all()
    assert [(k, s) for k, s in kinds] == [("survey", f"{first.slug}/{path.name}")]


def test_a_file_in_the_wrong_encoding_stores_nothing(session, realdata, tmp_path):
    mapping = Path(__file__).parents[2] / "surveys/mappings/toronto_public_engagement.toml"
    bad = tmp_path / "utf8.toml"
    bad.write_text(mapping.read_text(encoding="utf-8").replace('"cp1252"', '"utf-8"'), "utf-8")
    with pytest.raises(ValidationError, match="cannot be decoded"):
        import_survey_wave(session, path=realdata / TORONTO, mapping=bad, actor=f.SYSTEM)
    assert session.execute(select(func.count()).select_from(Survey)).scalar_one() == 0


# --- the satisfaction pulse -------------------------------------------------------------


def closed_consultation(session) -> int:
    cid, _ = f.consultation(session, status="closed")
    return cid


def test_pulse_is_created_once(session):
    cid = closed_consultation(session)
    first = create_pulse(session, consultation_id=cid, actor=f.SYSTEM)
    second = create_pulse(session, consultation_id=cid, actor=f.SYSTEM)
    assert first.created
    assert not second.created
    assert second.survey_id == first.survey_id
    assert first.questions == ("csat", "nps", "driver_fairness", "driver_outcome", "comment")


def test_pulse_waits_for_the_vote_to_close(session):
    cid, _ = f.consultation(session, status="open")
    with pytest.raises(NotAllowed):
        create_pulse(session, consultation_id=cid, actor=f.SYSTEM)


def test_pulse_nps_csat_and_drivers_by_hand(session):
    pulse = create_pulse(session, consultation_id=closed_consultation(session), actor=f.SYSTEM)
    # csat None = "don't know"; channel web for the first five, sms for the last two
    answers = [
        (5, 10, 5, "Great"), (4, 9, 4, None), (3, 8, 3, None), (2, 7, 2, None),
        (1, 6, 1, None), (None, 0, 5, None), (4, 10, None, None),
    ]  # fmt: skip
    for i, (csat, nps, fairness, text) in enumerate(answers):
        c = f.citizen(session, district="north")
        record_response(
            session,
            survey_id=pulse.survey_id,
            citizen_id=c,
            answers={"csat": csat, "nps": nps, "driver_fairness": fairness, "comment": text},
            channel="web" if i < 5 else "sms",
            actor=Actor(kind="citizen", id=c),
        )
    res = survey_results(session, survey_id=pulse.survey_id)
    # NPS: promoters 10, 9, 10 = 3; detractors 6, 0 = 2; n = 7 → 100·(3 − 2)/7
    assert res.nps is not None
    assert res.nps.n == 7
    assert res.nps.value == pytest.approx(100 / 7)
    # CSAT: valid 5, 4, 3, 2, 1, 4 (one don't know) → top-2 = 3/6
    assert res.csat is not None
    assert (res.csat.n, res.csat.value) == (6, pytest.approx(0.5))
    assert res.question("csat").dont_know == 1
    # fairness: 5,4,3,2,1,5 → (4+3+2+1+0+4)/6/4·100 = 58.33…; the sms group has one answer
    fair = res.driver("fairness")
    assert fair.score.value == pytest.approx(14 / 6 / 4 * 100)
    assert fair.by_channel["web"] == GroupScore(50.0, 5, False)
    assert fair.by_channel["sms"] == GroupScore(None, 1, True)
    assert res.question("comment").texts == 1


def test_an_answer_off_the_scale_names_the_question_and_stores_nothing(session):
    pulse = create_pulse(session, consultation_id=closed_consultation(session), actor=f.SYSTEM)
    c = f.citizen(session)
    me = Actor(kind="citizen", id=c)
    for answers, field in (
        ({"csat": 4, "nps": 11}, "nps"),
        ({"csat": 4.5}, "csat"),
        ({"csat": "4"}, "csat"),
        ({"nps": 9}, "csat"),  # csat is required
        ({"csat": 4, "colour": 3}, "colour"),
        ({"csat": 4, "driver_outcome": 0}, "driver_outcome"),
    ):
        with pytest.raises(ValidationError) as err:
            record_response(
                session, survey_id=pulse.survey_id, citizen_id=c, answers=answers,
                channel="web", actor=me,
            )  # fmt: skip
        assert err.value.field == field
    assert session.execute(select(func.count()).select_from(SurveyResponse)).scalar_one() == 0


def test_one_response_per_citizen_and_ledger_entry(session):
    pulse = create_pulse(session, consultation_id=closed_consultation(session), actor=f.SYSTEM)
    c = f.citizen(session)
    me = Actor(kind="citizen", id=c)
    record_response(
        session, survey_id=pulse.survey_id, citizen_id=c, answers={"csat": 5},
        channel="web", actor=me,
    )  # fmt: skip
    with pytest.raises(Conflict):
        record_response(
            session, survey_id=pulse.survey_id, citizen_id=c, answers={"csat": 1},
            channel="web", actor=me,
        )  # fmt: skip
    kinds = session.execute(select(Contact.kind, Contact.direction).where(Contact.citizen_id == c))
    assert kinds.all() == [("survey", "inbound")]


def test_sms_answers_walk_through_the_questions(session):
    pulse = create_pulse(session, consultation_id=closed_consultation(session), actor=f.SYSTEM)
    c = f.citizen(session)
    first = record_sms_answer(session, survey_id=pulse.survey_id, citizen_id=c, text=" ۴ ")
    assert (first.question_key, first.value, first.next_question_key) == ("csat", 4, "nps")
    with pytest.raises(ValidationError) as err:
        record_sms_answer(session, survey_id=pulse.survey_id, citizen_id=c, text="11")
    assert err.value.field == "nps"
    for text in ("9", "5", "3"):
        clock.set_clock(clock.FrozenClock(clock.now() + timedelta(minutes=1)))
        record_sms_answer(session, survey_id=pulse.survey_id, citizen_id=c, text=text)
    last = record_sms_answer(
        session, survey_id=pulse.survey_id, citizen_id=c, text="Shorter letters"
    )
    assert (last.question_key, last.complete) == ("comment", True)
    with pytest.raises(Conflict):
        record_sms_answer(session, survey_id=pulse.survey_id, citizen_id=c, text="1")
    channel = session.execute(select(SurveyResponse.channel)).scalar_one()
    assert channel == "sms"
    assert session.execute(select(func.count()).select_from(SurveyAnswer)).scalar_one() == 5
    res = survey_results(session, survey_id=pulse.survey_id)
    assert res.nps is not None
    assert (res.nps.value, res.nps.n) == (100.0, 1)
