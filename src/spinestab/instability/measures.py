"""Measures per view (slip, angles, disc heights, lordosis) from corner landmarks.

:func:`measure_view` turns one :class:`~spinestab.instability.landmarks.LandmarkSet` into
geometry per vertebra and per motion segment, after the quality checks of
:mod:`spinestab.instability.quality`. Measures of a level with a quality error are
withheld (None), never guessed.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from spinestab.core.levels import adjacent, level_index, segment_name
from spinestab.instability import geometry as geo
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet
from spinestab.instability.quality import QualityIssue, check_vertebrae, working_coordinates
from spinestab.instability.sequence import (
    check_partial_orientation,
    check_segment_overlap,
    cranial_direction,
)

__all__ = [
    "TRANSLATION_METHODS",
    "SegmentGeometry",
    "VertebraGeometry",
    "ViewResult",
    "measure_view",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VertebraGeometry:
    """Geometry of one vertebral body in one view (lengths in the view's ``unit``).

    ``wedge_deg`` is the signed angle from the inferior to the superior endplate, positive
    when the body is taller anteriorly (lordotic wedge).
    """

    level: str
    superior_depth: float | None
    inferior_depth: float | None
    anterior_height: float | None
    posterior_height: float | None
    wedge_deg: float | None


@dataclass(frozen=True)
class SegmentGeometry:
    """Geometry of one motion segment (upper over lower) in one view.

    Attributes
    ----------
    slip : float or None
        Translation of the upper posterior-inferior corner along the lower superior endplate,
        in ``unit``; positive = anterolisthesis.
    slip_pct : float or None
        ``100 * slip / endplate_depth``.
    endplate_depth : float or None
        Depth of the lower superior endplate, in ``unit``.
    angle_deg : float or None
        Segmental (disc) angle, positive = lordotic.
    disc_anterior, disc_posterior : float or None
        Disc heights (distance of the upper inferior corners from the lower superior
        endplate line), in ``unit``.
    withheld : tuple of str
        Why measures are None, if they are.

    """

    name: str
    upper: str
    lower: str
    slip: float | None = None
    slip_pct: float | None = None
    endplate_depth: float | None = None
    angle_deg: float | None = None
    disc_anterior: float | None = None
    disc_posterior: float | None = None
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewResult:
    """Everything measured on one view."""

    view: str
    source: str
    unit: str
    magnification_known: bool
    coords: dict[str, np.ndarray]
    cranial: np.ndarray | None
    vertebrae: dict[str, VertebraGeometry]
    segments: dict[str, SegmentGeometry]
    lordosis_deg: float | None
    lordosis_note: str
    issues: list[QualityIssue] = field(default_factory=list)
    outlines: dict[str, np.ndarray] = field(default_factory=dict)

    def mm(self, value: float | None) -> float | None:
        """Return a length in mm, or None when the view has no mm scale."""
        return None if value is None or self.unit != "mm" else float(value)


def _f(value: float | np.ndarray) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _has(arr: np.ndarray, rows: tuple[int, int]) -> bool:
    return not np.isnan(arr[list(rows)]).any()


def _vertebra(level: str, arr: np.ndarray, cranial: np.ndarray | None) -> VertebraGeometry:
    sup = _has(arr, (AS, PS))
    inf = _has(arr, (AI, PI))
    both = sup and inf
    return VertebraGeometry(
        level=level,
        superior_depth=_f(np.hypot(*(arr[AS] - arr[PS]))) if sup else None,
        inferior_depth=_f(np.hypot(*(arr[AI] - arr[PI]))) if inf else None,
        anterior_height=_f(np.hypot(*(arr[AS] - arr[AI]))) if both else None,
        posterior_height=_f(np.hypot(*(arr[PS] - arr[PI]))) if both else None,
        wedge_deg=(
            _f(geo.signed_angle_deg(arr[AS] - arr[PS], arr[AI] - arr[PI], cranial))
            if both and cranial is not None
            else None
        ),
    )


#: Translation (slip) methods of ``CLINICAL_LOGIC.md`` §4.3.
TRANSLATION_METHODS = ("corner", "posterior-wall")


def _reading_issues(landmarks: LandmarkSet) -> list[QualityIssue]:
    """Info issues from the remarks made while reading (cut bodies, corner method, endplates)."""
    issues = []
    for level, notes in landmarks.notes.items():
        for note in notes:
            check = (
                "truncated"
                if "field of view" in note
                else "corner_method"
                if "outline extremes" in note
                else "missing_endplate"
            )
            issues.append(QualityIssue(landmarks.view, level, check, "info", f"{level}: {note}"))
    return issues


def _orientation(
    coords: dict[str, np.ndarray], issues: list[QualityIssue], *, view: str
) -> tuple[np.ndarray | None, set[str], list[QualityIssue]]:
    """Cranial direction, the levels failing a check, and the sequence/orientation issues."""
    bad = {i.level for i in issues if i.severity == "error"}
    if "all" in bad:
        bad |= set(coords)
    cranial, found = cranial_direction(coords, view=view, exclude=bad)
    for issue in found:
        if issue.severity == "error":
            bad |= set(coords) if issue.level == "all" else set(issue.level.split("-"))
    if cranial is not None:
        orient = check_partial_orientation(coords, cranial=cranial, view=view, exclude=bad)
        found = found + orient
        bad |= {i.level for i in orient}
    return cranial, bad, found


@dataclass(frozen=True)
class _View:
    """What the per-segment measurement of one view needs."""

    view: str
    coords: dict[str, np.ndarray]
    cranial: np.ndarray | None
    bad: set[str]
    why: dict[str, str]
    notes: dict[str, list[str]]
    translation_method: str


def _first_errors(issues: list[QualityIssue], coords: dict[str, np.ndarray]) -> dict[str, str]:
    """Return the first error message per level (named in the withheld reasons)."""
    why: dict[str, str] = {}
    for issue in issues:
        if issue.severity == "error":
            for lv in coords if issue.level == "all" else issue.level.split("-"):
                why.setdefault(lv, f"{issue.check}: {issue.message}")
    return why


def _withheld(v: _View, upper: str, lower: str) -> list[str]:
    """Why a segment's measures are withheld (quality, missing coordinates, no direction)."""
    withheld = [
        f"{lv} failed a quality check in the {v.view} view"
        + (f" ({v.why[lv]})" if lv in v.why else "")
        for lv in (upper, lower)
        if lv in v.bad
    ]
    if upper not in v.coords or lower not in v.coords:
        withheld.append(f"{upper} or {lower} has no usable coordinates in the {v.view} view")
    if v.cranial is None and not withheld:
        withheld.append("the cranial direction could not be determined")
    return withheld


def _missing_endplates(v: _View, upper: str, lower: str) -> list[str]:
    u, lo = v.coords[upper], v.coords[lower]
    return [
        f"{lv} {ep} endplate not available"
        + (
            " (cut by the field of view)"
            if any("field of view" in n and ep in n for n in v.notes.get(lv, []))
            else ""
        )
        for lv, ep, ok in (
            (upper, "inferior", _has(u, (AI, PI))),
            (lower, "superior", _has(lo, (AS, PS))),
        )
        if not ok
    ]


def _geometry(v: _View, name: str, upper: str, lower: str) -> SegmentGeometry:
    """Slip, angle and disc heights of a segment whose two endplates are usable."""
    u, lo = v.coords[upper], v.coords[lower]
    assert v.cranial is not None  # a view without it has every segment withheld
    if v.translation_method == "posterior-wall":
        d, pct, depth = geo.slip_posterior_wall(u[PS], u[PI], lo[PS], lo[AS], lo[PI])
    else:
        d, pct, depth = geo.slip(u[PI], lo[PS], lo[AS])
    angle = geo.signed_angle_deg(u[AI] - u[PI], lo[AS] - lo[PS], v.cranial)
    ant, post = geo.disc_heights(u[PI], u[AI], lo[PS], lo[AS], v.cranial)
    return SegmentGeometry(
        name,
        upper,
        lower,
        slip=_f(d),
        slip_pct=_f(pct),
        endplate_depth=_f(depth),
        angle_deg=_f(angle),
        disc_anterior=_f(ant),
        disc_posterior=_f(post),
    )


def _segment(
    v: _View, upper: str, lower: str, present: set[str]
) -> tuple[SegmentGeometry | None, list[QualityIssue]]:
    """One motion segment of a view (None between non-adjacent levels) and its issues."""
    if not adjacent(upper, lower, present):
        issue = QualityIssue(
            v.view,
            f"{upper}-{lower}",
            "sequence",
            "info",
            f"{upper} and {lower} are not adjacent levels: no motion segment measured "
            "between them.",
        )
        return None, [issue]
    name = segment_name(upper, lower)
    withheld = _withheld(v, upper, lower)
    if withheld:
        return SegmentGeometry(name, upper, lower, withheld=tuple(withheld)), []
    missing = _missing_endplates(v, upper, lower)
    if missing:
        return SegmentGeometry(name, upper, lower, withheld=tuple(missing)), []
    assert v.cranial is not None  # else _withheld withheld the segment
    overlap = check_segment_overlap(
        v.coords[upper], v.coords[lower], cranial=v.cranial, name=name, view=v.view
    )
    if overlap:
        return SegmentGeometry(name, upper, lower, withheld=(overlap[0].message,)), overlap
    return _geometry(v, name, upper, lower), []


def _lordosis(
    coords: dict[str, np.ndarray],
    vertebrae: dict[str, VertebraGeometry],
    cranial: np.ndarray | None,
) -> tuple[float | None, str]:
    """L1-S1 Cobb angle between the superior endplates (+ = lordosis), or why not."""
    if "L1" in vertebrae and "S1" in vertebrae and cranial is not None:
        l1, s1 = coords["L1"], coords["S1"]
        if _has(l1, (AS, PS)) and _has(s1, (AS, PS)):
            angle = _f(geo.signed_angle_deg(l1[AS] - l1[PS], s1[AS] - s1[PS], cranial))
            return angle, "Cobb angle between the superior endplates of L1 and S1; + = lordosis"
        return None, "L1 or S1 superior endplate not given"
    missing = [lv for lv in ("L1", "S1") if lv not in vertebrae]
    return None, (
        f"not measured: {', '.join(missing)} not given or failed a quality check"
        if missing
        else "not measured: cranial direction unknown"
    )


def measure_view(landmarks: LandmarkSet, *, translation_method: str = "corner") -> ViewResult:
    """Quality-check one view and measure its vertebrae and motion segments.

    Parameters
    ----------
    landmarks : LandmarkSet
        Corners of one view.
    translation_method : {"corner", "posterior-wall"}
        ``corner``: the upper posterior-inferior corner projected on the lower superior
        endplate (§4.3 [D]); ``posterior-wall``: the distance between the posterior-wall
        lines at the level of the lower superior endplate (Morgan-King / Boden-Wiesel
        style [R], :func:`~spinestab.instability.geometry.slip_posterior_wall`).

    Returns
    -------
    ViewResult
        Lengths in mm when a scale is known, else in px (then only % and angles are
        meaningful). Segments are formed between anatomically adjacent levels present.

    """
    view = landmarks.view
    coords, unit, issues = working_coordinates(landmarks)
    issues += _reading_issues(landmarks)
    issues += check_vertebrae(coords, unit=unit, view=view)
    cranial, bad, found = _orientation(coords, issues, view=view)
    issues += found
    vertebrae = {lv: _vertebra(lv, arr, cranial) for lv, arr in coords.items() if lv not in bad}
    v = _View(
        view,
        coords,
        cranial,
        bad,
        _first_errors(issues, coords),
        landmarks.notes,
        translation_method,
    )
    present = sorted(landmarks.vertebrae, key=level_index)
    segments: dict[str, SegmentGeometry] = {}
    for upper, lower in itertools.pairwise(present):
        seg, found = _segment(v, upper, lower, set(present))
        issues += found
        if seg is not None:
            segments[seg.name] = seg
    lordosis, note = _lordosis(coords, vertebrae, cranial)
    return ViewResult(
        view=view,
        source=landmarks.source,
        unit=unit,
        magnification_known=landmarks.magnification_known,
        coords=coords,
        cranial=cranial,
        vertebrae=vertebrae,
        segments=segments,
        lordosis_deg=lordosis,
        lordosis_note=note,
        issues=issues,
        outlines=dict(landmarks.outlines) if unit == landmarks.units else {},
    )
