"""The clinician's worklist: what in the record needs a clinician today.

Sections (each a list of rows naming the patient):

- ``awaiting_approval``: draft plan versions (a new plan or a progression proposal);
- ``red_flags``: open red-flag actions (:func:`spinestab.record.safety.open_red_flags`),
  blocking ones first, the newest screen first;
- ``stopped_logging``: patients with an active plan and no session logged for
  ``stopped_logging_days`` (counted from the programme start when none was logged);
- ``pain_red``: sessions of the last ``stopped_logging_days`` with pain during or the next
  morning in the red zone of the pain-monitoring model (care rules ``green_max`` /
  ``amber_max``, CLINICAL_LOGIC.md §5.4; the latest such session per patient);
- ``followup_due``: active plans whose review week (care rule ``review_weeks``, §5.5:
  ODI or RMDQ at weeks 6 and 12) has begun without a complete form of the plan's primary
  measure dated in or after that week.

One audited read (``worklist``); nothing is written besides the audit event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from spinestab.errors import InputError
from spinestab.record._uow import Actor, UnitOfWork, audit, authorize, service
from spinestab.record.safety import open_red_flags
from spinestab.store.models import Assessment, Patient, PlanVersion, SessionLogRow

__all__ = ["PRIMARY_INSTRUMENT", "worklist"]

#: The plan's primary measure (``baseline.primary``) -> the questionnaire that measures it.
PRIMARY_INSTRUMENT = {"odi_pct": "odi", "rmdq": "rmdq", "nrs": "nrs"}


def _drafts(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        select(Patient.pseudonym, PlanVersion)
        .join(PlanVersion, PlanVersion.patient_id == Patient.id)
        .where(PlanVersion.status == "draft")
        .order_by(PlanVersion.created_at, Patient.pseudonym)
    ).all()
    return [
        {
            "pseudonym": pseudonym,
            "version": plan.version,
            "track": plan.track,
            "progression": plan.previous_id is not None,
            "created_at": plan.created_at.isoformat() if plan.created_at else None,
        }
        for pseudonym, plan in rows
    ]


def _red_flags(uow: UnitOfWork, patients: list[Patient]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for patient in patients:
        flags = open_red_flags(uow, patient)
        if flags:
            dates = [f.screen_date for f in flags if f.screen_date is not None]
            out.append(
                {
                    "pseudonym": patient.pseudonym,
                    "blocking": any(f.blocking for f in flags),
                    "screen_date": max(dates).isoformat() if dates else None,
                    "actions": [f.model_dump(mode="json") for f in flags],
                }
            )
    out.sort(key=lambda r: r["screen_date"] or "", reverse=True)
    out.sort(key=lambda r: not r["blocking"])
    return out


def _active_plans(uow: UnitOfWork) -> list[tuple[str, PlanVersion]]:
    return [
        (pseudonym, plan)
        for pseudonym, plan in uow.session.execute(
            select(Patient.pseudonym, PlanVersion)
            .join(PlanVersion, PlanVersion.patient_id == Patient.id)
            .where(PlanVersion.status == "active")
            .order_by(Patient.pseudonym)
        ).all()
    ]


def _stopped(
    uow: UnitOfWork, active: list[tuple[str, PlanVersion]], *, days: int, today: dt.date
) -> list[dict[str, Any]]:
    last = dict(
        uow.session.execute(
            select(SessionLogRow.patient_id, func.max(SessionLogRow.date)).group_by(
                SessionLogRow.patient_id
            )
        ).all()
    )
    out: list[dict[str, Any]] = []
    for pseudonym, plan in active:
        start = dt.date.fromisoformat(plan.data["programme_start"])
        last_session = last.get(plan.patient_id)
        since = max(d for d in (start, last_session) if d is not None)
        if (today - since).days >= days:
            out.append(
                {
                    "pseudonym": pseudonym,
                    "version": plan.version,
                    "last_session": last_session.isoformat() if last_session else None,
                    "days": (today - since).days,
                }
            )
    out.sort(key=lambda r: -r["days"])
    return out


def _pain_red(uow: UnitOfWork, *, rules: Any, since: dt.date) -> list[dict[str, Any]]:
    amber = rules["amber_max"]
    rows = uow.session.execute(
        select(Patient.pseudonym, SessionLogRow)
        .join(SessionLogRow, SessionLogRow.patient_id == Patient.id)
        .where(
            SessionLogRow.date >= since,
            (SessionLogRow.pain_during > amber) | (SessionLogRow.pain_next_morning > amber),
        )
        .order_by(SessionLogRow.date.desc(), SessionLogRow.id.desc())
    ).all()
    latest: dict[str, dict[str, Any]] = {}
    for pseudonym, log in rows:
        if pseudonym not in latest:
            latest[pseudonym] = {
                "pseudonym": pseudonym,
                "date": log.date.isoformat(),
                "exercise": log.exercise,
                "pain_during": log.pain_during,
                "pain_next_morning": log.pain_next_morning,
                "red_above": amber,
            }
    return sorted(latest.values(), key=lambda r: r["date"], reverse=True)


def _followup_due(
    uow: UnitOfWork, active: list[tuple[str, PlanVersion]], *, rules: Any, today: dt.date
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pseudonym, plan in active:
        start = dt.date.fromisoformat(plan.data["programme_start"])
        primary = (plan.data.get("baseline") or {}).get("primary")
        instrument = PRIMARY_INSTRUMENT.get(primary or "", "odi")
        for week in sorted(rules["review_weeks"]):
            week_start = start + dt.timedelta(days=7 * (int(week) - 1))
            if today < week_start:
                break
            done = uow.session.scalars(
                select(Assessment.scores).where(
                    Assessment.patient_id == plan.patient_id,
                    Assessment.instrument == instrument,
                    Assessment.status == "stored",
                    Assessment.date >= week_start,
                )
            ).all()
            if not any((s or {}).get("complete") for s in done):
                out.append(
                    {
                        "pseudonym": pseudonym,
                        "instrument": instrument,
                        "week": int(week),
                        "due": week_start.isoformat(),
                    }
                )
                break
    out.sort(key=lambda r: r["due"])
    return out


@service("read", "worklist")
def worklist(
    uow: UnitOfWork,
    actor: Actor,
    *,
    stopped_logging_days: int = 7,
    today: dt.date | None = None,
    rules_path: Any = None,
) -> dict[str, Any]:
    """Return the worklist sections (staff only; one audited read).

    Parameters
    ----------
    uow : UnitOfWork
        The transaction.
    actor : Actor
        A clinician.
    stopped_logging_days : int
        Days without a logged session before a patient is listed (and the window of the
        red pain section) [D]; configurable (``SPINESTAB_STOPPED_LOGGING_DAYS``).
    today : datetime.date, optional
        Default: today.
    rules_path : path, optional
        Care rule overrides (YAML).

    """
    from spinestab.care.config import load_rules

    authorize(actor, "", patient_may=False)
    if isinstance(stopped_logging_days, bool) or not 1 <= int(stopped_logging_days) <= 365:
        raise InputError(
            "days without logging out of range",
            item="stopped_logging_days",
            value=stopped_logging_days,
            expected="1 to 365",
        )
    days = int(stopped_logging_days)
    today = today or dt.date.today()
    rules = load_rules(rules_path)
    patients = list(uow.session.scalars(select(Patient).order_by(Patient.pseudonym)))
    active = _active_plans(uow)
    result = {
        "awaiting_approval": _drafts(uow),
        "red_flags": _red_flags(uow, patients),
        "stopped_logging": _stopped(uow, active, days=days, today=today),
        "stopped_logging_days": days,
        "pain_red": _pain_red(uow, rules=rules, since=today - dt.timedelta(days=days)),
        "followup_due": _followup_due(uow, active, rules=rules, today=today),
    }
    audit(
        uow,
        actor,
        "read",
        "worklist",
        None,
        detail={k: len(v) for k, v in result.items() if isinstance(v, list)},
    )
    return result
