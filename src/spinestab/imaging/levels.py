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
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, slice_axis
from spinestab.imaging.labels import VERTEBRAE, LabelScheme, label_values, vertebra_order

__all__ = [
    "DiscSet",
    "SliceLevels",
    "find_discs",
    "levels_from_instances",
    "levels_from_single_label",
    "levels_from_table",
    "name_pieces_from_discs",
    "parse_disc_name",
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


#: A disc piece whose least / greatest spread exceeds this is taken as two discs joined [D]:
#: single real SPINEPS cervical discs give 0.21-0.24, the two joined 0.45; phantoms 0.25.
MAX_DISC_FLATNESS = 0.4

_DISC_SPLIT = re.compile(r"^\s*([CTLS]\d{1,2})\s*[-/_]?\s*([CTLS]\d{1,2})\s*$", re.IGNORECASE)
_DISC_BELOW = re.compile(r"^(?:disc|ivd)_below_([CTLS]\d{1,2})$", re.IGNORECASE)


def _sequence(names: Iterable[str]) -> list[str]:
    """Vertebrae from cranial to caudal; T13 and L6 only when one of ``names`` is one."""
    variants = {n for n in names if n in ("T13", "L6")}
    return [v for v in VERTEBRAE if v not in ("T13", "L6") or v in variants]


def parse_disc_name(name: str) -> tuple[str, str] | None:
    """Return the vertebrae above and below a named disc (None for an unnamed disc label).

    Accepts ``"L4-L5"``, ``"L4/L5"``, ``"L4L5"`` and SPINEPS-style ``"disc_below_L4"``
    (the vertebra below is the next one in the usual sequence).

    Examples
    --------
    >>> parse_disc_name("L5-S1"), parse_disc_name("disc_below_T12"), parse_disc_name("ivd")
    (('L5', 'S1'), ('T12', 'L1'), None)

    """
    m = _DISC_SPLIT.match(name)
    if m:
        upper, lower = m.group(1).upper(), m.group(2).upper()
        if upper in VERTEBRAE and lower in VERTEBRAE:
            seq = _sequence([upper, lower])
            if upper in seq and lower in seq and seq.index(lower) == seq.index(upper) + 1:
                return upper, lower
            raise InputError(
                "disc name does not join two neighbouring vertebrae",
                value=name,
                expected="e.g. L4-L5 or L5-S1",
            )
        return None
    m = _DISC_BELOW.match(name.strip())
    if m:
        upper = m.group(1).upper()
        seq = _sequence([upper])
        if upper in seq and seq.index(upper) + 1 < len(seq):
            return upper, seq[seq.index(upper) + 1]
    return None


@dataclass(frozen=True)
class DiscSet:
    """Intervertebral discs found in a label map, from cranial to caudal.

    Attributes
    ----------
    heights_mm : tuple of float
        World S coordinate (RAS+, mm) of each disc's centroid, decreasing.
    bottoms_mm : tuple of float
        Lowest S coordinate of each disc (mm).
    names : tuple
        ``(upper, lower)`` vertebra names of each disc where its label names it, else None.
    source : str
        Which labels they came from, for messages.
    centres_mm, normals : (n, 3) ndarray, optional
        Centroid (RAS+ mm) and unit normal (the direction of least spread, pointing
        cranially) of each disc: the disc planes that cut the vertebrae apart.
    flatness : tuple of float
        Least over greatest spread (SD) of each disc's voxels: about 0.2-0.25 for one disc
        (real SPINEPS cervical discs, phantoms), more for two discs joined into one piece.

    """

    heights_mm: tuple[float, ...]
    bottoms_mm: tuple[float, ...]
    names: tuple[tuple[str, str] | None, ...]
    source: str = ""
    centres_mm: np.ndarray | None = None
    normals: np.ndarray | None = None
    flatness: tuple[float, ...] = ()

    @property
    def named(self) -> bool:
        """Whether any disc carries its own name."""
        return any(n is not None for n in self.names)


def find_discs(
    labels: np.ndarray,
    affine: np.ndarray,
    scheme: LabelScheme,
    *,
    min_fraction: float = 0.05,  # [D] as for vertebra pieces: drops specks
) -> DiscSet | None:
    """Discs of a label map: one per named disc value, or the components of a disc label.

    Parameters
    ----------
    labels : (I, J, K) ndarray of int
        Label map.
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine.
    scheme : LabelScheme
        Its ``disc`` entries: named (``L4-L5``, ``disc_below_L4``) or one label for all discs
        (split into connected components; discs are kept apart by the vertebral bodies).
    min_fraction : float
        Components smaller than this fraction of the largest disc are dropped.

    Returns
    -------
    DiscSet or None
        None when the map holds no disc voxels.

    """
    from scipy import ndimage

    disc_entries = scheme.of_kind("disc")
    present = set(label_values(labels).tolist()) & set(disc_entries)
    if not present:
        return None
    lab = np.zeros(labels.shape, dtype=np.int32)
    names: list[tuple[str, str] | None] = []
    n = 0
    for value in sorted(present):
        parsed = parse_disc_name(disc_entries[value].name)
        voxels = labels == value
        if parsed is not None:
            n += 1
            lab[voxels] = n
            names.append(parsed)
            continue
        comp, _n = ndimage.label(voxels, structure=np.ones((3, 3, 3), dtype=bool))
        sizes = np.bincount(comp.ravel())[1:]
        for c in np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1:
            n += 1
            lab[comp == c] = n
            names.append(None)
    ijk = np.nonzero(lab)
    xyz = (affine[:3, :3] @ np.asarray(ijk, dtype=float)).T + affine[:3, 3]  # (N, 3) mm
    ids = lab[ijk]
    counts = np.bincount(ids, minlength=n + 1)[1:].astype(float)
    centres = np.stack(
        [np.bincount(ids, weights=xyz[:, d], minlength=n + 1)[1:] / counts for d in range(3)],
        axis=1,
    )
    bottom = np.full(n, np.inf)
    np.minimum.at(bottom, ids - 1, xyz[:, 2])
    normals = np.zeros((n, 3))
    flatness = np.zeros(n)
    for i in range(n):  # a handful of discs: the plane of least spread of each
        pts = xyz[ids == i + 1] - centres[i]
        normal = np.array([0.0, 0.0, 1.0])
        if len(pts) >= 3:
            w, vecs = np.linalg.eigh(pts.T @ pts)
            normal = vecs[:, 0]
            flatness[i] = float(np.sqrt(max(w[0], 0.0) / w[-1])) if w[-1] > 0 else 0.0
        normals[i] = normal if normal[2] >= 0 else -normal
    order = np.argsort(-centres[:, 2])
    return DiscSet(
        tuple(float(centres[i, 2]) for i in order),
        tuple(float(bottom[i]) for i in order),
        tuple(names[i] for i in order),
        source=scheme.name,
        centres_mm=centres[order],
        normals=normals[order],
        flatness=tuple(float(flatness[i]) for i in order),
    )


def name_pieces_from_discs(
    piece_heights_mm: np.ndarray,
    discs: DiscSet,
    *,
    anchor: str | None = None,
    anchor_is: str = "lowest",
) -> tuple[list[str], str]:
    """Name vertebra pieces by the discs between them.

    Parameters
    ----------
    piece_heights_mm : (n,) ndarray
        Centroid S coordinates (mm) of the pieces, cranial first.
    discs : DiscSet
        The discs, cranial first.
    anchor : str, optional
        A disc name such as ``"L5-S1"`` for the lowest (or highest) disc; needed when no
        disc carries its own name, ignored otherwise.
    anchor_is : {"lowest", "highest"}
        Which disc the anchor names.

    Returns
    -------
    names : list of str
        One vertebra name per piece (pieces between the same two discs share one).
    doubt : str
        Empty, or why the names are doubtful (a vertebra missing between two discs, or
        named discs that do not follow each other).

    Raises
    ------
    InputError
        No named disc and no disc anchor; names outside the vertebral column.

    """
    disc_s = np.asarray(discs.heights_mm)
    pieces = np.asarray(piece_heights_mm, dtype=float)
    above = (disc_s[None, :] > pieces[:, None]).sum(axis=1)  # discs above each piece
    return _names_from_disc_counts(above, discs, anchor=anchor, anchor_is=anchor_is)


def _names_from_disc_counts(
    above: np.ndarray, discs: DiscSet, *, anchor: str | None, anchor_is: str
) -> tuple[list[str], str]:
    """Names of pieces that have ``above[i]`` discs above them (see name_pieces_from_discs)."""
    nd = len(discs.heights_mm)
    if nd == 0:
        raise InputError("no discs to name the vertebrae from")
    used = [u for n in discs.names if n for u in n]
    doubt = ""
    upper = np.zeros(nd, dtype=np.int64)  # sequence index of the vertebra above each disc
    if discs.named:
        seq = _sequence(used)
        named = [j for j, n in enumerate(discs.names) if n is not None]
        idx = {j: seq.index(discs.names[j][0]) for j in named}  # type: ignore[index]
        if len({idx[j] - j for j in named}) > 1:
            doubt = "named discs do not follow each other (a disc missing or mislabelled)"
        for j in range(nd):
            k = min(named, key=lambda m: abs(m - j))  # nearest named disc
            upper[j] = idx[k] + (j - k)
        how = "named discs"
    else:
        parsed = parse_disc_name(anchor) if anchor else None
        if parsed is None:
            raise InputError(
                "the discs carry no names: give a disc as anchor",
                item="--anchor",
                value=anchor,
                expected="e.g. --anchor L5-S1 --anchor-is lowest (the lowest disc in view)",
            )
        if anchor_is not in ("lowest", "highest"):
            raise InputError("anchor_is must be 'lowest' or 'highest'", value=anchor_is)
        seq = _sequence(parsed)
        a = nd - 1 if anchor_is == "lowest" else 0
        upper = seq.index(parsed[0]) + (np.arange(nd) - a)
        how = f"{anchor_is} disc = {parsed[0]}-{parsed[1]}"
    # a piece below disc d-1 and above disc d is the vertebra below disc d-1
    idx_piece = np.where(above < nd, upper[np.minimum(above, nd - 1)], upper[nd - 1] + 1)
    if idx_piece.min() < 0 or idx_piece.max() >= len(seq) or upper.min() < 0:
        raise InputError(
            f"{len(above)} vertebra pieces and {nd} discs cannot be named from {how}",
            value=anchor,
            expected="an anchor that fits the spine in view",
        )
    present = set(above.tolist())
    missing = [d for d in range(min(present), max(present) + 1) if d not in present]
    if missing:
        gone = ", ".join(seq[int(upper[d - 1]) + 1] for d in missing if d > 0)
        doubt = doubt or f"no vertebra piece found between two discs ({gone} merged or missing)"
    return [seq[int(i)] for i in idx_piece], doubt


def split_vertebrae(
    binary: np.ndarray,
    affine: np.ndarray,
    *,
    anchor: str = "L5",
    anchor_is: str = "lowest",
    discs: DiscSet | None = None,
    min_fraction: float = 0.05,  # [D] tuned on the TPTBox L2-L4 sample
    max_erosion: int = 4,
) -> tuple[np.ndarray, dict[int, str]]:
    """Split one "vertebrae" label into instances along the cranio-caudal axis.

    Neighbouring vertebrae often touch at the facet joints, so the label is eroded
    (0 to ``max_erosion`` voxels; the step giving most sizeable pieces wins);
    pieces at nearly the same height (a body cut off from its arch) are merged; every voxel
    then goes to the nearest piece. Pieces are ordered by centroid height; the anchor
    names the lowest (or highest) and the rest follow the vertebral sequence.

    With ``discs`` the pieces are named from the discs instead (see :func:`find_discs`):
    a piece with ``d`` discs above it lies between disc ``d - 1`` and disc ``d``. Named
    discs (SPINEPS IVD labels 100 + X) name it directly; unnamed ones (one disc label, as
    in TotalSegmentator ``total_mr`` or the SPINEPS subregion map) are named from a disc
    anchor such as ``"L5-S1"`` (the lowest disc). Pieces between the same two discs are
    fragments of one vertebra and are merged.

    Parameters
    ----------
    binary : (I, J, K) ndarray of bool
        Voxels of the vertebrae label.
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine of ``binary``.
    anchor : str
        Name of the anchor vertebra, e.g. ``"L5"``, or with ``discs`` of the anchor disc,
        e.g. ``"L5-S1"``.
    anchor_is : {"lowest", "highest"}
        Which component (vertebra, or disc) the anchor is.
    discs : DiscSet, optional
        Discs of the same map (:func:`find_discs`) to name the pieces.
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
    inst, names, _doubt = _split_and_name(
        binary,
        affine,
        anchor=anchor,
        anchor_is=anchor_is,
        discs=discs,
        min_fraction=min_fraction,
        max_erosion=max_erosion,
    )
    return inst, names


#: tallest cranio-caudal extent (mm, along world S) taken for one vertebra split from a single
#: "vertebrae" label; a taller piece is two or more vertebrae that the split could not part,
#: and makes the names doubtful [D: whole vertebrae with their processes span 51-54 mm in the
#: bundled TPTBox CT L3, SPINEPS MRI C6 and TotalSegmentator L1 masks; two joined lumbar
#: vertebrae span about 90 mm]
MAX_VERTEBRA_EXTENT_MM = 75.0


def _split_and_name(
    binary: np.ndarray,
    affine: np.ndarray,
    *,
    anchor: str,
    anchor_is: str,
    discs: DiscSet | None,
    min_fraction: float,
    max_erosion: int,
) -> tuple[np.ndarray, dict[int, str], str]:
    """:func:`split_vertebrae`, plus why the names are doubtful (empty if they are not)."""
    inst, names, doubt = _split_and_name_raw(
        binary,
        affine,
        anchor=anchor,
        anchor_is=anchor_is,
        discs=discs,
        min_fraction=min_fraction,
        max_erosion=max_erosion,
    )
    tall = _tall_pieces(inst, affine, names)
    if tall:
        doubt = "; ".join(
            x
            for x in (
                doubt,
                f"a piece spans more than one vertebra ({', '.join(tall)}; one vertebra "
                f"<= {MAX_VERTEBRA_EXTENT_MM:g} mm): touching vertebrae not split",
            )
            if x
        )
    return inst, names, doubt


def _tall_pieces(inst: np.ndarray, affine: np.ndarray, names: Mapping[int, str]) -> list[str]:
    """Names and S extents (mm) of the instances taller than one vertebra."""
    if not names:
        return []
    ijk = np.nonzero(inst)
    lab = inst[ijk].astype(np.int64)
    s = affine[2, 3] + sum(float(affine[2, d]) * ijk[d] for d in range(3))
    n = int(lab.max()) + 1
    hi = np.full(n, -np.inf)
    lo = np.full(n, np.inf)
    np.maximum.at(hi, lab, s)
    np.minimum.at(lo, lab, s)
    return [
        f"{names[v]} {hi[v] - lo[v]:.0f} mm"
        for v in sorted(names)
        if v < n and hi[v] - lo[v] > MAX_VERTEBRA_EXTENT_MM
    ]


def _split_and_name_raw(
    binary: np.ndarray,
    affine: np.ndarray,
    *,
    anchor: str,
    anchor_is: str,
    discs: DiscSet | None,
    min_fraction: float,
    max_erosion: int,
) -> tuple[np.ndarray, dict[int, str], str]:
    from scipy import ndimage

    if anchor_is not in ("lowest", "highest"):
        raise InputError("anchor_is must be 'lowest' or 'highest'", value=anchor_is)
    binary = np.asarray(binary, dtype=bool)
    if not binary.any():
        raise InputError("the vertebrae label is empty", expected="voxels of the vertebrae label")
    if discs is not None and discs.normals is not None:
        return _split_by_disc_planes(
            binary, affine, discs, anchor=anchor, anchor_is=anchor_is, min_fraction=min_fraction
        )
    comp, keep = _separate(binary, affine, max_erosion=max_erosion, min_fraction=min_fraction)
    centres = ndimage.center_of_mass(np.ones(comp.shape, np.uint8), comp, keep)
    heights = np.asarray([(affine @ np.r_[np.asarray(c), 1.0])[2] for c in centres])
    order = keep[np.argsort(-heights)]  # cranial first
    lut = np.zeros(comp.max() + 1, dtype=np.int32)
    if discs is not None:
        piece_names, doubt = name_pieces_from_discs(
            np.sort(heights)[::-1], discs, anchor=anchor, anchor_is=anchor_is
        )
        ranked = sorted(set(piece_names), key=vertebra_order)  # same name: one vertebra
        for c, name in zip(order, piece_names, strict=True):
            lut[c] = ranked.index(name) + 1
        return lut[comp], {i + 1: n for i, n in enumerate(ranked)}, doubt
    sequence = _sequence([anchor])
    vertebra_order(anchor)
    start = sequence.index(anchor)
    m = len(order)
    first = start - (m - 1) if anchor_is == "lowest" else start
    if first < 0 or first + m > len(sequence):
        raise InputError(
            f"{m} vertebrae cannot be named from anchor {anchor} ({anchor_is})",
            value=m,
        )
    names: dict[int, str] = {}
    for rank, c in enumerate(order, start=1):
        lut[c] = rank
        names[rank] = sequence[first + rank - 1]
    if m > 1:
        logger.info("split vertebrae label into %d instances: %s", m, list(names.values()))
    return lut[comp], names, ""


def _split_by_disc_planes(
    binary: np.ndarray,
    affine: np.ndarray,
    discs: DiscSet,
    *,
    anchor: str,
    anchor_is: str,
    min_fraction: float,
) -> tuple[np.ndarray, dict[int, str], str]:
    """Cut the vertebrae apart with the disc planes and name each slab from the discs.

    A voxel belongs to the slab below as many disc planes as lie above it. Slabs smaller
    than ``min_fraction`` of the largest (a process tip across a plane) go to the nearest
    kept slab. Posterior elements reaching below their disc's plane (inferior articular
    processes) may go to the next vertebra; bodies are cut exactly at the discs.
    """
    from scipy import ndimage

    assert discs.centres_mm is not None and discs.normals is not None
    ijk = np.nonzero(binary)
    xyz = (affine[:3, :3] @ np.asarray(ijk, dtype=float)).T + affine[:3, 3]
    above = np.zeros(len(xyz), dtype=np.int64)
    for centre, normal in zip(discs.centres_mm, discs.normals, strict=True):
        above += ((xyz - centre) @ normal) < 0.0
    sizes = np.bincount(above, minlength=len(discs.heights_mm) + 1)
    kept = np.flatnonzero(sizes >= min_fraction * sizes.max())
    slab = np.zeros(binary.shape, dtype=np.int32)
    slab[ijk] = above + 1
    if len(kept) < np.count_nonzero(sizes):
        core = np.where(np.isin(slab, kept + 1), slab, 0)
        _dist, idx = ndimage.distance_transform_edt(core == 0, return_indices=True)
        slab = np.where(binary, core[tuple(idx)], 0)
    names, doubt = _names_from_disc_counts(kept, discs, anchor=anchor, anchor_is=anchor_is)
    ranked = sorted(set(names), key=vertebra_order)
    lut = np.zeros(int(slab.max()) + 1, dtype=np.int32)
    for d, name in zip(kept, names, strict=True):
        lut[d + 1] = ranked.index(name) + 1
    return lut[slab], {i + 1: n for i, n in enumerate(ranked)}, doubt


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


def _lowest_disc_on_sacrum(
    labels: Volume, scheme: LabelScheme, discs: DiscSet, gap_mm: float
) -> bool:
    """Whether a ``sacrum`` label lies directly below the lowest disc (within ``gap_mm``)."""
    sacrum = [v for v, e in scheme.entries.items() if e.name == "sacrum"]
    sac = _instance_extents(labels.data, labels.affine, dict.fromkeys(sacrum, "sacrum"))
    return bool(sac) and discs.bottoms_mm[-1] - sac["sacrum"][1] <= gap_mm


def levels_from_single_label(
    labels: Volume,
    scheme: LabelScheme,
    image: Volume,
    *,
    anchor: str = "L5",
    anchor_is: str = "lowest",
    fill_gaps: bool = True,
    use_discs: bool = True,
    sacrum_gap_mm: float = 15.0,  # [D] about one disc height plus endplate margin
) -> SliceLevels:
    """Levels from a map where all vertebrae share one label (e.g. TotalSegmentator total_mr).

    The vertebrae are the scheme's ``vertebrae`` label or, lacking one, its vertebral body
    labels (the SPINEPS subregion map: bodies 49/50, discs 100). See
    :func:`split_vertebrae` for the split and the anchor. The pieces are named

    * from the discs when the map holds named discs (SPINEPS IVD 100 + X) or ``anchor``
      names a disc (``"L5-S1"``: the lowest disc; with ``anchor_is="highest"`` the highest);
    * else by counting pieces from the anchor vertebra (``"L5"``: the lowest piece).

    A ``sacrum`` label in the same map checks an L5 / L5-S1 anchor: the method string says
    whether the lowest piece (disc) sits on the sacrum (within ``sacrum_gap_mm``), or that
    the anchor is assumed; "WARNING" marks doubtful names. With the default anchor (L5,
    lowest), unnamed discs and a sacrum on which the lowest disc sits (TotalSegmentator
    ``total_mr``), that disc is taken as L5-S1 and the vertebrae are named from the discs.
    """
    values = list(scheme.of_kind("vertebrae")) or list(scheme.of_kind("vertebral_body"))
    if not values:
        raise InputError(
            f"scheme '{scheme.name}' has no single 'vertebrae' (or vertebral body) label",
            value=scheme.name,
        )
    anchor_disc = parse_disc_name(anchor) if anchor else None
    discs = find_discs(labels.data, labels.affine, scheme) if use_discs else None
    if anchor_disc is not None and discs is None:
        raise InputError(
            f"the anchor {anchor} is a disc, but the map holds no disc label",
            source=labels.source or None,
            item="--anchor",
            expected=f"a map with intervertebral discs ({scheme.name}), or a vertebra anchor",
        )
    if anchor_disc is None:
        vertebra_order(anchor)
    if (
        anchor == "L5"
        and anchor_is == "lowest"
        and discs is not None
        and not discs.named
        and _lowest_disc_on_sacrum(labels, scheme, discs, sacrum_gap_mm)
    ):  # the disc on the sacrum is L5-S1: name from the discs (a checked anchor)
        anchor, anchor_disc = "L5-S1", ("L5", "S1")
    by_discs = discs is not None and (discs.named or anchor_disc is not None)
    binary = np.isin(labels.data, values)
    if not binary.any():
        raise InputError(
            "the vertebrae label is empty",
            source=labels.source or None,
            expected="voxels of the vertebrae label",
        )
    inst, names, doubt = _split_and_name(
        binary,
        labels.affine,
        anchor=anchor,
        anchor_is=anchor_is,
        discs=discs if by_discs else None,
        min_fraction=0.05,
        max_erosion=4,
    )
    if not by_discs:
        how = f"{anchor_is} = {anchor}"
    elif discs is not None and discs.named:
        how = "named from the disc labels"
    else:
        n_discs = 0 if discs is None else len(discs.heights_mm)
        how = f"named from {n_discs} discs, {anchor_is} disc = {anchor}"
    extents = _instance_extents(inst, labels.affine, names)
    slice_s = slice_positions_s(image.affine, image.shape)
    levels = _assign(slice_s, extents, fill_gaps=fill_gaps)
    check = ""
    named = discs is not None and discs.named
    if named:  # the names come from the labels; a sacrum only double-checks L5-S1
        lowest_is_l5 = discs is not None and discs.names[-1] == ("L5", "S1")
    elif by_discs:
        lowest_is_l5 = anchor_is == "lowest" and anchor_disc == ("L5", "S1")
    else:
        lowest_is_l5 = anchor_is == "lowest" and anchor == "L5"
    if lowest_is_l5:
        sacrum = [v for v, e in scheme.entries.items() if e.name == "sacrum"]
        sac = _instance_extents(labels.data, labels.affine, dict.fromkeys(sacrum, "sacrum"))
        what = "lowest disc" if by_discs else "lowest piece"
        if by_discs and discs is not None:
            bottom = discs.bottoms_mm[-1]
        else:
            bottom = extents["L5"][0] if "L5" in extents else math.nan
        if not sac:
            check = "" if named else " (assumed: no sacrum in view)"
        elif bottom - sac["sacrum"][1] <= sacrum_gap_mm:
            check = f" (checked: the {what} sits on the sacrum)"
        else:
            check = f" (WARNING: the {what} does not sit on the sacrum; levels doubtful)"
            logger.warning("vertebra split: %s is not directly above the sacrum", what)
    if by_discs and discs is not None and not discs.named:
        thick = [f"{f:.2f}" for f in discs.flatness if f > MAX_DISC_FLATNESS]
        if thick:
            doubt = doubt or f"a disc piece is too thick for one disc (flatness {', '.join(thick)})"
    if doubt:
        check += f" (WARNING: {doubt}; levels doubtful)"
        logger.warning("vertebra split: %s", doubt)
    return SliceLevels(
        levels,
        f"single vertebrae label split into instances, {how}{check}",
        {n: e[2] for n, e in extents.items()},
    )


def levels_from_table(
    table: str | Path | Mapping[str, tuple[int, int]],
    n_slices: int,
    *,
    slice_s: np.ndarray | None = None,
) -> SliceLevels:
    """Levels from an explicit slice table.

    Parameters
    ----------
    table : path or mapping
        CSV with columns ``level, first_slice, last_slice`` (0-based, inclusive), a JSON
        object ``{"L4": [first, last], ...}``, or such a mapping.
    n_slices : int
        Number of slices of the image.
    slice_s : (n_slices,) ndarray, optional
        World S coordinate (mm) of every slice; with it, levels named in the wrong
        cranio-caudal order for the image's slice direction are refused.

    Raises
    ------
    InputError
        Unreadable table, a level named twice, non-integer or out-of-range slices, a
        slice given two levels, levels out of anatomical order.

    """
    src = str(table) if not isinstance(table, Mapping) else "slice table"
    pairs: list[tuple[str, Any, Any]] = []
    if isinstance(table, Mapping):
        pairs = [(str(k), *_pair(v, src, str(k))) for k, v in table.items()]
    else:
        path = Path(table)
        if not path.is_file():
            raise InputError("slice table not found", source=src)
        if path.suffix.lower() == ".json":
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"cannot read slice table JSON ({exc})", source=src) from exc
            if not isinstance(doc, dict):
                raise InputError("slice table JSON is not an object", source=src)
            pairs = [(str(k), *_pair(v, src, str(k))) for k, v in doc.items()]
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
                pairs = [
                    ((r["level"] or "").strip(), r["first_slice"], r["last_slice"]) for r in reader
                ]
    rows: dict[str, tuple[int, int]] = {}
    for name, first, last in pairs:
        if name in rows:  # a dict would keep only the last range, silently
            raise InputError("level named twice in the slice table", source=src, item=name)
        try:
            lo, hi = _slice_index(first), _slice_index(last)
        except (TypeError, ValueError) as exc:
            raise InputError(
                "slice numbers are not integers",
                source=src,
                item=name,
                value=(first, last),
                expected="0-based integer slice indices",
            ) from exc
        rows[name] = (lo, hi)
    levels = [""] * n_slices
    for name, (lo, hi) in rows.items():
        try:
            vertebra_order(name)
        except InputError as exc:
            raise InputError(
                exc.message, source=src, item=name, value=exc.value, expected=exc.expected
            ) from exc
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
    if slice_s is not None and len(rows) > 1:
        s = np.asarray(slice_s, dtype=np.float64)
        mean_s = {n: float(s[lo : hi + 1].mean()) for n, (lo, hi) in rows.items()}
        ordered = sorted(mean_s, key=vertebra_order)  # cranial to caudal
        if any(mean_s[a] <= mean_s[b] for a, b in itertools.pairwise(ordered)):
            raise InputError(
                "levels of the slice table are out of anatomical order for this image "
                "(a cranial level lies below a caudal one along the image's S axis)",
                source=src,
                value={n: round(mean_s[n], 1) for n in ordered},
                expected="slice ranges that follow the image's slice direction "
                "(see summary.json geometry)",
            )
    return SliceLevels(tuple(levels), "explicit slice table")


def _pair(value: Any, src: str, name: str) -> tuple[Any, Any]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(
            "slice range is not a pair",
            source=src,
            item=name,
            value=value,
            expected="[first, last]",
        )
    return value[0], value[1]


def _slice_index(value: Any) -> int:
    """Parse a slice index, refusing fractions ("5.5") and booleans."""
    if isinstance(value, bool):
        raise TypeError("bool")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())
