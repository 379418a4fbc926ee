"""Survey services, the only write path for surveys: import a resident-survey wave, create
a consultation's satisfaction pulse, record answers (web, offline or one SMS at a time),
and score a survey with SQL aggregation fed to :mod:`surveys.rules`. The import lives in
:mod:`surveys.waves` and the scoring in :mod:`surveys.results`; both are re-exported here.

Storage (DESIGN §4): ``survey`` (kind ``wave`` or ``pulse``), ``survey_question`` (key,
text, ``instrument`` = ``csat`` | ``nps`` | ``cmt:<driver>`` | ``acsi`` | ``text``, scale
end points), ``survey_response`` (channel, district) and ``survey_answer`` (``value`` on
the question's scale, ``value = NULL`` with no text = "don't know", or ``text``). A blank
cell of an imported file writes no answer row.

Services never commit (CONVENTIONS): the caller's ``session_scope()`` is the one
transaction, so a refused import leaves nothing behind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict, NotAllowed, NotFound, ValidationError
from models import Citizen, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from participation.audit import append_event
from participation.consultations import get_consultation
from participation.ledger import record_contact
from participation.schemas import OFFLINE_CHANNELS
from surveys import rules
from surveys.instruments import SATISFACTION_PULSE, Instrument
from surveys.mapping import CHANNELS
from surveys.results import get_survey, survey_questions, survey_results
from surveys.schemas import PulseOut, ResponseReceipt, SmsAnswerResult
from surveys.waves import IMPORT_KIND, import_survey_wave, instrument_code

__all__ = [
    "IMPORT_KIND",
    "MAX_TEXT_CHARS",
    "create_pulse",
    "get_survey",
    "import_survey_wave",
    "instrument_code",
    "record_response",
    "record_sms_answer",
    "survey_results",
]

MAX_TEXT_CHARS = 2000
"""Longest free-text answer accepted from a respondent, in characters."""

_CLOSED = ("closed", "tallied", "reported", "archived")


# --------------------------------------------------------------------------------------
# The satisfaction pulse and its answers


def _pulse_instrument(key: str) -> Instrument | None:
    try:
        return SATISFACTION_PULSE.question(key).instrument
    except KeyError:
        return None


def create_pulse(session: Session, *, consultation_id: int, actor: Actor) -> PulseOut:
    """Create the post-cycle satisfaction pulse (:data:`SATISFACTION_PULSE`) of a
    consultation, or return the one it already has (idempotent).

    Args:
        consultation_id: a consultation that is closed or later.
        actor: an organizer or the system.

    Returns:
        :class:`PulseOut`; ``created`` tells whether a survey was made now.

    Raises:
        NotFound: no such consultation. NotAllowed: voting has not closed yet, or the
        actor is not an organizer.
    """
    actor.require_staff("organizer")
    c = get_consultation(session, ref=consultation_id)
    keys = tuple(q.key for q in SATISFACTION_PULSE.questions)
    existing = session.execute(
        select(Survey.id, Survey.slug).where(Survey.consultation_id == c.id, Survey.kind == "pulse")
    ).first()
    if existing is not None:
        return PulseOut(existing[0], existing[1], False, keys)
    if c.status not in _CLOSED:
        raise NotAllowed(
            f"the satisfaction pulse follows the vote (consultation is {c.status})",
            field="consultation",
        )
    slug = f"{c.slug[:114]}-pulse"
    survey = Survey(
        slug=slug,
        title=f"{SATISFACTION_PULSE.title.en} — {c.title}"[:300],
        kind="pulse",
        consultation_id=c.id,
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(survey)
            session.flush()
    except IntegrityError:
        raise Conflict(f"the survey slug {slug!r} is already used", field="slug") from None
    rows = []
    for i, q in enumerate(SATISFACTION_PULSE.questions, start=1):
        scale = q.instrument.scale
        rows.append(
            {
                "survey_id": survey.id,
                "key": q.key,
                "text": q.text.en,
                "instrument": instrument_code(q.instrument.kind, q.instrument.driver),
                "scale_min": scale.minimum if scale else None,
                "scale_max": scale.maximum if scale else None,
                "position": i,
            }
        )
    session.execute(insert(SurveyQuestion), rows)
    append_event(
        session,
        actor=actor,
        action="survey.create_pulse",
        subject=f"survey:{survey.id}",
        payload={"consultation": c.id, "questionnaire": SATISFACTION_PULSE.key},
    )
    return PulseOut(survey.id, slug, True, keys)


def _check_answer(q: SurveyQuestion, raw: object) -> tuple[float | None, str | None] | None:
    """Validate one answer; return ``(value, text)`` to store, or None for no row."""
    if q.instrument == "text":
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise ValidationError("a free-text answer must be text", field=q.key)
        text = raw.strip()
        if len(text) > MAX_TEXT_CHARS:
            raise ValidationError(
                f"at most {MAX_TEXT_CHARS} characters (got {len(text)})", field=q.key
            )
        return (None, text) if text else None
    if raw is None:
        instrument = _pulse_instrument(q.key)
        has_dont_know = (
            instrument is not None
            and instrument.scale is not None
            and (instrument.scale.dont_know is not None)
        )
        return (None, None) if has_dont_know else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValidationError("the answer must be a number", field=q.key)
    low, high = q.scale_min, q.scale_max
    assert low is not None
    assert high is not None
    if not math.isfinite(raw) or raw != int(raw) or not low <= raw <= high:
        raise ValidationError(f"answer with a whole number from {low:g} to {high:g}", field=q.key)
    return float(raw), None


def record_response(
    session: Session,
    *,
    survey_id: int,
    citizen_id: int,
    answers: Mapping[str, float | int | str | None],
    channel: str,
    actor: Actor,
) -> ResponseReceipt:
    """Store a citizen's answers to a pulse survey (one response per citizen).

    Args:
        survey_id: a ``pulse`` survey (waves are imported, not answered).
        citizen_id: the respondent.
        answers: question key → a whole number on the question's scale, None for "don't
            know" (or a skipped item on a scale without that option), or text for a
            free-text question.
        channel: ``web``/``email``/``sms`` from the citizen, or ``phone``/``letter``/
            ``fax``/``in_person`` recorded by an organizer.
        actor: the citizen themself, or an organizer for an offline channel.

    Returns:
        :class:`ResponseReceipt`.

    Raises:
        ValidationError: an unknown question key, an answer off the question's scale or of
            the wrong type, a required question left blank (the field names the question
            key), or an unknown channel. Nothing is stored then.
        NotFound: survey or citizen. NotAllowed: a wave survey, or an actor who may not
            answer for this citizen. Conflict: the citizen has answered already.
    """
    if channel not in CHANNELS:
        raise ValidationError(f"{channel!r} is not a channel", field="channel")
    if channel in OFFLINE_CHANNELS:
        actor.require_staff("organizer")
    elif actor.kind == "citizen" and actor.id != citizen_id:
        raise NotAllowed("a citizen may answer only for themself", field="actor")
    survey = get_survey(session, ref=survey_id)
    if survey.kind != "pulse":
        raise NotAllowed("an imported survey wave takes no new answers", field="survey")
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    questions = {q.key: q for q in survey_questions(session, survey.id)}
    for key in answers:
        if key not in questions:
            raise ValidationError(f"no question {key!r} in this survey", field=str(key))
    required = {q.key for q in SATISFACTION_PULSE.questions if q.required}
    stored: dict[int, tuple[float | None, str | None]] = {}
    for key, q in questions.items():
        if key in required and key not in answers:
            raise ValidationError("an answer is required", field=key)
        checked = _check_answer(q, answers.get(key))
        if checked is not None:
            stored[q.id] = checked
    now = clock.now()
    response = SurveyResponse(
        survey_id=survey.id,
        citizen_id=citizen_id,
        channel=channel,
        district=citizen.district,
        submitted_at=now,
    )
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "this citizen has already answered this survey", field="citizen_id"
        ) from None
    if stored:
        session.execute(
            insert(SurveyAnswer),
            [
                {"response_id": response.id, "question_id": qid, "value": v, "text": t}
                for qid, (v, t) in sorted(stored.items())
            ],
        )
    record_contact(
        session,
        citizen_id=citizen_id,
        channel=channel,
        direction="inbound",
        kind="survey",
        ref_table="survey_response",
        ref_id=response.id,
        consultation_id=survey.consultation_id,
        at=now,
    )
    append_event(
        session,
        actor=actor,
        action="survey.respond",
        subject=f"survey:{survey.id}/citizen:{citizen_id}",
        payload={"answers": {str(k): v for k, v in sorted(stored.items())}, "channel": channel},
    )
    return ResponseReceipt(response.id, survey.id, len(stored))


def record_sms_answer(
    session: Session, *, survey_id: int, citizen_id: int, text: str | None
) -> SmsAnswerResult:
    """Store an SMS reply as the answer to the citizen's current question.

    The current question is the first one (by position) the citizen has not answered yet;
    the first reply creates the response (channel ``sms``). A scored question takes one
    whole number on its scale (:func:`surveys.rules.parse_sms_answer`; Persian digits
    accepted), a free-text question takes the reply as written.

    Args:
        survey_id: a ``pulse`` survey.
        citizen_id: the sender, already matched by phone number.
        text: the SMS body.

    Returns:
        :class:`SmsAnswerResult` with the next question to ask, if any.

    Raises:
        ValidationError: the reply is not a valid answer (field = the question key).
        NotFound: survey or citizen. NotAllowed: a wave survey.
        Conflict: every question is answered already.
    """
    survey = get_survey(session, ref=survey_id)
    if survey.kind != "pulse":
        raise NotAllowed("an imported survey wave takes no new answers", field="survey")
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(f"no citizen {citizen_id}", field="citizen_id")
    questions = survey_questions(session, survey.id)
    response = session.execute(
        select(SurveyResponse).where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.citizen_id == citizen_id
        )
    ).scalar_one_or_none()
    done: set[int] = set()
    if response is not None:
        done = set(
            session.execute(
                select(SurveyAnswer.question_id).where(SurveyAnswer.response_id == response.id)
            ).scalars()
        )
    pending = [q for q in questions if q.id not in done]
    if not pending:
        raise Conflict("every question of this survey is answered already", field="survey")
    q = pending[0]
    value: int | None = None
    if q.instrument == "text":
        body = (text or "").strip()
        if not body:
            raise ValidationError("reply with a few words", field=q.key)
        stored = _check_answer(q, body)
    else:
        assert q.scale_min is not None
        assert q.scale_max is not None
        value = rules.parse_sms_answer(
            text, field=q.key, scale_min=int(q.scale_min), scale_max=int(q.scale_max)
        )
        stored = (float(value), None)
    now = clock.now()
    if response is None:
        response = SurveyResponse(
            survey_id=survey.id,
            citizen_id=citizen_id,
            channel="sms",
            district=citizen.district,
            submitted_at=now,
        )
        session.add(response)
        session.flush()
    response.submitted_at = now
    assert stored is not None
    session.execute(
        insert(SurveyAnswer),
        [{"response_id": response.id, "question_id": q.id, "value": stored[0], "text": stored[1]}],
    )
    record_contact(
        session,
        citizen_id=citizen_id,
        channel="sms",
        direction="inbound",
        kind="survey",
        ref_table="survey_response",
        ref_id=response.id,
        consultation_id=survey.consultation_id,
        at=now,
    )
    append_event(
        session,
        actor=Actor(kind="citizen", id=citizen_id),
        action="survey.sms_answer",
        subject=f"survey:{survey.id}/citizen:{citizen_id}",
        payload={"question": q.key, "value": stored[0], "text": stored[1]},
    )
    nxt = pending[1].key if len(pending) > 1 else None
    return SmsAnswerResult(q.key, value, nxt, nxt is None)
