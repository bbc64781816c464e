"""Safety rules the record holds: open red flags, and blocking every live plan.

CLINICAL_LOGIC.md §3 and §8 step 1: red flags override every other rule; while an
emergency, same-day or urgent flag (or one that blocks exercise) is open, there is no
exercise plan. The record makes this hold by construction: every save that can open such
a flag (a red-flag screen, a history, a birth year) calls :func:`enforce_red_flags` in the
same transaction, which marks every ``active`` or ``draft`` plan of the patient
``blocked``. A blocked version stays blocked; after the escalation a new screen and a new
plan version are made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from spinestab.clinical.result import URGENCY_ORDER
from spinestab.record._uow import Actor, UnitOfWork, audit, now
from spinestab.record.schemas import RedFlagOut
from spinestab.store.models import Assessment, Patient, PlanVersion

__all__ = [
    "blocking_urgencies",
    "enforce_red_flags",
    "latest_screen",
    "merge_screens",
    "open_red_flags",
]


def merge_screens(answers: list[Any]) -> dict[str, bool | None]:
    """Merge red-flag screens of one day: an item positive on any of them is positive.

    The safer answer (CLINICAL_LOGIC.md §3: red flags win): a later screen of the same day
    never hides a positive answer of an earlier one. An item is "no" when some screen says
    no and none says yes, unanswered when no screen answers it.
    """
    from spinestab.care.derived_flags import screen_answers
    from spinestab.clinical import screen_red_flags

    merged: dict[str, bool | None] = {}
    for one in answers:
        for item, value in screen_answers(screen_red_flags(one)).items():
            old = merged.get(item)
            merged[item] = True if (old or value) else (False if False in (old, value) else None)
    return merged


def blocking_urgencies() -> set[str]:
    """Urgencies that block an exercise plan (care rule ``blocking_urgencies``)."""
    from spinestab.care.config import load_rules

    return set(load_rules()["blocking_urgencies"])


def latest_screen(uow: UnitOfWork, patient: Patient) -> Assessment | None:
    """Return the patient's latest stored red-flag screen (by date, then by when it was stored)."""
    return uow.session.scalars(
        select(Assessment)
        .where(
            Assessment.patient_id == patient.id,
            Assessment.instrument == "redflags",
            Assessment.status == "stored",
        )
        .order_by(Assessment.date.desc(), Assessment.id.desc())
        .limit(1)
    ).one_or_none()


def open_red_flags(uow: UnitOfWork, patient: Patient) -> list[RedFlagOut]:
    """Return the open red-flag actions, most urgent first.

    The latest screen's answers are screened again with the rules in force, with the items
    the history makes positive counted as positive (the safer answer,
    :mod:`spinestab.care.derived_flags`; ``derived_items`` names them). Without a screen,
    the derived items alone are screened.
    """
    from spinestab.care.derived_flags import (
        apply_derived_items,
        derive_red_flag_items,
        screen_answers,
    )
    from spinestab.clinical import screen_red_flags
    from spinestab.record.history import history_for

    screen = latest_screen(uow, patient)
    score = None
    if screen is not None:
        same_day = uow.session.scalars(
            select(Assessment.answers).where(
                Assessment.patient_id == patient.id,
                Assessment.instrument == "redflags",
                Assessment.status == "stored",
                Assessment.date == screen.date,
            )
        ).all()
        score = screen_red_flags(merge_screens(list(same_day)), date=screen.date)
    history, _ = history_for(uow, patient)
    derived = derive_red_flag_items(
        history,
        age_uncertainty_years=history.age_uncertainty_years,
        form=screen_answers(score) if score is not None else None,
    )
    result, applied = apply_derived_items(score, derived)
    from_history = {d.item for d in applied}
    blocking = blocking_urgencies()
    flags = [
        RedFlagOut(
            condition=a.condition,
            label=a.label,
            urgency=a.urgency,
            action=a.action,
            items=list(a.items),
            source=a.source,
            evidence=a.evidence,
            blocks_exercise=a.blocks_exercise,
            blocking=a.urgency in blocking or a.blocks_exercise,
            screen_date=screen.date if screen is not None else None,
            derived_items=[i for i in a.items if i in from_history],
        )
        for a in (result.actions if result is not None else ())
    ]
    flags += _deformity_flags(uow, patient, history)
    return sorted(flags, key=lambda f: URGENCY_ORDER.index(f.urgency))


def _deformity_flags(uow: UnitOfWork, patient: Patient, history: Any) -> list[RedFlagOut]:
    """Return the suspected vertebral fracture of the latest morphometry (new, acute pain).

    It pauses the exercise programme (§3 vertebral fracture, ``blocks_exercise``).
    """
    from spinestab.clinical import load_red_flag_rules
    from spinestab.record.morphometry import deformity_red_flags

    labels = {c.key: c.label for c in load_red_flag_rules().conditions}
    return [
        RedFlagOut(
            condition="vertebral_fracture",
            label=labels.get("vertebral_fracture", "Vertebral fracture"),
            urgency=a.urgency,
            action=a.text,
            items=["new_deformity_height_loss"],
            source=a.source,
            evidence=a.evidence,
            blocks_exercise=True,
            blocking=True,
            screen_date=None,
            derived_items=["new_deformity_height_loss"],
        )
        for a in deformity_red_flags(uow, patient, history)
    ]


def enforce_red_flags(uow: UnitOfWork, actor: Actor, patient: Patient) -> list[int]:
    """Block every active or draft plan of the patient while a blocking flag is open.

    Returns the versions blocked now (in the caller's transaction, audited).
    """
    flags = [f for f in open_red_flags(uow, patient) if f.blocking]
    if not flags:
        return []
    reason = "open red flag: " + "; ".join(
        f"{f.condition} ({f.urgency}, items {', '.join(f.items)})" for f in flags
    )
    blocked = []
    plans = uow.session.scalars(
        select(PlanVersion)
        .where(PlanVersion.patient_id == patient.id, PlanVersion.status.in_(("active", "draft")))
        .order_by(PlanVersion.version)
    ).all()
    for plan in plans:
        old = plan.status
        plan.status = "blocked"
        plan.status_reason = reason
        plan.status_changed_at = now()
        plan.status_changed_by = actor.username
        blocked.append(plan.version)
        detail: dict[str, Any] = {"version": plan.version, "from": old, "to": "blocked"}
        audit(uow, actor, "update", "plan", plan.id, patient=patient, detail=detail)
    uow.session.flush()
    return blocked
