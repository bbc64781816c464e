"""The patient handout as PDF: same text as handout.html, A4, footer on every page."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from spinestab.care.handout import render_handout

from .conftest import needs_pdf, pdf_pages_text, render_png

pytestmark = needs_pdf

A4_PT = (595.28, 841.89)


class _Blocks(HTMLParser):
    """Text of the blocks of a page (paragraphs, list items, headings), table cells left out."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.blocks: list[str] = []
        self.current: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.stack.append(tag)
            self.current = []

    def handle_endtag(self, tag):
        if tag in self.BLOCKS and self.stack:
            self.stack.pop()
            text = "".join(self.current).strip()
            if text and not self.stack:
                self.blocks.append(text)

    def handle_data(self, data):
        if self.stack:
            self.current.append(data)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _handout(planned, name, language, patient=None):
    from spinestab.report import render_handout_pdf

    profile, tri, plan = planned[name]
    args = {
        "patient": patient or profile.patient,
        "date": profile.date.isoformat(),
        "track": tri.track,
        "actions": [a.to_dict() for a in tri.actions],
        "plan": plan,
        "language": language,
    }
    return render_handout(**args), render_handout_pdf(**args)


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("name", ["functional_high_risk", "red_flag_cauda_equina"])
def test_pdf_holds_every_text_block_of_the_html(planned, name, language):
    html, pdf = _handout(planned, name, language)
    parser = _Blocks()
    parser.feed(html)
    assert len(parser.blocks) > 5
    text = _squash("".join(pdf_pages_text(pdf)))
    missing = [b for b in parser.blocks if _squash(b) not in text]
    assert not missing, missing[:3]


@pytest.mark.parametrize(("language", "words"), [("en", ("Page", "of")), ("de", ("Seite", "von"))])
def test_every_page_is_a4_with_pseudonym_date_and_number(planned, language, words):
    from pypdf import PdfReader

    _, pdf = _handout(planned, "functional_high_risk", language)
    reader = PdfReader(io.BytesIO(pdf))
    pages = pdf_pages_text(pdf)
    n = len(pages)
    assert n >= 3
    for i, (page, text) in enumerate(zip(reader.pages, pages, strict=True), start=1):
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.5)
        assert f"{words[0]} {i} {words[1]} {n}" in text
        assert "functional_high_risk · 2024-03-04" in text


def test_fonts_are_embedded(planned):
    from pypdf import PdfReader

    _, pdf = _handout(planned, "functional_high_risk", "en")
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/DescendantFonts" in font:
                descendant = font["/DescendantFonts"][0].get_object()
            else:
                descendant = font
            descriptor = descendant["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = any(
                k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    assert fonts and all(fonts.values()), fonts


def test_pseudonym_with_css_and_html_syntax_is_printed_as_text(planned):
    odd = 'p"1\\x</style>{}'
    _, pdf = _handout(planned, "low_risk_self_management", "en", patient=odd)
    pages = pdf_pages_text(pdf)
    assert all(odd in page for page in pages)


def test_pages_render_to_png(planned, tmp_path):
    from PIL import Image

    _, pdf = _handout(planned, "functional_high_risk", "de")
    path = tmp_path / "handout.pdf"
    path.write_bytes(pdf)
    pngs = render_png(path, tmp_path / "page")
    assert len(pngs) == len(pdf_pages_text(pdf))
    first = np.asarray(Image.open(pngs[0]).convert("L"), dtype=float)
    assert first.shape[0] / first.shape[1] == pytest.approx(A4_PT[1] / A4_PT[0], rel=0.01)
    assert first.std() > 10  # ink on the page, not a blank sheet
