"""Pure governance-report metrics (DESIGN §8): no I/O, no database, plain values in.

The database does the heavy counting (GROUP BY); these functions turn the counts into the
report's figures, each carried with the n it rests on, and map every figure to the
characteristics of good governance it informs (the scorecard).

- :func:`dissimilarity_index` — representativeness, ½·Σ|pᵢ − qᵢ| (Duncan & Duncan 1955).
- :func:`turnout` — participants / eligible.
- :func:`suppress`, :func:`suppress_counts` — small-cell suppression (cells < 5 → None).
- :func:`stance_balance` — for / against / neutral comment shares and balance.
- :func:`responsiveness` — share of proposals answered, median days to answer.
- :func:`reminder_uplift` — turnout difference between reminded and holdout groups,
  with a Newcombe hybrid-score 95 % interval.
- :func:`scorecard` — metric → UNDP good-governance characteristics.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from core.errors import ValidationError

__all__ = [
    "CHARACTERISTIC_LABELS",
    "METRIC_CHARACTERISTICS",
    "METRIC_DIRECTION",
    "MIN_CELL",
    "Characteristic",
    "Dissimilarity",
    "Metric",
    "MetricValue",
    "ReminderUplift",
    "Responsiveness",
    "ScorecardRow",
    "Stance",
    "StanceBalance",
    "Turnout",
    "dissimilarity_index",
    "reminder_uplift",
    "responsiveness",
    "scorecard",
    "stance_balance",
    "suppress",
    "suppress_counts",
    "turnout",
]

MIN_CELL = 5
"""Cells counting fewer people than this are suppressed (DESIGN §8)."""

K = TypeVar("K", bound=Hashable)


# --------------------------------------------------------------------------------------
# Representativeness


@dataclass(frozen=True)
class Dissimilarity:
    """Index of dissimilarity between participants and the population.

    Attributes:
        value: ½·Σ|pᵢ − qᵢ| in [0, 1] — the share of participants who would have to be
            in another category for the two distributions to match; None when either
            total is zero.
        n_sample: total of the sample counts (participants).
        n_population: total of the population counts.
    """

    value: float | None
    n_sample: float
    n_population: float


def dissimilarity_index(
    sample_counts: Mapping[K, float], population_counts: Mapping[K, float]
) -> Dissimilarity:
    """Index of dissimilarity D = ½·Σᵢ |pᵢ − qᵢ| over the population's categories.

    pᵢ is category i's share of the sample (participants) and qᵢ its share of the
    population. A category of the population missing from the sample counts 0 there.

    Args:
        sample_counts: participants per category (district, age band, gender …), ≥ 0.
        population_counts: people per category from ``population``, ≥ 0.

    Returns:
        :class:`Dissimilarity` with D in [0, 1] (0 = identical shares) and both totals.

    Raises:
        ValidationError: a negative or non-finite count (field naming the mapping), or a
            sample category the population does not have (field ``sample_counts``) —
            usually a mis-keyed category, which must not silently inflate D.

    Source: Duncan, O. D. & Duncan, B. (1955). A methodological analysis of segregation
    indexes. American Sociological Review 20(2), 210–217.
    """
    _check_counts(sample_counts, "sample_counts")
    _check_counts(population_counts, "population_counts")
    unknown = [k for k in sample_counts if k not in population_counts]
    if unknown:
        raise ValidationError(
            f"categories not in the population: {sorted(map(str, unknown))}",
            field="sample_counts",
        )
    n_s = float(math.fsum(sample_counts.values()))
    n_p = float(math.fsum(population_counts.values()))
    if n_s == 0 or n_p == 0:
        return Dissimilarity(None, n_s, n_p)
    d = 0.5 * math.fsum(
        abs(sample_counts.get(k, 0) / n_s - population_counts[k] / n_p) for k in population_counts
    )
    return Dissimilarity(min(1.0, max(0.0, d)), n_s, n_p)


def _check_counts(counts: Mapping[K, float], field: str) -> None:
    for key, value in counts.items():
        if not math.isfinite(value) or value < 0:
            raise ValidationError(f"count for {key!r} must be ≥ 0, got {value!r}", field=field)


# --------------------------------------------------------------------------------------
# Turnout and suppression


@dataclass(frozen=True)
class Turnout:
    """Participants as a share of the eligible population.

    Attributes:
        value: participants / eligible in [0, 1], or None when nobody is eligible.
        participants: number who took part.
        eligible: number eligible.
    """

    value: float | None
    participants: int
    eligible: int


def turnout(participants: int, eligible: int) -> Turnout:
    """Turnout = participants / eligible.

    Args:
        participants: people who took part (≥ 0).
        eligible: people who could take part (≥ participants).

    Returns:
        :class:`Turnout` with the share in [0, 1] (None if ``eligible == 0``) and both n.

    Raises:
        ValidationError: a negative count (field ``participants``/``eligible``) or more
            participants than eligible people (field ``participants``).
    """
    if participants < 0:
        raise ValidationError(f"must be ≥ 0, got {participants}", field="participants")
    if eligible < 0:
        raise ValidationError(f"must be ≥ 0, got {eligible}", field="eligible")
    if participants > eligible:
        raise ValidationError(
            f"{participants} participants exceed {eligible} eligible", field="participants"
        )
    return Turnout(participants / eligible if eligible else None, participants, eligible)


def suppress(count: int | None, min_n: int = MIN_CELL) -> int | None:
    """Return ``count``, or None when it is below ``min_n`` (small-cell suppression).

    Zero is suppressed too: "nobody in this district voted no" can disclose as much as a
    count of one.

    Args:
        count: people in the cell, or None (already suppressed / unknown).
        min_n: minimum publishable cell size.
    """
    if count is None or count < min_n:
        return None
    return count


def suppress_counts(counts: Mapping[K, int], min_n: int = MIN_CELL) -> dict[K, int | None]:
    """Apply :func:`suppress` to every cell of a table, keeping its keys and order."""
    return {key: suppress(value, min_n) for key, value in counts.items()}


# --------------------------------------------------------------------------------------
# Comments


class Stance(StrEnum):
    """Stance of a comment on a proposal (DESIGN §4)."""

    FOR = "for"
    AGAINST = "against"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class StanceBalance:
    """How comments split between for, against and neutral.

    Attributes:
        n: comments with a stance.
        n_for: comments for.
        n_against: comments against.
        n_neutral: neutral comments.
        balance: (for − against) / (for + against) in [−1, 1]; +1 all for, −1 all
            against, 0 evenly split; None when no comment takes a side.
        share_for: n_for / n in [0, 1] (None when n = 0).
        share_against: n_against / n in [0, 1] (None when n = 0).
        share_neutral: n_neutral / n in [0, 1] (None when n = 0).
    """

    n: int
    n_for: int
    n_against: int
    n_neutral: int
    balance: float | None
    share_for: float | None
    share_against: float | None
    share_neutral: float | None


def stance_balance(stances: Iterable[Stance | str | None]) -> StanceBalance:
    """Count comment stances and compute the for/against balance.

    Args:
        stances: one stance per comment (``"for"``, ``"against"``, ``"neutral"`` or the
            :class:`Stance`); None (stance not given) is left out.

    Returns:
        :class:`StanceBalance`.

    Raises:
        ValidationError: an unknown stance (field ``stances``).
    """
    counts = dict.fromkeys(Stance, 0)
    for raw in stances:
        if raw is None:
            continue
        try:
            counts[Stance(raw)] += 1
        except ValueError:
            raise ValidationError(f"unknown stance {raw!r}", field="stances") from None
    n_for, n_against, n_neutral = counts[Stance.FOR], counts[Stance.AGAINST], counts[Stance.NEUTRAL]
    n = n_for + n_against + n_neutral
    sided = n_for + n_against
    return StanceBalance(
        n=n,
        n_for=n_for,
        n_against=n_against,
        n_neutral=n_neutral,
        balance=(n_for - n_against) / sided if sided else None,
        share_for=n_for / n if n else None,
        share_against=n_against / n if n else None,
        share_neutral=n_neutral / n if n else None,
    )


# --------------------------------------------------------------------------------------
# Responsiveness


@dataclass(frozen=True)
class Responsiveness:
    """How far and how fast the council answered proposals.

    Attributes:
        n: proposals due an answer.
        n_answered: proposals with an official answer.
        share_answered: n_answered / n in [0, 1] (None when n = 0).
        median_days: median time to answer of the answered proposals, in days (float,
            86,400 s per day); None when none was answered.
    """

    n: int
    n_answered: int
    share_answered: float | None
    median_days: float | None


def responsiveness(items: Iterable[tuple[datetime, datetime | None]]) -> Responsiveness:
    """Share of proposals answered and median days to answer.

    Args:
        items: one ``(due_from, answered_at)`` pair per proposal — the time from which an
            answer was due (e.g. the consultation's close) and the time of the official
            answer, or None if unanswered. Timezone-aware datetimes (UTC in storage).

    Returns:
        :class:`Responsiveness`.

    Raises:
        ValidationError: a naive datetime, or an answer dated before ``due_from``
            (field ``items``).
    """
    n = 0
    days: list[float] = []
    for due_from, answered_at in items:
        n += 1
        for stamp in (due_from, answered_at):
            if stamp is not None and stamp.utcoffset() is None:
                raise ValidationError(f"datetime {stamp} has no time zone", field="items")
        if answered_at is None:
            continue
        delta = (answered_at - due_from).total_seconds()
        if delta < 0:
            raise ValidationError(
                f"answered at {answered_at.isoformat()} before {due_from.isoformat()}",
                field="items",
            )
        days.append(delta / 86_400)
    return Responsiveness(
        n=n,
        n_answered=len(days),
        share_answered=len(days) / n if n else None,
        median_days=statistics.median(days) if days else None,
    )


# --------------------------------------------------------------------------------------
# Reminder uplift


@dataclass(frozen=True)
class ReminderUplift:
    """Turnout difference between citizens who were reminded and a holdout group.

    Attributes:
        value: reminded turnout − holdout turnout, a difference of shares in [−1, 1]
            (×100 for percentage points); None when a group is empty.
        ci_low: lower end of the 95 % interval of ``value`` (None when value is None).
        ci_high: upper end of the 95 % interval (None when value is None).
        reminded: turnout of the reminded group, with its n.
        holdout: turnout of the holdout group (not reminded), with its n.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    reminded: Turnout
    holdout: Turnout


_Z95 = statistics.NormalDist().inv_cdf(0.975)


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def reminder_uplift(
    *,
    reminded_participants: int,
    reminded_eligible: int,
    holdout_participants: int,
    holdout_eligible: int,
) -> ReminderUplift:
    """Reminder uplift: turnout(reminded) − turnout(holdout), with a 95 % interval.

    The holdout is a random subset of eligible citizens deliberately sent no reminder,
    so the difference estimates what reminders add.

    Args:
        reminded_participants: reminded citizens who took part.
        reminded_eligible: citizens in the reminded group.
        holdout_participants: holdout citizens who took part.
        holdout_eligible: citizens in the holdout group.

    Returns:
        :class:`ReminderUplift`; the interval is Newcombe's hybrid score interval
        (method 10), built from the two Wilson score intervals.

    Raises:
        ValidationError: a negative count or participants exceeding eligible (field
            ``participants``/``eligible``).

    Source: Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. Statistics in Medicine
    17(8), 873–890.
    """
    reminded = turnout(reminded_participants, reminded_eligible)
    holdout = turnout(holdout_participants, holdout_eligible)
    if reminded.value is None or holdout.value is None:
        return ReminderUplift(None, None, None, reminded, holdout)
    p1, p2 = reminded.value, holdout.value
    l1, u1 = _wilson(reminded_participants, reminded_eligible, _Z95)
    l2, u2 = _wilson(holdout_participants, holdout_eligible, _Z95)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return ReminderUplift(d, max(-1.0, low), min(1.0, high), reminded, holdout)


# --------------------------------------------------------------------------------------
# Scorecard


class Characteristic(StrEnum):
    """Characteristics of good governance.

    UNDP (1997), *Governance for sustainable human development: A UNDP policy document*
    (New York: UNDP), lists participation, rule of law, transparency, responsiveness,
    consensus orientation, equity, effectiveness and efficiency, accountability and
    strategic vision. The scorecard uses the eight that per-cycle figures can inform —
    strategic vision is a long-term judgement no cycle metric measures — and names equity
    "equity and inclusiveness", as the widely used UN-ESCAP summary of the list does.
    """

    PARTICIPATION = "participation"
    RULE_OF_LAW = "rule_of_law"
    TRANSPARENCY = "transparency"
    RESPONSIVENESS = "responsiveness"
    CONSENSUS_ORIENTATION = "consensus_orientation"
    EQUITY_INCLUSIVENESS = "equity_inclusiveness"
    EFFECTIVENESS_EFFICIENCY = "effectiveness_efficiency"
    ACCOUNTABILITY = "accountability"


CHARACTERISTIC_LABELS: dict[Characteristic, str] = {
    Characteristic.PARTICIPATION: "Participation",
    Characteristic.RULE_OF_LAW: "Rule of law",
    Characteristic.TRANSPARENCY: "Transparency",
    Characteristic.RESPONSIVENESS: "Responsiveness",
    Characteristic.CONSENSUS_ORIENTATION: "Consensus orientation",
    Characteristic.EQUITY_INCLUSIVENESS: "Equity and inclusiveness",
    Characteristic.EFFECTIVENESS_EFFICIENCY: "Effectiveness and efficiency",
    Characteristic.ACCOUNTABILITY: "Accountability",
}
"""English display label of each characteristic."""


class Metric(StrEnum):
    """The figures of the governance report that the scorecard knows."""

    TURNOUT = "turnout"
    CHANNEL_MIX = "channel_mix"
    REPRESENTATIVENESS = "representativeness"
    COMMENT_VOLUME = "comment_volume"
    STANCE_BALANCE = "stance_balance"
    SHARE_ANSWERED = "share_answered"
    MEDIAN_DAYS_TO_ANSWER = "median_days_to_answer"
    RESULTS_PUBLISHED = "results_published"
    CSAT = "csat"
    NPS = "nps"
    DRIVER_TIMELINESS = "driver_timeliness"
    DRIVER_KNOWLEDGE = "driver_knowledge"
    DRIVER_COURTESY = "driver_courtesy"
    DRIVER_FAIRNESS = "driver_fairness"
    DRIVER_OUTCOME = "driver_outcome"
    REMINDER_UPLIFT = "reminder_uplift"
    MODERATION_HEALTH = "moderation_health"


_C = Characteristic
METRIC_CHARACTERISTICS: dict[Metric, tuple[Characteristic, ...]] = {
    # Who took part, and how many: participation in its plainest sense.
    Metric.TURNOUT: (_C.PARTICIPATION,),
    # Several channels (web, SMS, phone, letter, in person) let people without internet
    # take part: participation, and inclusiveness of those otherwise left out.
    Metric.CHANNEL_MIX: (_C.PARTICIPATION, _C.EQUITY_INCLUSIVENESS),
    # Dissimilarity of participants to the population: whether every group is heard.
    Metric.REPRESENTATIVENESS: (_C.EQUITY_INCLUSIVENESS, _C.PARTICIPATION),
    Metric.COMMENT_VOLUME: (_C.PARTICIPATION,),
    # How comments divide shows how far a broad consensus exists.
    Metric.STANCE_BALANCE: (_C.CONSENSUS_ORIENTATION,),
    # Answering every proposal, with reasons, is the council giving account ("you said,
    # we did") and responding to those it serves.
    Metric.SHARE_ANSWERED: (_C.RESPONSIVENESS, _C.ACCOUNTABILITY),
    Metric.MEDIAN_DAYS_TO_ANSWER: (_C.RESPONSIVENESS, _C.EFFECTIVENESS_EFFICIENCY),
    # Results and the report made public: information freely available to those affected.
    Metric.RESULTS_PUBLISHED: (_C.TRANSPARENCY, _C.ACCOUNTABILITY),
    # Satisfaction measures whether the process served people well.
    Metric.CSAT: (_C.EFFECTIVENESS_EFFICIENCY,),
    Metric.NPS: (_C.EFFECTIVENESS_EFFICIENCY,),
    Metric.DRIVER_TIMELINESS: (_C.RESPONSIVENESS, _C.EFFECTIVENESS_EFFICIENCY),
    Metric.DRIVER_KNOWLEDGE: (_C.EFFECTIVENESS_EFFICIENCY,),
    # Being treated with respect is what makes people feel included.
    Metric.DRIVER_COURTESY: (_C.EQUITY_INCLUSIVENESS,),
    # Fair, impartial treatment under the published rules.
    Metric.DRIVER_FAIRNESS: (_C.RULE_OF_LAW, _C.EQUITY_INCLUSIVENESS),
    # Input that leads somewhere: the council accounts for what it did with it.
    Metric.DRIVER_OUTCOME: (_C.ACCOUNTABILITY, _C.EFFECTIVENESS_EFFICIENCY),
    Metric.REMINDER_UPLIFT: (_C.EFFECTIVENESS_EFFICIENCY,),
    # Moderation enforces the published participation rules impartially.
    Metric.MODERATION_HEALTH: (_C.RULE_OF_LAW,),
}
"""Each metric → the characteristics it informs (first = primary)."""

METRIC_DIRECTION: dict[Metric, int] = {
    **dict.fromkeys(Metric, 1),
    Metric.REPRESENTATIVENESS: -1,  # a dissimilarity: 0 is best
    Metric.MEDIAN_DAYS_TO_ANSWER: -1,
    Metric.STANCE_BALANCE: 0,  # neither end is "better"
    Metric.CHANNEL_MIX: 0,
}
"""+1 when higher is better, −1 when lower is better, 0 when neither."""


@dataclass(frozen=True)
class MetricValue:
    """One metric's figure on the scorecard.

    Attributes:
        metric: which metric.
        value: the figure (unit of the metric), or None when not measured/suppressed.
        n: the n it rests on, when known.
        direction: +1 higher is better, −1 lower is better, 0 neither.
    """

    metric: Metric
    value: float | None
    n: int | None
    direction: int


@dataclass(frozen=True)
class ScorecardRow:
    """One characteristic of good governance and the figures that inform it.

    Attributes:
        characteristic: the characteristic.
        label: its English display label.
        metrics: every metric mapped to it, in :class:`Metric` order, with its value
            (None where not supplied).
        measured: True when at least one of those metrics has a value.
    """

    characteristic: Characteristic
    label: str
    metrics: tuple[MetricValue, ...]
    measured: bool


def scorecard(
    values: Mapping[Metric | str, float | None],
    ns: Mapping[Metric | str, int] | None = None,
) -> tuple[ScorecardRow, ...]:
    """Map report figures onto the characteristics of good governance.

    Every characteristic gets a row, even one no supplied metric informs (then
    ``measured`` is False), so the report shows what the cycle did *not* measure.

    Args:
        values: metric (or its name) → figure; None for a figure that is suppressed or
            not available.
        ns: metric → the n behind the figure (optional).

    Returns:
        One :class:`ScorecardRow` per :class:`Characteristic`, in declaration order.

    Raises:
        ValidationError: an unknown metric name (field ``values`` or ``ns``).

    Source: characteristics from UNDP (1997), *Governance for sustainable human
    development*; the metric mapping is CivicFlow's, reasoned in
    :data:`METRIC_CHARACTERISTICS`.
    """
    given = _metric_keys(values, "values")
    counts = _metric_keys(ns or {}, "ns")
    rows = []
    for characteristic in Characteristic:
        metrics = tuple(
            MetricValue(
                metric=m,
                value=given.get(m),
                n=counts.get(m),
                direction=METRIC_DIRECTION[m],
            )
            for m in Metric
            if characteristic in METRIC_CHARACTERISTICS[m]
        )
        rows.append(
            ScorecardRow(
                characteristic=characteristic,
                label=CHARACTERISTIC_LABELS[characteristic],
                metrics=metrics,
                measured=any(mv.value is not None for mv in metrics),
            )
        )
    return tuple(rows)


_T = TypeVar("_T")


def _metric_keys(mapping: Mapping[Metric | str, _T], field: str) -> dict[Metric, _T]:
    out: dict[Metric, _T] = {}
    for key, value in mapping.items():
        try:
            out[Metric(key)] = value
        except ValueError:
            raise ValidationError(f"unknown metric {key!r}", field=field) from None
    return out
