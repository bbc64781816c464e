"""The steps that build a plan, in order (CLINICAL_LOGIC.md §5.2-§5.9).

Each step is ``step(inp: PlanInput, so_far: PlanDraft) -> PlanPart``: it reads the profile,
the triage, the rules, the exercise library and what earlier steps decided, and returns the
reasons it adds and the draft fields it sets (``changes``). :data:`PLAN_STEPS` lists them;
:func:`spinestab.care.plan.prescribe` runs them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spinestab.care.config import CareRules, Reason
from spinestab.care.dose import start_dose
from spinestab.care.exercises import Exercise
from spinestab.care.plan.activity import movement_breaks, walking
from spinestab.care.plan.draft import FatEmphasis, PlanDraft, PlanInput, PlanPart
from spinestab.care.plan.model import PlannedExercise
from spinestab.care.profile import StabilityProfile

__all__ = [
    "EDUCATION_ALWAYS",
    "HOME_EXERCISES",
    "PHASE_FOCUS",
    "PLAN_STEPS",
    "FatEmphasis",
    "PlanDraft",
    "PlanInput",
    "PlanPart",
    "fi_grade",
    "no_loaded_flexion",
]

HOME_EXERCISES = ("curl_up", "side_bridge", "bird_dog", "glute_bridge", "dead_bug", "front_plank")
EDUCATION_ALWAYS = (
    "keep_active",
    "hurt_not_harm",
    "traffic_light",
    "soreness",
    "posture_variety",
    "flare_plan",
    "ces_card",
)
PHASE_FOCUS = (
    "motor control and endurance",
    "endurance building",
    "strength and integration, functional patterns and walking volume",
)
#: Weekdays (0 = Monday) of the exercise sessions per number of sessions a week [D].
SESSION_DAYS = {2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}


# ------------------------------------------------------------------------------ §5.9 fat
def fi_grade(fat_pct: float | None, *, rules: CareRules) -> int | None:
    """Multifidus fat grade 0/1/2 from a fat fraction (%) (§5.9 3-grade scheme).

    ``fat < c0`` -> 0; ``c0 <= fat <= c1`` -> 1; ``fat > c1`` -> 2, with ``[c0, c1]`` the
    rule ``fi_grade_cutoffs_pct`` (default 10, 50).

    Examples
    --------
    >>> from spinestab.care.config import load_rules
    >>> [fi_grade(f, rules=load_rules()) for f in (5, 10, 30, 50, 51)]
    [0, 1, 1, 1, 2]

    """
    if fat_pct is None:
        return None
    low, high = (float(x) for x in rules["fi_grade_cutoffs_pct"])
    if fat_pct < low:
        return 0
    return 1 if fat_pct <= high else 2


def _fat_emphasis(profile: StabilityProfile, rules: CareRules) -> FatEmphasis:
    muscle = profile.muscle
    fat = muscle.multifidus_fat_pct if muscle else None
    asym = muscle.multifidus_asymmetry_pct if muscle else None
    asym_rule = rules["fi_asymmetry_pct"]
    asymmetric = asym_rule is not None and asym is not None and asym >= float(asym_rule)
    return FatEmphasis(fat, fi_grade(fat, rules=rules), asym, asymmetric)


def _emphasis_reason(f: FatEmphasis, rules: CareRules) -> Reason:
    asym = f", asymmetry {f.asymmetry_pct:.0f} %" if f.asymmetric else ""
    return rules.reason(
        "fi_extensor_emphasis",
        f"Multifidus fat {f.fat_pct if f.fat_pct is not None else '?'} % (grade {f.grade}"
        f"{asym}): emphasise progressive extensor loading and early multifidus cues; "
        "reassess with PROMs, not MRI.",
        "fi_grade_cutoffs_pct",
        "fi_asymmetry_pct",
        source="CLINICAL_LOGIC.md §5.9 exercise-choice rules (not a guideline)",
        evidence="D",
    )


def fat_emphasis(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.9: multifidus fat adjusts emphasis and dose (never the track)."""
    rules = inp.rules
    f = _fat_emphasis(inp.profile, rules)
    changes: list[str] = []
    reasons: list[Reason] = []
    if f.on:
        changes += [
            "extensor exercises get one extra set where the range allows",
            "specific multifidus activation from week 1",
            "slow-lowering (hip hinge) from phase 2",
        ]
        reasons.append(_emphasis_reason(f, rules))
    if f.grade2:
        changes += [
            "lower starting load (stage 0)",
            "longer phases",
            "endurance-focused dosing (more repetitions, fewer sets)",
        ]
        reasons.append(
            rules.reason(
                "fi_grade2",
                "Multifidus fat grade 2: lower starting load, longer phases, "
                "endurance-focused dosing.",
                "phase_weeks_fi2",
                source="CLINICAL_LOGIC.md §5.9",
                evidence="D",
            )
        )
    muscle = inp.profile.muscle
    emphasis = {
        "multifidus_fat_pct": f.fat_pct,
        "fi_grade": f.grade,
        "fat_method": muscle.fat_method if muscle else None,
        "asymmetry_pct": f.asymmetry_pct,
        "extensor_emphasis": f.on,
        "lower_start_longer_phases": f.grade2,
        "changes": changes,
    }
    return PlanPart(tuple(reasons), {"fat": f, "emphasis": emphasis})


# ------------------------------------------------------------------------------ §5.3 phases
def phases(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.3: three phases (motor control, endurance, strength); longer with fat grade 2."""
    rules = inp.rules
    fi2 = so_far.fat.grade2
    weeks = rules["phase_weeks_fi2"] if fi2 else rules["phase_weeks"]
    stages = rules["phase_stages"]
    # plan.json names a phase's stages "levels" (its key since the first version)
    made: tuple[dict[str, Any], ...] = tuple(
        {"index": i + 1, "weeks": list(weeks[i]), "levels": list(stages[i]), "focus": focus}
        for i, focus in enumerate(PHASE_FOCUS)
    )
    text = "; ".join(
        f"{p['index']}: weeks {p['weeks'][0]}-{p['weeks'][1]}, "
        f"stages {p['levels'][0]}-{p['levels'][1]}"
        for p in made
    )
    reason = rules.reason(
        "phases", f"Phases: {text}.", "phase_weeks_fi2" if fi2 else "phase_weeks", "phase_stages"
    )
    return PlanPart((reason,), {"phases": made})


def start_stage(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """Choose the home exercises' starting stage by track [D] (§5.3 phase 1)."""
    stage = 1 if inp.triage.track == "F3" and not so_far.fat.grade2 else 0
    reason = inp.rules.reason(
        "start_level",
        f"Home exercises start at stage {stage} "
        f"({'standard stage for low risk' if stage else 'motor-control start'}).",
        "phase_stages",
        source="CLINICAL_LOGIC.md §5.3 phase 1 (L0-L1)",
        evidence="D",
    )
    return PlanPart((reason,), {"start_stage": stage})


# ------------------------------------------------------------------------------ §5.2 exercises
#: Which condition of ``history.json`` makes a contraindication note of the library shown.
_NOTE_CONDITION = {
    "pregnancy_supine": "pregnancy",
    "osteoporosis_clearance": "osteoporosis",
    "hypertension_holds": "hypertension",
    "shoulder_wrist_variant": "shoulder_wrist_pain",
}
_SURGERY = "contra.surgery_restrictions"


def _home_exercise(ex: Exercise, so_far: PlanDraft, conditions: set[str]) -> PlannedExercise:
    """One home exercise, dosed and with the safety notes of §5.2 that apply."""
    f = so_far.fat
    notes = [f"contra.{c}" for c in ex.contraindications]
    clinician = []
    if ex.id == "curl_up" and "osteoporosis" in conditions:
        clinician.append("osteoporosis: clinician clearance before the curl-up (§5.2 note 4)")
    dose = start_dose(ex, so_far.start_stage, endurance=f.grade2, extra_set=f.on and ex.extensor)
    if "hypertension" in conditions and dose.type == "hold" and (dose.hold_s or 0) > 10:
        dose = replace(dose, hold_s=10)
    if conditions & {"recent_spinal_surgery", "implanted_stimulator"}:
        notes.append(_SURGERY)
        clinician.append(
            "recent spinal surgery / implanted stimulator: surgeon's "
            "restrictions first (§5.2 note 6)"
        )
    shown = tuple(
        n for n in notes if _NOTE_CONDITION.get(n.split(".", 1)[1]) in conditions or n == _SURGERY
    )
    return PlannedExercise(
        ex.id, so_far.start_stage, dose, 1, False, f.on and ex.extensor, shown, tuple(clinician)
    )


def home_exercises(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.2: the six home exercises, each with its safety notes (supine left out in pregnancy)."""
    conditions = set(inp.profile.clinical.history.conditions)
    reasons = []
    exercises = []
    for ex_id in HOME_EXERCISES:
        ex = inp.library[ex_id]
        if ex.supine and "pregnancy" in conditions:
            reasons.append(
                inp.rules.reason(
                    f"pregnancy_{ex_id}",
                    f"{ex_id} left out: lying on the back after the 1st "
                    "trimester (§5.2 safety note 3) [R].",
                    source="CLINICAL_LOGIC.md §5.2 note 3",
                    evidence="R",
                )
            )
            continue
        exercises.append(_home_exercise(ex, so_far, conditions))
    return PlanPart(tuple(reasons), {"exercises": so_far.exercises + tuple(exercises)})


def multifidus_activation(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.1, §5.9: specific multifidus activation from week 1 (motor-control tracks, fat)."""
    motor_tracks = inp.triage.track in ("F1", "F2", "S1", "S2")
    if not (motor_tracks or so_far.fat.on):
        return PlanPart()
    planned = PlannedExercise(
        "multifidus_activation",
        0,
        start_dose(inp.library["multifidus_activation"], 0),
        1,
        True,
        so_far.fat.on,
        (),
        ("Hides 2001 specific multifidus training [V]; daily low-load motor control",),
    )
    reason = inp.rules.reason(
        "multifidus_activation",
        "Specific multifidus activation from week 1 "
        f"({'motor-control track' if motor_tracks else 'multifidus fat emphasis'}).",
        source="Hides JA et al., Spine 2001 [V]; CLINICAL_LOGIC.md §5.1, §5.9",
        evidence="V/D",
    )
    return PlanPart((reason,), {"exercises": (planned, *so_far.exercises)})


def slow_lowering(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.6: slow-lowering (eccentric) progressions from phase 2 (fat emphasis) or 3."""
    f = so_far.fat
    phase = so_far.phases[1] if f.on else so_far.phases[2]
    first_week, stage = phase["weeks"][0], 0 if f.grade2 else min(phase["levels"][0], 1)
    planned = PlannedExercise(
        "slow_lowering",
        stage,
        start_dose(inp.library["slow_lowering"], stage, endurance=f.grade2),
        first_week,
        False,
        f.on,
        (),
        ("eccentric emphasis as a progression tool, low volume first (§5.6 [D])",),
    )
    reason = inp.rules.reason(
        "slow_lowering",
        f"Slow-lowering (eccentric) progressions start in week {first_week}.",
        source="CLINICAL_LOGIC.md §5.6 [D], §5.3 phase 3",
        evidence="D",
    )
    return PlanPart((reason,), {"exercises": (*so_far.exercises, planned)})


# ------------------------------------------------------------------------------ the rest
def education(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§1.3, §1.5, §5.9: the education messages (imaging, fat, psychology, self-management)."""
    topics = list(EDUCATION_ALWAYS)
    profile, track = inp.profile, inp.triage.track
    if profile.instability is not None or profile.muscle is not None:
        topics.insert(2, "imaging")
    if so_far.fat.on:
        topics.append("fi_expectation")
    if profile.clinical.startback_risk == "high" or track == "F2":
        topics.append("psych")
    if track == "F3":
        topics.insert(0, "self_management")
    return PlanPart(changes={"education": tuple(topics)})


def actions(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """Carry the triage's actions (referrals, reviews) into the plan; no passive modality."""
    tri = inp.triage
    carried = tuple(
        {
            "code": a.code,
            "kind": a.kind,
            "urgency": a.urgency,
            "source": a.source,
            "evidence": a.evidence,
        }
        for a in tri.actions
    )
    reason = inp.rules.reason(
        "no_passive_modalities",
        "Not offered: " + ", ".join(tri.guideline["not_offered"]) + f" ({tri.jurisdiction}).",
        source=tri.guideline["source"],
        evidence="D",
    )
    return PlanPart((reason,), {"actions": carried})


def schedule(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.2: sessions a week (rule ``sessions_per_week``) on spread-out weekdays."""
    sessions = int(inp.rules["sessions_per_week"])
    days = SESSION_DAYS.get(sessions, tuple(range(min(sessions, 7))))
    return PlanPart(changes={"sessions_per_week": sessions, "exercise_days": days})


def baseline(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.5: the baseline scores of the 6/12-week review (primary measure: ODI, RMDQ, NRS)."""
    c = inp.profile.clinical
    values: dict[str, Any] = {
        k: v
        for k, v in (("odi_pct", c.odi_pct), ("rmdq", c.rmdq), ("nrs", c.nrs), ("psfs", c.psfs))
        if v is not None
    }
    values["primary"] = next((k for k in ("odi_pct", "rmdq", "nrs") if k in values), None)
    values["date"] = inp.profile.date.isoformat() if inp.profile.date else None
    return PlanPart(changes={"baseline": values})


def no_loaded_flexion(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§4.6: a vertebral deformity (triage finding) rules out loaded flexion.

    Exercises that load the spine in flexion are left out, and the clinician is told why;
    the plan is adapted, not blocked (an acute new deformity has stopped the triage at S0).
    """
    from spinestab.care.triage.deformity import NO_LOADED_FLEXION

    levels = inp.triage.findings.get(NO_LOADED_FLEXION) or []
    if not levels:
        return PlanPart()
    kept = tuple(e for e in so_far.exercises if not inp.library[e.id].loaded_flexion)
    left_out = [e.id for e in so_far.exercises if e not in kept]
    note = f"vertebral deformity at {', '.join(levels)}: no loaded flexion (§4.6)"
    kept = tuple(replace(e, clinician_notes=(*e.clinician_notes, note)) for e in kept)
    reason = inp.rules.reason(
        "no_loaded_flexion",
        f"Vertebral deformity at {', '.join(levels)}: no loaded flexion; "
        + (
            f"left out: {', '.join(left_out)}."
            if left_out
            else "none of the planned exercises loads the spine in flexion."
        ),
        "deformity_min_grade",
        source="CLINICAL_LOGIC.md §4.6 clinical use; §5 contraindication notes",
        evidence="D",
    )
    return PlanPart((reason,), {"exercises": kept})


#: The plan, step by step.
PLAN_STEPS = (
    fat_emphasis,
    phases,
    start_stage,
    home_exercises,
    multifidus_activation,
    slow_lowering,
    no_loaded_flexion,
    walking,
    movement_breaks,
    education,
    actions,
    schedule,
    baseline,
)
