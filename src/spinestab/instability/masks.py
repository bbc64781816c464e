"""Corner landmarks derived from vertebra masks on the mid-sagittal plane.

Supported label schemes:

- ``spineps`` / ``tptbox``: SPINEPS ``seg-vert`` instance masks (C1-C7 = 1-7, T1-T12 =
  8-19, L1-L6 = 20-25, S1 = 26, T13 = 28; ``TPTBox/core/vert_constants.py``). When the
  SPINEPS ``seg-subreg`` mask is given (or found beside the file by its BIDS name), the
  vertebral body is the instance mask within subregions 49 and 50 (corpus border, corpus);
- ``totalsegmentator``: TotalSegmentator v2 ``total`` task (S1 = 26, L5 = 27 ... L1 = 31,
  T12 = 32 ... T1 = 43, C7 = 44 ... C1 = 50; ``totalsegmentator/map_to_binary.py``);
- a JSON file mapping label values to level names, e.g. ``{"21": "L2", "22": "L3"}``.

Without a body subregion the vertebral body is taken as the largest connected region of the
vertebra on its mid-sagittal slice (the posterior arch is separated from it by the canal).

Method [D]: for each vertebra the sagittal slice through its left-right centroid is taken;
the body's principal axes give its AP and SI directions; each corner is the point of the
body outline (pixel corners, so the outline is exact for the pixelated mask) furthest along
the matching diagonal of that frame (e.g. anterior + superior for AS). Output coordinates
are world (RAS+) millimetres in the sagittal plane: ``x`` = anterior (world y) and
``y`` = superior (world z). A body cut by the field of view gives only the endplate that is
inside it.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.instability._levels import level_index, normalise_level
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet

__all__ = [
    "CORNER_METHODS",
    "LABEL_SCHEMES",
    "corners_from_label_array",
    "corners_from_masks",
    "label_map",
    "read_mask",
]

log = logging.getLogger(__name__)

_SPINEPS = {
    **{i: f"C{i}" for i in range(1, 8)},
    **{7 + i: f"T{i}" for i in range(1, 13)},
    **{19 + i: f"L{i}" for i in range(1, 7)},
    26: "S1",
    28: "T13",
}
_TOTALSEG = {
    26: "S1",
    **{32 - i: f"L{i}" for i in range(1, 6)},
    **{44 - i: f"T{i}" for i in range(1, 13)},
    **{51 - i: f"C{i}" for i in range(1, 8)},
}
#: Built-in label schemes: label value -> level.
LABEL_SCHEMES: dict[str, dict[int, str]] = {
    "spineps": _SPINEPS,
    "tptbox": _SPINEPS,
    "totalsegmentator": _TOTALSEG,
}
_ALIASES = {"total": "totalsegmentator", "ts": "totalsegmentator", "spineps-vert": "spineps"}
#: SPINEPS subregions that form the vertebral body (Vertebra_Corpus_border, Vertebra_Corpus).
SPINEPS_BODY_SUBREGIONS = (49, 50)


def label_map(scheme: str | Path) -> dict[int, str]:
    """Label value -> level for a scheme name or a JSON mapping file.

    Raises
    ------
    InputError
        Unknown scheme name, or an invalid mapping file.

    """
    key = str(scheme).strip().lower()
    key = _ALIASES.get(key, key)
    if key in LABEL_SCHEMES:
        return dict(LABEL_SCHEMES[key])
    path = Path(str(scheme))
    if path.suffix.lower() != ".json":
        raise InputError(
            "unknown label scheme",
            item="--labels",
            value=str(scheme),
            expected="spineps, tptbox, totalsegmentator or a .json mapping file",
        )
    if not path.is_file():
        raise InputError(
            "label mapping file not found",
            source=str(path),
            expected='a JSON object such as {"21": "L2"}',
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"label mapping is not valid JSON: {exc}", source=str(path)) from None
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(
            "label mapping must be a non-empty JSON object",
            source=str(path),
            expected='{"21": "L2", "22": "L3"}',
        )
    out: dict[int, str] = {}
    for k, v in raw.items():
        try:
            value = int(k)
        except ValueError:
            raise InputError(
                "label value is not an integer",
                source=str(path),
                item=str(k),
                expected="integer label values as keys",
            ) from None
        out[value] = normalise_level(v, source=str(path))
    if len(set(out.values())) != len(out):
        raise InputError(
            "two labels map to the same level",
            source=str(path),
            value=sorted(out.values()),
            expected="one label per level",
        )
    return out


def read_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an integer label volume from NIfTI with nibabel (imaging extra).

    Returns
    -------
    labels : (I, J, K) int ndarray
    affine : (4, 4) ndarray
        Voxel to world (RAS+ mm).

    """
    nib = require("nibabel", extra="imaging", feature="Reading vertebra masks")
    path = Path(path)
    if not path.is_file():
        raise InputError("mask file not found", source=str(path), expected="a NIfTI file")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for bad files
        raise InputError(
            f"cannot read as NIfTI: {exc}",
            source=str(path),
            expected="a .nii or .nii.gz label volume",
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(
            "mask must be a 3-D volume", source=str(path), value=data.shape, expected="(I, J, K)"
        )
    if not np.issubdtype(data.dtype, np.integer) and (
        not np.all(np.isfinite(data)) or not np.all(data == np.round(data))
    ):
        raise InputError(
            "mask holds non-integer values",
            source=str(path),
            value=str(data.dtype),
            expected="an integer label map",
        )
    return np.asarray(data).astype(np.int32, copy=False), np.asarray(img.affine, float)


def _axes(affine: np.ndarray, *, source: str) -> tuple[int, int, int]:
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


def _body_component(
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


def _outline_points(
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


def _frame(points: np.ndarray) -> np.ndarray:
    """Principal axes of a body: rows ``u_ap`` (anterior) and ``u_si`` (superior)."""
    centred = points - points.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    a, b = vecs[:, 1], vecs[:, 0]  # largest variance first
    u_ap, u_si = (a, b) if abs(a[0]) >= abs(b[0]) else (b, a)
    u_ap = u_ap if u_ap[0] > 0 else -u_ap
    u_si = u_si if u_si[1] > 0 else -u_si
    return np.stack([u_ap, u_si])


def _corners(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    proj = points @ frame.T  # (n, 2): ap, si
    arr = np.empty((4, 2))
    for row, (sa, ss) in ((AS, (1, 1)), (PS, (-1, 1)), (PI, (-1, -1)), (AI, (1, -1))):
        arr[row] = points[int(np.argmax(sa * proj[:, 0] + ss * proj[:, 1]))]
    return arr


def _slab(vmask: np.ndarray, index_lr: int, axes: tuple[int, int, int]) -> np.ndarray:
    """Sagittal slice ``index_lr`` of a 3-D mask as an (ap, si) array."""
    lr, ap, _ = axes
    slab = np.take(vmask, index_lr, axis=lr)
    rest = [a for a in range(3) if a != lr]
    return slab.T if rest.index(ap) == 1 else slab


def _occupancy(
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
        sl = _slab(vmask, i, axes)
        if sl.sum() < 0.5 * mid.sum():
            continue
        sl = _body_component(sl, anterior_sign=sign)
        if sl.sum() >= 0.5 * mid.sum():
            stack.append(sl.astype(float))
    return np.mean(stack, axis=0), len(stack)


#: Corner methods: ``linefit`` (endplate and wall lines, :mod:`.corners`) or ``extremes``.
CORNER_METHODS = ("linefit", "extremes")


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

    Returns
    -------
    LandmarkSet
        View ``neutral``, units mm, magnification known (tomographic image).

    Raises
    ------
    InputError
        No vertebra of the scheme in the mask, or a subregion mask on another grid.

    """
    from spinestab.instability.corners import fit_corners

    if method not in CORNER_METHODS:
        raise InputError(
            "unknown corner method",
            item="method",
            value=method,
            expected=" or ".join(CORNER_METHODS),
        )
    if body is not None and body.shape != labels.shape:
        raise InputError(
            "subregion mask is not on the vertebra mask's grid",
            source=source,
            value=body.shape,
            expected=str(labels.shape),
        )
    axes = _axes(affine, source=source)
    lr, ap, si = axes
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
    # which end of the SI voxel axis is superior (world z increasing)
    si_up = affine[2, si] > 0
    shape = labels.shape
    anterior_sign = float(np.sign(affine[1, ap]))
    to_world = affine[1:3][:, [ap, si]]
    found: dict[str, dict[str, Any]] = {}
    for value, level in sorted(levels.items(), key=lambda kv: level_index(kv[1])):
        vmask = labels == value
        if body_mask is not None:
            vmask &= body_mask
            if not vmask.any():
                log.info("%s: %s has no body subregion voxels", source, level)
                continue
        idx = np.argwhere(vmask)
        index_lr = round(float(idx[:, lr].mean()))
        slab = _body_component(_slab(vmask, index_lr, axes), anterior_sign=anterior_sign)
        if slab.sum() < 4:
            continue
        idx2 = np.argwhere(slab)
        lo, hi = idx2.min(axis=0), idx2.max(axis=0)
        cut_low_si, cut_high_si = lo[1] == 0, hi[1] == shape[si] - 1
        cut_sup = cut_high_si if si_up else cut_low_si
        cut_inf = cut_low_si if si_up else cut_high_si
        cut_ap = lo[0] == 0 or hi[0] == shape[ap] - 1
        points = _outline_points(slab, index_lr=index_lr, axes=axes, affine=affine)
        occ, n_slices = (
            _occupancy(vmask, index_lr, slab, axes=axes, affine=affine, slab_mm=slab_mm)
            if method == "linefit"
            else (slab.astype(float), 1)
        )
        found[level] = {
            "points": points,
            "cut_sup": cut_sup,
            "cut_inf": cut_inf,
            "cut_ap": cut_ap,
            "occupancy": occ,
            "slices": n_slices,
            "offset": affine[1:3, lr] * index_lr + affine[1:3, 3],
        }
    # in world coordinates the levels must run from superior to inferior: a reversed pair
    # means the labels are not those of the scheme (e.g. TotalSegmentator organ labels read
    # as SPINEPS vertebrae)
    heights = [(lv, float(found[lv]["points"][:, 1].mean())) for lv in found]
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
    complete = [lv for lv, f in found.items() if not (f["cut_sup"] or f["cut_inf"] or f["cut_ap"])]
    vertebrae: dict[str, np.ndarray] = {}
    notes: dict[str, list[str]] = {}
    frames: dict[str, np.ndarray] = {}
    # complete bodies first: a body cut by the field of view borrows the frame of the
    # nearest complete one
    order = complete + [lv for lv in found if lv not in complete]
    for level in order:
        info = found[level]
        if info["cut_ap"] or (info["cut_sup"] and info["cut_inf"]):
            log.info("%s: %s body cut by the field of view; skipped", source, level)
            continue
        if level not in complete and complete:
            # a vertebra cut by the field of view may show only its posterior elements
            # (e.g. a spinous process reaching below the body's level): its 'body' then lies
            # far behind the bodies of its neighbours [D: more than half a body depth]
            near = min(complete, key=lambda lv: abs(level_index(lv) - level_index(level)))
            ref = found[near]["points"]
            depth = float(np.ptp(ref[:, 0]))
            shift = float(info["points"][:, 0].mean() - ref[:, 0].mean())
            if abs(shift) > 0.5 * depth:
                log.info("%s: %s: only posterior elements in view; skipped", source, level)
                notes[level] = [
                    "only part of the vertebra outside its body is inside the field of view "
                    f"(its region lies {abs(shift):.0f} mm from the {near} body): not derived"
                ]
                continue
        frame = None
        if level not in complete:
            near = [lv for lv in complete if lv in frames]
            if near:
                best = min(near, key=lambda lv: abs(level_index(lv) - level_index(level)))
                frame = frames[best]
            else:
                frame = np.eye(2)
        level_notes = []
        arr = None
        if method == "linefit":
            try:
                fit = fit_corners(
                    info["occupancy"],
                    to_world,
                    info["offset"],
                    frame=frame,
                    refine=level in complete,
                )
                arr, frames[level] = fit.corners, fit.frame
            except ValueError as exc:
                log.info("%s: %s line fit failed (%s); outline extremes used", source, level, exc)
                level_notes.append(
                    f"corners from the outline extremes: endplate/wall line fit failed ({exc})"
                )
        if arr is None:
            frame = _frame(info["points"]) if frame is None else frame
            frames.setdefault(level, frame)
            arr = _corners(info["points"], frame)
        if info["cut_sup"]:
            arr[[AS, PS]] = np.nan
            level_notes.append("superior endplate cut by the field of view (not derived)")
        if info["cut_inf"]:
            arr[[AI, PI]] = np.nan
            level_notes.append("inferior endplate cut by the field of view (not derived)")
        if level == "S1":
            arr[[AI, PI]] = np.nan
        vertebrae[level] = arr
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
        outlines={lv: found[lv]["points"] for lv in vertebrae},
    )


def _sibling_subreg(path: Path) -> Path | None:
    name = path.name
    if "seg-vert" in name:
        candidate = path.with_name(name.replace("seg-vert", "seg-subreg"))
        if candidate.is_file():
            return candidate
    return None


def corners_from_masks(
    path: str | Path,
    *,
    labels: str | Path = "spineps",
    subregions: str | Path | None = None,
    method: str = "linefit",
) -> LandmarkSet:
    """Read a vertebra mask (NIfTI) and derive the corner landmarks of every body.

    Parameters
    ----------
    path : str or Path
        Vertebra instance mask.
    labels : str or Path
        Label scheme: ``spineps``, ``tptbox``, ``totalsegmentator`` or a JSON mapping file.
    subregions : str or Path, optional
        SPINEPS subregion mask; for the ``spineps``/``tptbox`` schemes it is looked up
        beside ``path`` (``seg-vert`` -> ``seg-subreg``) when not given.
    method : {"linefit", "extremes"}
        Corner method, see :func:`corners_from_label_array`.

    Returns
    -------
    LandmarkSet

    """
    path = Path(path)
    mapping = label_map(labels)
    data, affine = read_mask(path)
    scheme = str(labels).strip().lower()
    sub_path = Path(subregions) if subregions is not None else None
    if sub_path is None and _ALIASES.get(scheme, scheme) in ("spineps", "tptbox"):
        sub_path = _sibling_subreg(path)
    body = None
    if sub_path is not None:
        body, sub_affine = read_mask(sub_path)
        if body.shape != data.shape or not np.allclose(sub_affine, affine, atol=1e-3):
            raise InputError(
                "subregion mask is not on the vertebra mask's grid",
                source=str(sub_path),
                value=body.shape,
                expected=f"shape {data.shape} and the same affine",
            )
        if not np.isin(body, SPINEPS_BODY_SUBREGIONS).any():
            raise InputError(
                "subregion mask has no vertebral-body labels",
                source=str(sub_path),
                expected=f"labels {SPINEPS_BODY_SUBREGIONS} (SPINEPS corpus)",
            )
    src = f"mask:{path.name}" + (f"+{sub_path.name}" if sub_path is not None else "")
    src += f" (corners: {method})"
    return corners_from_label_array(
        data, affine, mapping=mapping, body=body, source=src, method=method
    )
