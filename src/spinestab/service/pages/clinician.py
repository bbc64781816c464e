"""Clinician pages: the worklist, the patient list and the record."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.app import error_status
from spinestab.service.deps import ClinicianUser, StateDep
from spinestab.service.pages.render import render

__all__ = ["router"]

router = APIRouter()


@router.get("/worklist")
def worklist(request: Request, state: StateDep, user: ClinicianUser) -> Response:
    """Show what needs the clinician today: approvals, red flags, patients who stopped logging."""
    days = request.query_params.get("days", "")
    stopped_days = int(days) if days.isdigit() and 1 <= int(days) <= 365 else None
    work = records.worklist(
        state.record,
        user,
        stopped_logging_days=stopped_days or state.settings.stopped_logging_days,
    )
    return render(request, "clinician/worklist.html", work=work)


@router.get("/patients")
def patients_page(
    request: Request, state: StateDep, user: ClinicianUser, q: str | None = None
) -> Response:
    """Show the patient list with search (HTMX swaps the rows as the clinician types)."""
    query = (q or "")[:64]
    rows = records.patient_list(state.record, user, query=query)
    if request.headers.get("hx-request") == "true":
        return render(request, "clinician/_patient_rows.html", patients=rows)
    return render(request, "clinician/patients.html", patients=rows, q=query)


@router.post("/patients")
def create_patient_page(
    request: Request,
    state: StateDep,
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
            state.record, user, pseudonym, sex=sex or None, birth_year=year
        )
    except InputError as exc:
        rows = records.patient_list(state.record, user, query="")
        return render(
            request,
            "clinician/patients.html",
            status=error_status(exc),
            patients=rows,
            q="",
            error=str(exc),
        )
    return RedirectResponse(f"/patients/{quote(patient['pseudonym'], safe='')}", status_code=303)
