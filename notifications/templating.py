"""Render a notification (email subject, text and HTML bodies, SMS text) from its templates.

Templates live in ``notifications/templates/<message>/<locale>/`` as ``subject.txt``,
``body.txt``, ``body.html`` and ``sms.txt`` (Jinja2). ``.html`` files are autoescaped, so
values from the context (names, titles, council answers) can never inject markup; ``.txt``
files are plain text and are not escaped. Every template runs with ``StrictUndefined``: a
missing context value is an error, never an empty string.

Context each message expects (all values already formatted for the locale and the
consultation's time zone, e.g. ``closes_at="Friday 12 July, 18:00"``):

=====================  ==============================================================
message                keys
=====================  ==============================================================
every message          ``citizen_name``, ``organization``, ``unsubscribe_url``
``invitation``         ``consultation_title``, ``consultation_url``, ``closes_at``
``reminder``           ``consultation_title``, ``consultation_url``, ``closes_at``
``results``            ``consultation_title``, ``results_url``, ``proposals``: a list of
                       mappings with ``title``, ``result`` (a formatted tally line),
                       ``status`` (``accepted`` / ``rejected`` / ``answered`` / …) and
                       ``answer`` (the council's answer, or ``None`` if not yet given)
``survey_invitation``  ``survey_title``, ``survey_url``, ``closes_at``
``signin_code``        ``code`` (ASCII digits), ``minutes_valid`` (int)
=====================  ==============================================================

Each locale has its own layout under ``templates/_shared/<locale>/``: the Persian one is
``<html dir="rtl" lang="fa">`` and wraps names and titles in ``<bdi>`` so mixed-direction
text stays readable. Numbers the templates print themselves (list numbers, minutes) are
written with Persian digits in Persian; sign-in codes stay in ASCII digits so phones can
offer to fill them in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2

from core.errors import ValidationError

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "MESSAGES",
    "RenderedMessage",
    "render_message",
    "resolve_locale",
]

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
MESSAGES: Final = ("invitation", "reminder", "results", "survey_invitation", "signin_code")
LOCALES: Final = ("en", "fa")
DEFAULT_LOCALE: Final = "en"

_PERSIAN_DIGITS: Final = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_WHITESPACE: Final = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message rendered for one recipient.

    Attributes:
        subject: email subject, one line (runs of whitespace, incl. newlines, collapsed).
        text: plain-text email body.
        html: HTML email body, a full document with ``lang`` and ``dir`` on ``<html>``.
        sms: SMS text (check its length with :func:`notifications.sms.check_sms_length`).
    """

    subject: str
    text: str
    html: str
    sms: str


def fa_digits(value: object) -> str:
    """Jinja filter ``fa_digits``: write the ASCII digits of ``value`` as Persian digits."""
    return str(value).translate(_PERSIAN_DIGITS)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["fa_digits"] = fa_digits
    return env


def resolve_locale(locale: str | None) -> str:
    """Map a locale tag to one the templates have: ``"fa-IR"`` → ``"fa"``, unknown → ``"en"``.

    Args:
        locale: a BCP 47 / POSIX tag such as ``"fa"``, ``"fa-IR"``, ``"en_GB"``, or None.

    Returns:
        One of :data:`LOCALES`.
    """
    primary = re.split(r"[-_]", (locale or "").strip().lower(), maxsplit=1)[0]
    return primary if primary in LOCALES else DEFAULT_LOCALE


def render_message(
    message: str, locale: str | None, context: Mapping[str, object]
) -> RenderedMessage:
    """Render the four parts of ``message`` in ``locale``.

    Args:
        message: one of :data:`MESSAGES`.
        locale: the citizen's locale; a tag the templates lack falls back to English.
        context: the values the message's templates use (see the module docstring). Values
            are inserted as given; in HTML they are escaped.

    Returns:
        A :class:`RenderedMessage`.

    Raises:
        ValidationError: (field ``message``) the message is unknown; (field ``context``) a
            value the templates need is missing, or ``unsubscribe_url`` is empty.
    """
    if message not in MESSAGES:
        raise ValidationError(f"unknown message {message!r}", field="message")
    if not context.get("unsubscribe_url"):
        raise ValidationError("unsubscribe_url is required for every email", field="context")
    lang = resolve_locale(locale)
    env = _environment()

    def render(part: str) -> str:
        try:
            return env.get_template(f"{message}/{lang}/{part}").render(context).strip()
        except jinja2.UndefinedError as exc:
            raise ValidationError(
                f"{message}/{lang}/{part}: {exc.message}", field="context"
            ) from exc

    return RenderedMessage(
        subject=_WHITESPACE.sub(" ", render("subject.txt")),
        text=render("body.txt") + "\n",
        html=render("body.html") + "\n",
        sms=render("sms.txt"),
    )
