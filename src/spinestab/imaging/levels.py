"""Which axial slices belong to which vertebral level.

Slices are compared with vertebrae in world coordinates (the S axis of RAS+), so the
vertebra mask may lie on another grid than the image (e.g. a sagittal SPINEPS mask for an
axial muscle image). A slice belongs to every vertebra whose cranio-caudal extent covers
it; when several do (overlap) or none does (a disc between two vertebrae), the nearest
vertebral centroid wins. Slices above the highest or below the lowest vertebra stay
unassigned (level ``""``).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, slice_axis
from spinestab.imaging.labels import VERTEBRAE, LabelScheme, vertebra_order

__all__ = [
    "SliceLevels",
    "levels_from_instances",
    "levels_from_single_label",
    "levels_from_table",
    "slice_positions_s",
    "split_vertebrae",
]

logger = logging.getLogger(__name__)


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


def _instance_extents(
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


def _assign(
    slice_s: np.ndarray, extents: Mapping[str, tuple[float, float, float]], *, fill_gaps: bool
) -> tuple[str, ...]:
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


def levels_from_instances(
    vertebrae: Volume,
    scheme: LabelScheme,
    image: Volume,
    *,
    fill_gaps: bool = True,
) -> SliceLevels:
    """Levels of the image's slices from a vertebra instance mask.

    Parameters
    ----------
    vertebrae : Volume
        Label map with one value per vertebra (any grid sharing the world frame).
    scheme : LabelScheme
        Says which value is which vertebra (``kind == "vertebra"``).
    image : Volume
        The image whose slices get levels.
    fill_gaps : bool
        Give slices between two vertebrae (discs) the nearest vertebra.

    Raises
    ------
    InputError
        No vertebra of the scheme in the mask.

    """
    values = {v: e.name for v, e in scheme.vertebrae().items()}
    extents = _instance_extents(vertebrae.data, vertebrae.affine, values)
    if not extents:
        present = [int(v) for v in np.unique(vertebrae.data) if v]
        raise InputError(
            f"no vertebra labels of scheme '{scheme.name}' in the vertebra mask",
            source=vertebrae.source or None,
            value=present[:20],
            expected="a vertebra instance mask (SPINEPS seg-vert, TotalSegmentator vertebrae_*)",
        )
    _check_order(extents, scheme.name, vertebrae.source)
    slice_s = slice_positions_s(image.affine, image.shape)
    levels = _assign(slice_s, extents, fill_gaps=fill_gaps)
    return SliceLevels(
        levels, f"vertebra instances ({scheme.name})", {n: e[2] for n, e in extents.items()}
    )


def _check_order(extents: Mapping[str, tuple[float, float, float]], scheme: str, src: str) -> None:
    """Vertebrae named by the scheme must lie in anatomical order from head to feet."""
    by_height = sorted(extents, key=lambda n: -extents[n][2])
    ranks = [vertebra_order(n) for n in by_height]
    if any(b <= a for a, b in itertools.pairwise(ranks)):
        raise InputError(
            "vertebra labels are out of anatomical order (cranial to caudal: "
            + ", ".join(by_height)
            + ")",
            source=src or None,
            item=scheme,
            expected="the label scheme the mask was made with (--vertebrae-labels)",
        )


def split_vertebrae(
    binary: np.ndarray,
    affine: np.ndarray,
    *,
    anchor: str = "L5",
    anchor_is: str = "lowest",
    min_fraction: float = 0.05,  # [D] tuned on the TPTBox L2-L4 sample
    max_erosion: int = 4,
) -> tuple[np.ndarray, dict[int, str]]:
    """Split one "vertebrae" label into instances along the cranio-caudal axis.

    Neighbouring vertebrae often touch at the facet joints, so the label is eroded
    (0 to ``max_erosion`` voxels; the step giving most sizeable pieces wins);
    pieces at nearly the same height (a body cut off from its arch) are merged; every voxel
    then goes to the nearest piece. Pieces are ordered by centroid height; the anchor
    names the lowest (or highest) and the rest follow the vertebral sequence.

    Parameters
    ----------
    binary : (I, J, K) ndarray of bool
        Voxels of the vertebrae label.
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine of ``binary``.
    anchor : str
        Name of the anchor vertebra, e.g. ``"L5"``.
    anchor_is : {"lowest", "highest"}
        Which component the anchor is.
    min_fraction : float
        Pieces smaller than this fraction of the largest are dropped (fragments, noise).
    max_erosion : int
        Most erosion steps tried.

    Returns
    -------
    instances : (I, J, K) ndarray of int32
        1..n, numbered from cranial to caudal.
    names : dict
        Instance value to vertebra name.

    """
    from scipy import ndimage

    if anchor_is not in ("lowest", "highest"):
        raise InputError("anchor_is must be 'lowest' or 'highest'", value=anchor_is)
    sequence = [v for v in VERTEBRAE if v not in ("T13", "L6")]  # usual anatomy
    if anchor not in sequence:
        sequence = list(VERTEBRAE)
    vertebra_order(anchor)
    start = sequence.index(anchor)
    binary = np.asarray(binary, dtype=bool)
    if not binary.any():
        raise InputError("the vertebrae label is empty", expected="voxels of the vertebrae label")
    comp, keep = _separate(binary, affine, max_erosion=max_erosion, min_fraction=min_fraction)
    centres = ndimage.center_of_mass(np.ones(comp.shape, np.uint8), comp, keep)
    heights = np.asarray([(affine @ np.r_[np.asarray(c), 1.0])[2] for c in centres])
    order = keep[np.argsort(-heights)]  # cranial first
    m = len(order)
    first = start - (m - 1) if anchor_is == "lowest" else start
    if first < 0 or first + m > len(sequence):
        raise InputError(
            f"{m} vertebrae cannot be named from anchor {anchor} ({anchor_is})",
            value=m,
        )
    lut = np.zeros(comp.max() + 1, dtype=np.int32)
    names: dict[int, str] = {}
    for rank, c in enumerate(order, start=1):
        lut[c] = rank
        names[rank] = sequence[first + rank - 1]
    if m > 1:
        logger.info("split vertebrae label into %d instances: %s", m, list(names.values()))
    return lut[comp], names


def _root(lut: np.ndarray, i: int) -> int:
    while lut[i] != i:
        i = int(lut[i])
    return i


def _separate(
    binary: np.ndarray, affine: np.ndarray, *, max_erosion: int, min_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Label map of separated vertebrae and the kept label values."""
    from scipy import ndimage

    struct = np.ones((3, 3, 3), dtype=bool)
    best = None
    for it in range(max_erosion + 1):
        core = binary if it == 0 else ndimage.binary_erosion(binary, iterations=it)
        comp, n = ndimage.label(core, structure=struct)
        if n == 0:
            break
        sizes = np.bincount(comp.ravel())[1:]
        keep = np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1
        if best is None or len(keep) > len(best[1]):
            best = (comp, keep)
    assert best is not None
    comp, keep = best
    comp = np.where(np.isin(comp, keep), comp, 0)
    # merge pieces whose centroids lie at nearly the same height (a body cut off from its
    # arch, or a process cut off from its vertebra): consecutive centroid gaps below a
    # quarter of the largest gap. (Extents overlap too much between neighbours to use.)
    if len(keep) > 2:
        centres = ndimage.center_of_mass(np.ones(comp.shape, np.uint8), comp, keep)
        heights = np.asarray([(affine @ np.r_[np.asarray(c), 1.0])[2] for c in centres])
        order = np.argsort(-heights)
        gaps = np.abs(np.diff(heights[order]))
        lut = np.arange(comp.max() + 1)
        for i in np.flatnonzero(gaps < 0.25 * float(gaps.max())):  # [D]
            lut[keep[order[i + 1]]] = lut[keep[order[i]]]
        lut = np.asarray([_root(lut, int(i)) for i in range(lut.size)])
        comp = lut[comp]
        keep = np.unique(comp[comp > 0])
    # give every voxel of the label to the nearest piece
    if len(keep):
        _dist, idx = ndimage.distance_transform_edt(comp == 0, return_indices=True)
        grown = comp[tuple(idx)]
        comp = np.where(binary, grown, 0)
    return comp, keep


def levels_from_single_label(
    labels: Volume,
    scheme: LabelScheme,
    image: Volume,
    *,
    anchor: str = "L5",
    anchor_is: str = "lowest",
    fill_gaps: bool = True,
    sacrum_gap_mm: float = 15.0,  # [D] about one disc height plus endplate margin
) -> SliceLevels:
    """Levels from a map where all vertebrae share one label (e.g. TotalSegmentator total_mr).

    See :func:`split_vertebrae` for the anchor. With ``anchor="L5", anchor_is="lowest"`` a
    ``sacrum`` label in the same map checks the anchor: the method string says whether the
    lowest piece sits on the sacrum (within ``sacrum_gap_mm``) or the anchor is assumed.
    """
    values = [v for v, e in scheme.entries.items() if e.kind == "vertebrae"]
    if not values:
        raise InputError(
            f"scheme '{scheme.name}' has no single 'vertebrae' label", value=scheme.name
        )
    binary = np.isin(labels.data, values)
    inst, names = split_vertebrae(binary, labels.affine, anchor=anchor, anchor_is=anchor_is)
    extents = _instance_extents(inst, labels.affine, names)
    slice_s = slice_positions_s(image.affine, image.shape)
    levels = _assign(slice_s, extents, fill_gaps=fill_gaps)
    check = ""
    if anchor_is == "lowest" and anchor == "L5" and anchor in extents:
        sacrum = [v for v, e in scheme.entries.items() if e.name == "sacrum"]
        sac = _instance_extents(labels.data, labels.affine, dict.fromkeys(sacrum, "sacrum"))
        if not sac:
            check = " (assumed: no sacrum in view)"
        elif extents[anchor][0] - sac["sacrum"][1] <= sacrum_gap_mm:
            check = " (checked: the lowest piece sits on the sacrum)"
        else:
            check = " (WARNING: the lowest piece does not sit on the sacrum; levels doubtful)"
            logger.warning("vertebra split: lowest piece is not directly above the sacrum")
    return SliceLevels(
        levels,
        f"single vertebrae label split into instances, {anchor_is} = {anchor}{check}",
        {n: e[2] for n, e in extents.items()},
    )


def levels_from_table(
    table: str | Path | Mapping[str, tuple[int, int]], n_slices: int
) -> SliceLevels:
    """Levels from an explicit slice table.

    Parameters
    ----------
    table : path or mapping
        CSV with columns ``level, first_slice, last_slice`` (0-based, inclusive), a JSON
        object ``{"L4": [first, last], ...}``, or such a mapping.
    n_slices : int
        Number of slices of the image.

    """
    src = str(table) if not isinstance(table, Mapping) else "slice table"
    if isinstance(table, Mapping):
        rows = {str(k): (int(v[0]), int(v[1])) for k, v in table.items()}
    else:
        path = Path(table)
        if not path.is_file():
            raise InputError("slice table not found", source=src)
        if path.suffix.lower() == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            rows = {str(k): (int(v[0]), int(v[1])) for k, v in doc.items()}
        else:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                need = {"level", "first_slice", "last_slice"}
                if not reader.fieldnames or not need <= set(reader.fieldnames):
                    raise InputError(
                        "slice table lacks columns",
                        source=src,
                        value=reader.fieldnames,
                        expected="level, first_slice, last_slice",
                    )
                rows = {
                    r["level"].strip(): (int(r["first_slice"]), int(r["last_slice"]))
                    for r in reader
                }
    levels = [""] * n_slices
    for name, (lo, hi) in rows.items():
        vertebra_order(name)
        if lo > hi or lo < 0 or hi >= n_slices:
            raise InputError(
                "slice range out of bounds",
                source=src,
                item=name,
                value=(lo, hi),
                expected=f"0 <= first <= last < {n_slices}",
            )
        for k in range(lo, hi + 1):
            if levels[k] and levels[k] != name:
                raise InputError(
                    "slice given two levels", source=src, item=str(k), value=(levels[k], name)
                )
            levels[k] = name
    return SliceLevels(tuple(levels), "explicit slice table")
