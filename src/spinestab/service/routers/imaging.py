"""``/api/v1/patients/{pseudonym}/imaging``: image series, volumes, mask versions, analyses.

The viewer reads a series' image (``.../volume``) and masks (``.../mask``) as NIfTI, saves a
drawn or corrected mask (``POST .../mask``: the next mask version, then its analysis as a
job), and asks for a new analysis with confirmed or corrected level names
(``POST .../analyses``). Handlers map HTTP to the record's services
(:mod:`spinestab.record.image_series`) and the job table; no analysis happens here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from spinestab.errors import (
    AlreadyStoredError,
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
)
from spinestab.service.deps import ClinicianUser, MaybeUser, StateDep
from spinestab.service.nifti_http import (
    NIFTI,
    MaskGetQuery,
    VolumeGetQuery,
    etag_of,
    nifti_response,
    nifti_transfer_gzip,
    not_modified,
)

__all__ = ["actor_of", "record_call", "router", "unit_of_work"]

router = APIRouter(prefix="/patients/{pseudonym}/imaging", tags=["imaging"])

T = TypeVar("T")
#: Most files in one uploaded series (a DICOM series is one file per slice).
MAX_SERIES_FILES = 5000


def unit_of_work(state: StateDep, _user: MaybeUser) -> Iterator[Any]:
    """Yield the record's unit of work for one request (an ``IMMEDIATE`` transaction).

    Resolved after the login check (which ends the request's own transaction): every
    imaging route reads and writes in one unit of work that takes SQLite's write lock at its
    start, as the record's services do. Even reads write (the audit of every read), and a
    read transaction turned into a write while a background job writes would fail at once.

    FastAPI enters and leaves a dependency with ``yield`` in different threads, so this unit
    of work cannot hold the process's SQLite turn (:mod:`spinestab.service.turns`: a lock a
    thread owns): it is the plain record's, and on SQLite it waits on the database's busy
    timeout as the CLI and the job workers do.
    """
    from spinestab.record import Record

    with Record.unit_of_work(state.record) as uow:
        yield uow


UowDep = Annotated[Any, Depends(unit_of_work, scope="function")]


def actor_of(user: Any) -> Any:
    """Return the record's actor for a logged-in clinician."""
    from spinestab.record import Actor

    return Actor(username=user.username, role="clinician")


def record_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a record service; its refusals become 404, 409 or 403 (422 for other bad input)."""
    try:
        return fn(*args, **kwargs)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except (AlreadyStoredError, ConflictError) as exc:
        raise HTTPException(409, str(exc)) from None
    except RefusedError as exc:
        raise HTTPException(403, str(exc)) from None


def submit(
    uow: Any,
    state: Any,
    background: BackgroundTasks,
    *,
    kind: str,
    params: dict[str, Any],
    user: Any,
    pseudonym: str,
) -> str:
    """Queue a job in the unit of work (committed with it); wake the workers afterwards."""
    from spinestab.service.jobs import submit_job

    job = submit_job(
        uow.session,
        kind=kind,
        params=params,
        actor=user.username,
        patient=pseudonym,
        registry=state.registry,
    )
    if state.pool is not None:
        background.add_task(state.pool.notify)
    return job.id


@router.get("")
def list_studies(pseudonym: str, uow: UowDep, user: ClinicianUser) -> list[dict[str, Any]]:
    """List the patient's image series with their mask versions."""
    from spinestab.record.image_series import list_series

    rows = record_call(list_series, uow, actor_of(user), pseudonym)
    return [r.model_dump(mode="json") for r in rows]


def _save_uploads(files: list[UploadFile], folder: Path) -> Path:
    """Write uploaded files to ``folder``; return the NIfTI file or the DICOM folder."""
    if not files:
        raise InputError("no image file", item="image", expected="a NIfTI file or DICOM files")
    if len(files) > MAX_SERIES_FILES:
        raise InputError(
            "too many files", item="image", value=len(files), expected=f"<= {MAX_SERIES_FILES}"
        )
    names = [Path(f.filename or f"file{i}").name or f"file{i}" for i, f in enumerate(files)]
    nifti = [n for n in names if n.lower().endswith((".nii", ".nii.gz"))]
    if nifti and len(files) > 1:
        raise InputError(
            "one NIfTI file, or the files of one DICOM series", item="image", value=len(files)
        )
    target = folder / "image"
    target.mkdir()
    for index, (upload, name) in enumerate(zip(files, names, strict=True)):
        path = target / (name if nifti else f"{index:05d}_{name}")
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
    return target / names[0] if nifti else target


def _save_mask_upload(mask: UploadFile, folder: Path) -> Path:
    name = Path(mask.filename or "mask.nii.gz").name
    if not name.lower().endswith((".nii", ".nii.gz")):
        raise InputError(
            "the mask must be a NIfTI file", item="mask", value=name, expected=".nii or .nii.gz"
        )
    path = folder / ("mask" + (".nii.gz" if name.lower().endswith(".gz") else ".nii"))
    with path.open("wb") as out:
        shutil.copyfileobj(mask.file, out)
    return path


class SeriesForm(BaseModel):
    """The form fields of a series upload (besides the files)."""

    labels: str = Field(default="musclemap", max_length=64)
    mask_method: str = Field(default="imported", max_length=64)
    description: str | None = Field(default=None, max_length=500)


def store_series(
    uow: Any,
    user: Any,
    pseudonym: str,
    files: tuple[list[UploadFile], UploadFile | None],
    form: SeriesForm,
) -> Any:
    """Store an uploaded series (and mask) through the record service; return it."""
    from spinestab.record.image_series import SeriesDetails, add_image_series
    from spinestab.service.imaging_jobs import named_as_uploaded, said_plainly

    image, mask = files
    with tempfile.TemporaryDirectory(prefix="spinestab-upload-") as tmp:
        folder = Path(tmp)
        image_path = _save_uploads(image, folder)
        mask_path = _save_mask_upload(mask, folder) if mask is not None and mask.filename else None
        details = SeriesDetails(
            labels=form.labels, mask_method=form.mask_method, description=form.description or None
        )
        places = {image_path: named_as_uploaded(image_path, image[0].filename)}
        if mask_path is not None and mask is not None:
            places[mask_path] = f"the mask {Path(mask.filename or 'mask').name}"
        with said_plainly(places | {folder: "the upload"}):
            return record_call(
                add_image_series,
                uow,
                actor_of(user),
                pseudonym,
                image_path,
                mask=mask_path,
                details=details,
            )


@router.post("", status_code=201)
def add_study(
    pseudonym: str,
    uow: UowDep,
    state: StateDep,
    user: ClinicianUser,
    background: BackgroundTasks,
    image: Annotated[
        list[UploadFile], File(description="A NIfTI file, or the files of one DICOM series")
    ],
    mask: Annotated[
        UploadFile | None, File(description="Muscle mask (NIfTI) on the image grid")
    ] = None,
    form: Annotated[SeriesForm, Form()] = SeriesForm(),  # noqa: B008 - FastAPI's form model
) -> dict[str, Any]:
    """Add an MRI/CT series (and a mask, analysed at once as a job) -> 201 ``{"study": id}``."""
    series = store_series(uow, user, pseudonym, (image, mask), form)
    out: dict[str, Any] = {"study": series.id, "mask_version": None, "job_id": None}
    if series.mask_versions:
        out["mask_version"] = series.mask_versions[-1].version
        out["job_id"] = submit(
            uow,
            state,
            background,
            kind="mri_mask",
            params={"series": series.id, "mask_version": out["mask_version"]},
            user=user,
            pseudonym=pseudonym,
        )
    return out


@router.get("/{study}")
def show_study(pseudonym: str, study: int, uow: UowDep, user: ClinicianUser) -> dict[str, Any]:
    """Return the viewer's state: the series, mask versions, colours, every analysis."""
    from spinestab.service.imaging_state import series_state

    return record_call(series_state, uow, actor_of(user), pseudonym, study)


@router.get("/{study}/volume", response_class=Response, responses={200: {"content": {NIFTI: {}}}})
def get_volume(
    pseudonym: str,
    study: int,
    request: Request,
    uow: UowDep,
    user: ClinicianUser,
    query: Annotated[VolumeGetQuery, Query()],
) -> Response:
    """Return the series' image as NIfTI (``.nii.gz``; DICOM converted on the server)."""
    from spinestab.record.image_series import volume_bytes

    data = record_call(volume_bytes, uow, actor_of(user), pseudonym, study)
    disposition = f'attachment; filename="study{study}.nii.gz"'
    if query.transfer == "http":
        return nifti_transfer_gzip(request, data, {"Content-Disposition": disposition})
    return nifti_response(request, data, etag_of(data), {"Content-Disposition": disposition})


@router.get("/{study}/mask", response_class=Response, responses={200: {"content": {NIFTI: {}}}})
def get_mask(
    pseudonym: str,
    study: int,
    request: Request,
    uow: UowDep,
    user: ClinicianUser,
    query: Annotated[MaskGetQuery, Query()],
) -> Response:
    """Return a mask version as NIfTI on the series' grid (or cropped); 404 when there is none."""
    from spinestab.imaging.viewer import crop_to_labels, read_nifti_bytes, volume_to_nifti
    from spinestab.record.image_series import mask_bytes

    number, data = record_call(mask_bytes, uow, actor_of(user), pseudonym, study, query.version)
    suffix = "_cropped" if query.crop else ""
    headers = {
        "Content-Disposition": (
            f'attachment; filename="study{study}_mask_v{number}{suffix}.nii.gz"'
        ),
        "X-Mask-Version": str(number),
    }
    etag = etag_of(data, "crop" if query.crop else "")
    if query.crop and not_modified(request, etag) is None:
        box = crop_to_labels(read_nifti_bytes(data, source="mask", as_labels=True))
        headers |= {
            "X-Mask-Crop-Origin": ",".join(str(v) for v in box.origin),
            "X-Mask-Full-Shape": ",".join(str(v) for v in box.full_shape),
        }
        data = volume_to_nifti(box.volume, labels=True)
    return nifti_response(request, data, etag, headers)


async def _mask_body(request: Request) -> tuple[bytes, dict[str, str]]:
    """Return the mask bytes and form fields (multipart field ``mask``, or a raw body)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        try:
            upload = form.get("mask")
            if upload is None or isinstance(upload, str):
                raise InputError(
                    "no mask file", item="mask", expected="a multipart field 'mask' (NIfTI)"
                )
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            return await upload.read(), fields
        finally:
            await form.close()
    return await request.body(), {}


class MaskQuery(BaseModel):
    """Where a saved mask was drawn from, a note, and the slice levels for its analysis."""

    from_version: int | None = Field(default=None, ge=1)
    note: str | None = Field(default=None, max_length=2000)
    slice_levels: str | None = Field(
        default=None,
        max_length=4000,
        description='Level names by slice for the analysis, JSON {"L4": [first, last]} '
        "(0-based, inclusive; as spinestab mri --levels-table)",
    )


def checked_slice_levels(
    uow: Any, user: Any, pseudonym: str, study: int, table: dict[str, Any] | None
) -> dict[str, list[int]] | None:
    """Check a slice table against the series' grid (422 now, not in the job)."""
    from spinestab.imaging.viewer import check_slice_levels
    from spinestab.record.image_series import get_series

    if table is None:
        return None
    series = record_call(get_series, uow, actor_of(user), pseudonym, study)
    return {k: list(v) for k, v in check_slice_levels(table, series.geometry).items()}


@router.post(
    "/{study}/mask",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"mask": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def save_mask(
    pseudonym: str,
    study: int,
    request: Request,
    uow: UowDep,
    state: StateDep,
    user: ClinicianUser,
    background: BackgroundTasks,
    query: Annotated[MaskQuery, Query()],
) -> dict[str, Any]:
    """Save a drawn or corrected mask (NIfTI) as the next mask version; analyse it as a job.

    ``from_version``: the version it was drawn from (the new one is ``edited``); without it
    the new version is ``manual``. 422 (nothing stored) for a mask off the series' grid,
    unknown labels, no muscle, or no change.
    """
    from spinestab.record.image_series import save_mask_version

    data, fields = await _mask_body(request)
    from_version, note = query.from_version, query.note
    if from_version is None and fields.get("from_version"):
        try:
            from_version = int(fields["from_version"])
        except ValueError:
            raise InputError("from_version is not a number", item="from_version") from None
    note = note or fields.get("note") or None
    from spinestab.service.imaging_state import slice_levels_json

    slice_levels = checked_slice_levels(
        uow,
        user,
        pseudonym,
        study,
        slice_levels_json(query.slice_levels or fields.get("slice_levels")),
    )
    version = await run_in_threadpool(
        record_call,
        save_mask_version,
        uow,
        actor_of(user),
        pseudonym,
        study,
        data,
        from_version=from_version,
        note=note,
    )
    job_id = submit(
        uow,
        state,
        background,
        kind="mri_mask",
        params={"series": study, "mask_version": version.version}
        | ({"slice_levels": slice_levels} if slice_levels else {}),
        user=user,
        pseudonym=pseudonym,
    )
    return version.model_dump(mode="json") | {"job_id": job_id}


class AnalysisIn(BaseModel):
    """A new analysis of one mask version (e.g. after confirming or correcting level names)."""

    mask_version: int | None = Field(default=None, ge=1)
    level_names: dict[str, Any] | None = Field(
        default=None,
        description='{"rename": {"L5": "L1"}} corrects the names (an anchor: the vertebra '
        'named L5 is L1); {"rename": {}} confirms them as they are.',
    )
    slice_levels: dict[str, list[int]] | None = Field(
        default=None,
        description='Level names by slice, {"L4": [first, last]} (0-based, inclusive; as '
        "spinestab mri --levels-table): for a series whose mask names no vertebrae",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="More MRI options")


@router.post("/{study}/analyses", status_code=202)
def analyse_study(
    pseudonym: str,
    study: int,
    body: AnalysisIn,
    uow: UowDep,
    state: StateDep,
    user: ClinicianUser,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Analyse a mask version again (level names confirmed or corrected) -> 202 ``{"job_id"}``."""
    from spinestab.imaging.options import LevelNames, MriOptions
    from spinestab.record.image_series import get_series

    series = record_call(get_series, uow, actor_of(user), pseudonym, study)
    numbers = [v.version for v in series.mask_versions]
    if not numbers:
        raise HTTPException(409, "this study has no mask yet: draw or import one first")
    version = body.mask_version or numbers[-1]
    if version not in numbers:
        raise HTTPException(404, f"unknown mask version {version}")
    if body.level_names is not None:
        LevelNames(rename=dict(body.level_names.get("rename") or {}))  # 422 now, not in the job
    from spinestab.service.imaging_state import check_browser_options

    check_browser_options(body.options)
    MriOptions.from_mapping({**body.options, "labels": series.labels})
    slice_levels = checked_slice_levels(uow, user, pseudonym, study, body.slice_levels)
    params = {
        "series": study,
        "mask_version": version,
        "level_names": body.level_names,
        "options": body.options,
    } | ({"slice_levels": slice_levels} if slice_levels else {})
    return {
        "job_id": submit(
            uow,
            state,
            background,
            kind="mri_mask",
            params=params,
            user=user,
            pseudonym=pseudonym,
        )
    }


@router.get("/{study}/files/{file_id}", response_class=Response)
def get_file(
    pseudonym: str, study: int, file_id: int, uow: UowDep, user: ClinicianUser
) -> Response:
    """Return a file of the series' analyses: a QA picture (PNG) or the fat overlay."""
    from spinestab.record.series_analyses import analysis_file

    role, _name, data = record_call(analysis_file, uow, actor_of(user), pseudonym, study, file_id)
    media = "image/png" if role == "qa_picture" else NIFTI
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=3600"})
