"""The patient handout as PDF: the same page as ``handout.html``, laid out for A4 paper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spinestab.care.handout import render_handout
from spinestab.care.plan import Plan
from spinestab.core.i18n import Translator
from spinestab.report.pdf import html_to_pdf, page_css

__all__ = ["HANDOUT_PRINT_CSS", "render_handout_pdf"]

#: print layout of the handout on A4 (the HTML page itself is for screens and phones)
HANDOUT_PRINT_CSS = """
body { font-size: 10pt; line-height: 1.35; }
h1 { font-size: 18pt; } h2 { font-size: 13pt; margin-top: 14px; }
h3 { font-size: 11pt; }
table.week { font-size: 7.5pt; table-layout: fixed; }
table.week td, table.week th { hyphens: auto; padding: 3px 4px; }
.grid { display: block; }
.exercise { break-inside: avoid; padding: 8px; margin-bottom: 8px; }
.pic img { width: 200px; height: 117px; }
.banner, .track, .zone { break-inside: avoid; }
"""


def render_handout_pdf(
    *,
    patient: str,
    date: str,
    track: str,
    actions: Sequence[Mapping[str, Any]],
    plan: Plan | None,
    language: str | None = None,
) -> bytes:
    """Render the patient handout as an A4 PDF (same content as :func:`render_handout`).

    Every page's footer carries the pseudonym, the date and "page n of N" in the
    handout's language. Parameters as for :func:`spinestab.care.handout.render_handout`.
    """
    html = render_handout(
        patient=patient, date=date, track=track, actions=actions, plan=plan, language=language
    )
    t = Translator("report", language)
    css = page_css(
        left=t("page.footer", patient=patient, date=date),
        right_template=(t("page.page"), t("page.of")),
    )
    return html_to_pdf(html, extra_css=css + HANDOUT_PRINT_CSS)
