"""``/api/v1/patients``: the clinician's view of the record.

Handlers map HTTP to the record's services and back; no analysis happens here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from spinestab.core.safe_load import parse_json
from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, SessionDep

__all__ = ["read_json_body", "router"]

router = APIRouter(prefix="/patients", tags=["patients"])


class PatientIn(BaseModel):
    """A new patient (pseudonymous)."""

    pseudonym: str = Field(min_length=1, max_length=64)
    sex: Literal["female", "male", "other", "unknown"] | None = None
    birth_year: int | None = None


class PatientOut(BaseModel):
    """A patient as listed."""

    pseudonym: str
    sex: str | None
    birth_year: int | None


async def read_json_body(request: Request, *, source: str) -> Any:
    """Decode a JSON body within the shared limits (nesting, integer size, duplicate keys).

    Raises
    ------
    InputError
        Not UTF-8 or not JSON within the limits (answered 422).

    """
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    return parse_json(text, source=source)


def _known(session: SessionDep, pseudonym: str) -> None:
    if not records.patient_exists(session, pseudonym):
        raise HTTPException(404, "unknown patient")


@router.get("", response_model=list[dict[str, Any]])
def list_patients_route(
    session: SessionDep,
    user: ClinicianUser,
    q: str | None = Query(default=None, max_length=64, description="Pseudonym contains"),
) -> list[dict[str, Any]]:
    """List patients (search by pseudonym)."""
    return records.patient_list(session, query=q, actor=user.username)


@router.post("", status_code=201, response_model=PatientOut)
def create_patient(body: PatientIn, session: SessionDep, user: ClinicianUser) -> PatientOut:
    """Add a patient; 422 for a taken pseudonym or an implausible birth year."""
    patient = records.create_patient(
        session, body.pseudonym, sex=body.sex, birth_year=body.birth_year, actor=user.username
    )
    return PatientOut(pseudonym=patient.pseudonym, sex=patient.sex, birth_year=patient.birth_year)


@router.get("/{pseudonym}")
def show_patient(pseudonym: str, session: SessionDep, user: ClinicianUser) -> dict[str, Any]:
    """Return the record's timeline (as ``spinestab record show --json``); the read is audited."""
    _known(session, pseudonym)
    return records.timeline(session, pseudonym, actor=user.username)


@router.post(
    "/{pseudonym}/forms",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def add_form(
    pseudonym: str, request: Request, session: SessionDep, user: ClinicianUser
) -> dict[str, Any]:
    """Score and store a questionnaire (the ``score`` format or a FHIR QuestionnaireResponse).

    422 with the CLI's message for bad input; then nothing is stored.
    """
    await run_in_threadpool(_known, session, pseudonym)
    data = await read_json_body(request, source="form")
    return await run_in_threadpool(records.save_form, session, pseudonym, data, actor=user.username)
