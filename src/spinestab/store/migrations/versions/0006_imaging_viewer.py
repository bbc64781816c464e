"""Imaging viewer and landmark tool: image series, mask versions, radiographs, landmark versions.

Revision ID: 0006_imaging_viewer
Revises: 0005_morphometry
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_imaging_viewer"
down_revision = "0005_morphometry"
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


def upgrade() -> None:
    op.create_table(
        "image_series",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("episode_id", sa.Integer(), sa.ForeignKey("episodes.id"), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("modality", sa.String(16), nullable=True),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("labels", sa.String(255), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column(
            "volume_sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False
        ),
        sa.Column("content_hash", sa.String(64), nullable=False),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_image_series_hash"),
    )
    op.create_index("ix_image_series_patient_id", "image_series", ["patient_id"])
    op.create_index("ix_image_series_episode_id", "image_series", ["episode_id"])
    op.create_table(
        "mask_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("image_series.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("mask_versions.id"), nullable=True),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False),
        sa.Column("edit", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("series_id", "version", name="uq_mask_versions_number"),
    )
    op.create_index("ix_mask_versions_patient_id", "mask_versions", ["patient_id"])
    op.create_index("ix_mask_versions_series_id", "mask_versions", ["series_id"])
    op.create_table(
        "radiographs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column("episode_id", sa.Integer(), sa.ForeignKey("episodes.id"), nullable=True),
        sa.Column("view", sa.String(16), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("modality", sa.String(16), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("pixel_spacing_mm", sa.JSON(), nullable=True),
        sa.Column("spacing_source", sa.Text(), nullable=False),
        sa.Column("magnification_corrected", sa.Boolean(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=True),
        sa.Column("file_sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False),
        sa.Column(
            "display_sha256", sa.String(64), sa.ForeignKey("artifacts.sha256"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        *_created(),
        sa.UniqueConstraint("patient_id", "content_hash", name="uq_radiographs_hash"),
    )
    op.create_index("ix_radiographs_patient_id", "radiographs", ["patient_id"])
    op.create_index("ix_radiographs_episode_id", "radiographs", ["episode_id"])
    op.create_table(
        "landmark_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _patient(),
        sa.Column(
            "radiograph_id",
            sa.Integer(),
            sa.ForeignKey("radiographs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("radiograph_id", "version", name="uq_landmark_versions_number"),
    )
    op.create_index("ix_landmark_versions_patient_id", "landmark_versions", ["patient_id"])
    op.create_index("ix_landmark_versions_radiograph_id", "landmark_versions", ["radiograph_id"])


def downgrade() -> None:
    for table in ("landmark_versions", "radiographs", "mask_versions", "image_series"):
        op.drop_table(table)
