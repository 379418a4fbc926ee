"""Sections of a consultation's governance report, each from one SQL aggregation:
representativeness against ``population``, results, comments, responsiveness and
reminder uplift (definitions in :mod:`reports.metrics`). Each function appends its figures
and tables; cells counting fewer than 5 people are suppressed here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from models import Ballot, Citizen, Comment, Consultation, OutboxMessage, Population, Proposal
from participation.queries import proposal_rows
from participation.rules import Eligibility
from reports import rules
from reports.rules import MIN_CELL, Metric, suppress
from reports.schemas import Figure, Table

__all__ = [
    "AGE_BAND",
    "age_band_bounds",
    "comments_section",
    "count_figure",
    "few",
    "reminder_uplift_section",
    "representativeness_section",
    "responsiveness_section",
    "results_table",
    "share_of",
]

AGE_BAND = re.compile(r"^\s*(\d{1,3})\s*(?:[-–]\s*(\d{1,3})|\+)\s*$")
"""An age band of the ``population`` table: ``16-24`` (inclusive) or ``65+``."""


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


def share_of(part: int, whole: int) -> float | None:
    """part / whole, or None when the part is suppressed (< 5) or the whole is 0."""
    return part / whole if whole and suppress(part) is not None else None


def count_figure(key: str, label: str, n: int, note: str = "") -> Figure:
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


def few(n: int) -> str:
    """``n`` as text, or ``fewer than 5`` when it is a small cell."""
    return str(n) if n >= MIN_CELL else "fewer than 5"


def representativeness_section(
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
            f"{few(unclassified).capitalize()} participant(s) have no district, birth year "
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


def results_table(session: Session, c: Consultation, ballots: int) -> Table:
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
        rows.append((p.external_ref, p.title, suppress(votes), share_of(votes, ballots), outcome))
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


def comments_section(
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
    figures.append(count_figure("comments", "Comments", total))
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
                (s, suppress(visible.get(s, 0)), share_of(visible.get(s, 0), n_vis))
                for s in ("for", "against", "neutral")
            ),
            note=f"Comments hidden by moderation: "
            f"{hidden_n if suppress(hidden_n) is not None else 'fewer than 5'}.",
        )
    )


def responsiveness_section(
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


def reminder_uplift_section(
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
                ("reminded", suppress(rem_n), suppress(rem_p), share_of(rem_p, rem_n)),
                ("holdout", suppress(hold_n), suppress(hold_p), share_of(hold_p, hold_n)),
            ),
            note="Citizens sent at least one reminder vs citizens held out of reminders.",
        )
    )
    stamps = [s for s in (rem_at, hold_at) if s is not None]
    return max(ensure_utc(s) for s in stamps) if stamps else None
