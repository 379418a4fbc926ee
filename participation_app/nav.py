"""Which pages exist for which role (a page a role may not use is not registered at all).

Streamlit's ``st.navigation`` only knows the pages given to it in this run, so a citizen
who types the URL of the moderation page lands on their default page instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from participation_app.state import Role
from participation_app.ui import tr


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One page file of ``app_pages/``.

    Attributes:
        path: the file, relative to ``app.py``. title: message key of its title.
        icon: a Material icon. url: its URL path. hidden: reachable by link only.
    """

    path: str
    title: str
    icon: str
    url: str
    hidden: bool = False


PAGES: Final[dict[str, PageSpec]] = {
    "consultations": PageSpec(
        "app_pages/consultations.py",
        "nav.consultations",
        ":material/how_to_vote:",
        "consultations",
    ),
    "consultation": PageSpec(
        "app_pages/consultation.py",
        "nav.consultation",
        ":material/ballot:",
        "consultation",
        hidden=True,
    ),
    "signin": PageSpec("app_pages/signin.py", "nav.signin", ":material/login:", "signin"),
    "mine": PageSpec("app_pages/my_participation.py", "nav.mine", ":material/history:", "mine"),
    "preferences": PageSpec(
        "app_pages/preferences.py", "nav.preferences", ":material/notifications:", "preferences"
    ),
    "manage": PageSpec("app_pages/manage.py", "nav.manage", ":material/tune:", "manage"),
    "new": PageSpec("app_pages/new_consultation.py", "nav.new", ":material/add_box:", "new"),
    "moderation": PageSpec(
        "app_pages/moderation.py", "nav.moderation", ":material/shield:", "moderation"
    ),
    "offline": PageSpec(
        "app_pages/offline_entry.py", "nav.offline", ":material/contact_phone:", "offline"
    ),
    "council": PageSpec("app_pages/council.py", "nav.council", ":material/gavel:", "council"),
    # the target of the signed link in every email: {app.base_url}/unsubscribe?token=...
    "unsubscribe": PageSpec(
        "app_pages/unsubscribe.py",
        "nav.unsubscribe",
        ":material/unsubscribe:",
        "unsubscribe",
        hidden=True,
    ),
}

_PUBLIC = ("consultations", "consultation", "unsubscribe")
ROLE_PAGES: Final[dict[Role, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "anonymous": (("section.citizen", (*_PUBLIC, "signin")),),
    "citizen": (("section.citizen", (*_PUBLIC, "mine", "preferences")),),
    "organizer": (
        ("section.organizer", ("manage", "new", "moderation", "offline")),
        ("section.citizen", _PUBLIC),
    ),
    "council": (("section.council", ("council",)), ("section.citizen", _PUBLIC)),
    "admin": (
        ("section.organizer", ("manage", "new", "moderation", "offline")),
        ("section.council", ("council",)),
        ("section.citizen", _PUBLIC),
    ),
}
"""The pages of each role by sidebar section; the first page is the role's start page."""


def page_names(role: Role) -> list[str]:
    """The names (keys of :data:`PAGES`) of the pages that exist for ``role``."""
    return [name for _, names in ROLE_PAGES[role] for name in names]


def navigation(role: Role) -> StreamlitPage:
    """Build ``st.navigation`` for ``role`` with translated titles (the first page is default).

    Returns:
        the page to run (``.run()``).
    """
    sections: dict[str, list[StreamlitPage]] = {}
    first = True
    for section, names in ROLE_PAGES[role]:
        pages: list[StreamlitPage] = []
        for name in names:
            spec = PAGES[name]
            pages.append(
                st.Page(
                    spec.path,
                    title=tr(spec.title),
                    icon=spec.icon,
                    url_path=spec.url,
                    default=first,
                    visibility="hidden" if spec.hidden else "visible",
                )
            )
            first = False
        sections[tr(section)] = pages
    return st.navigation(sections)
