"""Triage steps for vertebral deformities (§4.6) and cervical findings (§4.7).

- :func:`vertebral_deformity` (after the red flags of the screen, §8 step 1): a
  morphometric deformity of Genant grade >= 1 (``morphometry.json``) is a finding. New (not
  in the history's ``known_old_deformities``) with acute pain (under ``acute_weeks``) it
  raises the suspected vertebral fracture red flag (§3) for a clinician to confirm: track S0,
  no plan. New without acute pain (or with the pain's duration unknown) it makes the plan a
  draft until a clinician confirms it. Known and old, it adapts the plan (no loaded
  flexion) instead of blocking it.
- :func:`cervical_findings` (after the structural screen, §8 step 3): segments with a
  cervical vertebra (``instability.json``) are reported and referred; they are never read
  by the lumbar structural rules (``care.io.read_instability`` keeps them apart) and never
  trained by the lumbar programme.
"""

from __future__ import annotations

from spinestab.care.config import CareRules
from spinestab.care.profile import (
    DeformityFindings,
    History,
    LevelFinding,
    VertebralDeformity,
)
from spinestab.care.triage.model import Action, Decision, StepResult, TriageInput

__all__ = ["NO_LOADED_FLEXION", "cervical_findings", "fracture_suspected", "vertebral_deformity"]

#: Triage finding read by the plan: levels whose deformity rules out loaded flexion.
NO_LOADED_FLEXION = "no_loaded_flexion_levels"
_SOURCE_46 = "CLINICAL_LOGIC.md §4.6 (morphometry, Genant grades; clinical use [D])"
_SOURCE_47 = "CLINICAL_LOGIC.md §4.7 (cervical instability)"


def _describe(d: VertebralDeformity) -> str:
    loss = "" if d.height_loss_pct is None else f", height loss {d.height_loss_pct:.0f} %"
    bound = " (a lower bound: a loss was not measurable)" if "grade_lower_bound" in d.flags else ""
    return f"{d.level} (Genant grade {d.genant_grade} {d.deformity}{loss}){bound}"


def _pain_text(h: History) -> str:
    if h.pain_duration_weeks is None:
        return "pain duration unknown"
    return f"pain for {h.pain_duration_weeks:g} weeks"


def _fracture_flag(new: list[VertebralDeformity], h: History, rules: CareRules) -> StepResult:
    """Raise the suspected-fracture red flag (§3, S0): a new deformity with acute pain."""
    urgency = str(rules["deformity_fracture_urgency"])
    listed = "; ".join(map(_describe, new))
    text = (
        f"Suspected vertebral fracture, for a clinician to confirm: new morphometric deformity "
        f"at {listed} with acute pain ({_pain_text(h)}, under {rules['acute_weeks']:g}). Pause "
        "the exercise programme; same-week X-ray, bone-health assessment and analgesia; "
        "spinal opinion if pain is uncontrolled or there are neurological signs (§3). If the "
        "deformity is known to be old, record it in history known_old_deformities."
    )
    rule = rules.rule("deformity_fracture_urgency")
    actions = (
        Action(
            "suspected_vertebral_fracture", "escalation", urgency, text, rule.source, "V/D", True
        ),
        Action(
            "no_exercise_plan",
            "escalation",
            urgency,
            "No exercise plan while the suspected fracture is open; re-screen after the "
            "escalation.",
            rules.rule("blocking_urgencies").source,
            "D",
            True,
        ),
    )
    reason = rules.reason(
        "red_flag_vertebral_fracture",
        f"Suspected vertebral fracture (§3): new deformity at {listed} with acute pain. "
        "Red flags override every other rule.",
        "deformity_min_grade",
        "acute_weeks",
        "deformity_fracture_urgency",
        source=_SOURCE_46,
        evidence="D",
    )
    return StepResult(actions, (reason,), track="S0", stop=True)


def _unconfirmed(new: list[VertebralDeformity], h: History, rules: CareRules) -> StepResult:
    """Ask to confirm a new deformity without acute pain (or duration unknown); draft."""
    listed = "; ".join(map(_describe, new))
    unknown = h.pain_duration_weeks is None
    text = (
        f"Morphometric deformity at {listed}: a finding for a clinician to confirm (new or "
        "old?). "
        + (
            f"The pain's duration is unknown: if it began within {rules['acute_weeks']:g} "
            "weeks this is the suspected vertebral fracture red flag (§3). "
            if unknown
            else f"No acute pain ({_pain_text(h)}): no fracture red flag raised. "
        )
        + "Until confirmed the plan is a draft and avoids loaded flexion; an old, known "
        "deformity goes into history known_old_deformities."
    )
    action = Action.routine("confirm_vertebral_deformity", "review", text, _SOURCE_46, "D")
    reason = rules.reason(
        "vertebral_deformity_unconfirmed",
        f"Vertebral deformity at {listed} ({_pain_text(h)}): to be confirmed by a clinician; "
        "the plan is a draft and avoids loaded flexion.",
        "deformity_min_grade",
        "acute_weeks",
        source=_SOURCE_46,
        evidence="D",
    )
    return StepResult((action,), (reason,), draft=True)


def _graded_deformities(
    found: DeformityFindings | None, rules: CareRules
) -> list[VertebralDeformity]:
    min_grade = int(rules["deformity_min_grade"])
    return [d for d in (found.deformities if found else ()) if d.genant_grade >= min_grade]


def _acute(h: History, rules: CareRules) -> bool:
    return h.pain_duration_weeks is not None and h.pain_duration_weeks < rules["acute_weeks"]


def fracture_suspected(
    found: DeformityFindings | None, history: History, rules: CareRules
) -> StepResult:
    """Return the suspected vertebral fracture red flag alone (§3 via §4.6), or nothing.

    Raised by new deformities (not in ``known_old_deformities``) of grade >=
    ``deformity_min_grade`` with pain for under ``acute_weeks``, as
    :func:`vertebral_deformity` raises it; the patient record counts it among the open red
    flags (``spinestab.record.morphometry``).
    """
    known = set(history.known_old_deformities)
    new = [d for d in _graded_deformities(found, rules) if d.level not in known]
    if new and _acute(history, rules):
        return _fracture_flag(new, history, rules)
    return StepResult()


def vertebral_deformity(inp: TriageInput, so_far: Decision) -> StepResult:
    """§4.6: deformities of grade >= 1 as findings; the fracture red flag or a plan adaptation."""
    rules = inp.rules
    deformities = _graded_deformities(inp.profile.deformities, rules)
    if not deformities:
        return StepResult()
    h = inp.profile.clinical.history
    known = set(h.known_old_deformities)
    new = [d for d in deformities if d.level not in known]
    findings = {
        "vertebral_deformities": [
            {**d.to_dict(), "known_old": d.level in known} for d in deformities
        ],
        NO_LOADED_FLEXION: [d.level for d in deformities],
    }
    acute = _acute(h, rules)
    if new and acute:
        result = _fracture_flag(new, h, rules)
    elif new:
        result = _unconfirmed(new, h, rules)
    else:
        result = StepResult()
    old = [d for d in deformities if d.level in known]
    reasons = result.reasons
    if old:
        reasons += (
            rules.reason(
                "vertebral_deformity_known_old",
                f"Known old deformity at {'; '.join(map(_describe, old))}: the plan is "
                "adapted (no loaded flexion) instead of blocked.",
                "deformity_min_grade",
                source=_SOURCE_46,
                evidence="D",
            ),
        )
    return StepResult(result.actions, reasons, findings, result.track, result.draft, result.stop)


def _cervical_label(f: LevelFinding) -> str:
    what = [v for v in (f.verdict, f.static_verdict) if v in ("unstable", "borderline")]
    if (f.meyerding_grade or 0) >= 1 and f.listhesis not in (None, "none"):
        what.append(f"{f.listhesis} grade {f.meyerding_grade}")
    return f"{f.level} ({', '.join(dict.fromkeys(what))})" if what else f.level


def cervical_findings(inp: TriageInput, so_far: Decision) -> StepResult:
    """§4.7: cervical segments are reported and referred, never judged by the lumbar rules."""
    inst = inp.profile.instability
    cervical = inst.cervical if inst is not None else ()
    if not cervical:
        return StepResult()
    rules = inp.rules
    flagged = [
        f
        for f in cervical
        if f.verdict in ("unstable", "borderline")
        or f.static_verdict in ("unstable", "borderline")
        or ((f.meyerding_grade or 0) >= 1 and f.listhesis not in (None, "none"))
    ]
    findings = {
        "cervical": [
            {
                "level": f.level,
                "verdict": f.verdict,
                "static_verdict": f.static_verdict,
                "meyerding_grade": f.meyerding_grade,
                "listhesis": f.listhesis,
            }
            for f in cervical
        ]
    }
    measured = ", ".join(f.level for f in cervical)
    if not flagged:
        reason = rules.reason(
            "cervical_measured",
            f"Cervical segments measured ({measured}) without an instability finding: "
            "reported only; the lumbar tracks do not use them (§4.7).",
            "cervical_referral_urgency",
            source=_SOURCE_47,
            evidence="D",
        )
        return StepResult(reasons=(reason,), findings=findings)
    listed = ", ".join(map(_cervical_label, flagged))
    rule = rules.rule("cervical_referral_urgency")
    action = Action(
        "refer_cervical_finding",
        "referral",
        str(rules["cervical_referral_urgency"]),
        f"Cervical finding at {listed}: refer for assessment of the cervical spine. Reported "
        "and referred; the lumbar programme neither judges nor trains the neck (§4.7).",
        rule.source,
        "D",
        True,
    )
    reason = rules.reason(
        "cervical_finding_referred",
        f"Cervical finding at {listed}: referred; not part of the lumbar structural screen "
        "or programme (§4.7).",
        "cervical_referral_urgency",
        source=_SOURCE_47,
        evidence="D",
    )
    return StepResult((action,), (reason,), findings)
