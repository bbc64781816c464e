"""``/api/v1/patients/{pseudonym}/fhir``, ``.../report`` and ``.../handout``: the record out.

The record as a FHIR Bundle, as the clinician's letter and as the patient handout of the
plan in force.

Handlers map HTTP to the export services (:mod:`spinestab.fhir`, :mod:`spinestab.report`) on
one unit of work of the record each; no analysis happens here. Clinicians only; every read
is audited by the record. Errors as everywhere in the API (the app's handlers): unknown
patient 404, nothing to export (no forms) 422, no plan in force to hand out 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from spinestab.record import Record
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, StateDep
from spinestab.service.pages.record import HANDOUT_CSP

__all__ = ["router"]

router = APIRouter(prefix="/patients", tags=["interoperability"])


def _bundle(record: Record, user: Any, pseudonym: str) -> dict[str, Any]:
    from spinestab.fhir import build_bundle
    from spinestab.fhir.stored import export_from_record

    with record.unit_of_work() as uow:
        data = export_from_record(uow, records.actor_of(user), pseudonym)
    return build_bundle(data)


def _report(record: Record, user: Any, pseudonym: str, fmt: str, lang: str) -> bytes:
    from spinestab.report import render_report_html, render_report_pdf
    from spinestab.report.record import inputs_from_record

    with record.unit_of_work() as uow:
        inputs = inputs_from_record(
            uow, records.actor_of(user), pseudonym, language=lang, date=dt.date.today()
        )
    if fmt == "pdf":
        return render_report_pdf(inputs, language=lang)
    return render_report_html(inputs, language=lang).encode("utf-8")


@router.get("/{pseudonym}/fhir", response_class=JSONResponse)
async def fhir_bundle(pseudonym: str, state: StateDep, user: ClinicianUser) -> JSONResponse:
    """Return the patient's FHIR R4B Bundle (application/fhir+json); 404 unknown, 422 no forms."""
    bundle = await run_in_threadpool(_bundle, state.record, user, pseudonym)
    return JSONResponse(bundle, media_type="application/fhir+json")


@router.get("/{pseudonym}/report")
async def clinician_report(
    pseudonym: str,
    state: StateDep,
    user: ClinicianUser,
    format: Literal["pdf", "html"] = Query("pdf"),
    lang: Literal["en", "de"] = Query("en"),
) -> Response:
    """Return the clinician report as a PDF download (or HTML); 404 unknown, 422 no forms."""
    data = await run_in_threadpool(_report, state.record, user, pseudonym, format, lang)
    if format == "html":  # self-contained like the handout: inline style, data-URI pictures
        return HTMLResponse(data.decode("utf-8"), headers={"Content-Security-Policy": HANDOUT_CSP})
    name = f"report_{dt.date.today().isoformat()}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _handout(record: Record, user: Any, pseudonym: str, fmt: str, lang: str) -> bytes:
    from spinestab.report.record import handout_from_record, render_stored_handout

    with record.unit_of_work() as uow:
        handout = handout_from_record(uow, records.actor_of(user), pseudonym)
    return render_stored_handout(handout, language=lang, pdf=fmt == "pdf")


@router.get("/{pseudonym}/handout")
async def patient_handout(
    pseudonym: str,
    state: StateDep,
    user: ClinicianUser,
    format: Literal["pdf", "html"] = Query("pdf"),
    lang: Literal["en", "de"] = Query("en"),
) -> Response:
    """Return the patient handout of the plan in force as a PDF download (or HTML).

    404 unknown patient; 409 no plan in force (none made, or a draft awaiting approval).
    """
    data = await run_in_threadpool(_handout, state.record, user, pseudonym, format, lang)
    if format == "html":
        return HTMLResponse(data.decode("utf-8"), headers={"Content-Security-Policy": HANDOUT_CSP})
    name = f"handout_{pseudonym}_{lang}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_safe(name)}"'},
    )


def _safe(name: str) -> str:
    """Return ``name`` fit for a Content-Disposition header (pseudonyms may hold any text)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)
