"""The timeline of one patient's record (``spinestab record show``).

Read in a fixed number of queries, whatever the record holds: one per record table, the
studies' rows with them (``selectinload``), every study's files in one query, and the
red-flag screen. Measured with ``python -m benchmarks service`` (docs/web-app.md, "Speed").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import defer, selectinload

from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    find_patient,
    patient_id_of,
    read_patient_revision,
    service,
    utc,
)
from spinestab.record.forms import assessment_out
from spinestab.record.history import history_out, latest_history
from spinestab.record.morphometry import morphometry_out
from spinestab.record.patients import patient_out
from spinestab.record.plans import plan_out
from spinestab.record.results import imaging_out, instability_out, wearable_out
from spinestab.record.safety import open_red_flags
from spinestab.record.schemas import EpisodeOut, FileOut, OutcomeOut, SessionOut, Timeline
from spinestab.store.models import (
    Assessment,
    Episode,
    HistoryVersion,
    ImagingStudy,
    InstabilityStudy,
    OutcomeValue,
    PlanVersion,
    RecordFile,
    SessionLogRow,
    WearableRecording,
)
from spinestab.store.morphometry_models import MorphometryStudy

__all__ = ["reads_of", "record_revision", "replay_reads", "show_record"]


def _by_patient(model: Any, *order: Any, load: Sequence[Any] = ()) -> Any:
    """One table's rows of a patient (``pid``), in order, with what ``load`` names."""
    return select(model).where(model.patient_id == bindparam("pid")).options(*load).order_by(*order)


#: The timeline's statements, built once (building a statement costs more than running it).
_BY_PATIENT = {
    "episodes": _by_patient(Episode, Episode.number),
    # the plans' documents are not part of the timeline (plan_out without with_plan)
    "plans": _by_patient(PlanVersion, PlanVersion.version, load=[defer(PlanVersion.data)]),
    "imaging": _by_patient(ImagingStudy, ImagingStudy.id, load=[selectinload(ImagingStudy.rows)]),
    "instability": _by_patient(
        InstabilityStudy, InstabilityStudy.id, load=[selectinload(InstabilityStudy.levels)]
    ),
    "morphometry": _by_patient(
        MorphometryStudy, MorphometryStudy.id, load=[selectinload(MorphometryStudy.vertebrae)]
    ),
    "wearable": _by_patient(
        WearableRecording,
        WearableRecording.id,
        load=[selectinload(WearableRecording.days), selectinload(WearableRecording.prompts)],
    ),
    "assessments": _by_patient(Assessment, Assessment.date, Assessment.id),
    "sessions": _by_patient(SessionLogRow, SessionLogRow.date, SessionLogRow.id),
    "outcomes": _by_patient(OutcomeValue, OutcomeValue.date, OutcomeValue.id),
}
_HISTORY_COUNT = (
    select(func.count())
    .select_from(HistoryVersion)
    .where(HistoryVersion.patient_id == bindparam("pid"))
)


@service("read", "record")
def show_record(uow: UnitOfWork, actor: Actor, pseudonym: str) -> Timeline:
    """Everything the record holds for a patient, oldest first (an audited read).

    Open red flags come first in every shell that shows them; ``assessments`` include
    retracted ones (with ``status``) so that corrections stay visible.
    """
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym)
    s = uow.session
    pid = {"pid": patient.id}

    def rows(name: str) -> Any:
        return s.scalars(_BY_PATIENT[name], pid).all()

    episodes = rows("episodes")
    plans = rows("plans")
    plan_versions = {r.id: r.version for r in plans}
    studies = {kind: rows(kind) for kind in ("imaging", "instability", "morphometry", "wearable")}
    files = _files_of_studies(uow, {kind: [r.id for r in found] for kind, found in studies.items()})
    timeline = Timeline(
        patient=patient_out(uow, patient, episodes=episodes),
        episodes=[
            EpisodeOut(
                number=e.number, started_on=e.started_on, ended_on=e.ended_on, reason=e.reason
            )
            for e in episodes
        ],
        assessments=[assessment_out(a) for a in rows("assessments") if a.status != "duplicate"],
        history=history_out(h) if (h := latest_history(uow, patient)) is not None else None,
        history_versions=s.scalar(_HISTORY_COUNT, pid) or 0,
        imaging=[imaging_out(uow, r, files=files[("imaging", r.id)]) for r in studies["imaging"]],
        instability=[
            instability_out(uow, r, files=files[("instability", r.id)])
            for r in studies["instability"]
        ],
        morphometry=[
            morphometry_out(uow, r, files=files[("morphometry", r.id)])
            for r in studies["morphometry"]
        ],
        wearable=[
            wearable_out(uow, r, files=files[("wearable", r.id)]) for r in studies["wearable"]
        ],
        plans=[plan_out(uow, r, versions=plan_versions) for r in plans],
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
            for r in rows("sessions")
        ],
        outcomes=[
            OutcomeOut(date=o.date, instrument=o.instrument, value=o.value, source=o.source)
            for o in rows("outcomes")
        ],
        open_red_flags=open_red_flags(uow, patient),
    )
    audit(uow, actor, "read", "record", patient.id, patient=patient)
    return timeline


@service("read", "record")
def record_revision(uow: UnitOfWork, actor: Actor, pseudonym: str) -> tuple[int, int]:
    """Return ``(patient id, revision)`` of a patient's record as this read sees it.

    Not audited itself: the read that follows is, or :func:`replay_reads` audits again the
    reads a cached page was made from. Refused exactly as :func:`show_record` refuses.
    """
    authorize(actor, pseudonym, patient_may=True)
    return read_patient_revision(uow, pseudonym)


#: An audited read as :func:`replay_reads` repeats it: (action, entity, entity id, detail).
Read = tuple[str, str, int | None, Any]


def reads_of(uow: UnitOfWork) -> tuple[Read, ...]:
    """Return the reads audited so far in a read unit of work (for :func:`replay_reads`)."""
    return tuple((r["action"], r["entity"], r["entity_id"], r["detail"]) for r in uow._audit_rows)


@service("read", "record")
def replay_reads(
    uow: UnitOfWork, actor: Actor, pseudonym: str, reads: Sequence[Read], *, staff_only: bool
) -> None:
    """Audit, for this actor and now, the reads a page shown again was made from.

    A page kept by revision (the web app's record page) is shown without reading the record
    again; every showing is audited as the read it shows, row for row.
    """
    authorize(actor, pseudonym, patient_may=not staff_only)
    patient_id = patient_id_of(uow, pseudonym)
    for action, entity, entity_id, detail in reads:
        audit(uow, actor, action, entity, entity_id, patient_id=patient_id, detail=detail)


def _files_of_studies(
    uow: UnitOfWork, ids: dict[str, list[int]]
) -> defaultdict[tuple[str, int | None], list[FileOut]]:
    """Return the files of every study named, by (entity, id), in one query (in id order)."""
    found: defaultdict[tuple[str, int | None], list[FileOut]] = defaultdict(list)
    named = [
        and_(RecordFile.entity == kind, RecordFile.entity_id.in_(numbers))
        for kind, numbers in ids.items()
        if numbers
    ]
    if not named:
        return found
    for r in uow.session.scalars(select(RecordFile).where(or_(*named)).order_by(RecordFile.id)):
        found[(r.entity, r.entity_id)].append(
            FileOut(id=r.id, role=r.role, name=r.name, sha256=r.sha256)
        )
    return found
