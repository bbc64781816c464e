"""Store operations; each writes its audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinestab.clinical import Form, Score
from spinestab.errors import InputError
from spinestab.store.models import Assessment, AuditEvent, Patient

__all__ = [
    "add_assessments",
    "add_patient",
    "audit",
    "get_patient",
    "list_patients",
]

_SEXES = ("female", "male", "other", "unknown")


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record who changed what."""
    session.add(
        AuditEvent(actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail)
    )


def add_patient(
    session: Session,
    pseudonym: str,
    *,
    sex: str | None = None,
    birth_year: int | None = None,
    actor: str = "cli",
    current_year: int | None = None,
) -> Patient:
    """Add a patient; the pseudonym must be new.

    Raises
    ------
    InputError
        For a duplicate pseudonym, an unknown sex or an implausible birth year.

    """
    import datetime as dt

    pseudonym = pseudonym.strip()
    if not pseudonym or len(pseudonym) > 64:
        raise InputError(
            "invalid pseudonym", item="pseudonym", value=pseudonym, expected="1-64 characters"
        )
    if sex is not None and sex not in _SEXES:
        raise InputError("unknown sex", item="sex", value=sex, expected=", ".join(_SEXES))
    year = current_year or dt.date.today().year
    if birth_year is not None and not year - 120 <= birth_year <= year:
        raise InputError(
            "implausible birth year",
            item="birth_year",
            value=birth_year,
            expected=f"{year - 120} to {year}",
        )
    if get_patient(session, pseudonym) is not None:
        raise InputError(
            "patient already exists", item="pseudonym", value=pseudonym, expected="a new pseudonym"
        )
    patient = Patient(pseudonym=pseudonym, sex=sex, birth_year=birth_year)
    session.add(patient)
    session.flush()
    audit(
        session,
        actor=actor,
        action="create",
        entity="patient",
        entity_id=patient.id,
        detail={"pseudonym": pseudonym, "sex": sex, "birth_year": birth_year},
    )
    return patient


def get_patient(session: Session, pseudonym: str) -> Patient | None:
    """Return the patient with this pseudonym, or None."""
    return session.scalars(select(Patient).where(Patient.pseudonym == pseudonym)).one_or_none()


def list_patients(session: Session) -> list[Patient]:
    """Return all patients ordered by pseudonym."""
    return list(session.scalars(select(Patient).order_by(Patient.pseudonym)))


def add_assessments(
    session: Session, pseudonym: str, scored: Sequence[tuple[Form, Score]], *, actor: str = "cli"
) -> list[Assessment]:
    """Store scored forms for a patient (the caller's transaction makes it all or nothing)."""
    patient = get_patient(session, pseudonym)
    if patient is None:
        raise InputError(
            "unknown patient",
            item="patient",
            value=pseudonym,
            expected="a patient added with 'spinestab patient add'",
        )
    rows = []
    for form, score in scored:
        # The same form saved twice (re-run import, or one file named twice) would count
        # twice in every trend; an identical one already stored is refused.
        same = session.scalars(
            select(Assessment).where(
                Assessment.patient_id == patient.id,
                Assessment.instrument == form.instrument,
                Assessment.date == form.date,
            )
        )
        if any(existing.answers == form.answers for existing in same):
            raise InputError(
                "this form is already saved for the patient",
                source=form.source,
                item=form.instrument,
                value=form.date.isoformat(),
                expected="a form not yet stored (same instrument, date and answers)",
            )
        row = Assessment(
            patient=patient,
            instrument=form.instrument,
            date=form.date,
            answers=form.answers,
            scores=score.to_dict(),
            source=form.source,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor=actor,
            action="create",
            entity="assessment",
            entity_id=row.id,
            detail={
                "patient": pseudonym,
                "instrument": form.instrument,
                "date": form.date.isoformat(),
            },
        )
        rows.append(row)
    return rows
