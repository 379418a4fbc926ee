"""The governance report of the closed consultation against its own SQL queries alone.

CivicFlow's side is :func:`reports.render.build_report` with every format (metrics by SQL
aggregation, SVG and PNG charts, HTML, PDF, CSV, XLSX, JSON, the ``report`` row, commit).
The baseline replays the very ``SELECT`` statements that run issued (captured with
SQLAlchemy's ``before_cursor_execute`` event, parameters included) on the raw DB-API cursor
and fetches every row: the floor no report code can go under. The time spent in those
statements during the build is kept as ``sql_in_build_s``.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from sqlalchemy import event

from bench.harness import Bench, Case, Target, Trial, timed
from core.db import session_scope
from reports.render import FORMATS, build_report


class ReportTrial(Trial):
    """``build_report`` (all formats) vs replaying its SELECTs."""

    unit = "ballots"

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.bench = bench
        self.engine = bench.engine
        self.closed = bench.data.closed
        self.n = self.closed.ballots
        self.facts.update(
            comments=self.closed.comments,
            survey_answers=self.closed.survey_answers,
            sql_in_build_s=[],
        )
        self.statements: list[tuple[str, Any]] = []
        self.formats = bench.scale.report_formats or FORMATS
        self.facts["formats"] = list(self.formats)

    def ours(self) -> float:
        captured: list[tuple[str, Any]] = []
        spent = [0.0]

        def before(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            conn.info["bench_t0"] = time.perf_counter()
            if not executemany and statement.split(None, 1)[0].upper() in ("SELECT", "WITH"):
                captured.append((statement, parameters))

        def after(conn: Any, *_args: Any) -> None:
            spent[0] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

        folder = self.bench.folder("report")
        event.listen(self.engine, "before_cursor_execute", before)
        event.listen(self.engine, "after_cursor_execute", after)
        try:

            def run() -> Any:
                with session_scope(self.engine) as s:
                    return build_report(
                        s, consultation_id=self.closed.id, out_dir=folder, formats=self.formats
                    )

            seconds, files = timed(run)
        finally:
            event.remove(self.engine, "before_cursor_execute", before)
            event.remove(self.engine, "after_cursor_execute", after)
        self.check("json" in files.files, "report files missing")
        shutil.rmtree(folder)
        self.statements = captured
        self.facts["statements"] = len(captured)
        self.facts["sql_in_build_s"].append(round(spent[0], 3))
        return seconds

    def baseline(self) -> float:
        def run() -> int:
            rows = 0
            with self.engine.connect() as conn:
                raw: Any = conn.connection.dbapi_connection
                cursor = raw.cursor()
                try:
                    for statement, parameters in self.statements:
                        cursor.execute(statement, parameters)
                        rows += len(cursor.fetchall())
                finally:
                    cursor.close()
                conn.rollback()
            return rows

        seconds, rows = timed(run)
        self.facts["rows_fetched"] = rows
        return seconds


CASE = Case(
    name="report",
    what="reports.render.build_report, every format, on the closed consultation "
    "(ballots, comments, pulse answers)",
    against="the SELECT statements build_report issued, replayed on the raw DB-API cursor",
    target=Target("≤ 2× its raw SQL and < 10 s", max_ratio=2.0, max_seconds=10.0),
    make=ReportTrial,
)
