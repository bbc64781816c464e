"""Triage step 1 and 2 (CLINICAL_LOGIC.md §3, §8 steps 1-2): red flags, the screen, the risk group.

A blocking red flag (emergency, same day, urgent, or one that pauses exercise) ends the
triage with track S0 and no plan; routine flags let the programme continue.
"""

from __future__ import annotations

from spinestab.care.config import CareRules
from spinestab.care.profile import ClinicalState, RedFlag
from spinestab.care.triage.model import Action, Decision, StepResult, TriageInput

__all__ = [
    "derived_red_flag_items",
    "earlier_red_flag",
    "red_flag_screen",
    "red_flags",
    "routine_red_flags",
    "stratify",
]


def derived_red_flag_items(inp: TriageInput, so_far: Decision) -> StepResult:
    """§3: red-flag items taken as positive from the history; a clinician confirms them.

    The history (age, pain duration) made these items positive where the form said no or
    was silent (:mod:`spinestab.care.derived_flags`); the screen used the safer answer.
    Runs before :func:`red_flags`, so the action stands also when a flag stops the triage.
    """
    derived = inp.profile.clinical.derived_red_flag_items
    if not derived:
        return StepResult()
    said = {True: "yes", False: "no", None: "unanswered"}
    listed = "; ".join(f"{d.item} from {d.basis} (form: {said[d.form_answer]})" for d in derived)
    sources = "; ".join(dict.fromkeys(d.source for d in derived))
    evidence = (
        "D"
        if any(d.evidence == "D" for d in derived)
        else "R"
        if any(d.evidence == "R" for d in derived)
        else "V"
    )
    action = Action(
        "confirm_derived_red_flag_items",
        "screen",
        "routine",
        "Red-flag items taken as positive from the history (the safer answer, §3): "
        f"{listed}. Confirm them with the patient and correct the form or the history.",
        sources,
        evidence,
        True,
    )
    reason = inp.rules.reason(
        "derived_red_flag_items",
        f"History and red-flag form disagree or the form is silent: {listed}; the positive "
        "answer was used.",
        source=sources,
        evidence=evidence,
    )
    return StepResult(
        (action,),
        (reason,),
        findings={"derived_red_flag_items": [d.to_dict() for d in derived]},
    )


def _blocking_flags(clinical: ClinicalState, rules: CareRules) -> list[RedFlag]:
    urgencies = set(rules["blocking_urgencies"])
    return [f for f in clinical.red_flags if f.urgency in urgencies or f.blocks_exercise]


def red_flags(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 1: every red flag's own action; a blocking flag stops the triage (S0)."""
    c, rules = inp.profile.clinical, inp.rules
    actions = [
        Action(
            f"red_flag_{flag.urgency}",
            "escalation",
            flag.urgency,
            f"{flag.condition}: {flag.action}",
            flag.source,
            flag.evidence,
            flag.evidence in ("R", "D"),
        )
        for flag in c.red_flags
    ]
    findings = {"red_flags": [f.to_dict() for f in c.red_flags]}
    blocking = _blocking_flags(c, rules)
    if not blocking:
        return StepResult(tuple(actions), findings=findings)
    reasons = tuple(
        rules.reason(
            f"red_flag_{flag.condition}",
            f"Open {flag.urgency.replace('_', '-')} red flag: {flag.condition} "
            f"(items: {', '.join(flag.items)}). Red flags override every other rule.",
            "blocking_urgencies",
            source=flag.source,
            evidence=flag.evidence,
        )
        for flag in blocking
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
    return StepResult(tuple(actions), reasons, findings, track="S0", stop=True)


def routine_red_flags(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 1: routine red-flag actions (e.g. rheumatology) let the programme continue."""
    return StepResult(
        reasons=tuple(
            inp.rules.reason(
                f"routine_flag_{flag.condition}",
                f"Routine red-flag action for {flag.condition}; the programme may continue.",
                source=flag.source,
                evidence=flag.evidence,
            )
            for flag in inp.profile.clinical.red_flags
        )
    )


def red_flag_screen(inp: TriageInput, so_far: Decision) -> StepResult:
    """§3: no screen on file makes the plan a draft; unanswered items must be asked."""
    c, rules = inp.profile.clinical, inp.rules
    source = rules.rule("red_flag_screen_required").source
    if not c.red_flag_screen and rules["red_flag_screen_required"]:
        action = Action(
            "complete_red_flag_screen",
            "screen",
            "routine",
            "No red-flag screen on file: ask the red-flag questions before "
            "the plan starts; until then the plan is a draft.",
            source,
            "D",
            True,
        )
        reason = rules.reason(
            "no_red_flag_screen", "No red-flag screen on file.", "red_flag_screen_required"
        )
        return StepResult((action,), (reason,), draft=True)
    if c.red_flag_screen and not c.red_flag_screen_complete:
        action = Action(
            "complete_red_flag_screen",
            "screen",
            "routine",
            "Unanswered red-flag questions: ask them before the plan starts.",
            source,
            "D",
            True,
        )
        return StepResult((action,))
    return StepResult()


def earlier_red_flag(inp: TriageInput, so_far: Decision) -> StepResult:
    """§3: a blocking flag of an earlier screen that the latest screen no longer shows.

    It is named, and the plan stays a draft until a clinician confirms it was assessed
    (red flags override every other rule; a later negative screen alone does not say it
    was assessed).
    """
    rules = inp.rules
    urgencies = set(rules["blocking_urgencies"])
    screens = [s for s in inp.profile.clinical.scores if s.instrument == "redflags"]
    latest_date = max((str(s.date) for s in screens), default=None)
    earlier = [
        (str(s.date), a)
        for s in screens
        if str(s.date) != latest_date
        for a in s.actions
        if a.urgency in urgencies or a.blocks_exercise
    ]
    if not earlier:
        return StepResult()
    listed = "; ".join(
        f"{date}: {a.urgency.replace('_', '-')} {a.condition} (items: {', '.join(a.items)})"
        for date, a in earlier
    )
    action = Action(
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
    reason = rules.reason(
        "earlier_red_flag",
        f"Earlier positive red-flag screen ({listed}); the latest screen "
        f"({latest_date}) is negative for it.",
        "red_flag_screen_required",
    )
    return StepResult((action,), (reason,), draft=True)


def stratify(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 2: the STarT Back risk group (§2.1)."""
    return StepResult(findings={"startback_risk": inp.profile.clinical.startback_risk})
