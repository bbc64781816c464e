"""Per-level instability findings from neutral and/or flexion-extension views.

:func:`assess` combines the views measured by :func:`~spinestab.instability.measures.measure_view`,
computes the dynamic measures (translation, angulation) per motion segment, grades the slip
(Meyerding) and applies a cited threshold set. The result is JSON-ready through
:meth:`InstabilityReport.to_dict` (schema documented in the README, section
"Structural instability").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from spinestab.core.levels import level_index
from spinestab.errors import InputError
from spinestab.instability.geometry import meyerding_grade
from spinestab.instability.landmarks import LandmarkSet
from spinestab.instability.measures import SegmentGeometry, ViewResult, measure_view
from spinestab.instability.quality import QualityIssue
from spinestab.instability.thresholds import (
    Rule,
    ThresholdSet,
    load_threshold_set,
    segment_region,
)

__all__ = ["SCHEMA", "InstabilityReport", "assess"]

log = logging.getLogger(__name__)

SCHEMA = "spinestab.instability/1"
_RANK = {"stable": 0, "not_assessable": 1, "borderline": 2, "unstable": 3}
DISCLAIMER = (
    "Supports clinical decisions; does not diagnose. No lumbar instability test is validated "
    "[V: Hipp JA et al. 2023, doi 10.21203/rs.3.rs-3659900/v1]; thresholds are study or trial "
    "definitions. Manual landmarking varies by about 1-3 mm and 2-5 deg between observers "
    "[R: CLINICAL_LOGIC.md §4.3]."
)
#: Descriptions of the translation (slip) methods, by id (``CLINICAL_LOGIC.md`` §4.3).
TRANSLATION_METHODS = {
    "corner": (
        "corner: posterior-inferior corner of the upper body projected on the superior "
        "endplate of the lower body, from its posterior-superior corner (CLINICAL_LOGIC.md "
        "§4.3 [D]); + = anterior"
    ),
    "posterior-wall": (
        "posterior-wall: perpendicular distance between the posterior-wall lines of the upper "
        "and lower bodies at the level of the lower superior endplate (Morgan-King / "
        "Boden-Wiesel style, CLINICAL_LOGIC.md §4.3 [R]); for S1 (no inferior corners) the "
        "lower wall is taken perpendicular to its superior endplate; + = anterior"
    ),
}
TRANSLATION_METHOD = TRANSLATION_METHODS["corner"]


_LABELS = {
    "translation_mm": "translation",
    "translation_pct": "translation",
    "angulation_deg": "sagittal rotation (ROM)",
    "slip_mm": "resting slip",
    "slip_pct": "resting slip",
    "relative_angulation_deg": "relative angulation",
    "relative_rom_deg": "sagittal ROM in excess of the adjacent segments",
}


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits) + 0.0


@dataclass
class InstabilityReport:
    """Findings of one study: per-level records, per-vertebra geometry, quality, settings."""

    thresholds: ThresholdSet
    views: dict[str, ViewResult]
    levels: list[dict[str, Any]]
    vertebrae: list[dict[str, Any]]
    lordosis: dict[str, Any]
    quality: list[QualityIssue]
    notes: list[str] = field(default_factory=list)
    translation_method: str = "corner"
    cervical_thresholds: ThresholdSet | None = None

    @property
    def magnification_known(self) -> bool:
        """True when every view's lengths are true sizes (CT/MRI or calibrated films)."""
        return all(v.magnification_known for v in self.views.values())

    def record(self, level: str) -> dict[str, Any]:
        """Return the per-level record of a motion segment, e.g. ``"L4-L5"``."""
        for rec in self.levels:
            if rec["level"] == level:
                return rec
        raise KeyError(level)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``instability.json`` content."""
        from spinestab import __version__

        return {
            "schema": SCHEMA,
            "spinestab_version": __version__,
            "disclaimer": DISCLAIMER,
            "thresholds": self.thresholds.to_dict(),
            **(
                {"cervical_thresholds": self.cervical_thresholds.to_dict()}
                if self.cervical_thresholds is not None
                else {}
            ),
            "inputs": {
                name: {
                    "source": v.source,
                    "unit": v.unit,
                    "magnification_known": v.magnification_known,
                    "levels": list(v.coords),
                }
                for name, v in self.views.items()
            },
            "magnification_known": self.magnification_known,
            "preferred_measures": "mm" if self.magnification_known else "pct",
            "translation_method": TRANSLATION_METHODS[self.translation_method],
            "translation_method_id": self.translation_method,
            "notes": self.notes,
            "levels": self.levels,
            "vertebrae": self.vertebrae,
            "lordosis": self.lordosis,
            "quality": [q.to_dict() for q in self.quality],
        }


def _unit(measure: str) -> str:
    return measure.rsplit("_", 1)[1]


def _evaluate(
    rules: list[Rule],
    values: dict[str, float | None],
    *,
    segment: str,
    tset: ThresholdSet,
    magnification_known: bool,
    depth_mm: float | None = None,
) -> tuple[str | None, list[str], list[dict[str, Any]]]:
    """Apply rules of one kind (dynamic or static) to a segment's values.

    Each rule gives an ``outcome``: its verdict when met, ``borderline`` when the value
    lies within the measurement margin of an ``unstable`` limit (``CLINICAL_LOGIC.md``
    §4.3 [D]; see :class:`~spinestab.instability.thresholds.Margin`), else none. The
    segment's verdict is the worst outcome; its reasons are those of that outcome.
    ``depth_mm`` (the lower endplate depth in mm) converts the mm margin to % rules.
    """
    met_reasons: list[tuple[str, str]] = []
    criteria: list[dict[str, Any]] = []
    verdict_rank = -1
    judged = 0
    margin = tset.margin
    for rule in rules:
        value = values.get(rule.measure)
        entry: dict[str, Any] = {
            "id": rule.id,
            "measure": rule.measure,
            "value": _r(value),
            "limit": rule.describe(segment),
            "verdict_if_met": rule.verdict,
            "source": rule.source,
            "evidence": rule.evidence,
        }
        if rule.limit(segment) is None:
            entry["met"] = None
            entry["skipped"] = f"the rule sets no limit for {segment}"
            criteria.append(entry)
            continue
        if rule.measure.endswith("_mm") and not magnification_known and tset.has_pct_twin(rule):
            entry["met"] = None
            entry["skipped"] = "magnification unknown: the % criterion is used instead"
            criteria.append(entry)
            continue
        if value is None:
            entry["met"] = None
            entry["skipped"] = "measure not available"
            criteria.append(entry)
            continue
        judged += 1
        met = bool(rule.met(value, segment))
        entry["met"] = met
        unit = _unit(rule.measure)
        unit_text = {"mm": "mm", "pct": "%", "deg": "deg"}[unit]
        caveat = (
            " (mm not corrected for radiographic magnification)"
            if unit == "mm" and not magnification_known
            else ""
        )
        outcome = rule.verdict if met else None
        if margin is not None and rule.verdict == "unstable":
            width, why = margin.for_unit(unit, depth_mm=depth_mm)
            limit = float(rule.limit(segment) or 0.0)
            entry["margin"] = _r(width)
            if why:
                entry["margin_note"] = why
            # compared at 1e-6 precision, like the rules themselves
            gap = round(abs(value), 6) - limit
            near = width is not None and abs(gap) <= round(width, 6)
            if near and (margin.sides == "both" or not met):
                outcome = "borderline"
                side = "above" if met else "below"
                met_reasons.append(
                    (
                        "borderline",
                        f"borderline: {_LABELS[rule.measure]} {abs(value):.1f} {unit_text}"
                        f"{caveat} is {abs(gap):.1f} {unit_text} {side} the unstable limit "
                        f"{rule.describe(segment)}, within the measurement margin "
                        f"{width:.1f} {unit_text} [{margin.evidence}] (CLINICAL_LOGIC.md §4.3 "
                        "measurement error; thresholds.measurement_margin) "
                        f"({rule.id} [{rule.evidence}]: {rule.source})",
                    )
                )
        entry["outcome"] = outcome
        criteria.append(entry)
        if outcome is not None and outcome == rule.verdict:
            met_reasons.append(
                (
                    rule.verdict,
                    f"{rule.verdict}: {_LABELS[rule.measure]} {abs(value):.1f} {unit_text} "
                    f"{rule.describe(segment)}{caveat} [{rule.evidence}] ({rule.source})",
                )
            )
        if outcome is not None:
            verdict_rank = max(verdict_rank, _RANK[outcome])
    if judged == 0:
        return "not_assessable", [], criteria
    if verdict_rank < 0:
        return "stable", [], criteria
    verdict = next(k for k, v in _RANK.items() if v == verdict_rank)
    return verdict, [text for v, text in met_reasons if v == verdict], criteria


def _slip_summary(seg: SegmentGeometry, view: ViewResult, tset: ThresholdSet) -> dict[str, Any]:
    slip_mm = view.mm(seg.slip)
    pct = seg.slip_pct
    if pct is None:
        return {"slip_mm": None, "slip_pct": None, "listhesis": None, "meyerding_grade": None}
    use_mm = slip_mm is not None and view.magnification_known
    # compared at 1e-6 precision, like the threshold rules
    present = (
        round(abs(slip_mm), 6) >= tset.listhesis_min_mm
        if use_mm
        else round(abs(pct), 6) >= tset.listhesis_min_pct
    )
    if not present:
        listhesis, grade = "none", 0
    else:
        listhesis = "anterolisthesis" if pct > 0 else "retrolisthesis"
        grade = meyerding_grade(pct)
    return {
        "slip_mm": _r(slip_mm),
        "slip_pct": _r(pct),
        "listhesis": listhesis,
        "meyerding_grade": grade,
    }


def _view_values(seg: SegmentGeometry, view: ViewResult) -> dict[str, Any]:
    def pct(length: float | None) -> float | None:
        if length is None or not seg.endplate_depth:
            return None
        return 100.0 * length / seg.endplate_depth

    return {
        "slip_mm": _r(view.mm(seg.slip)),
        "slip_pct": _r(seg.slip_pct),
        "segmental_angle_deg": _r(seg.angle_deg),
        "disc_height_anterior_mm": _r(view.mm(seg.disc_anterior)),
        "disc_height_posterior_mm": _r(view.mm(seg.disc_posterior)),
        "disc_height_anterior_pct": _r(pct(seg.disc_anterior)),
        "disc_height_posterior_pct": _r(pct(seg.disc_posterior)),
        "endplate_depth_mm": _r(view.mm(seg.endplate_depth)),
        "withheld": list(seg.withheld),
    }


def _relative_angulation(view: ViewResult, name: str) -> float | None:
    seg = view.segments.get(name)
    if seg is None or seg.angle_deg is None:
        return None
    diffs = [
        abs(seg.angle_deg - other.angle_deg)
        for other in view.segments.values()
        if other.name != name
        and other.angle_deg is not None
        and (other.upper == seg.lower or other.lower == seg.upper)
    ]
    return max(diffs) if diffs else None


_STATIC_KEYS = (
    "disc_height_anterior_mm",
    "disc_height_posterior_mm",
    "disc_height_anterior_pct",
    "disc_height_posterior_pct",
    "endplate_depth_mm",
)


def _choose_slip_view(
    per_view: dict[str, SegmentGeometry], views: dict[str, ViewResult]
) -> str | None:
    """Pick the view of the static slip: neutral, else flexion/extension with the larger slip."""
    if "neutral" in views:
        seg = per_view.get("neutral")
        return "neutral" if seg is not None and seg.slip_pct is not None else None
    cands = [
        vn
        for vn in ("flexion", "extension")
        if vn in per_view and per_view[vn].slip_pct is not None
    ]
    if not cands:
        return None
    # near-ties (0.05 %) go to flexion, so that rounding noise cannot switch the view
    if (
        len(cands) == 2
        and abs(per_view[cands[1]].slip_pct or 0.0) > abs(per_view[cands[0]].slip_pct or 0.0) + 0.05
    ):
        return cands[1]
    return cands[0]


def _dynamic_values(
    per_view: dict[str, SegmentGeometry], views: dict[str, ViewResult]
) -> tuple[float | None, float | None, float | None]:
    """Compute translation (flexion - extension slip, mm and %) and angulation (ext - flex)."""
    flex, ext = per_view.get("flexion"), per_view.get("extension")
    t_mm = t_pct = ang = None
    if flex is None or ext is None:
        return t_mm, t_pct, ang
    if flex.slip is not None and ext.slip is not None:
        if views["flexion"].unit == "mm" and views["extension"].unit == "mm":
            t_mm = flex.slip - ext.slip
        if flex.slip_pct is not None and ext.slip_pct is not None:
            t_pct = flex.slip_pct - ext.slip_pct
    if flex.angle_deg is not None and ext.angle_deg is not None:
        ang = ext.angle_deg - flex.angle_deg
    return t_mm, t_pct, ang


def _judge_dynamic(
    name: str,
    per_view: dict[str, SegmentGeometry],
    values: dict[str, float | None],
    tset: ThresholdSet,
    *,
    magnification_known: bool,
    depth_mm: float | None = None,
) -> tuple[str, list[str], list[dict[str, Any]], list[QualityIssue]]:
    """Judge one segment on flexion-extension, with the low-motion check [R: Hipp]."""
    flex, ext = per_view.get("flexion"), per_view.get("extension")
    if flex is None or ext is None:
        return (
            "not_assessable",
            [f"{name} is not on both the flexion and the extension view"],
            [],
            [],
        )
    if flex.withheld or ext.withheld:
        return "not_assessable", [], [], []
    rules = [r for r in tset.rules if r.dynamic]
    verdict, reasons, criteria = _evaluate(
        rules,
        values,
        segment=name,
        tset=tset,
        magnification_known=magnification_known,
        depth_mm=depth_mm,
    )
    issues = []
    ang = values["angulation_deg"]
    if ang is not None and abs(ang) < tset.min_rom_deg:
        issues.append(
            QualityIssue(
                "flexion/extension",
                name,
                "low_motion",
                "warning",
                f"{name}: sagittal ROM {abs(ang):.1f} deg < {tset.min_rom_deg:g} deg: too "
                f"little motion to judge stability ({tset.min_rom_source}).",
            )
        )
        if verdict == "stable":
            verdict = "not_assessable"
            reasons.append(
                f"not assessable: sagittal ROM {abs(ang):.1f} deg < {tset.min_rom_deg:g} deg, "
                f"too little effort to call the segment stable [R] ({tset.min_rom_source})"
            )
    return verdict, reasons, criteria, issues


_LUMBAR = ("L1", "L2", "L3", "L4", "L5", "L6", "S1")


def _all_kyphotic_check(levels: list[dict[str, Any]]) -> list[QualityIssue]:
    """Warn when every lumbar segment of a neutral or extension view is kyphotic.

    Anterior and posterior corners swapped consistently on every body pass the per-body
    order checks (there is no body to compare with) but flip the sign of every slip and
    angle. Lumbar segments are normally lordotic on neutral and extension films, so a view
    in which all of at least two lumbar segments are kyphotic is reported (a warning: flat
    or kyphotic lumbar spines exist). Only the sign is used, no angle threshold [D].
    """
    found = []
    for view in ("neutral", "extension"):
        angles = [
            rec["views"][view]["segmental_angle_deg"]
            for rec in levels
            if rec["upper"] in _LUMBAR
            and rec["lower"] in _LUMBAR
            and view in rec.get("views", {})
            and rec["views"][view].get("segmental_angle_deg") is not None
        ]
        if len(angles) >= 2 and all(a < 0 for a in angles):
            found.append(
                QualityIssue(
                    view,
                    "all",
                    "corner_order",
                    "warning",
                    f"every lumbar segment is kyphotic on the {view} view "
                    f"({', '.join(f'{a:.1f}' for a in angles)} deg): lumbar segments are "
                    "normally lordotic, so the anterior and posterior corners may be swapped "
                    "on every body (which also flips the sign of every slip). Check the "
                    "corner names.",
                )
            )
    return found


def _relative_rom(name: str, roms: dict[str, float | None]) -> float | None:
    """ROM of a segment in excess of the larger ROM of its adjacent segments, >= 0 [D].

    White et al. define the relative angulation of a cervical segment against the adjacent
    segments (``CLINICAL_LOGIC.md`` §4.7); a segment that moves less than its neighbours
    has 0. None without the segment's ROM or an adjacent segment's.
    """
    own = roms.get(name)
    upper, lower = name.split("-")
    others = [
        abs(rom)
        for other, rom in roms.items()
        if rom is not None and (other.endswith(f"-{upper}") or other.startswith(f"{lower}-"))
    ]
    if own is None or not others:
        return None
    return max(0.0, abs(own) - max(others))


@dataclass(frozen=True)
class _Measured:
    """One segment's record of measures (no verdict yet), geometry per view, raw values."""

    rec: dict[str, Any]
    per_view: dict[str, SegmentGeometry]
    translation_mm: float | None
    translation_pct: float | None
    angulation_deg: float | None
    relative_angulation_deg: float | None


def _per_view(name: str, views: dict[str, ViewResult]) -> dict[str, SegmentGeometry]:
    return {vn: v.segments[name] for vn, v in views.items() if name in v.segments}


def _measure_segment(name: str, views: dict[str, ViewResult], tset: ThresholdSet) -> _Measured:
    """Measure one segment on every view (``tset`` gives the listhesis floor)."""
    upper, lower = name.split("-")
    per_view = _per_view(name, views)
    rec: dict[str, Any] = {"level": name, "upper": upper, "lower": lower}
    slip_view = _choose_slip_view(per_view, views)
    base = per_view[slip_view] if slip_view else None
    if base is not None and slip_view is not None:
        rec.update(_slip_summary(base, views[slip_view], tset))
    else:
        rec.update({"slip_mm": None, "slip_pct": None, "listhesis": None, "meyerding_grade": None})
    rec["slip_view"] = slip_view
    t_mm, t_pct, ang = _dynamic_values(per_view, views)
    rec["translation_mm"] = _r(t_mm)
    rec["translation_pct"] = _r(t_pct)
    rec["angulation_deg"] = _r(ang)
    rec["segmental_angle_deg"] = _r(base.angle_deg) if base else None
    rel = _relative_angulation(views["neutral"], name) if "neutral" in views else None
    rec["relative_angulation_deg"] = _r(rel)
    vals = _view_values(base, views[slip_view]) if base and slip_view else {}
    rec.update({key: vals.get(key) for key in _STATIC_KEYS})
    return _Measured(rec, per_view, t_mm, t_pct, ang, rel)


def _judge_static(
    name: str,
    m: _Measured,
    views: dict[str, ViewResult],
    tset: ThresholdSet,
    *,
    magnification_known: bool,
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """Judge one segment on the neutral (resting) view."""
    seg = m.per_view.get("neutral")
    if seg is None:
        return "not_assessable", [f"{name} is not on the neutral view"], []
    if seg.withheld:
        return "not_assessable", [], []
    return _evaluate(
        [r for r in tset.rules if not r.dynamic],
        {
            "slip_mm": views["neutral"].mm(seg.slip),
            "slip_pct": seg.slip_pct,
            "relative_angulation_deg": m.relative_angulation_deg,
        },
        segment=name,
        tset=tset,
        magnification_known=magnification_known,
        depth_mm=views["neutral"].mm(seg.endplate_depth),
    )


def _dynamic_depth_mm(m: _Measured, views: dict[str, ViewResult]) -> float | None:
    """Mean lower endplate depth (mm) of the flexion and extension views, if both known."""
    depths = [
        views[vn].mm(m.per_view[vn].endplate_depth)
        for vn in ("flexion", "extension")
        if vn in m.per_view
    ]
    known = [d for d in depths if d is not None]
    return sum(known) / len(known) if len(known) == 2 else None


def _no_criteria_reason(name: str) -> str:
    where = "CLINICAL_LOGIC.md §4.7 covers C2-C7; " if name[:3] in ("C1-", "C7-") else ""
    return (
        f"not assessable: no criteria for {name} ({where}lumbar thresholds are never applied "
        "to a segment with a cervical vertebra)"
    )


def _verdicts(
    name: str,
    m: _Measured,
    views: dict[str, ViewResult],
    tset: ThresholdSet,
    *,
    dynamic: bool,
    magnification_known: bool,
    relative_rom: float | None,
) -> tuple[str | None, str | None, list[str], list[dict[str, Any]], list[QualityIssue]]:
    """Dynamic and resting-film verdicts of one segment, with reasons, criteria, issues."""
    reasons: list[str] = []
    criteria: list[dict[str, Any]] = []
    issues: list[QualityIssue] = []
    dyn_verdict = static_verdict = None
    if dynamic and any(r.dynamic for r in tset.rules):
        values = {
            "translation_mm": m.translation_mm,
            "translation_pct": m.translation_pct,
            "angulation_deg": m.angulation_deg,
            "relative_rom_deg": relative_rom,
        }
        dyn_verdict, r, c, issues = _judge_dynamic(
            name,
            m.per_view,
            values,
            tset,
            magnification_known=magnification_known,
            depth_mm=_dynamic_depth_mm(m, views),
        )
        reasons += r
        criteria += c
    if "neutral" in views and any(not r.dynamic for r in tset.rules):
        static_verdict, r, c = _judge_static(
            name, m, views, tset, magnification_known=magnification_known
        )
        reasons += r
        criteria += c
    return dyn_verdict, static_verdict, reasons, criteria, issues


def _segment_record(
    name: str,
    views: dict[str, ViewResult],
    tset: ThresholdSet | None,
    *,
    dynamic: bool,
    magnification_known: bool,
    roms: dict[str, float | None],
    listhesis: ThresholdSet,
) -> tuple[dict[str, Any], list[QualityIssue]]:
    """Build the per-level record of one motion segment (without its ``quality`` list).

    ``tset`` is the set that judges the segment's region (None: no criteria apply);
    ``listhesis`` gives the listhesis floor. Segments outside the lumbar region also name
    their ``region`` and ``threshold_set``.
    """
    m = _measure_segment(name, views, listhesis)
    rec = m.rec
    relative_rom = _relative_rom(name, roms) if dynamic else None
    if tset is not None and any(r.measure == "relative_rom_deg" for r in tset.rules):
        rec["relative_rom_deg"] = _r(relative_rom)
    # measures withheld by quality checks are named first, whatever the rules
    reasons = [f"{vn} measures withheld: {w}" for vn, s in m.per_view.items() for w in s.withheld]
    dyn_verdict = static_verdict = None
    criteria: list[dict[str, Any]] = []
    issues: list[QualityIssue] = []
    if tset is None:
        reasons.append(_no_criteria_reason(name))
    else:
        dyn_verdict, static_verdict, r, criteria, issues = _verdicts(
            name,
            m,
            views,
            tset,
            dynamic=dynamic,
            magnification_known=magnification_known,
            relative_rom=relative_rom,
        )
        reasons += r
    present = [v for v in (dyn_verdict, static_verdict) if v is not None]
    verdict = max(present, key=lambda v: _RANK[v]) if present else "not_assessable"
    if tset is not None and not present:
        reasons.append(
            f"threshold set {tset.name} has no criterion for the views given "
            f"({', '.join(views)}); see the measures and the Meyerding grade"
        )
    if tset is not None and verdict == "stable":
        reasons.append(f"stable: no criterion of threshold set {tset.name} is met")
    rec["verdict"] = verdict
    rec["dynamic_verdict"] = dyn_verdict
    rec["static_verdict"] = static_verdict
    region = segment_region(name)
    if region != "lumbar":
        rec["region"] = region or "none"
        rec["threshold_set"] = tset.name if tset is not None else None
    rec["reasons"] = reasons
    rec["criteria"] = criteria
    rec["views"] = {vn: _view_values(sg, views[vn]) for vn, sg in m.per_view.items()}
    return rec, issues


def _check_inputs(
    views: dict[str, LandmarkSet | None], *, translation_method: str
) -> dict[str, LandmarkSet]:
    """Return the views given under their names; a dynamic study needs both films."""
    flexion, extension = views["flexion"], views["extension"]
    if (flexion is None) != (extension is None):
        given = "flexion" if flexion is not None else "extension"
        raise InputError(
            "a dynamic study needs both flexion and extension views",
            item=given,
            expected="both --flexion and --extension",
        )
    if views["neutral"] is None and flexion is None:
        raise InputError(
            "no landmarks given",
            item="views",
            expected="a neutral view, a flexion + extension pair, or both",
        )
    for name, ls in views.items():
        if ls is not None and ls.view != name:
            raise InputError(
                f"the {ls.view} view was given as {name}",
                source=ls.source,
                item="view",
                value=ls.view,
                expected=name,
            )
    if translation_method not in TRANSLATION_METHODS:
        raise InputError(
            "unknown translation method",
            item="--translation-method",
            value=translation_method,
            expected=" or ".join(TRANSLATION_METHODS),
        )
    return {name: ls for name, ls in views.items() if ls is not None}


def _study_notes(
    views: dict[str, ViewResult], tsets: list[ThresholdSet], *, dynamic: bool
) -> list[str]:
    """Return notes on magnification, pixels and the criteria the threshold sets hold."""
    notes: list[str] = []
    if not all(v.magnification_known for v in views.values()):
        notes.append(
            "Radiographic magnification is unknown: % measures (slip %, translation %) are "
            "preferred because they are ratios of two lengths on the same film; mm values are "
            "not corrected for magnification, and mm criteria that have a % twin are not applied."
        )
    if any(v.unit == "px" for v in views.values()):
        notes.append(
            "At least one view is in pixels without a pixel spacing: mm measures are not "
            "available there; % measures and angles assume square pixels."
        )
    for tset in tsets:
        if dynamic and not any(r.dynamic for r in tset.rules):
            notes.append(f"Threshold set {tset.name} has no flexion-extension criteria.")
        if "neutral" in views and all(r.dynamic for r in tset.rules):
            notes.append(
                f"Threshold set {tset.name} has no resting-film criteria: the neutral view gives "
                "measures and the Meyerding grade, not a verdict."
            )
    if not dynamic:
        notes.append("No flexion-extension pair: dynamic measures and verdicts not available.")
    return notes


def _segment_names(views: dict[str, ViewResult], given: dict[str, LandmarkSet]) -> list[str]:
    names = sorted(
        {n for v in views.values() for n in v.segments},
        key=lambda n: level_index(n.split("-")[0]),
    )
    if not names:
        raise InputError(
            "no motion segment to measure",
            source=", ".join(v.source for v in views.values()),
            item="levels",
            value={name: list(ls.vertebrae) for name, ls in given.items()},
            expected="two adjacent levels (e.g. L4 and L5) in at least one view "
            f"({ {name: v.source for name, v in views.items()} })",
        )
    return names


def _view_issues(views: dict[str, ViewResult]) -> list[QualityIssue]:
    issues = [i for v in views.values() for i in v.issues]
    if "flexion" in views and views["flexion"].unit != views["extension"].unit:
        issues.append(
            QualityIssue(
                "flexion/extension",
                "all",
                "mixed_units",
                "warning",
                f"flexion is in {views['flexion'].unit} and extension in "
                f"{views['extension'].unit} (no pixel spacing for one of them): translation "
                "is given in % only.",
            )
        )
    return issues


def _vertebra_rows(views: dict[str, ViewResult]) -> list[dict[str, Any]]:
    return [
        {
            "level": lv,
            "view": vn,
            "superior_endplate_depth_mm": _r(v.mm(g.superior_depth)),
            "inferior_endplate_depth_mm": _r(v.mm(g.inferior_depth)),
            "anterior_height_mm": _r(v.mm(g.anterior_height)),
            "posterior_height_mm": _r(v.mm(g.posterior_height)),
            "wedge_deg": _r(g.wedge_deg),
        }
        for vn, v in views.items()
        for lv, g in v.vertebrae.items()
    ]


def _cervical_set(
    cervical: ThresholdSet | str | None, lumbar: ThresholdSet, names: list[str]
) -> ThresholdSet | None:
    """Return the cervical set if a cervical segment is present (bundled default if not given)."""
    if not any(segment_region(n) == "cervical" for n in names):
        return None
    if isinstance(cervical, ThresholdSet):
        if cervical.region != "cervical":
            raise InputError(
                f"threshold set {cervical.name} judges {cervical.region} segments",
                item="--cervical-thresholds",
                value=cervical.name,
                expected="a cervical set such as white-panjabi-cervical",
            )
        return cervical
    # the same measurement-margin setting as the lumbar set (--no-margin switches both off)
    return load_threshold_set(cervical, region="cervical", margin=lumbar.margin is not None)


def assess(
    *,
    neutral: LandmarkSet | None = None,
    flexion: LandmarkSet | None = None,
    extension: LandmarkSet | None = None,
    thresholds: ThresholdSet | str | None = None,
    translation_method: str = "corner",
    cervical_thresholds: ThresholdSet | str | None = None,
) -> InstabilityReport:
    """Measure and judge every motion segment.

    Parameters
    ----------
    neutral : LandmarkSet, optional
        Neutral (resting) view: slip, Meyerding grade, disc heights, angles, lordosis and
        resting-film criteria.
    flexion, extension : LandmarkSet, optional
        The dynamic pair; both or neither. Translation (``slip_flexion - slip_extension``)
        and angulation (``angle_extension - angle_flexion``, the segment's sagittal ROM).
    thresholds : ThresholdSet or str, optional
        A loaded set or a set name for the lumbar region (every segment without a cervical
        vertebra); default: the bundled default (``white-panjabi``).
    translation_method : {"corner", "posterior-wall"}
        How slip and translation are measured (``CLINICAL_LOGIC.md`` §4.3): from the upper
        posterior-inferior corner along the lower endplate (default), or between the
        posterior-wall lines (Morgan-King / Boden-Wiesel style [R]). Named in the output.
    cervical_thresholds : ThresholdSet or str, optional
        The set for C2-C3 to C6-C7 (``CLINICAL_LOGIC.md`` §4.7); default: the bundled
        ``white-panjabi-cervical``, with the lumbar set's margin setting. Lumbar thresholds
        are never applied to a cervical segment; C1-C2 and C7-T1 are not judged.

    Returns
    -------
    InstabilityReport

    Raises
    ------
    InputError
        No view given, only one of flexion/extension, a view given under the wrong name, or
        a threshold set of the wrong region.

    """
    given = _check_inputs(
        {"neutral": neutral, "flexion": flexion, "extension": extension},
        translation_method=translation_method,
    )
    tset = thresholds if isinstance(thresholds, ThresholdSet) else load_threshold_set(thresholds)
    if tset.region != "lumbar":
        raise InputError(
            f"threshold set {tset.name} judges {tset.region} segments",
            item="--thresholds",
            value=tset.name,
            expected=f"a lumbar set here; give {tset.name} as --cervical-thresholds",
        )
    views = {
        name: measure_view(ls, translation_method=translation_method) for name, ls in given.items()
    }
    magnification_known = all(v.magnification_known for v in views.values())
    dynamic = flexion is not None
    names = _segment_names(views, given)
    cervical = _cervical_set(cervical_thresholds, tset, names)
    judging = {"lumbar": tset, "cervical": cervical}
    regions = {segment_region(n) for n in names}
    used = [t for t in (tset, cervical) if t is not None and t.region in regions]
    notes = _study_notes(views, used, dynamic=dynamic)
    issues = _view_issues(views)
    roms = {n: _dynamic_values(_per_view(n, views), views)[2] for n in names}
    levels: list[dict[str, Any]] = []
    for name in names:
        rec, found = _segment_record(
            name,
            views,
            judging.get(segment_region(name) or ""),
            dynamic=dynamic,
            magnification_known=magnification_known,
            roms=roms,
            listhesis=tset,
        )
        issues += found
        levels.append(rec)
    issues += _all_kyphotic_check(levels)
    for rec in levels:
        keep = (rec["level"], rec["upper"], rec["lower"], "all")
        rec["quality"] = [q.to_dict() for q in issues if q.level in keep]
    lordosis = {
        "levels": "L1-S1",
        "method": "Cobb angle between the superior endplates of L1 and S1; + = lordosis",
        "by_view": {vn: _r(v.lordosis_deg) for vn, v in views.items()},
        "notes": {vn: v.lordosis_note for vn, v in views.items() if v.lordosis_deg is None},
    }
    return InstabilityReport(
        thresholds=tset,
        views=views,
        levels=levels,
        vertebrae=_vertebra_rows(views),
        lordosis=lordosis,
        quality=issues,
        notes=notes,
        translation_method=translation_method,
        cervical_thresholds=cervical,
    )
