"""Frozen results of the survey services (:mod:`surveys.service`).

Scores reuse :class:`surveys.rules.Score` (value + n) and :class:`surveys.rules.GroupScore`
(value + n + suppressed); a suppressed group keeps its n here, for tests and staff. Public
outputs (reports, ``civicflow survey results --json``) hide the n of suppressed cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from surveys.rules import GroupScore, Score

__all__ = [
    "DriverResult",
    "PulseOut",
    "QuestionResult",
    "ResponseReceipt",
    "SmsAnswerResult",
    "SurveyImportResult",
    "SurveyResults",
]


@dataclass(frozen=True, slots=True)
class SurveyImportResult:
    """What :func:`surveys.service.import_survey_wave` stored.

    Attributes:
        survey_id: the new survey's id.
        slug: its slug (``kansas-city-fy2022`` …), used by the CLI and reports.
        title: its title (the mapping's title).
        respondents: survey_response rows written (one per data record of the file).
        questions: survey_question rows written (one per mapped column).
        answers: survey_answer rows written (numbers, "don't know" and free texts; a
            blank cell writes no row).
        rejected_districts: district cells that failed the mapping's pattern (kept as no
            district).
        digest: SHA-256 hex of the file's bytes (the re-import key).
        replaced: True when an earlier import of the same bytes was replaced.
    """

    survey_id: int
    slug: str
    title: str
    respondents: int
    questions: int
    answers: int
    rejected_districts: int
    digest: str
    replaced: bool


@dataclass(frozen=True, slots=True)
class PulseOut:
    """The post-cycle satisfaction pulse of a consultation.

    Attributes:
        survey_id: the pulse survey's id.
        slug: its slug (``<consultation slug>-pulse``).
        created: False when the pulse existed already (the call is idempotent).
        questions: the question keys, in order.
    """

    survey_id: int
    slug: str
    created: bool
    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseReceipt:
    """A stored survey response.

    Attributes:
        response_id: the survey_response row.
        survey_id: the survey.
        answered: answers stored (numbers, "don't know" and texts).
    """

    response_id: int
    survey_id: int
    answered: int


@dataclass(frozen=True, slots=True)
class SmsAnswerResult:
    """One SMS reply stored as the answer to the survey's current question.

    Attributes:
        question_key: the question answered.
        value: the number read from the reply (None for a free-text question).
        next_question_key: the next unanswered question, or None when the survey is done.
        complete: True when every question now has an answer.
    """

    question_key: str
    value: int | None
    next_question_key: str | None
    complete: bool


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """The score of one question, overall and per channel and district.

    Attributes:
        key: question key.
        text: question text (or the mapping's short label).
        instrument: ``csat``, ``nps``, ``cmt:<driver>``, ``acsi`` or ``text``.
        scale_min: lowest scale point (None for text).
        scale_max: highest scale point (None for text).
        score: CSAT share in [0, 1], NPS in [−100, 100], CMT/ACSI item score in [0, 100];
            ``Score(None, 0)`` for text. ``score.n`` = valid answers.
        dont_know: answers recorded as "don't know" (excluded from the score).
        texts: free-text answers (text questions only; never shown).
        by_channel: channel → score, groups with n < 5 suppressed.
        by_district: district → score, groups with n < 5 suppressed; respondents without
            a district are left out.
    """

    key: str
    text: str
    instrument: str
    scale_min: float | None
    scale_max: float | None
    score: Score
    dont_know: int
    texts: int
    by_channel: dict[str, GroupScore]
    by_district: dict[str, GroupScore]


@dataclass(frozen=True, slots=True)
class DriverResult:
    """A CMT driver pooled over its items.

    Attributes:
        driver: ``timeliness``, ``knowledge``, ``courtesy``, ``fairness`` or ``outcome``.
        questions: keys of the items pooled.
        score: mean of every valid item answer rescaled (x − min)/(max − min)·100, in
            [0, 100]; n = valid answers over all items.
        by_channel: as :attr:`QuestionResult.by_channel`.
        by_district: as :attr:`QuestionResult.by_district`.
    """

    driver: str
    questions: tuple[str, ...]
    score: Score
    by_channel: dict[str, GroupScore]
    by_district: dict[str, GroupScore]


@dataclass(frozen=True, slots=True)
class SurveyResults:
    """Every score of a survey (:func:`surveys.service.survey_results`).

    Attributes:
        survey_id: the survey.
        slug: its slug.
        title: its title.
        kind: ``pulse`` or ``wave``.
        consultation_id: the consultation of a pulse, else None.
        respondents: survey_response rows.
        respondents_by_channel: channel → respondents (raw counts, not suppressed).
        respondents_by_district: district → respondents (raw; None key = no district).
        questions: per question, in position order.
        drivers: per CMT driver present, in driver order.
        csat: the first CSAT question's score (the headline), or None without one.
        nps: the first NPS question's score, or None.
        acsi: the unofficial ACSI-style index when the survey has exactly three ``acsi``
            items (listwise complete respondents), else None.
        as_of: the latest ``submitted_at`` (UTC), None without responses.
    """

    survey_id: int
    slug: str
    title: str
    kind: str
    consultation_id: int | None
    respondents: int
    respondents_by_channel: dict[str, int]
    respondents_by_district: dict[str | None, int]
    questions: tuple[QuestionResult, ...]
    drivers: tuple[DriverResult, ...]
    csat: Score | None
    nps: Score | None
    acsi: Score | None
    as_of: datetime | None

    def question(self, key: str) -> QuestionResult:
        """Return the result of question ``key``.

        Raises:
            KeyError: no such question.
        """
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)

    def driver(self, name: str) -> DriverResult:
        """Return the pooled result of CMT driver ``name``.

        Raises:
            KeyError: the survey has no item for that driver.
        """
        for d in self.drivers:
            if d.driver == name:
                return d
        raise KeyError(name)
