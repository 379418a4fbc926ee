"""Satisfaction figures and tables of a survey, for the wave report and a consultation's
pulse section (DESIGN §8). Scores come from :func:`surveys.results.survey_results`
(SQL ``GROUP BY`` fed to :mod:`surveys.rules`); here they are suppressed (n < 5) and laid
out as :class:`reports.schemas.Figure` and :class:`reports.schemas.Table`.

Every score is put on one 0–100 axis for tables and charts: CSAT as the percentage
answering 4–5 (top-2-box), CMT driver and ACSI-style scores as they are. NPS (−100 to 100)
is a figure of its own.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reports.rules import MIN_CELL, Metric
from reports.schemas import Cell, Chart, Figure, ReportData, Table
from reports.scorecard import scorecard_table
from surveys.instruments import Driver
from surveys.results import get_survey, survey_results
from surveys.rules import GroupScore, Score
from surveys.schemas import SurveyResults

__all__ = [
    "DRIVER_LABELS",
    "satisfaction_figures",
    "satisfaction_metric_values",
    "satisfaction_table",
    "survey_wave_metrics",
]

DRIVER_LABELS = {
    "timeliness": "Timeliness",
    "knowledge": "Knowledge and competence",
    "courtesy": "Courtesy",
    "fairness": "Fairness",
    "outcome": "Outcome",
}
"""English names of the CMT drivers (ICCS Common Measurements Tool)."""

CSAT_NOTE = (
    "CSAT = share of valid 1–5 answers that are 4 or 5 (top-2-box); “don't know” and blanks "
    "are excluded from numerator and denominator (DESIGN §8)."
)
NPS_NOTE = (
    "NPS = % answering 9–10 minus % answering 0–6 on the 0–10 scale (Reichheld 2003, "
    "Harvard Business Review 81(12))."
)
DRIVER_NOTE = (
    "Driver scores (0–100) = mean of (x − min)/(max − min)·100 over valid answers; the items "
    "of one driver are pooled. Drivers after the ICCS Common Measurements Tool (Canada)."
)
ACSI_NOTE = (
    "ACSI-style index: three 1–10 items, equal weights, rescaled to 0–100 — unofficial, "
    "not the licensed ACSI model (questions after Fornell et al. 1996)."
)


def _score_0_100(instrument: str, value: float | None) -> float | None:
    if value is None:
        return None
    return value * 100.0 if instrument == "csat" else value


def _fig(key: str, label: str, score: Score | None, unit: str, note: str = "") -> Figure:
    if score is None:
        return Figure(key, label, None, None, "score", note=note or "not asked")
    hidden = score.n < MIN_CELL
    return Figure(
        key=key,
        label=label,
        value=None if hidden else score.value,
        n=None if hidden else score.n,
        unit=unit,  # type: ignore[arg-type]
        suppressed=hidden,
        note=note,
    )


def satisfaction_figures(res: SurveyResults, *, prefix: str = "") -> list[Figure]:
    """Headline satisfaction figures of a survey: respondents, CSAT, NPS, drivers, ACSI.

    Args:
        res: the survey's results.
        prefix: prepended to each figure's key (``"pulse_"`` in a consultation report).

    Returns:
        Figures with values None and ``suppressed`` when fewer than 5 answers are behind
        them; CSAT as a share in [0, 1], NPS in [−100, 100], drivers and ACSI in [0, 100].
    """
    out = [
        Figure(
            f"{prefix}respondents",
            "Survey respondents",
            None if res.respondents < MIN_CELL else float(res.respondents),
            None if res.respondents < MIN_CELL else res.respondents,
            "count",
            suppressed=res.respondents < MIN_CELL,
        )
    ]
    first_csat = next((q for q in res.questions if q.instrument == "csat"), None)
    if first_csat is not None:
        out.append(_fig(f"{prefix}csat", f"CSAT: {first_csat.text}", res.csat, "share"))
    if res.nps is not None:
        out.append(_fig(f"{prefix}nps", "Net Promoter Score", res.nps, "nps"))
    for d in res.drivers:
        out.append(
            _fig(
                f"{prefix}driver_{d.driver}",
                f"{DRIVER_LABELS[d.driver]} (CMT driver)",
                d.score,
                "score",
                note=f"{len(d.questions)} item(s)",
            )
        )
    if res.acsi is not None:
        out.append(_fig(f"{prefix}acsi", "ACSI-style index (unofficial)", res.acsi, "score"))
    return out


def satisfaction_metric_values(
    res: SurveyResults,
) -> tuple[dict[str, float | None], dict[str, int]]:
    """Scorecard inputs from a survey: metric → value (suppressed → None) and metric → n."""
    values: dict[str, float | None] = {}
    ns: dict[str, int] = {}

    def put(metric: Metric, score: Score | None) -> None:
        if score is None:
            return
        values[metric.value] = score.value if score.n >= MIN_CELL else None
        if score.n >= MIN_CELL:
            ns[metric.value] = score.n

    put(Metric.CSAT, res.csat)
    put(Metric.NPS, res.nps)
    for d in res.drivers:
        put(Metric(f"driver_{d.driver}"), d.score)
    return values, ns


def satisfaction_table(res: SurveyResults, *, key: str = "satisfaction") -> Table:
    """One row per scored question and per pooled driver, on a 0–100 axis.

    Columns: ``measure``, ``kind`` (``csat``, ``cmt:<driver>``, ``driver`` pooled …),
    ``score_0_100``, ``n`` (valid answers), ``dont_know``. NPS and free text are left out
    (NPS has its own figure; texts are never shown).
    """
    rows = []
    for q in res.questions:
        if q.instrument in ("text", "nps"):
            continue
        hidden = q.score.n < MIN_CELL
        rows.append(
            (
                q.text,
                q.instrument,
                None if hidden else _score_0_100(q.instrument, q.score.value),
                None if hidden else q.score.n,
                q.dont_know if q.dont_know >= MIN_CELL else None,
            )
        )
    for d in res.drivers:
        if len(d.questions) < 2:
            continue  # a one-item driver is the item's row already
        hidden = d.score.n < MIN_CELL
        dont_know = sum(q.dont_know for q in res.questions if q.key in d.questions)
        rows.append(
            (
                f"{DRIVER_LABELS[d.driver]} (pooled, {len(d.questions)} items)",
                "driver",
                None if hidden else d.score.value,
                None if hidden else d.score.n,
                dont_know if dont_know >= MIN_CELL else None,
            )
        )
    return Table(
        key=key,
        title="Satisfaction by question (0–100)",
        columns=("measure", "kind", "score_0_100", "n", "dont_know"),
        units=("text", "text", "score", "count", "count"),
        rows=tuple(rows),
        note="CSAT rows: % answering 4–5; driver rows: mean score 0–100. " + CSAT_NOTE,
    )


def _measures(
    res: SurveyResults,
) -> list[tuple[str, str, dict[str, GroupScore], dict[str, GroupScore]]]:
    """(label, instrument, by_channel, by_district) of the headline CSAT and each driver."""
    out = []
    first_csat = next((q for q in res.questions if q.instrument == "csat"), None)
    if first_csat is not None:
        out.append(("CSAT (% top-2)", "csat", first_csat.by_channel, first_csat.by_district))
    for d in res.drivers:
        out.append((DRIVER_LABELS[d.driver], "driver", d.by_channel, d.by_district))
    return out


def _group_table(
    res: SurveyResults, *, key: str, title: str, group: str, channel: bool
) -> tuple[Table, int]:
    rows = []
    hidden = 0
    for label, instrument, by_channel, by_district in _measures(res):
        groups = by_channel if channel else by_district
        for name in sorted(groups, key=str):
            g = groups[name]
            if g.suppressed:
                hidden += 1
                continue
            rows.append((str(name), label, _score_0_100(instrument, g.value), g.n))
    note = f"{hidden} cell(s) with fewer than {MIN_CELL} answers are not listed." if hidden else ""
    return (
        Table(
            key=key,
            title=title,
            columns=(group, "measure", "score_0_100", "n"),
            units=("text", "text", "score", "count"),
            rows=tuple(rows),
            note=note,
        ),
        hidden,
    )


def _csat_by(res: SurveyResults, *, channel: bool, key: str, title: str) -> Table | None:
    first_csat = next((q for q in res.questions if q.instrument == "csat"), None)
    if first_csat is None:
        return None
    groups = first_csat.by_channel if channel else first_csat.by_district
    shown = [(str(k), g) for k, g in groups.items() if not g.suppressed]
    shown.sort(key=lambda kg: (-kg[1].n, kg[0]))
    kept = sorted(shown[:25], key=lambda kg: (len(kg[0]), kg[0]))
    rows = tuple((k, _score_0_100("csat", g.value), g.n) for k, g in kept)
    left = len(groups) - len(rows)
    name = "channel" if channel else "district"
    return Table(
        key=key,
        title=title,
        columns=(name, "csat_top2_pct", "n"),
        units=("text", "score", "count"),
        rows=rows,
        note=(
            f"{left} {name}(s) with fewer than {MIN_CELL} answers (or beyond the 25 largest) "
            "are not listed."
            if left
            else ""
        ),
    )


def survey_wave_metrics(session: Session, *, survey_id: int) -> ReportData:
    """The report data of a survey on its own (an imported wave, or a pulse).

    Args:
        survey_id: the survey.

    Returns:
        :class:`ReportData` with subject ``survey``: figures (respondents, CSAT of the
        first CSAT question, NPS, pooled CMT drivers, ACSI-style index), tables
        (satisfaction by question, respondents by channel, scores by channel and by
        district, the scorecard) and charts; cells under 5 suppressed.

    Raises:
        NotFound: no such survey.
    """
    survey = get_survey(session, ref=survey_id)
    res = survey_results(session, survey_id=survey.id)
    figures = satisfaction_figures(res)
    tables: list[Table] = [satisfaction_table(res)]
    charts: list[Chart] = [
        Chart(
            "satisfaction",
            "Satisfaction by question (0–100)",
            "satisfaction",
            "measure",
            "score_0_100",
            "score",
            "n",
        ),
    ]
    notes = [CSAT_NOTE, DRIVER_NOTE]
    if res.nps is not None:
        notes.append(NPS_NOTE)
    if res.acsi is not None:
        notes.append(ACSI_NOTE)
    if any("(agreement)" in q.text for q in res.questions):
        notes.append(
            "This survey has no satisfaction question: agreement statements are read as "
            "satisfaction proxies (agree / strongly agree = the satisfied end), so CSAT "
            "here is an agreement share."
        )
    resp_rows = tuple(
        (ch, n if n >= MIN_CELL else None, n / res.respondents if n >= MIN_CELL else None)
        for ch, n in res.respondents_by_channel.items()
    )
    tables.append(
        Table(
            "respondents_by_channel",
            "Respondents by channel",
            ("channel", "respondents", "share"),
            ("text", "count", "share"),
            resp_rows,
        )
    )
    if len(res.respondents_by_channel) > 1:
        charts.append(
            Chart(
                "channel_mix",
                "Respondents by channel",
                "respondents_by_channel",
                "channel",
                "respondents",
                "count",
            )
        )
        tables.append(
            _group_table(
                res,
                key="scores_by_channel",
                title="Scores by channel (0–100)",
                group="channel",
                channel=True,
            )[0]
        )
    else:
        only = next(iter(res.respondents_by_channel), "one channel")
        notes.append(
            f"Every response is recorded on one channel ({only}); per-channel figures would "
            "carry no information and are not shown."
        )
    tables.append(
        _group_table(
            res,
            key="scores_by_district",
            title="Scores by district (0–100)",
            group="district",
            channel=False,
        )[0]
    )
    by_district = _csat_by(res, channel=False, key="csat_by_district", title="CSAT by district")
    if by_district is not None and by_district.rows:
        tables.append(by_district)
        charts.append(
            Chart(
                "csat_by_district",
                "CSAT by district (% answering 4–5)",
                "csat_by_district",
                "district",
                "csat_top2_pct",
                "score",
                "n",
            )
        )
    if res.drivers:
        tables.append(_drivers_table(res))
        charts.append(
            Chart(
                "drivers",
                "CMT driver scores (0–100)",
                "drivers",
                "driver",
                "score_0_100",
                "score",
                "n",
            )
        )
    values, ns = satisfaction_metric_values(res)
    tables.append(scorecard_table(values, ns))
    no_district = res.respondents_by_district.get(None, 0)
    if no_district:
        notes.append(
            f"{no_district if no_district >= MIN_CELL else 'Fewer than 5'} respondent(s) "
            "have no usable district and appear only in the overall figures."
        )
    notes.append(f"Cells counting fewer than {MIN_CELL} answers are suppressed (DESIGN §8).")
    as_of = res.as_of.isoformat() if res.as_of else survey.created_at.isoformat()
    return ReportData(
        subject="survey",
        slug=survey.slug,
        title=survey.title,
        period=(
            f"resident survey wave, imported {as_of[:10]}"
            if survey.kind == "wave"
            else f"satisfaction pulse, answers up to {as_of[:10]}"
        ),
        as_of=as_of,
        figures=tuple(figures),
        tables=tuple(tables),
        charts=tuple(charts),
        notes=tuple(notes),
    )


def _drivers_table(res: SurveyResults) -> Table:
    rows: list[tuple[Cell, ...]] = []
    missing = []
    for d in Driver:
        found = next((x for x in res.drivers if x.driver == d.value), None)
        if found is None:
            missing.append(DRIVER_LABELS[d.value])
            continue
        hidden = found.score.n < MIN_CELL
        rows.append(
            (
                DRIVER_LABELS[d.value],
                len(found.questions),
                None if hidden else found.score.value,
                None if hidden else found.score.n,
            )
        )
    not_asked = f"Not asked by this survey: {', '.join(missing)}. " if missing else ""
    return Table(
        key="drivers",
        title="CMT drivers of satisfaction (0–100)",
        columns=("driver", "items", "score_0_100", "n"),
        units=("text", "text", "score", "count"),
        rows=tuple((r[0], str(r[1]), r[2], r[3]) for r in rows),
        note=not_asked + DRIVER_NOTE,
    )
