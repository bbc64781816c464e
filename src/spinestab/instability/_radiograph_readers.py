"""Reading films for :mod:`spinestab.instability.radiograph`: DICOM CR/DX and PNG/JPEG."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.instability.radiograph import (
    _CALIBRATED_TYPES,
    _WIDE_MODES,
    FILM_MODALITIES,
    MAX_SIDE_PX,
    NO_SCALE,
    Radiograph,
)

__all__ = ["is_dicom", "read_dicom_film", "read_picture_film"]

logger = logging.getLogger(__name__)


def is_dicom(data: bytes) -> bool:
    return len(data) > 132 and data[128:132] == b"DICM"


def read_dicom_film(data: bytes, source: str) -> Radiograph:
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM radiographs")
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:
        raise InputError(
            f"cannot read DICOM ({type(exc).__name__})",
            source=source,
            expected="a complete DICOM file",
        ) from None
    modality = str(ds.get("Modality", "") or "").upper()
    if modality not in FILM_MODALITIES:
        raise InputError(
            "not a radiograph",
            source=source,
            item="Modality",
            value=modality or None,
            expected=f"one of {', '.join(FILM_MODALITIES)} (MR and CT series go to the MRI viewer)",
        )
    if int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise InputError(
            "several frames in one radiograph file",
            source=source,
            item="NumberOfFrames",
            value=int(ds.NumberOfFrames),
            expected="one film per file",
        )
    pixels = _dicom_pixels(ds, source)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "MONOCHROME1":
        pixels = pixels.max() + pixels.min() - pixels
    window = _dicom_window(ds, inverted=photometric == "MONOCHROME1", pixels=pixels)
    header, source_text, corrected = _dicom_spacing(ds, source)
    meta = {
        "view_position": str(ds.get("ViewPosition", "") or "") or None,
        "photometric": photometric,
        "estimated_magnification": _float_or_none(
            ds.get("EstimatedRadiographicMagnificationFactor")
        ),
    }
    return Radiograph(
        pixels=pixels,
        pixel_spacing_mm=header,
        spacing_source=source_text,
        magnification_corrected=corrected,
        kind="dicom",
        modality=modality,
        window=window,
        source=source,
        meta=meta,
    )


def _dicom_pixels(ds: Any, source: str) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    try:
        raw = ds.pixel_array
    except Exception as exc:
        raise InputError(
            f"cannot decode the pixels ({type(exc).__name__})",
            source=source,
            item=f"TransferSyntax {getattr(ds.file_meta, 'TransferSyntaxUID', '?')}",
            expected="uncompressed, JPEG or JPEG 2000 pixels (install spinestab[jpeg2000])",
        ) from None
    if raw.ndim != 2:
        raise InputError(
            "the film is not one grey-scale picture",
            source=source,
            value=tuple(raw.shape),
            expected="rows x columns, one sample per pixel",
        )
    _check_size(raw.shape, source)
    return np.asarray(apply_modality_lut(raw, ds), dtype=np.float32)


def _dicom_window(ds: Any, *, inverted: bool, pixels: np.ndarray) -> tuple[float, float] | None:
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    centre_v = _first_float(centre)
    width_v = _first_float(width)
    if centre_v is None or width_v is None or width_v <= 0:
        return None
    if inverted:
        centre_v = float(pixels.max() + pixels.min()) - centre_v
    return (centre_v, width_v)


def _dicom_spacing(ds: Any, source: str) -> tuple[tuple[float, float] | None, str, bool]:
    """Return the header's scale: (row, column) mm, where it came from, corrected or not."""
    spacing = _pair(ds.get("PixelSpacing"))
    if spacing is not None:
        kind = str(ds.get("PixelSpacingCalibrationType", "") or "").upper()
        if kind in _CALIBRATED_TYPES:
            return spacing, f"DICOM PixelSpacing, calibrated ({kind})", True
        return (
            spacing,
            "DICOM PixelSpacing (no calibration type: magnification not corrected)",
            False,
        )
    imager = _pair(ds.get("ImagerPixelSpacing"))
    if imager is not None:
        return imager, "DICOM ImagerPixelSpacing (detector plane: not corrected)", False
    logger.info("%s: no pixel spacing in the DICOM header", source)
    return None, NO_SCALE, False


def read_picture_film(data: bytes, source: str) -> Radiograph:
    pil = require("PIL.Image", extra="imaging", feature="Reading PNG/JPEG radiographs")
    try:
        picture = pil.open(io.BytesIO(data))
        picture.load()
    except Exception as exc:
        raise InputError(
            f"cannot read the picture ({type(exc).__name__})",
            source=source,
            expected="a complete DICOM (CR/DX), PNG or JPEG file",
        ) from None
    kind = (picture.format or "").lower()
    if not _complete(data, kind):
        raise InputError(
            "truncated picture (its end marker is missing)",
            source=source,
            expected="the whole PNG or JPEG file",
        )
    if kind not in ("png", "jpeg"):
        raise InputError(
            "unsupported picture format",
            source=source,
            value=picture.format,
            expected="DICOM (CR/DX), PNG or JPEG",
        )
    if getattr(picture, "n_frames", 1) != 1:
        raise InputError("animated picture", source=source, expected="one still film")
    _check_size((picture.height, picture.width), source)
    if picture.mode in _WIDE_MODES:
        pixels = np.asarray(picture, dtype=np.float32)
    else:
        pixels = np.asarray(picture.convert("L"), dtype=np.float32)
    return Radiograph(
        pixels=pixels,
        pixel_spacing_mm=None,
        spacing_source=NO_SCALE,
        magnification_corrected=False,
        kind=kind,
        source=source,
        meta={"mode": picture.mode},
    )


def _complete(data: bytes, kind: str) -> bool:
    """Whether a PNG ends with its IEND chunk and a JPEG with its EOI marker.

    Pillow may be told elsewhere in a process to load truncated files silently
    (``ImageFile.LOAD_TRUNCATED_IMAGES``); a film cut short must never pass for whole.
    """
    tail = data[-64:]
    if kind == "png":
        return b"IEND" in tail
    if kind == "jpeg":
        return b"\xff\xd9" in tail
    return True


def _check_size(shape: Sequence[int], source: str) -> None:
    if min(shape) < 16 or max(shape) > MAX_SIDE_PX:
        raise InputError(
            "film size out of range",
            source=source,
            value=tuple(int(s) for s in shape),
            expected=f"16 to {MAX_SIDE_PX} pixels per side",
        )


def _pair(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        row, col = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(row) and math.isfinite(col) and row > 0 and col > 0):
        return None
    return (row, col)


def _first_float(value: Any) -> float | None:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    return _float_or_none(value)


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
