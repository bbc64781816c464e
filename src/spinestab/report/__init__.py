"""Reports: the clinician report (HTML and PDF) and the patient handout as PDF."""

from spinestab.report.handout import render_handout_pdf
from spinestab.report.pdf import html_to_pdf

__all__ = ["html_to_pdf", "render_handout_pdf"]
