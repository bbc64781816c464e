"""Vertebral morphometry in the record (``spinestab morphometry --patient``).

A morphometry study (options, the whole ``morphometry.json``, unique content hash per
patient) and one row per vertebra: the three heights, the wedge, biconcave and crush losses,
the largest loss, the deformity type, the Genant grade and the producer's flags.

Revision ID: 0005_morphometry
Revises: 0004_live
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_morphometry"
down_revision = "0004_live"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "morphometry_studies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("episode_id", sa.Integer(), sa.ForeignKey("episodes.id"), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("unit", sa.String(8), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_morphometry_content"),
    )
    op.create_index("ix_morphometry_studies_patient_id", "morphometry_studies", ["patient_id"])
    op.create_index("ix_morphometry_studies_episode_id", "morphometry_studies", ["episode_id"])
    op.create_table(
        "morphometry_vertebrae",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer(),
            sa.ForeignKey("morphometry_studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("anterior_height_mm", sa.Float(), nullable=True),
        sa.Column("middle_height_mm", sa.Float(), nullable=True),
        sa.Column("posterior_height_mm", sa.Float(), nullable=True),
        sa.Column("wedge_loss_pct", sa.Float(), nullable=True),
        sa.Column("biconcave_loss_pct", sa.Float(), nullable=True),
        sa.Column("crush_loss_pct", sa.Float(), nullable=True),
        sa.Column("height_loss_pct", sa.Float(), nullable=True),
        sa.Column("deformity", sa.String(16), nullable=True),
        sa.Column("genant_grade", sa.Integer(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
    )
    op.create_index("ix_morphometry_vertebrae_study_id", "morphometry_vertebrae", ["study_id"])


def downgrade() -> None:
    op.drop_table("morphometry_vertebrae")
    op.drop_table("morphometry_studies")
