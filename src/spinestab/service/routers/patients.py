"""``/api/v1/patients``: the clinician's view of the record.

Handlers map HTTP to the record's services (:mod:`spinestab.service.records`) and back; no
analysis and no store query happens here. Refusals map to 404 (unknown), 409 (conflict,
already stored), 403 (refused) and 422 (bad input) in the app's error handler.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from spinestab.core.safe_load import parse_json
from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, StateDep

__all__ = ["read_json_body", "router"]

router = APIRouter(prefix="/patients", tags=["patients"])

_JSON_OBJECT = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


class PatientIn(BaseModel):
    """A new patient (pseudonymous)."""

    pseudonym: str = Field(min_length=1, max_length=64)
    sex: Literal["female", "male", "other", "unknown"] | None = None
    birth_year: int | None = None


class PatientOut(BaseModel):
    """A patient as created."""

    pseudonym: str
    sex: str | None
    birth_year: int | None


class AnalysisIn(BaseModel):
    """An analysis of uploaded files, run as a background job."""

    kind: Literal["mri", "instability", "wearable"]
    files: list[int | dict[str, Any]] = Field(min_length=1, max_length=64)
    options: dict[str, Any] = Field(default_factory=dict)


class JobAccepted(BaseModel):
    """A queued job: poll ``GET /api/v1/jobs/{job_id}``."""

    job_id: str
    status: str
    kind: str


class PlanMadeOut(BaseModel):
    """A new plan version."""

    version: int
    track: str
    status: str
    superseded_drafts: list[int] = []
    plan: dict[str, Any] | None = None
    inputs: dict[str, Any] = {}


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


@router.get("", response_model=list[dict[str, Any]])
def list_patients_route(
    state: StateDep,
    user: ClinicianUser,
    q: str | None = Query(default=None, max_length=64, description="Pseudonym contains"),
) -> list[dict[str, Any]]:
    """List patients (search by pseudonym) with the track of their latest plan."""
    return records.patient_list(state.record, user, query=q)


@router.post("", status_code=201, response_model=PatientOut)
def create_patient(body: PatientIn, state: StateDep, user: ClinicianUser) -> PatientOut:
    """Add a patient; 409 for a taken pseudonym, 422 for an implausible birth year."""
    patient = records.create_patient(
        state.record, user, body.pseudonym, sex=body.sex, birth_year=body.birth_year
    )
    return PatientOut(
        pseudonym=patient["pseudonym"], sex=patient["sex"], birth_year=patient["birth_year"]
    )


@router.get("/{pseudonym}")
def show_patient(pseudonym: str, state: StateDep, user: ClinicianUser) -> dict[str, Any]:
    """Return the record's timeline (as ``spinestab record show --json``); the read is audited."""
    return records.timeline(state.record, user, pseudonym)


@router.post("/{pseudonym}/forms", status_code=201, openapi_extra=_JSON_OBJECT)
async def add_form(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> dict[str, Any]:
    """Score and store a questionnaire (the ``score`` format or a FHIR QuestionnaireResponse).

    422 with the CLI's message for bad input (nothing stored); 409 when already stored.
    """
    data = await read_json_body(request, source="form")
    return await records.save_form_async(state.record, user, pseudonym, data)


@router.post("/{pseudonym}/history", status_code=201, openapi_extra=_JSON_OBJECT)
async def add_history(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> dict[str, Any]:
    """Store a new version of the history and examination (the ``history.json`` fields).

    422 for unknown keys, wrong types or ranges (as ``spinestab plan`` reads the file);
    409 when equal to the latest version.
    """
    data = await read_json_body(request, source="history")
    return await run_in_threadpool(records.save_history, state.record, user, pseudonym, data)


@router.post("/{pseudonym}/files", status_code=201)
async def upload_file(
    pseudonym: str,
    state: StateDep,
    user: ClinicianUser,
    file: Annotated[UploadFile, File(description="The file (NIfTI, DICOM, ZIP, CSV, ...)")],
    kind: Annotated[
        str | None, Form(description="mri, mask, radiograph, landmarks or wearable")
    ] = None,
    kind_query: Annotated[
        str | None, Query(alias="kind", include_in_schema=False, max_length=32)
    ] = None,
) -> dict[str, Any]:
    """Store a file for a later analysis; 201 ``{"id": ...}``.

    The size is limited per kind and the content is checked against the kind (magic bytes,
    text); 413 too large, 415 not what the kind expects.
    """
    from spinestab.service.uploads import store_upload

    chosen = kind or kind_query  # the form field; ``?kind=`` is taken as well
    if not chosen:
        raise InputError(
            "no upload kind", item="kind", expected="mri, mask, radiograph, landmarks or wearable"
        )
    try:
        return await store_upload(state, user, pseudonym, kind=chosen, upload=file)
    finally:
        await file.close()


@router.get("/{pseudonym}/files")
def list_files(pseudonym: str, state: StateDep, user: ClinicianUser) -> list[dict[str, Any]]:
    """List the patient's uploads (newest first)."""
    return records.list_uploads(state.record, user, pseudonym)


@router.post("/{pseudonym}/analyses", status_code=202, response_model=JobAccepted)
def start_analysis(
    pseudonym: str, body: AnalysisIn, state: StateDep, user: ClinicianUser
) -> JobAccepted:
    """Run an analysis of uploaded files as a background job; 202 ``{"job_id": ...}``.

    ``files``: upload ids (or ``{"id": 3, "role": "thigh"}``); ``options``: the options of
    ``spinestab mri|instability|wearable`` by name. The files and options are checked now
    (404 an upload of another patient, 422 a wrong kind or option); the analysis runs in a
    worker and saves its result into the record.
    """
    from spinestab.service.analyses import submit_analysis

    job = submit_analysis(
        state, user, pseudonym, kind=body.kind, files=body.files, options=body.options
    )
    return JobAccepted(job_id=job["job_id"], status=job["status"], kind=job["kind"])


@router.post("/{pseudonym}/plans", status_code=201, response_model=PlanMadeOut)
def create_plan(
    pseudonym: str,
    state: StateDep,
    user: ClinicianUser,
    lang: Literal["en", "de"] | None = Query(default=None, description="Handout language"),
) -> PlanMadeOut:
    """Make profile, triage and a new plan version from the record.

    The version is ``draft``, or ``blocked`` while a red flag is open; 422 when the record
    lacks what a plan needs.
    """
    made = records.make_plan(state.record, user, pseudonym, language=lang)
    return PlanMadeOut(**made)


@router.post("/{pseudonym}/plans/progress", status_code=201, response_model=PlanMadeOut)
def progress_plan(
    pseudonym: str,
    state: StateDep,
    user: ClinicianUser,
    lang: Literal["en", "de"] | None = Query(default=None, description="Handout language"),
) -> PlanMadeOut:
    """Propose the next version (a draft) from the sessions logged against the active plan.

    409 without an active plan (a blocked plan is never progressed).
    """
    made = records.progress_plan(state.record, user, pseudonym, language=lang)
    return PlanMadeOut(
        version=made["version"], track=made["track"], status=made["status"], plan=made["plan"]
    )


@router.get("/{pseudonym}/plans/current")
def current_plan(pseudonym: str, state: StateDep, user: ClinicianUser) -> dict[str, Any]:
    """Return the plan in force with its ``plan.json``; 404 before any approval.

    The plan in force is the active version, or a newer blocked one.
    """
    from fastapi import HTTPException

    plan = records.current_plan(state.record, user, pseudonym)
    if plan is None:
        raise HTTPException(404, "no plan in force: none approved yet")
    return plan


@router.get("/{pseudonym}/plans/{version}")
def plan_version(
    pseudonym: str, version: int, state: StateDep, user: ClinicianUser
) -> dict[str, Any]:
    """One plan version with its ``plan.json`` (any status)."""
    plan = records.current_plan(state.record, user, pseudonym, version=version)
    assert plan is not None  # a version that does not exist is a 404 from the record
    return plan


@router.post("/{pseudonym}/plans/{version}/approve")
def approve_plan(
    pseudonym: str, version: int, state: StateDep, user: ClinicianUser
) -> dict[str, Any]:
    """Approve a draft (clinicians): it becomes the active plan, the earlier one superseded.

    409 for a version that is not a draft, while a blocking red flag is open, or for a plan
    made without a complete red-flag screen.
    """
    return records.approve_plan(state.record, user, pseudonym, version=version)
