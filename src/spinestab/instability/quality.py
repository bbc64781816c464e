"""Quality checks on corner landmarks, reported per level.

Checks (all [D] design choices of spinestab, configurable through the keyword options):

- ``mixed_units``: vertebrae in units other than the file's; converted when a pixel
  spacing is known (warning), withheld otherwise (error);
- ``corner_order``: a body outline that crosses itself, endplates or walls pointing in
  opposite directions, or a mirror-image corner order compared with the other bodies;
- ``endplate_length``: zero length; outside a plausible range in mm for lumbar bodies
  (default 20-70 mm, wider than the 30-50 mm physiological range named in issue 5 so that
  only gross errors such as wrong units or pixel spacing are caught, even on
  magnified films); superior/inferior
  depth ratio or depth relative to the median of the film far from 1;
- ``sequence``: levels whose positions on the image do not follow the anatomical order,
  or superior/inferior corners swapped on every body;
- ``crossing``: adjacent body outlines that overlap (negative disc height or crossing
  edges).

Severity ``error`` withholds the measures of the level and of its motion segments;
``warning`` keeps them and reports the problem; ``info`` is a remark.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from spinestab.core.levels import level_index
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet

__all__ = [
    "QualityIssue",
    "check_segment_overlap",
    "check_vertebrae",
    "cranial_direction",
    "working_coordinates",
]

_LUMBAR = {"L1", "L2", "L3", "L4", "L5", "L6", "S1"}


@dataclass(frozen=True)
class QualityIssue:
    """One quality finding.

    Attributes
    ----------
    view : str
        The view it concerns.
    level : str
        A vertebra (``"L4"``), a motion segment (``"L4-L5"``) or ``"all"``.
    check : str
        ``mixed_units``, ``corner_order``, ``endplate_length``, ``sequence``, ``crossing``,
        ``missing_endplate``, ``low_motion``, ``orientation`` or ``truncated``.
    severity : {"error", "warning", "info"}
        ``error`` withholds the measures concerned.
    message : str
        What was found and what to do.

    """

    view: str
    level: str
    check: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready mapping."""
        return asdict(self)


def working_coordinates(
    landmarks: LandmarkSet,
) -> tuple[dict[str, np.ndarray], str, list[QualityIssue]]:
    """Bring all vertebrae of a view into one frame with equal units on both axes.

    Pixels are converted to mm with the pixel spacing (row spacing scales y, column
    spacing scales x). Without a spacing, pixel coordinates are kept (angles and % measures
    remain valid if pixels are square; mm measures are then not available).

    Returns
    -------
    coords : dict of str to (4, 2) ndarray
        Usable vertebrae, cranial to caudal.
    unit : {"mm", "px"}
        Unit of ``coords``.
    issues : list of QualityIssue
        ``mixed_units`` findings; vertebrae that cannot be converted are left out.

    """
    view = landmarks.view
    spacing = landmarks.pixel_spacing_mm
    issues: list[QualityIssue] = []
    units = {lv: landmarks.units_of(lv) for lv in landmarks.vertebrae}
    has_mm = any(u == "mm" for u in units.values())
    if spacing is None and not has_mm:
        return dict(landmarks.vertebrae), "px", issues
    coords: dict[str, np.ndarray] = {}
    scale = None if spacing is None else np.array([spacing[1], spacing[0]])
    for level, arr in landmarks.vertebrae.items():
        unit = units[level]
        if unit != landmarks.units:
            if unit == "px" and scale is None:
                issues.append(
                    QualityIssue(
                        view,
                        level,
                        "mixed_units",
                        "error",
                        f"{level} is in px but the file is in {landmarks.units} and gives no "
                        "pixel spacing: its measures are withheld. Give all corners in one unit.",
                    )
                )
                continue
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "mixed_units",
                    "warning",
                    f"{level} is in {unit} while the file is in {landmarks.units}; converted with "
                    "the pixel spacing. Check that this was intended.",
                )
            )
        coords[level] = arr * scale if unit == "px" else arr.copy()
    return coords, "mm", issues


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Whether segments p1-p2 and q1-q2 properly intersect; arrays broadcast over (..., 2)."""

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
            c[..., 0] - a[..., 0]
        )

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) & (d3 * d4 < 0)


def _edges(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return quad, np.roll(quad, -1, axis=0)


def signed_area(quad: np.ndarray) -> float:
    """Shoelace signed area of a ``(4, 2)`` outline AS-PS-PI-AI."""
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _complete(arr: np.ndarray) -> bool:
    return not np.isnan(arr).any()


def _has(arr: np.ndarray, endplate: str) -> bool:
    a, b = (AS, PS) if endplate == "superior" else (AI, PI)
    return not (np.isnan(arr[a]).any() or np.isnan(arr[b]).any())


def check_vertebrae(
    coords: dict[str, np.ndarray],
    *,
    unit: str,
    view: str,
    lumbar_depth_mm: tuple[float, float] = (20.0, 70.0),
    max_depth_ratio: float = 1.5,
    max_median_ratio: float = 2.0,
) -> list[QualityIssue]:
    """Per-vertebra checks of corner order and endplate length.

    Parameters
    ----------
    coords : dict of str to (4, 2) ndarray
        Working coordinates (see :func:`working_coordinates`).
    unit : {"mm", "px"}
        Their unit (the mm range applies only to mm).
    view : str
        View name for the report.
    lumbar_depth_mm : tuple of float
        Plausible endplate depth of L1-L6 and S1 in mm [D].
    max_depth_ratio : float
        Largest accepted ratio between a body's superior and inferior endplate depths [D].
    max_median_ratio : float
        Largest accepted ratio between an endplate depth and the film's median depth [D].

    Returns
    -------
    list of QualityIssue

    """
    issues: list[QualityIssue] = []
    depths: dict[tuple[str, str], float] = {}
    for level, arr in coords.items():
        for endplate, (a, b) in (("superior", (AS, PS)), ("inferior", (AI, PI))):
            if _has(arr, endplate):
                depths[(level, endplate)] = float(np.hypot(*(arr[a] - arr[b])))
    median = float(np.median(list(depths.values()))) if depths else float("nan")
    for (level, endplate), depth in depths.items():
        if depth <= 1e-9 * max(1.0, median if np.isfinite(median) else 1.0):
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "endplate_length",
                    "error",
                    f"{level} {endplate} endplate has zero length: both corners are one point.",
                )
            )
            continue
        if (
            unit == "mm"
            and level in _LUMBAR
            and not (lumbar_depth_mm[0] <= depth <= lumbar_depth_mm[1])
        ):
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "endplate_length",
                    "error",
                    f"{level} {endplate} endplate depth {depth:.1f} mm is outside the plausible "
                    f"{lumbar_depth_mm[0]:g}-{lumbar_depth_mm[1]:g} mm: check units, pixel spacing "
                    "and the corner positions.",
                )
            )
        elif len(depths) >= 3 and not (1 / max_median_ratio <= depth / median <= max_median_ratio):
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "endplate_length",
                    "warning",
                    f"{level} {endplate} endplate depth is {depth / median:.2f} times the "
                    "median of this view: check the corner positions.",
                )
            )
    for level in coords:
        sup, inf = depths.get((level, "superior")), depths.get((level, "inferior"))
        if sup and inf and not (1 / max_depth_ratio <= sup / inf <= max_depth_ratio):
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "endplate_length",
                    "warning",
                    f"{level} superior/inferior endplate depth ratio {sup / inf:.2f} is outside "
                    f"{1 / max_depth_ratio:.2f}-{max_depth_ratio:.2f}: check the corners.",
                )
            )
    # corner order within each complete body
    signs: dict[str, float] = {}
    for level, arr in coords.items():
        if not _complete(arr):
            continue
        e1, e2 = _edges(arr)
        crossed = bool(_segments_cross(e1[0], e2[0], e1[2], e2[2])) or bool(
            _segments_cross(e1[1], e2[1], e1[3], e2[3])
        )
        sup_vec, inf_vec = arr[AS] - arr[PS], arr[AI] - arr[PI]
        ant_wall, post_wall = arr[AS] - arr[AI], arr[PS] - arr[PI]
        if crossed:
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "corner_order",
                    "error",
                    f"{level} outline AS-PS-PI-AI crosses itself: two corners are swapped.",
                )
            )
        elif float(np.dot(sup_vec, inf_vec)) <= 0 or float(np.dot(ant_wall, post_wall)) <= 0:
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "corner_order",
                    "error",
                    f"{level}: the superior and inferior endplates (or the anterior and posterior "
                    "walls) point in opposite directions: corners are swapped.",
                )
            )
        else:
            signs[level] = np.sign(signed_area(arr))
    if len(signs) >= 2:
        total = sum(signs.values())
        majority = np.sign(total)
        if majority == 0:
            issues.append(
                QualityIssue(
                    view,
                    "all",
                    "corner_order",
                    "error",
                    "half of the bodies have a mirror-image corner order: superior/inferior or "
                    "anterior/posterior corners are swapped on some of them.",
                )
            )
        else:
            for level, sign in signs.items():
                if sign != majority:
                    issues.append(
                        QualityIssue(
                            view,
                            level,
                            "corner_order",
                            "error",
                            f"{level} has a mirror-image corner order compared with the other "
                            "bodies: superior/inferior or anterior/posterior corners are swapped.",
                        )
                    )
    return issues


def _centre(arr: np.ndarray) -> np.ndarray:
    return np.nanmean(arr, axis=0)


def cranial_direction(
    coords: dict[str, np.ndarray], *, view: str, exclude: set[str]
) -> tuple[np.ndarray | None, list[QualityIssue]]:
    """Find the unit vector pointing cranially, and check the level sequence.

    The direction comes from the bodies themselves (superior minus inferior endplate
    midpoints) and, independently, from the level order (cranial level minus caudal
    level). Disagreement means that the levels are out of sequence or the superior and
    inferior corners are swapped throughout. Levels whose image positions do not follow the
    anatomical order are reported.

    Returns
    -------
    cranial : (2,) ndarray or None
        None when it cannot be determined (one incomplete body).
    issues : list of QualityIssue

    """
    issues: list[QualityIssue] = []
    good = {lv: a for lv, a in coords.items() if lv not in exclude}
    body = [(a[AS] + a[PS]) / 2 - (a[AI] + a[PI]) / 2 for a in good.values() if _complete(a)]
    body_dir = None
    if body:
        vec = np.sum([v / np.linalg.norm(v) for v in body if np.linalg.norm(v) > 0], axis=0)
        if np.ndim(vec) and np.linalg.norm(vec) > 0:
            body_dir = vec / np.linalg.norm(vec)
    levels = sorted(good, key=level_index)
    label_dir = None
    if len(levels) >= 2:
        vec = _centre(good[levels[0]]) - _centre(good[levels[-1]])
        if np.linalg.norm(vec) > 0:
            label_dir = vec / np.linalg.norm(vec)
    if body_dir is not None and label_dir is not None and float(body_dir @ label_dir) < 0:
        issues.append(
            QualityIssue(
                view,
                "all",
                "sequence",
                "error",
                f"the level labels run {levels[0]} to {levels[-1]} in the direction opposite to "
                "the bodies' superior endplates: either the levels are out of sequence (labels "
                "reversed) or superior and inferior corners are swapped on every body.",
            )
        )
        return None, issues
    cranial = body_dir if body_dir is not None else label_dir
    if cranial is None:
        return None, issues
    heights = {lv: float(_centre(good[lv]) @ cranial) for lv in levels}
    for upper, lower in itertools.pairwise(levels):
        if heights[upper] <= heights[lower]:
            issues.append(
                QualityIssue(
                    view,
                    f"{upper}-{lower}",
                    "sequence",
                    "error",
                    f"{upper} does not lie above {lower} on the image: levels out of sequence "
                    "(check the level labels).",
                )
            )
    return cranial, issues


def check_segment_overlap(
    upper: np.ndarray, lower: np.ndarray, *, cranial: np.ndarray, name: str, view: str
) -> list[QualityIssue]:
    """Check that two adjacent bodies do not overlap.

    Parameters
    ----------
    upper, lower : (4, 2) ndarray
        Corners of the upper and lower body (NaN rows allowed for missing endplates).
    cranial : (2,) ndarray
        Cranial direction.
    name : str
        Segment name.
    view : str
        View name.

    Returns
    -------
    list of QualityIssue
        A ``crossing`` error when the outlines overlap.

    """
    from spinestab.instability.geometry import disc_heights

    if not (_has(upper, "inferior") and _has(lower, "superior")):
        return []
    ant, post = disc_heights(upper[PI], upper[AI], lower[PS], lower[AS], cranial)
    crossing = bool(ant < 0 or post < 0)
    if not crossing and _complete(upper) and _complete(lower):
        p1, p2 = _edges(upper)
        q1, q2 = _edges(lower)
        crossing = bool(_segments_cross(p1[:, None], p2[:, None], q1[None], q2[None]).any())
    if crossing:
        return [
            QualityIssue(
                view,
                name,
                "crossing",
                "error",
                f"{name}: the outlines of the two bodies cross (disc height anterior "
                f"{float(ant):.1f}, posterior {float(post):.1f} in image units; expected both > 0 "
                "and no crossing edges): a corner is on the wrong body or the corners are "
                "swapped.",
            )
        ]
    return []


def check_partial_orientation(
    coords: dict[str, np.ndarray], *, cranial: np.ndarray, view: str, exclude: set[str]
) -> list[QualityIssue]:
    """Check the anterior/posterior order of bodies given by one endplate only.

    The handedness ``sign(cross(anterior, cranial))`` of such an endplate must match that
    of the complete bodies (or of the other partial ones when no body is complete).
    """
    issues: list[QualityIssue] = []
    complete_signs = [
        np.sign(signed_area(a)) for lv, a in coords.items() if lv not in exclude and _complete(a)
    ]
    partial: dict[str, float] = {}
    for level, arr in coords.items():
        if level in exclude or _complete(arr):
            continue
        vec = arr[AS] - arr[PS] if _has(arr, "superior") else arr[AI] - arr[PI]
        partial[level] = float(np.sign(vec[0] * cranial[1] - vec[1] * cranial[0]))
    if not partial:
        return issues
    if complete_signs:
        reference = float(np.sign(sum(complete_signs)))
    else:
        reference = float(np.sign(sum(partial.values()))) if len(partial) >= 2 else 0.0
    if reference == 0:
        return issues
    for level, sign in partial.items():
        if sign != reference:
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "corner_order",
                    "error",
                    f"{level}: anterior and posterior corners appear swapped compared with the "
                    "other bodies.",
                )
            )
    return issues


__all__ += ["check_partial_orientation", "signed_area"]
