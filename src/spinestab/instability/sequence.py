"""Quality checks across bodies: the cranial direction, level sequence, orientation, overlap.

Checks (``[D]`` design choices of spinestab): ``sequence`` (levels whose positions on the
image do not follow the anatomical order, or superior/inferior corners swapped on every
body), ``corner_order`` (a body given by one endplate only whose anterior and posterior
corners are swapped) and ``crossing`` (adjacent outlines that overlap). The per-body checks
and :class:`~spinestab.instability.quality.QualityIssue` are in
:mod:`spinestab.instability.quality`.
"""

from __future__ import annotations

import itertools

import numpy as np

from spinestab.core.levels import level_index
from spinestab.instability.landmarks import AI, AS, PI, PS
from spinestab.instability.quality import (
    QualityIssue,
    complete_body,
    edges,
    has_endplate,
    segments_cross,
    signed_area,
)

__all__ = ["check_partial_orientation", "check_segment_overlap", "cranial_direction"]


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
    body = [(a[AS] + a[PS]) / 2 - (a[AI] + a[PI]) / 2 for a in good.values() if complete_body(a)]
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

    if not (has_endplate(upper, "inferior") and has_endplate(lower, "superior")):
        return []
    ant, post = disc_heights(upper[PI], upper[AI], lower[PS], lower[AS], cranial)
    crossing = bool(ant < 0 or post < 0)
    if not crossing and complete_body(upper) and complete_body(lower):
        p1, p2 = edges(upper)
        q1, q2 = edges(lower)
        crossing = bool(segments_cross(p1[:, None], p2[:, None], q1[None], q2[None]).any())
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
        np.sign(signed_area(a))
        for lv, a in coords.items()
        if lv not in exclude and complete_body(a)
    ]
    partial: dict[str, float] = {}
    for level, arr in coords.items():
        if level in exclude or complete_body(arr):
            continue
        vec = arr[AS] - arr[PS] if has_endplate(arr, "superior") else arr[AI] - arr[PI]
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
