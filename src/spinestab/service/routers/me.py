"""``/api/v1/me``: the logged-in patient's own record (never a pseudonym in the URL)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from spinestab.service import records
from spinestab.service.deps import PatientUser, SessionDep
from spinestab.service.routers.patients import read_json_body

__all__ = ["router"]

router = APIRouter(prefix="/me", tags=["me"])


def _own(user: PatientUser) -> str:
    if not user.patient_pseudonym:
        raise HTTPException(403, "this account is not tied to a patient")
    return user.patient_pseudonym


@router.post(
    "/forms",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def add_own_form(request: Request, session: SessionDep, user: PatientUser) -> dict[str, Any]:
    """Store a follow-up questionnaire (the red-flag screen too); 422 for bad input."""
    pseudonym = _own(user)
    data = await read_json_body(request, source="form")
    return await run_in_threadpool(records.save_form, session, pseudonym, data, actor=user.username)
