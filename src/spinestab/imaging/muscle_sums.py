"""Per (label, slice) sums of a label map: voxel counts, intensities, fat, world x.

All sums come from one ``np.bincount`` over (label, slice) keys, so the cost is a few passes
over the voxels whatever the number of labels and slices. :class:`SliceTable` turns them
into the per-slice quantities (area, valid voxels, slice fat fraction) the rows are made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from spinestab.imaging.io import slice_axis
from spinestab.imaging.labels import LabelEntry

__all__ = ["SliceTable", "in_plane_pixel_area_mm2", "per_slice_sums", "with_autochthon"]


def in_plane_pixel_area_mm2(affine: np.ndarray) -> float:
    """Area (mm^2) of one voxel face in the axial plane (exact for any affine)."""
    ax = slice_axis(affine)
    a, b = (i for i in range(3) if i != ax)
    return float(np.linalg.norm(np.cross(affine[:3, a], affine[:3, b])))


def per_slice_sums(
    labels: np.ndarray,
    values: Sequence[int],
    axis: int,
    *,
    image: np.ndarray | None = None,
    fat: np.ndarray | None = None,
    affine: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per (label, slice) voxel counts and sums.

    Parameters
    ----------
    labels : (I, J, K) ndarray of int
        Label map.
    values : sequence of int
        Label values to measure (row order of the outputs).
    axis : int
        Slice axis.
    image, fat : (I, J, K) ndarray, optional
        Intensities and voxel fat fractions (NaN = undefined).
    affine : (4, 4) ndarray, optional
        With it, ``x_sum``: per-label sums of the world x (RAS+, mm) of the voxels.

    Returns
    -------
    dict of (n_values, n_slices) ndarrays
        ``count``; with ``image``: ``sum``, ``nan``; with ``fat``: ``fat_sum``, ``fat_n``;
        with ``affine``: ``x_sum`` of shape (n_values,).

    """
    lab = np.asarray(labels)
    shape = lab.shape
    n_slices = shape[axis]
    # flatten in the order the labels are stored (NIfTI arrays are Fortran-ordered), so
    # nothing is copied; every other array is flattened the same way
    order: Literal["C", "F"] = "F" if lab.flags.f_contiguous and not lab.flags.c_contiguous else "C"
    if order == "C":
        stride = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    else:
        stride = int(np.prod(shape[:axis], dtype=np.int64))
    wanted = np.asarray(values, dtype=np.int64)
    nv = wanted.size
    lab_flat = lab.reshape(-1, order=order)
    lo = int(min(lab_flat.min(initial=0), 0))
    hi = int(max(lab_flat.max(initial=0), wanted.max(initial=0)))
    lut = np.full(hi - lo + 1, -1, dtype=np.int16 if nv < 32_000 else np.int64)
    lut[wanted - lo] = np.arange(nv)
    row = lut[lab_flat - lo] if lo else lut[lab_flat]
    sel = np.flatnonzero(row >= 0)
    k = (sel // stride) % n_slices
    key = row[sel].astype(np.int64) * n_slices + k
    size = nv * n_slices
    out = {"count": np.bincount(key, minlength=size).reshape(nv, n_slices)}
    if affine is not None:
        ijk = np.unravel_index(sel, shape, order=order)
        x = affine[0, 3] + sum(affine[0, d] * ijk[d] for d in range(3))
        out["x_sum"] = np.bincount(row[sel], weights=x, minlength=nv)
    if image is not None:
        img = np.asarray(image).reshape(-1, order=order)[sel].astype(np.float64)
        bad = ~np.isfinite(img)
        out["nan"] = np.bincount(key, weights=bad, minlength=size).reshape(nv, n_slices)
        if bad.any():
            img = np.where(bad, 0.0, img)
        out["sum"] = np.bincount(key, weights=img, minlength=size).reshape(nv, n_slices)
    if fat is not None:
        ff = np.asarray(fat).reshape(-1, order=order)[sel].astype(np.float64)
        ok = np.isfinite(ff)
        out["fat_n"] = np.bincount(key, weights=ok, minlength=size).reshape(nv, n_slices)
        out["fat_sum"] = np.bincount(key, weights=np.where(ok, ff, 0.0), minlength=size).reshape(
            nv, n_slices
        )
    return out


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


@dataclass(frozen=True)
class SliceTable:
    """Per (label, slice) quantities, one row per measured label.

    Attributes
    ----------
    sums : dict of ndarray
        :func:`per_slice_sums` output.
    count, area, valid_n : (n_labels, n_slices) ndarray
        Voxels, area (mm^2) and voxels with a finite intensity.
    slice_ff : (n_labels, n_slices) ndarray
        Fat fraction (0..1) of each label in each slice; NaN without a fat map.
    has_fat : bool
        Whether a fat map was measured.

    """

    sums: dict[str, np.ndarray]
    count: np.ndarray
    area: np.ndarray
    valid_n: np.ndarray
    slice_ff: np.ndarray
    has_fat: bool

    @classmethod
    def of(cls, sums: dict[str, np.ndarray], pixel_area_mm2: float, *, has_fat: bool) -> SliceTable:
        """Derive the per-slice quantities from the sums."""
        count = sums["count"].astype(np.float64)
        area = count * pixel_area_mm2
        valid_n = count - sums["nan"]
        if has_fat:
            slice_ff = _safe_div(sums["fat_sum"], sums["fat_n"])
        else:
            slice_ff = np.full(count.shape, np.nan)
        return cls(sums, count, area, valid_n, slice_ff, has_fat)

    def mean_intensity(self) -> np.ndarray:
        """Mean intensity of each label in each slice (NaN where no valid voxel)."""
        return _safe_div(self.sums["sum"], self.valid_n)


def with_autochthon(
    entries: list[LabelEntry], values: list[int], sums: dict[str, np.ndarray]
) -> tuple[list[LabelEntry], list[int], dict[str, np.ndarray]]:
    """Append multifidus + erector spinae per side as a derived ``autochthon`` row."""
    index = {(e.name, e.side): r for r, e in enumerate(entries)}
    extra: list[tuple[str, list[int]]] = []
    for side in ("right", "left", "none"):
        mf, es = index.get(("multifidus", side)), index.get(("erector_spinae", side))
        if mf is None or es is None or ("autochthon", side) in index:
            continue
        extra.append((side, [mf, es]))
    if not extra:
        return entries, values, sums
    out = dict(sums)
    for key, arr in sums.items():
        rows = [arr[p].sum(axis=0) for _side, p in extra]
        out[key] = np.concatenate([arr, np.stack(rows)], axis=0)
    note = "derived: multifidus + erector spinae"
    new_entries = list(entries) + [
        LabelEntry(-1, "muscle", "autochthon", side, note) for side, _ in extra
    ]
    return new_entries, list(values) + [-1] * len(extra), out
