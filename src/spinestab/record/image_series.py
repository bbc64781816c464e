"""Image series and their mask versions: the record side of the imaging viewer.

A series is an MRI or CT study in the record: its input files (a NIfTI file or a DICOM
series), the NIfTI the viewer shows (a DICOM series converted once, on the geometry the
analysis measures on), its label scheme, and every muscle mask drawn or imported for it as a
numbered, immutable **mask version** with its author and method (``manual``, ``segmenter
NAME``, ``edited``, ``imported``). An analysis of a series names the mask version it measured
(``options.series``, ``options.mask_version``), so every number leads to a mask and a person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from spinestab.errors import AlreadyStoredError, InputError, NotFoundError
from spinestab.record._rows import next_number, owned_row, patient_rows, put_bytes
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    canonical_hash,
    current_episode,
    find_patient,
    now,
    service,
    store_file,
    utc,
)
from spinestab.store.imaging_models import ImageSeries, MaskVersion

__all__ = [
    "MaskVersionOut",
    "SeriesDetails",
    "SeriesOut",
    "add_image_series",
    "check_mask_method",
    "get_series",
    "list_series",
    "mask_bytes",
    "save_mask_version",
    "volume_bytes",
]

#: Largest single input file of a series (bytes).
MAX_INPUT_BYTES = 2_000_000_000
_SEGMENTER = re.compile(r"^segmenter [A-Za-z0-9_.+-]{1,40}$")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class MaskVersionOut(_Out):
    """One mask version: number, method, author, when, from which version, what changed."""

    id: int
    version: int
    method: str
    author: str | None
    created_at: dt.datetime | None
    parent_version: int | None
    note: str | None
    edit: dict[str, Any] | None
    sha256: str


class SeriesOut(_Out):
    """An image series with its mask versions."""

    id: int
    description: str | None
    performed_on: dt.date | None
    modality: str | None
    source_kind: str
    labels: str
    geometry: dict[str, Any]
    created_at: dt.datetime | None
    created_by: str | None
    mask_versions: list[MaskVersionOut]


def check_mask_method(method: str) -> str:
    """Return a mask method as stored, or refuse it.

    ``manual``, ``edited``, ``imported`` or ``segmenter NAME`` (NAME: letters, digits,
    ``_.+-``).
    """
    text = " ".join(str(method).split())
    if text in ("manual", "edited", "imported") or _SEGMENTER.match(text):
        return text
    raise InputError(
        "unknown mask method",
        item="mask_method",
        value=method,
        expected="manual, edited, imported or 'segmenter NAME' (e.g. segmenter musclemap)",
    )


def _series(uow: UnitOfWork, patient_id: int, series_id: int) -> ImageSeries:
    return owned_row(uow, ImageSeries, patient_id, series_id, what="image series", item="study")


def _versions(uow: UnitOfWork, series_id: int) -> list[MaskVersion]:
    return list(
        uow.session.scalars(
            select(MaskVersion)
            .where(MaskVersion.series_id == series_id)
            .order_by(MaskVersion.version)
        )
    )


def _version_out(row: MaskVersion, numbers: Mapping[int, int]) -> MaskVersionOut:
    return MaskVersionOut(
        id=row.id,
        version=row.version,
        method=row.method,
        author=row.created_by,
        created_at=utc(row.created_at),
        parent_version=numbers.get(row.parent_id) if row.parent_id is not None else None,
        note=row.note,
        edit=row.edit,
        sha256=row.sha256,
    )


def _series_out(uow: UnitOfWork, row: ImageSeries) -> SeriesOut:
    versions = _versions(uow, row.id)
    numbers = {v.id: v.version for v in versions}
    return SeriesOut(
        id=row.id,
        description=row.description,
        performed_on=row.performed_on,
        modality=row.modality,
        source_kind=row.source_kind,
        labels=row.labels,
        geometry=row.geometry,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        mask_versions=[_version_out(v, numbers) for v in versions],
    )


def _input_files(image: Path) -> list[tuple[str, Path]]:
    if image.is_dir():
        files = sorted(p for p in image.rglob("*") if p.is_file())
        if not files:
            raise InputError("the DICOM folder is empty", source=str(image))
        return [(str(p.relative_to(image)), p) for p in files]
    if not image.is_file():
        raise InputError("image not found", source=str(image))
    return [(image.name, image)]


def _date(text: str | None) -> dt.date | None:
    """Return the DICOM series' own date (``Volume.meta["study_date"]``), if its header has one."""
    return dt.date.fromisoformat(text) if text else None


class SeriesDetails(_Out):
    """What is said about a series at upload: its mask's scheme and method, a description.

    ``performed_on``: the day the series was acquired; when not given, a DICOM series' own
    date (StudyDate, else SeriesDate, else AcquisitionDate) is taken.
    """

    labels: str = "musclemap"
    mask_method: str = "imported"
    description: str | None = None
    performed_on: dt.date | None = None


@service("create", "image_series")
def add_image_series(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    image: str | Path,
    *,
    mask: str | Path | None = None,
    details: SeriesDetails | None = None,
) -> SeriesOut:
    """Add an MRI/CT series (a NIfTI file or a DICOM series folder), with a mask if given.

    The image is read as the analysis reads it; the viewer's NIfTI is made from that
    reading, so a mask drawn on it lies on the analysed grid. A mask given here becomes
    mask version 1 (``mask_method``: ``imported`` by default, or ``segmenter NAME``).

    Raises
    ------
    InputError
        Unreadable image or mask, a mask off the image grid or with labels the scheme
        does not know, an unknown scheme or method; ``AlreadyStoredError`` for the same
        files and scheme twice. Nothing is stored then.

    """
    from spinestab.imaging.io import read_volume
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.mask_edit import check_drawn_mask
    from spinestab.imaging.result import Geometry
    from spinestab.imaging.viewer import volume_to_nifti
    from spinestab.store.artifacts import sha256_file

    details = details or SeriesDetails()
    labels, description = details.labels, details.description
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    scheme = get_scheme(labels)
    method = check_mask_method(details.mask_method) if mask is not None else None
    image = Path(image)
    files = _input_files(image)
    volume = read_volume(image)
    placed = None
    if mask is not None:
        placed = check_drawn_mask(read_volume(Path(mask), as_labels=True), volume, scheme)
    digest = canonical_hash(
        {
            "inputs": sorted([name, sha256_file(p).sha256] for name, p in files),
            "labels": scheme.name,
        }
    )
    existing = uow.session.scalar(
        select(ImageSeries.id).where(
            ImageSeries.patient_id == patient.id, ImageSeries.content_hash == digest
        )
    )
    if existing is not None:
        raise AlreadyStoredError(
            f"this image series is already stored for the patient (study {existing})",
            source=image.name,
        )
    geometry = Geometry.of(volume).to_dict()
    row = ImageSeries(
        patient_id=patient.id,
        episode_id=current_episode(uow, actor, patient).id,
        description=(description or image.name)[:500],
        performed_on=details.performed_on or _date(volume.meta.get("study_date")),
        modality=volume.modality if volume.modality in ("CT", "MR") else None,
        source_kind="dicom" if image.is_dir() else "nifti",
        labels=scheme.name if not Path(labels).suffix else str(labels),
        geometry=geometry,
        volume_sha256=put_bytes(uow, volume_to_nifti(volume), "application/gzip"),
        content_hash=digest,
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(row)
    uow.session.flush()
    for name, path in files:
        store_file(
            uow,
            actor,
            patient,
            path,
            entity="image_series",
            entity_id=row.id,
            role="input:image",
            name=name,
        )
    if placed is not None and method is not None:
        _add_version(uow, actor, row, placed, method=method, parent=None, edit=None, note=None)
    audit(
        uow, actor, "create", "image_series", row.id, patient=patient, detail={"files": len(files)}
    )
    return _series_out(uow, row)


def _add_version(
    uow: UnitOfWork,
    actor: Actor,
    series: ImageSeries,
    labels_volume: Any,
    *,
    method: str,
    parent: MaskVersion | None,
    edit: dict[str, Any] | None,
    note: str | None,
) -> MaskVersion:
    from spinestab.imaging.viewer import volume_to_nifti

    number = next_number(uow, MaskVersion.version, MaskVersion.series_id == series.id)
    version = MaskVersion(
        patient_id=series.patient_id,
        series_id=series.id,
        version=number,
        method=method,
        parent_id=parent.id if parent is not None else None,
        sha256=put_bytes(uow, volume_to_nifti(labels_volume, labels=True), "application/gzip"),
        edit=edit,
        note=(note or None) and str(note)[:2000],
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(version)
    uow.session.flush()
    return version


def _image_volume(uow: UnitOfWork, series: ImageSeries) -> Any:
    from spinestab.imaging.viewer import read_nifti_bytes

    return read_nifti_bytes(uow.files().get(series.volume_sha256), source=f"study {series.id}")


@service("create", "mask_version")
def save_mask_version(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    series_id: int,
    data: bytes,
    *,
    from_version: int | None = None,
    note: str | None = None,
) -> MaskVersionOut:
    """Store a mask drawn or corrected in the viewer as the series' next version.

    Parameters
    ----------
    uow : UnitOfWork
        The transaction (with an artifact store).
    actor : Actor
        Who draws (a clinician): the version's author.
    pseudonym : str
        The patient.
    series_id : int
        The image series.
    data : bytes
        The label map as NIfTI (gzip or plain) on the series' grid.
    from_version : int, optional
        The version it was drawn from; the new one is ``edited``. Without it: ``manual``.
    note : str, optional
        The clinician's remark.

    Raises
    ------
    InputError
        Not NIfTI, another grid, labels the scheme does not know, no muscle voxel, or no
        change from ``from_version``; nothing is stored then.

    """
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.mask_edit import check_drawn_mask, edit_method, summarise_edit
    from spinestab.imaging.viewer import read_nifti_bytes

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    series = _series(uow, patient.id, series_id)
    scheme = get_scheme(series.labels)
    image = _image_volume(uow, series)
    drawn = read_nifti_bytes(bytes(data), source="drawn mask", as_labels=True)
    placed = check_drawn_mask(drawn, image, scheme)
    parent = None
    previous = None
    if from_version is not None:
        parent = _version(uow, series.id, from_version)
        previous = read_nifti_bytes(uow.files().get(parent.sha256), source="mask", as_labels=True)
    edit = summarise_edit(
        None if previous is None else previous.data, placed.data, scheme=scheme, affine=image.affine
    )
    method = edit_method(None if parent is None else parent.method, edit)
    version = _add_version(
        uow, actor, series, placed, method=method, parent=parent, edit=edit.to_dict(), note=note
    )
    audit(
        uow,
        actor,
        "create",
        "mask_version",
        version.id,
        patient=patient,
        detail={"series": series.id, "version": version.version, "method": method},
    )
    numbers = {v.id: v.version for v in _versions(uow, series.id)}
    return _version_out(version, numbers)


def _version(uow: UnitOfWork, series_id: int, number: int | None) -> MaskVersion:
    versions = _versions(uow, series_id)
    if not versions:
        raise NotFoundError("this study has no mask yet", item="mask", expected="draw one first")
    if number is None:
        return versions[-1]
    for row in versions:
        if row.version == number:
            return row
    raise NotFoundError(
        "unknown mask version",
        item="version",
        value=number,
        expected=", ".join(str(v.version) for v in versions),
    )


@service("read", "image_series")
def get_series(uow: UnitOfWork, actor: Actor, pseudonym: str, series_id: int) -> SeriesOut:
    """Return a series with its mask versions (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    series = _series(uow, patient.id, series_id)
    audit(uow, actor, "read", "image_series", series.id, patient=patient)
    return _series_out(uow, series)


@service("read", "image_series")
def list_series(uow: UnitOfWork, actor: Actor, pseudonym: str) -> list[SeriesOut]:
    """Return the patient's image series, oldest first (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    rows = patient_rows(uow, ImageSeries, patient.id)
    audit(uow, actor, "read", "image_series", None, patient=patient)
    return [_series_out(uow, r) for r in rows]


@service("read", "image_series")
def volume_bytes(uow: UnitOfWork, actor: Actor, pseudonym: str, series_id: int) -> bytes:
    """Return the series' image as NIfTI (gzip) for the viewer (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    series = _series(uow, patient.id, series_id)
    audit(uow, actor, "read", "image_series", series.id, patient=patient, detail={"what": "volume"})
    return uow.files().get(series.volume_sha256)


@service("read", "mask_version")
def mask_bytes(
    uow: UnitOfWork, actor: Actor, pseudonym: str, series_id: int, version: int | None = None
) -> tuple[int, bytes]:
    """Return ``(version, NIfTI bytes)`` of a mask version (the latest by default)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    series = _series(uow, patient.id, series_id)
    row = _version(uow, series.id, version)
    audit(uow, actor, "read", "mask_version", row.id, patient=patient)
    return row.version, uow.files().get(row.sha256)
