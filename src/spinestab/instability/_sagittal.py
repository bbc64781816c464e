"""The mid-sagittal plane of a vertebra mask: voxel axes, slices, the body and its outline.

Pure functions on label arrays and the voxel-to-world affine, used by
:mod:`spinestab.instability.masks` to derive corners (and mid-points) of each body.
"""

from __future__ import annotations

import logging

import numpy as np

from spinestab.errors import InputError, require
from spinestab.instability.landmarks import AI, AS, PI, PS

__all__ = [
    "body_component",
    "corner_extremes",
    "mask_axes",
    "occupancy",
    "outline_points",
    "principal_axes",
    "sagittal_slice",
]

log = logging.getLogger(__name__)


def mask_axes(affine: np.ndarray, *, source: str) -> tuple[int, int, int]:
    """Voxel axes closest to world x (LR), y (AP) and z (SI)."""
    rot = affine[:3, :3]
    norms = np.linalg.norm(rot, axis=0)
    if np.any(norms == 0) or not np.all(np.isfinite(rot)):
        raise InputError(
            "mask affine is degenerate",
            source=source,
            value=rot.tolist(),
            expected="a valid voxel-to-world matrix",
        )
    cosines = np.abs(rot / norms)
    world_of_voxel = np.argmax(cosines, axis=0)
    if sorted(world_of_voxel.tolist()) != [0, 1, 2]:
        raise InputError(
            "mask is too oblique to find its sagittal plane",
            source=source,
            value=np.round(cosines, 2).tolist(),
            expected="voxel axes within 45 degrees of the patient axes",
        )
    obliquity = np.degrees(np.arccos(np.clip(cosines.max(axis=0), -1, 1))).max()
    if obliquity > 10:
        log.warning(
            "%s: voxel axes are %.0f deg oblique; the slice is not exactly sagittal",
            source,
            obliquity,
        )
    lr, ap, si = (int(np.where(world_of_voxel == w)[0][0]) for w in range(3))
    return lr, ap, si


def body_component(
    mask2d: np.ndarray, *, anterior_sign: float, min_fraction: float = 0.2
) -> np.ndarray:
    """Select the vertebral body on a sagittal slice: the most anterior sizeable region.

    Parameters
    ----------
    mask2d : (A, S) bool ndarray
        Vertebra voxels on the slice, first axis along AP.
    anterior_sign : float
        +1 when the AP index grows anteriorly, -1 otherwise.
    min_fraction : float
        Regions smaller than this fraction of the largest are ignored (noise) [D].

    """
    ndimage = require("scipy.ndimage", extra="imaging", feature="Finding vertebral bodies")
    lab, n = ndimage.label(mask2d)
    if n <= 1:
        return mask2d
    sizes = np.bincount(lab.ravel())[1:]
    keep = np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1
    ap_index = np.arange(mask2d.shape[0])[:, None] * np.ones(mask2d.shape)
    centres = ndimage.mean(ap_index, labels=lab, index=keep)
    best = keep[int(np.argmax(anterior_sign * np.asarray(centres)))]
    return lab == best


def outline_points(
    mask2d: np.ndarray, *, index_lr: int, axes: tuple[int, int, int], affine: np.ndarray
) -> np.ndarray:
    """World (anterior, superior) mm of the corners of every pixel in a sagittal mask."""
    lr, ap, si = axes
    ij = np.argwhere(mask2d).astype(float)  # columns: ap index, si index
    offsets = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    pts = (ij[:, None, :] + offsets[None]).reshape(-1, 2)
    vox = np.zeros((len(pts), 3))
    vox[:, lr] = index_lr
    vox[:, ap] = pts[:, 0]
    vox[:, si] = pts[:, 1]
    world = vox @ affine[:3, :3].T + affine[:3, 3]
    return world[:, 1:3]  # (anterior = world y, superior = world z)


def principal_axes(points: np.ndarray) -> np.ndarray:
    """Principal axes of a body: rows ``u_ap`` (anterior) and ``u_si`` (superior)."""
    centred = points - points.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    a, b = vecs[:, 1], vecs[:, 0]  # largest variance first
    u_ap, u_si = (a, b) if abs(a[0]) >= abs(b[0]) else (b, a)
    u_ap = u_ap if u_ap[0] > 0 else -u_ap
    u_si = u_si if u_si[1] > 0 else -u_si
    return np.stack([u_ap, u_si])


def corner_extremes(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    proj = points @ frame.T  # (n, 2): ap, si
    arr = np.empty((4, 2))
    for row, (sa, ss) in ((AS, (1, 1)), (PS, (-1, 1)), (PI, (-1, -1)), (AI, (1, -1))):
        arr[row] = points[int(np.argmax(sa * proj[:, 0] + ss * proj[:, 1]))]
    return arr


def sagittal_slice(vmask: np.ndarray, index_lr: int, axes: tuple[int, int, int]) -> np.ndarray:
    """Sagittal slice ``index_lr`` of a 3-D mask as an (ap, si) array."""
    lr, ap, _ = axes
    slab = np.take(vmask, index_lr, axis=lr)
    rest = [a for a in range(3) if a != lr]
    return slab.T if rest.index(ap) == 1 else slab


def occupancy(
    vmask: np.ndarray,
    index_lr: int,
    mid: np.ndarray,
    *,
    axes: tuple[int, int, int],
    affine: np.ndarray,
    slab_mm: float,
) -> tuple[np.ndarray, int]:
    """Mean body mask over the sagittal slices centred within ``slab_mm / 2`` of ``index_lr``.

    Slices whose body has less than half the area of the mid-slice body (off the body's
    side) are left out. Returns the (ap, si) occupancy and the number of slices averaged.
    """
    lr = axes[0]
    spacing = float(np.linalg.norm(affine[:3, lr]))
    # slices whose centres lie within slab_mm / 2 of the mid-plane (thick slices: none)
    k = int((slab_mm / 2.0 + 1e-6) // spacing) if spacing > 0 else 0
    sign = float(np.sign(affine[1, axes[1]])) or 1.0
    stack = [mid.astype(float)]
    for i in range(index_lr - k, index_lr + k + 1):
        if i == index_lr or not 0 <= i < vmask.shape[lr]:
            continue
        sl = sagittal_slice(vmask, i, axes)
        if sl.sum() < 0.5 * mid.sum():
            continue
        sl = body_component(sl, anterior_sign=sign)
        if sl.sum() >= 0.5 * mid.sum():
            stack.append(sl.astype(float))
    return np.mean(stack, axis=0), len(stack)
