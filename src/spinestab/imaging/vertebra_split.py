"""One label for all vertebrae: split it into vertebrae, name them, check the names.

The label is TotalSegmentator ``total_mr``'s ``vertebrae`` or the SPINEPS bodies; pieces are
named from the discs or from an anchor, and checked on a sacrum.

The names of pieces counted from an anchor rest on an assumption unless a sacrum checks
them; the method string says which (``checked``, ``assumed``, ``WARNING``), and
:mod:`~spinestab.imaging.level_names` turns that into a state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from spinestab.core.levels import normal_sequence, vertebra_order
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.imaging.discs import (
    MAX_DISC_FLATNESS,
    DiscSet,
    _names_from_disc_counts,
    find_discs,
    name_pieces_from_discs,
    parse_disc_name,
)
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.slice_levels import (
    SliceLevels,
    assign_slices,
    instance_extents,
    slice_positions_s,
)

__all__ = ["MAX_VERTEBRA_EXTENT_MM", "levels_from_single_label", "split_vertebrae"]

logger = logging.getLogger(__name__)


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

    check_choice("anchor_is", anchor_is, ("lowest", "highest"), message="unknown anchor position")
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
    sequence = normal_sequence([anchor])
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
    sac = instance_extents(labels.data, labels.affine, dict.fromkeys(sacrum, "sacrum"))
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
    values = _vertebra_values(scheme)
    naming = _naming(labels, scheme, anchor, anchor_is, use_discs=use_discs, gap_mm=sacrum_gap_mm)
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
        anchor=naming.anchor,
        anchor_is=anchor_is,
        discs=naming.discs if naming.by_discs else None,
        min_fraction=0.05,
        max_erosion=4,
    )
    extents = instance_extents(inst, labels.affine, names)
    slice_s = slice_positions_s(image.affine, image.shape)
    levels = assign_slices(slice_s, extents, fill_gaps=fill_gaps)
    check = _sacrum_check(labels, scheme, naming, extents, sacrum_gap_mm)
    doubt = doubt or _thick_disc_doubt(naming)
    if doubt:
        check += f" (WARNING: {doubt}; levels doubtful)"
        logger.warning("vertebra split: %s", doubt)
    return SliceLevels(
        levels,
        f"single vertebrae label split into instances, {naming.how}{check}",
        {n: e[2] for n, e in extents.items()},
    )


def _vertebra_values(scheme: LabelScheme) -> list[int]:
    """Return the single ``vertebrae`` label or, lacking one, the vertebral body labels."""
    values = list(scheme.of_kind("vertebrae")) or list(scheme.of_kind("vertebral_body"))
    if not values:
        raise InputError(
            f"scheme '{scheme.name}' has no single 'vertebrae' (or vertebral body) label",
            value=scheme.name,
        )
    return values


@dataclass(frozen=True)
class _Naming:
    """How the pieces get their names: the anchor, and the discs if they name them."""

    anchor: str
    anchor_is: str
    anchor_disc: tuple[str, str] | None
    discs: DiscSet | None

    @property
    def by_discs(self) -> bool:
        """Whether the names come from the discs (named ones, or a disc anchor)."""
        return self.discs is not None and (self.discs.named or self.anchor_disc is not None)

    @property
    def how(self) -> str:
        """The naming, in words, for the method string."""
        if not self.by_discs:
            return f"{self.anchor_is} = {self.anchor}"
        if self.discs is not None and self.discs.named:
            return "named from the disc labels"
        n_discs = 0 if self.discs is None else len(self.discs.heights_mm)
        return f"named from {n_discs} discs, {self.anchor_is} disc = {self.anchor}"

    @property
    def lowest_is_l5(self) -> bool:
        """Whether the names say the lowest piece (disc) is L5 (L5-S1): a sacrum checks it."""
        if self.discs is not None and self.discs.named:
            return self.discs.names[-1] == ("L5", "S1")
        if self.by_discs:
            return self.anchor_is == "lowest" and self.anchor_disc == ("L5", "S1")
        return self.anchor_is == "lowest" and self.anchor == "L5"


def _naming(
    labels: Volume,
    scheme: LabelScheme,
    anchor: str,
    anchor_is: str,
    *,
    use_discs: bool,
    gap_mm: float,
) -> _Naming:
    """Check the anchor against the discs of the map; upgrade L5 to L5-S1 on a sacrum."""
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
        and _lowest_disc_on_sacrum(labels, scheme, discs, gap_mm)
    ):  # the disc on the sacrum is L5-S1: name from the discs (a checked anchor)
        anchor, anchor_disc = "L5-S1", ("L5", "S1")
    return _Naming(anchor, anchor_is, anchor_disc, discs)


def _sacrum_check(
    labels: Volume,
    scheme: LabelScheme,
    naming: _Naming,
    extents: Mapping[str, tuple[float, float, float]],
    gap_mm: float,
) -> str:
    """Say what a sacrum label shows of names that make the lowest piece L5 (or ``""``)."""
    if not naming.lowest_is_l5:
        return ""
    named = naming.discs is not None and naming.discs.named
    sacrum = [v for v, e in scheme.entries.items() if e.name == "sacrum"]
    sac = instance_extents(labels.data, labels.affine, dict.fromkeys(sacrum, "sacrum"))
    what = "lowest disc" if naming.by_discs else "lowest piece"
    if naming.by_discs and naming.discs is not None:
        bottom = naming.discs.bottoms_mm[-1]
    else:
        bottom = extents["L5"][0] if "L5" in extents else math.nan
    if not sac:  # the names come from the labels; a sacrum only double-checks L5-S1
        return "" if named else " (assumed: no sacrum in view)"
    if bottom - sac["sacrum"][1] <= gap_mm:
        return f" (checked: the {what} sits on the sacrum)"
    logger.warning("vertebra split: %s is not directly above the sacrum", what)
    return f" (WARNING: the {what} does not sit on the sacrum; levels doubtful)"


def _thick_disc_doubt(naming: _Naming) -> str:
    """Why unnamed discs cannot be trusted (a piece too thick for one disc), or ``""``."""
    discs = naming.discs
    if not naming.by_discs or discs is None or discs.named:
        return ""
    thick = [f"{f:.2f}" for f in discs.flatness if f > MAX_DISC_FLATNESS]
    return f"a disc piece is too thick for one disc (flatness {', '.join(thick)})" if thick else ""
