"""Small building blocks shared by the pages: safe text, alerts, a pager, the style sheets.

**User text** (titles, descriptions, comments, names, anything a person typed) is only ever
shown through :func:`text` / :func:`title` — ``html.escape`` inside ``st.html`` in an element
with ``dir="auto"`` so each item takes the direction of its own first strong character — or
``st.text``. Never through ``st.markdown``, ``st.caption``, ``st.error``/``st.success`` or a
widget label: those render Markdown (remote images, links, headings, LaTeX). Error messages
of the services can quote user input, so :func:`alert` escapes them too.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import streamlit as st

from core.errors import CivicFlowError
from participation_app import calendars, i18n, state

CSS_DIR: Final = Path(__file__).resolve().parent / "css"
PAGE_SIZES: Final = (10, 25, 50)
# Bidi controls (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) let one comment flip the
# direction of the text after it; they are dropped before display.
_BIDI_CONTROLS: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")


def tr(key: str, **values: object) -> str:
    """Translate ``key`` into the session's language (see :func:`i18n.t`)."""
    return i18n.t(state.lang(), key, **values)


def labels(options: Iterable[Any], word: Callable[[Any], str]) -> Callable[[Any], str]:
    """A ``format_func`` for a widget: each option's label, worked out now.

    The labels are fixed while the page runs (AppTest formats values outside the page's
    run, where the session's language is not known).
    """
    table = {option: word(option) for option in options}
    return lambda option: table.get(option, str(option))


def num(value: float) -> str:
    """A number in the session's digits."""
    return i18n.num(value, state.lang())


def when(value: datetime, time_zone: str) -> str:
    """An instant in ``time_zone``, in the session's calendar and digits (:func:`i18n.when`)."""
    return i18n.when(value, time_zone, state.lang(), calendar=state.calendar())


def day(value: date, calendar: str | None = None) -> str:
    """A date in ``calendar`` (default: the session's) in the session's digits.

    ``date(2026, 3, 21)`` → ``2026-03-21`` (Gregorian) or ``۱۴۰۵/۰۱/۰۱`` (Solar Hijri, fa).
    """
    shown = calendars.format_date(value, calendar or state.calendar())
    return i18n.digits(shown, state.lang())


def inject_css() -> None:
    """Add the app's style sheet, and the right-to-left one when the language is Persian."""
    css = (CSS_DIR / "base.css").read_text(encoding="utf-8")
    if state.lang() == "fa":
        css += "\n" + (CSS_DIR / "rtl.css").read_text(encoding="utf-8")
    st.html(f"<style>{css}</style>")


def clean(value: str) -> str:
    """Drop bidi override characters from user text (they can disguise what follows)."""
    return _BIDI_CONTROLS.sub("", value)


def escaped(value: object) -> str:
    """User text made safe to place inside HTML (after :func:`clean`)."""
    return html.escape(clean(str(value)), quote=True)


def text(value: object, *, cls: str = "cf-text") -> None:
    """Show user text as text in its own direction (``dir="auto"``), keeping line breaks."""
    body = str(value)
    if not body.strip():
        return
    st.html(f'<div class="{cls}" dir="auto">{escaped(body)}</div>')


def title(value: object, *, level: int = 3) -> None:
    """Show a user-written title (a consultation's or a proposal's) as a heading, escaped."""
    tag = f"h{min(max(level, 2), 5)}"
    st.html(f'<{tag} class="cf-title" dir="auto">{escaped(value)}</{tag}>')


def page_dir() -> str:
    """``rtl`` for Persian, ``ltr`` for English: the direction of lines the app composes."""
    return "rtl" if state.lang() == "fa" else "ltr"


def meta_html(*parts: str) -> str:
    """HTML of a line of small grey facts: each part escaped and isolated in ``<bdi>`` (so a
    Latin name or a date does not reorder its Persian neighbours), joined with ' · '."""
    return " · ".join(f"<bdi>{escaped(p)}</bdi>" for p in parts if p)


def meta(*parts: str) -> None:
    """Show a line of small grey facts in the page's direction (see :func:`meta_html`)."""
    shown = meta_html(*parts)
    if shown:
        st.html(f'<div class="cf-meta" dir="{page_dir()}">{shown}</div>')


def badge(label: str, kind: str = "neutral") -> str:
    """HTML of a small coloured label (``label`` is escaped); combine with :func:`row`."""
    return f'<bdi class="cf-badge cf-badge-{escaped(kind)}">{escaped(label)}</bdi>'


def row(*html_parts: str) -> None:
    """Show pre-escaped HTML parts (from :func:`badge`) on one line."""
    st.html(f'<div class="cf-row" dir="{page_dir()}">{" ".join(html_parts)}</div>')


def alert(kind: str, message: str) -> None:
    """Show a message box; ``kind`` is ``success``, ``info``, ``warning`` or ``error``.

    The message is escaped, so a service message that quotes user input stays text.
    """
    st.html(
        f'<div class="cf-alert cf-alert-{escaped(kind)}" role="alert" dir="{page_dir()}">'
        f"{escaped(message)}</div>"
    )


def error(exc: CivicFlowError) -> None:
    """Show a service's refusal: a translated lead, then the service's own words."""
    name = type(exc).__name__
    lead = tr(f"err.{name}" if name in _ERRORS else "err.CivicFlowError")
    alert("error", f"{lead}: {exc}")


_ERRORS: Final = frozenset({"NotAllowed", "NotFound", "Conflict", "ValidationError"})


def flash(kind: str, message: str) -> None:
    """Keep a message to show after the next rerun (a write is followed by ``st.rerun``)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
    """Show and forget the messages kept by :func:`flash`."""
    for kind, message in st.session_state.pop("_flash", []):
        alert(kind, message)


def pager(key: str, total: int, *, default_size: int = 10) -> tuple[int, int]:
    """Show previous/next buttons for a list of ``total`` items; return ``(offset, limit)``.

    The current page lives in ``st.session_state[key]``; the page size in ``key + ':size'``.
    Nothing is shown when everything fits on one page.
    """
    size = int(st.session_state.get(f"{key}:size", default_size))
    pages = max(1, math.ceil(total / size))
    page = min(max(int(st.session_state.get(key, 1)), 1), pages)
    st.session_state[key] = page
    if total > min(PAGE_SIZES):
        cols = st.columns([1, 3, 1, 1], vertical_alignment="center")
        if cols[0].button(tr("pager.prev"), key=f"{key}:prev", disabled=page <= 1):
            st.session_state[key] = page - 1
            st.rerun()
        with cols[1]:
            st.text(tr("pager.page", page=page, pages=pages, total=total))
        if cols[2].button(tr("pager.next"), key=f"{key}:next", disabled=page >= pages):
            st.session_state[key] = page + 1
            st.rerun()
        cols[3].selectbox(
            tr("pager.size"),
            PAGE_SIZES,
            index=PAGE_SIZES.index(size) if size in PAGE_SIZES else 0,
            key=f"{key}:size",
            label_visibility="collapsed",
            format_func=labels(PAGE_SIZES, num),
        )
    return (page - 1) * size, size
