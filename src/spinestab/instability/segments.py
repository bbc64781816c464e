"""One motion segment's record: its measures on every view and its verdicts.

:func:`segment_record` builds the per-level record of ``instability.json``: the slip and
Meyerding grade of the chosen view, the dynamic measures (translation, angulation), the
disc heights, and the dynamic and resting-film verdicts of the threshold set that judges
the segment's region (:mod:`~spinestab.instability.verdicts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinestab.instability.geometry import meyerding_grade
from spinestab.instability.measures import SegmentGeometry, ViewResult
from spinestab.instability.quality import QualityIssue
from spinestab.instability.threshold_types import ThresholdSet, segment_region
from spinestab.instability.verdicts import (
    RANK,
    evaluate_rules,
    excess_rom,
    judge_dynamic,
    no_criteria_reason,
    rounded,
)

__all__ = ["dynamic_values", "geometry_by_view", "segment_record"]


def _slip_summary(seg: SegmentGeometry, view: ViewResult, tset: ThresholdSet) -> dict[str, Any]:
    slip_mm = view.mm(seg.slip)
    pct = seg.slip_pct
    if pct is None:
        return {"slip_mm": None, "slip_pct": None, "listhesis": None, "meyerding_grade": None}
    use_mm = slip_mm is not None and view.magnification_known
    # compared at 1e-6 precision, like the threshold rules
    present = (
        round(abs(slip_mm), 6) >= tset.listhesis_min_mm
        if use_mm and slip_mm is not None
        else round(abs(pct), 6) >= tset.listhesis_min_pct
    )
    if not present:
        listhesis, grade = "none", 0
    else:
        listhesis = "anterolisthesis" if pct > 0 else "retrolisthesis"
        grade = meyerding_grade(pct)
    return {
        "slip_mm": rounded(slip_mm),
        "slip_pct": rounded(pct),
        "listhesis": listhesis,
        "meyerding_grade": grade,
    }


def _view_values(seg: SegmentGeometry, view: ViewResult) -> dict[str, Any]:
    def pct(length: float | None) -> float | None:
        if length is None or not seg.endplate_depth:
            return None
        return 100.0 * length / seg.endplate_depth

    return {
        "slip_mm": rounded(view.mm(seg.slip)),
        "slip_pct": rounded(seg.slip_pct),
        "segmental_angle_deg": rounded(seg.angle_deg),
        "disc_height_anterior_mm": rounded(view.mm(seg.disc_anterior)),
        "disc_height_posterior_mm": rounded(view.mm(seg.disc_posterior)),
        "disc_height_anterior_pct": rounded(pct(seg.disc_anterior)),
        "disc_height_posterior_pct": rounded(pct(seg.disc_posterior)),
        "endplate_depth_mm": rounded(view.mm(seg.endplate_depth)),
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


def dynamic_values(
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


@dataclass(frozen=True)
class _Measured:
    """One segment's record of measures (no verdict yet), geometry per view, raw values."""

    rec: dict[str, Any]
    per_view: dict[str, SegmentGeometry]
    translation_mm: float | None
    translation_pct: float | None
    angulation_deg: float | None
    relative_angulation_deg: float | None


def geometry_by_view(name: str, views: dict[str, ViewResult]) -> dict[str, SegmentGeometry]:
    """Return the segment's geometry on each view that shows it."""
    return {vn: v.segments[name] for vn, v in views.items() if name in v.segments}


def _measure_segment(name: str, views: dict[str, ViewResult], tset: ThresholdSet) -> _Measured:
    """Measure one segment on every view (``tset`` gives the listhesis floor)."""
    upper, lower = name.split("-")
    per_view = geometry_by_view(name, views)
    rec: dict[str, Any] = {"level": name, "upper": upper, "lower": lower}
    slip_view = _choose_slip_view(per_view, views)
    base = per_view[slip_view] if slip_view else None
    if base is not None and slip_view is not None:
        rec.update(_slip_summary(base, views[slip_view], tset))
    else:
        rec.update({"slip_mm": None, "slip_pct": None, "listhesis": None, "meyerding_grade": None})
    rec["slip_view"] = slip_view
    t_mm, t_pct, ang = dynamic_values(per_view, views)
    rec["translation_mm"] = rounded(t_mm)
    rec["translation_pct"] = rounded(t_pct)
    rec["angulation_deg"] = rounded(ang)
    rec["segmental_angle_deg"] = rounded(base.angle_deg) if base else None
    rel = _relative_angulation(views["neutral"], name) if "neutral" in views else None
    rec["relative_angulation_deg"] = rounded(rel)
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
) -> tuple[str | None, list[str], list[dict[str, Any]]]:
    """Judge one segment on the neutral (resting) view."""
    seg = m.per_view.get("neutral")
    if seg is None:
        return "not_assessable", [f"{name} is not on the neutral view"], []
    if seg.withheld:
        return "not_assessable", [], []
    return evaluate_rules(
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
        dyn_verdict, r, c, issues = judge_dynamic(
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


def segment_record(
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
    relative_rom = excess_rom(name, roms) if dynamic else None
    if tset is not None and any(r.measure == "relative_rom_deg" for r in tset.rules):
        rec["relative_rom_deg"] = rounded(relative_rom)
    # measures withheld by quality checks are named first, whatever the rules
    reasons = [f"{vn} measures withheld: {w}" for vn, s in m.per_view.items() for w in s.withheld]
    dyn_verdict = static_verdict = None
    criteria: list[dict[str, Any]] = []
    issues: list[QualityIssue] = []
    if tset is None:
        reasons.append(no_criteria_reason(name))
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
    verdict = max(present, key=lambda v: RANK[v]) if present else "not_assessable"
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
