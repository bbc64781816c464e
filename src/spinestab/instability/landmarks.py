"""Vertebral-body landmarks: the data type and its vocabulary (no file formats here).

Four corners per vertebral body on a lateral radiograph or a mid-sagittal MRI/CT slice:
``anterior_superior`` (AS), ``posterior_superior`` (PS), ``posterior_inferior`` (PI) and
``anterior_inferior`` (AI); optionally the mid-points of the two endplates,
``mid_superior`` and ``mid_inferior``, for six-point morphometry
(``CLINICAL_LOGIC.md`` §4.6). Coordinates are ``[x, y]``: in image pixels (x = column,
y = row) with ``units = "px"``, or in millimetres with ``units = "mm"``. Pixel spacing is
given as ``[row, column]`` mm, in the DICOM ``PixelSpacing`` order.

Reading and validating files (JSON, CSV) is in :mod:`spinestab.instability.landmark_io`
and :mod:`spinestab.instability.landmark_parse`; measuring is in
:mod:`spinestab.instability.geometry`, :mod:`~spinestab.instability.measures` and
:mod:`~spinestab.instability.morphometry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AI",
    "AS",
    "CORNERS",
    "MIDPOINTS",
    "MID_INFERIOR",
    "MID_SUPERIOR",
    "PI",
    "PS",
    "UNITS",
    "VIEWS",
    "LandmarkSet",
]

#: Corner names in the row order of every ``(4, 2)`` corner array (walking round the body).
CORNERS: tuple[str, ...] = (
    "anterior_superior",
    "posterior_superior",
    "posterior_inferior",
    "anterior_inferior",
)
AS, PS, PI, AI = range(4)
#: Optional endplate mid-points, in the row order of every ``(2, 2)`` mid-point array.
MIDPOINTS: tuple[str, ...] = ("mid_superior", "mid_inferior")
MID_SUPERIOR, MID_INFERIOR = range(2)
VIEWS: tuple[str, ...] = ("neutral", "flexion", "extension")
UNITS: tuple[str, ...] = ("mm", "px")


@dataclass(frozen=True)
class LandmarkSet:
    """Corner landmarks of one view (one film or one slice).

    Parameters
    ----------
    view : {"neutral", "flexion", "extension"}
        The radiographic view.
    units : {"mm", "px"}
        Units declared for the file.
    vertebrae : dict of str to (4, 2) ndarray
        Corner coordinates per canonical level, rows in :data:`CORNERS` order, columns
        ``x, y``; a missing endplate is a pair of NaN rows. Ordered cranial to caudal.
    pixel_spacing_mm : tuple of float, optional
        ``(row, column)`` spacing in mm, needed to turn ``px`` into mm.
    vertebra_units : dict of str to str
        Units of each vertebra (equal to ``units`` unless the file mixes units).
    magnification_known : bool
        True when lengths are true anatomical sizes (CT/MRI, or a calibrated film).
    source : str
        Where the landmarks came from (file name, or ``mask:<file>``).
    notes : dict of str to list of str
        Per-level remarks from reading (e.g. a body cut by the field of view).
    outlines : dict of str to (N, 2) ndarray
        For corners derived from masks: the body's outline points on its slice (for the
        picture only).
    midpoints : dict of str to (2, 2) ndarray
        Endplate mid-points per level, rows in :data:`MIDPOINTS` order, in the vertebra's
        units; a point not given is a NaN row. Levels without mid-points are absent.
    resolution_mm : float, optional
        For points derived from an image grid (vertebra masks): the largest in-plane voxel
        size, which bounds how precisely a length is known; None for placed landmarks.

    """

    view: str
    units: str
    vertebrae: dict[str, np.ndarray]
    pixel_spacing_mm: tuple[float, float] | None = None
    vertebra_units: dict[str, str] = field(default_factory=dict)
    magnification_known: bool = False
    source: str = "<landmarks>"
    notes: dict[str, list[str]] = field(default_factory=dict)
    outlines: dict[str, np.ndarray] = field(default_factory=dict)
    midpoints: dict[str, np.ndarray] = field(default_factory=dict)
    resolution_mm: float | None = None

    @property
    def levels(self) -> list[str]:
        """Levels present, cranial to caudal."""
        return list(self.vertebrae)

    def units_of(self, level: str) -> str:
        """Units of one vertebra's coordinates."""
        return self.vertebra_units.get(level, self.units)

    def midpoints_of(self, level: str) -> np.ndarray:
        """``(2, 2)`` mid-points of one vertebra (NaN rows where not given)."""
        return self.midpoints.get(level, np.full((2, 2), np.nan))
