"""Report files: every format for the handmade consultation and the two real survey files,
byte-identical rebuilds, escaped user text, the digest in every output, one report row
per digest."""

from __future__ import annotations

import csv
import json
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.errors import ValidationError
from models import Proposal, Report
from reports.render import FORMATS, build_report
from surveys.service import import_survey_wave
from tests import factories as f
from tests.reports.handmade import build

SURVEYS = [
    ("resident_survey/FY2022_RS_Cleaned_safe.csv", "kansas_city_fy2022"),
    ("resident_survey/survey_data.csv", "toronto_public_engagement"),
]


@pytest.fixture
def handmade(session, tmp_path):
    return build(session, tmp_path)


def read_all(files: dict) -> dict[str, bytes]:
    return {k: p.read_bytes() for k, p in files.items()}


def test_every_format_and_identical_bytes_on_rebuild(session, handmade, tmp_path):
    first = build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path / "a")
    again = build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path / "b")
    assert {k.split(":")[0] for k in first.files} == set(FORMATS)
    assert first.input_digest == again.input_digest
    a, b = read_all(first.files), read_all(again.files)
    assert a.keys() == b.keys()
    for key in a:  # html, pdf, every csv, xlsx, json
        assert a[key] == b[key], key
    # one report row per digest; the rebuild only adds its paths
    assert first.created
    assert not again.created
    assert first.report_id == again.report_id
    assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 1
    row = session.get(Report, first.report_id)
    assert row.input_digest == first.input_digest
    assert row.metrics["slug"] == handmade.slug
    assert row.generated_at.isoformat() == row.metrics["as_of"]


def test_digest_is_carried_by_every_output(session, handmade, tmp_path):
    out = build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path)
    digest = out.input_digest
    html = out.files["html"].read_text(encoding="utf-8")
    assert f'<meta name="civicflow-input-digest" content="{digest}">' in html
    doc = json.loads(out.files["json"].read_text(encoding="utf-8"))
    assert doc["input_digest"] == digest
    assert doc["report"]["figures"][0]["key"] == "eligible"
    raw = out.files["csv:turnout"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert {r["input_digest"] for r in rows} == {digest}
    assert rows[0] == {"district": "All eligible", "eligible": "16", "participants": "10",
                       "turnout": "0.625", "input_digest": digest}  # fmt: skip
    wb = load_workbook(out.files["xlsx"])
    about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True)}
    assert about["input_digest"] == digest
    assert wb.properties.keywords == f"input_digest:{digest}"
    assert "results" in wb.sheetnames
    assert digest.encode() in out.files["pdf"].read_bytes()


def test_user_text_is_escaped_in_html(session, handmade, tmp_path):
    out = build_report(
        session, consultation_id=handmade.consultation_id, out_dir=tmp_path, formats=("html",)
    )
    html = out.files["html"].read_text(encoding="utf-8")
    assert "Benches &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; seats" in html
    assert "<script" not in html
    assert 'dir="ltr"' in html


def test_persian_locale_is_right_to_left(session, handmade, tmp_path):
    out = build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path,
                       formats=("html", "pdf"), locale="fa")  # fmt: skip
    html = out.files["html"].read_text(encoding="utf-8")
    assert '<html lang="fa" dir="rtl">' in html
    assert "گزارش حکمرانی" in html
    assert out.files["pdf"].read_bytes().startswith(b"%PDF-")


def test_formula_in_a_proposal_title_is_neutralised(session, handmade, tmp_path):
    p = session.get(Proposal, handmade.proposals[1])
    p.title = '=HYPERLINK("http://x")'
    session.flush()
    out = build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path,
                       formats=("csv", "xlsx"))  # fmt: skip
    text = out.files["csv:results"].read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text
    wb = load_workbook(out.files["xlsx"])
    titles = [r[1] for r in wb["results"].iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x")' in titles


def test_bad_requests_are_refused(session, handmade, tmp_path):
    with pytest.raises(ValidationError) as err:
        build_report(session, consultation_id=handmade.consultation_id, out_dir=tmp_path,
                     formats=("docx",))  # fmt: skip
    assert err.value.field == "formats"
    with pytest.raises(ValidationError):
        build_report(session, out_dir=tmp_path)
    assert not any(tmp_path.glob("*.html"))


@pytest.mark.parametrize(("path", "mapping"), SURVEYS)
def test_real_survey_report_in_every_format(session, realdata, tmp_path, path, mapping):
    wave = import_survey_wave(session, path=realdata / path, mapping=mapping, actor=f.SYSTEM)
    first = build_report(session, survey_id=wave.survey_id, out_dir=tmp_path / "a")
    assert {k.split(":")[0] for k in first.files} == set(FORMATS)
    # the PDF's reproducibility is checked on the handmade consultation (slower to build)
    again = build_report(session, survey_id=wave.survey_id, out_dir=tmp_path / "b",
                         formats=("html", "csv", "xlsx", "json"))  # fmt: skip
    a, b = read_all(first.files), read_all(again.files)
    for key in b:
        assert a[key] == b[key], key
    html = a["html"].decode()
    assert wave.slug in html
    assert html.count('src="data:image/svg+xml;base64,') >= 2
    with zipfile.ZipFile(first.files["xlsx"]) as z:
        assert {i.date_time[:3] for i in z.infolist()} == {first_date(first)}
    assert a["pdf"].count(b"/Type /Page\n") + a["pdf"].count(b"/Type /Page ") >= 1


def first_date(files) -> tuple[int, int, int]:
    doc = json.loads(files.files["json"].read_text(encoding="utf-8"))
    y, m, d = doc["report"]["as_of"][:10].split("-")
    return int(y), int(m), int(d)
