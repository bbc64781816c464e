"""Plain store queries and the low-level audit writer.

Every write of the record (patients, forms, results, plans...) goes through
:mod:`spinestab.record` (validation, content hash, safety rules, audit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinestab.store.models import AuditEvent, Patient

__all__ = [
    "audit",
    "find_patient_row",
    "get_patient",
    "list_patients",
    "patient_rows",
]


def find_patient_row(session: Session, pseudonym: str) -> Patient | None:
    """Return the patient with this pseudonym, or None."""
    return session.scalars(select(Patient).where(Patient.pseudonym == pseudonym)).one_or_none()


def patient_rows(session: Session) -> list[Patient]:
    """Return all patients ordered by pseudonym."""
    return list(session.scalars(select(Patient).order_by(Patient.pseudonym)))


get_patient = find_patient_row
list_patients = patient_rows


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    detail: dict[str, Any] | None = None,
    role: str | None = None,
    patient_id: int | None = None,
) -> None:
    """Record who did what (one ``ok`` audit event in the caller's transaction)."""
    import datetime as dt

    session.add(
        AuditEvent(
            at=dt.datetime.now(dt.UTC),
            actor=actor,
            role=role,
            action=action,
            entity=entity,
            entity_id=entity_id,
            patient_id=patient_id,
            outcome="ok",
            detail=detail,
        )
    )
