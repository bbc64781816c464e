"""Tables of the imaging viewer and the landmark tool: what every number is traced back to.

- ``image_series``: an MRI or CT series in the record (NIfTI, or a DICOM series converted once
  for the viewer), its label scheme and its input files (``record_files``, entity
  ``image_series``).
- ``mask_versions``: every muscle mask of a series, numbered, never changed: who made it and
  how (``manual``, ``segmenter NAME``, ``edited``, ``imported``), from which earlier version,
  and what the edit changed. An analysis of a series names the mask version it measured.
- ``radiographs``: a lateral film (DICOM CR/DX, PNG, JPEG) with its view and scale (pixel
  spacing, where it came from, magnification corrected or not, a calibration object).
- ``landmark_versions``: every set of landmarks placed on a film, numbered per film, with its
  reader, in the landmark JSON schema of ``spinestab instability``.

Writes go through :mod:`spinestab.record.viewer` only (validation, audit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from spinestab.store.models import Base

__all__ = [
    "VIEWER_ENTITIES",
    "VIEWER_TABLES",
    "ImageSeries",
    "LandmarkVersion",
    "MaskVersion",
    "Radiograph",
    "artifact_hashes",
]


def _patient() -> Mapped[int]:
    return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)


class ImageSeries(Base):
    """An MRI/CT series shown in the viewer (the ``{study}`` of the imaging URLs)."""

    __tablename__ = "image_series"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_image_series_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient()
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    modality: Mapped[str | None] = mapped_column(String(16))
    source_kind: Mapped[str] = mapped_column(String(16))
    labels: Mapped[str] = mapped_column(String(255))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    volume_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(128))


class MaskVersion(Base):
    """One muscle mask of a series; immutable once stored."""

    __tablename__ = "mask_versions"
    __table_args__ = (UniqueConstraint("series_id", "version", name="uq_mask_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient()
    series_id: Mapped[int] = mapped_column(
        ForeignKey("image_series.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("mask_versions.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    edit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(128))


class Radiograph(Base):
    """A lateral film and its scale."""

    __tablename__ = "radiographs"
    __table_args__ = (UniqueConstraint("patient_id", "content_hash", name="uq_radiographs_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient()
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    view: Mapped[str] = mapped_column(String(16))
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str | None] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    pixel_spacing_mm: Mapped[list[float] | None] = mapped_column(JSON)
    spacing_source: Mapped[str] = mapped_column(Text)
    magnification_corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    display_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    name: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(128))


class LandmarkVersion(Base):
    """One reader's landmarks on one film (the landmark JSON schema); immutable once stored."""

    __tablename__ = "landmark_versions"
    __table_args__ = (
        UniqueConstraint("radiograph_id", "version", name="uq_landmark_versions_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient()
    radiograph_id: Mapped[int] = mapped_column(
        ForeignKey("radiographs.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    landmarks: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str | None] = mapped_column(String(128))


#: The viewer's tables in the order an archive restores them (references first).
VIEWER_TABLES: tuple[type[Base], ...] = (ImageSeries, MaskVersion, Radiograph, LandmarkVersion)
#: ``entity`` names of record files and audit events -> the viewer's tables.
VIEWER_ENTITIES = {
    "image_series": "image_series",
    "mask_version": "mask_versions",
    "radiograph": "radiographs",
    "landmarks": "landmark_versions",
}


def artifact_hashes(rows: dict[str, list[Any]]) -> set[str]:
    """Return the SHA-256 of every artifact the viewer's rows name (for an archive)."""
    found = {x.volume_sha256 for x in rows.get("image_series", [])}
    found |= {m.sha256 for m in rows.get("mask_versions", [])}
    for film in rows.get("radiographs", []):
        found |= {film.file_sha256, film.display_sha256}
    return found
