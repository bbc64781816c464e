"""Intake pages: every instrument's form, checked and scored as it is typed (HTMX)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, SessionDep
from spinestab.service.intake import INSTRUMENT_ORDER, answers_from_fields, intake_fields
from spinestab.service.pages.render import render

__all__ = ["router"]

router = APIRouter()


def _instrument(instrument: str) -> str:
    if instrument not in INSTRUMENT_ORDER:
        raise HTTPException(404, "no intake form for this instrument")
    return instrument


def _document(instrument: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "instrument": instrument,
        "date": fields.get("date", "").strip(),
        "answers": answers_from_fields(instrument, fields),
    }


async def _fields(request: Request) -> dict[str, str]:
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
    return render(
        request,
        "clinician/intake.html",
        pseudonym=pseudonym,
        instrument=instrument,
        instruments=INSTRUMENT_ORDER,
        fields=intake_fields(instrument),
        today=dt.date.today().isoformat(),
        values={},
        result=None,
        error=None,
    )


@router.post("/patients/{pseudonym}/forms/{instrument}/check")
async def intake_check(
    pseudonym: str, instrument: str, request: Request, _user: ClinicianUser
) -> Response:
    """Score what has been typed so far (nothing is stored): the result panel."""
    instrument = _instrument(instrument)
    try:
        result, error = records.check_form(_document(instrument, await _fields(request))), None
    except InputError as exc:
        result, error = None, str(exc)
    return render(request, "clinician/_intake_result.html", result=result, error=error)


@router.post("/patients/{pseudonym}/forms/{instrument}")
async def intake_save(
    pseudonym: str, instrument: str, request: Request, session: SessionDep, user: ClinicianUser
) -> Response:
    """Store the form in the record (scored there), or show it again with the reason."""
    instrument = _instrument(instrument)
    fields = await _fields(request)
    try:
        await run_in_threadpool(
            records.save_form,
            session,
            pseudonym,
            _document(instrument, fields),
            actor=user.username,
        )
    except InputError as exc:
        session.rollback()
        return render(
            request,
            "clinician/intake.html",
            status=422,
            pseudonym=pseudonym,
            instrument=instrument,
            instruments=INSTRUMENT_ORDER,
            fields=intake_fields(instrument),
            today=fields.get("date") or dt.date.today().isoformat(),
            values=fields,
            result=None,
            error=str(exc),
        )
    return RedirectResponse(f"/patients/{pseudonym}?saved={instrument}", status_code=303)
