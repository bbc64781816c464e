"""The patient record: episodes, history, studies, recordings, plans, sessions, artifacts.

Assessments gain a content hash (unique per patient), source format, FHIR id, status
(stored / retracted / duplicate) and episode; copies stored twice before this revision are
kept and marked ``duplicate`` (the earliest stays ``stored``). The audit trail gains the
actor's role, the patient, the outcome (ok / refused) and the reason.

Revision ID: 0003
Revises: 0002_service
Create Date: 2026-11-30
"""

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_service"
branch_labels = None
depends_on = None


def _created() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.String(128), nullable=True),
    ]


def _patient() -> sa.Column:
    return sa.Column(
        "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False
    )


def _episode() -> sa.Column:
    return sa.Column("episode_id", sa.Integer(), sa.ForeignKey("episodes.id"), nullable=True)


def _form_hash(instrument: str, date: str, answers: object) -> str:
    """The content hash of a form, frozen as this revision writes it (record.forms.form_hash)."""
    text = json.dumps(
        {"instrument": instrument, "date": date, "answers": answers},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("created_by", sa.String(128), nullable=True))

    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "number", name="uq_episodes_number"),
    )
    op.create_index("ix_episodes_patient_id", "episodes", ["patient_id"])

    op.create_table(
        "artifacts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "record_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False),
        *_created(),
    )
    op.create_index("ix_record_files_patient_id", "record_files", ["patient_id"])
    op.create_index("ix_record_files_entity", "record_files", ["entity", "entity_id"])

    op.create_table(
        "history_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "version", name="uq_history_version"),
    )
    op.create_index("ix_history_versions_patient_id", "history_versions", ["patient_id"])
    op.create_index("ix_history_versions_episode_id", "history_versions", ["episode_id"])

    op.create_table(
        "imaging_studies",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("modality", sa.String(16), nullable=True),
        sa.Column("fat_method", sa.String(128), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_imaging_content"),
    )
    op.create_index("ix_imaging_studies_patient_id", "imaging_studies", ["patient_id"])
    op.create_index("ix_imaging_studies_episode_id", "imaging_studies", ["episode_id"])
    op.create_table(
        "muscle_quality_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer(),
            sa.ForeignKey("imaging_studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("muscle", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("fat_fraction_pct", sa.Float(), nullable=True),
        sa.Column("fat_method", sa.String(128), nullable=True),
        sa.Column("csa_max_mm2", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(32), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
    )
    op.create_index("ix_muscle_quality_rows_study_id", "muscle_quality_rows", ["study_id"])

    op.create_table(
        "instability_studies",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("thresholds", sa.String(128), nullable=True),
        sa.Column("landmarks", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_instability_content"),
    )
    op.create_index("ix_instability_studies_patient_id", "instability_studies", ["patient_id"])
    op.create_index("ix_instability_studies_episode_id", "instability_studies", ["episode_id"])
    op.create_table(
        "instability_levels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer(),
            sa.ForeignKey("instability_studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("slip_mm", sa.Float(), nullable=True),
        sa.Column("slip_pct", sa.Float(), nullable=True),
        sa.Column("meyerding_grade", sa.Integer(), nullable=True),
        sa.Column("translation_mm", sa.Float(), nullable=True),
        sa.Column("angulation_deg", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(32), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
    )
    op.create_index("ix_instability_levels_study_id", "instability_levels", ["study_id"])

    op.create_table(
        "wearable_recordings",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("first_date", sa.Date(), nullable=True),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("setup", sa.String(64), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_wearable_content"),
    )
    op.create_index("ix_wearable_recordings_patient_id", "wearable_recordings", ["patient_id"])
    op.create_index("ix_wearable_recordings_episode_id", "wearable_recordings", ["episode_id"])
    op.create_table(
        "wearable_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "recording_id",
            sa.Integer(),
            sa.ForeignKey("wearable_recordings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("valid_day", sa.Boolean(), nullable=True),
        sa.Column("wear_min", sa.Float(), nullable=True),
        sa.Column("steps", sa.Float(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.UniqueConstraint("recording_id", "date", name="uq_wearable_day"),
    )
    op.create_index("ix_wearable_days_recording_id", "wearable_days", ["recording_id"])
    op.create_table(
        "wearable_prompts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "recording_id",
            sa.Integer(),
            sa.ForeignKey("wearable_recordings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
    )
    op.create_index("ix_wearable_prompts_recording_id", "wearable_prompts", ["recording_id"])

    op.create_table(
        "profile_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        *_created(),
    )
    op.create_index("ix_profile_snapshots_patient_id", "profile_snapshots", ["patient_id"])
    op.create_index("ix_profile_snapshots_episode_id", "profile_snapshots", ["episode_id"])
    op.create_table(
        "triage_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column(
            "profile_id", sa.Integer(), sa.ForeignKey("profile_snapshots.id"), nullable=False
        ),
        sa.Column("track", sa.String(8), nullable=False),
        sa.Column("plan_allowed", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        *_created(),
    )
    op.create_index("ix_triage_decisions_patient_id", "triage_decisions", ["patient_id"])
    op.create_index("ix_triage_decisions_profile_id", "triage_decisions", ["profile_id"])

    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("track", sa.String(8), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("handout_html", sa.Text(), nullable=True),
        sa.Column("profile_id", sa.Integer(), sa.ForeignKey("profile_snapshots.id"), nullable=True),
        sa.Column("triage_id", sa.Integer(), sa.ForeignKey("triage_decisions.id"), nullable=True),
        sa.Column("previous_id", sa.Integer(), sa.ForeignKey("plan_versions.id"), nullable=True),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_by", sa.String(128), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "version", name="uq_plan_version"),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'blocked', 'superseded')", name="ck_plan_status"
        ),
    )
    op.create_index("ix_plan_versions_patient_id", "plan_versions", ["patient_id"])
    op.create_index("ix_plan_versions_episode_id", "plan_versions", ["episode_id"])
    op.create_index(
        "uq_plan_one_active",
        "plan_versions",
        ["patient_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "session_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plan_versions.id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=True)
            for name in (
                "sets",
                "reps",
                "hold_s",
                "pain_before",
                "pain_during",
                "pain_after",
                "pain_next_morning",
                "effort",
            )
        ],
        sa.Column("form_ok", sa.Boolean(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_session_content"),
    )
    op.create_index("ix_session_logs_patient_id", "session_logs", ["patient_id"])
    op.create_index("ix_session_logs_plan_id", "session_logs", ["plan_id"])
    op.create_table(
        "outcome_values",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        _episode(),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_outcome_content"),
    )
    op.create_index("ix_outcome_values_patient_id", "outcome_values", ["patient_id"])
    op.create_index("ix_outcome_values_episode_id", "outcome_values", ["episode_id"])

    # ---- assessments: hash, format, status, episode ---------------------------------------
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("episode_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source_format", sa.String(16), nullable=True))
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("fhir_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("artifact_sha256", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(16), server_default="stored", nullable=False)
        )
        batch.add_column(sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retracted_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(128), nullable=True))
        batch.create_foreign_key("fk_assessments_episode", "episodes", ["episode_id"], ["id"])
        batch.create_foreign_key(
            "fk_assessments_artifact", "artifacts", ["artifact_sha256"], ["sha256"]
        )

    bind = op.get_bind()
    patients = sa.table("patients", sa.column("id", sa.Integer()))
    episodes = sa.table(
        "episodes",
        sa.column("id", sa.Integer()),
        sa.column("patient_id", sa.Integer()),
        sa.column("number", sa.Integer()),
        sa.column("started_on", sa.Date()),
        sa.column("created_by", sa.String()),
    )
    assessments = sa.table(
        "assessments",
        sa.column("id", sa.Integer()),
        sa.column("patient_id", sa.Integer()),
        sa.column("instrument", sa.String()),
        sa.column("date", sa.Date()),
        sa.column("answers", sa.JSON()),
        sa.column("episode_id", sa.Integer()),
        sa.column("content_hash", sa.String()),
        sa.column("status", sa.String()),
        sa.column("source_format", sa.String()),
    )
    today = dt.date.today()
    for (patient_id,) in bind.execute(sa.select(patients.c.id)).all():
        bind.execute(
            episodes.insert().values(
                patient_id=patient_id, number=1, started_on=today, created_by="migration 0003"
            )
        )
    episode_of = dict(
        bind.execute(sa.select(episodes.c.patient_id, episodes.c.id)).all()  # one per patient
    )
    seen: set[tuple[int, str]] = set()
    rows = bind.execute(
        sa.select(
            assessments.c.id,
            assessments.c.patient_id,
            assessments.c.instrument,
            assessments.c.date,
            assessments.c.answers,
        ).order_by(assessments.c.id)
    ).all()
    for row_id, patient_id, instrument, date, answers in rows:
        digest = _form_hash(instrument, date.isoformat(), answers)
        status = "duplicate" if (patient_id, digest) in seen else "stored"
        seen.add((patient_id, digest))
        bind.execute(
            assessments.update()
            .where(assessments.c.id == row_id)
            .values(
                content_hash=digest,
                status=status,
                episode_id=episode_of.get(patient_id),
                source_format="json",
            )
        )
    with op.batch_alter_table("assessments") as batch:
        batch.alter_column("content_hash", existing_type=sa.String(64), nullable=False)
        batch.create_check_constraint(
            "ck_assessments_status", "status IN ('stored', 'retracted', 'duplicate')"
        )
    op.create_index("ix_assessments_episode_id", "assessments", ["episode_id"])
    op.create_index(
        "uq_assessments_content",
        "assessments",
        ["patient_id", "content_hash"],
        unique=True,
        sqlite_where=sa.text("status <> 'duplicate'"),
        postgresql_where=sa.text("status <> 'duplicate'"),
    )

    # ---- audit trail ------------------------------------------------------------------------
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(16), server_default="ok", nullable=False))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
    op.create_index("ix_audit_events_patient_id", "audit_events", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_patient_id", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        for name in ("reason", "outcome", "patient_id", "role"):
            batch.drop_column(name)
    op.drop_index("uq_assessments_content", table_name="assessments")
    op.drop_index("ix_assessments_episode_id", table_name="assessments")
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint("ck_assessments_status", type_="check")
        batch.drop_constraint("fk_assessments_artifact", type_="foreignkey")
        batch.drop_constraint("fk_assessments_episode", type_="foreignkey")
        for name in (
            "created_by",
            "retracted_by",
            "retracted_at",
            "status",
            "artifact_sha256",
            "fhir_id",
            "content_hash",
            "source_format",
            "episode_id",
        ):
            batch.drop_column(name)
    for table in (
        "outcome_values",
        "session_logs",
        "plan_versions",
        "triage_decisions",
        "profile_snapshots",
        "wearable_prompts",
        "wearable_days",
        "wearable_recordings",
        "instability_levels",
        "instability_studies",
        "muscle_quality_rows",
        "imaging_studies",
        "history_versions",
        "record_files",
        "artifacts",
        "episodes",
    ):
        op.drop_table(table)
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("created_by")
