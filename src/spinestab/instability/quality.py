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
- ``sequence`` and ``crossing`` (across bodies): in :mod:`spinestab.instability.sequence`.

Severity ``error`` withholds the measures of the level and of its motion segments;
``warning`` keeps them and reports the problem; ``info`` is a remark.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet

__all__ = [
    "QualityIssue",
    "check_vertebrae",
    "complete_body",
    "edges",
    "has_endplate",
    "segments_cross",
    "signed_area",
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


def segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Whether segments p1-p2 and q1-q2 properly intersect; arrays broadcast over (..., 2)."""

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
            c[..., 0] - a[..., 0]
        )

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) & (d3 * d4 < 0)


def edges(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points of the four edges of a ``(4, 2)`` outline."""
    return quad, np.roll(quad, -1, axis=0)


def signed_area(quad: np.ndarray) -> float:
    """Shoelace signed area of a ``(4, 2)`` outline AS-PS-PI-AI."""
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def complete_body(arr: np.ndarray) -> bool:
    """Whether all four corners of a body are given."""
    return not np.isnan(arr).any()


def has_endplate(arr: np.ndarray, endplate: str) -> bool:
    """Whether both corners of the ``superior`` or ``inferior`` endplate are given."""
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
    depths = _endplate_depths(coords)
    issues = _depth_issues(
        depths,
        unit=unit,
        view=view,
        plausible_mm=lumbar_depth_mm,
        max_median_ratio=max_median_ratio,
    )
    issues += _ratio_issues(coords, depths, view=view, max_depth_ratio=max_depth_ratio)
    return issues + _order_issues(coords, view=view)


def _endplate_depths(coords: dict[str, np.ndarray]) -> dict[tuple[str, str], float]:
    """Depth of every complete endplate, by (level, ``superior``/``inferior``)."""
    depths: dict[tuple[str, str], float] = {}
    for level, arr in coords.items():
        for endplate, (a, b) in (("superior", (AS, PS)), ("inferior", (AI, PI))):
            if has_endplate(arr, endplate):
                depths[(level, endplate)] = float(np.hypot(*(arr[a] - arr[b])))
    return depths


def _depth_issues(
    depths: dict[tuple[str, str], float],
    *,
    unit: str,
    view: str,
    plausible_mm: tuple[float, float],
    max_median_ratio: float,
) -> list[QualityIssue]:
    """Zero-length endplates, lumbar depths outside the plausible range, outliers."""
    issues: list[QualityIssue] = []
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
        if unit == "mm" and level in _LUMBAR and not (plausible_mm[0] <= depth <= plausible_mm[1]):
            issues.append(
                QualityIssue(
                    view,
                    level,
                    "endplate_length",
                    "error",
                    f"{level} {endplate} endplate depth {depth:.1f} mm is outside the plausible "
                    f"{plausible_mm[0]:g}-{plausible_mm[1]:g} mm: check units, pixel spacing "
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
    return issues


def _ratio_issues(
    coords: dict[str, np.ndarray],
    depths: dict[tuple[str, str], float],
    *,
    view: str,
    max_depth_ratio: float,
) -> list[QualityIssue]:
    """Bodies whose superior and inferior endplate depths differ too much."""
    issues = []
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
    return issues


def _body_order_issue(level: str, arr: np.ndarray, *, view: str) -> QualityIssue | None:
    """Return the issue of a body whose outline crosses itself or sides point apart."""
    e1, e2 = edges(arr)
    crossed = bool(segments_cross(e1[0], e2[0], e1[2], e2[2])) or bool(
        segments_cross(e1[1], e2[1], e1[3], e2[3])
    )
    if crossed:
        return QualityIssue(
            view,
            level,
            "corner_order",
            "error",
            f"{level} outline AS-PS-PI-AI crosses itself: two corners are swapped.",
        )
    sup_vec, inf_vec = arr[AS] - arr[PS], arr[AI] - arr[PI]
    ant_wall, post_wall = arr[AS] - arr[AI], arr[PS] - arr[PI]
    if float(np.dot(sup_vec, inf_vec)) <= 0 or float(np.dot(ant_wall, post_wall)) <= 0:
        return QualityIssue(
            view,
            level,
            "corner_order",
            "error",
            f"{level}: the superior and inferior endplates (or the anterior and posterior "
            "walls) point in opposite directions: corners are swapped.",
        )
    return None


def _order_issues(coords: dict[str, np.ndarray], *, view: str) -> list[QualityIssue]:
    """Corner order within each complete body, and mirror images against the majority."""
    issues: list[QualityIssue] = []
    signs: dict[str, float] = {}
    for level, arr in coords.items():
        if not complete_body(arr):
            continue
        issue = _body_order_issue(level, arr, view=view)
        if issue is not None:
            issues.append(issue)
        else:
            signs[level] = np.sign(signed_area(arr))
    return issues + _mirror_issues(signs, view=view)


def _mirror_issues(signs: dict[str, float], *, view: str) -> list[QualityIssue]:
    """Bodies with a mirror-image corner order compared with the others."""
    issues: list[QualityIssue] = []
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
