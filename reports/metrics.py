"""Governance-report metrics of a consultation, computed by SQL aggregation (DESIGN §8).

The database counts (``GROUP BY`` over citizens, ballots, comments, proposals, outbox rows
and survey answers — never a Python loop over ballot rows); the pure functions of
:mod:`reports.rules` and :mod:`surveys.rules` turn the counts into figures; this module
suppresses every cell counting fewer than 5 people and lays the result out as
:class:`reports.schemas.ReportData`.

Definitions:

- *eligible*: citizens meeting the consultation's eligibility (districts; minimum age in
  calendar years on the opening day — the rule of :mod:`participation.rules`);
- *participants*: citizens with a ballot; turnout counts eligible participants only;
- *representativeness*: the index of dissimilarity D = ½·Σ|pᵢ − qᵢ| (Duncan & Duncan 1955)
  between participants and the ``population`` table over district × age band × gender,
  when that table has rows (age = opening year − birth year, as for eligibility);
- *results*: ``consultation.result`` when tallied, else ballots naming each proposal;
- *comments*: volume (all), stance balance (visible comments), moderation health (share
  of comments visible);
- *responsiveness*: share of non-withdrawn proposals with an official answer, and the
  median days from ``closes_at`` to ``answered_at``;
- *satisfaction*: the consultation's pulse survey (:mod:`reports.satisfaction`);
- *reminder uplift*: turnout of citizens sent a reminder minus turnout of the holdout
  (outbox rows ``kind = reminder``, ``status = sent`` vs ``suppressed`` / ``holdout``),
  with Newcombe's interval (:func:`reports.rules.reminder_uplift`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.clock import ensure_utc
from models import (
    Ballot,
    Citizen,
    Comment,
    Consultation,
    Proposal,
    Survey,
)
from participation.consultations import get_consultation
from participation.rules import Eligibility
from reports import rules
from reports.rules import MIN_CELL, Metric, suppress
from reports.satisfaction import (
    CSAT_NOTE,
    DRIVER_NOTE,
    NPS_NOTE,
    satisfaction_figures,
    satisfaction_metric_values,
    satisfaction_table,
    survey_wave_metrics,
)
from reports.schemas import Cell, Chart, Figure, ReportData, Table
from reports.scorecard import format_value, scorecard_table
from reports.sections import (
    AGE_BAND,
    age_band_bounds,
    comments_section,
    count_figure,
    few,
    reminder_uplift_section,
    representativeness_section,
    responsiveness_section,
    results_table,
    share_of,
)
from surveys.results import survey_results

__all__ = [
    "AGE_BAND",
    "age_band_bounds",
    "consultation_metrics",
    "eligible_condition",
    "format_value",
    "scorecard_table",
    "survey_wave_metrics",
]

_CHANNEL_ORDER = ("web", "email", "sms", "phone", "letter", "fax", "in_person", "import")


def eligible_condition(c: Consultation) -> ColumnElement[bool]:
    """SQL form of :func:`participation.rules.eligibility_refusal` over ``citizen``."""
    rule = Eligibility.from_json(c.eligibility)
    conds: list[ColumnElement[bool]] = []
    if rule.districts:
        conds.append(Citizen.district.in_(list(rule.districts)))
    if rule.minimum_age is not None:
        conds.append(Citizen.birth_year.is_not(None))
        conds.append(Citizen.birth_year <= c.opens_at.year - rule.minimum_age)
    return and_(literal(True), *conds)


def _channel_rank(channel: str) -> tuple[int, str]:
    return (_CHANNEL_ORDER.index(channel) if channel in _CHANNEL_ORDER else 99, channel)


def _latest(*stamps: datetime | None) -> datetime:
    return max(ensure_utc(s) for s in stamps if s is not None)


# --------------------------------------------------------------------------------------


def consultation_metrics(session: Session, *, consultation_id: int) -> ReportData:
    """Every figure of a consultation's governance report, each with its n.

    Args:
        consultation_id: the consultation.

    Returns:
        :class:`ReportData` (subject ``consultation``); see the module docstring for
        definitions. Cells counting fewer than 5 people are None and flagged.

    Raises:
        NotFound: no such consultation.
    """
    c = get_consultation(session, ref=consultation_id)
    cond = eligible_condition(c)
    figures: list[Figure] = []
    tables: list[Table] = []
    charts: list[Chart] = []
    notes: list[str] = []
    values: dict[str, float | None] = {}
    ns: dict[str, int] = {}

    # --- participation ----------------------------------------------------------------
    voted = exists().where(Ballot.consultation_id == c.id, Ballot.citizen_id == Citizen.id)
    district_rows = session.execute(
        select(
            Citizen.district,
            func.count(),
            func.sum(case((voted, 1), else_=0)),
        )
        .where(cond)
        .group_by(Citizen.district)
    ).all()
    eligible = sum(int(r[1]) for r in district_rows)
    took_part = sum(int(r[2] or 0) for r in district_rows)
    participants = session.execute(
        select(func.count()).select_from(Ballot).where(Ballot.consultation_id == c.id)
    ).scalar_one()
    t = rules.turnout(took_part, eligible)
    hidden = suppress(took_part) is None
    figures += [
        count_figure("eligible", "Eligible citizens", eligible),
        count_figure("participants", "Participants (ballots)", int(participants)),
        Figure(
            "turnout",
            "Turnout",
            None if hidden else t.value,
            suppress(eligible),
            "share",
            suppressed=hidden,
            note="eligible participants / eligible citizens",
        ),
    ]
    values[Metric.TURNOUT] = None if hidden else t.value
    if suppress(eligible) is not None:
        ns[Metric.TURNOUT] = eligible
    if participants > took_part:
        notes.append(
            f"{few(participants - took_part).capitalize()} ballot(s) come from citizens "
            "outside the eligibility rule (e.g. imported data): they count as participants "
            "but not in turnout."
        )
    turnout_rows: list[tuple[Cell, ...]] = [
        ("All eligible", suppress(eligible), suppress(took_part), None if hidden else t.value),
    ]
    for district, n_elig, n_part in sorted(district_rows, key=lambda r: (r[0] is None, r[0] or "")):
        part = int(n_part or 0)
        turnout_rows.append(
            (
                district or "(no district)",
                suppress(int(n_elig)),
                suppress(part),
                share_of(part, int(n_elig)) if suppress(int(n_elig)) is not None else None,
            )
        )
    tables.append(
        Table(
            "turnout",
            "Turnout by district",
            ("district", "eligible", "participants", "turnout"),
            ("text", "count", "count", "share"),
            tuple(turnout_rows),
            note="Counts under 5 are suppressed, and the turnout with them.",
        )
    )
    charts.append(
        Chart(
            "turnout",
            "Turnout by district",
            "turnout",
            "district",
            "turnout",
            "share",
            "participants",
        )
    )

    mix = dict(
        session.execute(
            select(Ballot.channel, func.count())
            .where(Ballot.consultation_id == c.id)
            .group_by(Ballot.channel)
        ).all()
    )
    order = sorted(
        mix, key=lambda ch: (_CHANNEL_ORDER.index(ch) if ch in _CHANNEL_ORDER else 99, ch)
    )
    tables.append(
        Table(
            "channel_mix",
            "Ballots by channel",
            ("channel", "ballots", "share"),
            ("text", "count", "share"),
            tuple(
                (ch, suppress(int(mix[ch])), share_of(int(mix[ch]), int(participants)))
                for ch in order
            ),
        )
    )
    charts.append(
        Chart("channel_mix", "Ballots by channel", "channel_mix", "channel", "ballots", "count")
    )
    off_web = sum(int(n) for ch, n in mix.items() if ch != "web")
    if participants and suppress(int(participants)) is not None:
        off_share = share_of(off_web, int(participants))
        values[Metric.CHANNEL_MIX] = off_share
        ns[Metric.CHANNEL_MIX] = int(participants)
        figures.append(
            Figure(
                "off_web_share",
                "Ballots cast off the web",
                off_share,
                int(participants),
                "share",
                suppressed=off_share is None,
                note="SMS, email, phone, letter, fax, in person",
            )
        )

    # --- representativeness -------------------------------------------------------------
    rep = representativeness_section(session, c)
    if rep is not None:
        fig, rep_tables, rep_notes = rep
        figures.append(fig)
        tables.extend(rep_tables)
        notes.extend(rep_notes)
        values[Metric.REPRESENTATIVENESS] = fig.value
        if fig.n is not None:
            ns[Metric.REPRESENTATIVENESS] = fig.n
    else:
        notes.append("Representativeness is not measured: the population table is empty.")

    # --- results --------------------------------------------------------------------------
    tables.append(results_table(session, c, int(participants)))
    charts.append(Chart("results", "Results", "results", "proposal", "votes", "count"))
    values[Metric.RESULTS_PUBLISHED] = 1.0 if c.result is not None else 0.0

    # --- comments -------------------------------------------------------------------------
    comments_section(session, c, figures, tables, values, ns)

    # --- responsiveness -------------------------------------------------------------------
    responsiveness_section(session, c, figures, tables, values, ns)

    # --- satisfaction (the pulse) ---------------------------------------------------------
    pulse_id = session.execute(
        select(Survey.id).where(Survey.consultation_id == c.id, Survey.kind == "pulse")
    ).scalar_one_or_none()
    pulse_at: datetime | None = None
    if pulse_id is not None:
        res = survey_results(session, survey_id=pulse_id)
        pulse_at = res.as_of
        figures.extend(satisfaction_figures(res, prefix="pulse_"))
        tables.append(satisfaction_table(res))
        charts.append(
            Chart(
                "satisfaction",
                "Satisfaction (0–100)",
                "satisfaction",
                "measure",
                "score_0_100",
                "score",
                "n",
            )
        )
        pv, pn = satisfaction_metric_values(res)
        values.update(pv)
        ns.update(pn)
        notes += [CSAT_NOTE, NPS_NOTE, DRIVER_NOTE]
    else:
        notes.append("Satisfaction is not measured: the consultation has no pulse survey.")

    # --- reminder uplift ------------------------------------------------------------------
    uplift_at = reminder_uplift_section(session, c, figures, tables, values, ns)

    tables.append(scorecard_table(values, ns))
    notes.append(f"Cells counting fewer than {MIN_CELL} people are suppressed (DESIGN §8).")

    as_of = _latest(
        c.closes_at,
        c.status_changed_at,
        session.execute(
            select(func.max(Ballot.cast_at)).where(Ballot.consultation_id == c.id)
        ).scalar_one(),
        session.execute(
            select(func.max(Comment.created_at)).where(Comment.consultation_id == c.id)
        ).scalar_one(),
        session.execute(
            select(func.max(Proposal.answered_at)).where(Proposal.consultation_id == c.id)
        ).scalar_one(),
        pulse_at,
        uplift_at,
    )
    return ReportData(
        subject="consultation",
        slug=c.slug,
        title=c.title,
        period=f"{ensure_utc(c.opens_at):%Y-%m-%d} to {ensure_utc(c.closes_at):%Y-%m-%d}",
        as_of=as_of.isoformat(),
        figures=tuple(figures),
        tables=tuple(tables),
        charts=tuple(charts),
        notes=tuple(dict.fromkeys(notes)),
    )
