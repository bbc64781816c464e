"""The clinician report: order of sections, values against their sources, A4 PDF in en and de."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html import unescape

import pytest

from spinestab.report import (
    ImagingPart,
    PlanInForce,
    ReportInputs,
    inputs_from_patient_dir,
    render_report_html,
    render_report_pdf,
)

from .conftest import DEMO, needs_pdf, pdf_pages_text, render_png

DATE = dt.date(2024, 3, 10)


def _text(html: str) -> str:
    return _plain(unescape(re.sub(r"<[^>]+>", " ", html)))


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def inputs():
    return {
        name: inputs_from_patient_dir(DEMO / name, date=DATE, language="en")
        for name in (
            "functional_high_risk",
            "structural_spondylolisthesis",
            "red_flag_cauda_equina",
            "low_risk_self_management",
        )
    }


@pytest.mark.parametrize("language", ["en", "de"])
def test_sections_in_the_order_of_the_issue(inputs, language):
    html = render_report_html(inputs["functional_high_risk"], language=language)
    ids = ["red-flags", "track", "scores", "muscle", "instability", "movement", "plan", "missing"]
    positions = [html.index(f'id="{i}"') for i in ids]
    assert positions == sorted(positions)


def test_open_red_flag_comes_first_with_its_action(inputs):
    report = inputs["red_flag_cauda_equina"]
    flag = report.profile.open_red_flags[0]
    html = render_report_html(report, language="en")
    first = html.index('id="red-flags"')
    assert html.index(flag.action.split(".")[0], first) < html.index('id="track"')
    assert flag.urgency == "emergency"
    text = _text(html)
    for item in flag.items:
        assert item in text
    assert "No plan in force" in text  # blocked: no exercise plan


def test_reasons_and_actions_carry_their_sources(inputs):
    report = inputs["structural_spondylolisthesis"]
    text = _text(render_report_html(report, language="en"))
    for reason in report.triage.reasons:
        assert _plain(reason.source) in text
        assert _plain(reason.text) in text


def test_score_table_equals_the_forms(inputs):
    """ODI percent computed here from the demo form files (100 x sum / 5 x answered)."""
    html = render_report_html(inputs["structural_spondylolisthesis"], language="en")
    text = _text(html)
    folder = DEMO / "structural_spondylolisthesis"
    for path in sorted(folder.glob("odi*.json")):
        form = json.loads(path.read_text())
        answered = [v for v in form["answers"].values() if v is not None]
        percent = 100 * sum(answered) / (5 * len(answered))
        assert f"ODI (%) {form['date']} {percent:.1f}" in text
    for path in sorted(folder.glob("nrs*.json")):
        form = json.loads(path.read_text())
        assert f"Pain NRS (0-10) {form['date']} {float(form['answers']['pain']):.1f}" in text
    assert "10 (Ostelo" in text  # the ODI MIC with its source


def test_muscle_table_equals_muscle_quality_csv(inputs):
    html = render_report_html(inputs["functional_high_risk"], language="en")
    text = _text(html)
    with (DEMO / "functional_high_risk" / "muscle_quality.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {"multifidus": "Multifidus", "erector_spinae": "Erector spinae"}
    for r in rows:
        csa = float(r["csa_mean_mm2"]) / 100
        expected = (
            f"{names[r['muscle']]} {r['side']} {r['level']} {csa:.2f} "
            f"{float(r['lean_csa_mean_mm2']) / 100:.2f} {float(r['fat_fraction_pct']):.1f} "
            f"{r['fat_method']}"
        )
        assert expected in text, expected


@pytest.mark.parametrize(
    ("language", "assumed", "doubtful"),
    [("en", "(assumed)", "(doubtful)"), ("de", "(angenommen)", "(fraglich)")],
)
def test_levels_with_assumed_or_doubtful_names_are_marked(inputs, language, assumed, doubtful):
    from dataclasses import replace

    base = inputs["functional_high_risk"]
    plain = _text(render_report_html(base, language=language))
    assert assumed not in plain and doubtful not in plain  # the demo's levels are named
    levels = sorted({r.level for r in base.imaging.rows if r.level != "all"})
    marked = {levels[0]: "level_names_doubtful", levels[-1]: "level_names_assumed"}
    rows = tuple(
        replace(r, flags=";".join(filter(None, (r.flags, marked.get(r.level)))))
        if r.level in marked
        else replace(r, flags=";".join(filter(None, (r.flags, "level_names_doubtful"))))
        if r.level == "all"  # a summary row rests on no vertebra: never marked
        else r
        for r in base.imaging.rows
    )
    report = ReportInputs(
        profile=base.profile,
        triage=base.triage,
        plan=base.plan,
        imaging=ImagingPart(rows=rows),
        date=DATE,
    )
    text = _text(render_report_html(report, language=language))
    words = {"level_names_doubtful": doubtful, "level_names_assumed": assumed}
    for level, flag in marked.items():
        n = sum(r.level == level for r in rows)
        assert text.count(f" {level} {words[flag]} ") == n  # every row of the level
    assert f" all {doubtful}" not in text and f" all {assumed}" not in text
    assert text.count(f"{doubtful}:") == 1 and text.count(f"{assumed}:") == 1  # the notes


def test_qa_overlays_and_plan_approval_are_shown(inputs):
    base = inputs["functional_high_risk"]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    report = ReportInputs(
        profile=base.profile,
        triage=base.triage,
        plan=PlanInForce(
            version=3, status="active", track="F2", approved_by="dr.house", approved_at="2024-03-08"
        ),
        imaging=ImagingPart(rows=base.imaging.rows, qa_pictures={"L4": png, "L3": png}),
        date=DATE,
    )
    html = render_report_html(report, language="en")
    assert html.count('alt="Mask contours at level') == 2
    assert html.index("Level L3") < html.index("Level L4")
    assert "Version 3 (active), track F2 · approved by dr.house on 2024-03-08" in _text(html)


def test_missing_parts_and_what_they_limit(inputs):
    report = inputs["low_risk_self_management"]
    text = _text(render_report_html(report, language="de"))
    assert report.profile.missing
    for m in report.profile.missing:
        assert _plain(m.part) in text and _plain(m.limits) in text
    assert "Was fehlt und was es einschränkt" in text


@needs_pdf
@pytest.mark.parametrize(("language", "words"), [("en", ("Page", "of")), ("de", ("Seite", "von"))])
def test_pdf_is_a4_with_footer_on_every_page(inputs, language, words, tmp_path):
    from PIL import Image
    from pypdf import PdfReader

    pdf = render_report_pdf(inputs["structural_spondylolisthesis"], language=language)
    reader = PdfReader(io.BytesIO(pdf))
    pages = pdf_pages_text(pdf)
    assert len(pages) >= 2
    for i, (page, text) in enumerate(zip(reader.pages, pages, strict=True), start=1):
        assert float(page.mediabox.width) == pytest.approx(595.28, abs=0.5)
        assert float(page.mediabox.height) == pytest.approx(841.89, abs=0.5)
        assert f"{words[0]} {i} {words[1]} {len(pages)}" in text
        assert f"structural_spondylolisthesis · {DATE.isoformat()}" in text
    assert "/FontFile2" in str([f.get_object() for f in _font_descriptors(reader)])
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    pngs = render_png(path, tmp_path / "page")
    assert len(pngs) == len(pages)
    assert Image.open(pngs[0]).convert("L").getextrema()[0] < 100  # ink on the page


def _font_descriptors(reader):
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                yield desc.get_object()["/FontDescriptor"]


def test_german_letter_uses_the_catalogues_and_marks_english_rule_texts(inputs):
    """Actions and exercise names with a German catalogue text are German; rule texts
    without one (reasons, what is missing) stay English, each marked EN, with a note."""
    from spinestab.care.i18n import Translator as CareTranslator

    report = inputs["structural_spondylolisthesis"]
    care = CareTranslator("de")
    html = render_report_html(report, language="de")
    text = _text(html)
    translated = [a for a in report.triage.actions if care.has(f"action.{a.code}")]
    assert translated
    for action in translated:
        if action.urgency in ("emergency", "same_day", "urgent"):
            continue
        assert _plain(care(f"action.{action.code}")) in text
        assert _plain(action.text) not in text  # not the English text beside it
    for reason in report.triage.reasons:  # no German text: English, marked
        assert f'<span lang="en">{_plain(reason.text)}' in _plain(unescape(html))
    assert "Mit EN markierte Regeltexte" in text
    english = render_report_html(report, language="en")
    assert 'class="en"' not in english.split("</style>")[1]  # nothing marked in English


def test_exercise_names_in_the_letters_language(inputs):
    from spinestab.care.i18n import Translator as CareTranslator

    report = inputs["functional_high_risk"]
    assert report.plan is not None and report.plan.exercises
    for language in ("en", "de"):
        text = _text(render_report_html(report, language=language))
        care = CareTranslator(language)
        for exercise, _, _ in report.plan.exercises:
            assert f"{care(f'ex.{exercise}.name')} ({exercise})" in text
