"""Analyses of an image series: what a job reads, what it saves, what the viewer shows.

An analysis is the record's imaging study of one mask version of a series (its options
name the series, the mask version, its method and author); these services lay a mask
version's inputs out for a job, save the job's ``spinestab mri`` folder (once per mask and
options), and list a series' analyses with their QA pictures and fat overlay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spinestab.errors import AlreadyStoredError, InputError, NotFoundError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    find_patient,
    service,
    store_file,
    utc,
)
from spinestab.record.image_series import _Out, _series, _version
from spinestab.store.imaging_models import ImageSeries, MaskVersion
from spinestab.store.models import ImagingStudy, RecordFile

__all__ = [
    "ANALYSIS_FILE_ROLES",
    "AnalysisOut",
    "JobInputs",
    "analysis_file",
    "analysis_inputs",
    "save_series_analysis",
    "series_analyses",
    "series_results",
]


def series_results(uow: UnitOfWork, patient_id: int, series_id: int) -> list[ImagingStudy]:
    """Return the imaging studies (analyses) of one series, oldest first."""
    rows = uow.session.scalars(
        select(ImagingStudy).where(ImagingStudy.patient_id == patient_id).order_by(ImagingStudy.id)
    ).all()
    return [
        r for r in rows if isinstance(r.options, Mapping) and r.options.get("series") == series_id
    ]


def _series_performed_on(uow: UnitOfWork, patient_id: int, series_id: Any) -> Any:
    """Return when the analysed series was taken (as said at upload), or None."""
    from spinestab.store.imaging_models import ImageSeries

    if not series_id:
        return None
    series = uow.session.get(ImageSeries, int(series_id))
    return series.performed_on if series is not None and series.patient_id == patient_id else None


def files_named(uow: UnitOfWork, entity: str, entity_id: int, role: str) -> list[RecordFile]:
    """Return the record files of one entity with one role."""
    return list(
        uow.session.scalars(
            select(RecordFile)
            .where(
                RecordFile.entity == entity,
                RecordFile.entity_id == entity_id,
                RecordFile.role == role,
            )
            .order_by(RecordFile.id)
        )
    )


def materialise_inputs(
    uow: UnitOfWork, series: ImageSeries, version: MaskVersion, folder: Path
) -> tuple[Path, Path]:
    """Write a series' input files and one mask version to ``folder``; return their paths.

    A NIfTI series gives its file; a DICOM series a folder of its files (names as stored).
    """
    inputs = files_named(uow, "image_series", series.id, "input:image")
    if not inputs:
        raise NotFoundError("the study's input files are missing", item="study", value=series.id)
    image_dir = folder / "image"
    image_dir.mkdir(parents=True)
    for row in inputs:
        target = (image_dir / row.name).resolve()
        if image_dir.resolve() not in target.parents:
            raise InputError("bad stored file name", value=row.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(uow.files().get(row.sha256))
    image = image_dir if series.source_kind == "dicom" else image_dir / inputs[0].name
    mask = folder / f"mask_v{version.version}.nii.gz"
    mask.write_bytes(uow.files().get(version.sha256))
    return image, mask


class AnalysisOut(_Out):
    """One analysis of a series: the record's imaging study with its mask version traced."""

    id: int
    mask_version: int | None
    mask_method: str | None
    mask_author: str | None
    analysed_by: str | None
    analysed_at: dt.datetime | None
    fat_method: str | None
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    options: dict[str, Any]
    files: list[dict[str, Any]]


@service("read", "imaging")
def series_analyses(
    uow: UnitOfWork, actor: Actor, pseudonym: str, series_id: int
) -> list[AnalysisOut]:
    """Return every analysis of a series, oldest first, with its files (an audited read)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    _series(uow, patient.id, series_id)
    out = []
    for study in series_results(uow, patient.id, series_id):
        files = uow.session.scalars(
            select(RecordFile)
            .where(RecordFile.entity == "imaging", RecordFile.entity_id == study.id)
            .order_by(RecordFile.id)
        ).all()
        options = dict(study.options)
        out.append(
            AnalysisOut(
                id=study.id,
                mask_version=options.get("mask_version"),
                mask_method=options.get("mask_method"),
                mask_author=options.get("mask_author"),
                analysed_by=study.created_by,
                analysed_at=utc(study.created_at),
                fat_method=study.fat_method,
                rows=[r.values for r in study.rows],
                summary=study.summary if isinstance(study.summary, Mapping) else {},
                options=options,
                files=[
                    {"id": f.id, "role": f.role, "name": f.name}
                    for f in files
                    if f.role in ANALYSIS_FILE_ROLES
                ],
            )
        )
    audit(uow, actor, "read", "imaging", None, patient=patient, detail={"series": series_id})
    return out


#: Files of an analysis the viewer shows: QA pictures and the fat overlay.
ANALYSIS_FILE_ROLES = ("qa_picture", "fat_map")


@service("read", "record_file")
def analysis_file(
    uow: UnitOfWork, actor: Actor, pseudonym: str, series_id: int, file_id: int
) -> tuple[str, str, bytes]:
    """Return ``(role, name, bytes)`` of a QA picture or fat overlay of a series' analysis."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    _series(uow, patient.id, series_id)
    row = uow.session.get(RecordFile, file_id)
    studies = {s.id for s in series_results(uow, patient.id, series_id)}
    if (
        row is None
        or row.entity != "imaging"
        or row.entity_id not in studies
        or row.role not in ANALYSIS_FILE_ROLES
    ):
        raise NotFoundError("unknown file", item="file", value=file_id)
    audit(uow, actor, "read", "record_file", row.id, patient=patient)
    return row.role, row.name, uow.files().get(row.sha256)


class JobInputs(_Out):
    """What an analysis job of one mask version reads: files written out, and the trace."""

    image: str
    mask: str
    labels: str
    trace: dict[str, Any]


@service("read", "mask_version")
def analysis_inputs(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    series_id: int,
    version: int | None,
    folder: Path,
) -> JobInputs:
    """Write a series' input files and one mask version to ``folder`` for an analysis."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    series = _series(uow, patient.id, series_id)
    row = _version(uow, series.id, version)
    image, mask = materialise_inputs(uow, series, row, Path(folder))
    audit(uow, actor, "read", "mask_version", row.id, patient=patient, detail={"for": "analysis"})
    return JobInputs(
        image=str(image),
        mask=str(mask),
        labels=series.labels,
        trace={
            "series": series.id,
            "mask_version": row.version,
            "mask_method": row.method,
            "mask_author": row.created_by,
        },
    )


@service("create", "imaging")
def save_series_analysis(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: Path,
    *,
    inputs: Mapping[str, Path],
    options: Mapping[str, Any],
    fat_overlay: bytes | None = None,
    fat_name: str = "fat_map.nii.gz",
) -> tuple[int, bool]:
    """Save a ``spinestab mri`` folder of a series' mask version; return ``(study id, new)``.

    The same mask analysed with the same options is stored once: the earlier study's id
    comes back with ``new`` False.
    """
    from spinestab.record.results import save_imaging_folder

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    try:
        saved = save_imaging_folder(
            uow,
            actor,
            pseudonym,
            folder,
            inputs=dict(inputs),
            options=dict(options),
            source="spinestab viewer",
            performed_on=_series_performed_on(uow, patient.id, options.get("series")),
        )
    except AlreadyStoredError:
        series_id = options.get("series")
        same = [
            r
            for r in series_results(uow, patient.id, int(series_id or 0))
            if r.options == dict(options)
        ]
        if not same:
            raise
        return same[-1].id, False
    if fat_overlay is not None:
        store_file(
            uow,
            actor,
            patient,
            fat_overlay,
            entity="imaging",
            entity_id=saved.id,
            role="fat_map",
            name=fat_name,
        )
    return saved.id, True
