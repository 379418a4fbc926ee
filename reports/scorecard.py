"""The scorecard (metric → UNDP characteristic of good governance) and the display format
of figures, shared by the consultation and survey reports."""

from __future__ import annotations

from collections.abc import Mapping

from reports import rules
from reports.rules import Metric
from reports.schemas import Table

__all__ = ["format_value", "scorecard_table"]


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
