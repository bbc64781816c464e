"""Prescription: profile + triage -> a phased, dosed active-care plan.

Phases (motor control -> endurance -> strength and function, CLINICAL_LOGIC.md §5.3), a
weekly schedule, the six home exercises of §5.2 plus walking, movement breaks, specific
multifidus activation and slow lowering; doses by track and profile. Multifidus fatty
infiltration adjusts emphasis and dose (§5.9) and never the track. No passive modality is
ever prescribed (§1.5). No plan exists while an emergency or urgent red flag is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from spinestab.care.config import CareRules, Reason, load_rules
from spinestab.care.dose import Dose, start_dose
from spinestab.care.exercises import LEVELS, Library, load_library
from spinestab.care.profile import StabilityProfile
from spinestab.care.triage import Triage
from spinestab.errors import InputError

__all__ = [
    "HOME_EXERCISES",
    "Plan",
    "PlannedExercise",
    "fi_grade",
    "phase_for_week",
    "prescribe",
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


@dataclass(frozen=True)
class PlannedExercise:
    """One exercise in a plan.

    Attributes
    ----------
    id : str
        Library id.
    level : int
        0-3 (L0 beginner .. L3).
    dose : Dose
    start_week : int
        First programme week (1-based) in which it is done.
    daily : bool
        Done every day (low-load motor control, movement breaks, walking) rather than on
        the exercise days only.
    emphasis : bool
        Emphasised (extensor loading for multifidus fat, §5.9).
    notes : tuple of str
        Patient-facing contraindication message keys (``contra.<code>``) that apply.
    clinician_notes : tuple of str
        Notes for the clinician (English).

    """

    id: str
    level: int
    dose: Dose
    start_week: int = 1
    daily: bool = False
    emphasis: bool = False
    notes: tuple[str, ...] = ()
    clinician_notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "level": LEVELS[self.level],
            "dose": self.dose.to_dict(),
            "start_week": self.start_week,
            "daily": self.daily,
            "emphasis": self.emphasis,
            "notes": list(self.notes),
            "clinician_notes": list(self.clinician_notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "plan") -> PlannedExercise:
        """Validate and build from the dict of :meth:`to_dict`."""
        try:
            level = LEVELS.index(str(data["level"]))
        except (KeyError, ValueError):
            raise InputError(
                "exercise level missing or unknown",
                source=source,
                item=str(data.get("id")),
                value=data.get("level"),
                expected="L0-L3",
            ) from None
        if "id" not in data or "dose" not in data:
            raise InputError("exercise without id or dose", source=source, value=data)
        return cls(
            str(data["id"]),
            level,
            Dose.from_dict(data["dose"], source=source),
            int(data.get("start_week", 1)),
            bool(data.get("daily", False)),
            bool(data.get("emphasis", False)),
            tuple(data.get("notes", ())),
            tuple(data.get("clinician_notes", ())),
        )


@dataclass(frozen=True)
class Plan:
    """A versioned active-care plan (``plan.json``).

    Attributes
    ----------
    version : int
        1 for the first plan; each ``spinestab progress`` run adds one.
    created : datetime.date
        Date the version was made.
    programme_start : datetime.date
        Date of week 1, day 1.
    patient, track : str
    status : {"active", "draft"}
        ``draft`` while the red-flag screen is missing or incomplete, or an earlier positive
        screen is not confirmed as assessed.
    phases : tuple of dict
        ``index``, ``weeks`` [first, last], ``levels`` [lowest, highest], ``focus``.
    sessions_per_week : int
    exercise_days : tuple of int
        Weekdays (0 = Monday) with the exercise session.
    exercises : tuple of PlannedExercise
    walking : dict
        Walking goal from the patient's own baseline.
    movement_breaks : dict
        Break interval and the daily goal from the patient's own static bouts.
    education : tuple of str
        Education message keys (``edu.<code>``).
    actions : tuple of dict
        Triage actions (code, kind, urgency) carried into the plan, e.g. referrals.
    not_offered : tuple of str
        Passive modalities and options the guideline set does not offer.
    emphasis : dict
        Multifidus fat grade and what it changed.
    baseline : dict
        Baseline scores for the reviews (primary measure first).
    reasons : tuple of Reason
        Why the plan looks as it does, with sources; configurable rules marked.
    history : tuple of dict
        Summaries of every earlier version (kept, never overwritten).
    clinician_limits_required : bool
        S2: a clinician sets flexion/extension loading limits before the first session.
    rules_origin : str

    """

    version: int
    created: dt.date
    programme_start: dt.date
    patient: str
    track: str
    status: str
    phases: tuple[dict[str, Any], ...]
    sessions_per_week: int
    exercise_days: tuple[int, ...]
    exercises: tuple[PlannedExercise, ...]
    walking: dict[str, Any]
    movement_breaks: dict[str, Any]
    education: tuple[str, ...]
    actions: tuple[dict[str, Any], ...]
    not_offered: tuple[str, ...]
    emphasis: dict[str, Any]
    baseline: dict[str, Any]
    reasons: tuple[Reason, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    clinician_limits_required: bool = False
    rules_origin: str = ""
    decisions: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    review: dict[str, Any] | None = None
    adherence: dict[str, Any] | None = None

    def exercise(self, exercise_id: str) -> PlannedExercise:
        """Return the planned exercise ``exercise_id``."""
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise KeyError(exercise_id)

    def week_of(self, day: dt.date) -> int:
        """Programme week (1-based) of a calendar date."""
        return (day - self.programme_start).days // 7 + 1

    def schedule(self) -> list[dict[str, Any]]:
        """Return the weekly schedule: per weekday the exercises, walking and breaks."""
        days = []
        for weekday in range(7):
            session = weekday in self.exercise_days
            ids = [
                ex.id
                for ex in self.exercises
                if ex.id not in ("walking", "movement_breaks") and (ex.daily or session)
            ]
            days.append(
                {
                    "weekday": weekday,
                    "session": session,
                    "exercises": ids,
                    "walking": True,
                    "movement_breaks": True,
                }
            )
        return days

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``plan.json``)."""
        return {
            "version": self.version,
            "created": self.created.isoformat(),
            "programme_start": self.programme_start.isoformat(),
            "patient": self.patient,
            "track": self.track,
            "status": self.status,
            "phases": [dict(p) for p in self.phases],
            "sessions_per_week": self.sessions_per_week,
            "exercise_days": list(self.exercise_days),
            "schedule": self.schedule(),
            "exercises": [ex.to_dict() for ex in self.exercises],
            "walking": dict(self.walking),
            "movement_breaks": dict(self.movement_breaks),
            "education": list(self.education),
            "actions": [dict(a) for a in self.actions],
            "not_offered": list(self.not_offered),
            "emphasis": dict(self.emphasis),
            "baseline": dict(self.baseline),
            "clinician_limits_required": self.clinician_limits_required,
            "reasons": [r.to_dict() for r in self.reasons],
            "decisions": [dict(d) for d in self.decisions],
            "review": self.review,
            "adherence": self.adherence,
            "history": [dict(h) for h in self.history],
            "rules_origin": self.rules_origin,
            "note": "Supports decisions; does not diagnose. Rules tagged R or D are "
            "configurable (rules.yaml) and need clinical review.",
        }

    def summary(self) -> dict[str, Any]:
        """Return a compact record of this version for the history of later versions."""
        return {
            "version": self.version,
            "created": self.created.isoformat(),
            "track": self.track,
            "status": self.status,
            "exercises": {
                ex.id: {"level": LEVELS[ex.level], "dose": ex.dose.to_dict()}
                for ex in self.exercises
            },
            "decisions": [dict(d) for d in self.decisions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "plan.json") -> Plan:
        """Validate a ``plan.json`` document and rebuild the plan."""
        required = (
            "version",
            "created",
            "programme_start",
            "patient",
            "track",
            "status",
            "phases",
            "sessions_per_week",
            "exercise_days",
            "exercises",
        )
        if not isinstance(data, dict):
            raise InputError("not a plan", source=source, expected="a plan.json object")
        missing = [k for k in required if k not in data]
        if missing:
            raise InputError(
                "not a plan: missing field(s) " + ", ".join(missing),
                source=source,
                expected="a plan.json written by spinestab plan",
            )
        try:
            created = dt.date.fromisoformat(str(data["created"]))
            start = dt.date.fromisoformat(str(data["programme_start"]))
        except ValueError:
            raise InputError(
                "bad date in plan", source=source, value=data["created"], expected="YYYY-MM-DD"
            ) from None
        reasons = tuple(
            Reason(
                r["code"],
                r["text"],
                r["source"],
                r["evidence"],
                bool(r.get("configurable")),
                tuple(r.get("rules", ())),
            )
            for r in data.get("reasons", ())
        )
        return cls(
            version=int(data["version"]),
            created=created,
            programme_start=start,
            patient=str(data["patient"]),
            track=str(data["track"]),
            status=str(data["status"]),
            phases=tuple(data["phases"]),
            sessions_per_week=int(data["sessions_per_week"]),
            exercise_days=tuple(int(d) for d in data["exercise_days"]),
            exercises=tuple(PlannedExercise.from_dict(e, source=source) for e in data["exercises"]),
            walking=dict(data.get("walking", {})),
            movement_breaks=dict(data.get("movement_breaks", {})),
            education=tuple(data.get("education", ())),
            actions=tuple(data.get("actions", ())),
            not_offered=tuple(data.get("not_offered", ())),
            emphasis=dict(data.get("emphasis", {})),
            baseline=dict(data.get("baseline", {})),
            reasons=reasons,
            history=tuple(data.get("history", ())),
            clinician_limits_required=bool(data.get("clinician_limits_required", False)),
            rules_origin=str(data.get("rules_origin", "")),
            decisions=tuple(data.get("decisions", ())),
            review=data.get("review"),
            adherence=data.get("adherence"),
        )


# ------------------------------------------------------------------------------ helpers
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


def phase_for_week(
    phases: tuple[dict[str, Any], ...] | list[dict[str, Any]], week: int
) -> dict[str, Any]:
    """Return the phase that contains programme week ``week`` (the last one after it ends)."""
    for phase in phases:
        if phase["weeks"][0] <= week <= phase["weeks"][1]:
            return phase
    return phases[-1] if week > phases[-1]["weeks"][1] else phases[0]


def _blocking(profile: StabilityProfile, rules: CareRules) -> bool:
    urgencies = set(rules["blocking_urgencies"])
    return any(f.urgency in urgencies or f.blocks_exercise for f in profile.clinical.red_flags)


def _movement_breaks(profile: StabilityProfile, rules: CareRules) -> dict[str, Any]:
    low, high = (int(x) for x in rules["movement_break_interval_min"])
    move = profile.movement
    if move is None or move.valid_days == 0 or move.longest_static_bout_min is None:
        why = (
            "no wearable data"
            if move is None
            else "no valid wear day in daily.csv"
            if move.valid_days == 0
            else "no static-bout figures on the valid days"
        )
        return {
            "interval_min": low,
            "from_own_data": False,
            "baseline_bouts_over_30min_per_day": None,
            "target_bouts_over_30min_per_day": None,
            "rule": f"{why}: lower end of the 30-45 min interval [D]",
        }
    # Prompt at half the patient's usual longest still spell, kept within 30-45 min and
    # rounded to 5 min [D]; goal: reduce the daily count of > 30 min static bouts.
    half = move.longest_static_bout_min / 2
    interval = int(min(high, max(low, 5 * round(half / 5))))
    bouts = move.static_bouts_over_30min
    target = None if bouts is None else int(bouts * (1 - float(rules["movement_break_reduction"])))
    return {
        "interval_min": interval,
        "from_own_data": True,
        "baseline_bouts_over_30min_per_day": None if bouts is None else round(bouts, 1),
        "baseline_longest_static_bout_min": round(move.longest_static_bout_min, 1),
        "target_bouts_over_30min_per_day": target,
        "valid_days": move.valid_days,
        "rule": "interval = half the median longest static bout, within 30-45 min; goal = "
        "static bouts > 30 min reduced by movement_break_reduction [D]",
    }


def _walking(
    profile: StabilityProfile,
    rules: CareRules,
    level: int,
    lib: Library,
) -> tuple[int, Dose, dict[str, Any]]:
    move = profile.movement
    baseline = move.walking_min if move is not None and move.valid_days else None
    if baseline is not None and baseline >= 30:
        level = max(level, 2)
    dose = start_dose(lib["walking"], level)
    goal = {
        "days_per_week": 5,
        "start_min_per_day": (dose.minutes or 0) * (dose.per_day or 1),
        "weekly_increase": float(rules["walking_weekly_increase"]),
        "target_min_per_week": int(rules["weekly_activity_target_min"]),
        "baseline_walking_min_per_day": None if baseline is None else round(baseline, 1),
        "baseline_steps_per_day": (
            None if move is None or move.steps is None else round(move.steps)
        ),
        "source": rules.rule("weekly_activity_target_min").source,
    }
    return level, dose, goal


# ------------------------------------------------------------------------------ prescribe
def prescribe(
    profile: StabilityProfile,
    tri: Triage,
    *,
    rules: CareRules | None = None,
    library: Library | None = None,
    start: dt.date | None = None,
    created: dt.date | None = None,
) -> Plan | None:
    """Build the first plan version for a triaged profile.

    Parameters
    ----------
    profile : StabilityProfile
        The patient's profile.
    tri : Triage
        The triage of the same profile.
    rules : CareRules, optional
        Care rules (bundled defaults if omitted).
    library : Library, optional
        Exercise library (bundled if omitted).
    start : datetime.date, optional
        Programme start (default: the profile date, else today).
    created : datetime.date, optional
        Version date (default: ``start``).

    Returns
    -------
    Plan or None
        None when no exercise plan may exist: track S0 or any open emergency / same-day /
        urgent red flag (checked here again, whatever the triage says).

    """
    rules = rules or load_rules()
    lib = library or load_library()
    if not tri.plan_allowed or tri.track == "S0" or _blocking(profile, rules):
        return None
    h = profile.clinical.history
    start = start or profile.date or dt.date.today()
    reasons: list[Reason] = []

    # ---- multifidus fat (§5.9) ------------------------------------------------------------
    fat = profile.muscle.multifidus_fat_pct if profile.muscle else None
    grade = fi_grade(fat, rules=rules)
    asym_rule = rules["fi_asymmetry_pct"]
    asym = profile.muscle.multifidus_asymmetry_pct if profile.muscle else None
    asym_flag = asym_rule is not None and asym is not None and asym >= float(asym_rule)
    emphasis_on = (grade or 0) >= 1 or asym_flag
    fi2 = grade == 2
    emphasis = {
        "multifidus_fat_pct": fat,
        "fi_grade": grade,
        "fat_method": profile.muscle.fat_method if profile.muscle else None,
        "asymmetry_pct": asym,
        "extensor_emphasis": emphasis_on,
        "lower_start_longer_phases": fi2,
        "changes": [],
    }
    if emphasis_on:
        emphasis["changes"] += [
            "extensor exercises get one extra set where the range allows",
            "specific multifidus activation from week 1",
            "slow-lowering (hip hinge) from phase 2",
        ]
        reasons.append(
            rules.reason(
                "fi_extensor_emphasis",
                f"Multifidus fat {fat if fat is not None else '?'} % (grade {grade}"
                f"{', asymmetry ' + format(asym, '.0f') + ' %' if asym_flag else ''}): emphasise "
                "progressive extensor loading and early multifidus cues; reassess with PROMs, not "
                "MRI.",
                "fi_grade_cutoffs_pct",
                "fi_asymmetry_pct",
                source="CLINICAL_LOGIC.md §5.9 exercise-choice rules (not a guideline)",
                evidence="D",
            )
        )
    if fi2:
        emphasis["changes"] += [
            "lower starting load (L0)",
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

    # ---- phases ----------------------------------------------------------------------------
    weeks = rules["phase_weeks_fi2"] if fi2 else rules["phase_weeks"]
    levels = rules["phase_levels"]
    phases = tuple(
        {
            "index": i + 1,
            "weeks": list(weeks[i]),
            "levels": list(levels[i]),
            "focus": PHASE_FOCUS[i],
        }
        for i in range(3)
    )
    reasons.append(
        rules.reason(
            "phases",
            "Phases: "
            + "; ".join(
                f"{p['index']}: weeks {p['weeks'][0]}-{p['weeks'][1]}, L{p['levels'][0]}-"
                f"L{p['levels'][1]}"
                for p in phases
            )
            + ".",
            "phase_weeks_fi2" if fi2 else "phase_weeks",
            "phase_levels",
        )
    )

    # ---- starting level by track [D] --------------------------------------------------------
    start_level = 1 if tri.track == "F3" and not fi2 else 0
    reasons.append(
        rules.reason(
            "start_level",
            f"Home exercises start at L{start_level} "
            f"({'standard level for low risk' if start_level else 'motor-control start'}).",
            "phase_levels",
            source="CLINICAL_LOGIC.md §5.3 phase 1 (L0-L1)",
            evidence="D",
        )
    )

    conditions = set(h.conditions)
    exercises: list[PlannedExercise] = []
    for ex_id in HOME_EXERCISES:
        ex = lib[ex_id]
        notes = [f"contra.{c}" for c in ex.contraindications]
        cnotes = []
        if ex.supine and "pregnancy" in conditions:
            reasons.append(
                rules.reason(
                    f"pregnancy_{ex_id}",
                    f"{ex_id} left out: lying on the back after the 1st "
                    "trimester (§5.2 safety note 3) [R].",
                    source="CLINICAL_LOGIC.md §5.2 note 3",
                    evidence="R",
                )
            )
            continue
        if ex_id == "curl_up" and "osteoporosis" in conditions:
            cnotes.append("osteoporosis: clinician clearance before the curl-up (§5.2 note 4)")
        dose = start_dose(ex, start_level, endurance=fi2, extra_set=emphasis_on and ex.extensor)
        if "hypertension" in conditions and dose.type == "hold" and (dose.hold_s or 0) > 10:
            dose = replace(dose, hold_s=10)
        if conditions & {"recent_spinal_surgery", "implanted_stimulator"}:
            notes.append("contra.surgery_restrictions")
            cnotes.append(
                "recent spinal surgery / implanted stimulator: surgeon's "
                "restrictions first (§5.2 note 6)"
            )
        relevant = {
            "pregnancy_supine": "pregnancy",
            "osteoporosis_clearance": "osteoporosis",
            "hypertension_holds": "hypertension",
            "shoulder_wrist_variant": "shoulder_wrist_pain",
            "surgery_restrictions": None,
        }
        shown = tuple(
            n
            for n in notes
            if relevant.get(n.split(".", 1)[1]) in conditions or n == "contra.surgery_restrictions"
        )
        exercises.append(
            PlannedExercise(
                ex_id,
                start_level,
                dose,
                1,
                False,
                emphasis_on and ex.extensor,
                shown,
                tuple(cnotes),
            )
        )

    motor_tracks = tri.track in ("F1", "F2", "S1", "S2")
    if motor_tracks or emphasis_on:
        ex = lib["multifidus_activation"]
        exercises.insert(
            0,
            PlannedExercise(
                "multifidus_activation",
                0,
                start_dose(ex, 0),
                1,
                True,
                emphasis_on,
                (),
                ("Hides 2001 specific multifidus training [V]; daily low-load motor control",),
            ),
        )
        reasons.append(
            rules.reason(
                "multifidus_activation",
                "Specific multifidus activation from week 1 "
                f"({'motor-control track' if motor_tracks else 'multifidus fat emphasis'}).",
                source="Hides JA et al., Spine 2001 [V]; CLINICAL_LOGIC.md §5.1, §5.9",
                evidence="V/D",
            )
        )
    ecc_start = phases[1]["weeks"][0] if emphasis_on else phases[2]["weeks"][0]
    ecc_level = phases[1]["levels"][0] if emphasis_on else phases[2]["levels"][0]
    exercises.append(
        PlannedExercise(
            "slow_lowering",
            0 if fi2 else min(ecc_level, 1),
            start_dose(lib["slow_lowering"], 0 if fi2 else min(ecc_level, 1), endurance=fi2),
            ecc_start,
            False,
            emphasis_on,
            (),
            ("eccentric emphasis as a progression tool, low volume first (§5.6 [D])",),
        )
    )
    reasons.append(
        rules.reason(
            "slow_lowering",
            f"Slow-lowering (eccentric) progressions start in week {ecc_start}.",
            source="CLINICAL_LOGIC.md §5.6 [D], §5.3 phase 3",
            evidence="D",
        )
    )

    walk_level, walk_dose, walking = _walking(profile, rules, start_level, lib)
    exercises.append(PlannedExercise("walking", walk_level, walk_dose, 1, True))
    breaks = _movement_breaks(profile, rules)
    exercises.append(
        PlannedExercise(
            "movement_breaks",
            0,
            replace(start_dose(lib["movement_breaks"], 0), interval_min=breaks["interval_min"]),
            1,
            True,
        )
    )
    reasons.append(
        rules.reason(
            "movement_breaks",
            f"Movement-break interval {breaks['interval_min']} min ({breaks['rule']}).",
            "movement_break_interval_min",
            "movement_break_reduction",
        )
    )

    # ---- education, actions, exclusions ------------------------------------------------------
    education = list(EDUCATION_ALWAYS)
    if profile.instability is not None or profile.muscle is not None:
        education.insert(2, "imaging")
    if emphasis_on:
        education.append("fi_expectation")
    if profile.clinical.startback_risk == "high" or tri.track == "F2":
        education.append("psych")
    if tri.track == "F3":
        education.insert(0, "self_management")
    actions = tuple(
        {
            "code": a.code,
            "kind": a.kind,
            "urgency": a.urgency,
            "source": a.source,
            "evidence": a.evidence,
        }
        for a in tri.actions
    )
    reasons.append(
        rules.reason(
            "no_passive_modalities",
            "Not offered: " + ", ".join(tri.guideline["not_offered"]) + f" ({tri.jurisdiction}).",
            source=tri.guideline["source"],
            evidence="D",
        )
    )
    sessions = int(rules["sessions_per_week"])
    days = {2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}.get(
        sessions, tuple(range(min(sessions, 7)))
    )
    baseline = {
        k: v
        for k, v in (
            ("odi_pct", profile.clinical.odi_pct),
            ("rmdq", profile.clinical.rmdq),
            ("nrs", profile.clinical.nrs),
            ("psfs", profile.clinical.psfs),
        )
        if v is not None
    }
    primary = next((k for k in ("odi_pct", "rmdq", "nrs") if k in baseline), None)
    baseline["primary"] = primary
    baseline["date"] = profile.date.isoformat() if profile.date else None
    return Plan(
        version=1,
        created=created or start,
        programme_start=start,
        patient=profile.patient,
        track=tri.track,
        status="draft" if tri.draft else "active",
        phases=phases,
        sessions_per_week=sessions,
        exercise_days=days,
        exercises=tuple(exercises),
        walking=walking,
        movement_breaks=breaks,
        education=tuple(education),
        actions=actions,
        not_offered=tuple(tri.guideline["not_offered"]),
        emphasis=emphasis,
        baseline=baseline,
        reasons=tuple(reasons),
        clinician_limits_required=tri.track == "S2",
        rules_origin=rules.origin,
    )
