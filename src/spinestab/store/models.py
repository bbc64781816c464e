"""SQLAlchemy 2 models of the patient record.

One table per thing a clinician knows about a patient (see ``docs/record.md``): the patient
and their episodes of care; questionnaire assessments (raw answers, score, source format,
content hash); history and examination (versioned); imaging studies with their
muscle-quality rows; instability studies with their per-level results; wearable recordings
with their daily rows and prompts; profile snapshots, triage decisions and plan versions;
session logs and outcome values; the files of all of these (by SHA-256, in the artifact
store); and the audit trail of every create, read, update, delete and refused attempt.

Rules the database itself holds (so that concurrent writers cannot break them):

- one stored copy of a questionnaire, study, recording or session row per patient
  (unique ``content_hash``);
- plan versions numbered once per patient, and at most one ``active`` plan per patient;
- plan status is one of ``draft``, ``active``, ``blocked``, ``superseded``.

Writes go through :mod:`spinestab.record` only (validation, safety rules, audit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "PLAN_STATUSES",
    "Artifact",
    "Assessment",
    "AuditEvent",
    "Base",
    "Episode",
    "HistoryVersion",
    "ImagingStudy",
    "InstabilityLevel",
    "InstabilityStudy",
    "MuscleQualityRow",
    "OutcomeValue",
    "Patient",
    "PlanVersion",
    "ProfileSnapshot",
    "RecordFile",
    "SessionLogRow",
    "TriageDecision",
    "WearableDay",
    "WearablePrompt",
    "WearableRecording",
]

#: Status of a plan version. ``draft``: made, awaiting a clinician's approval; ``active``:
#: approved, in force; ``blocked``: a blocking red flag is open (no exercise); ``superseded``:
#: a later version replaced it.
PLAN_STATUSES = ("draft", "active", "blocked", "superseded")
#: Status of a stored questionnaire: ``stored``; ``retracted`` (FHIR entered-in-error);
#: ``duplicate`` (a copy found when migrating a database written before the unique rule).
ASSESSMENT_STATUSES = ("stored", "retracted", "duplicate")


def _now() -> Any:
    return func.now()


class Base(DeclarativeBase):
    """Declarative base of all spinestab tables."""


class _Created:
    """Who wrote a row and when (every record table has both)."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    created_by: Mapped[str | None] = mapped_column(String(128))


class Patient(Base):
    """A patient, known only by a pseudonymous identifier."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    created_by: Mapped[str | None] = mapped_column(String(128))
    #: Moves on with every write to the record (spinestab.record.revision): caches key on it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    #: The patient's stored questionnaires (retracted ones and migration duplicates left
    #: out), oldest first; read-only: forms are written through spinestab.record.
    assessments: Mapped[list[Assessment]] = relationship(
        primaryjoin="and_(Patient.id == Assessment.patient_id, Assessment.status == 'stored')",
        order_by="Assessment.date, Assessment.id",
        viewonly=True,
    )


class Episode(_Created, Base):
    """An episode of care: the record's data belong to one; one is open at a time."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("patient_id", "number", name="uq_episodes_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)


class Artifact(Base):
    """A file in the artifact store, addressed by the SHA-256 of its bytes."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class RecordFile(_Created, Base):
    """A named file of the record (an input or output of a study, a QA picture, an upload)."""

    __tablename__ = "record_files"
    __table_args__ = (Index("ix_record_files_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))


class Assessment(_Created, Base):
    """One questionnaire: raw answers, the score, source format and content hash."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index(
            "uq_assessments_content",
            "patient_id",
            "content_hash",
            unique=True,
            sqlite_where=text("status <> 'duplicate'"),
            postgresql_where=text("status <> 'duplicate'"),
        ),
        CheckConstraint(
            "status IN ('stored', 'retracted', 'duplicate')", name="ck_assessments_status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(32))
    date: Mapped[dt.date] = mapped_column(Date)
    answers: Mapped[Any] = mapped_column(JSON, nullable=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(Text)
    source_format: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    fhir_id: Mapped[str | None] = mapped_column(String(128))
    artifact_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifacts.sha256"))
    status: Mapped[str] = mapped_column(String(16), server_default="stored")
    retracted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retracted_by: Mapped[str | None] = mapped_column(String(128))

    patient: Mapped[Patient] = relationship()


class HistoryVersion(_Created, Base):
    """History and examination (the ``history.json`` fields); every save is a new version."""

    __tablename__ = "history_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version", name="uq_history_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)


class ImagingStudy(_Created, Base):
    """One muscle-quality analysis: input files, options, summary, rows and QA pictures."""

    __tablename__ = "imaging_studies"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_imaging_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    modality: Mapped[str | None] = mapped_column(String(16))
    fat_method: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)

    rows: Mapped[list[MuscleQualityRow]] = relationship(
        order_by="MuscleQualityRow.row_index", cascade="all, delete-orphan"
    )


class MuscleQualityRow(Base):
    """One muscle x side x level row of an imaging study (``muscle_quality.csv``)."""

    __tablename__ = "muscle_quality_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("imaging_studies.id", ondelete="CASCADE"), index=True
    )
    row_index: Mapped[int] = mapped_column(Integer)
    muscle: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(32))
    fat_fraction_pct: Mapped[float | None] = mapped_column(Float)
    fat_method: Mapped[str | None] = mapped_column(String(128))
    csa_max_mm2: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


class InstabilityStudy(_Created, Base):
    """One instability analysis: landmarks per view, options and the result."""

    __tablename__ = "instability_studies"
    __table_args__ = (
        UniqueConstraint("patient_id", "content_hash", name="uq_instability_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    thresholds: Mapped[str | None] = mapped_column(String(128))
    landmarks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)

    levels: Mapped[list[InstabilityLevel]] = relationship(
        order_by="InstabilityLevel.row_index", cascade="all, delete-orphan"
    )


class InstabilityLevel(Base):
    """The result for one motion segment of an instability study."""

    __tablename__ = "instability_levels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("instability_studies.id", ondelete="CASCADE"), index=True
    )
    row_index: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    slip_mm: Mapped[float | None] = mapped_column(Float)
    slip_pct: Mapped[float | None] = mapped_column(Float)
    meyerding_grade: Mapped[int | None] = mapped_column(Integer)
    translation_mm: Mapped[float | None] = mapped_column(Float)
    angulation_deg: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


class WearableRecording(_Created, Base):
    """One wearable analysis: the recording file, options, summary, daily rows, prompts."""

    __tablename__ = "wearable_recordings"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_wearable_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    setup: Mapped[str | None] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)

    days: Mapped[list[WearableDay]] = relationship(
        order_by="WearableDay.date", cascade="all, delete-orphan"
    )
    prompts: Mapped[list[WearablePrompt]] = relationship(
        order_by="WearablePrompt.row_index", cascade="all, delete-orphan"
    )


class WearableDay(Base):
    """One day of a wearable recording (a row of ``daily.csv``)."""

    __tablename__ = "wearable_days"
    __table_args__ = (UniqueConstraint("recording_id", "date", name="uq_wearable_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("wearable_recordings.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    valid_day: Mapped[bool | None] = mapped_column(Boolean)
    wear_min: Mapped[float | None] = mapped_column(Float)
    steps: Mapped[float | None] = mapped_column(Float)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


class WearablePrompt(Base):
    """One 'keep moving' prompt of a wearable recording (a row of ``prompts.csv``)."""

    __tablename__ = "wearable_prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("wearable_recordings.id", ondelete="CASCADE"), index=True
    )
    row_index: Mapped[int] = mapped_column(Integer)
    time: Mapped[str] = mapped_column(String(40))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProfileSnapshot(_Created, Base):
    """The stability profile as built from the record, and which rows fed it."""

    __tablename__ = "profile_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)


class TriageDecision(_Created, Base):
    """The triage of one profile snapshot."""

    __tablename__ = "triage_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[int] = mapped_column(ForeignKey("profile_snapshots.id"), index=True)
    track: Mapped[str] = mapped_column(String(8))
    plan_allowed: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlanVersion(_Created, Base):
    """One plan version: its content never changes; only its status moves on."""

    __tablename__ = "plan_versions"
    __table_args__ = (
        UniqueConstraint("patient_id", "version", name="uq_plan_version"),
        Index(
            "uq_plan_one_active",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        CheckConstraint(
            "status IN ('draft', 'active', 'blocked', 'superseded')", name="ck_plan_status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    track: Mapped[str] = mapped_column(String(8))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    handout_html: Mapped[str | None] = mapped_column(Text)
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profile_snapshots.id"))
    triage_id: Mapped[int | None] = mapped_column(ForeignKey("triage_decisions.id"))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("plan_versions.id"))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_by: Mapped[str | None] = mapped_column(String(128))


class SessionLogRow(_Created, Base):
    """One logged exercise of one session (the ``progress`` format), against a plan."""

    __tablename__ = "session_logs"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_session_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    exercise: Mapped[str] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(Boolean)
    sets: Mapped[int | None] = mapped_column(Integer)
    reps: Mapped[int | None] = mapped_column(Integer)
    hold_s: Mapped[int | None] = mapped_column(Integer)
    pain_before: Mapped[int | None] = mapped_column(Integer)
    pain_during: Mapped[int | None] = mapped_column(Integer)
    pain_after: Mapped[int | None] = mapped_column(Integer)
    pain_next_morning: Mapped[int | None] = mapped_column(Integer)
    effort: Mapped[int | None] = mapped_column(Integer)
    form_ok: Mapped[bool | None] = mapped_column(Boolean)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)


class OutcomeValue(_Created, Base):
    """A follow-up score given as a number (``outcomes`` of a session-log JSON file)."""

    __tablename__ = "outcome_values"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_outcome_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    instrument: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Who did what to which record, when, and whether it was allowed.

    ``action``: create, read, update, delete (and export, restore, approve, retract...);
    ``outcome``: ``ok`` or ``refused`` (with the reason, never the refused values).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(16), server_default="ok")
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
