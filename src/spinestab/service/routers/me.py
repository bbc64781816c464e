"""``/api/v1/me``: the logged-in patient's own record (never a pseudonym in the URL)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from spinestab.service import records
from spinestab.service.deps import PatientUser, StateDep
from spinestab.service.pages.render import page_language
from spinestab.service.routers.patients import _JSON_OBJECT, read_json_body
from spinestab.service.views import blocked_actions, for_patient

__all__ = ["router"]

router = APIRouter(prefix="/me", tags=["me"])


def _own(user: PatientUser) -> str:
    if not user.patient_pseudonym:
        raise HTTPException(403, "this account is not tied to a patient")
    return user.patient_pseudonym


@router.get("/plan")
def my_plan(request: Request, state: StateDep, user: PatientUser) -> dict[str, Any]:
    """Return the approved active plan as ``plan.json`` has it (``exercises`` included).

    While a blocking red flag is open (or the plan is blocked): ``status`` blocked, the
    ``actions`` to take instead with their ``urgency``, and no exercises. Before any
    approval: ``status`` none and no plan. Each action's ``text`` is the patient's (the
    care catalogue's, as the Today page and the handout say it); the clinician's text of a
    red flag is not sent.
    """
    _own(user)
    plan = records.me_plan(state.record, user)
    if plan.get("status") == "blocked":
        said = blocked_actions(plan, language=page_language(request))
        plan["actions"] = [
            a | {"text": s["text"]} for a, s in zip(plan["actions"], said, strict=True)
        ]
    return plan


@router.post("/sessions", status_code=201)
async def log_sessions(request: Request, state: StateDep, user: PatientUser) -> dict[str, Any]:
    """Log session rows (the ``progress`` format) against the active plan.

    The body: a list of rows, or ``{"sessions": [...], "outcomes": [...]}``.

    422 for a bad row (the ``progress`` command's message), 409 without an active plan or
    when every row is stored already.
    """
    _own(user)
    document = await read_json_body(request, source="sessions")
    return await run_in_threadpool(records.save_sessions, state.record, user, document)


@router.post("/forms", status_code=201, openapi_extra=_JSON_OBJECT)
async def add_own_form(request: Request, state: StateDep, user: PatientUser) -> dict[str, Any]:
    """Store a follow-up questionnaire; 422 for bad input.

    The red-flag screen too: a blocking flag blocks the plan at once. Each red-flag
    ``action`` is the patient's text for its urgency (where to go, whether to stop the
    exercises), not the clinician's.
    """
    pseudonym = _own(user)
    data = await read_json_body(request, source="form")
    saved = await records.save_form_async(state.record, user, pseudonym, data)
    # the patient is told what to do in their words, not the clinician's referral text
    return for_patient(saved, language=page_language(request))


@router.get("/movement")
def my_movement(state: StateDep, user: PatientUser) -> dict[str, Any]:
    """Return the movement summary: wearable days, goals and adherence.

    The latest wearable recording's days, the plan's walking and movement-break goals, and
    adherence to the plan's sessions.
    """
    _own(user)
    return records.me_movement(state.record, user)
