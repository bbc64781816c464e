"""DICOM series folders (pydicom): list the series, read one into a :class:`~.volume.Volume`.

Single-frame series are stacked by slice position; an enhanced multi-frame file goes to
:mod:`~spinestab.imaging.io.dicom_multiframe`. Slices are sorted along their normal and
checked (distinct, equally spaced); values are rescaled, so CT is in HU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io._dicom_base import (
    DicomSeriesInfo,
    Frames,
    _assemble,
    _check_slice_positions,
    _pixel_error,
    study_date,
)
from spinestab.imaging.io.dicom_multiframe import _stack_multiframe
from spinestab.imaging.io.volume import Volume

__all__ = ["info_files_sorted", "list_dicom_series", "read_dicom_series"]

logger = logging.getLogger(__name__)


def _has_dicm_preamble(path: Path) -> bool:
    """Return whether the file carries the DICOM Part 10 marker ``DICM`` at byte 128."""
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _is_known_non_image(ds: Any) -> bool:
    """Return whether the dataset names a SOP class that is not an image (DICOMDIR, SR, ...)."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(ds, "SOPClassUID", None) or (
        getattr(meta, "MediaStorageSOPClassUID", None) if meta is not None else None
    )
    if not uid:
        return False
    name = str(getattr(uid, "name", "") or "")
    return bool(name) and name != str(uid) and "Image Storage" not in name


def list_dicom_series(folder: str | Path) -> list[DicomSeriesInfo]:
    """List the DICOM series in a folder (headers only, no pixel data).

    Files that are not DICOM are skipped; a folder with no DICOM image fails.
    """
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", source=str(folder), expected="a DICOM series folder")
    groups: dict[str, list[Path]] = {}
    meta: dict[str, tuple[str, str]] = {}
    bad: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except Exception as exc:
            if _has_dicm_preamble(path):  # a DICOM file that cannot be parsed: corrupt
                raise InputError(
                    f"corrupt DICOM file ({type(exc).__name__}: {exc})",
                    source=str(path),
                    expected="complete, readable DICOM files (remove or replace this one)",
                ) from exc
            bad.append(path.name)
            continue
        if not any(k in ds for k in ("PixelData", "ImagePositionPatient", "NumberOfFrames")):
            if _has_dicm_preamble(path) and not _is_known_non_image(ds):
                # an image file cut short, or one whose header is garbled: skipping it would
                # silently drop a slice at either end of the series
                raise InputError(
                    "corrupt or truncated DICOM file: no pixel data or slice position "
                    "and no non-image SOP class",
                    source=str(path),
                    expected="complete, readable DICOM files (remove or replace this one)",
                )
            continue  # not an image (e.g. a DICOMDIR or a structured report)
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        groups.setdefault(uid, []).append(path)
        meta.setdefault(
            uid,
            (str(getattr(ds, "SeriesDescription", "") or ""), str(getattr(ds, "Modality", ""))),
        )
    if not groups:
        raise InputError(
            "no DICOM images in folder" + (f" ({len(bad)} unreadable files)" if bad else ""),
            source=str(folder),
            expected="a folder of DICOM files of one series",
        )
    if bad:
        logger.warning("%s: skipped %d non-DICOM files", folder, len(bad))
    return [
        DicomSeriesInfo(uid, meta[uid][0], meta[uid][1], tuple(files))
        for uid, files in sorted(groups.items())
    ]


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None) -> Volume:
    """Read one DICOM series into a :class:`Volume` with slices sorted by position.

    Parameters
    ----------
    folder : str or Path
        Folder holding the series' files.
    series_uid : str, optional
        SeriesInstanceUID to read when the folder holds several series.

    Returns
    -------
    Volume
        ``data[i, j, k]`` is column ``i``, row ``j`` of slice ``k`` (slices in order along
        the slice normal). Values are rescaled (``RescaleSlope``/``RescaleIntercept``),
        so CT is in HU.

    Raises
    ------
    InputError
        No series, several series without a choice (all are listed), mixed slice
        geometry, missing or duplicated slice positions, unreadable pixel data.
    MissingDependencyError
        Compressed pixel data without a decoder (e.g. JPEG 2000 needs
        ``spinestab[jpeg2000]``).

    """
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM")
    series = list_dicom_series(folder)
    src = str(folder)
    if series_uid is not None:
        chosen = [s for s in series if s.series_uid == series_uid]
        if not chosen:
            raise InputError(
                "series not found",
                source=src,
                value=series_uid,
                expected="one of " + _list_series(series),
            )
        info = chosen[0]
    elif len(series) > 1:
        raise InputError(
            f"folder holds {len(series)} series; choose one by SeriesInstanceUID",
            source=src,
            expected="one of " + _list_series(series),
        )
    else:
        info = series[0]

    datasets = []
    for path in info.files:
        try:
            datasets.append(pydicom.dcmread(str(path)))
        except Exception as exc:
            raise InputError(f"cannot read DICOM file ({exc})", source=str(path)) from exc
    return _stack_datasets(datasets, src=src, info=info)


def _list_series(series: Sequence[DicomSeriesInfo]) -> str:
    return "; ".join(
        f"{s.series_uid} ({s.modality} '{s.description}', {len(s.files)} files)" for s in series
    )


def info_files_sorted(info: DicomSeriesInfo, order: np.ndarray) -> list[Path]:
    """Return the series' files in slice order."""
    return [info.files[i] for i in order]


def _stack_datasets(datasets: list[Any], *, src: str, info: DicomSeriesInfo) -> Volume:
    """Stack the files of one series (one slice each, or one enhanced multi-frame file)."""
    first = datasets[0]
    frames = int(getattr(first, "NumberOfFrames", 1) or 1)
    if frames > 1:
        if len(datasets) > 1:
            raise InputError(
                f"series holds {len(datasets)} multi-frame files",
                source=src,
                expected="one enhanced (multi-frame) file per series, or one file per slice",
            )
        return _stack_multiframe(first, src=src, info=info)
    iop = _one_slice_geometry(datasets, src)
    positions = np.asarray([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    along = positions @ np.cross(iop[:3], iop[3:])
    order = np.argsort(along, kind="stable")
    positions = positions[order]
    datasets = [datasets[i] for i in order]
    # checked here too, before any pixel data is decoded
    _check_slice_positions(along[order], src=src)
    pixels = _decode(datasets, info_files_sorted(info, order), src)
    slopes = np.asarray([float(getattr(ds, "RescaleSlope", 1.0) or 1.0) for ds in datasets])
    inters = np.asarray([float(getattr(ds, "RescaleIntercept", 0.0) or 0.0) for ds in datasets])
    return _assemble(
        Frames(pixels, positions, slopes, inters),
        iop,
        (float(first.PixelSpacing[0]), float(first.PixelSpacing[1])),
        src=src,
        modality=str(getattr(first, "Modality", "unknown") or "unknown"),
        meta={
            "series_uid": info.series_uid,
            "series_description": info.description,
            "transfer_syntax": str(getattr(first.file_meta, "TransferSyntaxUID", "")),
            "n_files": len(datasets),
            "study_date": study_date(first),
        },
    )


def _one_slice_geometry(datasets: list[Any], src: str) -> np.ndarray:
    """Return the series' ImageOrientationPatient; refuse slices of another geometry."""
    first = datasets[0]
    for name in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
        if name not in first:
            raise InputError(f"DICOM header lacks {name}", source=src, expected="a 3-D series")
    iop = np.asarray([float(v) for v in first.ImageOrientationPatient])
    shape2d = (int(first.Rows), int(first.Columns))
    for ds in datasets[1:]:
        other = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        if not np.allclose(other, iop, atol=1e-4) or (int(ds.Rows), int(ds.Columns)) != shape2d:
            raise InputError(
                "slices differ in orientation or size",
                source=src,
                expected="one series with one slice geometry",
            )
    return iop


def _decode(datasets: list[Any], paths: list[Path], src: str) -> np.ndarray:
    """Decode the slices' pixel data, in order, as one (slices, rows, cols) array."""
    for ds, path in zip(datasets, paths, strict=True):
        if "PixelData" not in ds:
            raise InputError("DICOM file has no pixel data (truncated?)", source=str(path))
    current = datasets[0]
    try:
        planes = []
        for ds in datasets:
            current = ds  # the file that fails is the one named in the message
            planes.append(np.asarray(ds.pixel_array))
        pixels = np.stack(planes, axis=0)
    except Exception as exc:
        raise _pixel_error(current, src, exc) from exc
    if pixels.ndim != 3:
        raise InputError("colour DICOM is not supported", source=src, value=pixels.shape)
    return pixels
