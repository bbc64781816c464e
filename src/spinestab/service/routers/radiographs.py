"""``/api/v1/patients/{pseudonym}/radiographs`` and ``.../instability``: the landmark tool's API.

Films (DICOM CR/DX, PNG, JPEG) with their view and scale; landmarks per reader as numbered
versions in the landmark JSON schema (``POST .../radiographs/{id}/landmarks``); the
instability analysis of one reader's landmarks as a job; a second reader's result compared
with the first, measure by measure. Handlers call :mod:`spinestab.record.radiographs` only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from spinestab.service.deps import ClinicianUser, StateDep
from spinestab.service.routers.imaging import UowDep, actor_of, record_call, submit

__all__ = ["instability_router", "router"]

router = APIRouter(prefix="/patients/{pseudonym}/radiographs", tags=["radiographs"])
instability_router = APIRouter(prefix="/patients/{pseudonym}/instability", tags=["radiographs"])


@router.get("")
def list_films(pseudonym: str, uow: UowDep, user: ClinicianUser) -> list[dict[str, Any]]:
    """List the patient's films with their scale and landmark versions."""
    from spinestab.record.radiographs import list_radiographs

    return [
        f.model_dump(mode="json")
        for f in record_call(list_radiographs, uow, actor_of(user), pseudonym)
    ]


@router.post("", status_code=201)
def add_film(
    pseudonym: str,
    uow: UowDep,
    user: ClinicianUser,
    file: Annotated[UploadFile, File(description="DICOM CR/DX, PNG or JPEG")],
    view: Annotated[str, Form(description="neutral, flexion or extension")],
    pixel_spacing_mm: Annotated[float | None, Form(gt=0, le=5)] = None,
    magnification_corrected: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Add a lateral film -> 201 ``{"id": ...}`` with its scale (or none: calibrate it next)."""
    from spinestab.record.radiographs import FilmDetails, add_radiograph

    details = FilmDetails(
        view=view,
        name=file.filename,
        pixel_spacing_mm=pixel_spacing_mm,
        magnification_corrected=magnification_corrected,
    )
    film = record_call(add_radiograph, uow, actor_of(user), pseudonym, file.file.read(), details)
    return film.model_dump(mode="json")


@router.get("/{id}")
def show_film(pseudonym: str, id: int, uow: UowDep, user: ClinicianUser) -> dict[str, Any]:
    """Return a film, its scale and landmark versions (``mine``: placed by this user)."""
    from spinestab.record.radiographs import get_radiograph

    film = record_call(get_radiograph, uow, actor_of(user), pseudonym, id).model_dump(mode="json")
    for version in film["landmark_versions"]:
        version["mine"] = version["reader"] == user.username
    return film


@router.get("/{id}/image", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def film_image(pseudonym: str, id: int, uow: UowDep, user: ClinicianUser) -> Response:
    """Return the film as PNG, one PNG pixel per film pixel (the landmarks' frame)."""
    from spinestab.record.radiographs import film_png

    data = record_call(film_png, uow, actor_of(user), pseudonym, id)
    return Response(
        data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


class CalibrationIn(BaseModel):
    """Two points on a calibration object and its true size."""

    start_px: list[float] = Field(min_length=2, max_length=2)
    end_px: list[float] = Field(min_length=2, max_length=2)
    length_mm: float


@router.post("/{id}/calibration")
def calibrate(
    pseudonym: str, id: int, body: CalibrationIn, uow: UowDep, user: ClinicianUser
) -> dict[str, Any]:
    """Scale the film by a calibration object of known size marked on it."""
    from spinestab.record.radiographs import calibrate_radiograph

    film = record_call(
        calibrate_radiograph,
        uow,
        actor_of(user),
        pseudonym,
        id,
        start_px=body.start_px,
        end_px=body.end_px,
        length_mm=body.length_mm,
    )
    return film.model_dump(mode="json")


class LandmarksIn(BaseModel):
    """The ``vertebrae`` object of a landmark file (film pixels), and a remark."""

    vertebrae: dict[str, Any]
    comment: str | None = Field(default=None, max_length=2000)


@router.post("/{id}/landmarks", status_code=201)
def save_landmarks(
    pseudonym: str, id: int, body: LandmarksIn, uow: UowDep, user: ClinicianUser
) -> dict[str, Any]:
    """Store this reader's landmarks on the film as its next landmark version -> 201.

    The stored JSON is a landmark file of ``spinestab instability`` (the film's view and
    scale on top). 422 with the landmark reader's message (nothing stored) for bad points,
    or when the film has no scale yet.
    """
    from spinestab.record.radiographs import save_landmarks as store

    saved = record_call(
        store, uow, actor_of(user), pseudonym, id, body.vertebrae, comment=body.comment
    )
    return saved.model_dump(mode="json")


class InstabilityIn(BaseModel):
    """Which reader's landmarks to analyse, and the threshold set."""

    reader: str | None = Field(default=None, max_length=128, description="Default: you")
    thresholds: str | None = Field(default=None, max_length=64)


@instability_router.post("", status_code=202)
def analyse_landmarks(
    pseudonym: str,
    body: InstabilityIn,
    uow: UowDep,
    state: StateDep,
    user: ClinicianUser,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Run the instability analysis (and morphometry) on one reader's latest landmarks -> 202."""
    from spinestab.instability import load_threshold_set
    from spinestab.record.landmark_studies import reader_landmarks

    reader = body.reader or user.username
    record_call(reader_landmarks, uow, actor_of(user), pseudonym, reader=reader)
    if body.thresholds:
        load_threshold_set(body.thresholds)
    params = {"reader": reader, "thresholds": body.thresholds}
    job = submit(
        uow,
        state,
        background,
        kind="instability_landmarks",
        params=params,
        user=user,
        pseudonym=pseudonym,
    )
    return {"job_id": job}


def instability_state(uow: Any, actor: Any, pseudonym: str) -> list[dict[str, Any]]:
    """Return the landmark tool's instability studies, oldest first (an audited read)."""
    from urllib.parse import quote

    from spinestab.record.landmark_studies import landmark_studies

    out = []
    for study in landmark_studies(uow, actor, pseudonym):
        view = study.model_dump(mode="json")
        base = f"/api/v1/patients/{quote(pseudonym, safe='')}/instability/{study.id}/files"
        view["pictures"] = [p | {"url": f"{base}/{p['id']}"} for p in view["pictures"]]
        out.append(view)
    return out


@instability_router.get("")
def list_instability(pseudonym: str, uow: UowDep, user: ClinicianUser) -> list[dict[str, Any]]:
    """List the instability studies made from landmark versions (morphometry, pictures)."""
    return record_call(instability_state, uow, actor_of(user), pseudonym)


def compare_studies(
    uow: Any, actor: Any, pseudonym: str, first: int, second: int
) -> dict[str, Any]:
    """Return two readers' studies side by side: differences per measure (mm, deg, %)."""
    from spinestab.errors import NotFoundError
    from spinestab.instability.readers import MORPHOMETRY_MEASURES, compare_readers

    studies = {s["id"]: s for s in instability_state(uow, actor, pseudonym)}
    for number in (first, second):
        if number not in studies:
            raise NotFoundError("unknown instability study", item="study", value=number)
    a, b = studies[first], studies[second]
    out = {
        "first": {"id": first, "reader": a["reader"]},
        "second": {"id": second, "reader": b["reader"]},
        "instability": compare_readers(a["result"]["levels"], b["result"]["levels"]).to_dict(),
    }
    if a["morphometry"] and b["morphometry"]:
        out["morphometry"] = compare_readers(
            a["morphometry"]["vertebrae"],
            b["morphometry"]["vertebrae"],
            measures=MORPHOMETRY_MEASURES,
            verdict_key="genant_grade",
        ).to_dict()
    return out


@instability_router.get("/compare")
def compare(
    pseudonym: str,
    uow: UowDep,
    user: ClinicianUser,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """Two readers' results: the difference per level and measure, and the verdicts."""
    return record_call(compare_studies, uow, actor_of(user), pseudonym, first, second)


@instability_router.get("/{study}/files/{file_id}", response_class=Response)
def study_file(
    pseudonym: str, study: int, file_id: int, uow: UowDep, user: ClinicianUser
) -> Response:
    """Return a picture of an instability study: the overlay or a morphometry picture."""
    from spinestab.record.landmark_studies import study_picture

    data = record_call(study_picture, uow, actor_of(user), pseudonym, study, file_id)
    return Response(data, media_type="image/png")
