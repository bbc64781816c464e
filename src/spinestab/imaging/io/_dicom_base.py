"""What the DICOM readers share: series facts, functional groups, pixel decoding, geometry.

DICOM (LPS+) positions become RAS+ by flipping the sign of x and y (:func:`_assemble`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, MissingDependencyError
from spinestab.imaging.io.volume import Volume

__all__ = ["DicomSeriesInfo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One series found in a folder."""

    series_uid: str
    description: str
    modality: str
    files: tuple[Path, ...]


def _decoder_available(ts: Any) -> bool:
    try:
        from pydicom.pixels import get_decoder

        return bool(get_decoder(ts).is_available)
    except Exception:  # unknown transfer syntax: no decoder
        return False


def _seq_item(ds: Any, *names: str) -> Any:
    """Follow nested one-item sequences (``ds.A[0].B[0]``...); None when one is missing."""
    node = ds
    for name in names:
        seq = getattr(node, name, None)
        if not seq:
            return None
        node = seq[0]
    return node


def _pixel_error(ds: Any, src: str, exc: Exception) -> Exception:
    ts = getattr(ds.file_meta, "TransferSyntaxUID", None)
    if ts is not None and ts.is_compressed and not _decoder_available(ts):
        return MissingDependencyError(
            f"{src}: no decoder for compressed DICOM pixel data ({ts.name}, {ts}). "
            "Install the decoders with: pip install 'spinestab[jpeg2000]'"
        )
    fname = getattr(ds, "filename", None)
    return InputError(
        f"cannot decode pixel data ({type(exc).__name__}: {exc})",
        source=str(fname) if isinstance(fname, str) and fname else src,
        expected="complete, readable DICOM files",
    )


def study_date(ds: Any) -> str | None:
    """Return the day the series was acquired, ISO ``YYYY-MM-DD``, or None when not known.

    The first valid of ``StudyDate``, ``SeriesDate`` and ``AcquisitionDate`` (DICOM DA,
    ``YYYYMMDD``); an empty or malformed value is skipped, never an error: the date only
    orders studies ("performed last"), and a missing one falls back to the day stored.
    """
    for name in ("StudyDate", "SeriesDate", "AcquisitionDate"):
        text = str(getattr(ds, name, "") or "").strip()
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date().isoformat()
        except ValueError:
            continue
    return None


def _check_slice_positions(along: np.ndarray, *, src: str) -> None:
    """Check sorted slice positions: at least two, distinct and equally spaced.

    Parameters
    ----------
    along : (S,) ndarray
        Slice positions along the slice normal, mm, sorted ascending.
    src : str
        Source named in the error.

    """
    if len(along) < 2:
        raise InputError(
            "series has one slice", source=src, value=1, expected="a 3-D series of slices"
        )
    steps = np.diff(along)
    if np.any(steps < 1e-3):
        raise InputError(
            "two slices share one position", source=src, expected="distinct slice positions"
        )
    if np.max(steps) - np.min(steps) > max(0.01 * float(np.median(steps)), 1e-3):
        raise InputError(
            "slice spacing is not uniform (missing slices?)",
            source=src,
            value=[round(float(s), 3) for s in steps],
            expected="equally spaced slices",
        )


@dataclass(frozen=True)
class Frames:
    """Stored planes of a series with what places and rescales each.

    Attributes
    ----------
    pixels : (S, rows, cols) ndarray
        The stored values.
    positions : (S, 3) ndarray
        ImagePositionPatient of each plane (LPS mm).
    slopes, inters : (S,) ndarray
        RescaleSlope and RescaleIntercept of each plane.

    """

    pixels: np.ndarray
    positions: np.ndarray
    slopes: np.ndarray
    inters: np.ndarray


def _assemble(
    frames: Frames,
    iop: np.ndarray,
    pixel_spacing: Sequence[float],
    *,
    src: str,
    modality: str,
    meta: dict[str, Any],
) -> Volume:
    """Sort frames along the slice normal, check spacing, rescale, build the RAS+ affine."""
    pixels, positions = frames.pixels, frames.positions
    slopes, inters = frames.slopes, frames.inters
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along, positions = along[order], positions[order]
    pixels, slopes, inters = pixels[order], slopes[order], inters[order]
    _check_slice_positions(along, src=src)
    if np.all(slopes == 1.0) and np.all(inters == np.round(inters)):
        data = pixels.astype(np.int32) + inters.astype(np.int32)[:, None, None]
    else:
        data = pixels.astype(np.float64) * slopes[:, None, None] + inters[:, None, None]
    # (slices, rows, cols) -> (cols, rows, slices): i along the row direction.
    data = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    row_spacing, col_spacing = pixel_spacing
    step = (positions[-1] - positions[0]) / (len(positions) - 1)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * col_spacing
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return Volume(data=data, affine=affine, modality=modality, source=src, meta=meta)
