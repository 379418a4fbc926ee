"""The governance report's data: figures, tables and chart specifications (DESIGN §8).

:class:`ReportData` is everything a report shows, already suppressed (cells counting fewer
than 5 people are None, flagged ``suppressed``), and nothing else: no database ids, no
clock reading, so the same data gives the same canonical JSON on SQLite and PostgreSQL,
and :meth:`ReportData.digest` — the SHA-256 of that JSON — names the inputs of every file
rendered from it.

Units (``unit`` of a figure, ``units`` of a table column):

``count``  people or items (None = a suppressed small cell); ``n``  the n behind a figure
(None = not measured); ``share``  a proportion in [0, 1]; ``score``  0–100;
``nps``  −100 to 100; ``index``  dissimilarity in [0, 1]; ``balance``  in [−1, 1];
``days``  days (86,400 s); ``pp``  difference of two shares in [−1, 1] shown as
percentage points; ``text``  a label (may be user text: always escaped when rendered).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Cell", "Chart", "Figure", "ReportData", "ReportFiles", "Table", "Unit"]

Cell = str | int | float | bool | None
"""A table cell: None = suppressed or not available."""

Unit = Literal["count", "n", "share", "score", "nps", "index", "balance", "days", "pp", "text"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline figure with the n it rests on.

    Attributes:
        key: stable identifier (``turnout``, ``csat`` …).
        label: English label.
        value: the figure in ``unit``; None when suppressed or not measured.
        n: people (or answers) behind it; None when suppressed (fewer than 5).
        unit: see the module docstring.
        suppressed: True when hidden because fewer than 5 people are behind it.
        note: a short qualification shown under the figure.
        ci: 95 % interval ``(low, high)`` in ``unit``, when one is computed.
    """

    key: str
    label: str
    value: float | None
    n: int | None
    unit: Unit
    suppressed: bool = False
    note: str = ""
    ci: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the report (also written as one CSV file and one XLSX sheet).

    Attributes:
        key: identifier, used as the CSV file's stem and the sheet name.
        title: English title.
        columns: column names (snake_case, as in the CSV header).
        units: one :data:`Unit` per column (drives number formatting).
        rows: the rows; None cells are suppressed or not available.
        note: what the table leaves out or how to read it.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    units: tuple[Unit, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""

    def column(self, name: str) -> list[Cell]:
        """Return the cells of column ``name``.

        Raises:
            KeyError: no such column.
        """
        try:
            i = self.columns.index(name)
        except ValueError:
            raise KeyError(name) from None
        return [row[i] for row in self.rows]

    def records(self) -> list[dict[str, Cell]]:
        """Rows as ``{column: cell}`` dicts."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart drawn from a table.

    Attributes:
        key: identifier (the image file's stem).
        title: English title.
        table: key of the :class:`Table` it draws.
        label_column: column giving each bar's label.
        value_column: column giving each bar's length (None cells are drawn as
            "suppressed" with no bar).
        unit: unit of the values (axis formatting and range).
        n_column: column with each bar's n, printed beside it; None for no n.
    """

    key: str
    title: str
    table: str
    label_column: str
    value_column: str
    unit: Unit
    n_column: str | None = None


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything one governance report shows.

    Attributes:
        subject: ``consultation`` or ``survey``.
        slug: the consultation's or survey's slug.
        title: its title (user text).
        period: the period covered, e.g. ``2026-03-02 to 2026-03-16`` (UTC dates).
        as_of: ISO 8601 UTC time of the newest data row read — the report's own date,
            so regenerating from the same data gives the same bytes.
        figures: headline figures, in display order.
        tables: tables, in display order.
        charts: charts, in display order.
        notes: method notes and caveats, shown at the end.
    """

    subject: Literal["consultation", "survey"]
    slug: str
    title: str
    period: str
    as_of: str
    figures: tuple[Figure, ...]
    tables: tuple[Table, ...]
    charts: tuple[Chart, ...]
    notes: tuple[str, ...] = ()

    def figure(self, key: str) -> Figure:
        """Return the figure ``key``.

        Raises:
            KeyError: no such figure.
        """
        for fig in self.figures:
            if fig.key == key:
                return fig
        raise KeyError(key)

    def table(self, key: str) -> Table:
        """Return the table ``key``.

        Raises:
            KeyError: no such table.
        """
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """The data as plain JSON-able values (tuples become lists)."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), allow_nan=False))
        return data

    def canonical_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8, NaN refused (RFC 8785 in spirit;
        floats are Python's shortest round-trip repr)."""
        text = json.dumps(
            asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")

    def digest(self) -> str:
        """SHA-256 hex of :meth:`canonical_json` — the input digest every output carries."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What :func:`reports.render.build_report` wrote.

    Attributes:
        report_id: the ``report`` row (one per subject and input digest).
        input_digest: SHA-256 of the report data's canonical JSON.
        out_dir: the folder written.
        files: format → path (``html``, ``pdf``, ``xlsx``, ``json``); CSV files as
            ``csv:<table key>``.
        created: False when a report row with this digest existed already.
    """

    report_id: int
    input_digest: str
    out_dir: Path
    files: dict[str, Path]
    created: bool
