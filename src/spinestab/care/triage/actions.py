"""The actions of the track and of every plan, and the §5.8 neurostimulation review.

CLINICAL_LOGIC.md §4.5 and §8 step 4 (what each track does; every non-red-flag plan holds the
home programme, education, no passive modalities and the 6/12-week review) and §5.8 / §8
step 6 (a neurostimulation *assessment* referral only when every criterion holds).
"""

from __future__ import annotations

from typing import Any

from spinestab.care.config import CareRules
from spinestab.care.profile import StabilityProfile
from spinestab.care.triage.facts import HIERARCHY_SOURCE, response_status
from spinestab.care.triage.guideline import ACP_SOURCE, NICE_SOURCE, SYNTHESIS_SOURCE
from spinestab.care.triage.model import Action, Decision, StepResult, TriageInput

__all__ = [
    "neurostimulation",
    "neurostimulation_assessment",
    "programme_actions",
    "track_actions",
]


_TRACK_ACTIONS: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "S1": (
        (
            "surgical_consultation",
            "referral",
            "Spine surgical consultation "
            "(ServiceRequest); a consultation, not a decision to operate. NICE NG59: no "
            "fusion for non-specific LBP outside trials.",
            HIERARCHY_SOURCE + "; NICE NG59 [R]",
            "D",
        ),
        (
            "continue_active_care",
            "programme",
            "Continue graded active care meanwhile unless the surgeon advises otherwise.",
            HIERARCHY_SOURCE,
            "D",
        ),
    ),
    "S2": (
        (
            "monitored_conservative_care",
            "programme",
            "Active care as in F1 with extension/flexion loading limits set by a clinician.",
            HIERARCHY_SOURCE,
            "D",
        ),
        (
            "clinician_loading_limits",
            "review",
            "Clinician to set loading limits before the first session.",
            HIERARCHY_SOURCE,
            "D",
        ),
        (
            "review_12_weeks",
            "review",
            "Reassess at 12 weeks; refer if the MIC is not reached and symptoms are concordant.",
            HIERARCHY_SOURCE,
            "D",
        ),
    ),
    "F3": (
        (
            "self_management",
            "advice",
            "Advice, reassurance, education pack and a home "
            "programme; keep active (STarT Back low-risk pathway).",
            "Hill 2011 pathways [R]; NICE NG59 1.1.3 [V]",
            "V/R",
        ),
    ),
}
_MOTOR_CONTROL = (
    "motor_control_programme",
    "programme",
    "Motor control -> endurance -> "
    "strength programme (physiotherapy; exercise with or without manual therapy).",
    HIERARCHY_SOURCE + "; Saragiotto 2016, Owen 2020 (§5.1)",
    "D/V",
)


def _psychologically_informed(jurisdiction: str) -> Action:
    if jurisdiction == "NICE":
        source = NICE_SOURCE + "; Hill 2011 high-risk pathway [R]"
        text = (
            "Psychologically informed physiotherapy / combined physical and "
            "psychological programme (CBT approach, preferably in a group)."
        )
    else:
        source = ACP_SOURCE + "; Hill 2011 high-risk pathway [R]"
        text = "Psychologically informed physiotherapy; CBT and operant therapy (ACP rec. 2)."
    return Action.routine("psychologically_informed_care", "referral", text, source, "R")


def track_actions(inp: TriageInput, so_far: Decision) -> StepResult:
    """§4.5 and §8 step 4: the actions of the track (referral, programme, pathway)."""
    specs = list(_TRACK_ACTIONS.get(so_far.track or "", ()))
    if so_far.track in ("F1", "F2"):
        specs.append(_MOTOR_CONTROL)
    actions = [Action.routine(*spec) for spec in specs]
    if inp.profile.clinical.startback_risk == "high":
        actions.append(_psychologically_informed(inp.jurisdiction))
    return StepResult(tuple(actions))


def programme_actions(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 4: what every non-red-flag plan holds (home programme, education, review)."""
    guideline = inp.guideline
    return StepResult(
        (
            Action.routine(
                "home_programme",
                "programme",
                "Six-exercise home programme (stages 0-3) with walking and "
                "movement breaks; exercise is the core of every non-red-flag plan.",
                "CLINICAL_LOGIC.md §5.2 [D], §1.5 [D]; WHO 2023 structured exercise [V]",
                "D",
            ),
            Action.routine(
                "education",
                "advice",
                "Education: stay active within tolerance, pain monitoring, "
                "imaging findings are common without pain.",
                "CLINICAL_LOGIC.md §1.3, §1.5 [D]; WHO 2023 education [V]",
                "D",
            ),
            Action.routine(
                "no_passive_modalities",
                "advice",
                "Not offered: " + ", ".join(guideline["not_offered"]) + ".",
                guideline["source"] + "; " + SYNTHESIS_SOURCE,
                "D",
            ),
            Action.routine(
                "review_6_12_weeks",
                "review",
                "Review with ODI or RMDQ at weeks 6 and 12; responder "
                "= MIC or >= 30 % on the primary measure.",
                inp.rules.rule("review_weeks").source,
                "D",
            ),
        )
    )


def neurostimulation_assessment(
    profile: StabilityProfile, *, track: str, rules: CareRules, status: str | None
) -> dict[str, Any]:
    """Check the §5.8 criteria for a neurostimulation *assessment* referral.

    All must hold: chronic LBP >= 6 months; >= 12 weeks of adherent active care without
    reaching the MIC; NRS >= 6 and ODI >= 21; multifidus dysfunction (positive prone
    instability test and/or multifidus fat grade >= 1 on MRI); no surgical indication; no
    red flag. Multifidus fat alone never suffices.

    Returns
    -------
    dict
        ``eligible`` (bool), ``met`` and ``not_met`` (lists of criteria, in words).

    """
    c = profile.clinical
    h = c.history
    fi_cut = float(rules["fi_grade_cutoffs_pct"][0])
    fat = profile.muscle.multifidus_fat_pct if profile.muscle else None
    # 12 months = 52 weeks here, so "6 months" is 26 weeks as clinicians write it (with
    # 4.345 weeks a month, 26 weeks of pain fell short of 6 months).
    months = None if h.pain_duration_weeks is None else h.pain_duration_weeks * 12 / 52
    criteria = {
        f"pain >= {rules['neurostim_min_pain_months']} months": (
            months is not None and months >= rules["neurostim_min_pain_months"]
        ),
        f">= {rules['failed_active_care_weeks']} weeks of active care without MIC": (
            h.active_care_weeks is not None
            and h.active_care_weeks >= rules["failed_active_care_weeks"]
            and status == "non_responder"
        ),
        f"adherence >= {rules['neurostim_min_adherence_pct']} %": (
            h.adherence_pct is not None and h.adherence_pct >= rules["neurostim_min_adherence_pct"]
        ),
        f"NRS >= {rules['neurostim_min_nrs']}": (
            c.nrs is not None and c.nrs >= rules["neurostim_min_nrs"]
        ),
        f"ODI >= {rules['neurostim_min_odi']} %": (
            c.odi_pct is not None and c.odi_pct >= rules["neurostim_min_odi"]
        ),
        "multifidus dysfunction (positive PIT and/or MRI fat grade >= 1)": bool(
            h.prone_instability_test or (fat is not None and fat >= fi_cut)
        ),
        "no surgical indication": track != "S1" and h.surgical_candidate is not True,
        "no red flag": not c.red_flags or all(f.urgency == "routine" for f in c.red_flags),
    }
    met = [k for k, v in criteria.items() if v]
    not_met = [k for k, v in criteria.items() if not v]
    return {"eligible": not not_met, "met": met, "not_met": not_met}


def neurostimulation(inp: TriageInput, so_far: Decision) -> StepResult:
    """§5.8 / §8 step 6: an assessment referral only when every criterion holds."""
    rules = inp.rules
    status, _ = response_status(inp.profile)
    neuro = neurostimulation_assessment(
        inp.profile, track=so_far.track or "", rules=rules, status=status
    )
    findings = {"neurostimulation": neuro}
    if not neuro["eligible"]:
        return StepResult(findings=findings)
    action = Action.routine(
        "neurostimulation_assessment",
        "referral",
        "Referral for assessment only: "
        "restorative neurostimulation is a specialist option with limited evidence "
        "(NICE IPG739: special arrangements). Not a prescription.",
        "CLINICAL_LOGIC.md §5.8 referral rule proposal [D]; NICE IPG739 [V]",
        "D",
    )
    reason = rules.reason(
        "neurostimulation_criteria",
        "All §5.8 criteria met: " + "; ".join(neuro["met"]) + ".",
        "neurostim_min_pain_months",
        "neurostim_min_nrs",
        "neurostim_min_odi",
        "failed_active_care_weeks",
    )
    return StepResult((action,), (reason,), findings)
