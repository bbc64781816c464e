"""Six-point vertebral morphometry: heights, height losses, deformity type and Genant grade.

Definitions (``CLINICAL_LOGIC.md`` §4.6; sources and bands in ``morphometry.yaml``):

- heights between the six points of a body: anterior ``Ha = |AS - AI|``, middle
  ``Hm = |mid_superior - mid_inferior|`` and posterior ``Hp = |PS - PI|`` (lengths in one
  Cartesian frame: pixels are converted to mm with the pixel spacing first, so rotated
  films and non-square pixels give the true heights);
- wedge loss ``1 - Ha/Hp``, biconcave loss ``1 - Hm/Hp``, crush loss ``1 - Hp/Hp_ref`` with
  ``Hp_ref`` the mean posterior height of the adjacent vertebrae on the same film [D];
- height loss = the largest of the three, the deformity type the one that gives it (ties:
  wedge, biconcave, crush), the Genant grade 0-3 from that loss.

A loss that cannot be measured is None, never 0: without endplate mid-points the biconcave
loss is unknown, without a measured neighbour the crush loss is; the grade then rests on the
losses known and is flagged ``grade_lower_bound``. Morphometry alone over- and under-calls
fractures [V: Wáng 2019]: a deformity is a finding for a clinician to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab.core.levels import adjacent
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet
from spinestab.instability.morphometry_rules import MorphometryRules, load_morphometry_rules
from spinestab.instability.quality import QualityIssue, check_vertebrae, working_coordinates

__all__ = [
    "FLAG_MEANINGS",
    "LOSS_TYPES",
    "MorphometryReport",
    "VertebraMorphometry",
    "body_heights",
    "height_losses",
    "measure_morphometry",
    "near_grade_limit",
]

SCHEMA = "spinestab.morphometry/1"
LOSS_TYPES = ("wedge", "biconcave", "crush")
DISCLAIMER = (
    "Supports clinical decisions; does not diagnose. A morphometric deformity is a finding "
    "for a clinician to confirm: morphometry alone over-calls and under-calls vertebral "
    "fractures [V: Wáng YXJ, Quant Imaging Med Surg 2019; CLINICAL_LOGIC.md §4.6]."
)
#: What each per-vertebra flag means (written beside the results).
FLAG_MEANINGS = {
    "biconcave_unknown": "no endplate mid-points (mid_superior and mid_inferior): the middle "
    "height and the biconcave loss are not measured (unknown, not 0)",
    "crush_unknown": "no adjacent vertebra with a posterior height on this film: the crush "
    "loss is not measured (unknown, not 0)",
    "grade_lower_bound": "a loss is unknown, so the grade rests on the losses measured and "
    "may be too low",
    "crush_reference_deformed": "an adjacent vertebra used as the crush reference has a "
    "wedge or biconcave loss of grade 1 or more itself: the crush loss may be too low",
    "endplate_missing": "a superior or inferior endplate is not given (or cut by the field "
    "of view): no heights, no grade",
    "withheld_quality": "the corners failed a quality check (see quality): no heights, no grade",
    "no_mm_scale": "pixels without a pixel spacing: heights not in mm; the losses are ratios "
    "and valid if the pixels are square",
    "magnification_unknown": "heights in mm are not corrected for radiographic "
    "magnification; the losses are ratios and are not affected",
    "outside_genant_levels": "Genant grades were described on T4-L4; this level is graded "
    "with the same bands",
    "mid_point_off_endplate": "an endplate mid-point does not lie between its endplate's "
    "corners: check the point",
    "near_grade_limit": "the heights come from an image grid (a vertebra mask) and the height "
    "loss lies within one voxel's share of the posterior height of a Genant limit: the grade "
    "may differ by one",
}


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits) + 0.0


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def body_heights(corners: np.ndarray, mids: np.ndarray) -> np.ndarray:
    """Anterior, middle and posterior heights of vertebral bodies.

    Parameters
    ----------
    corners : (..., 4, 2) ndarray
        AS, PS, PI, AI in one frame with equal units on both axes.
    mids : (..., 2, 2) ndarray
        mid_superior, mid_inferior (NaN where not given).

    Returns
    -------
    (..., 3) ndarray
        ``Ha, Hm, Hp`` in the input units; NaN where a point is missing.

    Examples
    --------
    >>> corners = np.array([[40.0, 25.0], [0.0, 25.0], [0.0, 0.0], [40.0, 0.0]])
    >>> mids = np.array([[20.0, 22.0], [20.0, 1.0]])
    >>> body_heights(corners, mids).tolist()
    [25.0, 21.0, 25.0]

    """
    corners = np.asarray(corners, float)
    mids = np.asarray(mids, float)
    pairs = (
        corners[..., AS, :] - corners[..., AI, :],
        mids[..., 0, :] - mids[..., 1, :],
        corners[..., PS, :] - corners[..., PI, :],
    )
    return np.stack([np.hypot(v[..., 0], v[..., 1]) for v in pairs], axis=-1)


def height_losses(heights: np.ndarray, hp_ref: np.ndarray | float) -> np.ndarray:
    """Wedge, biconcave and crush losses in % (``CLINICAL_LOGIC.md`` §4.6 [D]).

    Parameters
    ----------
    heights : (..., 3) ndarray
        ``Ha, Hm, Hp`` of each body.
    hp_ref : (...) ndarray or float
        Mean posterior height of the adjacent bodies (NaN when none).

    Returns
    -------
    (..., 3) ndarray
        ``100 (1 - Ha/Hp)``, ``100 (1 - Hm/Hp)``, ``100 (1 - Hp/Hp_ref)``; NaN where unknown.

    Examples
    --------
    >>> height_losses(np.array([18.0, 24.0, 24.0]), 25.0).round(6).tolist()
    [25.0, 0.0, 4.0]

    """
    heights = np.asarray(heights, float)
    ha, hm, hp = heights[..., 0], heights[..., 1], heights[..., 2]
    ref = np.asarray(hp_ref, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        hp_safe = np.where(hp > 0, hp, np.nan)
        ref_safe = np.where(ref > 0, ref, np.nan)
        return np.stack(
            [100.0 * (1 - ha / hp_safe), 100.0 * (1 - hm / hp_safe), 100.0 * (1 - hp / ref_safe)],
            axis=-1,
        )


@dataclass(frozen=True)
class VertebraMorphometry:
    """Morphometry of one vertebral body (the record of ``morphometry.json``).

    Heights are in mm (None without a mm scale); losses in %, None when not measurable.
    ``points`` holds AS, PS, PI, AI, mid_superior, mid_inferior in ``unit`` (for the
    picture), ``heights`` the heights in ``unit``.
    """

    level: str
    anterior_height_mm: float | None
    middle_height_mm: float | None
    posterior_height_mm: float | None
    wedge_loss_pct: float | None
    biconcave_loss_pct: float | None
    crush_loss_pct: float | None
    height_loss_pct: float | None
    deformity: str | None
    genant_grade: int | None
    flags: tuple[str, ...] = ()
    unit: str = "mm"
    points: np.ndarray = field(default_factory=lambda: np.full((6, 2), np.nan), repr=False)
    heights: tuple[float | None, float | None, float | None] = (None, None, None)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON record (the keys of issue 17)."""
        return {
            "level": self.level,
            "anterior_height_mm": _r(self.anterior_height_mm),
            "middle_height_mm": _r(self.middle_height_mm),
            "posterior_height_mm": _r(self.posterior_height_mm),
            "wedge_loss_pct": _r(self.wedge_loss_pct),
            "biconcave_loss_pct": _r(self.biconcave_loss_pct),
            "crush_loss_pct": _r(self.crush_loss_pct),
            "height_loss_pct": _r(self.height_loss_pct),
            "deformity": self.deformity,
            "genant_grade": self.genant_grade,
            "flags": list(self.flags),
        }


@dataclass
class MorphometryReport:
    """Morphometry of every body of one film or mask, with the rules and quality findings."""

    vertebrae: list[VertebraMorphometry]
    rules: MorphometryRules
    source: str
    view: str
    unit: str
    magnification_known: bool
    quality: list[QualityIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outlines: dict[str, np.ndarray] = field(default_factory=dict)
    resolution_mm: float | None = None

    def record(self, level: str) -> VertebraMorphometry:
        """Return the record of one level."""
        for rec in self.vertebrae:
            if rec.level == level:
                return rec
        raise KeyError(level)

    @property
    def graded(self) -> list[VertebraMorphometry]:
        """Vertebrae that received a Genant grade."""
        return [v for v in self.vertebrae if v.genant_grade is not None]

    def to_dict(self) -> dict[str, Any]:
        """Return the ``morphometry.json`` content."""
        from spinestab import __version__

        used = sorted({f for v in self.vertebrae for f in v.flags})
        return {
            "schema": SCHEMA,
            "spinestab_version": __version__,
            "disclaimer": DISCLAIMER,
            "source": self.source,
            "view": self.view,
            "unit": self.unit,
            "magnification_known": self.magnification_known,
            "resolution_mm": self.resolution_mm,
            "rules": self.rules.to_dict(),
            "flag_meanings": {f: FLAG_MEANINGS[f] for f in used},
            "notes": list(self.notes),
            "quality": [q.to_dict() for q in self.quality],
            "vertebrae": [v.to_dict() for v in self.vertebrae],
        }


def _working_mids(landmarks: LandmarkSet, level: str, unit: str) -> np.ndarray:
    """Mid-points of one vertebra in the working unit (px scaled like its corners)."""
    mids = landmarks.midpoints_of(level).astype(float)
    spacing = landmarks.pixel_spacing_mm
    if unit == "mm" and landmarks.units_of(level) == "px" and spacing is not None:
        mids = mids * np.array([spacing[1], spacing[0]])
    return mids


def _off_endplate(corners: np.ndarray, mids: np.ndarray) -> bool:
    """Whether a mid-point projects outside the span of its endplate's corners."""
    for mid, (post, ant) in ((mids[0], (PS, AS)), (mids[1], (PI, AI))):
        if np.isnan(mid).any() or np.isnan(corners[[post, ant]]).any():
            continue
        axis = corners[ant] - corners[post]
        t = float(np.dot(mid - corners[post], axis) / max(float(np.dot(axis, axis)), 1e-12))
        if not 0.0 <= t <= 1.0:
            return True
    return False


def _reference_hp(level: str, heights: dict[str, np.ndarray], present: set[str]) -> list[str]:
    """Adjacent levels (same film) whose posterior height is measured."""
    return [
        other
        for other in heights
        if other != level
        and np.isfinite(heights[other][2])
        and (adjacent(other, level, present) or adjacent(level, other, present))
    ]


def _shape_grade(heights: np.ndarray, rules: MorphometryRules) -> int | None:
    """Grade of a body's own shape (wedge and biconcave losses, no neighbour needed)."""
    shape = height_losses(heights, np.nan)[:2]
    known = shape[np.isfinite(shape)]
    return rules.grade(float(known.max())) if known.size else None


def _grade_one(
    losses: np.ndarray, rules: MorphometryRules
) -> tuple[float | None, str | None, int | None]:
    """Height loss, deformity type and grade from the three losses (NaN = unknown)."""
    known = [(LOSS_TYPES[i], float(v)) for i, v in enumerate(losses) if np.isfinite(v)]
    if not known:
        return None, None, None
    # the first of equal losses wins (equal at 1e-6, so rounding noise cannot pick the type)
    kind, loss = max(known, key=lambda kv: round(kv[1], 6))
    grade = rules.grade(loss)
    return loss, (kind if grade else "none"), grade


def _flags_for(
    *,
    level: str,
    losses: np.ndarray,
    refs: list[str],
    own_grades: dict[str, int | None],
    unit: str,
    magnification_known: bool,
    rules: MorphometryRules,
) -> list[str]:
    flags = []
    if not np.isfinite(losses[1]):
        flags.append("biconcave_unknown")
    if not np.isfinite(losses[2]):
        flags.append("crush_unknown")
    if np.isfinite(losses).any() and not np.isfinite(losses).all():
        flags.append("grade_lower_bound")
    if any((own_grades.get(r) or 0) >= 1 for r in refs):
        flags.append("crush_reference_deformed")
    if unit != "mm":
        flags.append("no_mm_scale")
    elif not magnification_known:
        flags.append("magnification_unknown")
    if not rules.in_genant_levels(level):
        flags.append("outside_genant_levels")
    return flags


def near_grade_limit(
    loss_pct: float | None, posterior_height: float, resolution: float, rules: MorphometryRules
) -> bool:
    """Whether a height loss lies within one grid step of a Genant limit.

    One voxel of ``resolution`` (same unit as ``posterior_height``) on a height changes the
    loss by about ``100 * resolution / posterior_height`` %; within that of a band limit the
    grade is not settled by the grid [D].

    Examples
    --------
    >>> rules = load_morphometry_rules()
    >>> near_grade_limit(23.1, 31.0, 3.0, rules), near_grade_limit(10.1, 26.4, 1.5, rules)
    (True, False)

    """
    if loss_pct is None or posterior_height <= 0:
        return False
    step = 100.0 * resolution / posterior_height
    return any(abs(loss_pct - band.value) <= step for band in rules.bands)


def _unmeasured(level: str, flag: str, unit: str) -> VertebraMorphometry:
    return VertebraMorphometry(
        level, None, None, None, None, None, None, None, None, None, (flag,), unit=unit
    )


def measure_morphometry(
    landmarks: LandmarkSet, *, rules: MorphometryRules | None = None
) -> MorphometryReport:
    """Measure every vertebral body of one film (or mask-derived landmark set).

    Parameters
    ----------
    landmarks : LandmarkSet
        Corners and (optionally) endplate mid-points, in px (with or without a spacing)
        or mm; any view.
    rules : MorphometryRules, optional
        Genant bands and sources; default the bundled ``morphometry.yaml``.

    Returns
    -------
    MorphometryReport
        One record per vertebra, cranial to caudal.

    """
    rules = rules or load_morphometry_rules()
    coords, unit, issues = working_coordinates(landmarks)
    issues += check_vertebrae(coords, unit=unit, view=landmarks.view)
    bad = {q.level for q in issues if q.severity == "error"}
    bad = set(coords) if "all" in bad else bad
    heights: dict[str, np.ndarray] = {}
    points: dict[str, np.ndarray] = {}
    for level, arr in coords.items():
        mids = _working_mids(landmarks, level, unit)
        points[level] = np.vstack([arr, mids])
        if level not in bad and not np.isnan(arr).any():
            heights[level] = body_heights(arr, mids)
    present = set(landmarks.vertebrae)
    refs = {lv: _reference_hp(lv, heights, present) for lv in heights}
    own = {lv: _shape_grade(h, rules) for lv, h in heights.items()}
    records = []
    for level in landmarks.vertebrae:
        if level not in coords or level in bad:
            records.append(_unmeasured(level, "withheld_quality", unit))
            continue
        if level not in heights:
            records.append(_unmeasured(level, "endplate_missing", unit))
            continue
        h = heights[level]
        ref = np.mean([heights[r][2] for r in refs[level]]) if refs[level] else np.nan
        losses = height_losses(h, ref)
        loss, kind, grade = _grade_one(losses, rules)
        flags = _flags_for(
            level=level,
            losses=losses,
            refs=refs[level],
            own_grades=own,
            unit=unit,
            magnification_known=landmarks.magnification_known,
            rules=rules,
        )
        if _off_endplate(coords[level], points[level][4:]):
            flags.append("mid_point_off_endplate")
        if landmarks.resolution_mm is not None and near_grade_limit(
            loss, float(h[2]), landmarks.resolution_mm, rules
        ):
            flags.append("near_grade_limit")
        ha, hm, hp = (_finite(v) for v in h)
        wedge, biconcave, crush = (_finite(v) for v in losses)
        in_mm = unit == "mm"
        records.append(
            VertebraMorphometry(
                level,
                ha if in_mm else None,
                hm if in_mm else None,
                hp if in_mm else None,
                wedge,
                biconcave,
                crush,
                loss,
                kind,
                grade,
                tuple(flags),
                unit=unit,
                points=points[level],
                heights=(ha, hm, hp),
            )
        )
    notes = []
    if unit == "px":
        notes.append(
            "No pixel spacing: heights are not given in mm; the losses are ratios of lengths "
            "on the same film and assume square pixels."
        )
    return MorphometryReport(
        vertebrae=records,
        rules=rules,
        source=landmarks.source,
        view=landmarks.view,
        unit=unit,
        magnification_known=landmarks.magnification_known,
        quality=issues,
        notes=notes,
        outlines=dict(landmarks.outlines),
        resolution_mm=landmarks.resolution_mm,
    )
