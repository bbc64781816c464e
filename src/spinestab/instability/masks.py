"""Corner landmarks derived from vertebra masks on the mid-sagittal plane.

Label schemes and reading are in :mod:`spinestab.instability.mask_io`. Without a body
subregion the vertebral body is taken as the largest connected region of the vertebra on
its mid-sagittal slice (the posterior arch is separated from it by the canal).

Method [D]: for each vertebra the sagittal slice through its left-right centroid is taken;
the corners come from lines fitted to its endplates and walls (``linefit``,
:mod:`.corners`) or from the outline points furthest along the diagonals of the body's
principal axes (``extremes``). Output coordinates are world (RAS+) millimetres in the
sagittal plane: ``x`` = anterior (world y) and ``y`` = superior (world z). A body cut by
the field of view gives only the endplate that is inside it. On request the endplate
mid-points are traced on the body's outline (:func:`.corners.trace_midpoints`), for
six-point morphometry.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinestab.core.levels import level_index
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.instability._sagittal import (
    body_component,
    corner_extremes,
    mask_axes,
    occupancy,
    outline_points,
    principal_axes,
    sagittal_slice,
)
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet
from spinestab.instability.mask_io import (
    LABEL_SCHEMES,
    SPINEPS_BODY_SUBREGIONS,
    label_map,
    read_mask,
    read_vertebra_masks,
)

__all__ = [
    "CORNER_METHODS",
    "LABEL_SCHEMES",
    "corners_from_label_array",
    "corners_from_masks",
    "label_map",
    "read_mask",
]

log = logging.getLogger(__name__)
_body_component = body_component  # the name the tests use


#: Corner methods: ``linefit`` (endplate and wall lines, :mod:`.corners`) or ``extremes``.
CORNER_METHODS = ("linefit", "extremes")


@dataclass
class _Body:
    """One vertebra's body on its mid-sagittal slice (working data of the derivation)."""

    points: np.ndarray  # outline pixel corners, world (anterior, superior) mm
    cut_sup: bool
    cut_inf: bool
    cut_ap: bool
    occupancy: np.ndarray
    offset: np.ndarray

    @property
    def complete(self) -> bool:
        return not (self.cut_sup or self.cut_inf or self.cut_ap)


@dataclass(frozen=True)
class _Grid:
    """The mask's geometry: voxel axes (LR, AP, SI), affine and in-plane world map."""

    axes: tuple[int, int, int]
    affine: np.ndarray
    shape: tuple[int, ...]

    @property
    def si_up(self) -> bool:  # which end of the SI voxel axis is superior
        return bool(self.affine[2, self.axes[2]] > 0)

    @property
    def anterior_sign(self) -> float:
        return float(np.sign(self.affine[1, self.axes[1]]))

    @property
    def to_world(self) -> np.ndarray:
        return self.affine[1:3][:, [self.axes[1], self.axes[2]]]


def _find_body(vmask: np.ndarray, grid: _Grid, *, method: str, slab_mm: float) -> _Body | None:
    """Find the body of one vertebra on its mid-sagittal slice, its cuts and occupancy."""
    lr, ap, si = grid.axes
    idx = np.argwhere(vmask)
    index_lr = round(float(idx[:, lr].mean()))
    slab = body_component(
        sagittal_slice(vmask, index_lr, grid.axes), anterior_sign=grid.anterior_sign
    )
    if slab.sum() < 4:
        return None
    idx2 = np.argwhere(slab)
    lo, hi = idx2.min(axis=0), idx2.max(axis=0)
    cut_low_si, cut_high_si = lo[1] == 0, hi[1] == grid.shape[si] - 1
    occ = (
        occupancy(vmask, index_lr, slab, axes=grid.axes, affine=grid.affine, slab_mm=slab_mm)[0]
        if method == "linefit"
        else slab.astype(float)
    )
    return _Body(
        points=outline_points(slab, index_lr=index_lr, axes=grid.axes, affine=grid.affine),
        cut_sup=bool(cut_high_si if grid.si_up else cut_low_si),
        cut_inf=bool(cut_low_si if grid.si_up else cut_high_si),
        cut_ap=bool(lo[0] == 0 or hi[0] == grid.shape[ap] - 1),
        occupancy=occ,
        offset=grid.affine[1:3, lr] * index_lr + grid.affine[1:3, 3],
    )


def _check_head_to_feet(found: dict[str, _Body], *, source: str) -> None:
    """Refuse labels whose vertebrae do not run from superior to inferior in the world.

    A reversed pair means the labels are not those of the scheme (e.g. TotalSegmentator
    organ labels read as SPINEPS vertebrae).
    """
    heights = [(lv, float(b.points[:, 1].mean())) for lv, b in found.items()]
    reversed_pairs = [
        f"{a} ({za:.0f} mm) below {b} ({zb:.0f} mm)"
        for (a, za), (b, zb) in itertools.pairwise(heights)
        if za <= zb
    ]
    if reversed_pairs:
        raise InputError(
            "the labelled vertebrae are not in anatomical order from head to feet",
            source=source,
            item="--labels",
            value="; ".join(reversed_pairs[:4]),
            expected="the label scheme of the mask (spineps/tptbox seg-vert, totalsegmentator "
            "'total' v2, or a JSON map)",
        )


def _posterior_only(
    level: str, body: _Body, found: dict[str, _Body], complete: list[str]
) -> str | None:
    """Note for a cut vertebra whose region lies far behind its neighbours' bodies, or None.

    A vertebra cut by the field of view may show only its posterior elements (e.g. a
    spinous process reaching below the body's level) [D: more than half a body depth].
    """
    near = min(complete, key=lambda lv: abs(level_index(lv) - level_index(level)))
    ref = found[near].points
    depth = float(np.ptp(ref[:, 0]))
    shift = float(body.points[:, 0].mean() - ref[:, 0].mean())
    if abs(shift) <= 0.5 * depth:
        return None
    return (
        "only part of the vertebra outside its body is inside the field of view "
        f"(its region lies {abs(shift):.0f} mm from the {near} body): not derived"
    )


def _borrowed_frame(level: str, complete: list[str], frames: dict[str, np.ndarray]) -> np.ndarray:
    """Frame of the nearest complete body for a cut one (identity when there is none)."""
    near = [lv for lv in complete if lv in frames]
    if not near:
        return np.eye(2)
    best = min(near, key=lambda lv: abs(level_index(lv) - level_index(level)))
    return frames[best]


def _corners_of(
    level: str,
    body: _Body,
    grid: _Grid,
    *,
    method: str,
    frame: np.ndarray | None,
    source: str,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Corners of one body (line fit, else outline extremes), its frame and notes."""
    from spinestab.instability.corners import fit_corners

    notes: list[str] = []
    if method == "linefit":
        try:
            fit = fit_corners(
                body.occupancy, grid.to_world, body.offset, frame=frame, refine=body.complete
            )
            return fit.corners, fit.frame, notes
        except ValueError as exc:
            log.info("%s: %s line fit failed (%s); outline extremes used", source, level, exc)
            notes.append(
                f"corners from the outline extremes: endplate/wall line fit failed ({exc})"
            )
    frame = principal_axes(body.points) if frame is None else frame
    return corner_extremes(body.points, frame), frame, notes


def _cut_endplates(level: str, arr: np.ndarray, body: _Body) -> list[str]:
    """Blank the endplates cut by the field of view (and S1's inferior one); notes."""
    notes = []
    if body.cut_sup:
        arr[[AS, PS]] = np.nan
        notes.append("superior endplate cut by the field of view (not derived)")
    if body.cut_inf:
        arr[[AI, PI]] = np.nan
        notes.append("inferior endplate cut by the field of view (not derived)")
    if level == "S1":
        arr[[AI, PI]] = np.nan
    return notes


def corners_from_label_array(
    labels: np.ndarray,
    affine: np.ndarray,
    *,
    mapping: Mapping[int, str],
    body: np.ndarray | None = None,
    body_labels: tuple[int, ...] = SPINEPS_BODY_SUBREGIONS,
    source: str = "<mask>",
    method: str = "linefit",
    slab_mm: float = 6.0,
    midpoints: bool = False,
) -> LandmarkSet:
    """Derive corner landmarks from a vertebra label volume.

    Parameters
    ----------
    labels : (I, J, K) int ndarray
        Vertebra instance labels.
    affine : (4, 4) ndarray
        Voxel to world (RAS+ mm).
    mapping : mapping of int to str
        Label value -> level.
    body : (I, J, K) int ndarray, optional
        Subregion labels on the same grid; the body is where ``body`` is in ``body_labels``.
    body_labels : tuple of int
        Subregion values that form the vertebral body.
    source : str
        Name for messages.
    method : {"linefit", "extremes"}
        ``linefit`` (default): lines fitted to the superior and inferior endplates and the
        anterior and posterior walls of the body, averaged over the sagittal slices within
        ``slab_mm`` around the mid-plane, meet at the corners (:func:`.corners.fit_corners`).
        ``extremes``: the outline point of the mid-slice furthest along each diagonal of the
        body's principal axes (pulled by single voxels on coarse grids).
    slab_mm : float
        Thickness of the slab of sagittal slices averaged by ``linefit`` [D]: slices centred
        within 3 mm of the mid-plane (3 slices at 3 mm, 5 at 1.5 mm, only the mid-slice for
        slices thicker than 3 mm), well inside the 40-50 mm wide lumbar body.
    midpoints : bool
        Also trace the endplate mid-points where the body's outline (the same occupancy as
        the corners) crosses the line through the middle of its two endplates
        (:func:`.corners.trace_midpoints`), for bodies with both endplates.

    Returns
    -------
    LandmarkSet
        View ``neutral``, units mm, magnification known (tomographic image).

    Raises
    ------
    InputError
        No vertebra of the scheme in the mask, or a subregion mask on another grid.

    """
    check_choice(
        "method",
        method,
        CORNER_METHODS,
        message="unknown corner method",
        expected=" or ".join(CORNER_METHODS),
    )
    if body is not None and body.shape != labels.shape:
        raise InputError(
            "subregion mask is not on the vertebra mask's grid",
            source=source,
            value=body.shape,
            expected=str(labels.shape),
        )
    grid = _Grid(mask_axes(affine, source=source), np.asarray(affine, float), labels.shape)
    present = np.unique(labels)
    levels = {int(v): mapping[int(v)] for v in present if int(v) in mapping}
    if not levels:
        raise InputError(
            "no vertebra of the label scheme found in the mask",
            source=source,
            value=sorted(int(v) for v in present if v != 0)[:20],
            expected=f"labels such as {sorted(mapping)[:8]}... (check --labels)",
        )
    body_mask = np.isin(body, body_labels) if body is not None else None
    found: dict[str, _Body] = {}
    for value, level in sorted(levels.items(), key=lambda kv: level_index(kv[1])):
        vmask = labels == value
        if body_mask is not None:
            vmask &= body_mask
            if not vmask.any():
                log.info("%s: %s has no body subregion voxels", source, level)
                continue
        info = _find_body(vmask, grid, method=method, slab_mm=slab_mm)
        if info is not None:
            found[level] = info
    _check_head_to_feet(found, source=source)
    return _derive(found, grid, method=method, source=source, midpoints=midpoints)


def _derive(
    found: dict[str, _Body], grid: _Grid, *, method: str, source: str, midpoints: bool
) -> LandmarkSet:
    """Corners (and mid-points) of every body found; complete bodies first."""
    from spinestab.instability.corners import trace_midpoints

    complete = [lv for lv, b in found.items() if b.complete]
    vertebrae: dict[str, np.ndarray] = {}
    mids: dict[str, np.ndarray] = {}
    notes: dict[str, list[str]] = {}
    frames: dict[str, np.ndarray] = {}
    # a body cut by the field of view borrows the frame of the nearest complete one
    for level in complete + [lv for lv in found if lv not in complete]:
        info = found[level]
        if info.cut_ap or (info.cut_sup and info.cut_inf):
            log.info("%s: %s body cut by the field of view; skipped", source, level)
            continue
        if not info.complete and complete:
            note = _posterior_only(level, info, found, complete)
            if note is not None:
                log.info("%s: %s: only posterior elements in view; skipped", source, level)
                notes[level] = [note]
                continue
        frame = None if info.complete else _borrowed_frame(level, complete, frames)
        arr, frame, level_notes = _corners_of(
            level, info, grid, method=method, frame=frame, source=source
        )
        frames.setdefault(level, frame)
        level_notes += _cut_endplates(level, arr, info)
        vertebrae[level] = arr
        if midpoints and not np.isnan(arr).any():
            mids[level] = trace_midpoints(info.occupancy, grid.to_world, info.offset, arr)
        if level_notes:
            notes[level] = level_notes
    vertebrae = dict(sorted(vertebrae.items(), key=lambda kv: level_index(kv[0])))
    if not vertebrae:
        raise InputError(
            "no vertebral body could be outlined in the mask",
            source=source,
            expected="vertebra labels with bodies inside the field of view",
        )
    return LandmarkSet(
        view="neutral",
        units="mm",
        vertebrae=vertebrae,
        vertebra_units={lv: "mm" for lv in vertebrae},
        magnification_known=True,
        source=source,
        notes=notes,
        outlines={lv: found[lv].points for lv in vertebrae},
        midpoints={lv: mids[lv] for lv in vertebrae if lv in mids},
        resolution_mm=float(np.linalg.norm(grid.to_world, axis=0).max()),
    )


def corners_from_masks(
    path: str | Path,
    *,
    labels: str | Path = "spineps",
    subregions: str | Path | None = None,
    method: str = "linefit",
    midpoints: bool = False,
) -> LandmarkSet:
    """Read a vertebra mask (NIfTI) and derive the corner landmarks of every body.

    Parameters
    ----------
    path : str or Path
        Vertebra instance mask.
    labels : str or Path
        Label scheme: ``spineps``, ``tptbox``, ``totalsegmentator``,
        ``totalseg_vertebrae_mr`` or a JSON mapping file (:mod:`.mask_io`).
    subregions : str or Path, optional
        SPINEPS subregion mask; for the ``spineps``/``tptbox`` schemes it is looked up
        beside ``path`` (``seg-vert`` -> ``seg-subreg``) when not given.
    method : {"linefit", "extremes"}
        Corner method, see :func:`corners_from_label_array`.
    midpoints : bool
        Also trace the endplate mid-points on the body's outline (six-point morphometry).

    Returns
    -------
    LandmarkSet

    """
    masks = read_vertebra_masks(path, labels=labels, subregions=subregions)
    return corners_from_label_array(
        masks.labels,
        masks.affine,
        mapping=masks.mapping,
        body=masks.body,
        source=f"{masks.source} (corners: {method})",
        method=method,
        midpoints=midpoints,
    )
