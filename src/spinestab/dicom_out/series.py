"""The source DICOM series a SEG and an SR refer to: headers in slice order plus the volume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io import Volume, list_dicom_series, read_dicom_series

__all__ = ["SourceSeries", "frames_from_volume", "read_source_series"]


@dataclass(frozen=True)
class SourceSeries:
    """A single-frame DICOM series as read for a muscle analysis.

    Attributes
    ----------
    datasets : tuple of pydicom.Dataset
        Headers (no pixel data) in the slice order of ``volume``: ``datasets[k]`` is slice
        ``volume.data[:, :, k]``.
    volume : Volume
        The series as :func:`spinestab.imaging.io.read_dicom_series` reads it.
    folder : Path
        Where it was read from.

    """

    datasets: tuple[Any, ...]
    volume: Volume
    folder: Path

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID of the source series."""
        return str(self.datasets[0].SeriesInstanceUID)

    @property
    def study_uid(self) -> str:
        """StudyInstanceUID of the source series."""
        return str(self.datasets[0].StudyInstanceUID)


def read_source_series(folder: str | Path, *, series_uid: str | None = None) -> SourceSeries:
    """Read a DICOM series for export: its volume and its headers in slice order.

    Parameters
    ----------
    folder : path-like
        Folder holding the series (one file per slice).
    series_uid : str, optional
        SeriesInstanceUID to use when the folder holds several series.

    Raises
    ------
    InputError
        Anything :func:`~spinestab.imaging.io.read_dicom_series` refuses, and an enhanced
        (multi-frame) series, which export does not handle yet.

    """
    pydicom = require("pydicom", extra="imaging", feature="DICOM export")
    folder = Path(folder)
    volume = read_dicom_series(folder, series_uid=series_uid)
    infos = list_dicom_series(folder)
    info = next(i for i in infos if i.series_uid == volume.meta["series_uid"])
    headers = [pydicom.dcmread(str(p), stop_before_pixels=True) for p in info.files]
    for header, path in zip(headers, info.files, strict=True):
        _fill_sop_identity(header, path)
    if len(headers) != volume.shape[2]:
        raise InputError(
            "DICOM export needs one file per slice",
            source=str(folder),
            value=f"{len(headers)} files for {volume.shape[2]} slices",
            expected="a single-frame series (enhanced multi-frame export is not supported yet)",
        )
    iop = np.asarray([float(v) for v in headers[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    along = np.asarray(
        [np.dot([float(v) for v in h.ImagePositionPatient], normal) for h in headers]
    )
    order = np.argsort(along, kind="stable")
    return SourceSeries(tuple(headers[i] for i in order), volume, folder)


def _fill_sop_identity(header: Any, path: Path) -> None:
    """Fill a blank SOP Class / Instance UID from the file meta (anonymisers blank them)."""
    meta = getattr(header, "file_meta", None)
    for name, meta_name in (
        ("SOPClassUID", "MediaStorageSOPClassUID"),
        ("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
    ):
        if str(header.get(name, "") or ""):
            continue
        value = str(getattr(meta, meta_name, "") or "") if meta is not None else ""
        if not value:
            raise InputError(
                f"DICOM file has no {name}", source=str(path), expected="a complete DICOM header"
            )
        setattr(header, name, value)


def frames_from_volume(labels: np.ndarray, datasets: Sequence[Any]) -> np.ndarray:
    """Turn a label volume ``(I, J, K)`` on the series grid into frames ``(K, rows, cols)``.

    ``labels[i, j, k]`` is column ``i``, row ``j`` of slice ``k`` (the layout of
    :func:`~spinestab.imaging.io.read_dicom_series`).
    """
    rows, cols = int(datasets[0].Rows), int(datasets[0].Columns)
    if labels.shape != (cols, rows, len(datasets)):
        raise InputError(
            "label map does not fit the series",
            value=labels.shape,
            expected=f"shape {(cols, rows, len(datasets))} (columns, rows, slices)",
        )
    return np.ascontiguousarray(np.transpose(labels, (2, 1, 0)))
