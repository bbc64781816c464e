"""Row helpers shared by the record services of the viewer (image series and radiographs).

A row of a patient found by id (or not found), a patient's rows oldest first, the next
version number of a versioned row, and bytes put into the artifact store and named in the
``artifacts`` table.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select

from spinestab.errors import NotFoundError
from spinestab.record._uow import UnitOfWork, ensure_artifact_row

__all__ = ["next_number", "owned_row", "patient_rows", "put_bytes"]

Row = TypeVar("Row")


def owned_row(
    uow: UnitOfWork, model: type[Row], patient_id: int, row_id: int, *, what: str, item: str
) -> Row:
    """Return the ``model`` row ``row_id`` of the patient; another patient's row is unknown.

    Raises :class:`NotFoundError` ("unknown WHAT", naming ``item``) when there is none.
    """
    row = uow.session.get(model, row_id)
    if row is None or row.patient_id != patient_id:  # type: ignore[attr-defined]
        raise NotFoundError(f"unknown {what}", item=item, value=row_id)
    return row


def patient_rows(uow: UnitOfWork, model: type[Row], patient_id: int) -> list[Row]:
    """Return the patient's ``model`` rows, oldest first."""
    table: Any = model
    return list(
        uow.session.scalars(
            select(table).where(table.patient_id == patient_id).order_by(table.id)
        ).all()
    )


def next_number(uow: UnitOfWork, number: Any, *where: Any) -> int:
    """Return one more than the largest ``number`` column among the rows ``where`` selects."""
    return (uow.session.scalar(select(func.max(number)).where(*where)) or 0) + 1


def put_bytes(uow: UnitOfWork, data: bytes, media_type: str) -> str:
    """Put ``data`` into the artifact store, name it in ``artifacts``; return its SHA-256."""
    ref = uow.files().put(data)
    ensure_artifact_row(uow, ref.sha256, ref.size_bytes, media_type)
    return ref.sha256
