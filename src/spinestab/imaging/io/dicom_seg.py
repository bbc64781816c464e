"""DICOM-SEG masks (binary or fractional) read onto the grid of the image they segment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io._dicom_base import _pixel_error, _seq_item
from spinestab.imaging.io.volume import Volume

__all__ = ["SEG_SOP_CLASS", "is_dicom_seg", "read_dicom_seg"]

logger = logging.getLogger(__name__)


#: Segmentation Storage SOP class (PS3.4 B.5).
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def is_dicom_seg(path: str | Path) -> bool:
    """Whether ``path`` is a DICOM-SEG file, or a folder holding one."""
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM-SEG")
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for f in files if path.exists() else []:
        if f.name.endswith((".nii", ".nii.gz")):
            continue
        try:
            ds = pydicom.dcmread(str(f), stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except Exception:
            continue
        if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS:
            return True
    return False


def read_dicom_seg(path: str | Path, reference: Volume) -> Volume:
    """Read a DICOM-SEG (binary or fractional) as a label map on the grid of ``reference``.

    Every frame is one segment in one plane (PS3.3 C.8.20); its pixels are placed on the
    reference grid through the frame's position, orientation and pixel spacing, so the
    frames must lie on that grid (the SEG was made on this image). The label value is the
    segment number; fractional frames count from 0.5 of their maximum [D].

    Raises
    ------
    InputError
        No or several SEG files, frames off the reference grid, overlapping segments.

    """
    src = str(path)
    ds = _the_seg_file(Path(path))
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    per_frame = list(getattr(ds, "PerFrameFunctionalGroupsSequence", None) or [])
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    if len(per_frame) != frames:
        raise InputError("DICOM-SEG without per-frame groups", source=src, value=frames)
    on, kind = _frames_on(ds, frames, src)
    grid = _Grid(reference)
    labels = np.zeros(reference.shape, dtype=np.int32)
    for n, frame in enumerate(per_frame):
        groups = _frame_groups(frame, shared, n, src)  # every frame needs them, empty or not
        if on[n].any():
            _place_frame(labels, on[n], _FrameInfo.of(groups, n), grid, src)
    names = {
        int(s.SegmentNumber): str(getattr(s, "SegmentLabel", ""))
        for s in getattr(ds, "SegmentSequence", None) or []
    }
    return Volume(
        labels,
        reference.affine.copy(),
        "SEG",
        src,
        {"segments": names, "segmentation_type": kind, "n_frames": frames},
    )


def _the_seg_file(path: Path) -> Any:
    """Return the one DICOM-SEG dataset of ``path`` (a file, or a folder holding one)."""
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM-SEG")
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    segs = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except Exception:
            continue
        if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS:
            segs.append(ds)
    if len(segs) != 1:
        raise InputError(
            f"{len(segs)} DICOM-SEG files",
            source=str(path),
            expected="one DICOM-SEG file (or a folder holding one)",
        )
    return segs[0]


def _frames_on(ds: Any, frames: int, src: str) -> tuple[np.ndarray, str]:
    """Return which pixels of each frame are in the segment, and the segmentation type."""
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise _pixel_error(ds, src, exc) from exc
    pixels = pixels.reshape(frames, int(ds.Rows), int(ds.Columns))
    kind = str(getattr(ds, "SegmentationType", "BINARY")).upper()
    if kind == "FRACTIONAL":
        top = float(getattr(ds, "MaximumFractionalValue", 255) or 255)
        return pixels >= 0.5 * top, kind
    return pixels > 0, kind


class _Grid:
    """The reference grid: world (LPS mm) to voxel index."""

    def __init__(self, reference: Volume) -> None:
        self.inv = np.linalg.inv(reference.affine)
        self.shape = np.asarray(reference.shape)


@dataclass(frozen=True)
class _FrameInfo:
    """Segment number and plane geometry of one frame."""

    number: int
    iop: np.ndarray
    position: np.ndarray
    row_spacing: float
    col_spacing: float
    label: str

    @classmethod
    def of(cls, groups: tuple[Any, Any, Any, Any], n: int) -> _FrameInfo:
        """Parse one frame's segment, position, orientation and pixel-measure items."""
        seg, pos, ori, pix = groups
        row_sp, col_sp = (float(v) for v in pix.PixelSpacing)
        return cls(
            int(seg.ReferencedSegmentNumber),
            np.asarray([float(v) for v in ori.ImageOrientationPatient]),
            np.asarray([float(v) for v in pos.ImagePositionPatient]),
            row_sp,
            col_sp,
            f"frame {n + 1}",
        )


def _frame_groups(frame: Any, shared: Any, n: int, src: str) -> tuple[Any, Any, Any, Any]:
    """Return one frame's segment and geometry items (per frame, else shared); all needed."""

    def group(*names: str) -> Any:
        item = _seq_item(frame, *names)
        return item if item is not None else _seq_item(shared, *names) if shared else None

    found = tuple(
        group(name)
        for name in (
            "SegmentIdentificationSequence",
            "PlanePositionSequence",
            "PlaneOrientationSequence",
            "PixelMeasuresSequence",
        )
    )
    if any(item is None for item in found):
        raise InputError(
            "DICOM-SEG frame lacks its segment number or geometry",
            source=src,
            item=f"frame {n + 1}",
        )
    return found


def _place_frame(
    labels: np.ndarray, on: np.ndarray, info: _FrameInfo, grid: _Grid, src: str
) -> None:
    """Write one frame's segment number into ``labels`` at its voxels of the grid."""
    number = info.number
    flip = np.array([-1.0, -1.0, 1.0])  # LPS -> RAS
    origin = flip * info.position
    step_c = flip * info.iop[:3] * info.col_spacing  # along a row: next column
    step_r = flip * info.iop[3:] * info.row_spacing  # down a column: next row
    inv = grid.inv
    base = inv[:3, :3] @ origin + inv[:3, 3]
    dc, dr = inv[:3, :3] @ step_c, inv[:3, :3] @ step_r
    r, c = np.nonzero(on)
    ijk = base[None, :] + c[:, None] * dc[None, :] + r[:, None] * dr[None, :]
    idx = np.rint(ijk).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < grid.shape), axis=1)
    if np.max(np.abs(ijk - idx)) > 1e-2 or not inside.all():
        raise InputError(
            "DICOM-SEG frame does not lie on the image grid",
            source=src,
            item=f"{info.label} (segment {number})",
            expected="a segmentation made on this image's grid",
        )
    target = labels[idx[:, 0], idx[:, 1], idx[:, 2]]
    clash = (target != 0) & (target != number)
    if clash.any():
        raise InputError(
            "DICOM-SEG segments overlap; a label map holds one label per voxel",
            source=src,
            value=sorted({int(v) for v in target[clash]} | {number}),
        )
    labels[idx[:, 0], idx[:, 1], idx[:, 2]] = number
