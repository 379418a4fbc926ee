"""The governance report of a consultation on screen (:mod:`reports`): headline figures
with their n, the report's charts and tables, and its files (HTML, PDF, spreadsheets) to
download.

Figures and tables come from :func:`reports.metrics.consultation_metrics` (cells under 5
people are already suppressed there); the files from :func:`reports.render.build_report`,
which writes them into ``settings.app.report_dir``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import CivicFlowError
from core.settings import get_settings
from participation.queries_consultations import ConsultationView
from participation_app import calendars, i18n, state, ui
from participation_app.ui import tr
from reports.metrics import consultation_metrics
from reports.render import build_report, column_heading, format_cell

TOP_BARS = 30
"""Bars drawn per chart (a results table may list thousands of proposals)."""
_DOWNLOADS = (("html", "text/html", "report.download_html"),
              ("pdf", "application/pdf", "report.download_pdf"),
              ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "report.download_xlsx"))  # fmt: skip


def render(view: ConsultationView) -> None:
    """Draw the report's figures, charts and tables."""
    lang = state.lang()
    with state.db() as s:
        data = consultation_metrics(s, consultation_id=view.id)
    st.header(tr("report.title"))
    period = calendars.iso_dates_in(data.period, state.calendar())
    ui.meta(tr("report.period", period=i18n.digits(period, lang)))
    cards = []
    for fig in data.figures:
        value = i18n.digits(format_cell(fig.value, fig.unit), lang)
        n = tr("report.n_suppressed") if fig.n is None else tr("report.n", n=fig.n)
        cards.append(
            f'<div class="cf-figure"><div class="cf-meta">{ui.escaped(fig.label)}</div>'
            f'<div class="cf-figure-value">{ui.escaped(value)}</div>'
            f'<div class="cf-meta">{ui.escaped(n)}</div></div>'
        )
    st.html(f'<div class="cf-figures" dir="auto">{"".join(cards)}</div>')
    for chart in data.charts:
        table = data.table(chart.table)
        pairs = [
            (str(label), float(value))
            for label, value in zip(
                table.column(chart.label_column), table.column(chart.value_column), strict=True
            )
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        if not pairs:
            continue
        pairs = sorted(pairs, key=lambda p: -p[1])[:TOP_BARS]
        ui.title(chart.title, level=4)
        frame = pd.DataFrame({"label": [p[0][:50] for p in pairs], "value": [p[1] for p in pairs]})
        st.bar_chart(
            frame, x="label", y="value", horizontal=True, sort=False, x_label="", y_label=""
        )
    for table in data.tables:
        ui.title(table.title, level=4)
        if table.note:
            ui.meta(table.note)
        frame = pd.DataFrame(
            [
                [format_cell(c, u) for c, u in zip(row, table.units, strict=True)]
                for row in table.rows
            ],
            columns=[column_heading(c) for c in table.columns],
        )
        st.dataframe(
            frame, hide_index=True, width="stretch", height=min(38 * (len(frame) + 1), 400)
        )


def files(view: ConsultationView) -> Path | None:
    """Offer to write the report's files; show download buttons once they exist.

    Returns:
        the folder written, or None when nothing was built in this session.
    """
    key = f"report_files:{view.id}"
    if st.button(tr("report.build"), key=f"build-report:{view.id}"):
        folder = Path(get_settings().app.report_dir) / view.slug
        try:
            with st.status(tr("report.building"), expanded=False) as box, state.db() as s:
                built = build_report(
                    s, consultation_id=view.id, out_dir=folder, locale=state.lang()
                )
                box.update(label=tr("report.built"), state="complete")
        except CivicFlowError as exc:
            ui.error(exc)
        else:
            st.session_state[key] = {k: str(p) for k, p in built.files.items()}
    written: dict[str, str] = st.session_state.get(key) or {}
    cols = st.columns(len(_DOWNLOADS))
    for col, (fmt, mime, label) in zip(cols, _DOWNLOADS, strict=True):
        path = written.get(fmt)
        if path and Path(path).is_file():
            col.download_button(
                tr(label),
                Path(path).read_bytes(),
                file_name=Path(path).name,
                mime=mime,
                key=f"dl:{view.id}:{fmt}",
            )
    first = next(iter(written.values()), None)
    return Path(first).parent if first else None
