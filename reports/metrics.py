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

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.clock import ensure_utc
from models import (
    Ballot,
    Citizen,
    Comment,
    Consultation,
    OutboxMessage,
    Population,
    Proposal,
    Survey,
)
from participation.consultations import get_consultation
from participation.queries import proposal_rows
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
from surveys.results import survey_results

__all__ = [
    "AGE_BAND",
    "age_band_bounds",
    "consultation_metrics",
    "eligible_condition",
    "scorecard_table",
    "survey_wave_metrics",
]

AGE_BAND = re.compile(r"^\s*(\d{1,3})\s*(?:[-–]\s*(\d{1,3})|\+)\s*$")
"""An age band of the ``population`` table: ``16-24`` (inclusive) or ``65+``."""

_CHANNEL_ORDER = ("web", "email", "sms", "phone", "letter", "fax", "in_person", "import")


def age_band_bounds(band: str) -> tuple[int, int | None]:
    """Parse an age band: ``"16-24"`` → (16, 24), ``"65+"`` → (65, None).

    Raises:
        ValueError: not of either form, or the upper bound is below the lower.
    """
    m = AGE_BAND.match(band)
    if m is None:
        raise ValueError(f"age band {band!r} is not like 16-24 or 65+")
    low, high = int(m.group(1)), (int(m.group(2)) if m.group(2) else None)
    if high is not None and high < low:
        raise ValueError(f"age band {band!r} ends before it starts")
    return low, high


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


def _share(part: int, whole: int) -> float | None:
    """part / whole, or None when the part is suppressed (< 5) or the whole is 0."""
    return part / whole if whole and suppress(part) is not None else None


def _count_fig(key: str, label: str, n: int, note: str = "") -> Figure:
    shown = suppress(n)
    return Figure(
        key,
        label,
        None if shown is None else float(n),
        shown,
        "count",
        suppressed=shown is None,
        note=note,
    )


def _few(n: int) -> str:
    """``n`` as text, or ``fewer than 5`` when it is a small cell."""
    return str(n) if n >= MIN_CELL else "fewer than 5"


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
        _count_fig("eligible", "Eligible citizens", eligible),
        _count_fig("participants", "Participants (ballots)", int(participants)),
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
            f"{_few(participants - took_part).capitalize()} ballot(s) come from citizens "
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
                _share(part, int(n_elig)) if suppress(int(n_elig)) is not None else None,
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
                (ch, suppress(int(mix[ch])), _share(int(mix[ch]), int(participants)))
                for ch in order
            ),
        )
    )
    charts.append(
        Chart("channel_mix", "Ballots by channel", "channel_mix", "channel", "ballots", "count")
    )
    off_web = sum(int(n) for ch, n in mix.items() if ch != "web")
    if participants and suppress(int(participants)) is not None:
        off_share = _share(off_web, int(participants))
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
    rep = _representativeness(session, c)
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
    tables.append(_results_table(session, c, int(participants)))
    charts.append(Chart("results", "Results", "results", "proposal", "votes", "count"))
    values[Metric.RESULTS_PUBLISHED] = 1.0 if c.result is not None else 0.0

    # --- comments -------------------------------------------------------------------------
    _comments(session, c, figures, tables, values, ns)

    # --- responsiveness -------------------------------------------------------------------
    _responsiveness(session, c, figures, tables, values, ns)

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
    uplift_at = _reminder_uplift(session, c, figures, tables, values, ns)

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


def _representativeness(
    session: Session, c: Consultation
) -> tuple[Figure, list[Table], list[str]] | None:
    """D over district × age band × gender, its marginals, and the cell table."""
    districts = Eligibility.from_json(c.eligibility).districts
    stmt = select(Population.district, Population.age_band, Population.gender, Population.count)
    if districts:
        stmt = stmt.where(Population.district.in_(list(districts)))
    pop_rows = session.execute(stmt).all()
    if not pop_rows:
        return None
    population = {(r[0], r[1], r[2]): int(r[3]) for r in pop_rows}
    bands = sorted({r[1] for r in pop_rows}, key=lambda b: age_band_bounds(b)[0])
    age = c.opens_at.year - Citizen.birth_year
    whens = []
    for band in bands:
        low, high = age_band_bounds(band)
        whens.append(
            ((age >= low) & (age <= high), band) if high is not None else ((age >= low), band)
        )
    band_col = case(*whens, else_=None) if whens else literal(None)
    sample_rows = session.execute(
        select(Citizen.district, band_col, Citizen.gender, func.count())
        .join(Ballot, and_(Ballot.citizen_id == Citizen.id, Ballot.consultation_id == c.id))
        .group_by(Citizen.district, band_col, Citizen.gender)
    ).all()
    sample: dict[tuple[str, str, str], int] = {}
    unclassified = 0
    for d, b, g, n in sample_rows:
        key = (d, b, g)
        if key in population:
            sample[key] = int(n)
        else:
            unclassified += int(n)
    joint = rules.dissimilarity_index(sample, population)
    n_s = int(joint.n_sample)
    hidden = n_s < MIN_CELL
    fig = Figure(
        "representativeness",
        "Representativeness (dissimilarity index D)",
        None if hidden else joint.value,
        None if hidden else n_s,
        "index",
        suppressed=hidden,
        note="0 = participants mirror the population; district × age band × gender",
    )
    dims = []
    for i, name in enumerate(("district", "age band", "gender")):
        s_m: dict[str, int] = defaultdict(int)
        p_m: dict[str, int] = defaultdict(int)
        for k, n in sample.items():
            s_m[k[i]] += n
        for k, n in population.items():
            p_m[k[i]] += n
        d_m = rules.dissimilarity_index(s_m, p_m)
        dims.append((name, None if hidden else d_m.value, None if hidden else n_s))
    dims.append(("district × age band × gender", fig.value, fig.n))
    n_p = sum(population.values())
    cells = []
    order = {b: i for i, b in enumerate(bands)}
    for key in sorted(population, key=lambda k: (k[0], order[k[1]], k[2])):
        n = sample.get(key, 0)
        shown = suppress(n)
        p = n / n_s if n_s and shown is not None else None
        q = population[key] / n_p if n_p else None
        cells.append(
            (
                key[0],
                key[1],
                key[2],
                shown,
                p,
                population[key],
                q,
                None if p is None or q is None else p - q,
            )
        )
    notes = []
    if unclassified:
        notes.append(
            f"{_few(unclassified).capitalize()} participant(s) have no district, birth year "
            "or gender on record, or fall outside the population's categories; they are "
            "left out of D."
        )
    notes.append(
        "Dissimilarity index D = ½·Σ|pᵢ − qᵢ| (Duncan & Duncan 1955): the share of participants "
        "who would have to be in another group for participants to mirror the population."
    )
    return (
        fig,
        [
            Table(
                "representativeness",
                "Representativeness by dimension",
                ("dimension", "dissimilarity_d", "participants"),
                ("text", "index", "count"),
                tuple(dims),
            ),
            Table(
                "representativeness_cells",
                "Participants against the population",
                (
                    "district",
                    "age_band",
                    "gender",
                    "participants",
                    "participant_share",
                    "population",
                    "population_share",
                    "gap",
                ),
                ("text", "text", "text", "count", "share", "count", "share", "pp"),
                tuple(cells),
                note="Cells with fewer than 5 participants are suppressed.",
            ),
        ],
        notes,
    )


def _results_table(session: Session, c: Consultation, ballots: int) -> Table:
    """Per-proposal results: the tally when stored, else ballots naming each proposal."""
    props = proposal_rows(session, consultation_id=c.id)
    result: Mapping[str, Any] = c.result or {}
    counts: Mapping[str, Any] = result.get("counts") or {}
    rows = []
    for p in props:
        outcome = p.status
        if result:
            raw = counts.get(p.external_ref, 0)
            votes = int(raw.get("agree", 0)) if isinstance(raw, dict) else int(raw or 0)
            if c.method == "budget":
                funded = p.external_ref in (result.get("selected") or [])
                later = p.external_ref in (result.get("later_round") or [])
                outcome = "funded" if funded else ("later round" if later else "not funded")
            elif c.method == "single_choice":
                adopted = ((result.get("results") or {}).get(p.external_ref) or {}).get("adopted")
                outcome = "adopted" if adopted else "not adopted"
            elif c.method == "approval":
                rank = next(
                    (
                        e.get("rank")
                        for e in result.get("ranking") or []
                        if e.get("id") == p.external_ref
                    ),
                    None,
                )
                outcome = f"rank {rank}" if rank is not None else outcome
        else:
            votes = p.votes
        rows.append((p.external_ref, p.title, suppress(votes), _share(votes, ballots), outcome))
    rows.sort(key=lambda r: (-(r[2] or 0), str(r[0])))
    basis = {
        "agree_disagree": "agree answers",
        "ranked": "first preferences",
        "single_choice": "yes votes",
    }.get(c.method, "ballots naming the proposal")
    source = "the stored tally" if result else "ballots so far (not tallied)"
    return Table(
        "results",
        "Results",
        ("ref", "proposal", "votes", "share_of_ballots", "outcome"),
        ("text", "text", "count", "share", "text"),
        tuple(rows),
        note=f"Votes = {basis}, from {source}; counts under 5 are suppressed.",
    )


def _comments(
    session: Session,
    c: Consultation,
    figures: list[Figure],
    tables: list[Table],
    values: dict[str, float | None],
    ns: dict[str, int],
) -> None:
    rows = session.execute(
        select(Comment.stance, Comment.moderation_state, func.count())
        .where(Comment.consultation_id == c.id)
        .group_by(Comment.stance, Comment.moderation_state)
    ).all()
    total = sum(int(r[2]) for r in rows)
    hidden_n = sum(int(r[2]) for r in rows if r[1] == "hidden")
    visible: dict[str, int] = defaultdict(int)
    for stance, state, n in rows:
        if state == "visible":
            visible[stance] += int(n)
    # stance_balance takes one stance per comment; the counts are expanded, not the rows
    bal = rules.stance_balance(s for s, n in visible.items() for _ in range(n))
    sided = bal.n_for + bal.n_against
    figures.append(_count_fig("comments", "Comments", total))
    hide_bal = suppress(sided) is None
    figures.append(
        Figure(
            "stance_balance",
            "Stance balance (for − against)/(for + against)",
            None if hide_bal else bal.balance,
            None if hide_bal else sided,
            "balance",
            suppressed=hide_bal,
            note="visible comments taking a side",
        )
    )
    visible_share = (total - hidden_n) / total if total else None
    hide_mod = suppress(total) is None
    figures.append(
        Figure(
            "moderation_health",
            "Comments left visible",
            None if hide_mod else visible_share,
            None if hide_mod else total,
            "share",
            suppressed=hide_mod,
            note="1 − share hidden by moderators or reports",
        )
    )
    if total:
        values[Metric.COMMENT_VOLUME] = float(total) if not hide_mod else None
        values[Metric.STANCE_BALANCE] = None if hide_bal else bal.balance
        values[Metric.MODERATION_HEALTH] = None if hide_mod else visible_share
        if not hide_mod:
            ns[Metric.COMMENT_VOLUME] = total
            ns[Metric.MODERATION_HEALTH] = total
        if not hide_bal:
            ns[Metric.STANCE_BALANCE] = sided
    n_vis = bal.n
    tables.append(
        Table(
            "comments",
            "Visible comments by stance",
            ("stance", "comments", "share"),
            ("text", "count", "share"),
            tuple(
                (s, suppress(visible.get(s, 0)), _share(visible.get(s, 0), n_vis))
                for s in ("for", "against", "neutral")
            ),
            note=f"Comments hidden by moderation: "
            f"{hidden_n if suppress(hidden_n) is not None else 'fewer than 5'}.",
        )
    )


def _responsiveness(
    session: Session,
    c: Consultation,
    figures: list[Figure],
    tables: list[Table],
    values: dict[str, float | None],
    ns: dict[str, int],
) -> None:
    rows = session.execute(
        select(Proposal.external_ref, Proposal.title, Proposal.status, Proposal.answered_at)
        .where(Proposal.consultation_id == c.id, Proposal.status != "withdrawn")
        .order_by(Proposal.id)
    ).all()
    closes = ensure_utc(c.closes_at)
    # an answer given before the close (imported data) counts as 0 days
    items = [
        (min(closes, ensure_utc(a)) if a else closes, ensure_utc(a) if a else None)
        for _, _, _, a in rows
    ]
    r = rules.responsiveness(items)
    figures += [
        Figure(
            "share_answered",
            "Proposals answered",
            r.share_answered,
            r.n,
            "share",
            note="official answer recorded",
        ),
        Figure(
            "median_days_to_answer",
            "Median days to answer",
            r.median_days,
            r.n_answered,
            "days",
            note="from the close of voting",
        ),
    ]
    values[Metric.SHARE_ANSWERED] = r.share_answered
    values[Metric.MEDIAN_DAYS_TO_ANSWER] = r.median_days
    ns[Metric.SHARE_ANSWERED] = r.n
    ns[Metric.MEDIAN_DAYS_TO_ANSWER] = r.n_answered
    out = []
    for (ref, title, status, _), (due, at) in zip(rows, items, strict=True):
        days = (at - due).total_seconds() / 86_400 if at else None
        out.append((ref, title, status, f"{at:%Y-%m-%d}" if at else None, days))
    tables.append(
        Table(
            "responsiveness",
            "Official answers to proposals",
            ("ref", "proposal", "status", "answered_on", "days_to_answer"),
            ("text", "text", "text", "text", "days"),
            tuple(out),
            note="Days from the close of voting to the council's answer (UTC).",
        )
    )


def _reminder_uplift(
    session: Session,
    c: Consultation,
    figures: list[Figure],
    tables: list[Table],
    values: dict[str, float | None],
    ns: dict[str, int],
) -> datetime | None:
    """Add the reminder-uplift figure when the outbox holds holdout rows; return the newest
    outbox time read (for the report's as-of)."""
    holdout = and_(OutboxMessage.status == "suppressed", OutboxMessage.reason == "holdout")
    group = case((holdout, "holdout"), else_="reminded")
    voted = exists().where(
        Ballot.consultation_id == c.id, Ballot.citizen_id == OutboxMessage.citizen_id
    )
    rows = session.execute(
        select(
            group,
            func.count(func.distinct(OutboxMessage.citizen_id)),
            func.count(func.distinct(case((voted, OutboxMessage.citizen_id)))),
            func.max(func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)),
        )
        .where(
            OutboxMessage.consultation_id == c.id,
            OutboxMessage.kind == "reminder",
            or_(holdout, OutboxMessage.status == "sent"),
        )
        .group_by(group)
    ).all()
    by = {g: (int(n), int(p), at) for g, n, p, at in rows}
    if "holdout" not in by:
        return None
    rem_n, rem_p, rem_at = by.get("reminded", (0, 0, None))
    hold_n, hold_p, hold_at = by["holdout"]
    u = rules.reminder_uplift(
        reminded_participants=rem_p,
        reminded_eligible=rem_n,
        holdout_participants=hold_p,
        holdout_eligible=hold_n,
    )
    hidden = any(suppress(x) is None for x in (rem_n, rem_p, hold_n, hold_p))
    figures.append(
        Figure(
            "reminder_uplift",
            "Reminder uplift (turnout, reminded − holdout)",
            None if hidden else u.value,
            None if hidden else rem_n + hold_n,
            "pp",
            suppressed=hidden,
            note="95 % interval: Newcombe hybrid score (1998)",
            ci=None if hidden or u.ci_low is None or u.ci_high is None else (u.ci_low, u.ci_high),
        )
    )
    values[Metric.REMINDER_UPLIFT] = None if hidden else u.value
    if not hidden:
        ns[Metric.REMINDER_UPLIFT] = rem_n + hold_n
    tables.append(
        Table(
            "reminder_uplift",
            "Reminders against the holdout group",
            ("group", "citizens", "participants", "turnout"),
            ("text", "count", "count", "share"),
            (
                ("reminded", suppress(rem_n), suppress(rem_p), _share(rem_p, rem_n)),
                ("holdout", suppress(hold_n), suppress(hold_p), _share(hold_p, hold_n)),
            ),
            note="Citizens sent at least one reminder vs citizens held out of reminders.",
        )
    )
    stamps = [s for s in (rem_at, hold_at) if s is not None]
    return max(ensure_utc(s) for s in stamps) if stamps else None


_UNITS: dict[Metric, str] = {
    Metric.TURNOUT: "share",
    Metric.CHANNEL_MIX: "share",
    Metric.REPRESENTATIVENESS: "index",
    Metric.COMMENT_VOLUME: "count",
    Metric.STANCE_BALANCE: "balance",
    Metric.SHARE_ANSWERED: "share",
    Metric.MEDIAN_DAYS_TO_ANSWER: "days",
    Metric.RESULTS_PUBLISHED: "bool",
    Metric.CSAT: "share",
    Metric.NPS: "nps",
    Metric.REMINDER_UPLIFT: "pp",
    Metric.MODERATION_HEALTH: "share",
}


def format_value(value: float | None, unit: str) -> str:
    """Format a figure for display: share → ``42.0 %``, score → ``73.5``, NPS → ``+12.5``,
    days → ``3.5 days``, pp → ``+4.2 pp``, index/balance → ``0.18``/``+0.25``; None → ``—``."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "pp":
        return f"{value * 100:+.1f} pp"
    if unit == "nps":
        return f"{value:+.1f}"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "index":
        return f"{value:.3f}"
    if unit == "balance":
        return f"{value:+.2f}"
    if unit == "bool":
        return "yes" if value else "no"
    return f"{value:.1f}"


def scorecard_table(values: Mapping[str, float | None], ns: Mapping[str, int]) -> Table:
    """The scorecard: each UNDP characteristic of good governance with the figures that
    inform it (:func:`reports.rules.scorecard`; UNDP 1997). One row per (characteristic,
    metric); ``figure`` is formatted text, ``—`` when not measured or suppressed."""
    card = rules.scorecard(values, ns)
    rows = []
    for row in card:
        for mv in row.metrics:
            unit = _UNITS.get(mv.metric, "score")
            direction = {1: "higher is better", -1: "lower is better", 0: "neither"}[mv.direction]
            rows.append(
                (
                    row.label,
                    mv.metric.value.replace("_", " "),
                    format_value(mv.value, unit),
                    mv.n,
                    direction,
                )
            )
    return Table(
        "scorecard",
        "Scorecard: UNDP characteristics of good governance",
        ("characteristic", "metric", "figure", "n", "direction"),
        ("text", "text", "text", "n", "text"),
        tuple(rows),
        note="Characteristics after UNDP (1997), Governance for sustainable human development; "
        "the mapping of metrics to characteristics is CivicFlow's (reports.rules).",
    )
