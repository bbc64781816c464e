"""The :class:`Volume` (voxels + RAS+ affine) and its grid: axis codes, slice axis, grid checks.

Geometry is kept as a 4x4 voxel-to-world affine in RAS+ millimetres (the NIfTI / nibabel
convention), whatever the orientation of the stored array.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab.errors import InputError

__all__ = [
    "GRID_TOLERANCE_MM",
    "Volume",
    "as_label_volume",
    "check_same_grid",
    "conform_to",
    "slice_axis",
]

logger = logging.getLogger(__name__)


#: Default tolerance when comparing two grids: mm for positions, unitless for directions.
GRID_TOLERANCE_MM = 1e-3  # [D]: accepts the ~3e-6 mm of the real MuscleMap pair


@dataclass(frozen=True)
class Volume:
    """A 3-D image or label map with its geometry.

    Parameters
    ----------
    data : (I, J, K) ndarray
        Voxel values in array order. Images keep their stored dtype after scaling
        (CT in Hounsfield units); label maps are integers.
    affine : (4, 4) ndarray
        Voxel index ``(i, j, k, 1)`` to world RAS+ millimetres.
    modality : str
        ``"CT"``, ``"MR"`` or ``"unknown"``.
    source : str
        Where it came from (file or folder), for messages.
    meta : dict
        Extra facts from the header (series UID, description, transfer syntax...).

    """

    data: np.ndarray
    affine: np.ndarray
    modality: str = "unknown"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape ``(I, J, K)``."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along the three array axes in mm."""
        s = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(s[0]), float(s[1]), float(s[2]))

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm^3 (absolute determinant of the affine)."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def axcodes(self) -> str:
        """Orientation codes such as ``"LPS"`` or ``"RAS"`` (nibabel's ``aff2axcodes``)."""
        return "".join(_axcodes(self.affine))

    def with_data(self, data: np.ndarray, **changes: Any) -> Volume:
        """Return a copy with new voxel data on the same grid."""
        if data.shape != self.data.shape:
            raise ValueError(f"shape {data.shape} differs from {self.data.shape}")
        return Volume(
            data=data,
            affine=self.affine,
            modality=changes.get("modality", self.modality),
            source=changes.get("source", self.source),
            meta=changes.get("meta", self.meta),
        )


def _axcodes(affine: np.ndarray) -> tuple[str, str, str]:
    labels = (("L", "R"), ("P", "A"), ("I", "S"))
    codes = []
    rot = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    for col in range(3):
        world_axis = int(np.argmax(np.abs(rot[:, col])))
        positive = rot[world_axis, col] > 0
        codes.append(labels[world_axis][1] if positive else labels[world_axis][0])
    return codes[0], codes[1], codes[2]


def slice_axis(affine: np.ndarray) -> int:
    """Return the array axis closest to the cranio-caudal (world S) axis.

    Parameters
    ----------
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine.

    Returns
    -------
    int
        0, 1 or 2: the axis along which "axial slices" are stacked.

    Examples
    --------
    >>> slice_axis(np.diag([1.0, 1.0, 4.4, 1.0]))
    2

    """
    rot = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return int(np.argmax(np.abs(rot[2, :])))


def check_same_grid(
    a: Volume,
    b: Volume,
    *,
    tolerance_mm: float = GRID_TOLERANCE_MM,
    what: str = "mask",
) -> None:
    """Fail unless ``b`` lies on the same voxel grid as ``a`` (shape and affine).

    Origins may differ by up to ``tolerance_mm`` (the real MuscleMap pair differs by
    about 3e-6 mm); directions and spacings by a relative ``1e-4``.

    Raises
    ------
    InputError
        With both geometries in the message.

    """
    problem = None
    if a.shape != b.shape:
        problem = "shape differs"
    else:
        origin_diff = float(np.max(np.abs(a.affine[:3, 3] - b.affine[:3, 3])))
        scale = max(float(np.max(np.abs(a.affine[:3, :3]))), 1e-12)
        matrix_diff = float(np.max(np.abs(a.affine[:3, :3] - b.affine[:3, :3]))) / scale
        if origin_diff > tolerance_mm:
            problem = f"origin differs by {origin_diff:.4g} mm (tolerance {tolerance_mm} mm)"
        elif matrix_diff > 1e-4:
            problem = f"orientation/spacing differ (relative {matrix_diff:.3g})"
    if problem:
        raise InputError(
            f"{what} is not on the image grid: {problem}. "
            f"image {a.source or '?'}: {_describe_grid(a)}; "
            f"{what} {b.source or '?'}: {_describe_grid(b)}",
            source=b.source or None,
            expected="the same shape, spacing, orientation and origin as the image",
        )


def conform_to(
    reference: Volume,
    other: Volume,
    *,
    tolerance_mm: float = GRID_TOLERANCE_MM,
    what: str = "mask",
) -> Volume:
    """Return ``other`` on the grid of ``reference``, reordering its axes if needed.

    A mask written by another tool may store the same voxels in another axis order or
    direction (e.g. LAS instead of LPS). That is the same grid, so the array is
    reoriented (no interpolation). Anything else fails as in :func:`check_same_grid`.
    """
    try:
        check_same_grid(reference, other, tolerance_mm=tolerance_mm, what=what)
        return other
    except InputError as first_error:
        from nibabel import orientations as nio

        if sorted(reference.shape) != sorted(other.shape):
            raise
        transform = nio.ornt_transform(
            nio.io_orientation(other.affine), nio.io_orientation(reference.affine)
        )
        data = nio.apply_orientation(other.data, transform)
        affine = other.affine @ nio.inv_ornt_aff(transform, other.data.shape)
        moved = Volume(np.ascontiguousarray(data), affine, other.modality, other.source, other.meta)
        try:
            check_same_grid(reference, moved, tolerance_mm=tolerance_mm, what=what)
        except InputError:
            raise first_error from None
        logger.info("%s: reoriented %s -> %s", other.source, other.axcodes, reference.axcodes)
        return moved


def _describe_grid(v: Volume) -> str:
    sp = ", ".join(f"{s:.4g}" for s in v.spacing_mm)
    org = ", ".join(f"{o:.4g}" for o in v.affine[:3, 3])
    return f"shape {v.shape}, spacing ({sp}) mm, orient {v.axcodes}, origin ({org})"


def _squeeze_to_3d(data: np.ndarray, src: str) -> np.ndarray:
    if data.ndim > 3:
        extra = data.shape[3:]
        if all(n == 1 for n in extra):
            data = data.reshape(data.shape[:3])
        else:
            raise InputError(
                "image has more than 3 dimensions",
                source=src,
                value=tuple(data.shape),
                expected="a 3-D volume (one time point / echo)",
            )
    if data.ndim != 3 or min(data.shape) < 1:
        raise InputError(
            "image is not 3-D",
            source=src,
            value=tuple(data.shape),
            expected="a 3-D volume of axial slices",
        )
    return data


def as_label_volume(volume: Volume) -> Volume:
    """Return ``volume`` with integer labels; non-integer values fail (as ``as_labels``)."""
    return volume.with_data(_as_labels(volume.data, volume.source or "label map"))


def _as_labels(data: np.ndarray, src: str) -> np.ndarray:
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.int32, copy=False)
    if not np.all(np.isfinite(data)):
        raise InputError("label map has NaN or infinite values", source=src)
    rounded = np.rint(data)
    if not np.allclose(rounded, data, rtol=0.0, atol=1e-3):  # float-stored labels pass
        raise InputError(
            "label map has non-integer values",
            source=src,
            expected="integer labels (a segmentation, not a probability map)",
        )
    return rounded.astype(np.int32)
