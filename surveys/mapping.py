"""Mapping files: how the columns of an external survey export become CivicFlow answers.

A mapping is a small TOML file (see ``surveys/mappings/*.toml``) validated by pydantic:

- ``encoding`` and ``delimiter`` of the CSV file;
- ``respondent_id_column``;
- ``[channel]``: a column whose values map to CivicFlow channels, or a ``constant``;
- ``[district]``: the column that locates a respondent (council district, postal FSA …),
  with optional upper-casing and a pattern a valid value must match;
- ``[scales.<name>]``: code or label → numeric value tables, with the codes that mean
  "don't know" and those that mean missing, and ``case_insensitive`` label matching
  (``"Strongly agree"`` = ``"Strongly Agree"``);
- ``[[questions]]``: column → question key, with the instrument (and CMT driver) it
  measures, the scale that decodes it, and ``reverse`` for negatively worded items.

Decoding a cell (:meth:`ScaleSpec.decode`) is pure; reading files is
:mod:`surveys.importer`'s job.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from enum import Enum
from pathlib import Path
from typing import Annotated, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import ValidationError
from surveys.instruments import Driver, InstrumentKind

__all__ = [
    "CHANNELS",
    "MAPPINGS_DIR",
    "ChannelSpec",
    "Decoded",
    "DistrictSpec",
    "QuestionSpec",
    "ScaleSpec",
    "SurveyMapping",
    "builtin_mapping",
    "load_mapping",
    "normalise_label",
]

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
"""Folder of the mapping files shipped with CivicFlow."""

CHANNELS: frozenset[str] = frozenset({"web", "email", "sms", "phone", "letter", "fax", "in_person"})
"""Channel vocabulary of the contact ledger (DESIGN §4)."""

# The score range each instrument's function expects (surveys.rules); CMT drivers take
# any range because driver_score rescales from the scale's own end points.
_REQUIRED_RANGE: dict[InstrumentKind, tuple[float, float]] = {
    InstrumentKind.CSAT: (1, 5),
    InstrumentKind.NPS: (0, 10),
    InstrumentKind.ACSI: (1, 10),
}


def normalise_label(raw: str, *, case_insensitive: bool) -> str:
    """Normalise a cell or table key for matching: trim, collapse inner whitespace,
    and case-fold when ``case_insensitive``."""
    text = " ".join(raw.split())
    return text.casefold() if case_insensitive else text


class Decoded(Enum):
    """Why a decoded cell has no value."""

    DONT_KNOW = "dont_know"
    MISSING = "missing"


_Model = ConfigDict(extra="forbid", frozen=True)
QuestionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class ScaleSpec(BaseModel):
    """A code/label → value table for one family of answer columns.

    Attributes:
        minimum: lowest value of the scale (used for range checks and ``reverse``).
        maximum: highest value of the scale.
        values: code or label as written in the file → numeric answer.
        dont_know: codes or labels meaning "don't know" (decoded as no answer).
        missing: codes or labels meaning no answer (default: the empty cell).
        case_insensitive: match labels ignoring case (and extra whitespace).
    """

    model_config = _Model

    minimum: float
    maximum: float
    values: dict[str, float] = Field(min_length=1)
    dont_know: tuple[str, ...] = ()
    missing: tuple[str, ...] = ("",)
    case_insensitive: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.minimum >= self.maximum:
            raise ValueError(f"minimum {self.minimum:g} must be below maximum {self.maximum:g}")
        for label, value in self.values.items():
            if not self.minimum <= value <= self.maximum:
                raise ValueError(
                    f"value {value:g} of {label!r} is outside {self.minimum:g}–{self.maximum:g}"
                )
        seen: dict[str, str] = {}
        for label in (*self.values, *self.dont_know, *self.missing):
            key = normalise_label(label, case_insensitive=self.case_insensitive)
            if key in seen:
                raise ValueError(f"labels {seen[key]!r} and {label!r} collide")
            seen[key] = label
        return self

    def decoder(self) -> dict[str, float | Decoded]:
        """Return the lookup table used by :meth:`decode`, keyed by normalised label.

        Built on each call (the model is frozen); callers decoding many cells keep it.
        """
        norm = self.case_insensitive
        table: dict[str, float | Decoded] = {
            normalise_label(k, case_insensitive=norm): v for k, v in self.values.items()
        }
        table.update(
            {normalise_label(k, case_insensitive=norm): Decoded.DONT_KNOW for k in self.dont_know}
        )
        table.update(
            {normalise_label(k, case_insensitive=norm): Decoded.MISSING for k in self.missing}
        )
        return table

    def decode(self, raw: str) -> float | Decoded:
        """Decode one cell.

        Args:
            raw: the cell text as read from the file.

        Returns:
            The numeric answer, or :attr:`Decoded.DONT_KNOW` / :attr:`Decoded.MISSING`.

        Raises:
            KeyError: the cell is none of the table's codes or labels.
        """
        return self.decoder()[normalise_label(raw, case_insensitive=self.case_insensitive)]


class QuestionSpec(BaseModel):
    """One mapped column.

    Attributes:
        key: CivicFlow question key (lower-case identifier, unique in the mapping).
        column: the exact header of the column in the file.
        instrument: the instrument family the answers feed.
        driver: the CMT driver, required exactly when ``instrument = "cmt_driver"``.
        scale: name of the ``[scales.*]`` table decoding the column (none for free text).
        reverse: the item is worded negatively; a value x is stored as min + max − x so
            that higher always means better.
        label: short English description for reports.
    """

    model_config = _Model

    key: QuestionKey
    column: str = Field(min_length=1)
    instrument: InstrumentKind
    driver: Driver | None = None
    scale: str | None = None
    reverse: bool = False
    label: str = ""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.instrument is InstrumentKind.CMT_DRIVER) != (self.driver is not None):
            raise ValueError(f"{self.key}: 'driver' is required exactly for cmt_driver items")
        if (self.instrument is InstrumentKind.FREE_TEXT) == (self.scale is not None):
            raise ValueError(f"{self.key}: free text takes no scale; every other item needs one")
        if self.reverse and self.scale is None:
            raise ValueError(f"{self.key}: 'reverse' needs a scale")
        return self


class ChannelSpec(BaseModel):
    """Where a respondent's channel comes from: a column with a value table, or a constant.

    Attributes:
        column: header of the channel column, or None with ``constant``.
        values: value in the file → CivicFlow channel (matched ignoring case).
        constant: the channel of every respondent, when the file has no channel column.
        missing: values meaning "channel not recorded" (decoded as None).
    """

    model_config = _Model

    column: str | None = None
    values: dict[str, str] = Field(default_factory=dict)
    constant: str | None = None
    missing: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.column is None) == (self.constant is None):
            raise ValueError("give exactly one of 'column' and 'constant'")
        if self.column is not None and not self.values:
            raise ValueError("a channel column needs a 'values' table")
        for target in (*self.values.values(), *([self.constant] if self.constant else [])):
            if target not in CHANNELS:
                raise ValueError(f"unknown channel {target!r}; use one of {sorted(CHANNELS)}")
        return self

    def decode(self, raw: str) -> str | None:
        """Return the CivicFlow channel for a cell (None for a ``missing`` value).

        Raises:
            KeyError: the value is not in the table.
        """
        if self.constant is not None:
            return self.constant
        key = normalise_label(raw, case_insensitive=True)
        if key in {normalise_label(m, case_insensitive=True) for m in self.missing}:
            return None
        table = {normalise_label(k, case_insensitive=True): v for k, v in self.values.items()}
        return table[key]


class DistrictSpec(BaseModel):
    """The column that places a respondent in a district.

    Attributes:
        column: header of the district column.
        uppercase: upper-case the value first (postal codes typed by hand: ``m6h``).
        pattern: regular expression a valid value must match in full, after upper-casing;
            other values are recorded as no district (counted, not an error, because such
            columns are typed free-hand).
        missing: values meaning no district (default: the empty cell).
    """

    model_config = _Model

    column: str = Field(min_length=1)
    uppercase: bool = False
    pattern: str | None = None
    missing: tuple[str, ...] = ("",)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid pattern: {exc}") from exc
        return value

    def decode(self, raw: str) -> tuple[str | None, bool]:
        """Return ``(district, rejected)`` for a cell.

        ``district`` is None for a missing or rejected value; ``rejected`` is True when a
        non-missing value failed ``pattern``.
        """
        text = raw.strip()
        if text in {m.strip() for m in self.missing}:
            return None, False
        if self.uppercase:
            text = text.upper()
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return None, True
        return text, False


class SurveyMapping(BaseModel):
    """A whole mapping file.

    Attributes:
        name: identifier of the mapping (file stem by convention).
        title: what survey the mapping reads.
        source: where the file comes from (repository, portal).
        encoding: Python codec name of the file (``"cp1252"``, ``"utf-8"`` …).
        delimiter: one-character field separator.
        respondent_id_column: header of the column identifying respondents.
        channel: how to find each respondent's channel.
        district: how to find each respondent's district.
        scales: named code/label tables.
        questions: mapped columns, in report order.
    """

    model_config = _Model

    name: str = Field(min_length=1)
    title: str = ""
    source: str = ""
    encoding: str
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    respondent_id_column: str = Field(min_length=1)
    channel: ChannelSpec
    district: DistrictSpec
    scales: dict[str, ScaleSpec] = Field(default_factory=dict)
    questions: tuple[QuestionSpec, ...] = Field(min_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        keys = [q.key for q in self.questions]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate question keys: {dupes}")
        for q in self.questions:
            if q.scale is None:
                continue
            if q.scale not in self.scales:
                raise ValueError(f"{q.key}: unknown scale {q.scale!r}")
            scale = self.scales[q.scale]
            want = _REQUIRED_RANGE.get(q.instrument)
            if want is not None and (scale.minimum, scale.maximum) != want:
                raise ValueError(
                    f"{q.key}: {q.instrument.value} needs a {want[0]:g}–{want[1]:g} scale, "
                    f"{q.scale!r} is {scale.minimum:g}–{scale.maximum:g}"
                )
        return self

    def question(self, key: str) -> QuestionSpec:
        """Return the mapped question with ``key``.

        Raises:
            KeyError: no question has that key.
        """
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)

    def required_columns(self) -> tuple[str, ...]:
        """Headers the file must contain, in mapping order, without repeats."""
        cols = [self.respondent_id_column, self.district.column]
        if self.channel.column is not None:
            cols.append(self.channel.column)
        cols.extend(q.column for q in self.questions)
        return tuple(dict.fromkeys(cols))


def _describe(err: pydantic.ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{loc}: {first['msg']}{more}"


def load_mapping(path: str | Path) -> SurveyMapping:
    """Read and validate a mapping file.

    Args:
        path: path of a UTF-8 TOML mapping file.

    Returns:
        The validated mapping.

    Raises:
        ValidationError: the file is missing, is not valid TOML, or breaks a rule of the
            format (field = the file path; the message names the offending key).
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValidationError("mapping file not found", field=str(file)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"not a valid UTF-8 TOML file ({exc})", field=str(file)) from exc
    try:
        return SurveyMapping.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(_describe(exc), field=str(file)) from exc


def builtin_mapping(name: str) -> SurveyMapping:
    """Load a mapping shipped in ``surveys/mappings/`` by its stem.

    Args:
        name: file stem, e.g. ``"kansas_city_fy2022"``.

    Raises:
        ValidationError: no such mapping, or it is invalid (field ``mapping``).
    """
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValidationError(f"invalid mapping name {name!r}", field="mapping")
    path = MAPPINGS_DIR / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))
        raise ValidationError(f"no mapping {name!r}; known: {known}", field="mapping")
    return load_mapping(path)
