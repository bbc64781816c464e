"""Prescription: profile + triage -> a phased, dosed active-care plan.

Phases (motor control -> endurance -> strength and function, CLINICAL_LOGIC.md §5.3), a
weekly schedule, the six home exercises of §5.2 plus walking, movement breaks, specific
multifidus activation and slow lowering; doses by track and profile. Multifidus fatty
infiltration adjusts emphasis and dose (§5.9) and never the track. No passive modality is
ever prescribed (§1.5). No plan exists while an emergency or urgent red flag is open.

How the plan is built
---------------------
:func:`prescribe` runs the ordered steps :data:`~spinestab.care.plan.steps.PLAN_STEPS`
(fat emphasis, phases, starting stage, home exercises, multifidus activation, slow
lowering, walking, movement breaks, education, actions, schedule, baseline). Each is a
function ``step(inp: PlanInput, so_far: PlanDraft) -> PlanPart`` returning its reasons and
the draft fields it sets; a later step reads what earlier ones decided (``so_far.phases``,
``so_far.fat``). To add a rule to the plan, write one step in
:mod:`spinestab.care.plan.steps` and insert it in ``PLAN_STEPS``, or pass
``prescribe(..., steps=...)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from spinestab.care.config import CareRules, load_rules
from spinestab.care.exercises import Library, load_library
from spinestab.care.plan.model import Plan, PlannedExercise
from spinestab.care.plan.steps import (
    HOME_EXERCISES,
    PLAN_STEPS,
    PlanDraft,
    PlanInput,
    PlanPart,
    fi_grade,
)
from spinestab.care.profile import StabilityProfile
from spinestab.care.triage import Triage

__all__ = [
    "HOME_EXERCISES",
    "PLAN_STEPS",
    "Plan",
    "PlanDraft",
    "PlanInput",
    "PlanPart",
    "PlanStep",
    "PlannedExercise",
    "fi_grade",
    "phase_for_week",
    "prescribe",
]

#: One step of the plan.
PlanStep = Callable[[PlanInput, PlanDraft], PlanPart]


def phase_for_week(
    phases: tuple[dict[str, Any], ...] | list[dict[str, Any]], week: int
) -> dict[str, Any]:
    """Return the phase that contains programme week ``week`` (the last one after it ends)."""
    for phase in phases:
        if phase["weeks"][0] <= week <= phase["weeks"][1]:
            return phase
    return phases[-1] if week > phases[-1]["weeks"][1] else phases[0]


def prescribe(
    profile: StabilityProfile,
    tri: Triage,
    *,
    rules: CareRules | None = None,
    library: Library | None = None,
    start: dt.date | None = None,
    created: dt.date | None = None,
    steps: Sequence[PlanStep] = PLAN_STEPS,
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
    steps : sequence of step functions
        The plan steps, in order (default :data:`PLAN_STEPS`).

    Returns
    -------
    Plan or None
        None when no exercise plan may exist: track S0 or any open emergency / same-day /
        urgent red flag (checked here again, whatever the triage says).

    """
    rules = rules or load_rules()
    if not tri.plan_allowed or tri.track == "S0" or _blocking(profile, rules):
        return None
    start = start or profile.date or dt.date.today()
    inp = PlanInput(profile, tri, rules, library or load_library(), start)
    draft = PlanDraft()
    for step in steps:
        draft = draft.add(step(inp, draft))
    return Plan(
        version=1,
        created=created or start,
        programme_start=start,
        patient=profile.patient,
        track=tri.track,
        status="draft" if tri.draft else "active",
        phases=draft.phases,
        sessions_per_week=draft.sessions_per_week,
        exercise_days=draft.exercise_days,
        exercises=draft.exercises,
        walking=dict(draft.walking),
        movement_breaks=dict(draft.movement_breaks),
        education=draft.education,
        actions=draft.actions,
        not_offered=tuple(tri.guideline["not_offered"]),
        emphasis=dict(draft.emphasis),
        baseline=dict(draft.baseline),
        reasons=draft.reasons,
        clinician_limits_required=tri.track == "S2",
        rules_origin=rules.origin,
    )


def _blocking(profile: StabilityProfile, rules: CareRules) -> bool:
    urgencies = set(rules["blocking_urgencies"])
    return any(f.urgency in urgencies or f.blocks_exercise for f in profile.clinical.red_flags)
