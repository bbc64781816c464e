"""The record services as the web app calls them: one thin seam over ``spinestab.store``.

Pages and API call these functions only; each maps to the record's service of the same
job, so no rule (scoring, safety, audit) is written a second time here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from spinestab import record as record_services
from spinestab.clinical import parse_form, score_form
from spinestab.store import audit, get_patient, list_patients
from spinestab.store.models import Patient

__all__ = ["create_patient", "patient_exists", "patient_list", "save_form", "timeline"]


def _uow(session: Session) -> record_services.UnitOfWork:
    """Return the record's unit of work on the request's session (no files stored here)."""
    return record_services.UnitOfWork(session)


def _clinician(username: str) -> record_services.Actor:
    return record_services.Actor(username=username, role="clinician")


def patient_exists(session: Session, pseudonym: str) -> bool:
    """Return whether a patient with this pseudonym is stored."""
    return get_patient(session, pseudonym) is not None


def create_patient(
    session: Session, pseudonym: str, *, sex: str | None, birth_year: int | None, actor: str
) -> Patient:
    """Add a patient (audited; :func:`spinestab.record.create_patient`)."""
    created = record_services.create_patient(
        _uow(session), _clinician(actor), pseudonym, sex=sex, birth_year=birth_year
    )
    patient = get_patient(session, created.pseudonym)
    assert patient is not None
    return patient


def patient_list(session: Session, *, query: str | None, actor: str) -> list[dict[str, Any]]:
    """Return the patients, optionally those whose pseudonym contains ``query``."""
    needle = (query or "").strip().lower()
    rows = []
    for patient in list_patients(session):
        if needle and needle not in patient.pseudonym.lower():
            continue
        rows.append(
            {
                "pseudonym": patient.pseudonym,
                "sex": patient.sex,
                "birth_year": patient.birth_year,
                "assessments": len(patient.assessments),
                "track": None,
            }
        )
    audit(session, actor=actor, action="read", entity="patient_list", entity_id=None)
    return rows


def _assessment(row: Any) -> dict[str, Any]:
    scores = row.scores or {}
    return {
        "id": row.id,
        "instrument": row.instrument,
        "date": row.date.isoformat(),
        "score": scores.get("score"),
        "max": scores.get("max"),
        "complete": scores.get("complete"),
        "risk": scores.get("risk"),
        "percent": scores.get("percent"),
        "band": scores.get("band"),
        "actions": scores.get("actions", []),
    }


def _open_red_flags(assessments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the actions of the latest red-flag screen."""
    screens = [a for a in assessments if a["instrument"] == "redflags"]
    return list(screens[-1]["actions"]) if screens else []


def timeline(session: Session, pseudonym: str, *, actor: str) -> dict[str, Any]:
    """Return the patient's record as ``record show --json`` (the read is audited)."""
    patient = get_patient(session, pseudonym)
    if patient is None:
        raise KeyError(pseudonym)
    assessments = [_assessment(a) for a in patient.assessments]
    audit(session, actor=actor, action="read", entity="patient", entity_id=patient.id)
    return {
        "patient": {
            "pseudonym": patient.pseudonym,
            "sex": patient.sex,
            "birth_year": patient.birth_year,
        },
        "assessments": assessments,
        "history": [],
        "imaging": [],
        "instability": [],
        "wearable": [],
        "plans": [],
        "sessions": [],
        "open_red_flags": _open_red_flags(assessments),
    }


def save_form(session: Session, pseudonym: str, data: Any, *, actor: str) -> dict[str, Any]:
    """Validate, score and store one questionnaire; return the scored result.

    Raises
    ------
    InputError
        For a form that does not validate (nothing is stored), or one already stored.

    """
    saved = record_services.save_form(
        _uow(session), _clinician(actor), pseudonym, data, source="form"
    )
    return saved.assessment.score | {"id": saved.assessment.id}


BLOCKING = ("emergency", "same_day", "urgent")


def worklist(session: Session, *, stopped_logging_days: int, actor: str) -> dict[str, Any]:
    """Return the clinician's worklist sections.

    ``red_flags``: patients whose latest red-flag screen has actions (blocking first);
    ``awaiting_approval``, ``stopped_logging``, ``pain_red``, ``followup_due``: from plans
    and session logs.
    """
    red = []
    for patient in list_patients(session):
        assessments = [_assessment(a) for a in patient.assessments]
        flags = _open_red_flags(assessments)
        if flags:
            red.append(
                {
                    "pseudonym": patient.pseudonym,
                    "actions": flags,
                    "blocking": any(f.get("urgency") in BLOCKING for f in flags),
                }
            )
    red.sort(key=lambda r: (not r["blocking"], r["pseudonym"]))
    audit(session, actor=actor, action="read", entity="worklist", entity_id=None)
    return {
        "red_flags": red,
        "awaiting_approval": [],
        "stopped_logging": [],
        "stopped_logging_days": stopped_logging_days,
        "pain_red": [],
        "followup_due": [],
    }


def score_charts(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Scores over time per instrument, with the MIC band, ready for the record page."""
    from spinestab.service.charts import score_chart

    charts = []
    for instrument in ("nrs", "odi", "rmdq", "psfs", "startback"):
        points = [
            (a["date"], a["percent"] if instrument == "odi" else a["score"])
            for a in record["assessments"]
            if a["instrument"] == instrument and a["complete"] and a["score"] is not None
        ]
        if points:
            charts.append(score_chart(instrument, points))
    return charts


def check_form(data: Any) -> dict[str, Any]:
    """Validate and score a questionnaire without storing it (the intake page's live check).

    Raises
    ------
    InputError
        For a form that does not validate.

    """
    form = parse_form(data, source="form")
    return score_form(form).to_dict()


def approved_plan(record: dict[str, Any]) -> dict[str, Any] | None:
    """Return the active (approved) plan of a timeline, or None."""
    active = [p for p in record.get("plans", []) if p.get("status") == "active"]
    return active[-1] if active else None


def blocking_flags(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the open red-flag actions that stop the exercise plan (red flags win)."""
    return [a for a in record.get("open_red_flags", []) if a.get("urgency") in BLOCKING]
