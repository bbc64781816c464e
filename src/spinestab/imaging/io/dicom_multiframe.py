"""Enhanced (multi-frame) DICOM: one file, frames placed by their functional groups."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.io._dicom_base import (
    DicomSeriesInfo,
    Frames,
    _assemble,
    _pixel_error,
    _seq_item,
    study_date,
)
from spinestab.imaging.io.volume import Volume

__all__ = []

logger = logging.getLogger(__name__)


def _stack_multiframe(ds: Any, *, src: str, info: DicomSeriesInfo) -> Volume:
    """One multi-frame (enhanced) DICOM file: frames placed by their per-frame positions.

    Geometry comes from the functional groups (PS3.3 C.7.6.16): per-frame
    ``PlanePositionSequence``, and ``PlaneOrientationSequence`` / ``PixelMeasuresSequence`` /
    ``PixelValueTransformationSequence`` per frame or shared.
    """
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    per_frame = list(getattr(ds, "PerFrameFunctionalGroupsSequence", None) or [])
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    if len(per_frame) != frames:
        raise InputError(
            "multi-frame DICOM without per-frame geometry",
            source=src,
            value=f"{frames} frames, {len(per_frame)} per-frame groups",
            expected="an enhanced DICOM with PerFrameFunctionalGroupsSequence",
        )

    def group(frame: Any, *names: str) -> Any:
        item = _seq_item(frame, *names)
        return item if item is not None else _seq_item(shared, *names) if shared else None

    iops, positions, spacings, slopes, inters = [], [], [], [], []
    for n, frame in enumerate(per_frame):
        pos = group(frame, "PlanePositionSequence")
        ori = group(frame, "PlaneOrientationSequence")
        pix = group(frame, "PixelMeasuresSequence")
        if pos is None or ori is None or pix is None:
            raise InputError(
                "multi-frame DICOM frame lacks position, orientation or pixel spacing",
                source=src,
                item=f"frame {n + 1}",
                expected="PlanePosition, PlaneOrientation and PixelMeasures sequences",
            )
        positions.append([float(v) for v in pos.ImagePositionPatient])
        iops.append([float(v) for v in ori.ImageOrientationPatient])
        spacings.append([float(v) for v in pix.PixelSpacing])
        tr = group(frame, "PixelValueTransformationSequence")
        slopes.append(float(getattr(tr, "RescaleSlope", 1.0) or 1.0) if tr else 1.0)
        inters.append(float(getattr(tr, "RescaleIntercept", 0.0) or 0.0) if tr else 0.0)
    iop = np.asarray(iops)
    if not np.allclose(iop, iop[0], atol=1e-4) or not np.allclose(spacings, spacings[0]):
        raise InputError(
            "frames differ in orientation or pixel spacing",
            source=src,
            expected="one stack of parallel frames",
        )
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise _pixel_error(ds, src, exc) from exc
    if pixels.ndim != 3 or pixels.shape[0] != frames:
        raise InputError(
            "multi-frame colour DICOM is not supported", source=src, value=pixels.shape
        )
    return _assemble(
        Frames(pixels, np.asarray(positions), np.asarray(slopes), np.asarray(inters)),
        iop[0],
        (spacings[0][0], spacings[0][1]),
        src=src,
        modality=str(getattr(ds, "Modality", "unknown") or "unknown"),
        meta={
            "series_uid": info.series_uid,
            "series_description": info.description,
            "transfer_syntax": str(getattr(ds.file_meta, "TransferSyntaxUID", "")),
            "n_files": 1,
            "study_date": study_date(ds),
            "n_frames": frames,
        },
    )
