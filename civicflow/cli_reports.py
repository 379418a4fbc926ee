"""CLI commands for surveys and governance reports, registered on :mod:`civicflow.cli`'s app:

- ``civicflow import survey PATH --mapping NAME_OR_PATH [--replace]``
- ``civicflow survey results SLUG [--json]``
- ``civicflow report SLUG [--format html|pdf|csv|xlsx|json ...] --out DIR [--locale en|fa]``

Bad input ends as every command does (one line on stderr, exit 2) and stores nothing: each
command is one transaction, and a report's formats are checked before any file is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from civicflow.cli import OPERATOR, _require_schema, app, console, import_app
from core.db import session_scope
from core.errors import NotFound
from surveys.rules import GroupScore, Score

__all__ = ["survey_app"]

survey_app = typer.Typer(
    help="Surveys: results of imported waves and pulses.", no_args_is_help=True
)
app.add_typer(survey_app, name="survey")


@import_app.command("survey")
def import_survey(
    path: Annotated[Path, typer.Argument(help="The survey export (CSV).")],
    mapping: Annotated[
        str, typer.Option(help="A shipped mapping's name (kansas_city_fy2022) or a TOML path.")
    ],
    replace: Annotated[bool, typer.Option(help="Replace an earlier import of this file.")] = False,
) -> None:
    """Import a resident-survey export as a survey wave."""
    from surveys.service import import_survey_wave

    _require_schema()
    with session_scope() as s:
        out = import_survey_wave(s, path=path, mapping=mapping, actor=OPERATOR, replace=replace)
    verb = "replaced" if out.replaced else "imported"
    typer.echo(
        f"{verb} survey {out.slug}: {out.respondents} respondents, {out.questions} questions, "
        f"{out.answers} answers ({out.rejected_districts} district value(s) not recognised)"
    )


def _score(score: Score | None) -> dict[str, Any] | None:
    if score is None:
        return None
    hidden = score.n < 5
    return {
        "value": None if hidden else score.value,
        "n": None if hidden else score.n,
        "suppressed": hidden,
    }


def _groups(groups: dict[str, GroupScore]) -> dict[str, Any]:
    return {
        str(k): {"value": g.value, "n": None if g.suppressed else g.n, "suppressed": g.suppressed}
        for k, g in groups.items()
    }


@survey_app.command("results")
def survey_results_command(
    slug: Annotated[str, typer.Argument(help="The survey's slug.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a survey's scores: CSAT, NPS, CMT drivers, by channel and district (n < 5
    suppressed)."""
    from surveys.service import get_survey, survey_results

    _require_schema()
    with session_scope() as s:
        res = survey_results(s, survey_id=get_survey(s, ref=slug).id)
    small = {k: (n if n >= 5 else None) for k, n in res.respondents_by_channel.items()}
    if as_json:
        doc = {
            "slug": res.slug,
            "title": res.title,
            "kind": res.kind,
            "respondents": res.respondents,
            "respondents_by_channel": small,
            "csat": _score(res.csat),
            "nps": _score(res.nps),
            "acsi": _score(res.acsi),
            "questions": [
                {
                    "key": q.key,
                    "text": q.text,
                    "instrument": q.instrument,
                    "score": _score(q.score) if q.instrument != "text" else None,
                    "dont_know": q.dont_know,
                    "texts": q.texts,
                    "by_channel": _groups(q.by_channel),
                    "by_district": _groups(q.by_district),
                }
                for q in res.questions
            ],
            "drivers": [
                {
                    "driver": d.driver,
                    "questions": list(d.questions),
                    "score": _score(d.score),
                    "by_channel": _groups(d.by_channel),
                    "by_district": _groups(d.by_district),
                }
                for d in res.drivers
            ],
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))
        return
    console.print(
        f"{res.title} ({res.slug}): {res.respondents} respondents", highlight=False, markup=False
    )
    table = Table("question", "instrument", "score", "n")
    for q in res.questions:
        if q.instrument == "text":
            table.add_row(q.key, q.instrument, f"{q.texts} text(s)", "")
            continue
        sc = _score(q.score) or {}
        value = sc.get("value")
        shown = (
            "suppressed"
            if sc.get("suppressed")
            else (
                "—"
                if value is None
                else f"{value * 100:.1f} %"
                if q.instrument == "csat"
                else f"{value:.1f}"
            )
        )
        table.add_row(q.key, q.instrument, shown, "" if sc.get("n") is None else str(sc["n"]))
    for d in res.drivers:
        sc = _score(d.score) or {}
        value = sc.get("value")
        table.add_row(
            f"driver {d.driver}",
            "pooled",
            "suppressed" if value is None else f"{value:.1f}",
            str(sc.get("n") or ""),
        )
    console.print(table)


@app.command("report")
def report_command(
    slug: Annotated[str, typer.Argument(help="A consultation's or a survey's slug.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the report files.")],
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="html, pdf, csv, xlsx or json (repeatable; default all)."),
    ] = None,
    locale: Annotated[str, typer.Option(help="en or fa (right to left).")] = "en",
) -> None:
    """Build the governance report of a consultation or a survey."""
    from sqlalchemy import select

    from models import Consultation, Survey
    from reports.render import FORMATS, build_report

    _require_schema()
    wanted = [f.strip() for item in formats or FORMATS for f in item.split(",") if f.strip()]
    with session_scope() as s:
        cid = s.execute(select(Consultation.id).where(Consultation.slug == slug)).scalar()
        sid = None
        if cid is None:
            sid = s.execute(select(Survey.id).where(Survey.slug == slug)).scalar()
            if sid is None:
                raise NotFound(f"no consultation or survey {slug!r}", field="slug")
        files = build_report(
            s, consultation_id=cid, survey_id=sid, out_dir=out, formats=wanted, locale=locale
        )
    typer.echo(f"report {files.input_digest[:12]} ({'new' if files.created else 'unchanged'})")
    for key, path in files.files.items():
        typer.echo(f"  {key}: {path}")
