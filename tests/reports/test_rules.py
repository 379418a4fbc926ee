"""Report metrics on small handmade tables, plus hypothesis properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.errors import ValidationError
from reports.rules import (
    CHARACTERISTIC_LABELS,
    METRIC_CHARACTERISTICS,
    Characteristic,
    Metric,
    Stance,
    Turnout,
    dissimilarity_index,
    reminder_uplift,
    responsiveness,
    scorecard,
    stance_balance,
    suppress,
    suppress_counts,
    turnout,
)

# --- dissimilarity ----------------------------------------------------------------------


def test_dissimilarity_by_hand() -> None:
    # p = (30, 10)/40 = (.75, .25); q = (50, 50)/100 = (.5, .5); D = ½(.25 + .25)
    result = dissimilarity_index({"north": 30, "south": 10}, {"north": 50, "south": 50})
    assert result.value == pytest.approx(0.25)
    assert (result.n_sample, result.n_population) == (40, 100)


def test_dissimilarity_three_districts_by_hand() -> None:
    sample = {"d1": 20, "d2": 50, "d3": 30}  # shares .2 .5 .3
    population = {"d1": 400, "d2": 400, "d3": 200}  # shares .4 .4 .2
    # ½(|.2-.4| + |.5-.4| + |.3-.2|) = ½(.2 + .1 + .1) = .2
    assert dissimilarity_index(sample, population).value == pytest.approx(0.2)


def test_population_category_absent_from_sample_counts_as_zero() -> None:
    result = dissimilarity_index({"a": 10}, {"a": 50, "b": 50})
    assert result.value == pytest.approx(0.5)


def test_sample_category_unknown_to_population_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        dissimilarity_index({"a": 1, "typo": 1}, {"a": 5})
    assert err.value.field == "sample_counts"


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        dissimilarity_index({"a": 1}, {"a": -5})
    assert err.value.field == "population_counts"


def test_empty_sample_has_no_index() -> None:
    assert dissimilarity_index({"a": 0}, {"a": 5}).value is None
    assert dissimilarity_index({}, {"a": 5}).value is None


counts = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 10_000), min_size=1)


@given(counts, counts)
def test_dissimilarity_property_in_unit_interval(
    sample: dict[str, int], population: dict[str, int]
) -> None:
    population = {**dict.fromkeys(sample, 0), **population}
    result = dissimilarity_index(sample, population)
    if result.value is not None:
        assert 0.0 <= result.value <= 1.0


@given(counts, st.integers(1, 50))
def test_dissimilarity_property_zero_for_identical_or_proportional(
    population: dict[str, int], factor: int
) -> None:
    assume(sum(population.values()) > 0)
    assert dissimilarity_index(population, population).value == pytest.approx(0.0, abs=1e-12)
    scaled = {k: v * factor for k, v in population.items()}
    assert dissimilarity_index(population, scaled).value == pytest.approx(0.0, abs=1e-12)


@given(counts, counts)
def test_dissimilarity_property_symmetric(a: dict[str, int], b: dict[str, int]) -> None:
    keys = set(a) | set(b)
    a = {k: a.get(k, 0) for k in keys}
    b = {k: b.get(k, 0) for k in keys}
    ab, ba = dissimilarity_index(a, b).value, dissimilarity_index(b, a).value
    assert (ab is None) == (ba is None)
    if ab is not None and ba is not None:
        assert ab == pytest.approx(ba)


# --- turnout and suppression ------------------------------------------------------------


def test_turnout_share_with_its_n() -> None:
    assert turnout(25, 200) == Turnout(0.125, 25, 200)
    assert turnout(0, 0) == Turnout(None, 0, 0)


@pytest.mark.parametrize(
    ("participants", "eligible", "field"),
    [(5, 4, "participants"), (-1, 4, "participants"), (0, -1, "eligible")],
)
def test_turnout_refuses_impossible_counts(participants: int, eligible: int, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        turnout(participants, eligible)
    assert err.value.field == field


def test_suppression_hides_cells_under_five() -> None:
    table = {"d1": 12, "d2": 4, "d3": 5, "d4": 0, "d5": 1}
    assert suppress_counts(table) == {"d1": 12, "d2": None, "d3": 5, "d4": None, "d5": None}
    assert suppress(None) is None
    assert suppress(9, min_n=10) is None


# --- comments ---------------------------------------------------------------------------


def test_stance_balance_by_hand() -> None:
    stances = ["for", "for", "for", "against", "neutral", None, Stance.FOR]
    result = stance_balance(stances)
    assert (result.n, result.n_for, result.n_against, result.n_neutral) == (6, 4, 1, 1)
    assert result.balance == pytest.approx((4 - 1) / 5)
    assert result.share_for == pytest.approx(4 / 6)
    assert result.share_neutral == pytest.approx(1 / 6)


def test_stance_balance_without_sides() -> None:
    result = stance_balance(["neutral"])
    assert result.balance is None
    assert stance_balance([]).share_for is None


def test_unknown_stance_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        stance_balance(["maybe"])
    assert err.value.field == "stances"


# --- responsiveness ---------------------------------------------------------------------


def test_responsiveness_share_and_median_days() -> None:
    closed = datetime(2025, 3, 1, tzinfo=UTC)
    items = [
        (closed, closed + timedelta(days=2)),
        (closed, closed + timedelta(days=10)),
        (closed, closed + timedelta(days=4, hours=12)),
        (closed, None),
    ]
    result = responsiveness(items)
    assert (result.n, result.n_answered) == (4, 3)
    assert result.share_answered == pytest.approx(0.75)
    assert result.median_days == pytest.approx(4.5)


def test_responsiveness_of_nothing() -> None:
    result = responsiveness([])
    assert (result.n, result.share_answered, result.median_days) == (0, None, None)


def test_responsiveness_refuses_naive_or_backwards_times() -> None:
    aware = datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="time zone"):
        responsiveness([(datetime(2025, 3, 1), None)])
    with pytest.raises(ValidationError, match="before"):
        responsiveness([(aware, aware - timedelta(days=1))])


# --- reminder uplift --------------------------------------------------------------------


def test_reminder_uplift_matches_reference_newcombe_interval() -> None:
    # Reference: ocbe-uio/contingencytables, tests/testthat/test-ch4.R — the Newcombe
    # hybrid score CI of the Perondi et al. (2004) table 7/34 vs 1/34 is
    # "estimate = 0.1765 (95% CI 0.0189 to 0.3404)" (Fagerland, Lydersen & Laake,
    # Statistical Analysis of Contingency Tables, ch. 4).
    result = reminder_uplift(
        reminded_participants=7,
        reminded_eligible=34,
        holdout_participants=1,
        holdout_eligible=34,
    )
    assert result.value == pytest.approx(0.1765, abs=5e-5)
    assert result.ci_low == pytest.approx(0.0189, abs=5e-5)
    assert result.ci_high == pytest.approx(0.3404, abs=5e-5)
    assert result.reminded == Turnout(7 / 34, 7, 34)
    assert result.holdout == Turnout(1 / 34, 1, 34)


def test_reminder_uplift_by_hand_and_empty_group() -> None:
    result = reminder_uplift(
        reminded_participants=300,
        reminded_eligible=1000,
        holdout_participants=25,
        holdout_eligible=100,
    )
    assert result.value == pytest.approx(0.30 - 0.25)
    assert result.value is not None
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.ci_low < result.value < result.ci_high
    empty = reminder_uplift(
        reminded_participants=3, reminded_eligible=10, holdout_participants=0, holdout_eligible=0
    )
    assert (empty.value, empty.ci_low, empty.ci_high) == (None, None, None)


# --- scorecard --------------------------------------------------------------------------


def test_scorecard_has_every_characteristic_once_in_order() -> None:
    rows = scorecard({})
    assert [r.characteristic for r in rows] == list(Characteristic)
    assert [r.label for r in rows] == [CHARACTERISTIC_LABELS[c] for c in Characteristic]
    assert not any(r.measured for r in rows)


def test_every_metric_informs_some_characteristic_and_each_is_covered() -> None:
    assert set(METRIC_CHARACTERISTICS) == set(Metric)
    covered = {c for cs in METRIC_CHARACTERISTICS.values() for c in cs}
    assert covered == set(Characteristic)


def test_scorecard_places_handmade_figures() -> None:
    rows = {
        r.characteristic: r
        for r in scorecard(
            {"turnout": 0.125, Metric.SHARE_ANSWERED: 0.75, "csat": None},
            ns={"turnout": 200, "share_answered": 4},
        )
    }
    participation = rows[Characteristic.PARTICIPATION]
    assert participation.measured
    turnout_cell = next(m for m in participation.metrics if m.metric is Metric.TURNOUT)
    assert (turnout_cell.value, turnout_cell.n, turnout_cell.direction) == (0.125, 200, 1)
    for characteristic in (Characteristic.RESPONSIVENESS, Characteristic.ACCOUNTABILITY):
        cell = next(m for m in rows[characteristic].metrics if m.metric is Metric.SHARE_ANSWERED)
        assert (cell.value, cell.n) == (0.75, 4)
    # CSAT was suppressed (None): effectiveness is listed but not measured by it
    assert not rows[Characteristic.EFFECTIVENESS_EFFICIENCY].measured
    assert not rows[Characteristic.CONSENSUS_ORIENTATION].measured


def test_lower_is_better_metrics_are_marked() -> None:
    rows = scorecard({"representativeness": 0.1})
    cell = next(m for r in rows for m in r.metrics if m.metric is Metric.REPRESENTATIVENESS)
    assert cell.direction == -1


def test_scorecard_refuses_unknown_metric() -> None:
    with pytest.raises(ValidationError) as err:
        scorecard({"happiness": 1.0})
    assert err.value.field == "values"
