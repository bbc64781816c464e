"""The record's revision: ``patients.revision``, moved on by every write to the record.

Revision ID: 0007_record_revision
Revises: 0006_imaging_viewer
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_record_revision"
down_revision = "0006_imaging_viewer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "patients", sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("revision")
