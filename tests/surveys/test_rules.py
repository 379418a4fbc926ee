"""Scoring rules on small handmade tables, plus hypothesis properties.

Neither real survey file has a 0–10 item, so NPS is tested here by hand only.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationError
from surveys.rules import (
    GroupScore,
    Score,
    acsi_index,
    by_group,
    csat,
    driver_score,
    nps,
    parse_sms_answer,
)

# --- CSAT -------------------------------------------------------------------------------


def test_csat_is_top_two_box_share_of_valid_answers() -> None:
    # valid: 5, 4, 3, 1, 2, 5 -> three of six are 4 or 5
    assert csat([5, 4, 3, None, 1, 2, 5]) == Score(0.5, 6)


def test_csat_excludes_nan_and_pandas_na() -> None:
    series = pd.Series([4, None, 2, 5], dtype="Int64")
    assert csat(series) == Score(2 / 3, 3)
    assert csat(np.array([np.nan, 5.0])) == Score(1.0, 1)


def test_csat_of_no_valid_answer_has_no_value() -> None:
    assert csat([None, None]) == Score(None, 0)
    assert csat([]) == Score(None, 0)


@pytest.mark.parametrize("bad", [[0], [6], [9], [4.5]])
def test_csat_rejects_answers_off_the_1_to_5_scale(bad: list[float]) -> None:
    with pytest.raises(ValidationError) as err:
        csat(bad)
    assert err.value.field == "values"


def test_csat_rejects_text() -> None:
    with pytest.raises(ValidationError):
        csat(["Agree"])


# --- NPS --------------------------------------------------------------------------------


def test_nps_is_percent_promoters_minus_percent_detractors() -> None:
    # valid 7: promoters 10, 9, 9 (3); passives 8, 7; detractors 6, 0 (2)
    result = nps([10, 9, 9, 8, 7, 6, 0, None])
    assert result.n == 7
    assert result.value == pytest.approx(100 * (3 - 2) / 7)


def test_nps_extremes() -> None:
    assert nps([9, 10, 10]) == Score(100.0, 3)
    assert nps([0, 6, 3]) == Score(-100.0, 3)
    assert nps([7, 8]) == Score(0.0, 2)


def test_nps_rejects_eleven() -> None:
    with pytest.raises(ValidationError):
        nps([11])


# --- CMT drivers and ACSI ---------------------------------------------------------------


def test_driver_score_rescales_one_to_five_to_zero_to_hundred() -> None:
    # (x - 1) / 4 * 100: 1 -> 0, 5 -> 100, 3 -> 50
    assert driver_score([1, 5, 3, None]) == Score(50.0, 3)
    assert driver_score([2]) == Score(25.0, 1)


def test_driver_score_on_another_scale() -> None:
    assert driver_score([0, 10, 5], scale_min=0, scale_max=10) == Score(50.0, 3)


def test_driver_score_rejects_inverted_scale() -> None:
    with pytest.raises(ValidationError) as err:
        driver_score([3], scale_min=5, scale_max=1)
    assert err.value.field == "scale_max"


def test_acsi_index_averages_rescaled_items_of_complete_respondents() -> None:
    items = [[10, 10, 10], [1, 1, 1], [4, 7, None]]  # third row incomplete -> dropped
    assert acsi_index(items) == Score(50.0, 2)
    # one respondent: (9/9 + 0/9 + 3/9) * 100 / 3
    assert acsi_index([[10, 1, 4]]).value == pytest.approx((100 + 0 + 100 / 3) / 3)


def test_acsi_index_requires_three_items() -> None:
    with pytest.raises(ValidationError) as err:
        acsi_index([[1, 2]])
    assert err.value.field == "items"


# --- groups and suppression -------------------------------------------------------------


def test_by_group_suppresses_groups_under_five() -> None:
    values = [5, 5, 4, 1, 2, 5, 5, 5, 5]
    groups = ["a", "a", "a", "a", "a", "b", "b", "b", "b"]
    result = by_group(values, groups, csat)
    assert result == {
        "a": GroupScore(3 / 5, 5, False),
        "b": GroupScore(None, 4, True),
    }


def test_by_group_counts_valid_answers_not_members() -> None:
    values = [5, 5, 5, 5, None, None]
    result = by_group(values, ["x"] * 6, csat)
    assert result["x"] == GroupScore(None, 4, True)


def test_by_group_leaves_out_respondents_without_group() -> None:
    values = [5] * 7
    result = by_group(values, ["a"] * 5 + [None, ""], csat)
    assert list(result) == ["a"]


def test_by_group_accepts_partial_driver_score_and_two_d_rows() -> None:
    by_driver = by_group([1, 5] * 5, ["g"] * 10, partial(driver_score, scale_min=1, scale_max=5))
    assert by_driver["g"] == GroupScore(50.0, 10, False)
    rows = [[10, 10, 10]] * 5
    assert by_group(rows, ["g"] * 5, acsi_index)["g"] == GroupScore(100.0, 5, False)


def test_by_group_rejects_length_mismatch() -> None:
    with pytest.raises(ValidationError) as err:
        by_group([1, 2], ["a"], csat)
    assert err.value.field == "groups"


# --- SMS replies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "answer"),
    [("9", 9), (" 10 ", 10), ("0", 0), ("\t7\n", 7), ("۹", 9), ("١٠", 10)],
)
def test_parse_sms_answer_reads_one_number(reply: str, answer: int) -> None:
    assert parse_sms_answer(reply) == answer


@pytest.mark.parametrize(
    "reply", ["", "  ", "nine", "9.5", "-1", "+9", "11", "1 0", "9!", "²", None, "1000"]
)
def test_parse_sms_answer_refuses_anything_else(reply: str | None) -> None:
    with pytest.raises(ValidationError) as err:
        parse_sms_answer(reply, field="nps")
    assert err.value.field == "nps"


def test_parse_sms_answer_respects_the_scale() -> None:
    assert parse_sms_answer("5", scale_min=1, scale_max=5) == 5
    with pytest.raises(ValidationError):
        parse_sms_answer("0", scale_min=1, scale_max=5)


# --- properties -------------------------------------------------------------------------

answers_1_5 = st.lists(st.one_of(st.none(), st.integers(1, 5)), max_size=60)
answers_0_10 = st.lists(st.one_of(st.none(), st.integers(0, 10)), max_size=60)


@given(answers_1_5)
def test_csat_property_share_in_unit_interval_and_counts_valid(values: list[int | None]) -> None:
    result = csat(values)
    valid = [v for v in values if v is not None]
    assert result.n == len(valid)
    if valid:
        assert result.value is not None
        assert 0.0 <= result.value <= 1.0
        assert result.value == pytest.approx(sum(v >= 4 for v in valid) / len(valid))
    else:
        assert result.value is None


@given(answers_0_10)
def test_nps_property_in_range(values: list[int | None]) -> None:
    result = nps(values)
    if result.value is not None:
        assert -100.0 <= result.value <= 100.0


@given(answers_1_5)
def test_driver_property_in_range(values: list[int | None]) -> None:
    result = driver_score(values)
    if result.value is not None:
        assert 0.0 <= result.value <= 100.0 or math.isclose(result.value, 100.0)


@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from("abc")), max_size=40))
def test_by_group_property_never_reveals_small_groups(pairs: list[tuple[int, str]]) -> None:
    values = [v for v, _ in pairs]
    groups = [g for _, g in pairs]
    for key, score in by_group(values, groups, csat).items():
        assert score.n == groups.count(key)
        assert score.suppressed == (score.n < 5)
        assert (score.value is None) == score.suppressed
