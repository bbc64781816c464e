"""Files uploaded for a patient before an analysis uses them (the web app's uploads).

An upload is a file of the record (``record_files``, entity ``upload``, role = its kind)
whose bytes are in the artifact store. An analysis names uploads by id; the result it
saves (:mod:`spinestab.record.results`) keeps its own copy of the inputs by hash, so the
same bytes are stored once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from spinestab.core.validation import check_choice
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
from spinestab.record.schemas import _Out
from spinestab.store.models import Artifact, RecordFile

__all__ = [
    "UPLOAD_KINDS",
    "UploadOut",
    "get_uploads",
    "list_uploads",
    "read_file",
    "save_upload",
]

#: What an upload may be: an MR/CT image (NIfTI, or a DICOM series as a ZIP), a muscle
#: mask, a radiograph, a landmark file, an accelerometer recording.
UPLOAD_KINDS = ("mri", "mask", "radiograph", "landmarks", "wearable")


class UploadOut(_Out):
    """An uploaded file."""

    id: int
    kind: str
    name: str
    sha256: str
    size_bytes: int | None
    created_at: dt.datetime | None
    created_by: str | None


def _out(uow: UnitOfWork, row: RecordFile) -> UploadOut:
    size = uow.session.scalar(select(Artifact.size_bytes).where(Artifact.sha256 == row.sha256))
    return UploadOut(
        id=row.id,
        kind=row.role,
        name=row.name,
        sha256=row.sha256,
        size_bytes=size,
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def _safe_name(name: str) -> str:
    """Return the file's own name without folders or control characters (1-255 characters)."""
    base = Path(str(name).replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in "/\\").strip()
    return base[:255] or "upload"


@service("create", "upload")
def save_upload(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    data: bytes | BinaryIO | Path,
    *,
    kind: str,
    name: str,
    media_type: str | None = None,
) -> UploadOut:
    """Store an uploaded file for a patient (staff only); return it with its id.

    The caller checks the content (size, type) before; the record checks the kind and the
    patient and keeps the bytes in the artifact store.
    """
    authorize(actor, pseudonym, patient_may=False)
    check_choice(
        "kind", kind, UPLOAD_KINDS, message="unknown upload kind", expected=", ".join(UPLOAD_KINDS)
    )
    patient = find_patient(uow, pseudonym, lock=True)
    row = store_file(
        uow,
        actor,
        patient,
        data,
        entity="upload",
        entity_id=None,
        role=kind,
        name=_safe_name(name),
        media_type=media_type,
    )
    audit(uow, actor, "create", "upload", row.id, patient=patient, detail={"kind": kind})
    return _out(uow, row)


@service("read", "upload")
def list_uploads(uow: UnitOfWork, actor: Actor, pseudonym: str) -> list[UploadOut]:
    """Return a patient's uploads, newest first (staff only; audited)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    rows = uow.session.scalars(
        select(RecordFile)
        .where(RecordFile.patient_id == patient.id, RecordFile.entity == "upload")
        .order_by(RecordFile.id.desc())
    ).all()
    audit(uow, actor, "read", "upload", None, patient=patient, detail={"count": len(rows)})
    return [_out(uow, r) for r in rows]


@service("read", "upload")
def get_uploads(
    uow: UnitOfWork, actor: Actor, pseudonym: str, ids: Sequence[int]
) -> list[UploadOut]:
    """Return the uploads ``ids`` of a patient, in the order given (staff only; audited).

    Raises
    ------
    NotFoundError
        For an id that is not an upload of this patient (another patient's never told apart).

    """
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    out = []
    for file_id in ids:
        if isinstance(file_id, bool) or not isinstance(file_id, int):
            raise InputError("a file is named by its id", item="files", value=str(file_id)[:40])
        row = uow.session.get(RecordFile, file_id)
        if row is None or row.patient_id != patient.id or row.entity != "upload":
            raise NotFoundError(
                "no such upload for this patient",
                item="files",
                value=file_id,
                expected="the id answered by POST .../files",
            )
        out.append(_out(uow, row))
    audit(uow, actor, "read", "upload", None, patient=patient, detail={"ids": list(ids)})
    return out


@service("read", "file")
def read_file(
    uow: UnitOfWork, actor: Actor, pseudonym: str, file_id: int
) -> tuple[UploadOut, bytes]:
    """Return one file of a patient's record and its bytes (staff only; an audited read).

    Any file: an upload, a QA picture, a result table.

    ``kind`` of the answer is the file's role (``qa_picture``, ``timeline``, ``mri``...).

    Raises
    ------
    NotFoundError
        For an id that is not a file of this patient (another patient's never told apart).

    """
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    row = uow.session.get(RecordFile, file_id) if isinstance(file_id, int) else None
    if row is None or row.patient_id != patient.id:
        raise NotFoundError("no such file for this patient", item="file", value=file_id)
    data = uow.files().get(row.sha256)
    audit(uow, actor, "read", "file", row.id, patient=patient, detail={"role": row.role})
    return _out(uow, row), data
