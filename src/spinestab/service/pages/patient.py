"""Patient pages: today's exercises first, their own progress and follow-up forms.

Every page reads the logged-in patient's own pseudonym from the session; no patient page
takes a pseudonym from the URL, so another patient's record cannot be asked for.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import PatientUser, StateDep
from spinestab.service.pages.intake import (
    PATIENT_INSTRUMENTS,
    document,
    form_fields,
    intake_form,
)
from spinestab.service.pages.render import render

__all__ = ["router"]

router = APIRouter()


def _own(user: PatientUser) -> str:
    if not user.patient_pseudonym:  # a patient account always has one (database check)
        raise HTTPException(403, "this account is not tied to a patient")
    return user.patient_pseudonym


@router.get("/today")
def today(request: Request, state: StateDep, user: PatientUser) -> Response:
    """Show today's exercises (or, without an approved plan, what happens next)."""
    record = records.timeline(state.record, user, _own(user))
    return render(
        request,
        "patient/today.html",
        record=record,
        plan=records.approved_plan(record),
        blocked=records.blocking_flags(record),
    )


@router.get("/progress")
def progress(request: Request, state: StateDep, user: PatientUser) -> Response:
    """Show the patient's own scores over time against the MIC."""
    record = records.timeline(state.record, user, _own(user))
    return render(
        request,
        "patient/progress.html",
        record=record,
        charts=records.score_charts(record),
        instruments=PATIENT_INSTRUMENTS,
    )


@router.get("/forms")
def forms(request: Request, user: PatientUser) -> Response:
    """List the follow-up questionnaires the patient can fill in."""
    return render(request, "patient/forms.html", instruments=PATIENT_INSTRUMENTS)


def _instrument(instrument: str) -> str:
    if instrument not in PATIENT_INSTRUMENTS:
        raise HTTPException(404, "no such questionnaire")
    return instrument


@router.get("/forms/{instrument}")
def form_page(instrument: str, request: Request, user: PatientUser) -> Response:
    """Show one questionnaire for the patient to fill in."""
    return intake_form(
        request, pseudonym=_own(user), instrument=_instrument(instrument), clinician=False
    )


@router.post("/forms/{instrument}/check")
async def form_check(instrument: str, request: Request, user: PatientUser) -> Response:
    """Score what the patient has typed so far (nothing is stored)."""
    instrument = _instrument(instrument)
    try:
        result, error = records.check_form(document(instrument, await form_fields(request))), None
    except InputError as exc:
        result, error = None, str(exc)
    return render(request, "clinician/_intake_result.html", result=result, error=error)


@router.post("/forms/{instrument}")
async def form_save(
    instrument: str, request: Request, state: StateDep, user: PatientUser
) -> Response:
    """Store the patient's questionnaire in their record."""
    instrument = _instrument(instrument)
    fields = await form_fields(request)
    try:
        await run_in_threadpool(
            records.save_form, state.record, user, _own(user), document(instrument, fields)
        )
    except InputError as exc:
        return intake_form(
            request,
            pseudonym=_own(user),
            instrument=instrument,
            clinician=False,
            values=fields,
            error=str(exc),
        )
    return RedirectResponse(f"/progress?saved={instrument}", status_code=303)
