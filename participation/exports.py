"""Open-data exports: CSV (UTF-8 with BOM) and XLSX, safe to open in a spreadsheet.

Both writers take the same rows and apply the same rules (DESIGN.md §9):

- **Formula injection.** A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return could run as a formula when opened in Excel or LibreOffice; it is
  prefixed with ``'`` (OWASP, "CSV Injection"). A text cell that is a plain decimal
  number (``-73.98``, ``+1``, ``-1.5e3``) is left as it is: it cannot run, and mangling it
  would break numeric columns such as the 18251 negative longitudes of the Open311 file
  (``realdata/FORMATS.md`` §A.5). Numbers given as ``int``/``float``/``Decimal`` are
  numbers, never touched.
- **Missing values** (``None``, NaN, pandas ``NA``/``NaT``) become empty cells.
- **Datetimes** must be timezone-aware; they are written in UTC (ISO 8601 with
  ``+00:00`` in CSV; in XLSX, which has no time zones, as the UTC wall time). A naive
  datetime is refused.

Rows from pandas: ``frame.itertuples(index=False, name=None)`` with
``header=list(frame.columns)``; numpy scalars are accepted.
"""

from __future__ import annotations

import csv
import math
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from core.errors import ValidationError

Cell = str | int | float | Decimal | bool | date | datetime | None
"""A value the writers accept (numpy scalars also work at run time)."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP)."""

XLSX_MAX_CELL_CHARS = 32767
"""Longest text an Excel cell holds (Excel specifications and limits)."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """Return ``text`` made safe for a spreadsheet cell.

    Args:
        text: a text cell.

    Returns:
        ``"'" + text`` when ``text`` begins with one of :data:`FORMULA_TRIGGERS` and is not
        a plain decimal number; otherwise ``text`` unchanged.
    """
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        # NaN (float, numpy, Decimal) and pandas NaT are the values unequal to themselves.
        return bool(value != value)
    except TypeError:  # pandas.NA refuses to be a bool
        return type(value).__name__ == "NAType"


def _where(row: int, column: str) -> str:
    return f"row {row}, column {column!r}"


def _normalise(value: object, row: int, column: str) -> Cell:
    """Turn one input cell into a plain Python value, or refuse it."""
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"{_where(row, column)}: infinite number", field=column)
        return value
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValidationError(f"{_where(row, column)}: infinite number", field=column)
        return number
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(
                f"{_where(row, column)}: datetime without a time zone", field=column
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    raise ValidationError(
        f"{_where(row, column)}: cannot export a {type(value).__name__}", field=column
    )


def _normalised_rows(
    header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Iterable[list[Cell]]:
    """Yield every data row, checked and normalised (1-based row numbers in messages)."""
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise ValidationError(
                f"row {number}: {len(row)} cells, the header has {len(header)}", field="rows"
            )
        yield [_normalise(value, number, name) for value, name in zip(row, header, strict=True)]


def _write_then_rename(path: Path, write: Callable[[Path], int]) -> int:
    """Run ``write`` on a temporary file beside ``path``, then move it into place.

    A refused row thus leaves no half-written export behind.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        count = write(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):  # datetime included, already in UTC
        return value.isoformat()
    return str(value)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> int:
    """Write an open-data CSV file.

    Args:
        path: the file to create (replaced if it exists).
        header: column names.
        rows: data rows, each as long as ``header``.

    Returns:
        The number of data rows written.

    Format: UTF-8 with a byte-order mark (so spreadsheets pick the right encoding), ``,``
    separated, CRLF line ends and minimal quoting (RFC 4180); booleans as ``true`` /
    ``false``, dates and datetimes in ISO 8601; cells neutralised as the module says.

    Raises:
        ValidationError: a row of the wrong length, a naive datetime, an infinite number,
            or a value of another type (``field`` = the column, or ``"rows"``). Nothing is
            written then (the file is built beside ``path`` and moved into place).
    """

    def write(target: Path) -> int:
        written = 0
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow([neutralise(str(name)) for name in header])
            for values in _normalised_rows(header, rows):
                writer.writerow([_csv_text(value) for value in values])
                written += 1
        return written

    return _write_then_rename(path, write)


def _xlsx_value(value: Cell, row: int, column: str) -> Cell:
    if isinstance(value, str):
        # Control characters are not allowed in XLSX XML; removing one may expose a
        # trigger character, so neutralise again.
        value = neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
        if len(value) > XLSX_MAX_CELL_CHARS:
            raise ValidationError(
                f"{_where(row, column)}: {len(value)} characters, an XLSX cell holds at most "
                f"{XLSX_MAX_CELL_CHARS}",
                field=column,
            )
    elif isinstance(value, datetime):
        return value.replace(tzinfo=None)  # already UTC; Excel has no time zones
    return value


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    sheet_name: str = "data",
) -> int:
    """Write the same rows as :func:`write_csv` to a one-sheet XLSX workbook (openpyxl).

    Numbers, booleans, dates and datetimes keep their spreadsheet types; text cells are
    neutralised exactly as in CSV and stripped of the control characters XLSX cannot hold.
    Datetimes are the UTC wall time.

    Args:
        path: the file to create (replaced if it exists).
        header: column names (first row).
        rows: data rows, each as long as ``header``.
        sheet_name: worksheet title (at most 31 characters, no ``[]:*?/\\``).

    Returns:
        The number of data rows written.

    Raises:
        ValidationError: as :func:`write_csv`, and a text longer than 32767 characters.
    """

    def write(target: Path) -> int:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=sheet_name)
        sheet.append([_xlsx_value(neutralise(str(name)), 0, name) for name in header])
        written = 0
        try:
            for values in _normalised_rows(header, rows):
                written += 1
                sheet.append(
                    [_xlsx_value(v, written, name) for v, name in zip(values, header, strict=True)]
                )
        except ValidationError:
            sheet.close()  # end openpyxl's streamed sheet cleanly; the file is discarded
            raise
        workbook.save(target)
        return written

    return _write_then_rename(path, write)


__all__ = [
    "FORMULA_TRIGGERS",
    "XLSX_MAX_CELL_CHARS",
    "Cell",
    "neutralise",
    "write_csv",
    "write_xlsx",
]
