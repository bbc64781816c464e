"""What a profile lacks, and what each gap limits (never filled with a guess).

:func:`find_missing` runs one small check per part of the profile, in the order the
profile shows them: red-flag screen, questionnaires, history and examination, muscle
quality, instability, movement.
"""

from __future__ import annotations

from spinestab.care.profile import (
    ClinicalState,
    InstabilityFindings,
    Missing,
    MovementSummary,
    MuscleFindings,
)

__all__ = ["find_missing"]


def _screen(c: ClinicalState) -> list[Missing]:
    if not c.red_flag_screen:
        return [
            Missing(
                "red-flag screen",
                "no plan can be released before the red-flag "
                "questions are answered (CLINICAL_LOGIC.md §3); the plan is a draft",
            )
        ]
    if not c.red_flag_screen_complete:
        return [
            Missing(
                "red-flag screen items",
                "unanswered red-flag questions must be "
                "asked before the plan starts; positive answers are acted on",
            )
        ]
    return []


def _questionnaires(c: ClinicalState) -> list[Missing]:
    out = []
    if c.startback_risk is None:
        out.append(
            Missing(
                "STarT Back (complete)",
                "no risk group: F1/F2/F3 stratification "
                "falls back to the default track (rule unknown_risk_track)",
            )
        )
    if c.odi_pct is None and c.rmdq is None:
        out.append(
            Missing(
                "ODI or RMDQ",
                "no disability baseline: the 6/12-week review and "
                "the neurostimulation criteria (ODI) cannot be assessed",
            )
        )
    if c.nrs is None:
        out.append(
            Missing(
                "pain NRS",
                "no pain baseline: next-morning pain is compared with "
                "each session's own pre-session pain only",
            )
        )
    return out


def _history(c: ClinicalState) -> list[Missing]:
    h = c.history
    out = []
    if h.pain_duration_weeks is None:
        out.append(Missing("pain duration", "acute/chronic status and §5.8 criteria unknown"))
    if h.active_care_weeks is None or h.previous_response is None:
        out.append(
            Missing(
                "weeks of active care / previous response",
                "failed active care "
                "(>= 12 weeks without MIC) cannot be established: no S1 referral "
                "on that ground and no neurostimulation assessment",
            )
        )
    if h.aberrant_movement is None and h.prone_instability_test is None:
        out.append(
            Missing(
                "movement-control examination",
                "aberrant movement / prone "
                "instability test unknown: F1 signs and Hicks rule not assessed",
            )
        )
    return out


def _muscle(muscle: MuscleFindings | None) -> list[Missing]:
    if muscle is None:
        return [
            Missing(
                "muscle_quality.csv",
                "no multifidus fat fraction: the plan uses "
                "standard emphasis and dose (§5.9 not applied)",
            )
        ]
    if muscle.multifidus_fat_pct is not None:
        return []
    measured = ", ".join(m for m, v in muscle.other_muscles.items() if v.get("fat_pct") is not None)
    instead = (
        f" (measured instead: {measured}; a combined 'autochthon' label, e.g. "
        "TotalSegmentator's, does not separate the multifidus)"
        if measured
        else ""
    )
    return [
        Missing(
            "multifidus fat fraction",
            "the MRI table has no multifidus fat fraction: §5.9 not applied" + instead,
        )
    ]


def _instability(c: ClinicalState, instability: InstabilityFindings | None) -> list[Missing]:
    if instability is None:
        return [
            Missing(
                "instability.json",
                "no imaging measures: structural tracks S1/S2 "
                "are not assessed (imaging is not routine, NICE NG59 1.1.4)",
            )
        ]
    out = []
    withheld = [
        f.level
        for f in instability.levels
        if f.slip_mm is None and f.slip_pct is None and f.meyerding_grade is None
    ]
    if withheld:
        out.append(
            Missing(
                f"instability measures at {', '.join(withheld)}",
                "no slip or grade for these segments (withheld by spinestab instability, "
                "see its quality checks and the reasons): they are not screened",
            )
        )
    if c.history.concordant_symptoms is None:
        out.append(
            Missing(
                "symptom concordance",
                "whether symptoms match the structural "
                "finding is unknown: no S1 referral on a dynamic or low-grade "
                "finding",
            )
        )
    return out


def _movement(movement: MovementSummary | None) -> list[Missing]:
    if movement is None:
        return [
            Missing(
                "daily.csv",
                "no movement summary: the movement-break goal uses "
                "the default interval, not the patient's own static bouts",
            )
        ]
    if movement.valid_days == 0:
        return [
            Missing(
                "valid wear days", "no day reached the wear-time rule: movement summary not used"
            )
        ]
    return []


def find_missing(
    clinical: ClinicalState,
    muscle: MuscleFindings | None,
    instability: InstabilityFindings | None,
    movement: MovementSummary | None,
) -> tuple[Missing, ...]:
    """List the missing parts of a profile and what each one limits.

    Parameters
    ----------
    clinical, muscle, instability, movement
        The profile parts (``None`` where absent).

    Returns
    -------
    tuple of Missing

    """
    return (
        *_screen(clinical),
        *_questionnaires(clinical),
        *_history(clinical),
        *_muscle(muscle),
        *_instability(clinical, instability),
        *_movement(movement),
    )
