"""Patients and episodes of care."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import AlreadyStoredError, InputError
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
from spinestab.record.schemas import EpisodeOut, PatientOut
from spinestab.store.models import Assessment, Episode, Patient

__all__ = [
    "SEXES",
    "check_pseudonym",
    "create_patient",
    "get_patient",
    "list_patients",
    "start_episode",
]

SEXES = ("female", "male", "other", "unknown")


def check_pseudonym(pseudonym: object) -> str:
    """Validate a pseudonym: 1-64 printable characters, no leading or trailing space.

    Any printable text is allowed (markup-like text such as ``[/x]`` included: every shell
    escapes it before printing); control characters are refused.
    """
    if not isinstance(pseudonym, str):
        raise InputError("invalid pseudonym", item="pseudonym", expected="text")
    text = pseudonym.strip()
    if not text or len(text) > 64:
        raise InputError(
            "invalid pseudonym", item="pseudonym", value=text[:80], expected="1-64 characters"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InputError(
            "invalid pseudonym: control characters",
            item="pseudonym",
            expected="printable characters only",
        )
    return text


def patient_out(
    uow: UnitOfWork, patient: Patient, *, episodes: Sequence[Episode] | None = None
) -> PatientOut:
    """Return the typed view of a patient row (``episodes``: all of theirs, saves a query)."""
    if episodes is not None:
        episode = max((e.number for e in episodes if e.ended_on is None), default=None)
    else:
        episode = uow.session.scalar(
            select(func.max(Episode.number)).where(
                Episode.patient_id == patient.id, Episode.ended_on.is_(None)
            )
        )
    return PatientOut(
        pseudonym=patient.pseudonym,
        sex=patient.sex,
        birth_year=patient.birth_year,
        created_at=utc(patient.created_at),
        created_by=patient.created_by,
        episode=episode,
    )


@service("create", "patient")
def create_patient(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    *,
    sex: str | None = None,
    birth_year: int | None = None,
    today: dt.date | None = None,
) -> PatientOut:
    """Add a patient (and their first episode of care); the pseudonym must be new.

    Raises
    ------
    RefusedError
        For a patient actor.
    AlreadyStoredError
        When the pseudonym exists (also when another writer added it a moment earlier).
    InputError
        For an invalid pseudonym, an unknown sex or an implausible birth year.

    """
    authorize(actor, "", patient_may=False)
    pseudonym = check_pseudonym(pseudonym)
    if sex is not None:
        check_choice("sex", sex, SEXES, message="unknown sex", expected=", ".join(SEXES))
    year = (today or dt.date.today()).year
    if birth_year is not None:
        check_type("birth_year", birth_year, int, expected="a year")
        check_range("birth_year", birth_year, year - 120, year, message="implausible birth year")
    exists = uow.session.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym))
    if exists is not None:
        raise AlreadyStoredError(
            "patient already exists", item="pseudonym", value=pseudonym, expected="a new pseudonym"
        )
    patient = Patient(
        pseudonym=pseudonym,
        sex=sex,
        birth_year=birth_year,
        created_at=now(),
        created_by=actor.username,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(patient)
            uow.session.flush()
    except IntegrityError:
        raise AlreadyStoredError(
            "patient already exists", item="pseudonym", value=pseudonym, expected="a new pseudonym"
        ) from None
    audit(
        uow,
        actor,
        "create",
        "patient",
        patient.id,
        patient=patient,
        detail={"pseudonym": pseudonym, "sex": sex, "birth_year": birth_year},
    )
    current_episode(uow, actor, patient)
    return patient_out(uow, patient)


@service("read", "patient")
def get_patient(uow: UnitOfWork, actor: Actor, pseudonym: str) -> PatientOut:
    """Return one patient (audited read)."""
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym)
    audit(uow, actor, "read", "patient", patient.id, patient=patient)
    return patient_out(uow, patient)


@service("read", "patient_list")
def list_patients(uow: UnitOfWork, actor: Actor) -> list[dict[str, object]]:
    """All patients ordered by pseudonym, with their count of stored assessments (audited)."""
    authorize(actor, "", patient_may=False)
    counts = dict(
        uow.session.execute(
            select(Assessment.patient_id, func.count())
            .where(Assessment.status == "stored")
            .group_by(Assessment.patient_id)
        ).all()
    )
    rows = []
    for patient in uow.session.scalars(select(Patient).order_by(Patient.pseudonym)):
        rows.append(
            patient_out(uow, patient).model_dump(mode="json")
            | {"assessments": int(counts.get(patient.id, 0))}
        )
    audit(uow, actor, "read", "patient_list", None, detail={"count": len(rows)})
    return rows


@service("create", "episode")
def start_episode(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    *,
    reason: str | None = None,
    started_on: dt.date | None = None,
) -> EpisodeOut:
    """Close the open episode of care and start a new one (new data belong to it)."""
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    day = started_on or dt.date.today()
    old = current_episode(uow, actor, patient)
    if day < old.started_on:
        raise InputError(
            "a new episode cannot start before the open one",
            item="started_on",
            value=day.isoformat(),
            expected=f"on or after {old.started_on.isoformat()}",
        )
    old.ended_on = day
    audit(uow, actor, "update", "episode", old.id, patient=patient, detail={"ended_on": str(day)})
    episode = Episode(
        patient_id=patient.id,
        number=old.number + 1,
        started_on=day,
        reason=reason,
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(episode)
    uow.session.flush()
    audit(uow, actor, "create", "episode", episode.id, patient=patient)
    return EpisodeOut(
        number=episode.number,
        started_on=episode.started_on,
        ended_on=None,
        reason=episode.reason,
    )
