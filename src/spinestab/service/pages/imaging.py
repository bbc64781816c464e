"""Imaging pages: the series list and uploads, the viewer, the landmark tool, instability.

The pages are shells: the viewer and the landmark tool are the vendored NiiVue and the
page scripts in ``static/imaging/``, which call the ``/api/v1`` imaging routes. Uploads from
the page forms go through the same record services as the API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from spinestab.core.levels import MOBILE_LEVELS
from spinestab.errors import InputError
from spinestab.imaging.labels import MUSCLES
from spinestab.service.deps import ClinicianUser, StateDep
from spinestab.service.i18n import messages
from spinestab.service.pages.render import page_language, render
from spinestab.service.routers.imaging import (
    SeriesForm,
    UowDep,
    actor_of,
    record_call,
    store_series,
    submit,
)

__all__ = ["router"]

router = APIRouter()

#: Keys of the page text the scripts need, sent as JSON in a data attribute (no inline script).
VIEWER_TEXT = (
    "slice", "loading", "loading_mask", "saving", "saved", "analysing", "analysed", "job_failed",
    "no_mask", "no_result", "new_drawing", "version_line", "result_line", "mask_short",
    "showing_level", "pick_label", "nothing_drawn", "draw_first", "mask_not_loaded",
    "levels_assumed", "levels_doubtful", "levels_confirmed", "levels_named", "levels_none",
    "levels_done", "level_pair_needed", "qa_picture", "fat_map", "fat_classes", "side_left",
    "side_right", "side_none", "slice_levels_line", "slice_levels_by", "slice_range_bad",
    "slice_overlap", "slice_none", "slice_remove", "edited_slices",
    "level_mark_assumed", "level_mark_doubtful",
)  # fmt: skip
LANDMARK_TEXT = (
    "calibration_start", "calibration_length", "calibrated", "landmarks_saved", "scale_line",
    "no_scale", "film_not_loaded", "point_anterior_superior", "point_posterior_superior",
    "point_posterior_inferior", "point_anterior_inferior", "point_mid_superior",
    "point_mid_inferior",
)  # fmt: skip
#: Study flags (``summary.json``'s ``flags``, ``NAME`` or ``NAME:DETAIL``) the viewer shows
#: in words (``imaging_flag.NAME`` in the catalogues); an unknown one is shown as its code.
FLAG_NAMES = (
    "level_names_assumed", "level_names_doubtful", "laterality_suspect", "absent_from_mask",
    "fat_classes_weakly_separated", "level_truncated_by_field_of_view", "nan_voxels",
    "fat_undefined_voxels", "no_vertebral_body_at_level",
)  # fmt: skip
#: Level names offered for levels marked by slice in the viewer (lower thoracic to sacral).
SLICE_LEVEL_NAMES = ("T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")
#: Levels offered in the landmark tool (cervical to sacral).
TOOL_LEVELS = tuple(v for v in MOBILE_LEVELS if v != "C1")


def _texts(request: Request, keys: tuple[str, ...], prefix: str) -> str:
    t = messages(page_language(request))
    return json.dumps({k: t(f"{prefix}.{k}") for k in keys}, ensure_ascii=False)


def _api(pseudonym: str) -> str:
    from urllib.parse import quote

    return f"/api/v1/patients/{quote(pseudonym, safe='')}"


@router.get("/patients/{pseudonym}/imaging")
def imaging_page(pseudonym: str, request: Request, uow: UowDep, user: ClinicianUser) -> Response:
    """Show the patient's image series and films, with the upload forms."""
    from spinestab.record.image_series import list_series
    from spinestab.record.radiographs import list_radiographs
    from spinestab.service.routers.radiographs import instability_state

    actor = actor_of(user)
    series = record_call(list_series, uow, actor, pseudonym)
    films = record_call(list_radiographs, uow, actor, pseudonym)
    studies = record_call(instability_state, uow, actor, pseudonym)
    return render(
        request,
        "imaging/index.html",
        pseudonym=pseudonym,
        series=series,
        films=films,
        studies=studies,
        error=request.query_params.get("error"),
    )


def _go(request: Request, target: str) -> Response:
    """Redirect after a form post (HTMX posts get ``HX-Redirect``: they show progress)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _back(request: Request, pseudonym: str, error: Exception | None = None) -> Response:
    from urllib.parse import quote

    target = f"/patients/{quote(pseudonym, safe='')}/imaging"
    if error is not None:
        target += "?error=" + quote(str(error)[:500], safe="")
    return _go(request, target)


@router.post("/patients/{pseudonym}/imaging")
def upload_series_page(
    pseudonym: str,
    request: Request,
    uow: UowDep,
    state: StateDep,
    user: ClinicianUser,
    image: Annotated[list[UploadFile], File()],
    mask: Annotated[UploadFile | None, File()] = None,
    form: Annotated[SeriesForm, Form()] = SeriesForm(),  # noqa: B008 - FastAPI's form model
) -> Response:
    """Store an uploaded series (and mask), analyse the mask, open the viewer."""
    from urllib.parse import quote

    from fastapi import BackgroundTasks, HTTPException

    background = BackgroundTasks()
    try:
        series = store_series(uow, user, pseudonym, (image, mask), form)
    except (InputError, HTTPException) as exc:
        return _back(
            request, pseudonym, exc if isinstance(exc, InputError) else Exception(exc.detail)
        )
    if series.mask_versions:
        submit(
            uow,
            state,
            background,
            kind="mri_mask",
            params={"series": series.id, "mask_version": series.mask_versions[-1].version},
            user=user,
            pseudonym=pseudonym,
        )
    response = _go(request, f"/patients/{quote(pseudonym, safe='')}/imaging/{series.id}")
    response.background = background
    return response


@router.get("/patients/{pseudonym}/imaging/{study}")
def viewer_page(
    pseudonym: str, study: int, request: Request, uow: UowDep, user: ClinicianUser
) -> Response:
    """Show the viewer: image, mask versions as an editable overlay, per-level table, QA."""
    from spinestab.record.image_series import get_series

    series = record_call(get_series, uow, actor_of(user), pseudonym, study)
    return render(
        request,
        "imaging/viewer.html",
        pseudonym=pseudonym,
        series=series,
        api=f"{_api(pseudonym)}/imaging/{study}",
        viewer_text=_texts(request, VIEWER_TEXT, "viewer"),
        flag_text=_texts(request, FLAG_NAMES, "imaging_flag"),
        muscle_text=_texts(request, MUSCLES, "result.muscle"),
        slice_level_names=SLICE_LEVEL_NAMES,
    )


@router.post("/patients/{pseudonym}/radiographs")
def upload_film_page(
    pseudonym: str,
    request: Request,
    uow: UowDep,
    user: ClinicianUser,
    file: Annotated[UploadFile, File()],
    view: Annotated[str, Form(max_length=16)],
    pixel_spacing_mm: Annotated[str, Form(max_length=32)] = "",
    magnification_corrected: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Store an uploaded film and open the landmark tool on it."""
    from urllib.parse import quote

    from spinestab.record.radiographs import FilmDetails, add_radiograph

    try:
        spacing = float(pixel_spacing_mm) if pixel_spacing_mm.strip() else None
    except ValueError:
        return _back(
            request, pseudonym, InputError("pixel spacing is not a number", value=pixel_spacing_mm)
        )
    try:
        details = FilmDetails(
            view=view,
            name=file.filename,
            pixel_spacing_mm=spacing,
            magnification_corrected=magnification_corrected in ("on", "true", "1"),
        )
        film = add_radiograph(uow, actor_of(user), pseudonym, file.file.read(), details)
    except InputError as exc:
        return _back(request, pseudonym, exc)
    return _go(request, f"/patients/{quote(pseudonym, safe='')}/radiographs/{film.id}")


@router.get("/patients/{pseudonym}/radiographs/{id}")
def landmark_page(
    pseudonym: str, id: int, request: Request, uow: UowDep, user: ClinicianUser
) -> Response:
    """Show the landmark tool on one film: corners, mid-points, magnifier, calibration."""
    from spinestab.record.radiographs import get_radiograph

    film = record_call(get_radiograph, uow, actor_of(user), pseudonym, id)
    return render(
        request,
        "imaging/landmarks.html",
        pseudonym=pseudonym,
        film=film,
        api=f"{_api(pseudonym)}/radiographs/{id}",
        levels=json.dumps(TOOL_LEVELS),
        all_levels=TOOL_LEVELS,
        landmark_text=_texts(request, LANDMARK_TEXT, "landmarks"),
    )


@router.get("/patients/{pseudonym}/instability")
def instability_page(
    pseudonym: str,
    request: Request,
    uow: UowDep,
    user: ClinicianUser,
) -> Response:
    """Instability and morphometry of each reader's landmarks, and two readers compared."""
    from spinestab.service.routers.radiographs import compare_studies, instability_state

    actor = actor_of(user)
    studies = record_call(instability_state, uow, actor, pseudonym)
    comparison: dict[str, Any] | None = None
    first, second = request.query_params.get("first"), request.query_params.get("second")
    if first and second and first.isdigit() and second.isdigit():
        comparison = record_call(compare_studies, uow, actor, pseudonym, int(first), int(second))
    elif len({s["reader"] for s in studies}) >= 2:
        latest: dict[str, int] = {}
        for s in studies:
            latest[s["reader"]] = s["id"]
        ids = sorted(latest.values())[-2:]
        comparison = record_call(compare_studies, uow, actor, pseudonym, ids[0], ids[1])
    return render(
        request,
        "imaging/instability.html",
        pseudonym=pseudonym,
        studies=studies,
        comparison=comparison,
        api=_api(pseudonym),
    )
