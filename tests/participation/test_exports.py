"""Open-data CSV / XLSX exports: BOM, formula neutralisation that spares numbers."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from core.errors import ValidationError
from participation.exports import neutralise, write_csv, write_xlsx

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"
    )
)
OPEN311 = REALDATA / "open311" / "NYC_20190522.csv"

HEADER = ["name", "formula", "longitude", "longitude_text", "count", "when", "day", "flag"]
ROWS = [
    [
        "Plaza",
        "=SUM(A1)",
        -73.98,
        "-73.98",
        3,
        datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
        date(2024, 5, 1),
        True,
    ],
    ["Ñandú ’quoted, text’", "@cmd", Decimal("1.50"), "+1-1", None, None, None, False],
]


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-73.98", "-73.98"),
        ("+34", "+34"),
        ("-1.5e3", "-1.5e3"),
        ("-.5", "-.5"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_csv_has_bom_crlf_and_neutralised_cells(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"

    written = write_csv(path, HEADER, ROWS)

    raw = path.read_bytes()
    assert written == 2
    assert raw.startswith(b"\xef\xbb\xbfname,formula,")
    assert raw.count(b"\r\n") == 3
    assert _read_csv(path) == [
        HEADER,
        [
            "Plaza",
            "'=SUM(A1)",
            "-73.98",
            "-73.98",
            "3",
            "2024-05-01T12:30:00+00:00",
            "2024-05-01",
            "true",
        ],
        ["Ñandú ’quoted, text’", "'@cmd", "1.50", "'+1-1", "", "", "", "false"],
    ]


def test_xlsx_reads_back_with_types_and_neutralised_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"

    written = write_xlsx(path, HEADER, ROWS, sheet_name="proposals")

    sheet = openpyxl.load_workbook(path)["proposals"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert written == 2
    assert rows[0] == HEADER
    assert rows[1] == [
        "Plaza",
        "'=SUM(A1)",
        -73.98,
        "-73.98",
        3,
        datetime(2024, 5, 1, 12, 30),  # UTC wall time
        datetime(2024, 5, 1),
        True,
    ]
    assert rows[2] == ["Ñandú ’quoted, text’", "'@cmd", 1.5, "'+1-1", None, None, None, False]
    assert sheet["B2"].data_type == "s"  # text, not a formula


def test_xlsx_strips_control_characters_then_neutralises(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"

    write_xlsx(path, ["a"], [["\x01=HYPERLINK(1)"], ["a\x00b"]])

    sheet = openpyxl.load_workbook(path).active
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == ["'=HYPERLINK(1)", "ab"]


@pytest.mark.parametrize("writer", [write_csv, write_xlsx])
def test_bad_rows_are_refused_and_leave_no_file(writer, tmp_path: Path) -> None:
    path = tmp_path / "out"

    with pytest.raises(ValidationError, match="row 2: 1 cells, the header has 2") as caught:
        writer(path, ["a", "b"], [[1, 2], [1]])

    assert caught.value.field == "rows"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2024, 1, 1), "datetime without a time zone"),
        (float("inf"), "infinite number"),
        (object(), "cannot export a object"),
    ],
)
def test_bad_cells_are_refused_with_row_and_column(
    value: object, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=rf"row 1, column 'when': {message}") as caught:
        write_csv(tmp_path / "out.csv", ["when"], [[value]])

    assert caught.value.field == "when"


def test_nan_is_an_empty_cell(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"

    write_csv(path, ["x"], [[float("nan")]])

    assert _read_csv(path) == [["x"], [""]]


@pytest.mark.skipif(not OPEN311.is_file(), reason=f"no shared data at {OPEN311}")
def test_open311_negative_longitudes_survive_and_only_text_is_neutralised(tmp_path: Path) -> None:
    with OPEN311.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    longitude = header.index("Longitude")

    def is_number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    dash_text = [c for row in rows for c in row if c.startswith("-") and not is_number(c)]

    write_csv(tmp_path / "nyc.csv", header, rows)

    _, *exported = _read_csv(tmp_path / "nyc.csv")
    changed = [
        (before, after)
        for row, out in zip(rows, exported, strict=True)
        for before, after in zip(row, out, strict=True)
        if before != after
    ]
    assert sum(row[longitude].startswith("-") for row in rows) == 8737
    assert [row[longitude] for row in exported] == [row[longitude] for row in rows]
    assert [before for before, _ in changed] == dash_text
    assert len(changed) == 5  # addresses such as "-999 Bronx Park Ave E"
    assert all(after == "'" + before for before, after in changed)
