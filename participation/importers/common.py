"""Shared helpers of the CSV importers: strict decoding, CSV records with line numbers.

Every refusal is a :class:`core.errors.ValidationError` whose message names the file and,
where it applies, the line (1-based, the physical line where the record starts) and the
column; ``field`` is set to the column at fault.

Quirks handled here because several sources share them (see ``realdata/FORMATS.md``):

- a file that is not in its declared encoding (the Toronto survey is Windows-1252) is
  refused with the byte offset and line of the first bad byte, never decoded with
  replacement characters;
- a web page saved as ``.csv`` (an "Access Denied" page instead of the CONSUL export) is
  refused before any parsing;
- a UTF-8 byte-order mark is tolerated;
- quoted fields may hold newlines (Pol.is comment bodies), so line numbers come from the
  csv reader, not from splitting on ``\\n``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ValidationError

_HTML_STARTS = (b"<!doctype", b"<html")
_INT = re.compile(r"[+-]?\d+")
_SHOWN_VALUE_CHARS = 40
_DIGEST_CHUNK = 1 << 20


def content_digest(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, to recognise a file that was imported before.

    Args:
        path: the file.

    Returns:
        64 lowercase hex digits (``hashlib.sha256`` of the exact bytes, no normalisation: a
        re-saved file with other line ends is a different file).
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_DIGEST_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_text(path: Path, *, encoding: str = "utf-8") -> str:
    """Read a whole text file in its declared encoding, refusing anything else.

    Args:
        path: the file.
        encoding: a Python codec name (``utf-8``, ``cp1252``, ...). For UTF-8 a leading
            byte-order mark is dropped.

    Returns:
        The decoded text with line ends left as they are (``\\r\\n`` stays).

    Raises:
        ValidationError: the file does not exist; it starts like an HTML page
            (``<!DOCTYPE`` or ``<html``, after a BOM and white space); it is not valid in
            ``encoding`` (the message gives the byte offset, 0-based, and the line,
            1-based, of the first bad byte). ``field`` is ``"file"`` or ``"encoding"``.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"{name}: file not found", field="file") from None
    head = raw[:512].removeprefix(codecs.BOM_UTF8).lstrip().lower()
    if head.startswith(_HTML_STARTS):
        raise ValidationError(
            f"{name} is an HTML page, not a data file (a download that returned an error "
            "or login page?)",
            field="file",
        )
    codec = codecs.lookup(encoding).name
    if codec == "utf-8":
        codec = "utf-8-sig"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            f"{name}: not valid {encoding} at byte {exc.start} (line {line}): "
            f"{raw[exc.start : exc.start + 4]!r}; re-save the file as {encoding} or declare "
            "its real encoding",
            field="encoding",
        ) from None


def shown(value: str) -> str:
    """Return ``repr(value)`` cut to a few characters, for error messages.

    Values in refused cells may be personal text; messages show only their start.
    """
    if len(value) <= _SHOWN_VALUE_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_VALUE_CHARS] + "…")


@dataclass(frozen=True)
class CsvRecord:
    """One data record of a CSV file, by column name, with where it came from.

    Attributes:
        source: the file, as shown in messages.
        line: 1-based physical line on which the record starts (the header is line 1).
        values: cell text by column name (exactly the header's columns).
    """

    source: str
    line: int
    values: Mapping[str, str]

    def error(self, column: str, problem: str) -> ValidationError:
        """Return a refusal naming this record's file, line and ``column``."""
        return ValidationError(
            f"{self.source} line {self.line}, column {column!r}: {problem}", field=column
        )

    def text(self, column: str) -> str:
        """Return the cell of ``column`` as written (``""`` when the cell is empty)."""
        return self.values[column]

    def optional_text(self, column: str) -> str | None:
        """Return the cell of ``column``, ``None`` when it is empty or the column is absent."""
        return self.values.get(column) or None

    def integer(self, column: str, *, allowed: Collection[int] | None = None) -> int:
        """Return the cell of ``column`` as an integer.

        Args:
            column: the column name.
            allowed: if given, the only values accepted.

        Raises:
            ValidationError: the cell is empty, not a base-10 integer, or not allowed.
        """
        raw = self.values[column].strip()
        if not _INT.fullmatch(raw):
            raise self.error(column, f"expected an integer, got {shown(self.values[column])}")
        value = int(raw)
        if allowed is not None and value not in allowed:
            raise self.error(
                column, f"expected one of {sorted(allowed)}, got {shown(self.values[column])}"
            )
        return value

    def optional_integer(self, column: str) -> int | None:
        """Like :meth:`integer`, but an empty cell (or absent column) gives ``None``."""
        if not self.values.get(column, "").strip():
            return None
        return self.integer(column)


@dataclass(frozen=True)
class CsvTable:
    """A parsed CSV file: its header and records.

    Attributes:
        source: the file, as shown in messages.
        header: column names in file order.
        records: the data records in file order (blank lines skipped).
    """

    source: str
    header: tuple[str, ...]
    records: tuple[CsvRecord, ...]

    def header_error(self, column: str, problem: str) -> ValidationError:
        """Return a refusal naming this file's header line and ``column``."""
        return ValidationError(f"{self.source} line 1, column {column!r}: {problem}", field=column)


def _rows_with_lines(text: str, source: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line, cells)`` per non-blank record of ``text``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationError(
                f"{source} line {start}: malformed CSV ({exc})", field="file"
            ) from None
        previous_end = reader.line_num
        if row:
            yield start, row


def read_rows(
    path: Path, *, encoding: str = "utf-8", delimiter: str = ","
) -> list[tuple[int, list[str]]]:
    """Read a CSV file without a header (e.g. ``key,value`` lines).

    Args:
        path: the file.
        encoding: the declared encoding, see :func:`read_text`.
        delimiter: one character.

    Returns:
        ``(line, cells)`` per non-blank record, ``line`` being the 1-based physical line
        where the record starts.

    Raises:
        ValidationError: see :func:`read_text`; also malformed quoting.
    """
    return list(_rows_with_lines(read_text(path, encoding=encoding), str(path), delimiter))


def read_csv(
    path: Path,
    *,
    required: Sequence[str],
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> CsvTable:
    """Read a CSV file with a header line, checking its columns and the width of every row.

    Args:
        path: the file.
        required: columns that must be in the header (others are kept too).
        encoding: the declared encoding, see :func:`read_text`.
        delimiter: one character (``,`` or ``;``).

    Returns:
        The header and the records. Quoted fields may span lines.

    Raises:
        ValidationError: see :func:`read_text`; also an empty file, malformed quoting, a
            duplicate or missing column (``field`` = the column), or a record with more or
            fewer cells than the header (``field = "file"``).
    """
    source = str(path)
    text = read_text(path, encoding=encoding)
    rows = _rows_with_lines(text, source, delimiter)
    first = next(rows, None)
    if first is None:
        raise ValidationError(f"{source}: empty file, expected a header line", field="file")
    header = tuple(first[1])
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise ValidationError(f"{source} line 1: column {column!r} appears twice", field=column)
        seen.add(column)
    missing = [column for column in required if column not in seen]
    if missing:
        raise ValidationError(
            f"{source} line 1: missing column(s) {', '.join(map(repr, missing))} "
            f"(found {len(header)} columns: {', '.join(map(repr, header[:12]))}"
            f"{', ...' if len(header) > 12 else ''}; delimiter expected: {delimiter!r})",
            field=missing[0],
        )
    records = []
    for line, cells in rows:
        if len(cells) != len(header):
            raise ValidationError(
                f"{source} line {line}: {len(cells)} cells, the header has {len(header)}",
                field="file",
            )
        records.append(CsvRecord(source, line, dict(zip(header, cells, strict=True))))
    return CsvTable(source, header, tuple(records))
