"""Applying a threshold set's rules to one motion segment's measures.

:func:`evaluate_rules` gives a segment's verdict under rules of one kind (dynamic or resting
film), with the measurement-margin rule of ``CLINICAL_LOGIC.md`` §4.3; :func:`judge_dynamic`
adds the effort (low-motion) rule; :func:`excess_rom` is the §4.7 relative rotation.
"""

from __future__ import annotations

from typing import Any

from spinestab.instability.measures import SegmentGeometry
from spinestab.instability.quality import QualityIssue
from spinestab.instability.threshold_types import Margin, Rule, ThresholdSet

__all__ = [
    "RANK",
    "evaluate_rules",
    "excess_rom",
    "judge_dynamic",
    "no_criteria_reason",
    "rounded",
]

RANK = {"stable": 0, "not_assessable": 1, "borderline": 2, "unstable": 3}


_LABELS = {
    "translation_mm": "translation",
    "translation_pct": "translation",
    "angulation_deg": "sagittal rotation (ROM)",
    "slip_mm": "resting slip",
    "slip_pct": "resting slip",
    "relative_angulation_deg": "relative angulation",
    "relative_rom_deg": "sagittal ROM in excess of the adjacent segments",
}


def rounded(value: float | None, digits: int = 2) -> float | None:
    """Round for the output (None stays None; -0.0 becomes 0.0)."""
    return None if value is None else round(float(value), digits) + 0.0


def _unit(measure: str) -> str:
    return measure.rsplit("_", 1)[1]


_UNIT_TEXT = {"mm": "mm", "pct": "%", "deg": "deg"}


def _skip_reason(
    rule: Rule,
    value: float | None,
    *,
    segment: str,
    tset: ThresholdSet,
    magnification_known: bool,
) -> str | None:
    """Why a rule does not judge this segment's value, or None when it does."""
    if rule.limit(segment) is None:
        return f"the rule sets no limit for {segment}"
    if rule.measure.endswith("_mm") and not magnification_known and tset.has_pct_twin(rule):
        return "magnification unknown: the % criterion is used instead"
    if value is None:
        return "measure not available"
    return None


def _margin_reason(
    rule: Rule,
    value: float,
    *,
    met: bool,
    segment: str,
    margin: Margin,
    depth_mm: float | None,
    entry: dict[str, Any],
    caveat: str,
) -> str | None:
    """Return the borderline reason when ``value`` lies within an unstable limit's margin.

    Records the margin (and why there is none) in the criterion ``entry``.
    """
    unit = _unit(rule.measure)
    unit_text = _UNIT_TEXT[unit]
    width, why = margin.for_unit(unit, depth_mm=depth_mm)
    limit = float(rule.limit(segment) or 0.0)
    entry["margin"] = rounded(width)
    if why:
        entry["margin_note"] = why
    # compared at 1e-6 precision, like the rules themselves
    gap = round(abs(value), 6) - limit
    near = width is not None and abs(gap) <= round(width, 6)
    if not (near and (margin.sides == "both" or not met)):
        return None
    side = "above" if met else "below"
    return (
        f"borderline: {_LABELS[rule.measure]} {abs(value):.1f} {unit_text}"
        f"{caveat} is {abs(gap):.1f} {unit_text} {side} the unstable limit "
        f"{rule.describe(segment)}, within the measurement margin "
        f"{width:.1f} {unit_text} [{margin.evidence}] (CLINICAL_LOGIC.md §4.3 "
        "measurement error; thresholds.measurement_margin) "
        f"({rule.id} [{rule.evidence}]: {rule.source})"
    )


def _criterion(rule: Rule, value: float | None, segment: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "measure": rule.measure,
        "value": rounded(value),
        "limit": rule.describe(segment),
        "verdict_if_met": rule.verdict,
        "source": rule.source,
        "evidence": rule.evidence,
    }


def evaluate_rules(
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
    §4.3 [D]; see :class:`~spinestab.instability.threshold_types.Margin`), else none. The
    segment's verdict is the worst outcome; its reasons are those of that outcome.
    ``depth_mm`` (the lower endplate depth in mm) converts the mm margin to % rules.
    """
    met_reasons: list[tuple[str, str]] = []
    criteria: list[dict[str, Any]] = []
    outcomes: list[str] = []
    for rule in rules:
        value = values.get(rule.measure)
        entry = _criterion(rule, value, segment)
        criteria.append(entry)
        skipped = _skip_reason(
            rule, value, segment=segment, tset=tset, magnification_known=magnification_known
        )
        if skipped is not None or value is None:
            entry["met"] = None
            entry["skipped"] = skipped
            continue
        met = bool(rule.met(value, segment))
        entry["met"] = met
        unit = _unit(rule.measure)
        caveat = (
            " (mm not corrected for radiographic magnification)"
            if unit == "mm" and not magnification_known
            else ""
        )
        outcome = rule.verdict if met else None
        if tset.margin is not None and rule.verdict == "unstable":
            near = _margin_reason(
                rule,
                value,
                met=met,
                segment=segment,
                margin=tset.margin,
                depth_mm=depth_mm,
                entry=entry,
                caveat=caveat,
            )
            if near is not None:
                outcome = "borderline"
                met_reasons.append(("borderline", near))
        entry["outcome"] = outcome
        if outcome is not None and outcome == rule.verdict:
            met_reasons.append(
                (
                    rule.verdict,
                    f"{rule.verdict}: {_LABELS[rule.measure]} {abs(value):.1f} "
                    f"{_UNIT_TEXT[unit]} {rule.describe(segment)}{caveat} [{rule.evidence}] "
                    f"({rule.source})",
                )
            )
        if outcome is not None:
            outcomes.append(outcome)
    if all(e["met"] is None for e in criteria):
        return "not_assessable", [], criteria
    if not outcomes:
        return "stable", [], criteria
    verdict = max(outcomes, key=lambda o: RANK[o])
    return verdict, [text for v, text in met_reasons if v == verdict], criteria


def judge_dynamic(
    name: str,
    per_view: dict[str, SegmentGeometry],
    values: dict[str, float | None],
    tset: ThresholdSet,
    *,
    magnification_known: bool,
    depth_mm: float | None = None,
) -> tuple[str | None, list[str], list[dict[str, Any]], list[QualityIssue]]:
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
    verdict, reasons, criteria = evaluate_rules(
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


def excess_rom(name: str, roms: dict[str, float | None]) -> float | None:
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


def no_criteria_reason(name: str) -> str:
    """Return the reason for a segment no threshold set judges (C1-C2, C7-T1)."""
    where = "CLINICAL_LOGIC.md §4.7 covers C2-C7; " if name[:3] in ("C1-", "C7-") else ""
    return (
        f"not assessable: no criteria for {name} ({where}lumbar thresholds are never applied "
        "to a segment with a cervical vertebra)"
    )
