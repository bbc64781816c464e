"""The vertebral morphometry tables of the patient record (issue 17): studies, vertebrae.

Migration ``0005_morphometry``. Kept apart from :mod:`spinestab.store.models` (which stays
under 500 lines); imported by :mod:`spinestab.store` so that the metadata always holds them.
Written through :mod:`spinestab.record.morphometry`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spinestab.store.models import Base, _Created

__all__ = ["MorphometryStudy", "MorphometryVertebra"]


class MorphometryStudy(_Created, Base):
    """One vertebral morphometry (``spinestab morphometry``): options, result, vertebrae."""

    __tablename__ = "morphometry_studies"
    __table_args__ = (
        UniqueConstraint("patient_id", "content_hash", name="uq_morphometry_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    unit: Mapped[str | None] = mapped_column(String(8))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)

    vertebrae: Mapped[list[MorphometryVertebra]] = relationship(
        order_by="MorphometryVertebra.row_index", cascade="all, delete-orphan"
    )


class MorphometryVertebra(Base):
    """One vertebra of a morphometry: heights, losses, deformity type and Genant grade."""

    __tablename__ = "morphometry_vertebrae"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("morphometry_studies.id", ondelete="CASCADE"), index=True
    )
    row_index: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    anterior_height_mm: Mapped[float | None] = mapped_column(Float)
    middle_height_mm: Mapped[float | None] = mapped_column(Float)
    posterior_height_mm: Mapped[float | None] = mapped_column(Float)
    wedge_loss_pct: Mapped[float | None] = mapped_column(Float)
    biconcave_loss_pct: Mapped[float | None] = mapped_column(Float)
    crush_loss_pct: Mapped[float | None] = mapped_column(Float)
    height_loss_pct: Mapped[float | None] = mapped_column(Float)
    deformity: Mapped[str | None] = mapped_column(String(16))
    genant_grade: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[list[str]] = mapped_column(JSON)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
