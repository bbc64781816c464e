"""Reports: the clinician report (HTML and A4 PDF) and the patient handout as PDF.

:class:`ReportInputs` holds everything the letter shows, typed; :func:`render_report_html`
and :func:`render_report_pdf` render it in English or German; :func:`render_handout_pdf`
prints the patient handout. For a stored patient, :func:`inputs_from_record` and
:func:`handout_from_record` read the record; :func:`inputs_from_patient_dir` reads a folder.
PDFs go through WeasyPrint (extra ``report``; Debian's Pango).
"""

from spinestab.report.clinician import (
    ImagingPart,
    InstabilityPart,
    PlanInForce,
    ReportInputs,
    render_report_html,
    render_report_pdf,
)
from spinestab.report.folder import inputs_from_patient_dir
from spinestab.report.handout import render_handout_pdf
from spinestab.report.pdf import html_to_pdf
from spinestab.report.record import HandoutInputs, handout_from_record, inputs_from_record

__all__ = [
    "HandoutInputs",
    "ImagingPart",
    "InstabilityPart",
    "PlanInForce",
    "ReportInputs",
    "handout_from_record",
    "html_to_pdf",
    "inputs_from_patient_dir",
    "inputs_from_record",
    "render_handout_pdf",
    "render_report_html",
    "render_report_pdf",
]
