"""Pure, vectorised scoring of satisfaction answers (CSAT, NPS, CMT drivers, ACSI-style).

Every function takes plain answers — a sequence, NumPy array or pandas Series of numbers
where ``None``/``NaN`` means missing or "don't know" — and returns a frozen dataclass with
the score and the number of valid answers it rests on (DESIGN §8: each figure with its n).
No I/O, no database.

Missing answers never count: they are dropped from numerator and denominator alike. An
answer outside the instrument's scale, or a non-integer answer on an integer scale, is a
:class:`core.errors.ValidationError` (it means a decoding bug upstream, not a bad score).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from core.errors import ValidationError

__all__ = [
    "MIN_CELL",
    "GroupScore",
    "Score",
    "acsi_index",
    "by_group",
    "csat",
    "driver_score",
    "nps",
    "parse_sms_answer",
]

MIN_CELL = 5
"""Smallest n reported for a group; smaller groups are suppressed (DESIGN §8)."""

K = TypeVar("K", bound=Hashable)
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Score:
    """A score and the number of valid answers behind it.

    Attributes:
        value: the score (unit depends on the function), or None when ``n == 0``.
        n: number of valid (non-missing) answers or respondents used.
    """

    value: float | None
    n: int


@dataclass(frozen=True)
class GroupScore:
    """A per-group score after small-cell suppression.

    Attributes:
        value: the score, or None when suppressed or when ``n == 0``.
        n: number of valid answers in the group (reported even when suppressed).
        suppressed: True when ``n`` is below the minimum cell size.
    """

    value: float | None
    n: int
    suppressed: bool


def _as_array(values: Any, *, field: str) -> FloatArray:
    """Convert answers to a float array with NaN for missing.

    Accepts sequences with None, NumPy arrays and pandas Series/arrays (whose ``pd.NA``
    is converted through ``to_numpy(na_value=nan)``).
    """
    try:
        if hasattr(values, "to_numpy"):
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"answers must be numbers or None ({exc})", field=field) from exc
    return np.asarray(arr, dtype=np.float64)


def _valid(values: Any, *, low: float, high: float, integral: bool, field: str) -> FloatArray:
    """Return the non-missing answers of a 1-D input, checked against ``[low, high]``."""
    arr = _as_array(values, field=field)
    if arr.ndim != 1:
        raise ValidationError(
            f"expected a 1-D sequence of answers, got shape {arr.shape}", field=field
        )
    arr = arr[~np.isnan(arr)]
    bad = (arr < low) | (arr > high) | np.isinf(arr)
    if integral:
        bad |= arr != np.round(arr)
    if bad.any():
        raise ValidationError(
            f"{int(bad.sum())} answer(s) outside the {low:g}–{high:g} scale"
            f"{' or not whole numbers' if integral else ''}, e.g. {arr[bad][0]:g}",
            field=field,
        )
    return arr


def csat(values: Any) -> Score:
    """Top-2-box customer satisfaction of 1–5 answers.

    Args:
        values: 1-D answers on the 1–5 satisfaction scale (5 = very satisfied); None/NaN
            for missing or "don't know", which are excluded.

    Returns:
        ``Score(value, n)``: value = share of valid answers that are 4 or 5, in [0, 1]
        (None when n = 0); n = number of valid answers.

    Raises:
        ValidationError: an answer is not a whole number in 1–5 (field ``values``).

    Formula: top-2-box share, #(x ≥ 4) / #valid (DESIGN §8).
    """
    arr = _valid(values, low=1, high=5, integral=True, field="values")
    n = int(arr.size)
    if n == 0:
        return Score(None, 0)
    return Score(float(np.count_nonzero(arr >= 4)) / n, n)


def nps(values: Any) -> Score:
    """Net Promoter Score of 0–10 likelihood-to-recommend answers.

    Args:
        values: 1-D answers on the 0–10 scale; None/NaN for missing.

    Returns:
        ``Score(value, n)``: value = 100 · (#promoters − #detractors) / n, promoters
        answering 9–10 and detractors 0–6, in [−100, 100] (None when n = 0).

    Raises:
        ValidationError: an answer is not a whole number in 0–10 (field ``values``).

    Source: Reichheld, F. F. (2003), "The One Number You Need to Grow", HBR 81(12).
    """
    arr = _valid(values, low=0, high=10, integral=True, field="values")
    n = int(arr.size)
    if n == 0:
        return Score(None, 0)
    promoters = np.count_nonzero(arr >= 9)
    detractors = np.count_nonzero(arr <= 6)
    return Score(100.0 * float(promoters - detractors) / n, n)


def driver_score(values: Any, scale_min: float = 1, scale_max: float = 5) -> Score:
    """CMT driver score: the mean answer rescaled linearly to 0–100.

    Args:
        values: 1-D answers on the ``scale_min``–``scale_max`` scale (higher = better);
            None/NaN for missing or "don't know".
        scale_min: lowest point of the scale (maps to 0).
        scale_max: highest point of the scale (maps to 100).

    Returns:
        ``Score(value, n)``: value = mean of (x − min) / (max − min) · 100, in [0, 100]
        (None when n = 0); n = number of valid answers.

    Raises:
        ValidationError: ``scale_min >= scale_max`` (field ``scale_max``) or an answer
            outside the scale (field ``values``).

    Source: drivers from the ICCS Common Measurements Tool; for a 1–5 item the
    rescaling is (x − 1) / 4 · 100.
    """
    if not scale_min < scale_max:
        raise ValidationError(f"must exceed scale_min ({scale_min:g})", field="scale_max")
    arr = _valid(values, low=scale_min, high=scale_max, integral=False, field="values")
    n = int(arr.size)
    if n == 0:
        return Score(None, 0)
    rescaled = (arr - scale_min) / (scale_max - scale_min) * 100.0
    return Score(float(rescaled.mean()), n)


def acsi_index(items: Any) -> Score:
    """Unofficial ACSI-style index from three 1–10 items, equal weights, 0–100.

    Args:
        items: 2-D answers of shape (n_respondents, 3) — one row per respondent, the
            columns being overall satisfaction, expectation confirmation and comparison
            with an ideal — on 1–10 scales; None/NaN for missing.

    Returns:
        ``Score(value, n)``: for each respondent with all three items valid, the mean of
        (x − 1) / 9 · 100; value = the mean over those respondents, in [0, 100] (None when
        n = 0); n = number of such respondents (listwise deletion).

    Raises:
        ValidationError: wrong shape or an answer outside 1–10 (field ``items``).

    Source: questions after Fornell et al. (1996), Journal of Marketing 60(4). This is
    **not** the licensed ACSI model, which weights items by estimated loadings.
    """
    arr = _as_array(items, field="items")
    if arr.size == 0:
        return Score(None, 0)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValidationError(f"expected shape (n, 3), got {arr.shape}", field="items")
    _valid(arr.ravel(), low=1, high=10, integral=False, field="items")
    complete = arr[~np.isnan(arr).any(axis=1)]
    n = int(complete.shape[0])
    if n == 0:
        return Score(None, 0)
    per_respondent = ((complete - 1.0) / 9.0 * 100.0).mean(axis=1)
    return Score(float(per_respondent.mean()), n)


def by_group(
    values: Any,
    groups: Iterable[K | None],
    fn: Callable[[FloatArray], Score],
    *,
    min_n: int = MIN_CELL,
) -> dict[K, GroupScore]:
    """Score each group separately, suppressing groups with fewer than ``min_n`` answers.

    Args:
        values: answers, 1-D (one per respondent) or 2-D (one row per respondent, for
            :func:`acsi_index`); None/NaN for missing.
        groups: the group of each respondent (same length as ``values``); respondents
            whose group is None/NaN/empty are left out of every group.
        fn: the scoring function (``csat``, ``nps``, ``driver_score`` or ``acsi_index``,
            or a ``functools.partial`` of one); it receives the group's rows.
        min_n: minimum cell size; a group whose score rests on fewer valid answers gets
            ``value=None, suppressed=True`` (its n is still reported).

    Returns:
        One :class:`GroupScore` per group, keys sorted by their string form.

    Raises:
        ValidationError: ``values`` and ``groups`` differ in length (field ``groups``),
            or ``fn`` rejects the answers.
    """
    arr = _as_array(values, field="values")
    keys = list(groups)  # a pandas Series iterates its values, NaN for missing
    labels = np.empty(len(keys), dtype=object)
    labels[:] = keys
    if arr.shape[0] != labels.shape[0]:
        raise ValidationError(
            f"{labels.shape[0]} group labels for {arr.shape[0]} answers", field="groups"
        )
    present = np.array([_is_group(g) for g in labels], dtype=bool)
    result: dict[K, GroupScore] = {}
    for key in sorted(set(labels[present]), key=str):
        score = fn(arr[labels == key])
        if score.n < min_n:
            result[key] = GroupScore(None, score.n, True)
        else:
            result[key] = GroupScore(score.value, score.n, False)
    return result


def _is_group(label: object) -> bool:
    if label is None or label == "":
        return False
    return not (isinstance(label, float) and np.isnan(label))


# Persian (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits, which phones with a
# Persian keyboard send (DESIGN §10), are read as their ASCII equivalents.
_DIGITS = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩",
    "01234567890123456789",
)
_ANSWER = re.compile(r"[0-9]{1,3}")


def parse_sms_answer(
    text: str | None, *, field: str = "answer", scale_min: int = 0, scale_max: int = 10
) -> int:
    """Read a scale answer from an SMS reply that should be one number.

    Surrounding whitespace is ignored; Persian and Arabic-Indic digits are accepted.
    Anything else — words, signs, decimals, several numbers — is refused rather than
    guessed at.

    Args:
        text: the reply body.
        field: name of the question, used in the error.
        scale_min: lowest valid answer (0 for NPS).
        scale_max: highest valid answer (10 for NPS).

    Returns:
        The answer as an int in ``[scale_min, scale_max]``; e.g. ``"9"`` → 9,
        ``" 10 "`` → 10.

    Raises:
        ValidationError: the reply is not a single whole number within the scale
            (``field`` names the question).
    """
    cleaned = (text or "").strip().translate(_DIGITS)
    if not _ANSWER.fullmatch(cleaned):
        raise ValidationError(f"reply with one number from {scale_min} to {scale_max}", field=field)
    answer = int(cleaned)
    if not scale_min <= answer <= scale_max:
        raise ValidationError(f"{answer} is outside {scale_min}–{scale_max}", field=field)
    return answer
