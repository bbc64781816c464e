"""Questionnaires in the record: save (score + store), retract, and read.

A form is stored once per patient: its content hash (instrument, date, answers) is unique
in the database, so concurrent saves of one form store exactly one copy and the others get
:class:`~spinestab.errors.AlreadyStoredError`. Another form of the same instrument on the same
date is a :class:`~spinestab.errors.ConflictError` (retract the first one): the profile takes
one form per instrument and date.

FHIR ``QuestionnaireResponse`` status: ``completed`` and ``amended`` are stored;
``in-progress`` and ``stopped`` are refused as incomplete; ``entered-in-error`` retracts
the stored response it names (by ``id``, else by content) and is never scored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from spinestab.errors import AlreadyStoredError, InputError, NotFoundError
from spinestab.record._uow import (
    OPEN_EPISODE_ID,
    Actor,
    UnitOfWork,
    audit,
    authorize,
    canonical_hash,
    current_episode,
    find_patient,
    lock_patient_id,
    now,
    service,
    store_file,
    utc,
)
from spinestab.record.safety import enforce_red_flags, open_red_flags
from spinestab.record.schemas import AssessmentOut, FormSaved
from spinestab.store.models import Assessment, Patient

__all__ = [
    "MAX_FORM_BYTES",
    "CheckedForm",
    "assessment_out",
    "check_form_document",
    "form_hash",
    "read_document",
    "retract_assessment",
    "save_form",
    "save_form_file",
]

#: Largest questionnaire file read (bytes), as the shared bounded readers have it.
MAX_FORM_BYTES = 1_000_000
#: FHIR QuestionnaireResponse statuses the record acts on (R4 value set; in-progress and
#: stopped are refused as incomplete by spinestab.clinical).
_FHIR_STATUSES = ("completed", "amended", "entered-in-error", "in-progress", "stopped")


def form_hash(instrument: str, date: dt.date, answers: Any) -> str:
    """Content hash of a form: instrument, date and answers (as migration 0003 wrote it)."""
    return canonical_hash({"instrument": instrument, "date": date.isoformat(), "answers": answers})


def assessment_out(row: Assessment) -> AssessmentOut:
    """Return the typed view of an assessment row."""
    return AssessmentOut(
        id=row.id,
        instrument=row.instrument,
        date=row.date,
        status=row.status,
        source_format=row.source_format,
        source=row.source,
        content_hash=row.content_hash,
        fhir_id=row.fhir_id,
        score=row.scores,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        retracted_at=utc(row.retracted_at),
        retracted_by=row.retracted_by,
    )


# ------------------------------------------------------------------------------ reading
def read_document(
    raw: bytes, *, source: str, yaml_text: bool = False, max_bytes: int = MAX_FORM_BYTES
) -> Any:
    """Decode a JSON or YAML document from bytes with the bounded readers of the shared layer.

    Refused while parsing (:mod:`spinestab.core.safe_load`): more than ``max_bytes``, YAML
    aliases, deep nesting, huge integers, duplicated keys, text that is not UTF-8.
    """
    from spinestab.core.safe_load import parse_json, parse_yaml

    if len(raw) > max_bytes:
        raise InputError(
            "file too large",
            source=source,
            value=f"{len(raw)} bytes",
            expected=f"at most {max_bytes} bytes",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    return parse_yaml(text, source=source) if yaml_text else parse_json(text, source=source)


def _read_file(path: Path, max_bytes: int = MAX_FORM_BYTES) -> bytes:
    source = str(path)
    try:
        if path.is_dir():
            raise InputError("a folder was given where a file is expected", source=source)
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                "file too large",
                source=source,
                value=f"{size} bytes",
                expected=f"at most {max_bytes} bytes",
            )
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except OSError as exc:
        raise InputError(f"unreadable file ({exc.__class__.__name__})", source=source) from None


# ------------------------------------------------------------------------------ checking
@dataclass(frozen=True)
class CheckedForm:
    """A questionnaire document checked and scored, ready to store (:func:`save_form`).

    Made by :func:`check_form_document` without the database, so that the web app checks
    and scores a form before its unit of work takes the write lock.
    """

    form: Any
    score: dict[str, Any] | None
    digest: str | None
    source: str
    source_format: str
    fhir_id: str | None


def check_form_document(
    document: Any,
    *,
    source: str = "<form>",
    source_format: str | None = None,
    today: dt.date | None = None,
) -> CheckedForm:
    """Validate and score a questionnaire document (no database: :func:`save_form` stores it).

    Refuses what :func:`save_form` refuses about the document itself (an
    :class:`~spinestab.errors.InputError`, with the same message); a FHIR ``entered-in-error``
    response is parsed, not scored (it retracts a stored one).
    """
    from spinestab.clinical import parse_form, score_form

    fmt = source_format or "api"
    if isinstance(document, Mapping) and document.get("resourceType") == "QuestionnaireResponse":
        fmt = "fhir"
        status = document.get("status")
        if status not in _FHIR_STATUSES:
            raise InputError(
                "not a questionnaire response the record can store",
                source=source,
                item="status",
                value=status if isinstance(status, str) else type(status).__name__,
                expected="completed or amended (entered-in-error retracts a stored response; "
                "in-progress and stopped are incomplete)",
            )
    # refuses FHIR in-progress / stopped responses as incomplete (spinestab.clinical)
    form = parse_form(document, source=source, today=today)
    fhir_id = form.response_id if fmt == "fhir" else None
    if form.is_retraction:
        return CheckedForm(form, None, None, source, fmt, fhir_id)
    score = score_form(form).to_dict()
    digest = form_hash(form.instrument, form.date, form.answers)
    return CheckedForm(form, score, digest, source, fmt, fhir_id)


# ------------------------------------------------------------------------------ services
@service("create", "assessment")
def save_form_file(
    uow: UnitOfWork, actor: Actor, pseudonym: str, path: str | Path, *, today: dt.date | None = None
) -> FormSaved:
    """Read a questionnaire file (JSON, YAML or FHIR QuestionnaireResponse) and save it.

    The file's bytes are kept in the artifact store beside the stored form.
    """
    path = Path(path)
    raw = _read_file(path)
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    data = read_document(raw, source=str(path), yaml_text=is_yaml)
    return save_form(
        uow,
        actor,
        pseudonym,
        data,
        source=str(path),
        raw=raw,
        source_format="yaml" if is_yaml else "json",
        today=today,
    )


@service("create", "assessment")
def save_form(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    document: Any,
    *,
    source: str = "<form>",
    raw: bytes | None = None,
    source_format: str | None = None,
    today: dt.date | None = None,
) -> FormSaved:
    """Validate, score and store one questionnaire document for a patient.

    Parameters
    ----------
    uow, actor
        The unit of work and who acts (a patient may save their own forms).
    pseudonym : str
        The patient.
    document : Any
        The decoded document: ``{"instrument", "date", "answers"}`` or a FHIR R4
        ``QuestionnaireResponse``; or a :class:`CheckedForm` (checked and scored before the
        unit of work, by :func:`check_form_document`; its source and format are used).
    source : str
        Where it came from (file name), for messages and the record.
    raw : bytes, optional
        The original file, kept in the artifact store.
    source_format : str, optional
        ``json``, ``yaml`` or ``api`` (FHIR responses are ``fhir`` whatever is given).
    today : datetime.date, optional
        Reference date for "not in the future" (default: today).

    Returns
    -------
    FormSaved
        The stored assessment with its score; for a red-flag screen, the open flags and the
        plan versions it blocked. For an ``entered-in-error`` response, the retracted one.

    Raises
    ------
    InputError
        Invalid form (nothing stored); :class:`AlreadyStoredError` for a copy of a stored form;
        :class:`ConflictError` for another form of the same instrument and date;
        :class:`NotFoundError` for an unknown patient.

    """
    authorize(actor, pseudonym, patient_may=True)
    patient_id = lock_patient_id(uow, pseudonym)
    checked = (
        document
        if isinstance(document, CheckedForm)
        else check_form_document(document, source=source, source_format=source_format, today=today)
    )
    form, source, fmt = checked.form, checked.source, checked.source_format
    if form.is_retraction:
        patient = find_patient(uow, pseudonym, lock=True)
        return _retract_fhir(uow, actor, patient, form, source=source)
    assert checked.score is not None and checked.digest is not None  # scored: not a retraction
    connection = uow.session.connection()
    found = connection.execute(_STORED_AND_EPISODE, {"pid": patient_id, "digest": checked.digest})
    existing_id, episode_id = found.one()
    if existing_id is not None:
        existing = uow.session.get(Assessment, existing_id)
        assert existing is not None
        raise _already(existing, source)
    if episode_id is None:  # the first form of a new episode of care
        episode_id = current_episode(uow, actor, find_patient(uow, pseudonym, lock=True)).id
    values = {
        "patient_id": patient_id,
        "episode_id": episode_id,
        "instrument": form.instrument,
        "date": form.date,
        "answers": form.answers,
        "scores": checked.score,
        "source": source,
        "source_format": fmt,
        "content_hash": checked.digest,
        "fhir_id": checked.fhir_id,
        "status": "stored",
        "created_at": now(),
        "created_by": actor.username,
    }
    # SQLite rolls back only the failed statement; PostgreSQL needs a savepoint for that
    sqlite = connection.dialect.name == "sqlite"
    try:
        with contextlib.nullcontext() if sqlite else uow.session.begin_nested():
            inserted = connection.execute(_INSERT_ASSESSMENT, values)
    except IntegrityError:
        # another writer stored the same form between the check and the insert
        raise AlreadyStoredError(
            "this form is already stored for the patient",
            source=source,
            item=form.instrument,
            value=form.date.isoformat(),
            expected="a form not yet stored",
        ) from None
    assert inserted.inserted_primary_key is not None
    row_id = int(inserted.inserted_primary_key[0])
    if raw is not None:
        file_row = store_file(
            uow,
            actor,
            find_patient(uow, pseudonym),
            raw,
            entity="assessment",
            entity_id=row_id,
            role="source",
            name=Path(source).name or "form",
            media_type="application/fhir+json" if fmt == "fhir" else f"application/{fmt}",
        )
        connection.execute(_SET_ARTIFACT, {"rid": row_id, "sha": file_row.sha256})
    audit(
        uow,
        actor,
        "create",
        "assessment",
        row_id,
        patient_id=patient_id,
        detail={"instrument": form.instrument, "date": form.date.isoformat(), "format": fmt},
    )
    blocked: list[int] = []
    flags = []
    if form.instrument == "redflags":
        patient = find_patient(uow, pseudonym, lock=True)
        blocked = enforce_red_flags(uow, actor, patient)
        flags = open_red_flags(uow, patient)
    saved = assessment_out(Assessment(id=row_id, **values))  # not added to the session
    return FormSaved(assessment=saved, blocked_plans=blocked, open_red_flags=flags)


_ASSESSMENTS = cast(Table, Assessment.__table__)
_INSERT_ASSESSMENT = insert(_ASSESSMENTS)
_SET_ARTIFACT = (
    update(_ASSESSMENTS)
    .where(_ASSESSMENTS.c.id == bindparam("rid"))
    .values(artifact_sha256=bindparam("sha"))
)
#: The stored copy of a form (same patient and content) and the open episode, in one read.
_STORED_AND_EPISODE = select(
    select(Assessment.id)
    .where(
        Assessment.patient_id == bindparam("pid"),
        Assessment.content_hash == bindparam("digest"),
        Assessment.status != "duplicate",
    )
    .scalar_subquery(),
    OPEN_EPISODE_ID.scalar_subquery(),
)


def _already(existing: Assessment, source: str) -> AlreadyStoredError:
    state = "already stored" if existing.status == "stored" else "already stored and retracted"
    return AlreadyStoredError(
        f"this form is {state} for the patient (assessment {existing.id})",
        source=source,
        item=existing.instrument,
        value=existing.date.isoformat(),
        expected="a form not yet stored (same instrument, date and answers)",
    )


def _retract_fhir(
    uow: UnitOfWork, actor: Actor, patient: Patient, form: Any, *, source: str
) -> FormSaved:
    """Retract the stored response that an ``entered-in-error`` response names.

    Found by the FHIR id (``response_id``); a response without an id by its content
    (instrument, date, answers).
    """
    authorize(actor, patient.pseudonym, patient_may=False)
    target = None
    if form.response_id:
        # an id names one response: never another one that happens to have equal answers
        target = uow.session.scalars(
            select(Assessment).where(
                Assessment.patient_id == patient.id,
                Assessment.fhir_id == form.response_id,
                Assessment.status != "duplicate",
            )
        ).first()
    else:
        digest = form_hash(form.instrument, form.date, form.answers)
        target = uow.session.scalars(
            select(Assessment).where(
                Assessment.patient_id == patient.id,
                Assessment.content_hash == digest,
                Assessment.status != "duplicate",
            )
        ).first()
    if target is None:
        raise NotFoundError(
            "no stored questionnaire matches this entered-in-error response",
            source=source,
            item="id",
            value=form.response_id,
            expected="the id (or the content) of a stored QuestionnaireResponse",
        )
    return _retract(uow, actor, patient, target, reason=f"FHIR entered-in-error ({source})")


def _retract(
    uow: UnitOfWork, actor: Actor, patient: Patient, target: Assessment, *, reason: str
) -> FormSaved:
    if target.status == "retracted":
        raise AlreadyStoredError(
            f"assessment {target.id} is already retracted",
            item=target.instrument,
            value=target.date.isoformat(),
        )
    target.status = "retracted"
    target.retracted_at = now()
    target.retracted_by = actor.username
    uow.session.flush()
    audit(
        uow,
        actor,
        "retract",
        "assessment",
        target.id,
        patient=patient,
        detail={"instrument": target.instrument, "date": target.date.isoformat(), "why": reason},
    )
    flags = open_red_flags(uow, patient) if target.instrument == "redflags" else []
    return FormSaved(assessment=assessment_out(target), retracted=True, open_red_flags=flags)


@service("retract", "assessment")
def retract_assessment(
    uow: UnitOfWork, actor: Actor, pseudonym: str, assessment_id: int, *, reason: str = ""
) -> FormSaved:
    """Retract a stored questionnaire (a clinician's correction); it is kept, never scored.

    Plans keep their status: a blocked plan stays blocked after its red-flag screen is
    retracted (a new screen and a new plan version follow).
    """
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    target = uow.session.get(Assessment, assessment_id)
    if target is None or target.patient_id != patient.id or target.status == "duplicate":
        raise NotFoundError(
            "no such assessment for this patient", item="assessment", value=assessment_id
        )
    return _retract(uow, actor, patient, target, reason=reason or "retracted by a clinician")
