"""``/api/v1/patients/{pseudonym}/fhir`` and ``.../report``: the record as FHIR and as a letter.

Handlers map HTTP to the export services (:mod:`spinestab.fhir`, :mod:`spinestab.report`);
no analysis happens here. Clinicians only; every read is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from spinestab.errors import InputError
from spinestab.service import records
from spinestab.service.deps import ClinicianUser, SessionDep, StateDep

__all__ = ["router"]

router = APIRouter(prefix="/patients", tags=["interoperability"])


def _uow(session: SessionDep, state: StateDep) -> Any:
    """Return the record's unit of work on the request's session, with the artifact store."""
    from spinestab.record import UnitOfWork
    from spinestab.store.artifacts import FileArtifactStore
    from spinestab.store.db import private_dir

    files = FileArtifactStore(private_dir(state.settings.data_dir) / "artifacts")
    return UnitOfWork(session, files)


def _actor(username: str) -> Any:
    from spinestab.record import Actor

    return Actor(username=username, role="clinician")


def _bundle(session: SessionDep, state: StateDep, pseudonym: str, actor: str) -> dict:
    from spinestab.fhir import build_bundle
    from spinestab.fhir.stored import export_from_record

    return build_bundle(export_from_record(_uow(session, state), _actor(actor), pseudonym))


def _report(
    session: SessionDep, state: StateDep, pseudonym: str, actor: str, fmt: str, lang: str
) -> bytes:
    from spinestab.report import render_report_html, render_report_pdf
    from spinestab.report.record import inputs_from_record

    inputs = inputs_from_record(
        _uow(session, state), _actor(actor), pseudonym, language=lang, date=dt.date.today()
    )
    if fmt == "pdf":
        return render_report_pdf(inputs, language=lang)
    return render_report_html(inputs, language=lang).encode("utf-8")


@router.get("/{pseudonym}/fhir", response_class=JSONResponse)
async def fhir_bundle(
    pseudonym: str, session: SessionDep, state: StateDep, user: ClinicianUser
) -> JSONResponse:
    """Return the patient's FHIR R4B Bundle (application/fhir+json); 404 unknown, 422 no forms."""
    if not records.patient_exists(session, pseudonym):
        raise HTTPException(404, "unknown patient")
    try:
        bundle = await run_in_threadpool(_bundle, session, state, pseudonym, user.username)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse(bundle, media_type="application/fhir+json")


@router.get("/{pseudonym}/report")
async def clinician_report(
    pseudonym: str,
    session: SessionDep,
    state: StateDep,
    user: ClinicianUser,
    format: Literal["pdf", "html"] = Query("pdf"),
    lang: Literal["en", "de"] = Query("en"),
) -> Response:
    """Return the clinician report as a PDF download (or HTML); 404 unknown, 422 no forms."""
    if not records.patient_exists(session, pseudonym):
        raise HTTPException(404, "unknown patient")
    try:
        data = await run_in_threadpool(
            _report, session, state, pseudonym, user.username, format, lang
        )
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    if format == "html":
        return HTMLResponse(data.decode("utf-8"))
    name = f"report_{dt.date.today().isoformat()}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
