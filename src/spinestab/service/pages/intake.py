"""Intake pages: every instrument's form, checked and scored as it is typed (HTMX)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, SessionDep, StateDep
from spinestab.service.intake import INSTRUMENT_ORDER, answers_from_fields, intake_fields
from spinestab.service.pages.render import render

__all__ = ["PATIENT_INSTRUMENTS", "document", "form_fields", "intake_form", "router"]

#: Follow-up questionnaires a patient fills in themselves (the red-flag screen included: a
#: positive answer blocks the plan at once through the record).
PATIENT_INSTRUMENTS = ("redflags", "nrs", "odi", "rmdq", "psfs", "startback")

router = APIRouter()


def _instrument(instrument: str) -> str:
    if instrument not in INSTRUMENT_ORDER:
        raise HTTPException(404, "no intake form for this instrument")
    return instrument


def intake_form(
    request: Request,
    *,
    pseudonym: str,
    instrument: str,
    clinician: bool,
    values: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    """Render an intake form (the clinician's for a patient, or a patient's own)."""
    quoted = quote(pseudonym, safe="")
    return render(
        request,
        "clinician/intake.html",
        status=422 if error else 200,
        pseudonym=pseudonym,
        instrument=instrument,
        instruments=INSTRUMENT_ORDER if clinician else PATIENT_INSTRUMENTS,
        base=f"/patients/{quoted}/forms" if clinician else "/forms",
        back=f"/patients/{quoted}" if clinician else "/progress",
        fields=intake_fields(instrument),
        today=(values or {}).get("date") or dt.date.today().isoformat(),
        values=values or {},
        result=None,
        error=error,
    )


def document(instrument: str, fields: dict[str, str]) -> dict[str, Any]:
    """Return the ``score`` document for the typed fields."""
    return {
        "instrument": instrument,
        "date": fields.get("date", "").strip(),
        "answers": answers_from_fields(instrument, fields),
    }


async def form_fields(request: Request) -> dict[str, str]:
    """Return the submitted text fields."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.get("/patients/{pseudonym}/forms/{instrument}")
def intake_page(
    pseudonym: str, instrument: str, request: Request, session: SessionDep, _user: ClinicianUser
) -> Response:
    """Show one instrument's intake form for a patient."""
    if not records.patient_exists(session, pseudonym):
        raise HTTPException(404, "unknown patient")
    instrument = _instrument(instrument)
    return intake_form(request, pseudonym=pseudonym, instrument=instrument, clinician=True)


@router.post("/patients/{pseudonym}/forms/{instrument}/check")
async def intake_check(
    pseudonym: str, instrument: str, request: Request, _user: ClinicianUser
) -> Response:
    """Score what has been typed so far (nothing is stored): the result panel."""
    instrument = _instrument(instrument)
    try:
        result, error = records.check_form(document(instrument, await form_fields(request))), None
    except InputError as exc:
        result, error = None, str(exc)
    return render(
        request,
        "clinician/_intake_result.html",
        result=result,
        error=error,
        fields=intake_fields(instrument),
    )


@router.post("/patients/{pseudonym}/forms/{instrument}")
async def intake_save(
    pseudonym: str, instrument: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Store the form in the record (scored there), or show it again with the reason."""
    instrument = _instrument(instrument)
    fields = await form_fields(request)
    try:
        await run_in_threadpool(
            records.save_form, state.record, user, pseudonym, document(instrument, fields)
        )
    except InputError as exc:
        return intake_form(
            request,
            pseudonym=pseudonym,
            instrument=instrument,
            clinician=True,
            values=fields,
            error=str(exc),
        )
    return RedirectResponse(f"/patients/{pseudonym}?saved={instrument}", status_code=303)
