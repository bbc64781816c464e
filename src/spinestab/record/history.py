"""History and examination in the record: every save is a new version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from spinestab.errors import AlreadyStoredError, InputError
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
from spinestab.record.forms import _read_file, read_document
from spinestab.record.safety import enforce_red_flags
from spinestab.record.schemas import HistoryOut
from spinestab.store.models import HistoryVersion, Patient

__all__ = [
    "history_for",
    "history_out",
    "latest_history",
    "save_history",
    "save_history_file",
]


def history_out(row: HistoryVersion) -> HistoryOut:
    """Return the typed view of a history version."""
    return HistoryOut(
        version=row.version,
        recorded_on=row.recorded_on,
        data=row.data,
        source=row.source,
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def latest_history(
    uow: UnitOfWork, patient: Patient, *, episode_id: int | None = None
) -> HistoryVersion | None:
    """Return the patient's latest history version (of one episode when ``episode_id`` is given)."""
    stmt = select(HistoryVersion).where(HistoryVersion.patient_id == patient.id)
    if episode_id is not None:
        stmt = stmt.where(HistoryVersion.episode_id == episode_id)
    return uow.session.scalars(stmt.order_by(HistoryVersion.version.desc()).limit(1)).one_or_none()


def history_for(uow: UnitOfWork, patient: Patient) -> tuple[Any, int | None]:
    """Return the patient's history (latest version) as the care profile reads it.

    Where the history has no age, the age comes from the birth year (this year minus the
    birth year, known to one year: ``age_uncertainty_years`` 1). Returns the
    :class:`~spinestab.care.profile.History` and the version used (None: no history).
    """
    from dataclasses import replace

    from spinestab.care.io import read_history
    from spinestab.care.profile import History

    row = latest_history(uow, patient)
    history = (
        read_history(row.data, source=f"record history v{row.version}")
        if row is not None
        else History()
    )
    if history.age is None and patient.birth_year is not None:
        history = replace(
            history,
            age=dt.date.today().year - patient.birth_year,
            age_uncertainty_years=1,
            sources=(*history.sources, ("age", f"birth year {patient.birth_year} (+-1 year)")),
        )
    return history, row.version if row is not None else None


@service("create", "history")
def save_history(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    data: Mapping[str, Any],
    *,
    source: str = "history",
    recorded_on: dt.date | None = None,
    raw: bytes | None = None,
) -> HistoryOut:
    """Validate a history document (the ``history.json`` fields) and store a new version.

    Validation is :func:`spinestab.care.io.read_history` (unknown keys, types and ranges
    refused). A document equal to the latest version is :class:`AlreadyStoredError`.
    """
    from spinestab.care.io import read_history

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    if not isinstance(data, Mapping):
        raise InputError(
            "not a history object",
            source=source,
            value=type(data).__name__,
            expected="a JSON object",
        )
    read_history(data, source=source)
    document = dict(data)
    digest = canonical_hash(document)
    episode = current_episode(uow, actor, patient)
    latest = latest_history(uow, patient)
    if latest is not None and latest.content_hash == digest:
        raise AlreadyStoredError(
            f"this history is already stored (version {latest.version})",
            source=source,
            expected="a changed history",
        )
    version = (
        uow.session.scalar(
            select(func.max(HistoryVersion.version)).where(HistoryVersion.patient_id == patient.id)
        )
        or 0
    ) + 1
    row = HistoryVersion(
        patient_id=patient.id,
        episode_id=episode.id,
        version=version,
        recorded_on=recorded_on or dt.date.today(),
        data=document,
        content_hash=digest,
        source=source,
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(row)
    uow.session.flush()
    if raw is not None:
        store_file(
            uow,
            actor,
            patient,
            raw,
            entity="history",
            entity_id=row.id,
            role="source",
            name=Path(source).name or "history.json",
            media_type="application/json",
        )
    audit(uow, actor, "create", "history", row.id, patient=patient, detail={"version": version})
    enforce_red_flags(uow, actor, patient)
    return history_out(row)


@service("create", "history")
def save_history_file(
    uow: UnitOfWork, actor: Actor, pseudonym: str, path: str | Path
) -> HistoryOut:
    """Read ``history.json`` (with the questionnaire file limits) and store it."""
    path = Path(path)
    raw = _read_file(path)
    data = read_document(raw, source=str(path))
    return save_history(uow, actor, pseudonym, data, source=str(path), raw=raw)
