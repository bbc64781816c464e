"""The record page and its working parts: plans, history, uploads, analyses, pictures.

Every handler maps a form or an HTMX request to :mod:`spinestab.service.records` (or to a
job) and renders the answer; no analysis and no store query happens here. A refusal is
shown on the page with the record's message (HTMX partials answer 200 with the message,
so that htmx swaps it in; full pages answer with the refusal's status).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile

from spinestab.errors import InputError
from spinestab.service import records, views
from spinestab.service.deps import ClinicianUser, StateDep
from spinestab.service.intake import INSTRUMENT_ORDER
from spinestab.service.pages.render import page_context, page_language, render
from spinestab.service.record_page import KeptPage, can_fill, fill_in, masked, read_record_page

__all__ = ["PICTURE_ROLES", "record_page", "router"]

router = APIRouter()

#: File roles served as pictures on the record page (PNG written by the analyses).
PICTURE_ROLES = ("qa_picture", "picture", "timeline")
#: The handout is the stored, self-contained HTML (inline style, data-URI pictures, no
#: script): it is served with a CSP of its own that allows exactly that.
HANDOUT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def record_url(pseudonym: str, anchor: str = "") -> str:
    """Return the record page's URL of a patient (``#anchor`` optional)."""
    return f"/patients/{quote(pseudonym, safe='')}" + (f"#{anchor}" if anchor else "")


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _jobs(state: StateDep, pseudonym: str) -> list[dict[str, Any]]:
    from spinestab.service.jobs import patient_jobs
    from spinestab.store import session_scope

    with session_scope(state.sessions) as session:
        return patient_jobs(session, pseudonym)


def record_page(
    request: Request,
    state: StateDep,
    user: ClinicianUser,
    pseudonym: str,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    """Render the record: red flags first, plans, intake, uploads and jobs, results, scores.

    A plain showing (no notice, refusal or saved-form note) is kept by the record's revision
    and shown again until the record changes (:mod:`spinestab.service.record_page`).
    """
    saved = request.query_params.get("saved") in (*INSTRUMENT_ORDER, "history")
    if status != 200 or error or notice or saved or not can_fill(user):
        record, uploads = records.record_with_uploads(state.record, user, pseudonym)
        return render(
            request,
            "clinician/record.html",
            status=status,
            pseudonym=pseudonym,
            jobs=_jobs(state, pseudonym),
            saved=saved,
            error=error,
            notice=notice,
            **_record_context(record, uploads),
        )
    cache = state.record_pages
    found = read_record_page(
        state.record,
        user,
        pseudonym,
        cache=cache,
        variant=(page_language(request), request.url.path),
    )
    env = state.templates.env
    kept = found.kept
    if kept is None:
        assert found.timeline is not None and found.uploads is not None
        context = page_context(request, principal=masked(user, cache.marks)) | {
            "pseudonym": pseudonym,
            "jobs_html": Markup(cache.marks.jobs),
            "saved": False,
            "error": None,
            "notice": None,
        }
        html = env.get_template("clinician/record.html").render(
            context | _record_context(found.timeline, found.uploads)
        )
        kept = KeptPage(html, found.reads)
        cache.put(found.key, kept)
    jobs_html = env.get_template("clinician/_jobs.html").render(
        page_context(request) | {"pseudonym": pseudonym, "jobs": found.jobs, "job_error": None}
    )
    return HTMLResponse(fill_in(kept, cache.marks, principal=user, jobs_html=jobs_html))


def _record_context(record: dict[str, Any], uploads: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the record page's context made from the record (no part of the request)."""
    return {
        "record": record,
        "charts": views.score_charts(record),
        "instruments": INSTRUMENT_ORDER,
        "events": views.timeline_events(record),
        "uploads": uploads,
        "active": views.approved_plan(record),
        "zone": views.pain_zone,
    }


@router.get("/patients/{pseudonym}")
def show_record(pseudonym: str, request: Request, state: StateDep, user: ClinicianUser) -> Response:
    """Show the record: open red flags first, plans, results with pictures, the timeline."""
    notice = request.query_params.get("notice")
    return record_page(
        request, state, user, pseudonym, notice=notice if notice in NOTICES else None
    )


#: Notices a redirect may ask the record page to show (catalogue keys).
NOTICES = ("record.job_done", "record.job_started", "record.uploaded")


# ------------------------------------------------------------------------------ pictures
@router.get("/patients/{pseudonym}/files/{file_id}")
def picture(pseudonym: str, file_id: int, state: StateDep, user: ClinicianUser) -> Response:
    """Send a result's picture (QA overlay, instability figure, posture timeline) as PNG."""
    described, data = records.read_file(state.record, user, pseudonym, file_id)
    if described["kind"] not in PICTURE_ROLES or data[:8] != b"\x89PNG\r\n\x1a\n":
        raise HTTPException(404, "not a picture of this record")
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, no-store"})


# ------------------------------------------------------------------------------ plans
@router.post("/patients/{pseudonym}/plans")
def make_plan(pseudonym: str, request: Request, state: StateDep, user: ClinicianUser) -> Response:
    """Make a new plan version from the record and open its review page."""
    try:
        made = records.make_plan(state.record, user, pseudonym, language=page_language(request))
    except InputError as exc:
        return _refused(request, state, user, pseudonym, exc)
    return RedirectResponse(f"{record_url(pseudonym)}/plans/{made['version']}", status_code=303)


@router.post("/patients/{pseudonym}/plans/progress")
def propose_progression(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Propose the next version from the logged sessions and open its review page."""
    try:
        made = records.progress_plan(state.record, user, pseudonym, language=page_language(request))
    except InputError as exc:
        return _refused(request, state, user, pseudonym, exc)
    return RedirectResponse(f"{record_url(pseudonym)}/plans/{made['version']}", status_code=303)


def _refused(
    request: Request, state: StateDep, user: ClinicianUser, pseudonym: str, exc: InputError
) -> Response:
    from spinestab.errors import NotFoundError
    from spinestab.service.app import error_status

    if isinstance(exc, NotFoundError) and exc.item == "patient":
        raise exc
    return record_page(request, state, user, pseudonym, status=error_status(exc), error=str(exc))


@router.get("/patients/{pseudonym}/plans/{version}")
def plan_review(
    pseudonym: str, version: int, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Review a plan version and approve a draft.

    The triage with reasons and sources, the profile, the exercises, the changes of a
    progression.
    """
    import json

    files = records.plan_files(state.record, user, pseudonym, version=version)
    plan = records.current_plan(state.record, user, pseudonym, version=version)
    assert plan is not None
    plan_json = json.loads(files["plan.json"])
    language = page_language(request)
    cards = views.exercise_cards(plan_json, language=language) if plan_json["exercises"] else []
    return render(
        request,
        "clinician/plan.html",
        pseudonym=pseudonym,
        plan=plan,
        plan_json=plan_json,
        triage=json.loads(files["triage.json"]) if "triage.json" in files else None,
        profile=json.loads(files["profile.json"]) if "profile.json" in files else None,
        cards=cards,
        changes=views.progression_changes(plan_json, language=language),
        approved=request.query_params.get("approved") == "1",
        error=None,
    )


@router.post("/patients/{pseudonym}/plans/{version}/approve")
def approve(
    pseudonym: str, version: int, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Approve a draft (it becomes the patient's plan) and go back to its review page."""
    try:
        records.approve_plan(state.record, user, pseudonym, version=version)
    except InputError as exc:
        from spinestab.errors import NotFoundError

        if isinstance(exc, NotFoundError):
            raise
        return _refused(request, state, user, pseudonym, exc)
    return RedirectResponse(f"{record_url(pseudonym)}/plans/{version}?approved=1", status_code=303)


@router.get("/patients/{pseudonym}/plans/{version}/handout")
def handout(pseudonym: str, version: int, state: StateDep, user: ClinicianUser) -> Response:
    """Send the patient handout of a plan version (printable, self-contained HTML)."""
    files = records.plan_files(state.record, user, pseudonym, version=version)
    if "handout.html" not in files:
        raise HTTPException(404, "this plan version has no handout")
    return HTMLResponse(files["handout.html"], headers={"Content-Security-Policy": HANDOUT_CSP})


# ------------------------------------------------------------------------------ history
@router.get("/patients/{pseudonym}/history")
def history_page(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Show the history and examination form, filled with the latest version.

    The fields are those of ``history.json``.
    """
    from spinestab.service.history_form import fields_from_history, history_fields

    record = records.timeline(state.record, user, pseudonym)
    latest = (record.get("history") or {}).get("data") or {}
    return render(
        request,
        "clinician/history.html",
        pseudonym=pseudonym,
        fields=history_fields(),
        values=fields_from_history(latest),
        version=(record.get("history") or {}).get("version"),
        error=None,
        result=None,
    )


@router.post("/patients/{pseudonym}/history/check")
async def history_check(pseudonym: str, request: Request, user: ClinicianUser) -> Response:
    """Check the history as typed (nothing stored): the result panel."""
    from spinestab.service.history_form import check_history, history_from_fields

    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    lists = {k: form.getlist(k) for k in form}
    try:
        result, error = check_history(history_from_fields(fields, lists)), None
    except InputError as exc:
        result, error = None, str(exc)
    return render(request, "clinician/_history_result.html", result=result, error=error)


@router.post("/patients/{pseudonym}/history")
async def history_save(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Store a new version of the history, or show the form again with the reason."""
    from spinestab.service.history_form import history_fields, history_from_fields

    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    try:
        document = history_from_fields(fields, lists)
        if not document:
            raise InputError(
                "the history form is empty", source="history", expected="at least one field"
            )
        await run_in_threadpool(records.save_history, state.record, user, pseudonym, document)
    except InputError as exc:
        from spinestab.service.app import error_status

        return render(
            request,
            "clinician/history.html",
            status=error_status(exc),
            pseudonym=pseudonym,
            fields=history_fields(),
            values=fields
            | {k: v for k, v in lists.items() if len(v) > 1 or k in ("symptoms", "conditions")},
            version=None,
            error=str(exc),
            result=None,
        )
    return RedirectResponse(f"{record_url(pseudonym)}?saved=history", status_code=303)


# ------------------------------------------------------------------------------ uploads, jobs
@router.post("/patients/{pseudonym}/files")
async def upload_page(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Store an uploaded file (HTMX: answer the uploads list; else back to the record)."""
    from spinestab.service.uploads import store_upload

    form = await request.form()
    kind, upload = form.get("kind"), form.get("file")
    error = None
    try:
        if not isinstance(kind, str) or not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(422, "choose a kind and a file")
        await store_upload(state, user, pseudonym, kind=kind, upload=upload)
    except HTTPException as exc:
        error = str(exc.detail)
    except InputError as exc:
        error = str(exc)
    finally:
        await form.close()
    if not _htmx(request):
        if error:
            return record_page(request, state, user, pseudonym, status=422, error=error)
        return RedirectResponse(
            f"{record_url(pseudonym)}?notice=record.uploaded#files", status_code=303
        )
    uploads = records.list_uploads(state.record, user, pseudonym)
    return render(
        request,
        "clinician/_uploads.html",
        pseudonym=pseudonym,
        uploads=uploads,
        upload_error=error,
        uploaded=error is None,
    )


def _analysis_files(form: Any) -> list[dict[str, Any] | int]:
    """Return the files ticked for an analysis, with a role where one was chosen."""
    chosen: list[dict[str, Any] | int] = []
    for value in form.getlist("file"):
        try:
            file_id = int(value)
        except (TypeError, ValueError):
            raise InputError("a file is named by its id", item="file") from None
        role = form.get(f"role.{file_id}")
        chosen.append({"id": file_id, "role": role} if role else file_id)
    return chosen


@router.post("/patients/{pseudonym}/analyses")
async def start_analysis_page(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Start an analysis of the ticked uploads (HTMX: answer the jobs list)."""
    from spinestab.service.analyses import submit_analysis

    form = await request.form()
    error = None
    try:
        kind = str(form.get("kind") or "")
        options: dict[str, Any] = {}
        labels = str(form.get("labels") or "").strip()
        if kind == "mri" and labels:
            options["labels"] = labels
        await run_in_threadpool(
            submit_analysis,
            state,
            user,
            pseudonym,
            kind=kind,
            files=_analysis_files(form),
            options=options,
        )
    except InputError as exc:
        error = str(exc)
    if not _htmx(request):
        if error:
            return record_page(request, state, user, pseudonym, status=422, error=error)
        return RedirectResponse(
            f"{record_url(pseudonym)}?notice=record.job_started#jobs", status_code=303
        )
    response = render(
        request,
        "clinician/_jobs.html",
        pseudonym=pseudonym,
        jobs=_jobs(state, pseudonym),
        job_error=error,
    )
    if error is None:
        response.headers["HX-Trigger"] = "analysis-started"
    return response


@router.get("/patients/{pseudonym}/jobs")
def jobs_partial(
    pseudonym: str, request: Request, state: StateDep, user: ClinicianUser
) -> Response:
    """Show the patient's analysis jobs with their progress (HTMX polls while one runs)."""
    records.list_uploads(state.record, user, pseudonym)  # 404 for an unknown patient
    return render(
        request,
        "clinician/_jobs.html",
        pseudonym=pseudonym,
        jobs=_jobs(state, pseudonym),
        job_error=None,
        today=dt.date.today(),
    )
