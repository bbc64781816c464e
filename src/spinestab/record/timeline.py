"""The timeline of one patient's record (``spinestab record show``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from spinestab.record._uow import Actor, UnitOfWork, audit, authorize, find_patient, service, utc
from spinestab.record.forms import assessment_out
from spinestab.record.history import history_out, latest_history
from spinestab.record.morphometry import morphometry_out
from spinestab.record.patients import patient_out
from spinestab.record.plans import plan_out
from spinestab.record.results import imaging_out, instability_out, wearable_out
from spinestab.record.safety import open_red_flags
from spinestab.record.schemas import EpisodeOut, OutcomeOut, SessionOut, Timeline
from spinestab.store.models import (
    Assessment,
    Episode,
    HistoryVersion,
    ImagingStudy,
    InstabilityStudy,
    OutcomeValue,
    PlanVersion,
    SessionLogRow,
    WearableRecording,
)
from spinestab.store.morphometry_models import MorphometryStudy

__all__ = ["show_record"]


@service("read", "record")
def show_record(uow: UnitOfWork, actor: Actor, pseudonym: str) -> Timeline:
    """Everything the record holds for a patient, oldest first (an audited read).

    Open red flags come first in every shell that shows them; ``assessments`` include
    retracted ones (with ``status``) so that corrections stay visible.
    """
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym)
    s = uow.session
    pid = patient.id

    def rows(model: Any, *order: Any) -> Any:
        return s.scalars(select(model).where(model.patient_id == pid).order_by(*order)).all()

    plan_versions = {r.id: r.version for r in rows(PlanVersion, PlanVersion.version)}
    timeline = Timeline(
        patient=patient_out(uow, patient),
        episodes=[
            EpisodeOut(
                number=e.number, started_on=e.started_on, ended_on=e.ended_on, reason=e.reason
            )
            for e in rows(Episode, Episode.number)
        ],
        assessments=[
            assessment_out(a)
            for a in rows(Assessment, Assessment.date, Assessment.id)
            if a.status != "duplicate"
        ],
        history=history_out(h) if (h := latest_history(uow, patient)) is not None else None,
        history_versions=s.scalar(
            select(func.count()).select_from(HistoryVersion).where(HistoryVersion.patient_id == pid)
        )
        or 0,
        imaging=[imaging_out(uow, r) for r in rows(ImagingStudy, ImagingStudy.id)],
        instability=[instability_out(uow, r) for r in rows(InstabilityStudy, InstabilityStudy.id)],
        morphometry=[morphometry_out(uow, r) for r in rows(MorphometryStudy, MorphometryStudy.id)],
        wearable=[wearable_out(uow, r) for r in rows(WearableRecording, WearableRecording.id)],
        plans=[plan_out(uow, r) for r in rows(PlanVersion, PlanVersion.version)],
        sessions=[
            SessionOut(
                date=r.date,
                exercise=r.exercise,
                done=r.done,
                sets=r.sets,
                reps=r.reps,
                hold_s=r.hold_s,
                pain_before=r.pain_before,
                pain_during=r.pain_during,
                pain_after=r.pain_after,
                pain_next_morning=r.pain_next_morning,
                effort=r.effort,
                form_ok=r.form_ok,
                plan_version=plan_versions.get(r.plan_id),
                created_at=utc(r.created_at),
                created_by=r.created_by,
            )
            for r in rows(SessionLogRow, SessionLogRow.date, SessionLogRow.id)
        ],
        outcomes=[
            OutcomeOut(date=o.date, instrument=o.instrument, value=o.value, source=o.source)
            for o in rows(OutcomeValue, OutcomeValue.date, OutcomeValue.id)
        ],
        open_red_flags=open_red_flags(uow, patient),
    )
    audit(uow, actor, "read", "record", patient.id, patient=patient)
    return timeline
