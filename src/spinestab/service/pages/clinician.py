"""Clinician pages: the worklist, the patient list and the record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, SessionDep
from spinestab.service.intake import INSTRUMENT_ORDER
from spinestab.service.pages.render import render

__all__ = ["router"]

router = APIRouter()


@router.get("/worklist")
def worklist(request: Request, session: SessionDep, user: ClinicianUser) -> Response:
    """Show what needs the clinician today: approvals, red flags, patients who stopped logging."""
    settings = request.app.state.spinestab.settings
    days = request.query_params.get("days", "")
    stopped_days = int(days) if days.isdigit() and 1 <= int(days) <= 365 else None
    work = records.worklist(
        session,
        stopped_logging_days=stopped_days or settings.stopped_logging_days,
        actor=user.username,
    )
    return render(request, "clinician/worklist.html", work=work)


@router.get("/patients")
def patients_page(
    request: Request, session: SessionDep, user: ClinicianUser, q: str | None = None
) -> Response:
    """Show the patient list with search (HTMX swaps the rows as the clinician types)."""
    query = (q or "")[:64]
    rows = records.patient_list(session, query=query, actor=user.username)
    if request.headers.get("hx-request") == "true":
        return render(request, "clinician/_patient_rows.html", patients=rows)
    return render(request, "clinician/patients.html", patients=rows, q=query)


@router.post("/patients")
def create_patient_page(
    request: Request,
    session: SessionDep,
    user: ClinicianUser,
    pseudonym: Annotated[str, Form(max_length=64)],
    sex: Annotated[str, Form(max_length=16)] = "",
    birth_year: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Add a patient from the form and open their record."""
    try:
        year = int(birth_year) if birth_year.strip() else None
    except ValueError:
        year = -1
    try:
        patient = records.create_patient(
            session, pseudonym, sex=sex or None, birth_year=year, actor=user.username
        )
    except InputError as exc:
        session.rollback()
        rows = records.patient_list(session, query="", actor=user.username)
        return render(
            request, "clinician/patients.html", status=422, patients=rows, q="", error=str(exc)
        )
    return RedirectResponse(f"/patients/{patient.pseudonym}", status_code=303)


@router.get("/patients/{pseudonym}")
def record_page(
    pseudonym: str, request: Request, session: SessionDep, user: ClinicianUser
) -> Response:
    """Show the record: open red flags first, scores over time against the MIC, the timeline."""
    if not records.patient_exists(session, pseudonym):
        raise HTTPException(404, "unknown patient")
    record = records.timeline(session, pseudonym, actor=user.username)
    return render(
        request,
        "clinician/record.html",
        record=record,
        charts=records.score_charts(record),
        instruments=INSTRUMENT_ORDER,
        saved=request.query_params.get("saved") in INSTRUMENT_ORDER,
    )
