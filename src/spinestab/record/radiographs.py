"""Radiographs and the landmarks readers place on them: the record side of the landmark tool.

A radiograph is a lateral film (neutral, flexion or extension) with its scale: where the
pixel spacing came from and whether magnification is corrected. Every set of landmarks a
reader places on a film is a numbered, immutable **landmark version** in the landmark JSON
schema of ``spinestab instability`` (``units`` px, ``pixel_spacing_mm``, ``view``,
``vertebrae``: four corners and the optional endplate mid-points). The analysis of a reader's
films is an instability study whose options name the landmark versions it used, so every
number leads to a landmark version and its reader; a second reader's study is compared with
the first measure by measure (:mod:`spinestab.instability.readers`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from spinestab.errors import AlreadyStoredError, InputError
from spinestab.record._rows import next_number, owned_row, patient_rows, put_bytes
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    current_episode,
    find_patient,
    now,
    service,
    utc,
)
from spinestab.store.imaging_models import LandmarkVersion, Radiograph

__all__ = [
    "FilmDetails",
    "LandmarkVersionOut",
    "RadiographOut",
    "add_radiograph",
    "calibrate_radiograph",
    "film_png",
    "get_radiograph",
    "list_radiographs",
    "save_landmarks",
]

VIEWS = ("neutral", "flexion", "extension")
#: Largest film file accepted (bytes).
MAX_FILM_BYTES = 200_000_000


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class LandmarkVersionOut(_Out):
    """One reader's landmarks on a film."""

    id: int
    radiograph: int
    version: int
    reader: str | None
    created_at: dt.datetime | None
    note: str | None
    landmarks: dict[str, Any]


class RadiographOut(_Out):
    """A film, its scale and its landmark versions."""

    id: int
    view: str
    performed_on: dt.date | None
    kind: str
    modality: str | None
    name: str | None
    rows: int
    columns: int
    pixel_spacing_mm: list[float] | None
    spacing_source: str
    magnification_corrected: bool
    calibration: dict[str, Any] | None
    created_at: dt.datetime | None
    created_by: str | None
    landmark_versions: list[LandmarkVersionOut]


def _check_view(view: str) -> str:
    from spinestab.core.validation import check_choice

    return check_choice("view", str(view).strip().lower(), VIEWS, message="unknown view")


def _landmark_out(row: LandmarkVersion) -> LandmarkVersionOut:
    return LandmarkVersionOut(
        id=row.id,
        radiograph=row.radiograph_id,
        version=row.version,
        reader=row.created_by,
        created_at=utc(row.created_at),
        note=row.note,
        landmarks=row.landmarks,
    )


def _film_out(uow: UnitOfWork, row: Radiograph) -> RadiographOut:
    versions = uow.session.scalars(
        select(LandmarkVersion)
        .where(LandmarkVersion.radiograph_id == row.id)
        .order_by(LandmarkVersion.version)
    ).all()
    return RadiographOut(
        id=row.id,
        view=row.view,
        performed_on=row.performed_on,
        kind=row.kind,
        modality=row.modality,
        name=row.name,
        rows=row.rows,
        columns=row.columns,
        pixel_spacing_mm=row.pixel_spacing_mm,
        spacing_source=row.spacing_source,
        magnification_corrected=row.magnification_corrected,
        calibration=row.calibration,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        landmark_versions=[_landmark_out(v) for v in versions],
    )


def _film(uow: UnitOfWork, patient_id: int, radiograph_id: int) -> Radiograph:
    return owned_row(
        uow, Radiograph, patient_id, radiograph_id, what="radiograph", item="radiograph"
    )


def _apply_scale(row: Radiograph, film: Any) -> None:
    row.pixel_spacing_mm = list(film.pixel_spacing_mm) if film.pixel_spacing_mm else None
    row.spacing_source = film.spacing_source
    row.magnification_corrected = bool(film.magnification_corrected)
    row.calibration = film.meta.get("calibration")


class FilmDetails(_Out):
    """What is said about a film at upload: its view, name and a declared scale."""

    view: str
    name: str | None = None
    pixel_spacing_mm: float | list[float] | None = None
    magnification_corrected: bool = False
    performed_on: dt.date | None = None


@service("create", "radiograph")
def add_radiograph(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    data: bytes,
    details: FilmDetails,
) -> RadiographOut:
    """Add a lateral film (DICOM CR/DX, PNG or JPEG) for one view.

    Raises
    ------
    InputError
        Not a film, unreadable, an unknown view or a bad declared spacing;
        ``AlreadyStoredError`` for the same file twice. Nothing is stored then.

    """
    import hashlib

    from spinestab.instability.radiograph import display_png, read_radiograph

    authorize(actor, pseudonym, patient_may=False)
    view = _check_view(details.view)
    name = details.name
    patient = find_patient(uow, pseudonym, lock=True)
    if len(data) > MAX_FILM_BYTES:
        raise InputError("film file too large", source=name, expected=f"<= {MAX_FILM_BYTES} bytes")
    film = read_radiograph(
        data,
        name=name or "radiograph",
        pixel_spacing_mm=details.pixel_spacing_mm,
        magnification_corrected=details.magnification_corrected,
    )
    digest = hashlib.sha256(bytes(data)).hexdigest()
    existing = uow.session.scalar(
        select(Radiograph.id).where(
            Radiograph.patient_id == patient.id, Radiograph.content_hash == digest
        )
    )
    if existing is not None:
        raise AlreadyStoredError(
            f"this film is already stored for the patient (radiograph {existing})", source=name
        )
    row = Radiograph(
        patient_id=patient.id,
        episode_id=current_episode(uow, actor, patient).id,
        view=view,
        performed_on=details.performed_on,
        kind=film.kind,
        modality=film.modality,
        rows=film.shape[0],
        columns=film.shape[1],
        file_sha256=put_bytes(uow, bytes(data), "application/octet-stream"),
        display_sha256=put_bytes(uow, display_png(film), "image/png"),
        name=(name or None) and str(name)[:255],
        content_hash=digest,
        created_at=now(),
        created_by=actor.username,
        spacing_source="",
    )
    _apply_scale(row, film)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "create", "radiograph", row.id, patient=patient, detail={"view": view})
    return _film_out(uow, row)


@service("update", "radiograph")
def calibrate_radiograph(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    radiograph_id: int,
    *,
    start_px: list[float],
    end_px: list[float],
    length_mm: float,
) -> RadiographOut:
    """Scale a film by a calibration object of known size marked on it.

    Landmark versions stored before keep the scale they were saved with (it is part of
    each version's JSON); new versions take this one.
    """
    from spinestab.instability.radiograph import Calibration, read_radiograph

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    row = _film(uow, patient.id, radiograph_id)
    calibration = Calibration(tuple(start_px), tuple(end_px), length_mm)  # type: ignore[arg-type]
    for point in (calibration.start_px, calibration.end_px):
        if not (-0.5 <= point[0] <= row.columns - 0.5 and -0.5 <= point[1] <= row.rows - 0.5):
            raise InputError(
                "calibration point outside the film",
                item="calibration",
                value=list(point),
                expected=f"within {row.columns} x {row.rows} pixels",
            )
    film = read_radiograph(uow.files().get(row.file_sha256), name=row.name, calibration=calibration)
    _apply_scale(row, film)
    uow.session.flush()
    audit(
        uow,
        actor,
        "update",
        "radiograph",
        row.id,
        patient=patient,
        detail={"calibration": calibration.to_dict()},
    )
    return _film_out(uow, row)


def _check_points(vertebrae: Any, row: Radiograph) -> None:
    if not isinstance(vertebrae, Mapping):
        return  # the landmark parser says what is wrong
    for level, points in vertebrae.items():
        if not isinstance(points, Mapping):
            continue
        for name, point in points.items():
            if not isinstance(point, list | tuple) or len(point) != 2:
                continue
            x, y = point
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in (x, y)):
                continue
            if not (-0.5 <= x <= row.columns - 0.5 and -0.5 <= y <= row.rows - 0.5):
                raise InputError(
                    "landmark outside the film",
                    item=f"{level}.{name}",
                    value=[x, y],
                    expected=f"within {row.columns} x {row.rows} pixels",
                )


@service("create", "landmarks")
def save_landmarks(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    radiograph_id: int,
    vertebrae: Any,
    *,
    comment: str | None = None,
) -> LandmarkVersionOut:
    """Store one reader's landmarks on a film as its next landmark version.

    The film's view and scale make the top of the landmark JSON; ``vertebrae`` is its
    ``vertebrae`` object (four corners per body, S1's inferior ones may be null, optional
    ``mid_superior`` and ``mid_inferior``). Validated as ``spinestab instability`` reads
    landmark files.

    Raises
    ------
    InputError
        A film without a scale (mark a calibration object first), points off the film, or
        anything the landmark reader refuses; nothing is stored then.

    """
    from spinestab.instability import landmarks_from_dict

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    row = _film(uow, patient.id, radiograph_id)
    if row.pixel_spacing_mm is None:
        raise InputError(
            "this film has no scale",
            item="pixel_spacing_mm",
            expected="a calibration object marked on the film, or a declared pixel spacing",
        )
    _check_points(vertebrae, row)
    doc: dict[str, Any] = {
        "units": "px",
        "view": row.view,
        "pixel_spacing_mm": list(row.pixel_spacing_mm),
        "magnification_corrected": bool(row.magnification_corrected),
        "source": f"radiograph {row.id} ({row.name or row.kind}), reader {actor.username}",
        "vertebrae": vertebrae,
    }
    if comment:
        doc["comment"] = str(comment)[:2000]
    landmarks_from_dict(doc, source=f"landmarks on radiograph {row.id}", view=row.view)
    number = next_number(uow, LandmarkVersion.version, LandmarkVersion.radiograph_id == row.id)
    version = LandmarkVersion(
        patient_id=patient.id,
        radiograph_id=row.id,
        version=number,
        landmarks=doc,
        note=(comment or None) and str(comment)[:2000],
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(version)
    uow.session.flush()
    audit(
        uow,
        actor,
        "create",
        "landmarks",
        version.id,
        patient=patient,
        detail={"radiograph": row.id, "version": number},
    )
    return _landmark_out(version)


@service("read", "radiograph")
def get_radiograph(
    uow: UnitOfWork, actor: Actor, pseudonym: str, radiograph_id: int
) -> RadiographOut:
    """Return a film with its scale and landmark versions (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    row = _film(uow, patient.id, radiograph_id)
    audit(uow, actor, "read", "radiograph", row.id, patient=patient)
    return _film_out(uow, row)


@service("read", "radiograph")
def list_radiographs(uow: UnitOfWork, actor: Actor, pseudonym: str) -> list[RadiographOut]:
    """Return the patient's films, oldest first (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    rows = patient_rows(uow, Radiograph, patient.id)
    audit(uow, actor, "read", "radiograph", None, patient=patient)
    return [_film_out(uow, r) for r in rows]


@service("read", "radiograph")
def film_png(uow: UnitOfWork, actor: Actor, pseudonym: str, radiograph_id: int) -> bytes:
    """Return the film as the landmark tool shows it (8-bit PNG, one pixel per film pixel)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    row = _film(uow, patient.id, radiograph_id)
    audit(uow, actor, "read", "radiograph", row.id, patient=patient, detail={"what": "image"})
    return uow.files().get(row.display_sha256)
