"""Static, reproducible bar charts of report tables (matplotlib, no network, no pyplot).

Each :class:`reports.schemas.Chart` is drawn as a horizontal bar chart: one bar per table
row, the value printed at the bar's end with the row's n, a suppressed cell drawn as an
empty slot labelled ``suppressed (n < 5)``. Output is byte-identical for the same input:
SVG with ``svg.hashsalt`` fixed and no ``Date`` metadata; PNG with no ``Software``
metadata. Text is converted to paths in SVG, so no user text is ever interpreted by the
browser (and the HTML embeds the SVG as an ``<img>`` anyway). Fonts: DejaVu Sans, which
matplotlib ships.

Limitation: matplotlib does not shape Arabic script, so Persian labels in charts are drawn
unjoined; tables and text in the HTML and PDF are unaffected.
"""

from __future__ import annotations

import io
import math
from typing import Any, Literal

import matplotlib as mpl
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from reports.schemas import Cell, Chart, Table

__all__ = ["ACCENT", "render_chart"]

ACCENT = "#1f5f8b"
"""Bar colour (a blue with 7:1 contrast on white)."""

_RC: dict[str, Any] = {
    "svg.hashsalt": "civicflow-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.titleweight": "bold",
    "axes.titlesize": 11,
    "axes.titlelocation": "left",
}
_MAX_LABEL = 44


def _label(cell: Cell) -> str:
    text = "" if cell is None else str(cell).replace("_", " ")
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _fmt(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "nps":
        return f"{value:+.0f}"
    return f"{value:.1f}"


def _limits(unit: str, values: list[float]) -> tuple[float, float]:
    if unit == "share":
        return 0.0, 1.0
    if unit == "score":
        return 0.0, 100.0
    if unit == "nps":
        return -100.0, 100.0
    top = max([v for v in values if v > 0], default=1.0)
    return 0.0, top * 1.18


def render_chart(
    chart: Chart, table: Table, *, fmt: Literal["svg", "png"], dpi: int = 200
) -> bytes:
    """Draw ``chart`` from ``table``.

    Args:
        chart: which columns to draw, the unit and title.
        table: the table named by ``chart.table``.
        fmt: ``svg`` (for HTML) or ``png`` (for the PDF).
        dpi: resolution of a PNG, dots per inch.

    Returns:
        The image file's bytes, identical for identical input.

    Raises:
        KeyError: a column the chart names is missing from the table.
    """
    labels = [_label(c) for c in table.column(chart.label_column)]
    raw = table.column(chart.value_column)
    values = [float(v) if isinstance(v, int | float) else None for v in raw]
    ns = table.column(chart.n_column) if chart.n_column else [None] * len(values)
    present = [v for v in values if v is not None and math.isfinite(v)]
    low, high = _limits(chart.unit, present)
    rows = max(len(labels), 1)
    with mpl.rc_context(_RC):  # type: ignore[arg-type]  # keys are valid rcParams
        fig = MplFigure(figsize=(7.0, 0.9 + 0.34 * rows), layout="constrained")
        ax = fig.add_subplot()
        ys = list(range(len(labels)))
        ax.barh(
            ys,
            [0.0 if v is None else v for v in values],
            color=ACCENT,
            height=0.62,
        )
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlim(low, high)
        ax.set_title(chart.title)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        unit = chart.unit
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt(x, unit)))
        span = high - low
        for y, v, n in zip(ys, values, ns, strict=True):
            if v is None:
                ax.text(low + span * 0.01, y, "suppressed (n < 5)", va="center",
                        color="#666666", fontstyle="italic")  # fmt: skip
                continue
            text = _fmt(v, unit) + (f"  n={n:,}" if isinstance(n, int) else "")
            anchor = max(v, 0.0) if unit != "nps" else v
            ax.text(anchor + span * 0.01, y, text, va="center", color="#222222")
        if not labels:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="#666666")
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None})
        else:
            fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
