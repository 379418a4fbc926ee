"""The citizen page: a signed-in citizen on an open participatory budget with many proposals
and comments (a fifth of them on the first proposal).

The participation app runs with Streamlit's ``AppTest`` (entry script, navigation and
``app_pages/consultation.py``: every query, the budget basket, the first page of proposals),
the server-side time of a page view; the browser's drawing is not included. Each repeat
times three views (the measures of the app engineer's first page benchmark):

* ``with thread`` (the reported median): the page drawn again with the comments of the
  busiest proposal open — what a click in a discussion costs;
* ``rerun_s``: the page drawn again with no thread open;
* ``first_view_s``: a new session opening the page (a new ``AppTest``'s first run of it).

``sql_s`` is the time spent executing SQL during the ``with thread`` view (all engines,
``before/after_cursor_execute``), ``statements`` their number. AppTest scans the installed
packages for Streamlit components before each new app; a browser session never pays that,
so the scan runs once. No baseline.
"""

from __future__ import annotations

import functools
import logging
import os
import statistics
import time
from typing import Any

from sqlalchemy import Engine, event

from bench.harness import ROOT, Bench, Case, Target, Trial, timed

APP = ROOT / "participation_app" / "app.py"
PAGE = "app_pages/consultation.py"


class PageTrial(Trial):
    """AppTest views of the consultation page."""

    unit = "proposals"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        import streamlit as st
        from streamlit.components.v2 import manifest_scanner

        from core.settings import get_settings

        # clearing Streamlit's caches outside a script run logs a harmless warning each time
        for name in (
            "streamlit.runtime.scriptrunner_utils.script_run_context",
            "streamlit.runtime.scriptrunner_utils",
        ):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._scan = manifest_scanner.scan_component_manifests
        manifest_scanner.scan_component_manifests = functools.cache(self._scan)
        self.page = bench.data.page
        self.n = self.page.proposals
        self.facts.update(comments=self.page.comments, first_view_s=[], rerun_s=[], sql_s=[])
        self._env = os.environ.get("CIVICFLOW_DB__URL")
        os.environ["CIVICFLOW_DB__URL"] = bench.url
        get_settings.cache_clear()
        st.cache_resource.clear()
        self.at = self._open()
        self.at.run()
        self._check_page(self.at)
        self.sql = [0.0, 0]
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _open(self) -> Any:
        from streamlit.testing.v1 import AppTest

        from participation.auth import citizen_actor

        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state["actor"] = citizen_actor(self.page.citizen_id)
        at.session_state["display_name"] = "Resident"
        at.query_params["c"] = self.page.slug
        at.run()  # registers the pages (the navigation depends on the signed-in role)
        at.switch_page(PAGE)
        return at

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_page_t0"] = time.perf_counter()

    def _after(self, conn: Any, *_args: Any) -> None:
        start = conn.info.pop("bench_page_t0", None)
        if start is not None:
            self.sql[0] += time.perf_counter() - start
            self.sql[1] += 1

    def _check_page(self, at: Any) -> None:
        if at.exception:
            raise RuntimeError(f"the page failed: {at.exception[0].message}")
        shown = " ".join(str(el.proto.body) for el in at.get("html"))
        self.check("#1 " in shown, "first proposal not on the page")

    def ours(self) -> float:
        key = f"comments_of:{self.page.id}"
        first = self._open()
        seconds, _ = timed(first.run)
        self._check_page(first)
        self.facts["first_view_s"].append(round(seconds, 4))
        self.at.session_state[key] = None
        seconds, _ = timed(self.at.run)
        self.facts["rerun_s"].append(round(seconds, 4))
        self.at.session_state[key] = self.page.first_proposal_id
        self.at.run()  # the thread opens (the button's own rerun)
        self.sql = [0.0, 0]
        seconds, _ = timed(self.at.run)
        self._check_page(self.at)
        self.check(
            any("cf-comment" in str(el.proto.body) for el in self.at.get("html")),
            "no comment drawn in the opened thread",
        )
        self.facts["sql_s"].append(round(self.sql[0], 4))
        self.facts["statements"] = self.sql[1]
        return seconds

    def close(self) -> None:
        import streamlit as st
        from streamlit.components.v2 import manifest_scanner

        from core.settings import get_settings

        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)
        manifest_scanner.scan_component_manifests = self._scan
        if self._env is None:
            os.environ.pop("CIVICFLOW_DB__URL", None)
        else:
            os.environ["CIVICFLOW_DB__URL"] = self._env
        get_settings.cache_clear()
        st.cache_resource.clear()
        for name in ("first_view_s", "rerun_s", "sql_s"):
            runs = self.facts[name]
            self.facts[f"{name[:-2]}_median_s"] = statistics.median(runs) if runs else None


CASE = Case(
    name="page",
    what="participation_app consultation page, AppTest rerun with the busiest thread open "
    "(signed-in citizen, open budget consultation)",
    against=None,
    target=Target("median < 0.3 s", max_seconds=0.3),
    make=PageTrial,
)
