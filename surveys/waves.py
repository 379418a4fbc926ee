"""Import an external resident-survey export (CSV + mapping) as a survey of kind ``wave``.

Part of the survey write path (:mod:`surveys.service` re-exports
:func:`import_survey_wave`). The file is decoded completely by
:func:`surveys.importer.read_survey` before anything is written; rows are inserted in bulk
in the caller's transaction, so a refused file leaves nothing behind. A second import of
the same bytes is found by its SHA-256 in ``import_record`` (kind ``survey``) and refused
unless ``replace``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core import clock
from core.actor import Actor
from core.errors import Conflict
from models import ImportRecord, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from participation.audit import append_event
from surveys.importer import read_survey
from surveys.instruments import Driver, InstrumentKind
from surveys.mapping import QuestionSpec, SurveyMapping
from surveys.schemas import SurveyImportResult

__all__ = ["IMPORT_KIND", "import_survey_wave", "instrument_code"]

IMPORT_KIND = "survey"
"""``import_record.kind`` of survey files; ``source_name`` is ``<survey slug>/<file name>``."""


def instrument_code(kind: InstrumentKind, driver: Driver | str | None = None) -> str:
    """The ``survey_question.instrument`` value of an instrument family.

    ``csat``, ``nps``, ``acsi``, ``text`` (free text) or ``cmt:<driver>``.
    """
    if kind is InstrumentKind.CMT_DRIVER:
        return f"cmt:{Driver(driver or '').value}"
    return {InstrumentKind.FREE_TEXT: "text"}.get(kind, kind.value)


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100] or "survey"


def _free_slug(session: Session, base: str) -> str:
    taken = set(session.execute(select(Survey.slug).where(Survey.slug.like(f"{base}%"))).scalars())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _question_row(
    survey_id: int, position: int, q: QuestionSpec, m: SurveyMapping
) -> dict[str, Any]:
    scale = m.scales[q.scale] if q.scale is not None else None
    return {
        "survey_id": survey_id,
        "key": q.key,
        "text": q.label or q.column,
        "instrument": instrument_code(q.instrument, q.driver),
        "scale_min": scale.minimum if scale else None,
        "scale_max": scale.maximum if scale else None,
        "position": position,
    }


def import_survey_wave(
    session: Session,
    *,
    path: str | Path,
    mapping: SurveyMapping | str | Path,
    actor: Actor,
    replace: bool = False,
) -> SurveyImportResult:
    """Store a resident-survey export as a survey of kind ``wave``.

    The file is read and decoded completely (:func:`surveys.importer.read_survey`) before
    anything is written; rows are then inserted in bulk (one multi-row INSERT per table).

    Args:
        path: the CSV export.
        mapping: a :class:`SurveyMapping`, a shipped mapping's stem
            (``"kansas_city_fy2022"``) or a mapping file's path.
        actor: an organizer or the system.
        replace: delete the survey an earlier import of the same bytes created (its
            reports go with it) and import again under the same slug.

    Returns:
        :class:`SurveyImportResult` (counts of rows written, slug, file digest).

    Raises:
        ValidationError: the file does not fit the mapping (``SurveyFileError`` names the
            file, line and column) or the mapping is invalid.
        Conflict: field ``file``: the same bytes were imported before and ``replace`` is
            false.
        NotAllowed: the actor is not an organizer.
    """
    actor.require_staff("organizer")
    file = Path(path)
    wave = read_survey(file, mapping)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    m = wave.mapping
    earlier = session.execute(
        select(ImportRecord).where(ImportRecord.kind == IMPORT_KIND, ImportRecord.digest == digest)
    ).scalar_one_or_none()
    slug: str | None = None
    if earlier is not None:
        old_slug = earlier.source_name.partition("/")[0]
        if not replace:
            raise Conflict(
                f"this survey file was already imported on {earlier.imported_at:%Y-%m-%d %H:%M}"
                f" UTC as {old_slug}; use replace (--replace) to load it again",
                field="file",
            )
        session.execute(delete(Survey).where(Survey.slug == old_slug))
        session.execute(delete(ImportRecord).where(ImportRecord.id == earlier.id))
        session.flush()
        slug = old_slug
    slug = slug or _free_slug(session, _slugify(m.name))
    now = clock.now()
    survey = Survey(slug=slug, title=(m.title or m.name)[:300], kind="wave", created_at=now)
    session.add(survey)
    session.flush()

    session.execute(
        insert(SurveyQuestion),
        [_question_row(survey.id, i, q, m) for i, q in enumerate(m.questions, start=1)],
    )
    qids = dict(
        session.execute(
            select(SurveyQuestion.key, SurveyQuestion.id).where(
                SurveyQuestion.survey_id == survey.id
            )
        ).all()
    )
    if wave.respondents:
        session.execute(
            insert(SurveyResponse),
            [
                {
                    "survey_id": survey.id,
                    "citizen_id": None,
                    "channel": r.channel or "unknown",
                    "district": r.district,
                    "external_ref": r.respondent_id[:120],
                    "submitted_at": now,
                }
                for r in wave.respondents
            ],
        )
    rids = dict(
        session.execute(
            select(SurveyResponse.external_ref, SurveyResponse.id).where(
                SurveyResponse.survey_id == survey.id
            )
        ).all()
    )
    answers: list[dict[str, Any]] = []
    for r in wave.respondents:
        rid = rids[r.respondent_id[:120]]
        for key, value in r.answers.items():
            if value is not None or key in r.dont_know:
                answers.append(
                    {"response_id": rid, "question_id": qids[key], "value": value, "text": None}
                )
        for key, text in r.texts.items():
            if text:
                answers.append(
                    {"response_id": rid, "question_id": qids[key], "value": None, "text": text}
                )
    if answers:
        session.execute(insert(SurveyAnswer), answers)
    session.add(
        ImportRecord(
            kind=IMPORT_KIND,
            digest=digest,
            source_name=f"{slug}/{file.name}"[:500],
            consultation_id=None,
            imported_at=now,
        )
    )
    session.flush()
    append_event(
        session,
        actor=actor,
        action="survey.import",
        subject=f"survey:{survey.id}",
        payload={
            "digest": digest,
            "file": file.name,
            "mapping": m.name,
            "respondents": len(wave.respondents),
            "answers": len(answers),
            "replaced": earlier is not None,
        },
    )
    return SurveyImportResult(
        survey_id=survey.id,
        slug=slug,
        title=survey.title,
        respondents=len(wave.respondents),
        questions=len(m.questions),
        answers=len(answers),
        rejected_districts=wave.rejected_districts,
        digest=digest,
        replaced=earlier is not None,
    )
