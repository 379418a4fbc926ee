"""Importing the two real resident surveys, checked against hand counts from the raw files.

Every expected value is computed inside the test from the raw CSV with the csv module and
plain loops — no code of surveys.importer or surveys.mapping — and compared with
``surveys.rules`` applied to what the importer produced. Both files are real public data
(see realdata/SOURCES.md). Neither has a 0–10 item, so NPS is tested by hand in
test_rules.py only.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ValidationError
from surveys.importer import SurveyFileError, SurveyWave, read_survey
from surveys.mapping import builtin_mapping
from surveys.rules import GroupScore, by_group, csat, driver_score

KANSAS = "FY2022_RS_Cleaned_safe.csv"
TORONTO = "survey_data.csv"
TORONTO_DISTRICT = (
    "12. Please provide the first three characters of your postal code (e.g. M5H) - other"
)
TORONTO_RELEVANT = (
    "3.9. The City's engagement activities are relevant to me, my family and/or my community"
)
TORONTO_IDEAS = "3.1. The City considers my ideas"
TORONTO_INFLUENCE = "3.6. Some participants have less influence than others on decisions"
AGREE = {
    "strongly disagree": 1,
    "disagree": 2,
    "neither agree nor disagree": 3,
    "agree": 4,
    "strongly agree": 5,
}


# --- hand computation, independent of the importer --------------------------------------


def raw_rows(path: Path, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def hand_top2(values: list[int]) -> tuple[float | None, int]:
    n = len(values)
    return (sum(1 for v in values if v >= 4) / n if n else None), n


def hand_driver(values: list[int]) -> tuple[float | None, int]:
    n = len(values)
    return (sum((v - 1) / 4 * 100 for v in values) / n if n else None), n


def hand_groups(
    rows: list[dict[str, str]],
    group_of: Callable[[dict[str, str]], str | None],
    answer_of: Callable[[dict[str, str]], int | None],
    score: Callable[[list[int]], tuple[float | None, int]],
) -> dict[str, GroupScore]:
    members: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        group = group_of(row)
        if group is None:
            continue
        members.setdefault(group, [])
        answer = answer_of(row)
        if answer is not None:
            members[group].append(answer)
    out = {}
    for group, answers in members.items():
        value, n = score(answers)
        out[group] = GroupScore(None, n, True) if n < 5 else GroupScore(value, n, False)
    return out


def kansas_code(column: str) -> Callable[[dict[str, str]], int | None]:
    def answer(row: dict[str, str]) -> int | None:
        cell = row[column]
        return int(cell) if cell in {"1", "2", "3", "4", "5"} else None  # 9 = don't know

    return answer


def toronto_label(column: str, *, reverse: bool = False) -> Callable[[dict[str, str]], int | None]:
    def answer(row: dict[str, str]) -> int | None:
        cell = row[column].strip().lower()
        if not cell:
            return None
        value = AGREE[cell]
        return 6 - value if reverse else value

    return answer


def toronto_fsa(row: dict[str, str]) -> str | None:
    fsa = row[TORONTO_DISTRICT].strip().upper()
    return fsa if re.fullmatch(r"[ABCEGHJKLMNPRSTVXY][0-9][A-Z]", fsa) else None


def approx_groups(actual: dict[str, GroupScore], expected: dict[str, GroupScore]) -> None:
    assert set(actual) == set(expected)
    for key, exp in expected.items():
        got = actual[key]
        assert (got.n, got.suppressed) == (exp.n, exp.suppressed), key
        assert got.value == pytest.approx(exp.value), key


def overall(
    rows: list[dict[str, str]],
    answer_of: Callable[[dict[str, str]], int | None],
    score: Callable[[list[int]], tuple[float | None, int]],
) -> tuple[float | None, int]:
    return score([a for a in map(answer_of, rows) if a is not None])


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kansas_path() -> Path:
    from tests.conftest import REALDATA

    return REALDATA / "resident_survey" / KANSAS


@pytest.fixture(scope="module")
def toronto_path() -> Path:
    from tests.conftest import REALDATA

    return REALDATA / "resident_survey" / TORONTO


@pytest.fixture(scope="module")
def kansas(kansas_path: Path) -> SurveyWave:
    return read_survey(kansas_path, "kansas_city_fy2022")


@pytest.fixture(scope="module")
def toronto(toronto_path: Path) -> SurveyWave:
    return read_survey(toronto_path, "toronto_public_engagement")


@pytest.fixture(scope="module")
def kansas_rows(kansas_path: Path) -> list[dict[str, str]]:
    return raw_rows(kansas_path, "utf-8")


@pytest.fixture(scope="module")
def toronto_rows(toronto_path: Path) -> list[dict[str, str]]:
    return raw_rows(toronto_path, "cp1252")


# --- Kansas City ------------------------------------------------------------------------


def test_kansas_reads_every_respondent_with_channel_and_district(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]]
) -> None:
    assert len(kansas) == len(kansas_rows) == 1033
    assert kansas.channels().count("web") == sum(r["method"] == "Web" for r in kansas_rows)
    assert set(kansas.channels()) == {"web", "letter", "phone"}
    assert set(kansas.districts()) == {"1", "2", "3", "4", "5", "6"}


def test_kansas_csat_overall(kansas: SurveyWave, kansas_rows: list[dict[str, str]]) -> None:
    expected = overall(kansas_rows, kansas_code("q2_01"), hand_top2)
    result = csat(kansas.values("csat_city_services"))
    assert result.n == expected[1] == 1018  # 1033 minus 15 "don't know" (9)
    assert result.value == pytest.approx(expected[0])
    assert result.value == pytest.approx(475 / 1018)


KANSAS_CSAT = [
    ("csat_city_services", "q2_01"),
    ("csat_customer_service", "q3_12"),
    ("csat_311", "q3_10"),
    ("csat_communication", "q3_13"),
]


@pytest.mark.parametrize(("key", "column"), KANSAS_CSAT)
def test_kansas_csat_overall_each_item(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]], key: str, column: str
) -> None:
    value, n = overall(kansas_rows, kansas_code(column), hand_top2)
    result = csat(kansas.values(key))
    assert result.n == n
    assert result.value == pytest.approx(value)


@pytest.mark.parametrize(("key", "column"), KANSAS_CSAT)
def test_kansas_csat_per_channel(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]], key: str, column: str
) -> None:
    channel = {"Web": "web", "Mail": "letter", "Phone": "phone"}
    expected = hand_groups(
        kansas_rows, lambda r: channel[r["method"]], kansas_code(column), hand_top2
    )
    actual = by_group(kansas.values(key), kansas.channels(), csat)
    approx_groups(actual, expected)
    assert set(actual) == {"web", "letter", "phone"}


@pytest.mark.parametrize(("key", "column"), KANSAS_CSAT)
def test_kansas_csat_per_district(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]], key: str, column: str
) -> None:
    expected = hand_groups(kansas_rows, lambda r: r["counci"], kansas_code(column), hand_top2)
    actual = by_group(kansas.values(key), kansas.districts(), csat)
    approx_groups(actual, expected)
    assert len(actual) == 6


@pytest.mark.parametrize(
    ("key", "column"),
    [
        ("driver_courtesy_311", "q17_03"),
        ("driver_outcome_311", "q17_04"),
        ("driver_fairness_court", "q15_04"),
    ],
)
def test_kansas_driver_overall_per_channel_and_district(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]], key: str, column: str
) -> None:
    value, n = overall(kansas_rows, kansas_code(column), hand_driver)
    result = driver_score(kansas.values(key))
    assert result.n == n
    assert result.value == pytest.approx(value)

    channel = {"Web": "web", "Mail": "letter", "Phone": "phone"}
    approx_groups(
        by_group(kansas.values(key), kansas.channels(), driver_score),
        hand_groups(kansas_rows, lambda r: channel[r["method"]], kansas_code(column), hand_driver),
    )
    approx_groups(
        by_group(kansas.values(key), kansas.districts(), driver_score),
        hand_groups(kansas_rows, lambda r: r["counci"], kansas_code(column), hand_driver),
    )


def test_kansas_dont_know_is_recorded_but_not_scored(
    kansas: SurveyWave, kansas_rows: list[dict[str, str]]
) -> None:
    dk = sum(r["q17_04"] == "9" for r in kansas_rows)
    assert sum("driver_outcome_311" in r.dont_know for r in kansas) == dk
    assert kansas.values("driver_outcome_311").count(None) == dk


# --- Toronto ----------------------------------------------------------------------------


def test_toronto_reads_every_respondent_as_web(
    toronto: SurveyWave, toronto_rows: list[dict[str, str]]
) -> None:
    assert len(toronto) == len(toronto_rows) == 962
    assert set(toronto.channels()) == {"web"}
    bad = sum(1 for r in toronto_rows if r[TORONTO_DISTRICT].strip() and toronto_fsa(r) is None)
    assert toronto.rejected_districts == bad == 4


def test_toronto_csat_overall(toronto: SurveyWave, toronto_rows: list[dict[str, str]]) -> None:
    value, n = overall(toronto_rows, toronto_label(TORONTO_RELEVANT), hand_top2)
    result = csat(toronto.values("csat_engagement_relevant"))
    assert result.n == n == 708
    assert result.value == pytest.approx(value)
    assert result.value == pytest.approx((295 + 92) / 708)  # Agree + Strongly agree


def test_toronto_block7_capitalised_labels_score(
    toronto: SurveyWave, toronto_rows: list[dict[str, str]]
) -> None:
    column = "7.9. The software the City uses is easy to use"
    assert any(r[column] == "Strongly Agree" for r in toronto_rows)
    value, n = overall(toronto_rows, toronto_label(column), hand_top2)
    result = csat(toronto.values("csat_virtual_software"))
    assert result.n == n
    assert result.value == pytest.approx(value)


def test_toronto_csat_per_district_suppresses_small_fsas(
    toronto: SurveyWave, toronto_rows: list[dict[str, str]]
) -> None:
    expected = hand_groups(toronto_rows, toronto_fsa, toronto_label(TORONTO_RELEVANT), hand_top2)
    actual = by_group(toronto.values("csat_engagement_relevant"), toronto.districts(), csat)
    approx_groups(actual, expected)
    assert any(g.suppressed for g in actual.values())
    assert any(not g.suppressed for g in actual.values())


@pytest.mark.parametrize(
    ("key", "column", "reverse"),
    [
        ("driver_outcome_ideas_considered", TORONTO_IDEAS, False),
        ("driver_fairness_equal_influence", TORONTO_INFLUENCE, True),
    ],
)
def test_toronto_driver_overall_and_per_district(
    toronto: SurveyWave,
    toronto_rows: list[dict[str, str]],
    key: str,
    column: str,
    reverse: bool,
) -> None:
    answer = toronto_label(column, reverse=reverse)
    value, n = overall(toronto_rows, answer, hand_driver)
    result = driver_score(toronto.values(key))
    assert result.n == n
    assert result.value == pytest.approx(value)
    approx_groups(
        by_group(toronto.values(key), toronto.districts(), driver_score),
        hand_groups(toronto_rows, toronto_fsa, answer, hand_driver),
    )


def test_toronto_free_text_is_kept_apart_from_scores(toronto: SurveyWave) -> None:
    texts = toronto.texts("comment_do_better")
    assert len(texts) == 962
    assert sum(t is not None for t in texts) == 962 - 473  # 473 blank cells
    with pytest.raises(ValidationError):
        toronto.values("comment_do_better")
    assert "comment_do_better" not in toronto.to_frame().columns


def test_to_frame_has_float_answers_and_string_groups(toronto: SurveyWave) -> None:
    frame = toronto.to_frame()
    assert frame.shape[0] == 962
    assert frame["csat_engagement_relevant"].dtype == "float64"
    assert frame["csat_engagement_relevant"].notna().sum() == 708


# --- bad files --------------------------------------------------------------------------


def test_wrong_encoding_names_file_line_and_column(toronto_path: Path, tmp_path: Path) -> None:
    mapping = builtin_mapping("toronto_public_engagement").model_copy(update={"encoding": "utf-8"})
    with pytest.raises(SurveyFileError) as err:
        read_survey(toronto_path, mapping)
    assert err.value.line == 1
    assert err.value.column == "#40"  # 3.8. I understand the City’s reasoning …
    assert TORONTO in str(err.value)
    assert "0x92" in str(err.value)


def _kansas_sample(kansas_path: Path, tmp_path: Path, rows: int = 5) -> tuple[Path, list[str]]:
    lines = kansas_path.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1]
    return tmp_path / "kansas.csv", lines


def test_undecodable_byte_in_a_data_row_names_its_column(kansas_path: Path, tmp_path: Path) -> None:
    path, lines = _kansas_sample(kansas_path, tmp_path)
    lines[3] = lines[3].replace("Web", "W\u00e9b", 1).replace("Mail", "M\u00e1il", 1)
    path.write_bytes(
        "".join(lines[:3]).encode() + lines[3].encode("cp1252") + "".join(lines[4:]).encode()
    )
    with pytest.raises(SurveyFileError) as err:
        read_survey(path, "kansas_city_fy2022")
    assert (err.value.line, err.value.column) == (4, "method")


def test_missing_mapped_column_is_named(kansas_path: Path, tmp_path: Path) -> None:
    path, lines = _kansas_sample(kansas_path, tmp_path)
    path.write_text("".join(lines).replace("q17_03", "q17_03x", 1), encoding="utf-8")
    with pytest.raises(SurveyFileError) as err:
        read_survey(path, "kansas_city_fy2022")
    assert (err.value.line, err.value.column, err.value.field) == (1, "q17_03", "q17_03")
    assert "kansas.csv" in str(err.value)


def test_unmapped_code_is_named_with_line_and_column(kansas_path: Path, tmp_path: Path) -> None:
    path, lines = _kansas_sample(kansas_path, tmp_path)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[4].rstrip("\n").split(",")
    cells[header.index("q2_01")] = "7"
    lines[4] = ",".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SurveyFileError) as err:
        read_survey(path, "kansas_city_fy2022")
    assert (err.value.line, err.value.column) == (5, "q2_01")


def test_unmapped_label_in_toronto_is_named(toronto_path: Path, tmp_path: Path) -> None:
    raw = toronto_path.read_bytes().decode("cp1252").splitlines(keepends=True)
    rows = list(csv.reader(raw[:4]))
    column = rows[0].index(TORONTO_IDEAS)
    rows[2][column] = "Somewhat agree"
    path = tmp_path / "toronto.csv"
    with path.open("w", encoding="cp1252", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    with pytest.raises(SurveyFileError) as err:
        read_survey(path, "toronto_public_engagement")
    assert (err.value.line, err.value.column) == (3, TORONTO_IDEAS)
    assert "Somewhat agree" in err.value.message


def test_unknown_channel_ragged_row_and_repeated_id_are_refused(
    kansas_path: Path, tmp_path: Path
) -> None:
    path, lines = _kansas_sample(kansas_path, tmp_path)
    for bad, where in [
        (
            [*lines[:2], lines[2].replace(",Web,", ",Fax,", 1).replace(",Mail,", ",Fax,", 1)],
            (3, "method"),
        ),
        ([*lines[:2], lines[2].rstrip("\n") + ",extra\n"], (3, None)),
        ([*lines[:2], lines[1]], (3, "id")),
    ]:
        path.write_text("".join(bad), encoding="utf-8")
        with pytest.raises(SurveyFileError) as err:
            read_survey(path, "kansas_city_fy2022")
        assert (err.value.line, err.value.column) == where


def test_a_utf8_bom_is_tolerated(kansas_path: Path, tmp_path: Path) -> None:
    path, lines = _kansas_sample(kansas_path, tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + "".join(lines).encode())
    assert len(read_survey(path, "kansas_city_fy2022")) == 5
