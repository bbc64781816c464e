"""Live prompt service (issue 13.3): streams with their engine state, prompts, snoozes.

Revision ID: 0004_live
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_live"
down_revision = "0003"
branch_labels = None
depends_on = None


def _patient() -> sa.Column:
    return sa.Column(
        "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False
    )


def _created() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.String(128), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "live_streams",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("fs_hz", sa.Integer(), nullable=False),
        sa.Column("units", sa.String(8), nullable=False),
        sa.Column("start_unix_s", sa.Float(), nullable=False),
        sa.Column("utc_offset_h", sa.Float(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("end_unix_s", sa.Float(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_created(),
        sa.UniqueConstraint("patient_id", "name", name="uq_live_stream_name"),
    )
    op.create_index("ix_live_streams_patient_id", "live_streams", ["patient_id"])

    op.create_table(
        "live_prompts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "stream_id",
            sa.Integer(),
            sa.ForeignKey("live_streams.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _patient(),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("due_unix_s", sa.Float(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("stream_id", "second", name="uq_live_prompt_second"),
        sa.CheckConstraint("status IN ('sent', 'snoozed')", name="ck_live_prompt_status"),
    )
    op.create_index("ix_live_prompts_stream_id", "live_prompts", ["stream_id"])
    op.create_index("ix_live_prompts_patient_id", "live_prompts", ["patient_id"])

    op.create_table(
        "live_snoozes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        *_created(),
    )
    op.create_index("ix_live_snoozes_patient_id", "live_snoozes", ["patient_id"])


def downgrade() -> None:
    op.drop_table("live_snoozes")
    op.drop_table("live_prompts")
    op.drop_table("live_streams")
