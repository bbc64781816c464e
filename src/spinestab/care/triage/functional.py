"""Triage step 4 (CLINICAL_LOGIC.md §4.5, §5.1, §8 step 4): the functional track.

F2 for STarT Back high risk, F1 for medium risk or movement-control signs (the Rabin 2-item
rule or the Hicks rule), F3 for low risk; an unknown risk group falls back to the
``unknown_risk_track`` rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from spinestab.care.config import CareRules
from spinestab.care.profile import History
from spinestab.care.triage.model import Decision, StepResult, TriageInput

__all__ = ["functional_track", "movement_control", "startback_reason"]


@dataclass(frozen=True)
class _MovementControl:
    """Movement-control signs and the Hicks rule (§4.5, §5.1)."""

    signs: tuple[str, ...]
    hicks: int
    hicks_known: int
    hicks_positive: tuple[str, ...]
    movement_signs: bool


def _movement_control(h: History, rules: CareRules) -> _MovementControl:
    checks = {
        "age_below": None if h.age is None else h.age < rules["hicks_age_below"],
        "slr_above": None if h.slr_deg is None else h.slr_deg > rules["hicks_slr_above_deg"],
        "aberrant_movement": h.aberrant_movement,
        "prone_instability_test": h.prone_instability_test,
    }
    positive = tuple(k for k, v in checks.items() if v)
    signs = tuple(s for s in ("aberrant_movement", "prone_instability_test") if getattr(h, s))
    return _MovementControl(
        signs,
        len(positive),
        sum(v is not None for v in checks.values()),
        positive,
        bool(signs and rules["movement_signs_two_item"])
        or len(positive) >= rules["hicks_min_positive"],
    )


def movement_control(inp: TriageInput, so_far: Decision) -> StepResult:
    """§4.5 F1 entry: movement-control signs (Rabin 2-item rule) or the Hicks rule."""
    m = _movement_control(inp.profile.clinical.history, inp.rules)
    findings = {
        "movement_control": {
            "signs": list(m.signs),
            "hicks_positive": list(m.hicks_positive),
            "hicks_known": m.hicks_known,
            "movement_signs": m.movement_signs,
        }
    }
    if not m.movement_signs:
        return StepResult(findings=findings)
    reason = inp.rules.reason(
        "movement_control_signs",
        f"Movement-control signs: {', '.join(m.signs) or 'none'}; Hicks rule "
        f"{m.hicks}/{m.hicks_known} known predictors positive "
        f"({', '.join(m.hicks_positive) or '-'}).",
        "movement_signs_two_item",
        "hicks_min_positive",
    )
    return StepResult(reasons=(reason,), findings=findings)


def startback_reason(inp: TriageInput, so_far: Decision) -> StepResult:
    """Give the STarT Back risk group as a reason (§1.1, §1.6, §2.1)."""
    c = inp.profile.clinical
    if c.startback_risk is None:
        return StepResult()
    reason = inp.rules.reason(
        f"sbst_{c.startback_risk}",
        f"STarT Back {c.startback_risk} risk (total {c.startback_total:g}, psychosocial "
        f"{c.startback_psychosocial}).",
        source="Keele STarT Back, Hill JC et al. 2008/2011; NICE NG59 1.1.2-1.1.3 "
        "(CLINICAL_LOGIC.md §1.1, §1.6, §2.1)",
        evidence="V",
    )
    return StepResult(reasons=(reason,))


def functional_track(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 4: F2 (high risk), F3 (low risk), F1 (medium risk or movement signs)."""
    if so_far.track is not None:
        return StepResult()
    rules = inp.rules
    risk = inp.profile.clinical.startback_risk
    signs = _movement_control(inp.profile.clinical.history, rules).movement_signs
    if risk == "high":
        return StepResult(track="F2")
    if risk == "medium":
        return StepResult(track="F1")
    if risk == "low":
        if not signs:
            return StepResult(track="F3")
        track = rules["low_risk_with_movement_signs_track"]
        reason = rules.reason(
            "low_risk_movement_signs",
            f"Low risk but movement-control signs: track {track}.",
            "low_risk_with_movement_signs_track",
        )
        return StepResult(reasons=(reason,), track=track)
    reason = rules.reason(
        "sbst_missing", "No complete STarT Back: risk group unknown.", "unknown_risk_track"
    )
    return StepResult(reasons=(reason,), track="F1" if signs else rules["unknown_risk_track"])
