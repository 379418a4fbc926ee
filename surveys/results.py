"""Score a survey: SQL aggregation (``GROUP BY question, value, channel, district``) fed to
the pure scoring rules of :mod:`surveys.rules`. Read-only; :mod:`surveys.service`
re-exports :func:`survey_results`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import NotFound
from models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from surveys import rules
from surveys.instruments import Driver
from surveys.schemas import DriverResult, QuestionResult, SurveyResults

__all__ = ["get_survey", "survey_questions", "survey_results"]


def get_survey(session: Session, *, ref: int | str) -> Survey:
    """Return a survey by id or slug.

    Raises:
        NotFound: field ``survey``.
    """
    stmt = select(Survey).where(Survey.id == ref if isinstance(ref, int) else Survey.slug == ref)
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no survey {ref!r}", field="survey")
    return row


def survey_questions(session: Session, survey_id: int) -> list[SurveyQuestion]:
    """Return a survey's questions in position order."""
    return list(
        session.execute(
            select(SurveyQuestion)
            .where(SurveyQuestion.survey_id == survey_id)
            .order_by(SurveyQuestion.position, SurveyQuestion.id)
        ).scalars()
    )


def _score(instrument: str, low: float, high: float, values: np.ndarray) -> rules.Score:
    if instrument == "csat":
        return rules.csat(values)
    if instrument == "nps":
        return rules.nps(values)
    return rules.driver_score(values, low, high)


def survey_results(session: Session, *, survey_id: int) -> SurveyResults:
    """Score every question of a survey, overall and by channel and district.

    The database counts answers with ``GROUP BY question, value, channel, district``; the
    counts are expanded into arrays and scored by :mod:`surveys.rules` — CSAT top-2-box
    (DESIGN §8), NPS (Reichheld 2003), CMT driver scores 0–100 (ICCS Common Measurements
    Tool), the unofficial ACSI-style index (Fornell et al. 1996) — with groups of fewer
    than :data:`surveys.rules.MIN_CELL` answers suppressed.

    Args:
        survey_id: the survey.

    Returns:
        :class:`SurveyResults`.

    Raises:
        NotFound: no such survey.
    """
    survey = get_survey(session, ref=survey_id)
    questions = survey_questions(session, survey.id)
    has_text = case((SurveyAnswer.text.is_not(None), 1), else_=0)
    counts = session.execute(
        select(
            SurveyAnswer.question_id,
            SurveyAnswer.value,
            has_text,
            SurveyResponse.channel,
            SurveyResponse.district,
            func.count(),
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey.id)
        .group_by(
            SurveyAnswer.question_id,
            SurveyAnswer.value,
            has_text,
            SurveyResponse.channel,
            SurveyResponse.district,
        )
    ).all()
    resp = session.execute(
        select(SurveyResponse.channel, SurveyResponse.district, func.count())
        .where(SurveyResponse.survey_id == survey.id)
        .group_by(SurveyResponse.channel, SurveyResponse.district)
    ).all()
    as_of = session.execute(
        select(func.max(SurveyResponse.submitted_at)).where(SurveyResponse.survey_id == survey.id)
    ).scalar_one()
    by_channel: dict[str, int] = defaultdict(int)
    by_district: dict[str | None, int] = defaultdict(int)
    for channel, district, n in resp:
        by_channel[channel] += int(n)
        by_district[district] += int(n)

    # question id → (values, channels, districts) with one entry per valid answer
    cells: dict[int, list[tuple[float, str, str | None, int]]] = defaultdict(list)
    dont_know: dict[int, int] = defaultdict(int)
    texts: dict[int, int] = defaultdict(int)
    for qid, value, is_text, channel, district, n in counts:
        if is_text:
            texts[qid] += int(n)
        elif value is None:
            dont_know[qid] += int(n)
        else:
            cells[qid].append((float(value), channel, district, int(n)))

    results: list[QuestionResult] = []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, str]]] = defaultdict(list)
    for q in questions:
        rows = sorted(cells.get(q.id, []), key=lambda r: (r[0], r[1], r[2] or ""))
        reps = np.array([r[3] for r in rows], dtype=np.int64)
        values = np.repeat(np.array([r[0] for r in rows], dtype=np.float64), reps)
        channels = np.repeat(np.array([r[1] for r in rows], dtype=object), reps)
        districts = np.repeat(np.array([r[2] for r in rows], dtype=object), reps)
        if q.instrument == "text":
            score, chan, dist = rules.Score(None, 0), {}, {}
        else:
            low, high = float(q.scale_min or 0), float(q.scale_max or 1)

            def fn(v: Any, ins: str = q.instrument, lo: float = low, hi: float = high) -> Any:
                return _score(ins, lo, hi, v)

            score = fn(values)
            chan = rules.by_group(values, channels, fn)
            dist = rules.by_group(values, districts, fn)
            if q.instrument.startswith("cmt:"):
                rescaled = (values - low) / (high - low) * 100.0
                pooled[q.instrument[4:]].append((rescaled, channels, districts, q.key))
        results.append(
            QuestionResult(
                key=q.key,
                text=q.text,
                instrument=q.instrument,
                scale_min=q.scale_min,
                scale_max=q.scale_max,
                score=score,
                dont_know=dont_know.get(q.id, 0),
                texts=texts.get(q.id, 0),
                by_channel=chan,
                by_district=dist,
            )
        )

    drivers: list[DriverResult] = []
    for d in Driver:
        parts = pooled.get(d.value)
        if not parts:
            continue
        values = np.concatenate([p[0] for p in parts])
        channels = np.concatenate([p[1] for p in parts])
        districts = np.concatenate([p[2] for p in parts])

        def pooled_fn(v: Any) -> rules.Score:
            return rules.driver_score(v, 0, 100)

        drivers.append(
            DriverResult(
                driver=d.value,
                questions=tuple(p[3] for p in parts),
                score=pooled_fn(values),
                by_channel=rules.by_group(values, channels, pooled_fn),
                by_district=rules.by_group(values, districts, pooled_fn),
            )
        )

    def first(instrument: str) -> rules.Score | None:
        return next((r.score for r in results if r.instrument == instrument), None)

    return SurveyResults(
        survey_id=survey.id,
        slug=survey.slug,
        title=survey.title,
        kind=survey.kind,
        consultation_id=survey.consultation_id,
        respondents=sum(by_channel.values()),
        respondents_by_channel=dict(sorted(by_channel.items())),
        respondents_by_district=dict(sorted(by_district.items(), key=lambda kv: kv[0] or "")),
        questions=tuple(results),
        drivers=tuple(drivers),
        csat=first("csat"),
        nps=first("nps"),
        acsi=_acsi(session, survey.id, [q for q in questions if q.instrument == "acsi"]),
        as_of=_utc(as_of),
    )


def _acsi(session: Session, survey_id: int, items: list[SurveyQuestion]) -> rules.Score | None:
    """The ACSI-style index from exactly three ``acsi`` items, else None.

    One pivot per respondent (conditional aggregation), counted by the triple of answers.
    """
    if len(items) != 3:
        return None
    cols = [
        func.max(case((SurveyAnswer.question_id == q.id, SurveyAnswer.value))).label(f"a{i}")
        for i, q in enumerate(items)
    ]
    per = (
        select(*cols)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey_id)
        .group_by(SurveyAnswer.response_id)
        .subquery()
    )
    rows = session.execute(
        select(per.c.a0, per.c.a1, per.c.a2, func.count()).group_by(per.c.a0, per.c.a1, per.c.a2)
    ).all()
    if not rows:
        return rules.Score(None, 0)
    reps = np.array([int(r[3]) for r in rows], dtype=np.int64)
    triples = np.array(
        [[np.nan if v is None else float(v) for v in r[:3]] for r in rows], dtype=np.float64
    )
    return rules.acsi_index(np.repeat(triples, reps, axis=0))


def _utc(value: datetime | None) -> datetime | None:
    return clock.ensure_utc(value) if value is not None else None
