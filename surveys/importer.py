"""Read an external survey export (CSV) into a :class:`SurveyWave` using a mapping file.

Pure apart from reading the one file: no database, no logging of answers. Every cell
of every mapped column is decoded; anything the mapping does not explain — a byte the
encoding cannot decode, a missing column, a label not in the scale, a ragged row, a
repeated respondent id — stops the import with a :class:`SurveyFileError` naming the
file, the line and the column, so a bad file is never half-imported.

The csv module is used rather than pandas: the files are small (about 1,000 rows), every
cell is checked against a table anyway, and it keeps line numbers exact.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ValidationError
from surveys.instruments import InstrumentKind
from surveys.mapping import (
    Decoded,
    QuestionSpec,
    SurveyMapping,
    builtin_mapping,
    load_mapping,
    normalise_label,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Respondent", "SurveyFileError", "SurveyWave", "read_survey"]


class SurveyFileError(ValidationError):
    """A survey file that does not fit its mapping.

    Attributes:
        path: the file.
        line: 1-based physical line where the problem is (1 = header), or None.
        column: header of the offending column, or None when unknown.
    """

    def __init__(self, message: str, *, path: Path, line: int | None, column: str | None) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = str(path.name)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}", field=column)


@dataclass(frozen=True)
class Respondent:
    """One respondent's decoded answers.

    Attributes:
        respondent_id: the id as written in the file.
        line: 1-based line of the record in the file (for tracing back).
        channel: CivicFlow channel (``"web"``, ``"letter"``, ``"phone"`` …), or None.
        district: district or postal area after normalisation, or None.
        answers: question key → answer as a float (reversed items already flipped), or
            None for missing / "don't know"; scored questions only.
        dont_know: keys of the questions answered "don't know".
        texts: question key → free-text answer, or None if blank. Personal data.
    """

    respondent_id: str
    line: int
    channel: str | None
    district: str | None
    answers: Mapping[str, float | None]
    dont_know: frozenset[str] = frozenset()
    texts: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class SurveyWave:
    """All respondents of one survey file.

    Attributes:
        source: the file's name.
        mapping: the mapping used to read it.
        respondents: respondents in file order.
        rejected_districts: count of non-empty district values that failed the pattern.
    """

    source: str
    mapping: SurveyMapping
    respondents: tuple[Respondent, ...]
    rejected_districts: int = 0

    def __len__(self) -> int:
        return len(self.respondents)

    def __iter__(self) -> Iterator[Respondent]:
        return iter(self.respondents)

    def question(self, key: str) -> QuestionSpec:
        """Return the mapped question ``key``.

        Raises:
            ValidationError: the mapping has no such question (field ``key``).
        """
        try:
            return self.mapping.question(key)
        except KeyError as exc:
            raise ValidationError(
                f"no question {key!r} in {self.mapping.name}", field="key"
            ) from exc

    def values(self, key: str) -> list[float | None]:
        """Answers to scored question ``key``, one per respondent, None for no answer.

        Raises:
            ValidationError: unknown key, or a free-text question (field ``key``).
        """
        if self.question(key).instrument is InstrumentKind.FREE_TEXT:
            raise ValidationError(f"{key!r} is free text; use texts()", field="key")
        return [r.answers[key] for r in self.respondents]

    def texts(self, key: str) -> list[str | None]:
        """Free-text answers to ``key``, one per respondent (personal data).

        Raises:
            ValidationError: unknown key, or not a free-text question (field ``key``).
        """
        if self.question(key).instrument is not InstrumentKind.FREE_TEXT:
            raise ValidationError(f"{key!r} is not free text; use values()", field="key")
        return [r.texts[key] for r in self.respondents]

    def channels(self) -> list[str | None]:
        """Channel of each respondent, in file order."""
        return [r.channel for r in self.respondents]

    def districts(self) -> list[str | None]:
        """District of each respondent, in file order."""
        return [r.district for r in self.respondents]

    def to_frame(self) -> pd.DataFrame:
        """Scored answers as a DataFrame, one row per respondent.

        Columns: ``respondent_id``, ``channel``, ``district`` (pandas 3 ``str`` dtype,
        missing = NaN) and one float64 column per scored question (missing = NaN).
        Free text is left out on purpose (personal data).
        """
        import pandas as pd

        scored = [
            q.key for q in self.mapping.questions if q.instrument is not InstrumentKind.FREE_TEXT
        ]
        frame = pd.DataFrame(
            {
                "respondent_id": [r.respondent_id for r in self.respondents],
                "channel": self.channels(),
                "district": self.districts(),
            }
        )
        answers = pd.DataFrame(
            {key: pd.array(self.values(key), dtype="float64") for key in scored},
            index=frame.index,
        )
        return pd.concat([frame, answers], axis=1)


def _decode_text(path: Path, raw: bytes, encoding: str) -> str:
    """Decode the whole file strictly, reporting the line and column of a bad byte."""
    codec = codecs.lookup(encoding).name
    if codec == "utf-8":
        codec = "utf-8-sig"  # tolerate a BOM, which spreadsheet tools add
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        prefix = raw[start : exc.start].decode(codec, errors="replace")
        column_no = len(next(csv.reader([prefix]), [""])) if prefix else 1
        column: str | None = f"#{column_no}"
        if line > 1:
            header_end = raw.find(b"\n")
            header = next(csv.reader([raw[:header_end].decode(codec, errors="replace")]))
            if column_no <= len(header):
                column = header[column_no - 1]
        raise SurveyFileError(
            f"byte 0x{raw[exc.start]:02x} cannot be decoded as {encoding} "
            "(wrong encoding in the mapping?)",
            path=path,
            line=line,
            column=column,
        ) from exc


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line, fields)`` of each CSV record; blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last = 0
    for row in reader:
        start = last + 1
        last = reader.line_num
        if row:
            yield start, row


def read_survey(path: str | Path, mapping: SurveyMapping | str | Path) -> SurveyWave:
    """Read a survey export and decode every mapped column.

    Args:
        path: the CSV file.
        mapping: a :class:`SurveyMapping`, the stem of a shipped mapping
            (``"kansas_city_fy2022"``), or the path of a mapping file.

    Returns:
        A :class:`SurveyWave` with one :class:`Respondent` per data record: channel,
        district, scored answers as floats (None = missing or "don't know"; reversed
        items flipped as min + max − x) and free-text answers.

    Raises:
        SurveyFileError: (a ValidationError) the file cannot be read with the mapping's
            encoding, lacks a mapped column, has a cell the mapping cannot decode, a row
            with the wrong number of fields or a repeated respondent id; the message
            names file, line and column.
        ValidationError: the mapping itself is invalid.
    """
    file = Path(path)
    spec = _resolve(mapping)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SurveyFileError(
            f"cannot read file ({exc.strerror})", path=file, line=None, column=None
        ) from exc
    text = _decode_text(file, raw, spec.encoding)
    try:
        records = list(_records(text, spec.delimiter))
    except csv.Error as exc:
        raise SurveyFileError(f"malformed CSV ({exc})", path=file, line=None, column=None) from exc
    if not records:
        raise SurveyFileError("the file is empty", path=file, line=1, column=None)
    _, header = records[0]
    header = [h.strip() for h in header]
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    for column in spec.required_columns():
        if column.strip() not in index:
            raise SurveyFileError(
                "mapped column is missing from the header", path=file, line=1, column=column
            )

    def col(name: str) -> int:
        return index[name.strip()]

    scored = [q for q in spec.questions if q.instrument is not InstrumentKind.FREE_TEXT]
    free = [q for q in spec.questions if q.instrument is InstrumentKind.FREE_TEXT]
    tables = {name: s.decoder() for name, s in spec.scales.items()}
    id_col = col(spec.respondent_id_column)
    district_col = col(spec.district.column)
    channel_col = col(spec.channel.column) if spec.channel.column is not None else None

    respondents: list[Respondent] = []
    seen: dict[str, int] = {}
    rejected = 0
    for line, row in records[1:]:
        if len(row) != len(header):
            raise SurveyFileError(
                f"{len(row)} fields, the header has {len(header)}",
                path=file,
                line=line,
                column=None,
            )
        rid = row[id_col].strip()
        if not rid:
            raise SurveyFileError(
                "empty respondent id", path=file, line=line, column=spec.respondent_id_column
            )
        if rid in seen:
            raise SurveyFileError(
                f"respondent id {rid!r} repeats line {seen[rid]}",
                path=file,
                line=line,
                column=spec.respondent_id_column,
            )
        seen[rid] = line

        channel: str | None
        if channel_col is None:
            channel = spec.channel.decode("")
        else:
            try:
                channel = spec.channel.decode(row[channel_col])
            except KeyError:
                raise SurveyFileError(
                    f"channel {row[channel_col]!r} is not in the mapping's channel table",
                    path=file,
                    line=line,
                    column=spec.channel.column,
                ) from None
        district, bad_district = spec.district.decode(row[district_col])
        rejected += bad_district

        answers: dict[str, float | None] = {}
        dont_know: set[str] = set()
        for q in scored:
            assert q.scale is not None  # guaranteed by QuestionSpec validation
            scale = spec.scales[q.scale]
            cell = row[col(q.column)]
            decoded = tables[q.scale].get(
                normalise_label(cell, case_insensitive=scale.case_insensitive)
            )
            if decoded is None:
                raise SurveyFileError(
                    f"{cell[:40]!r} is not a code or label of scale {q.scale!r}",
                    path=file,
                    line=line,
                    column=q.column,
                )
            if decoded is Decoded.DONT_KNOW:
                dont_know.add(q.key)
                answers[q.key] = None
            elif decoded is Decoded.MISSING:
                answers[q.key] = None
            elif q.reverse:
                answers[q.key] = scale.minimum + scale.maximum - decoded
            else:
                answers[q.key] = decoded
        texts = {q.key: (row[col(q.column)].strip() or None) for q in free}
        respondents.append(
            Respondent(
                respondent_id=rid,
                line=line,
                channel=channel,
                district=district,
                answers=answers,
                dont_know=frozenset(dont_know),
                texts=texts,
            )
        )
    return SurveyWave(
        source=file.name,
        mapping=spec,
        respondents=tuple(respondents),
        rejected_districts=rejected,
    )


def _resolve(mapping: SurveyMapping | str | Path) -> SurveyMapping:
    if isinstance(mapping, SurveyMapping):
        return mapping
    if isinstance(mapping, str) and "/" not in mapping and not mapping.endswith(".toml"):
        return builtin_mapping(mapping)
    return load_mapping(mapping)
