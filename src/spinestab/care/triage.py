"""Triage by the stabilization hierarchy (CLINICAL_LOGIC.md §4.5 and §8).

Tracks, checked in this order:

* **S0** red flag: an open emergency / same-day / urgent red flag; its action, no plan.
* **S1** structural, refer: surgical *consultation* (§8 step 3, §4.5).
* **S2** structural, monitored conservative care.
* **F2** STarT Back high risk: F1 plus a psychologically informed approach.
* **F1** functional instability / motor control (movement-control signs, Hicks rule, or
  STarT Back medium risk).
* **F3** STarT Back low risk: advice, reassurance, self-management, home programme.

Every decision carries reasons with source and evidence tag; [R] and [D] rules are marked
configurable (``rules.yaml``). Multifidus fat never makes a structural track (§5.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spinestab.care.config import CareRules, Reason, load_rules
from spinestab.care.profile import LevelFinding, StabilityProfile

__all__ = ["TRACKS", "Action", "Triage", "guideline_set", "response_status", "triage"]

Track = Literal["S0", "S1", "S2", "F1", "F2", "F3"]

TRACKS: dict[str, str] = {
    "S0": "Red flag: escalate, no exercise programme",
    "S1": "Structural: surgical consultation",
    "S2": "Structural: monitored conservative care",
    "F1": "Functional: motor control -> endurance -> strength",
    "F2": "Functional, psychosocially driven: F1 plus psychologically informed care",
    "F3": "Low risk: advice, reassurance, self-management",
}

_HIERARCHY = "CLINICAL_LOGIC.md §4.5 stabilisation hierarchy and §8 triage algorithm"
_FHIR_PRIORITY = {"emergency": "stat", "same_day": "asap", "urgent": "urgent", "routine": "routine"}


@dataclass(frozen=True)
class Action:
    """One thing to do, for clinician and patient.

    Attributes
    ----------
    code : str
        Machine code (also the key of the patient-facing message, ``action.<code>``).
    kind : str
        ``escalation``, ``referral``, ``programme``, ``review``, ``screen`` or ``advice``.
    urgency : str
        ``emergency``, ``same_day``, ``urgent`` or ``routine``.
    text : str
        Clinician-facing text (English).
    source, evidence : str
        Source and evidence tag.
    configurable : bool
        True when the rule behind it is [R] or [D].

    """

    code: str
    kind: str
    urgency: str
    text: str
    source: str
    evidence: str
    configurable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (with the FHIR ServiceRequest priority)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "urgency": self.urgency,
            "fhir_priority": _FHIR_PRIORITY.get(self.urgency, "routine"),
            "text": self.text,
            "source": self.source,
            "evidence": self.evidence,
            "configurable": self.configurable,
        }


@dataclass(frozen=True)
class Triage:
    """The triage decision.

    Attributes
    ----------
    track : {"S0", "S1", "S2", "F1", "F2", "F3"}
    plan_allowed : bool
        False while an emergency or urgent red flag is open (track S0).
    actions : tuple of Action
    reasons : tuple of Reason
        Why the track was chosen (and why others were not), each with its source.
    jurisdiction : {"NICE", "ACP"}
    guideline : dict
        The guideline set in force: options offered and not offered.
    findings : dict
        The structural and functional findings the decision used.
    draft : bool
        True when the red-flag screen is missing: the plan is a draft until it is done.

    """

    track: Track
    plan_allowed: bool
    actions: tuple[Action, ...]
    reasons: tuple[Reason, ...]
    jurisdiction: str
    guideline: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    draft: bool = False
    rules_origin: str = ""

    @property
    def action_codes(self) -> tuple[str, ...]:
        """Codes of all actions, in order."""
        return tuple(a.code for a in self.actions)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """Codes of all reasons, in order."""
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``triage.json``)."""
        configurable = sorted({n for r in self.reasons if r.configurable for n in r.rules})
        return {
            "track": self.track,
            "track_label": TRACKS[self.track],
            "plan_allowed": self.plan_allowed,
            "draft": self.draft,
            "jurisdiction": self.jurisdiction,
            "actions": [a.to_dict() for a in self.actions],
            "reasons": [r.to_dict() for r in self.reasons],
            "configurable_rules_used": configurable,
            "guideline": self.guideline,
            "findings": self.findings,
            "rules_origin": self.rules_origin,
            "note": "Supports decisions; does not diagnose. Rules tagged R or D are "
            "configurable (rules.yaml) and need clinical review.",
        }


# ------------------------------------------------------------------------------ guideline
_NICE = "NICE NG59 (2016, updated 2020), non-invasive treatment (CLINICAL_LOGIC.md §1.1) [R]"
_ACP = "ACP 2017 (Qaseem et al., Ann Intern Med 2017;166:514-30; CLINICAL_LOGIC.md §1.2) [V]"
_SYNTHESIS = "CLINICAL_LOGIC.md §1.5 synthesis: passive modalities excluded from the plan [D]"


def guideline_set(jurisdiction: str, *, chronic: bool | None) -> dict[str, Any]:
    """Return the options a guideline set offers and does not offer.

    Parameters
    ----------
    jurisdiction : {"NICE", "ACP"}
        Which guideline applies where the guidelines disagree (§1.2, [D] setting).
    chronic : bool or None
        Pain for more than 12 weeks (ACP definitions); None when unknown.

    Returns
    -------
    dict
        ``name``, ``source``, ``not_offered`` (never in the plan), ``adjunct_options``
        (may be discussed with the clinician, never as the only treatment), ``notes``.

    """
    excluded_always = [
        "tens",
        "ultrasound",
        "interferential_therapy",
        "traction",
        "belts_corsets",
        "foot_orthotics",
        "bed_rest",
    ]
    if jurisdiction == "ACP":
        if chronic is False:
            adjuncts = ["superficial_heat", "massage", "acupuncture", "spinal_manipulation"]
            note = "ACP rec. 1 (acute/subacute): non-drug first; heat (moderate quality)."
        else:
            adjuncts = [
                "multidisciplinary_rehabilitation",
                "acupuncture",
                "mindfulness_based_stress_reduction",
                "tai_chi",
                "yoga",
                "progressive_relaxation",
                "cbt",
                "spinal_manipulation",
            ]
            note = "ACP rec. 2 (chronic): exercise and motor control exercise first-line."
        return {
            "name": "ACP",
            "source": _ACP,
            "not_offered": excluded_always,
            "adjunct_options": adjuncts,
            "notes": [
                note,
                "Passive modalities stay out of the plan by product rule (" + _SYNTHESIS + ").",
            ],
        }
    return {
        "name": "NICE",
        "source": _NICE,
        "not_offered": [*excluded_always, "rocker_sole_shoes", "acupuncture", "pens"],
        "adjunct_options": [
            "manual_therapy_with_exercise",
            "cbt_with_exercise",
            "group_exercise_programme",
        ],
        "notes": [
            "Manual therapy and psychological therapy only as part of a package that "
            "includes exercise.",
            "Acupuncture: do not offer (NICE NG59); ACP 2017 "
            "recommends it: the jurisdiction setting decides (§1.2 [D]).",
        ],
    }


# ------------------------------------------------------------------------------ helpers
def response_status(profile: StabilityProfile) -> tuple[str | None, str]:
    """Return the response to previous active care and how it was established.

    ``history.previous_response`` wins; otherwise the MIC status of the primary measure
    between the first and latest forms (ODI, else RMDQ, else NRS; §2.6, §8 step 6).
    """
    c = profile.clinical
    if c.history.previous_response:
        return c.history.previous_response, "history.json previous_response"
    for instrument in ("odi", "rmdq", "nrs"):
        if instrument in c.change:
            status = c.change[instrument]["status"]
            return (
                "responder" if status == "improved" else "non_responder",
                f"{instrument} change: {c.change[instrument]['rule']}",
            )
    return None, "unknown"


def _slip_present(level: LevelFinding, rules: CareRules) -> bool:
    """Whether a segment has a slip: the producer's grade 0 ("no listhesis") always wins.

    ``spinestab instability`` gives grade 0 below its listhesis floor (3 mm, or 8 % when
    magnification is unknown), so a 3.5 mm slip on an uncorrected film can be grade 0: the
    mm value alone must not overrule it. Without a grade the ``slip_present_min_mm`` rule
    decides.
    """
    if level.meyerding_grade == 0:
        return False
    min_mm = float(rules["slip_present_min_mm"])
    if level.slip_mm is not None:
        return abs(level.slip_mm) >= min_mm
    return (level.meyerding_grade or 0) >= 1


def _slip_label(level: LevelFinding) -> str:
    """Name a slip with its direction and grade, e.g. ``L4-L5 (anterolisthesis, grade 2)``."""
    what = [level.listhesis] if level.listhesis not in (None, "none") else []
    if level.meyerding_grade is not None:
        what.append(f"grade {level.meyerding_grade}")
    return f"{level.level} ({', '.join(what)})" if what else level.level


def _hicks(profile: StabilityProfile, rules: CareRules) -> tuple[int, int, list[str]]:
    h = profile.clinical.history
    checks = {
        "age_below": None if h.age is None else h.age < rules["hicks_age_below"],
        "slr_above": None if h.slr_deg is None else h.slr_deg > rules["hicks_slr_above_deg"],
        "aberrant_movement": h.aberrant_movement,
        "prone_instability_test": h.prone_instability_test,
    }
    positive = [k for k, v in checks.items() if v]
    known = sum(v is not None for v in checks.values())
    return len(positive), known, positive


# ------------------------------------------------------------------------------ triage
def triage(
    profile: StabilityProfile, *, rules: CareRules | None = None, jurisdiction: str = "NICE"
) -> Triage:
    """Assign the track of the stabilization hierarchy, with actions and reasons.

    Parameters
    ----------
    profile : StabilityProfile
        The patient's profile.
    rules : CareRules, optional
        Thresholds and settings (bundled ``rules.yaml`` by default).
    jurisdiction : {"NICE", "ACP"}
        Guideline set where guidelines disagree.

    Returns
    -------
    Triage

    """
    rules = rules or load_rules()
    if jurisdiction not in ("NICE", "ACP"):
        from spinestab.errors import InputError

        raise InputError(
            "unknown jurisdiction", item="jurisdiction", value=jurisdiction, expected="NICE or ACP"
        )
    c = profile.clinical
    h = c.history
    reasons: list[Reason] = []
    actions: list[Action] = []
    chronic = (
        None if h.pain_duration_weeks is None else h.pain_duration_weeks > rules["chronic_weeks"]
    )
    guideline = guideline_set(jurisdiction, chronic=chronic)
    findings: dict[str, Any] = {}

    # ---- 1. red flags (§3, §8 step 1) --------------------------------------------------
    blocking_urgencies = set(rules["blocking_urgencies"])
    blocking = [f for f in c.red_flags if f.urgency in blocking_urgencies or f.blocks_exercise]
    for flag in c.red_flags:
        actions.append(
            Action(
                f"red_flag_{flag.urgency}",
                "escalation",
                flag.urgency,
                f"{flag.condition}: {flag.action}",
                flag.source,
                flag.evidence,
                flag.evidence in ("R", "D"),
            )
        )
    findings["red_flags"] = [f.to_dict() for f in c.red_flags]
    if blocking:
        for flag in blocking:
            reasons.append(
                rules.reason(
                    f"red_flag_{flag.condition}",
                    f"Open {flag.urgency.replace('_', '-')} red flag: {flag.condition} "
                    f"(items: {', '.join(flag.items)}). Red flags override every other rule.",
                    "blocking_urgencies",
                    source=flag.source,
                    evidence=flag.evidence,
                )
            )
        actions.append(
            Action(
                "no_exercise_plan",
                "escalation",
                blocking[0].urgency,
                "No exercise plan while the red flag is open; re-screen after the escalation.",
                rules.rule("blocking_urgencies").source,
                "D",
                True,
            )
        )
        return Triage(
            "S0",
            False,
            tuple(actions),
            tuple(reasons),
            jurisdiction,
            guideline,
            findings,
            draft=False,
            rules_origin=rules.origin,
        )
    for flag in c.red_flags:
        reasons.append(
            rules.reason(
                f"routine_flag_{flag.condition}",
                f"Routine red-flag action for {flag.condition}; the programme may continue.",
                source=flag.source,
                evidence=flag.evidence,
            )
        )
    draft = False
    if not c.red_flag_screen and rules["red_flag_screen_required"]:
        draft = True
        actions.append(
            Action(
                "complete_red_flag_screen",
                "screen",
                "routine",
                "No red-flag screen on file: ask the red-flag questions before "
                "the plan starts; until then the plan is a draft.",
                rules.rule("red_flag_screen_required").source,
                "D",
                True,
            )
        )
        reasons.append(
            rules.reason(
                "no_red_flag_screen", "No red-flag screen on file.", "red_flag_screen_required"
            )
        )
    elif c.red_flag_screen and not c.red_flag_screen_complete:
        actions.append(
            Action(
                "complete_red_flag_screen",
                "screen",
                "routine",
                "Unanswered red-flag questions: ask them before the plan starts.",
                rules.rule("red_flag_screen_required").source,
                "D",
                True,
            )
        )

    # A blocking flag on an earlier screen that the latest screen no longer shows: named,
    # and the plan stays a draft until a clinician confirms it was assessed (§3: red flags
    # override every other rule; a later negative screen alone does not say it was assessed).
    screens = [s for s in c.scores if s.instrument == "redflags"]
    latest_date = max((str(s.date) for s in screens), default=None)
    earlier = [
        (str(s.date), a)
        for s in screens
        if str(s.date) != latest_date
        for a in s.actions
        if a.urgency in blocking_urgencies or a.blocks_exercise
    ]
    if earlier:
        draft = True
        listed = "; ".join(
            f"{date}: {a.urgency.replace('_', '-')} {a.condition} (items: {', '.join(a.items)})"
            for date, a in earlier
        )
        actions.append(
            Action(
                "confirm_earlier_red_flag",
                "screen",
                "routine",
                f"An earlier red-flag screen was positive ({listed}); the latest screen "
                f"({latest_date}) is not. Confirm that the earlier flag was assessed before "
                "the plan starts; until then the plan is a draft.",
                rules.rule("red_flag_screen_required").source,
                "D",
                True,
            )
        )
        reasons.append(
            rules.reason(
                "earlier_red_flag",
                f"Earlier positive red-flag screen ({listed}); the latest screen "
                f"({latest_date}) is negative for it.",
                "red_flag_screen_required",
            )
        )

    # ---- 2. stratify (§2.1) --------------------------------------------------------------
    risk = c.startback_risk
    findings["startback_risk"] = risk

    # ---- 3. structural screen (§4, §8 step 3) -------------------------------------------
    status, status_from = response_status(profile)
    weeks = h.active_care_weeks
    failed_care = (
        weeks is not None
        and weeks >= rules["failed_active_care_weeks"]
        and status == "non_responder"
    )
    # §8 step 3 counts the weeks only: an undocumented response counts as failed for S1
    # (rule unknown_response_counts_as_failed [D]); a documented responder never does.
    undocumented_weeks = (
        weeks is not None
        and weeks >= rules["failed_active_care_weeks"]
        and status is None
        and bool(rules["unknown_response_counts_as_failed"])
    )
    deficit = bool(h.neuro_deficit)
    concordant = h.concordant_symptoms
    findings.update(
        {
            "active_care_weeks": weeks,
            "previous_response": status,
            "previous_response_from": status_from,
            "failed_active_care": failed_care,
            "neuro_deficit": h.neuro_deficit,
            "concordant_symptoms": concordant,
        }
    )
    track: Track | None = None
    inst = profile.instability
    if inst is not None:
        slips = [lvl for lvl in inst.levels if _slip_present(lvl, rules)]
        grade = inst.max_grade or 0
        high_grade = grade >= int(rules["high_grade_meyerding"])
        progression = bool(h.slip_progression)
        unstable = [lvl.level for lvl in inst.levels if lvl.verdict == "unstable"]
        borderline = [lvl.level for lvl in inst.levels if lvl.verdict == "borderline"]
        resting = [lvl.level for lvl in inst.levels if lvl.static_verdict == "unstable"]
        structural = bool(slips or unstable or borderline or high_grade or progression)
        findings["structural"] = {
            "slip_levels": [lvl.level for lvl in slips],
            "slips": [
                {
                    "level": lvl.level,
                    "listhesis": lvl.listhesis,
                    "meyerding_grade": lvl.meyerding_grade,
                    "slip_mm": lvl.slip_mm,
                    "slip_pct": lvl.slip_pct,
                }
                for lvl in slips
            ],
            "max_meyerding_grade": inst.max_grade,
            "high_grade": high_grade,
            "slip_progression": progression,
            "unstable_levels": unstable,
            "borderline_levels": borderline,
            "resting_film_unstable_levels": resting,
            "structural_finding": structural,
        }
        s1_criterion = high_grade or progression or bool(unstable and concordant)
        no_wait = (not rules["s1_structural_requires_waiting"]) and (high_grade or progression)
        if s1_criterion and (failed_care or undocumented_weeks or deficit or no_wait):
            track = "S1"
            what = []
            if high_grade:
                what.append(f"Meyerding grade {grade} (high grade)")
            if progression:
                what.append("documented slip progression")
            if unstable and concordant:
                what.append(
                    f"dynamic instability at {', '.join(unstable)} with concordant symptoms"
                )
            why = (
                "a neurological deficit"
                if deficit
                else f"{weeks:g} weeks of failed active care"
                if failed_care
                else f"{weeks:g} weeks of active care whose response is not documented "
                "(§8 step 3 counts the weeks; rule unknown_response_counts_as_failed)"
                if undocumented_weeks
                else "no waiting for a high-grade or progressing slip (§4.4 option)"
            )
            reasons.append(
                rules.reason(
                    "s1_structural",
                    f"S1: {'; '.join(what)}, with {why}.",
                    "high_grade_meyerding",
                    "failed_active_care_weeks",
                    "s1_structural_requires_waiting",
                    *(("unknown_response_counts_as_failed",) if undocumented_weeks else ()),
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
        elif structural and deficit:
            track = "S1"
            reasons.append(
                rules.reason(
                    "s1_neuro_deficit",
                    "S1: structural finding with a neurological deficit "
                    "(§4.5 S1: 'or any neuro deficit').",
                    "slip_present_min_mm",
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
        elif (
            structural
            and concordant
            and failed_care
            and rules["s2_escalation_concordant_after_failed_care"]
        ):
            track = "S1"
            reasons.append(
                rules.reason(
                    "s2_escalation_failed_care",
                    "S1: structural finding (slip at "
                    f"{', '.join(map(_slip_label, slips)) or '-'}"
                    f"; dynamic {', '.join(unstable + borderline) or 'none'}) with concordant "
                    f"symptoms and {weeks:g} weeks of active care without reaching the MIC "
                    f"({status_from}): §4.5 S2 says refer.",
                    "s2_escalation_concordant_after_failed_care",
                    "failed_active_care_weeks",
                    "slip_present_min_mm",
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
        elif structural:
            track = "S2"
            pending = []
            if s1_criterion and status == "responder":
                pending.append(
                    "the S1 structural criterion is met but active care reached the MIC "
                    f"(responder, {status_from}) and there is no neurological deficit"
                )
            elif s1_criterion:
                pending.append(
                    "the S1 structural criterion is met but active care has not "
                    f"yet failed for {rules['failed_active_care_weeks']} weeks "
                    "and there is no neurological deficit"
                )
            if concordant is None:
                pending.append("symptom concordance is unknown")
            elif not concordant:
                pending.append("symptoms are not concordant with the finding")
            if not failed_care:
                pending.append(
                    f"active care so far: {weeks if weeks is not None else '?'} "
                    f"weeks, response {status or 'unknown'}"
                )
            reasons.append(
                rules.reason(
                    "s2_structural",
                    "S2: structural finding (slip at "
                    f"{', '.join(map(_slip_label, slips)) or '-'}, grade {grade}; dynamic "
                    f"{', '.join(unstable + borderline) or 'none'}) without S1 criteria: "
                    + "; ".join(pending)
                    + ". Reassess at 12 weeks.",
                    "slip_present_min_mm",
                    "failed_active_care_weeks",
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
        else:
            reasons.append(
                rules.reason(
                    "imaging_not_structural",
                    "Imaging measures present but without a slip, dynamic instability or "
                    "progression: degenerative findings do not change the track (§1.3, §8).",
                    "slip_present_min_mm",
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
        if resting:
            reasons.append(
                rules.reason(
                    "resting_film_criteria",
                    f"Resting-film instability criteria met at {', '.join(resting)} "
                    "(instability.json static_verdict): shown, not counted as dynamic "
                    "instability; the structural tracks use slips and flexion-extension "
                    "findings (§8 step 3).",
                    source=_HIERARCHY,
                    evidence="D",
                )
            )
    if profile.muscle is not None and profile.muscle.multifidus_fat_pct is not None:
        reasons.append(
            rules.reason(
                "fi_not_structural",
                f"Multifidus fat {profile.muscle.multifidus_fat_pct:.0f} % modifies the plan's "
                "emphasis and dose only; it never makes a structural finding (§5.9).",
                "fi_grade_cutoffs_pct",
                source="CLINICAL_LOGIC.md §5.9",
                evidence="D",
            )
        )

    # ---- 4. functional track (§4.5, §8 step 4) ------------------------------------------
    hicks, hicks_known, hicks_pos = _hicks(profile, rules)
    signs = [s for s in ("aberrant_movement", "prone_instability_test") if getattr(h, s)]
    movement_signs = (
        bool(signs and rules["movement_signs_two_item"]) or hicks >= rules["hicks_min_positive"]
    )
    findings["movement_control"] = {
        "signs": signs,
        "hicks_positive": hicks_pos,
        "hicks_known": hicks_known,
        "movement_signs": movement_signs,
    }
    if movement_signs:
        reasons.append(
            rules.reason(
                "movement_control_signs",
                f"Movement-control signs: {', '.join(signs) or 'none'}; Hicks rule "
                f"{hicks}/{hicks_known} known predictors positive ({', '.join(hicks_pos) or '-'}).",
                "movement_signs_two_item",
                "hicks_min_positive",
            )
        )
    if risk is not None:
        reasons.append(
            rules.reason(
                f"sbst_{risk}",
                f"STarT Back {risk} risk (total {c.startback_total:g}, psychosocial "
                f"{c.startback_psychosocial}).",
                source="Keele STarT Back, Hill JC et al. 2008/2011; NICE NG59 1.1.2-1.1.3 "
                "(CLINICAL_LOGIC.md §1.1, §1.6, §2.1)",
                evidence="V",
            )
        )
    if track is None:
        if risk == "high":
            track = "F2"
        elif risk == "low":
            track = rules["low_risk_with_movement_signs_track"] if movement_signs else "F3"
            if movement_signs:
                reasons.append(
                    rules.reason(
                        "low_risk_movement_signs",
                        f"Low risk but movement-control signs: track {track}.",
                        "low_risk_with_movement_signs_track",
                    )
                )
        elif risk == "medium":
            track = "F1"
        else:
            track = "F1" if movement_signs else rules["unknown_risk_track"]
            reasons.append(
                rules.reason(
                    "sbst_missing",
                    "No complete STarT Back: risk group unknown.",
                    "unknown_risk_track",
                )
            )

    # ---- actions per track ---------------------------------------------------------------
    def act(
        code: str, kind: str, text: str, source: str, evidence: str, urgency: str = "routine"
    ) -> None:
        actions.append(
            Action(
                code,
                kind,
                urgency,
                text,
                source,
                evidence,
                evidence in ("R", "D") or "D" in evidence,
            )
        )

    if track == "S1":
        act(
            "surgical_consultation",
            "referral",
            "Spine surgical consultation "
            "(ServiceRequest); a consultation, not a decision to operate. NICE NG59: no "
            "fusion for non-specific LBP outside trials.",
            _HIERARCHY + "; NICE NG59 [R]",
            "D",
        )
        act(
            "continue_active_care",
            "programme",
            "Continue graded active care meanwhile unless the surgeon advises otherwise.",
            _HIERARCHY,
            "D",
        )
    elif track == "S2":
        act(
            "monitored_conservative_care",
            "programme",
            "Active care as in F1 with extension/flexion loading limits set by a clinician.",
            _HIERARCHY,
            "D",
        )
        act(
            "clinician_loading_limits",
            "review",
            "Clinician to set loading limits before the first session.",
            _HIERARCHY,
            "D",
        )
        act(
            "review_12_weeks",
            "review",
            "Reassess at 12 weeks; refer if the MIC is not reached and symptoms are concordant.",
            _HIERARCHY,
            "D",
        )
    elif track == "F3":
        act(
            "self_management",
            "advice",
            "Advice, reassurance, education pack and a home "
            "programme; keep active (STarT Back low-risk pathway).",
            "Hill 2011 pathways [R]; NICE NG59 1.1.3 [V]",
            "V/R",
        )
    if track in ("F1", "F2"):
        act(
            "motor_control_programme",
            "programme",
            "Motor control -> endurance -> "
            "strength programme (physiotherapy; exercise with or without manual therapy).",
            _HIERARCHY + "; Saragiotto 2016, Owen 2020 (§5.1)",
            "D/V",
        )
    if risk == "high":
        if jurisdiction == "NICE":
            src, text = (
                _NICE + "; Hill 2011 high-risk pathway [R]",
                "Psychologically informed physiotherapy / combined physical and "
                "psychological programme (CBT approach, preferably in a group).",
            )
        else:
            src, text = (
                _ACP + "; Hill 2011 high-risk pathway [R]",
                "Psychologically informed physiotherapy; CBT and operant therapy (ACP rec. 2).",
            )
        act("psychologically_informed_care", "referral", text, src, "R")
    act(
        "home_programme",
        "programme",
        "Six-exercise home programme L0-L3 with walking and "
        "movement breaks; exercise is the core of every non-red-flag plan.",
        "CLINICAL_LOGIC.md §5.2 [D], §1.5 [D]; WHO 2023 structured exercise [V]",
        "D",
    )
    act(
        "education",
        "advice",
        "Education: stay active within tolerance, pain monitoring, "
        "imaging findings are common without pain.",
        "CLINICAL_LOGIC.md §1.3, §1.5 [D]; WHO 2023 education [V]",
        "D",
    )
    act(
        "no_passive_modalities",
        "advice",
        "Not offered: " + ", ".join(guideline["not_offered"]) + ".",
        guideline["source"] + "; " + _SYNTHESIS,
        "D",
    )
    act(
        "review_6_12_weeks",
        "review",
        "Review with ODI or RMDQ at weeks 6 and 12; responder "
        "= MIC or >= 30 % on the primary measure.",
        rules.rule("review_weeks").source,
        "D",
    )

    neuro = neurostimulation_assessment(profile, track=track, rules=rules, status=status)
    findings["neurostimulation"] = neuro
    if neuro["eligible"]:
        act(
            "neurostimulation_assessment",
            "referral",
            "Referral for assessment only: "
            "restorative neurostimulation is a specialist option with limited evidence "
            "(NICE IPG739: special arrangements). Not a prescription.",
            "CLINICAL_LOGIC.md §5.8 referral rule proposal [D]; NICE IPG739 [V]",
            "D",
        )
        reasons.append(
            rules.reason(
                "neurostimulation_criteria",
                "All §5.8 criteria met: " + "; ".join(neuro["met"]) + ".",
                "neurostim_min_pain_months",
                "neurostim_min_nrs",
                "neurostim_min_odi",
                "failed_active_care_weeks",
            )
        )
    reasons.insert(
        0,
        rules.reason(
            f"track_{track}", f"Track {track}: {TRACKS[track]}.", source=_HIERARCHY, evidence="D"
        ),
    )
    return Triage(
        track,
        True,
        tuple(actions),
        tuple(reasons),
        jurisdiction,
        guideline,
        findings,
        draft=draft,
        rules_origin=rules.origin,
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
