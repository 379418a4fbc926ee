"""The governance report as a print-quality A4 PDF (fpdf2, pure Python, no system libraries).

Layout: a title block (title, period, as-of, input digest), headline figures as cards
(three per row, each with its n), the charts as 150 dpi PNG images, every table with a
repeated header row, the notes, and a footer on every page with the page number and the
input digest. Fonts: DejaVu Sans as shipped inside matplotlib, embedded and subset, so the
file renders the same everywhere (½, Σ, en dashes, Persian letters).

Reproducible: the creation date is the data's ``as_of`` and fpdf2 derives the file ``/ID``
from the content, so the same data gives the same bytes.

Persian (``locale="fa"``): the page runs right to left with shaped text when the optional
``uharfbuzz`` package is installed (fpdf2's text shaping); without it the fixed texts stay
English so no unshaped Persian is printed.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import matplotlib as mpl
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from reports.render import LABELS, column_heading, format_cell
from reports.schemas import Figure, ReportData
from reports.scorecard import format_value

__all__ = ["render_pdf"]

_FONT_DIR = Path(mpl.get_data_path()) / "fonts" / "ttf"
_ACCENT = (31, 95, 139)
_MUTED = (91, 101, 115)
_SOFT = (243, 246, 249)
_NUMERIC = frozenset({"count", "n", "share", "score", "nps", "index", "balance", "days", "pp"})


class _Doc(FPDF):
    digest: str = ""
    footer_text: str = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.set_text_color(*_MUTED)
        self.cell(0, 4, f"{self.footer_text} · page {self.page_no()}/{{nb}}",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
        self.cell(0, 4, f"input digest (SHA-256) {self.digest}")


def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False
    return True


def render_pdf(data: ReportData, *, charts: dict[str, bytes], locale: str = "en") -> bytes:
    """Render the report as A4 PDF bytes.

    Args:
        data: the report data.
        charts: chart key → PNG bytes (:func:`reports.charts.render_chart`).
        locale: ``en`` or ``fa``.

    Returns:
        The PDF file's bytes, identical for identical input.
    """
    rtl = locale.split("-")[0].split("_")[0].lower() == "fa" and _shaping_available()
    labels = LABELS["fa" if rtl else "en"]
    digest = data.digest()
    as_of = datetime.fromisoformat(data.as_of).astimezone(UTC)

    pdf = _Doc(orientation="portrait", unit="mm", format="A4")
    pdf.digest = digest
    pdf.footer_text = f"CivicFlow · {data.slug} · {as_of:%Y-%m-%d %H:%M} UTC"
    pdf.set_creation_date(as_of)
    pdf.set_title(data.title)
    pdf.set_author("CivicFlow")
    pdf.set_creator("CivicFlow")
    pdf.set_subject(f"{labels['report']}: {data.title}")
    pdf.set_keywords(f"input_digest:{digest}")
    pdf.set_lang("fa" if rtl else "en")
    pdf.add_font("DejaVu", "", str(_FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(_FONT_DIR / "DejaVuSans-Oblique.ttf"))
    if rtl:
        pdf.set_text_shaping(use_shaping_engine=True, direction="rtl")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    width = pdf.epw

    # --- title block
    pdf.set_font("DejaVu", "B", 8.5)
    pdf.set_text_color(*_ACCENT)
    pdf.cell(0, 5, f"{labels['report']} · {labels[data.subject]}".upper(),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.set_text_color(29, 36, 48)
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(0, 8.5, data.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 8.5)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(0, 4.5, f"{labels['period']}: {data.period} · {labels['as_of']}: "
                   f"{as_of:%Y-%m-%d %H:%M} UTC · {data.slug}", align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.set_font("DejaVu", "", 7)
    pdf.cell(0, 4.5, f"{labels['digest']}: {digest}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_ACCENT)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 1.5, pdf.l_margin + width, pdf.get_y() + 1.5)
    pdf.ln(5)

    # --- headline figures
    _section(pdf, labels["headline"])
    gap, cols, card_h = 3.0, 3, 25.0
    card_w = (width - gap * (cols - 1)) / cols
    row_y = pdf.get_y()
    for i, fig in enumerate(data.figures):
        if i % cols == 0:
            if i:
                row_y += card_h + gap
            if row_y + card_h > pdf.h - pdf.b_margin:
                pdf.add_page()
                row_y = pdf.get_y()
        x = pdf.l_margin + (i % cols) * (card_w + gap)
        _card(pdf, fig, labels, x, row_y, card_w, card_h)
    if data.figures:
        pdf.set_xy(pdf.l_margin, row_y + card_h + gap)

    # --- charts
    if charts:
        _section(pdf, labels["charts"], keep=90)
    for chart in data.charts:
        png = charts.get(chart.key)
        if png is None:
            continue
        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:
            w_px, h_px = img.size
        img_w = width * 0.92
        img_h = img_w * h_px / w_px
        if pdf.get_y() + img_h > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=pdf.l_margin, w=img_w, h=img_h)
        pdf.ln(3)

    # --- tables
    _section(pdf, labels["tables"])
    pdf.set_font("DejaVu", "I", 7.5)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(0, 4, labels["legend"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    for table in data.tables:
        if pdf.get_y() > pdf.h - pdf.b_margin - 30:
            pdf.add_page()
        pdf.set_font("DejaVu", "B", 10)
        pdf.set_text_color(29, 36, 48)
        pdf.multi_cell(0, 5.5, table.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.5)
        texts = [[format_cell(v, u) for v, u in zip(row, table.units, strict=True)]
                 for row in table.rows]  # fmt: skip
        headings = [column_heading(c) for c in table.columns]
        widths = []
        for j, head in enumerate(headings):
            longest = max([len(head) * 0.8, *(len(r[j]) for r in texts)], default=4)
            widths.append(min(max(longest, 5.0), 48.0))
        pdf.set_font("DejaVu", "", 7.5)
        align = tuple("RIGHT" if u in _NUMERIC else "LEFT" for u in table.units)
        with pdf.table(
            col_widths=tuple(widths),
            text_align=align,
            line_height=4.2,
            headings_style=FontFace(emphasis="BOLD", fill_color=_SOFT),
            borders_layout="HORIZONTAL_LINES",
            padding=0.8,
            width=width,
        ) as t:
            row = t.row()
            for head in headings:
                row.cell(head)
            for cells in texts or [[labels["no_rows"], *([""] * (len(headings) - 1))]]:
                row = t.row()
                for cell in cells:
                    row.cell(cell)
        if table.note:
            pdf.set_font("DejaVu", "I", 7)
            pdf.set_text_color(*_MUTED)
            pdf.multi_cell(0, 3.6, table.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    # --- notes
    if data.notes:
        _section(pdf, labels["notes"])
        pdf.set_font("DejaVu", "", 8)
        pdf.set_text_color(29, 36, 48)
        for i, note in enumerate(data.notes, start=1):
            pdf.multi_cell(0, 4.2, f"{i}. {note}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(0.8)
    return bytes(pdf.output())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _card(
    pdf: FPDF, fig: Figure, labels: dict[str, str], x: float, y: float, w: float, h: float
) -> None:
    """One headline figure: label, value, n (and interval), note."""
    pdf.set_fill_color(*_SOFT)
    pdf.rect(x, y, w, h, style="F")
    pdf.set_xy(x + 2.5, y + 2)
    pdf.set_font("DejaVu", "", 7.5)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(w - 5, 3.4, _clip(fig.label, 70), align="L", max_line_height=3.4)
    pdf.set_xy(x + 2.5, y + 10)
    pdf.set_font("DejaVu", "B", 14 if not fig.suppressed else 10)
    if fig.suppressed:
        pdf.set_text_color(*_MUTED)
    else:
        pdf.set_text_color(29, 36, 48)
    value = labels["suppressed"] if fig.suppressed else format_value(fig.value, fig.unit)
    pdf.cell(w - 5, 6.5, value)
    pdf.set_xy(x + 2.5, y + 17)
    pdf.set_font("DejaVu", "", 7)
    pdf.set_text_color(*_MUTED)
    n_text = labels["n_suppressed"] if fig.n is None else f"n = {fig.n:,}"
    if fig.ci is not None:
        n_text += (f" · 95 % CI {format_value(fig.ci[0], fig.unit)} to "
                   f"{format_value(fig.ci[1], fig.unit)}")  # fmt: skip
    pdf.cell(w - 5, 3.5, n_text)
    if fig.note:
        pdf.set_xy(x + 2.5, y + 20.5)
        pdf.set_font("DejaVu", "", 6.5)
        pdf.cell(w - 5, 3.2, _clip(fig.note, 62))


def _section(pdf: FPDF, title: str, *, keep: float = 25) -> None:
    if pdf.get_y() > pdf.h - pdf.b_margin - keep:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 12)
    pdf.set_text_color(*_ACCENT)
    pdf.cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(217, 222, 229)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(2.5)
