"""Instability studies made from landmark versions: a reader's films in, the study out.

The landmark tool's analysis takes one reader's latest landmark version of the latest
neutral, flexion and extension films (:func:`reader_landmarks`), and its result is the
record's instability study whose options name those versions, with the six-point
morphometry of the neutral film stored beside it (:func:`save_landmark_analysis`);
:func:`landmark_studies` lists them with their pictures for the pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spinestab.errors import InputError, NotFoundError
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
from spinestab.record.radiographs import _Out
from spinestab.store.imaging_models import LandmarkVersion, Radiograph
from spinestab.store.models import InstabilityStudy

__all__ = [
    "STUDY_PICTURE_ROLES",
    "LandmarkStudyOut",
    "instability_studies",
    "landmark_set_for",
    "landmark_studies",
    "reader_landmarks",
    "save_landmark_analysis",
    "study_picture",
]


def landmark_set_for(
    uow: UnitOfWork, patient_id: int, *, reader: str
) -> dict[str, tuple[Radiograph, LandmarkVersion]]:
    """Return, per view, the latest film with landmarks by ``reader`` and its latest version.

    Raises
    ------
    InputError
        No film of any view has landmarks by this reader.

    """
    films = uow.session.scalars(
        select(Radiograph).where(Radiograph.patient_id == patient_id).order_by(Radiograph.id)
    ).all()
    chosen: dict[str, tuple[Radiograph, LandmarkVersion]] = {}
    for film in films:
        latest = uow.session.scalars(
            select(LandmarkVersion)
            .where(LandmarkVersion.radiograph_id == film.id, LandmarkVersion.created_by == reader)
            .order_by(LandmarkVersion.version.desc())
            .limit(1)
        ).one_or_none()
        if latest is not None:
            chosen[film.view] = (film, latest)
    if not chosen:
        raise InputError(
            "no landmarks by this reader",
            item="reader",
            value=reader,
            expected="landmarks placed on a neutral film, or on a flexion and an extension film",
        )
    return chosen


def instability_studies(uow: UnitOfWork, patient_id: int) -> list[InstabilityStudy]:
    """Return the patient's instability studies made from landmark versions, oldest first."""
    rows = uow.session.scalars(
        select(InstabilityStudy)
        .where(InstabilityStudy.patient_id == patient_id)
        .order_by(InstabilityStudy.id)
    ).all()
    return [r for r in rows if isinstance(r.options, Mapping) and "landmark_versions" in r.options]


#: Files of a landmark-tool study the pages show: the overlay figure, morphometry pictures.
STUDY_PICTURE_ROLES = ("picture", "morphometry_picture")


class LandmarkStudyOut(_Out):
    """An instability study made from landmark versions, with its morphometry."""

    id: int
    reader: str | None
    thresholds: str | None
    landmark_versions: dict[str, Any] | None
    analysed_by: str | None
    analysed_at: dt.datetime | None
    result: dict[str, Any]
    morphometry: dict[str, Any] | None
    pictures: list[dict[str, Any]]


@service("read", "instability")
def landmark_studies(uow: UnitOfWork, actor: Actor, pseudonym: str) -> list[LandmarkStudyOut]:
    """Return the instability studies made from landmark versions (an audited read)."""
    import json

    from spinestab.store.models import RecordFile

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    out = []
    for study in instability_studies(uow, patient.id):
        files = uow.session.scalars(
            select(RecordFile)
            .where(RecordFile.entity == "instability", RecordFile.entity_id == study.id)
            .order_by(RecordFile.id)
        ).all()
        morpho = [f for f in files if f.role == "morphometry"]
        out.append(
            LandmarkStudyOut(
                id=study.id,
                reader=study.options.get("reader"),
                thresholds=study.thresholds,
                landmark_versions=study.options.get("landmark_versions"),
                analysed_by=study.created_by,
                analysed_at=utc(study.created_at),
                result=study.result,
                morphometry=json.loads(uow.files().get(morpho[-1].sha256)) if morpho else None,
                pictures=[
                    {"id": f.id, "role": f.role, "name": f.name}
                    for f in files
                    if f.role in STUDY_PICTURE_ROLES
                ],
            )
        )
    audit(uow, actor, "read", "instability", None, patient=patient)
    return out


@service("read", "record_file")
def study_picture(
    uow: UnitOfWork, actor: Actor, pseudonym: str, study_id: int, file_id: int
) -> bytes:
    """Return a picture (PNG) of a landmark-tool instability study (an audited read)."""
    from spinestab.store.models import RecordFile

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    known = {s.id for s in instability_studies(uow, patient.id)}
    row = uow.session.get(RecordFile, file_id)
    if (
        study_id not in known
        or row is None
        or row.entity != "instability"
        or row.entity_id != study_id
        or row.role not in STUDY_PICTURE_ROLES
    ):
        raise NotFoundError("unknown file", item="file", value=file_id)
    audit(uow, actor, "read", "record_file", row.id, patient=patient)
    return uow.files().get(row.sha256)


@service("read", "landmarks")
def reader_landmarks(
    uow: UnitOfWork, actor: Actor, pseudonym: str, *, reader: str
) -> dict[str, dict[str, Any]]:
    """Return, per view, a reader's latest landmark version to analyse (an audited read).

    ``{view: {"radiograph", "landmark_version", "landmark_version_id", "reader",
    "landmarks"}}``.

    Raises
    ------
    InputError
        No landmarks by this reader, or flexion without extension (or the reverse).

    """
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    chosen = landmark_set_for(uow, patient.id, reader=reader)
    if ("flexion" in chosen) != ("extension" in chosen):
        missing = "extension" if "flexion" in chosen else "flexion"
        raise InputError(
            f"the {missing} film has no landmarks by this reader",
            item="reader",
            value=reader,
            expected="flexion and extension both, or neither",
        )
    audit(uow, actor, "read", "landmarks", None, patient=patient, detail={"reader": reader})
    return {
        view: {
            "radiograph": film.id,
            "landmark_version": version.version,
            "landmark_version_id": version.id,
            "reader": version.created_by,
            "landmarks": version.landmarks,
        }
        for view, (film, version) in chosen.items()
    }


@service("create", "instability")
def save_landmark_analysis(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: Path,
    *,
    landmarks: Mapping[str, Path],
    options: Mapping[str, Any],
    morphometry: Path | None = None,
    morphometry_pictures: list[Path] | None = None,
) -> int:
    """Save a ``spinestab instability`` folder made from landmark versions, with morphometry.

    Returns the instability study's id.
    """
    from spinestab.record.results import save_instability_folder

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    saved = save_instability_folder(
        uow,
        actor,
        pseudonym,
        folder,
        landmarks=dict(landmarks),
        options=dict(options),
        source="spinestab landmark tool",
    )
    extra = [("morphometry", morphometry)] if morphometry is not None else []
    extra += [("morphometry_picture", p) for p in morphometry_pictures or []]
    for role, path in extra:
        store_file(
            uow,
            actor,
            patient,
            path,
            entity="instability",
            entity_id=saved.id,
            role=role,
            name=path.name,
        )
    return saved.id
