"""Lateral radiographs for the landmark tool: pixels, pixel spacing and where the scale came from.

A film comes as DICOM (modality ``CR`` or ``DX``) or as a picture (PNG, JPEG). Its scale
(mm per pixel) comes from, in this order of precedence:

1. a **calibration object** of known size marked on the film (two points and the true
   distance): the scale holds in the plane of the object, so lengths count as corrected for
   magnification when the object lies in the plane of the spine [D];
2. a **declared** pixel spacing (the user says whether it is corrected for magnification);
3. the DICOM header: ``PixelSpacing`` (corrected only when ``PixelSpacingCalibrationType``
   says ``GEOMETRY`` or ``FIDUCIAL``), else ``ImagerPixelSpacing`` (the detector plane: the
   spine is magnified, typically 10-20 % on a lateral lumbar film [R: Ravi 2003, Spine
   28(18):2146]; lengths are not corrected).

A film without any scale is read, but landmarks placed on it give % measures only; the
landmark tool asks for a calibration first. Coordinates follow the landmark files: ``x`` =
column, ``y`` = row, in pixels whose centres lie at whole numbers (the first pixel spans
-0.5..0.5).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require

__all__ = [
    "FILM_MODALITIES",
    "MIN_CALIBRATION_PX",
    "NO_SCALE",
    "Calibration",
    "Radiograph",
    "display_png",
    "read_radiograph",
]

logger = logging.getLogger(__name__)

#: DICOM modalities accepted as films (computed and digital radiography).
FILM_MODALITIES = ("CR", "DX")
#: Shortest calibration segment accepted, in pixels: 1 px of click error is then <= 5 % [D].
MIN_CALIBRATION_PX = 20.0
#: Largest film side accepted, in pixels (a 43 cm detector at 0.05 mm is 8600 px).
MAX_SIDE_PX = 12_000
#: Percentiles that set the display window when the file gives none [D].
DISPLAY_PERCENTILES = (0.5, 99.5)
#: What a film without any scale says about it.
NO_SCALE = "none: mark a calibration object or declare the pixel spacing"
_CALIBRATED_TYPES = ("GEOMETRY", "FIDUCIAL")
#: Pillow modes of pictures with more than 8 bits per pixel (windowed for display).
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


@dataclass(frozen=True)
class Calibration:
    """A calibration object of known size marked on the film.

    Parameters
    ----------
    start_px, end_px : (float, float)
        The two marked points, ``(x, y)`` in pixels (e.g. both edges of a 25 mm ball).
    length_mm : float
        The true distance between them.

    Examples
    --------
    >>> Calibration((10.0, 10.0), (110.0, 10.0), 25.0).spacing_mm
    0.25

    """

    start_px: tuple[float, float]
    end_px: tuple[float, float]
    length_mm: float

    def __post_init__(self) -> None:
        """Check the points and the length; a segment too short to scale by is refused."""
        for name in ("start_px", "end_px"):
            point = getattr(self, name)
            try:
                x, y = (float(v) for v in point)
            except (TypeError, ValueError):
                raise InputError(
                    "a calibration point must be two numbers",
                    item=f"calibration.{name}",
                    value=point,
                    expected="[x, y] in pixels",
                ) from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise InputError("calibration point not finite", item=f"calibration.{name}")
            object.__setattr__(self, name, (x, y))
        length = self.length_mm
        if isinstance(length, bool) or not isinstance(length, int | float):
            raise InputError(
                "calibration length is not a number",
                item="calibration.length_mm",
                value=length,
                expected="the object's true size in mm",
            )
        if not (math.isfinite(length) and 0 < length <= 1000):
            raise InputError(
                "calibration length out of range",
                item="calibration.length_mm",
                value=length,
                expected="0 < mm <= 1000",
            )
        if self.distance_px < MIN_CALIBRATION_PX:
            raise InputError(
                "calibration points too close together",
                item="calibration",
                value=round(self.distance_px, 1),
                expected=f"at least {MIN_CALIBRATION_PX:g} px apart (mark the object's full size)",
            )

    @property
    def distance_px(self) -> float:
        """Distance between the two points in pixels."""
        return math.dist(self.start_px, self.end_px)

    @property
    def spacing_mm(self) -> float:
        """Millimetres per pixel in the plane of the object (isotropic pixels assumed)."""
        return float(self.length_mm) / self.distance_px

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "start_px": list(self.start_px),
            "end_px": list(self.end_px),
            "length_mm": self.length_mm,
            "spacing_mm": round(self.spacing_mm, 6),
        }


@dataclass(frozen=True)
class Radiograph:
    """One film: display-ready pixel values and the scale.

    Attributes
    ----------
    pixels : (rows, columns) ndarray of float32
        Values after the modality LUT, brighter = denser (MONOCHROME1 inverted).
    pixel_spacing_mm : (float, float) or None
        ``(row, column)`` mm per pixel; None when nothing gives a scale.
    spacing_source : str
        Where the scale came from, in words (shown beside every mm value).
    magnification_corrected : bool
        True when lengths are true anatomical sizes.
    kind : str
        ``dicom``, ``png`` or ``jpeg``.
    modality : str or None
        DICOM modality (``CR``, ``DX``).
    window : (float, float) or None
        Display window (centre, width) from the file.
    source : str
        File name, for messages.
    meta : dict
        Other facts (view position, EstimatedRadiographicMagnificationFactor...).

    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None
    spacing_source: str
    magnification_corrected: bool
    kind: str
    modality: str | None = None
    window: tuple[float, float] | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    @property
    def has_scale(self) -> bool:
        """Whether millimetres can be measured on this film."""
        return self.pixel_spacing_mm is not None

    def landmark_header(self, *, view: str) -> dict[str, Any]:
        """Return the top of a landmark file for this film (``units`` px and its scale)."""
        header: dict[str, Any] = {"units": "px", "view": view}
        if self.pixel_spacing_mm is not None:
            header["pixel_spacing_mm"] = [round(v, 6) for v in self.pixel_spacing_mm]
        header["magnification_corrected"] = bool(self.magnification_corrected)
        return header

    def describe(self) -> dict[str, Any]:
        """Return the facts shown beside the film (JSON-ready)."""
        return {
            "kind": self.kind,
            "modality": self.modality,
            "rows": self.shape[0],
            "columns": self.shape[1],
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
            "spacing_source": self.spacing_source,
            "magnification_corrected": self.magnification_corrected,
        }


def read_radiograph(
    data: bytes | str | Path,
    *,
    name: str | None = None,
    pixel_spacing_mm: float | Sequence[float] | None = None,
    magnification_corrected: bool = False,
    calibration: Calibration | None = None,
) -> Radiograph:
    """Read a lateral film (DICOM CR/DX, PNG or JPEG) and decide its scale.

    Parameters
    ----------
    data : bytes or path
        The file's content, or its path.
    name : str, optional
        Name for messages (default: the path).
    pixel_spacing_mm : float or (float, float), optional
        A declared spacing, ``(row, column)`` mm or one number for square pixels.
    magnification_corrected : bool
        With a declared spacing: whether it gives true anatomical sizes.
    calibration : Calibration, optional
        A calibration object marked on the film; wins over everything else.

    Returns
    -------
    Radiograph

    Raises
    ------
    InputError
        Not a film (another DICOM modality, several frames, colour video...), corrupt or
        truncated, too large, or a bad declared spacing.

    """
    if isinstance(data, str | Path):
        path = Path(data)
        source = name or str(path)
        if not path.is_file():
            raise InputError("file not found", source=source, expected="a radiograph file")
        data = path.read_bytes()
    else:
        source = name or "<radiograph>"
    if not data:
        raise InputError("empty file", source=source, expected="a DICOM, PNG or JPEG film")
    from spinestab.instability._radiograph_readers import (
        is_dicom,
        read_dicom_film,
        read_picture_film,
    )

    film = read_dicom_film(data, source) if is_dicom(data) else read_picture_film(data, source)
    return _with_scale(
        film,
        declared=_declared_spacing(pixel_spacing_mm, source),
        corrected=magnification_corrected,
        calibration=calibration,
    )


def _declared_spacing(
    value: float | Sequence[float] | None, source: str
) -> tuple[float, float] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, int | float) else list(value)
    if len(values) == 1:
        values = values * 2
    try:
        row, col = (float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(
            "declared pixel spacing must be one or two numbers",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected="mm per pixel, e.g. 0.15 or [0.15, 0.15] (row, column)",
        ) from None
    if not (
        math.isfinite(row) and math.isfinite(col) and min(row, col) >= 0.005 and max(row, col) <= 5
    ):
        raise InputError(
            "declared pixel spacing out of range",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected="0.005 to 5 mm per pixel",
        )
    return (row, col)


def _with_scale(
    film: Radiograph,
    *,
    declared: tuple[float, float] | None,
    corrected: bool,
    calibration: Calibration | None,
) -> Radiograph:
    """Apply the scale's precedence: calibration, declared, header."""
    import dataclasses

    if calibration is not None:
        spacing = calibration.spacing_mm
        meta = film.meta | {"calibration": calibration.to_dict()}
        return dataclasses.replace(
            film,
            pixel_spacing_mm=(spacing, spacing),
            spacing_source=(
                f"calibration object: {calibration.length_mm:g} mm over "
                f"{calibration.distance_px:.1f} px (true size where the object lies; "
                "place it in the plane of the spine)"
            ),
            magnification_corrected=True,
            meta=meta,
        )
    if declared is not None:
        state = "corrected" if corrected else "not corrected"
        return dataclasses.replace(
            film,
            pixel_spacing_mm=declared,
            spacing_source=f"declared ({state} for magnification)",
            magnification_corrected=bool(corrected),
            meta=film.meta | {"header_spacing_mm": film.pixel_spacing_mm},
        )
    return film


def display_png(film: Radiograph) -> bytes:
    """Return the film as an 8-bit grey PNG at full resolution (one PNG pixel per pixel).

    The window is the file's (DICOM WindowCenter/Width) or the 0.5-99.5 percentiles of the
    values; a picture that is already 8-bit is kept as it is.
    """
    pil = require("PIL.Image", extra="imaging", feature="Writing PNG")
    values = film.pixels
    if film.kind in ("png", "jpeg") and film.meta.get("mode") not in (
        "I;16",
        "I;16B",
        "I;16L",
        "I",
        "F",
    ):
        grey = np.clip(values, 0, 255).astype(np.uint8)
    else:
        if film.window is not None:
            centre, width = film.window
            lo, hi = centre - width / 2.0, centre + width / 2.0
        else:
            finite = values[np.isfinite(values)]
            lo, hi = np.percentile(finite, DISPLAY_PERCENTILES) if finite.size else (0.0, 1.0)
        span = max(float(hi) - float(lo), 1e-6)
        grey = np.clip((values - lo) / span * 255.0, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    pil.fromarray(grey).save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()
