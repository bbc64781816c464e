"""The level of every axial slice (:class:`SliceLevels`) and the geometry that assigns it.

Slices are compared with vertebrae in world coordinates (the S axis of RAS+), so the
vertebra mask may lie on another grid than the image. A slice belongs to every vertebra
whose cranio-caudal extent covers it; when several do (overlap) or none does (a disc
between two vertebrae), the nearest vertebral centroid wins. Slices above the highest or
below the lowest vertebra stay unassigned (level ``""``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from spinestab.core.levels import vertebra_order
from spinestab.imaging.io import slice_axis

__all__ = ["SliceLevels", "assign_slices", "instance_extents", "slice_positions_s"]


@dataclass(frozen=True)
class SliceLevels:
    """The vertebral level of every axial slice of an image.

    Attributes
    ----------
    levels : tuple of str
        One entry per slice along the image's slice axis; ``""`` when unassigned.
    method : str
        How the levels were found.
    centroids_s_mm : dict
        Vertebra name to the world S coordinate of its centroid (mm), where known.

    """

    levels: tuple[str, ...]
    method: str
    centroids_s_mm: dict[str, float] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Return the assigned levels from cranial to caudal."""
        present = {lv for lv in self.levels if lv}
        return sorted(present, key=vertebra_order)

    def slices_of(self, level: str) -> np.ndarray:
        """Slice indices of one level."""
        return np.flatnonzero(np.asarray(self.levels, dtype=object) == level)


def slice_positions_s(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """World S coordinate (mm) of the centre of every slice along the slice axis.

    Parameters
    ----------
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine.
    shape : tuple of int
        The image shape ``(I, J, K)``.

    Returns
    -------
    (n_slices,) ndarray

    """
    ax = slice_axis(affine)
    centre = (np.asarray(shape[:3], dtype=float) - 1.0) / 2.0
    idx = np.arange(shape[ax], dtype=float)
    vox = np.repeat(centre[None, :], idx.size, axis=0)
    vox[:, ax] = idx
    return vox @ affine[2, :3] + affine[2, 3]


def instance_extents(
    labels: np.ndarray, affine: np.ndarray, values: Mapping[int, str]
) -> dict[str, tuple[float, float, float]]:
    """(min S, max S, centroid S) in mm for each vertebra present."""
    wanted = np.asarray(sorted(values), dtype=np.int64)
    mask = np.isin(labels, wanted)
    if not mask.any():
        return {}
    ijk = np.nonzero(mask)
    s = (
        affine[2, 0] * ijk[0].astype(float)
        + affine[2, 1] * ijk[1].astype(float)
        + affine[2, 2] * ijk[2].astype(float)
        + affine[2, 3]
    )
    lab = labels[ijk].astype(np.int64)
    order = np.argsort(lab, kind="stable")
    lab, s = lab[order], s[order]
    uniq, starts = np.unique(lab, return_index=True)
    mins = np.minimum.reduceat(s, starts)
    maxs = np.maximum.reduceat(s, starts)
    sums = np.add.reduceat(s, starts)
    counts = np.diff(np.r_[starts, lab.size])
    # half a voxel of padding along S, so a slice that cuts the last voxel row still counts
    pad = 0.5 * float(np.max(np.abs(affine[2, :3])))
    out = {}
    for u, lo, hi, tot, n in zip(uniq, mins, maxs, sums, counts, strict=True):
        out[values[int(u)]] = (float(lo) - pad, float(hi) + pad, float(tot) / float(n))
    return out


def assign_slices(
    slice_s: np.ndarray, extents: Mapping[str, tuple[float, float, float]], *, fill_gaps: bool
) -> tuple[str, ...]:
    """Name every slice from vertebra extents (see the module docstring).

    Parameters
    ----------
    slice_s : (n,) ndarray
        World S coordinate (mm) of each slice.
    extents : mapping
        Vertebra name to ``(min S, max S, centroid S)`` in mm (:func:`instance_extents`).
    fill_gaps : bool
        Give slices between two vertebrae (discs) the nearest vertebra.

    Returns
    -------
    tuple of str
        One name per slice, ``""`` where none.

    """
    if not extents:
        return tuple("" for _ in slice_s)
    names = list(extents)
    lo = np.asarray([extents[n][0] for n in names])
    hi = np.asarray([extents[n][1] for n in names])
    cen = np.asarray([extents[n][2] for n in names])
    inside = (slice_s[:, None] >= lo[None, :]) & (slice_s[:, None] <= hi[None, :])
    dist = np.abs(slice_s[:, None] - cen[None, :])
    within_spine = (slice_s >= lo.min()) & (slice_s <= hi.max())
    use_all = (~inside.any(axis=1)) & within_spine & fill_gaps
    candidate = inside | use_all[:, None]
    dist = np.where(candidate, dist, np.inf)
    best = np.argmin(dist, axis=1)
    has = np.isfinite(dist[np.arange(len(slice_s)), best])
    return tuple(names[b] if ok else "" for b, ok in zip(best, has, strict=True))
